"""Reads a topic the way a team's own tool would: Confluent's Python client and its
AvroDeserializer against the Schema Registry, independently of rtds. Prints one JSON line per
message, read_committed, to the end of every partition: its key, the schema id of its value and
the value (None for a tombstone), timestamps as microseconds since 1970 and UUIDs as text, and
the reader's error for a message it cannot read.

Usage: avro-reader.sh BROKERS REGISTRY_URL TOPIC
"""
import datetime
import json
import sys
import time
import uuid

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext

EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def plain(value):
    if isinstance(value, datetime.datetime):
        return (value - EPOCH) // datetime.timedelta(microseconds=1)
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def main():
    brokers, registry, topic = sys.argv[1:4]
    deserialize = AvroDeserializer(SchemaRegistryClient({"url": registry}))
    consumer = Consumer({
        "bootstrap.servers": brokers,
        "group.id": "rtds-avro-reader",
        "enable.auto.commit": False,
        "isolation.level": "read_committed",
    })
    partitions = list(consumer.list_topics(topic, timeout=10).topics[topic].partitions)
    ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in partitions}
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
    deadline = time.monotonic() + 120
    context = SerializationContext(topic, MessageField.VALUE)
    while True:
        positions = consumer.position([TopicPartition(topic, p) for p in partitions])
        if all(ends[tp.partition] == 0 or tp.offset >= ends[tp.partition] for tp in positions):
            break
        if time.monotonic() > deadline:
            sys.exit(f"could not read {topic} to its end")
        message = consumer.poll(0.2)
        if message is None:
            continue
        if message.error():
            sys.exit(str(message.error()))
        value, row, schema_id, error = message.value(), None, None, None
        if value is not None:
            schema_id = int.from_bytes(value[1:5], "big")
            try:
                row = {name: plain(v) for name, v in deserialize(value, context).items()}
            except Exception as e:  # a message the registry cannot explain: reported, not fatal
                error = str(e)
        print(json.dumps({"key": message.key().decode(), "schema_id": schema_id, "value": row, "error": error}))
    consumer.close()


if __name__ == "__main__":
    main()

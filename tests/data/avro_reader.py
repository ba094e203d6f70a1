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

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition
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
        # The end of a partition is its end-of-partition event, not a comparison of the
        # position with the high watermark: librdkafka's fetch position steps over transaction
        # markers and aborted batches, while the application's position only moves past the
        # messages it hands out, so a partition ending in a marker may never "reach" the mark.
        "enable.partition.eof": True,
    })
    partitions = list(consumer.list_topics(topic, timeout=10).topics[topic].partitions)
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
    at_end = set()
    deadline = time.monotonic() + 120
    context = SerializationContext(topic, MessageField.VALUE)
    while len(at_end) < len(partitions):
        if time.monotonic() > deadline:
            positions = {tp.partition: tp.offset for tp in consumer.position([TopicPartition(topic, p) for p in partitions])}
            marks = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10) for p in partitions}
            sys.exit(f"could not read {topic} to its end in 120 s: partitions at their end {sorted(at_end)}, "
                     f"positions {positions}, low and high watermarks {marks}")
        message = consumer.poll(0.2)
        if message is None:
            continue
        if message.error():
            if message.error().code() == KafkaError._PARTITION_EOF:
                at_end.add(message.partition())
                continue
            sys.exit(str(message.error()))
        at_end.discard(message.partition())
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

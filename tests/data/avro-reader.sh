#!/usr/bin/env bash
# tests/data/avro-reader.sh BROKERS REGISTRY_URL TOPIC: every message of TOPIC as a JSON line,
# read by Confluent's Python client (confluent-kafka's AvroDeserializer, fastavro) against the
# Schema Registry: the independent reader of the Avro the CDC stage writes. Installs the client
# from PyPI into a cached virtualenv the first time.
set -euo pipefail
venv=${XDG_CACHE_HOME:-$HOME/.cache}/rtds/python/confluent-avro
if ! "$venv/bin/python" -c 'import confluent_kafka.schema_registry.avro, fastavro' 2>/dev/null; then
  echo "avro-reader: installing confluent-kafka 2.16.2 and fastavro 1.13.1 into $venv (once)" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q 'confluent-kafka[avro,schemaregistry]==2.16.2' 'fastavro==1.13.1' >&2
fi
exec "$venv/bin/python" "$(dirname "${BASH_SOURCE[0]}")/avro_reader.py" "$@"

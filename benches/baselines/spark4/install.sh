#!/usr/bin/env bash
# benches/baselines/spark4/install.sh: installs the Spark 4 peers, once, outside the repository.
#
#   benches/baselines/spark4/install.sh       # idempotent; prints the cache folder on stdout
#
# - a Python venv with pyspark $SPARK_VERSION (4.3.0), the DataStax Python cassandra-driver (the
#   sink: no Spark Cassandra Connector release supports Spark 4) and matplotlib, from PyPI, in
#   $RTDS_SPARK4_CACHE/venv (default ~/.cache/rtds/spark4/venv);
# - Spark's Kafka source from Maven Central in $RTDS_SPARK4_CACHE/jars: spark-sql-kafka-0-10_2.13
#   with spark-token-provider-kafka-0-10_2.13, kafka-clients and commons-pool2, minus what pyspark
#   ships. The connector at $SPARK_VERSION is tried first; when Maven Central has none (4.3.0 was
#   missing on 2026-12-06 and 2026-12-07), the newest of $KAFKA_CONNECTOR_FALLBACKS that resolves.
#   The version used is in $RTDS_SPARK4_CACHE/jars/VERSION, and the job reports it.
# A marker file holding the versions makes later runs return at once. Needs python3 (3.10+),
# java 17 and mvn.
set -euo pipefail
export LC_ALL=C
SPARK_VERSION=${SPARK_VERSION:-4.3.0}
KAFKA_CONNECTOR_FALLBACKS=${KAFKA_CONNECTOR_FALLBACKS:-4.2.0}
CASSANDRA_DRIVER_VERSION=${CASSANDRA_DRIVER_VERSION:-3.30.1}
MATPLOTLIB_VERSION=${MATPLOTLIB_VERSION:-3.9.4}
CACHE=${RTDS_SPARK4_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/rtds/spark4}
# shellcheck source=benches/baselines/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
prelude spark4 "$CACHE"
exec 7>"$CACHE/.lock"
flock 7 # two runs at once (compare.sh's parts) install once

# ---------------------------------------------------------------- Python
venv_once "$CACHE/venv" "pyspark==$SPARK_VERSION cassandra-driver==$CASSANDRA_DRIVER_VERSION matplotlib==$MATPLOTLIB_VERSION"

# ---------------------------------------------------------------- Kafka connector jars
want_jars="$SPARK_VERSION $KAFKA_CONNECTOR_FALLBACKS"
if [[ ! -f $CACHE/jars/.complete || $(<"$CACHE/jars/.complete") != "$want_jars" ]]; then
  rm -rf "$CACHE/jars"
  : >"$CACHE/mvn.log"
  used=
  for v in $SPARK_VERSION $KAFKA_CONNECTOR_FALLBACKS; do
    say "fetching spark-sql-kafka-0-10_2.13:$v with Maven into $CACHE/jars"
    if maven_copy "$CACHE" "org.apache.spark:spark-sql-kafka-0-10_2.13:$v" -DincludeScope=runtime; then used=$v; break; fi
    say "spark-sql-kafka-0-10_2.13:$v does not resolve ($(grep -m1 -o 'Could not [^(]*' "$CACHE/mvn.log" || echo 'see mvn.log'))"
  done
  [[ -n $used ]] || { tail -n 30 "$CACHE/mvn.log" >&2; die "no Kafka connector for Spark resolves (see $CACHE/mvn.log)"; }
  pyspark_jars=$("$CACHE/venv/bin/python" -c 'import os, pyspark; print(os.path.join(os.path.dirname(pyspark.__file__), "jars"))')
  [[ -d $pyspark_jars ]] || die "no jars folder in the pyspark package ($pyspark_jars)"
  mkdir -p "$CACHE/jars"
  # Only what pyspark lacks: a second copy of a jar it ships (Hadoop, Scala, lz4...) could only clash.
  for jar in "$CACHE/all"/*.jar; do
    artifact=$(basename "$jar" .jar)
    if ! compgen -G "$pyspark_jars/$artifact-[0-9]*.jar" >/dev/null; then cp "$jar" "$CACHE/jars/"; fi
  done
  for need in spark-sql-kafka-0-10_2.13 spark-token-provider-kafka-0-10_2.13 kafka-clients commons-pool2; do
    [[ -f $CACHE/jars/$need.jar ]] || die "$need.jar is missing from $CACHE/jars"
  done
  rm -rf "$CACHE/all"
  printf '%s' "$used" >"$CACHE/jars/VERSION"
  printf '%s' "$want_jars" >"$CACHE/jars/.complete"
fi
say "ready: pyspark $SPARK_VERSION in $CACHE/venv, Kafka connector $(<"$CACHE/jars/VERSION") ($(ls "$CACHE/jars"/*.jar | wc -l) jars in $CACHE/jars)"
echo "$CACHE"

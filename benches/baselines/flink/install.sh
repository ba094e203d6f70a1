#!/usr/bin/env bash
# benches/baselines/flink/install.sh: installs the Flink baseline, once, outside the repository.
#
#   benches/baselines/flink/install.sh        # idempotent; prints the cache folder on stdout
#
# - a Python venv with apache-flink $FLINK_VERSION (PyFlink; its wheel apache-flink-libraries
#   carries Flink's own jars, so a local mini-cluster runs in the JVM that PyFlink starts, on the
#   java 17 here) and cassandra-driver $CASSANDRA_DRIVER_VERSION (the sink: there is no Cassandra
#   connector for Flink 2.x on Maven Central; the last, flink-connector-cassandra 3.x for Flink
#   1.x, is built on SinkFunction, which Flink 2.0 removed), from PyPI, in
#   $RTDS_FLINK_CACHE/venv (default ~/.cache/rtds/flink/venv);
# - the Kafka SQL connector jar (flink-sql-connector-kafka, one shaded jar with kafka-clients)
#   from Maven Central, in $RTDS_FLINK_CACHE/jars, fetched by Maven (a throwaway pom and
#   maven-dependency-plugin's copy-dependencies, like benches/baselines/spark/install.sh); the
#   job passes it with `pipeline.jars`. 5.0.0-2.2 is the newest (built against Flink 2.2); it
#   loads and runs on Flink 2.3.0.
# A marker file holding the versions makes later runs return at once; change a version and the
# part it belongs to is installed again. Needs python3 (3.9-3.12), java 17 and mvn.
set -euo pipefail
export LC_ALL=C
FLINK_VERSION=${FLINK_VERSION:-2.3.0}
KAFKA_CONNECTOR_VERSION=${KAFKA_CONNECTOR_VERSION:-5.0.0-2.2}
CASSANDRA_DRIVER_VERSION=${CASSANDRA_DRIVER_VERSION:-3.30.1}
CACHE=${RTDS_FLINK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/rtds/flink}
# shellcheck source=benches/baselines/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
prelude flink "$CACHE"

# ---------------------------------------------------------------- Python: PyFlink + cassandra-driver
venv_once "$CACHE/venv" "apache-flink==$FLINK_VERSION cassandra-driver==$CASSANDRA_DRIVER_VERSION"

# ---------------------------------------------------------------- the Kafka connector from Maven Central
artifact="org.apache.flink:flink-sql-connector-kafka:$KAFKA_CONNECTOR_VERSION"
if [[ ! -f $CACHE/jars/.complete || $(<"$CACHE/jars/.complete") != "$artifact" ]]; then
  say "fetching $artifact with Maven into $CACHE/jars (once)"
  rm -rf "$CACHE/jars"
  : >"$CACHE/mvn.log"
  # The sql connector is one shaded jar (kafka-clients inside); what its pom lists beside it is
  # Flink itself (provided), which the wheel already ships: only the connector is copied.
  maven_copy "$CACHE" "$artifact" -DexcludeTransitive=true ||
    { tail -n 30 "$CACHE/mvn.log" >&2; die "Maven could not fetch the jar (see $CACHE/mvn.log)"; }
  mv "$CACHE/all" "$CACHE/jars"
  [[ -f $CACHE/jars/flink-sql-connector-kafka.jar ]] || die "flink-sql-connector-kafka.jar is missing from $CACHE/jars"
  printf '%s' "$artifact" >"$CACHE/jars/.complete"
fi
say "ready: PyFlink $FLINK_VERSION in $CACHE/venv, flink-sql-connector-kafka $KAFKA_CONNECTOR_VERSION in $CACHE/jars"
echo "$CACHE"

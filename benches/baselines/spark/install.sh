#!/usr/bin/env bash
# benches/baselines/spark/install.sh: installs the Spark baseline, once, outside the repository.
#
#   benches/baselines/spark/install.sh        # idempotent; prints the cache folder on stdout
#
# - a Python venv with pyspark $SPARK_VERSION and matplotlib (for benches/compare.sh's chart),
#   from PyPI, in $RTDS_SPARK_CACHE/venv (default ~/.cache/rtds/spark/venv);
# - the connector jars from Maven Central, in $RTDS_SPARK_CACHE/jars: spark-sql-kafka-0-10 with
#   spark-token-provider-kafka-0-10, kafka-clients and commons-pool2, and spark-cassandra-connector
#   with its driver (DataStax Java driver 4.18). They are resolved by Maven (a throwaway pom and
#   maven-dependency-plugin's copy-dependencies, like scripts/stack), not by Spark's Ivy
#   (`spark.jars.packages`); the job passes them with `spark.jars`.
# A marker file holding the versions makes later runs return at once; change a version and the
# part it belongs to is installed again. Needs python3 (3.8-3.11), java 17 and mvn.
set -euo pipefail
export LC_ALL=C
SPARK_VERSION=${SPARK_VERSION:-3.5.7} # the newest 3.5 whose spark-sql-kafka jar is on Maven Central
SCC_VERSION=${SCC_VERSION:-3.5.1}
MATPLOTLIB_VERSION=${MATPLOTLIB_VERSION:-3.9.4}
CACHE=${RTDS_SPARK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/rtds/spark}
# shellcheck source=benches/baselines/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
prelude spark "$CACHE"

# ---------------------------------------------------------------- Python: pyspark + matplotlib
venv_once "$CACHE/venv" "pyspark==$SPARK_VERSION matplotlib==$MATPLOTLIB_VERSION"

# ---------------------------------------------------------------- jars from Maven Central
# spark-sql-kafka-0-10 for the Kafka source and spark-cassandra-connector for the sink, with what
# they need at run time, minus every artifact pyspark already ships in its jars folder (Spark,
# Scala, Hadoop client, lz4, snappy, slf4j...): a second copy on the class path could only clash.
# That is what the tutorial's `spark.jars.packages` resolves, fetched here by Maven instead of Ivy.
# (The connector's one-jar assembly, spark-cassandra-connector-assembly_2.12:3.5.1, is not on the
# Maven Central this machine reaches (404), so the plain connector and its dependencies are used:
# the same classes, the DataStax Java driver 4.18 among them.)
artifacts="org.apache.spark:spark-sql-kafka-0-10_2.12:$SPARK_VERSION com.datastax.spark:spark-cassandra-connector_2.12:$SCC_VERSION"
if [[ ! -f $CACHE/jars/.complete || $(<"$CACHE/jars/.complete") != "$artifacts" ]]; then
  say "fetching the Kafka and Cassandra connector jars with Maven into $CACHE/jars (once)"
  rm -rf "$CACHE/jars"
  mkdir -p "$CACHE/jars"
  : >"$CACHE/mvn.log"
  maven_copy "$CACHE" "$artifacts" -DincludeScope=runtime ||
    { tail -n 30 "$CACHE/mvn.log" >&2; die "Maven could not fetch the jars (see $CACHE/mvn.log)"; }
  pyspark_jars=$("$CACHE/venv/bin/python" -c 'import os, pyspark; print(os.path.join(os.path.dirname(pyspark.__file__), "jars"))')
  [[ -d $pyspark_jars ]] || die "no jars folder in the pyspark package ($pyspark_jars)"
  for jar in "$CACHE/all"/*.jar; do
    artifact=$(basename "$jar" .jar)
    if ! compgen -G "$pyspark_jars/$artifact-[0-9]*.jar" >/dev/null; then cp "$jar" "$CACHE/jars/"; fi
  done
  for need in spark-sql-kafka-0-10_2.12 spark-token-provider-kafka-0-10_2.12 kafka-clients commons-pool2 \
    spark-cassandra-connector_2.12 spark-cassandra-connector-driver_2.12 java-driver-core-shaded; do
    [[ -f $CACHE/jars/$need.jar ]] || die "$need.jar is missing from $CACHE/jars"
  done
  rm -rf "$CACHE/all"
  printf '%s' "$artifacts" >"$CACHE/jars/.complete"
fi
say "ready: pyspark $SPARK_VERSION in $CACHE/venv, $(ls "$CACHE/jars"/*.jar | wc -l) jars in $CACHE/jars"
echo "$CACHE"

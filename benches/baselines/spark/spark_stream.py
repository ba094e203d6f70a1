"""The tutorial's Spark Structured Streaming job, the baseline rtds is compared with.

The job of the classic "realtime data streaming" tutorial (spark_stream.py: Kafka topic
users_created -> from_json with the row's schema -> Cassandra created_users through the
spark-cassandra-connector), kept as it was, with only what a benchmark needs changed:

- the jars come from `spark.jars` (fetched by install.sh with Maven) instead of
  `spark.jars.packages` (Ivy at start-up), for the Spark 3.5 / Scala 2.12 that pyspark ships;
- the schema also has `dob` and `country`, which rtds's rows carry (rtds writes them too);
- the Kafka record's timestamp (set by `rtds cdc` to the change's PostgreSQL commit time) is written as
  `produced_at`, so the end-to-end latency of each row is WRITETIME(first_name) - produced_at,
  read back from Cassandra afterwards (benches/compare/cql.py latency);
- instead of `awaitTermination()` forever, it stops once N records went through (the
  micro-batches' progress: a batch is reported only after its Cassandra writes were acknowledged
  and the batch committed), and prints a JSON line with the timings, the CPU seconds and the peak
  RSS of its processes (this Python driver and the JVM it started);
- local[2] and the settings in TUNING / CONNECTOR_TUNING below (the fastest found on the test
  machine; --untuned keeps the connector's defaults);
- with --warmup-topic, the same pipeline runs once as a batch query over that (tiny) topic
  before the streaming query starts, so the measurement is of a warm job, not of a cold JVM.

The keyspace and table are created beforehand by ./run, not by this job (the tutorial did it
with the Python cassandra-driver; here it is benches/compare/cql.py).

    python spark_stream.py --topic T --keyspace K --users N [--table created_users]
        [--kafka 127.0.0.1:9092] [--cassandra 127.0.0.1:9042] [--jars DIR] [--checkpoint DIR]
        [--warmup-topic T] [--timeout 900] [--untuned] [--conf KEY=VALUE ...]
"""

import argparse
import glob
import json
import logging
import os
import sys
import threading
import time

T_START = time.time()

from pyspark.sql import SparkSession  # noqa: E402
from pyspark.sql.functions import col, from_json  # noqa: E402
from pyspark.sql.streaming import StreamingQueryListener  # noqa: E402
from pyspark.sql.types import StringType, StructField, StructType  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from procstat import cpu_seconds, peak_rss_mb, proc_tree  # noqa: E402  (benches/baselines/procstat.py)


# What the benchmark sets beyond the tutorial's session: every setting that made this job faster on
# the 2-core test machine without changing what it does (see BENCHMARKS.md). --untuned drops
# the connector settings (then it writes one row per request, 5 requests in flight per task).
TUNING = {
    # No shuffle in this job; the Kafka source gives one task per topic partition.
    'spark.sql.shuffle.partitions': '2',
    'spark.ui.enabled': 'false',
    'spark.ui.showConsoleProgress': 'false',
}
CONNECTOR_TUNING = {
    # Writes in flight per task (connector default 5); 2 tasks run at a time in local[2].
    'spark.cassandra.output.concurrent.writes': '32',
    # Unlogged batches of rows that share replicas (default: only rows of the same partition key
    # are batched, and every id is its own partition), as rtds's sink batches (10 rows). 8 of
    # these all-text rows stay under Cassandra's 5 KiB batch warning; 10 did not, and a warning
    # logged per batch costs Cassandra CPU.
    'spark.cassandra.output.batch.grouping.key': 'replica_set',
    'spark.cassandra.output.batch.size.rows': '8',
}


def create_spark_connection(args):
    s_conn = None
    try:
        jars = sorted(glob.glob(os.path.join(args.jars, "*.jar")))
        builder = SparkSession.builder \
            .appName('SparkDataStreaming') \
            .master('local[2]') \
            .config('spark.jars', ",".join(jars)) \
            .config('spark.cassandra.connection.host', args.cassandra.rsplit(":", 1)[0]) \
            .config('spark.cassandra.connection.port', args.cassandra.rsplit(":", 1)[1]) \
            .config('spark.driver.memory', args.driver_memory)
        settings = TUNING | ({} if args.untuned else CONNECTOR_TUNING)
        for setting in args.conf:  # --conf KEY=VALUE
            key, _, value = setting.partition("=")
            settings[key] = value
        for key, value in settings.items():
            builder = builder.config(key, value)
        s_conn = builder.getOrCreate()

        s_conn.sparkContext.setLogLevel("ERROR")
        logging.info("Spark connection created successfully!")
    except Exception as e:
        logging.error(f"Couldn't create the spark session due to exception {e}")
        raise
    return s_conn, settings


def connect_to_kafka(spark_conn, args):
    spark_df = None
    try:
        spark_df = spark_conn.readStream \
            .format('kafka') \
            .option('kafka.bootstrap.servers', args.kafka) \
            .option('subscribe', args.topic) \
            .option('startingOffsets', 'earliest') \
            .load()
        logging.info("kafka dataframe created successfully")
    except Exception as e:
        logging.warning(f"kafka dataframe could not be created because: {e}")
        raise
    return spark_df


def create_selection_df_from_kafka(spark_df):
    schema = StructType([
        StructField("id", StringType(), False),
        StructField("first_name", StringType(), False),
        StructField("last_name", StringType(), False),
        StructField("gender", StringType(), False),
        StructField("address", StringType(), False),
        StructField("post_code", StringType(), False),
        StructField("email", StringType(), False),
        StructField("username", StringType(), False),
        StructField("dob", StringType(), False),  # rtds's rows carry it; the tutorial dropped it
        StructField("registered_date", StringType(), False),
        StructField("phone", StringType(), False),
        StructField("picture", StringType(), False),
        StructField("country", StringType(), False),  # rtds's addition
    ])

    # `timestamp` is the Kafka record's timestamp: produced_at, for the latency measurement.
    sel = spark_df.selectExpr("CAST(value AS STRING)", "timestamp AS produced_at") \
        .select(from_json(col('value'), schema).alias('data'), col('produced_at')).select("data.*", "produced_at")
    return sel


# ------------------------------------------------------------------ measurement, not the job

def warm_up(spark_conn, args):
    """The same pipeline once, as a batch query over a small topic into TABLE_warmup: loads the
    Kafka and Cassandra classes and connections and warms the JIT a little, so the measured
    query is a running job's, not a cold JVM's."""
    df = spark_conn.read.format('kafka') \
        .option('kafka.bootstrap.servers', args.kafka) \
        .option('subscribe', args.warmup_topic) \
        .option('startingOffsets', 'earliest') \
        .load()
    create_selection_df_from_kafka(df).write.format("org.apache.spark.sql.cassandra") \
        .option('keyspace', args.keyspace).option('table', args.table + "_warmup").mode("append").save()


class Progress(StreamingQueryListener):
    """Counts the records of the finished micro-batches; sets `done` at N."""

    def __init__(self, target):
        self.target, self.records, self.batches = target, 0, 0
        self.done_at, self.first_batch_at = None, None
        self.durations_ms = []
        self.done = threading.Event()

    def onQueryStarted(self, event):
        pass

    def onQueryProgress(self, event):
        p = event.progress
        if p.numInputRows == 0:
            return
        now = time.time()
        self.batches += 1
        self.records += p.numInputRows
        self.durations_ms.append(p.durationMs.get("triggerExecution", 0))
        if self.first_batch_at is None:
            self.first_batch_at = now
        if self.records >= self.target and self.done_at is None:
            self.done_at = now
            self.done.set()

    def onQueryIdle(self, event):
        pass

    def onQueryTerminated(self, event):
        self.done.set()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--keyspace", required=True)
    parser.add_argument("--table", default="created_users")
    parser.add_argument("--users", type=int, required=True, help="stop once this many records were written")
    parser.add_argument("--kafka", default=os.environ.get("RTDS_KAFKA", "127.0.0.1:9092"))
    parser.add_argument("--cassandra", default=os.environ.get("RTDS_CASSANDRA", "127.0.0.1:9042").split(",")[0])
    parser.add_argument("--jars", default=os.path.expanduser("~/.cache/rtds/spark/jars"))
    parser.add_argument("--checkpoint", default=None, help="default: a fresh folder under /tmp")
    parser.add_argument("--warmup-topic", default=None,
                        help="first run the same pipeline once as a batch query over this topic into TABLE_warmup")
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--untuned", action="store_true",
                        help="the connector's own write settings instead of CONNECTOR_TUNING")
    parser.add_argument("--conf", action="append", default=[], metavar="KEY=VALUE", help="more Spark settings")
    parser.add_argument("--driver-memory", default=os.environ.get("SPARK_DRIVER_MEMORY", "1g"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="spark_stream: %(message)s")
    checkpoint = args.checkpoint or f"/tmp/rtds-spark-checkpoint-{args.keyspace}-{os.getpid()}"

    spark_conn, settings = create_spark_connection(args)
    t_session = time.time()
    if args.warmup_topic:
        warm_up(spark_conn, args)
    t_warm = time.time()
    spark_df = connect_to_kafka(spark_conn, args)
    selection_df = create_selection_df_from_kafka(spark_df)
    progress = Progress(args.users)
    spark_conn.streams.addListener(progress)

    tree = proc_tree(os.getpid())
    cpu_before = cpu_seconds(tree)
    t_query = time.time()
    streaming_query = (selection_df.writeStream.format("org.apache.spark.sql.cassandra")
                       .option('checkpointLocation', checkpoint)
                       .option('keyspace', args.keyspace)
                       .option('table', args.table)
                       .start())

    finished = progress.done.wait(args.timeout)
    t_end = time.time()
    tree = proc_tree(os.getpid())  # the JVM's threads are counted in its process
    cpu_after = cpu_seconds(tree)
    cpu_total = cpu_seconds(tree, reaped=True)  # since start: the JVM's start-up and the launcher too
    jvm = [p for p in tree if p != os.getpid()]
    jvm_rss = max((peak_rss_mb(p) or 0 for p in jvm), default=None)
    exception = streaming_query.exception()
    streaming_query.stop()
    ok = finished and progress.done_at is not None
    result = {
        "ok": ok,
        "records": progress.records,
        "batches": progress.batches,
        "batch_ms_median": sorted(progress.durations_ms)[len(progress.durations_ms) // 2] if progress.durations_ms else None,
        "seconds_to_session": round(t_session - T_START, 2),
        "warmup_seconds": round(t_warm - t_session, 2) if args.warmup_topic else None,
        # From query start (the session is up, the table exists) until N records are written.
        "seconds": round((progress.done_at or t_end) - t_query, 3),
        # From the Python process's start, the JVM's start-up included.
        "seconds_total": round((progress.done_at or t_end) - T_START, 3),
        "first_batch_seconds": round(progress.first_batch_at - t_query, 3) if progress.first_batch_at else None,
        "t_query": t_query,
        "t_done": progress.done_at,
        "cpu_seconds": round(cpu_after - cpu_before, 2),
        "cpu_seconds_total": round(cpu_total, 2),
        "jvm_peak_rss_mb": jvm_rss,
        "python_peak_rss_mb": peak_rss_mb(os.getpid()),
        "settings": {k: v for k, v in settings.items() if k.startswith("spark.cassandra.output") or k.startswith("spark.sql")},
        "error": None if exception is None else str(exception)[:2000],
    }
    if not ok and result["error"] is None:
        result["error"] = f"only {progress.records} of {args.users} records after {args.timeout:.0f} s"
    print(json.dumps(result), flush=True)
    spark_conn.stop()
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

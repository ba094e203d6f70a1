"""The Spark 4 peer of rtds's comparison benchmark: Structured Streaming, Kafka -> Cassandra.

Two jobs (--work) in two execution modes (--mode):

- tutorial: the tutorial's job (../spark/spark_stream.py: Kafka -> from_json with the row's
  schema -> created_users, every column text, plus produced_at = the Kafka record timestamp);
- rtds: rtds's dataflows/users.sql: the latest version of each id (a tombstone deletes it) in
  created_users (dob and registered_date timestamps, plus produced_at), and the three counts
  users_by_country / users_by_gender / users_by_age_band, upserted as they change, a group that
  reaches 0 deleted;
- microbatch: the default trigger (a micro-batch as soon as the previous one ends);
- realtime: Real-Time Mode (Spark 4.1+): `.trigger(realTime=...)`, update output mode, a
  ForeachWriter sink (foreachBatch is not allowed there). Every Kafka partition needs its own
  task slot for the whole (long) batch, so the master is local[8 + shuffle partitions] although
  the machine has 2 cores. The real-time batch is 5 SECONDS by default, not 5 minutes: a Python
  ForeachWriter receives its rows through Spark's AutoBatchedPickler, which sends 1, 2, 4, ...
  rows per pickle and blocks until the next group is full, so after 2047 rows a partition's rows
  wait for 2048 more or for the end of the real-time batch (with "5 minutes", peer_dev stalled at
  16376 = 8 x 2047 of 20000 rows for the whole 240 s timeout). --realtime-batch "5 minutes" restores it.

What differs from a plain job, and why:

- no Cassandra connector exists for Spark 4, so Cassandra is written by the DataStax Python
  cassandra-driver (spark4_sink.py): one session per Python process, prepared statements,
  many requests in flight;
- microbatch: the sink is foreachBatch. --sink partitions (default for tutorial: measured
  fastest) writes each partition from the Python workers (one session per reused worker);
  --sink collect collects the batch to the driver and writes it from the driver's session.
  Rows go as unlogged batches of --batch-rows 8 (single node: all rows share the replica; 8 of
  these rows stay under Cassandra's 5 KiB batch warning), --concurrency 32 requests in flight;
- realtime: each writer sends rows already waiting as unlogged batches of up to
  --rt-batch-rows 8, flushed every 10 ms, --concurrency 32 requests in flight per writer;
- rtds, microbatch: the state (each id's Kafka position and groups, and the counts) lives in the
  driver's Python memory, fed from collected batches; it is rebuilt from created_users if the job
  restarts (the rows are the latest versions; counts are written as absolute values, so a replayed
  batch writes the same result). Why not Spark's stateful operators: "latest version, then
  count" is an aggregation over an aggregation with retractions, which Structured Streaming does
  not support in update mode, and dropDuplicates keeps the FIRST version, not the latest;
  Python transformWithState needs pandas/pyarrow and a second stateful operator for the counts;
- rtds, realtime: Real-Time Mode takes no Python stateful operator (transformWithStateInPySpark
  is not in its allowlist) and no chained aggregations, so the records are shuffled to ONE
  partition (repartition(1), allowed) and one ForeachWriter keeps the same state as above;
- the end is detected without scanning a table: microbatch from the driver's own foreachBatch
  (it returns only after the writes were acknowledged); realtime from small progress files that
  the writers update with their acknowledged records (progress listeners report a real-time
  batch only when it ends);
- with --warmup-topic, the same pipeline runs first over that (tiny) topic into the *_warmup
  tables (same mode, its own checkpoint), so the measurement is of a warm JVM and warm workers;
- it prints one JSON line with timings, CPU of the whole process tree and peak RSS.

    python spark4_job.py --topic T --keyspace K --users N [--work tutorial|rtds]
        [--mode microbatch|realtime] [--sink partitions|collect] [--concurrency 32] [--batch-rows 8]
        [--rt-batch-rows 8] [--realtime-batch "5 seconds"]
        [--kafka 127.0.0.1:9092] [--cassandra 127.0.0.1:9042] [--jars DIR] [--checkpoint DIR]
        [--warmup-topic T] [--timeout 900] [--conf KEY=VALUE ...]
"""

import argparse
import datetime
import glob
import json
import logging
import os
import shutil
import sys
import tempfile
import threading
import time

T_START = time.time()

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import spark4_sink as sink  # noqa: E402
from pyspark.sql import SparkSession  # noqa: E402
from pyspark.sql.functions import col, from_json, unix_millis  # noqa: E402
from pyspark.sql.types import StringType, StructField, StructType  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from procstat import cpu_seconds, proc_info, proc_tree  # noqa: E402  (benches/baselines/procstat.py)

SCHEMA = StructType([StructField(c, StringType(), True) for c in sink.TUTORIAL_COLUMNS[:-1]])


def create_session(args):
    slots = 2 if args.mode == "microbatch" else args.partitions + (1 if args.work == "rtds" else 0)
    settings = {
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.shuffle.partitions": "2" if args.mode == "microbatch" else "1",
        "spark.submit.pyFiles": os.path.join(HERE, "spark4_sink.py"),
        "spark.python.worker.reuse": "true",
        "spark.driver.memory": args.driver_memory,
    }
    for setting in args.conf:
        key, _, value = setting.partition("=")
        settings[key] = value
    jars = sorted(glob.glob(os.path.join(args.jars, "*.jar")))
    builder = SparkSession.builder.appName("rtds-spark4-peer").master(f"local[{slots}]").config("spark.jars", ",".join(jars))
    for key, value in settings.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark, settings, slots


def source(spark, args, topic):
    return (spark.readStream.format("kafka")
            .option("kafka.bootstrap.servers", args.kafka)
            .option("subscribe", topic)
            .option("startingOffsets", "earliest")
            .load())


def selection(df, work):
    """tutorial: the row's columns + produced_at; rtds: also the key (the id, for tombstones) and
    the Kafka position (partition, offset)."""
    parsed = df.select(col("key").cast("string").alias("key"), from_json(col("value").cast("string"), SCHEMA).alias("data"),
                       col("timestamp").alias("produced_at"), col("partition"), col("offset"))
    if work == "tutorial":
        return parsed.select("data.*", "produced_at")
    return parsed.select("key", "partition", "offset", unix_millis(col("produced_at")).alias("produced_ms"), "data")


# ------------------------------------------------------------------ micro-batch sinks (foreachBatch)

class TutorialBatchSink:
    """foreachBatch for the tutorial's rows: from the driver (collect) or from the workers (partitions)."""

    def __init__(self, args, suffix):
        self.args, self.table = args, f"{args.keyspace}.created_users{suffix}"
        self.records = 0
        self.cql = sink.insert_cql(self.table)
        self.stats = {"batches": 0, "read_s": 0.0, "write_s": 0.0}

    def __call__(self, batch_df, batch_id):
        a = self.args
        t0 = time.time()
        if a.sink == "collect":
            rows = batch_df.collect()
            t1 = time.time()
            s, stmt = sink.prepared(a.cassandra, a.keyspace, self.cql)
            sink.write_all(s, ((stmt, sink.tutorial_params(r)) for r in rows if r[0] is not None), a.concurrency, a.batch_rows)
            n = len(rows)
            self.stats["read_s"] += t1 - t0
            self.stats["write_s"] += time.time() - t1
        else:
            contact, keyspace, cql, conc, brows = a.cassandra, a.keyspace, self.cql, a.concurrency, a.batch_rows

            def write(rows):
                import spark4_sink
                s, stmt = spark4_sink.prepared(contact, keyspace, cql)
                rows = list(rows)
                spark4_sink.write_all(s, ((stmt, spark4_sink.tutorial_params(r)) for r in rows if r[0] is not None), conc, brows)
                yield len(rows)

            n = batch_df.rdd.mapPartitions(write).sum()
            self.stats["write_s"] += time.time() - t0
        self.stats["batches"] += 1
        self.records += n


class RtdsBatchSink:
    """foreachBatch for rtds's work: the batch is collected to the driver, its records applied to
    the driver's state (latest version per id by Kafka position), then the rows/deletes are
    written, then the changed counts (absolute values)."""

    def __init__(self, args, suffix, today):
        self.args = args
        self.records = 0
        self.state = sink.rtds_state(args.cassandra, args.keyspace, suffix, today)
        self.st = sink.RtdsStatements(args.cassandra, args.keyspace, suffix)
        self.stats = {"batches": 0, "read_s": 0.0, "write_s": 0.0}

    def __call__(self, batch_df, batch_id):
        t0 = time.time()
        rows = batch_df.collect()
        t1 = time.time()
        self.stats["read_s"] += t1 - t0
        records = ((r[0], (r[2], r[1]), None if r[4] is None else r[4].asDict(), r[3]) for r in rows)
        inserts, deletes = self.state.apply(records)
        st = self.st
        pairs = [(st.insert, sink.RtdsState.insert_params(*i)) for i in inserts]
        pairs += [(st.delete, (sink.uuid.UUID(k),)) for k in deletes]
        sink.write_all(st.s, pairs, self.args.concurrency, self.args.batch_rows)
        sink.write_all(st.s, st.count_pairs(self.state.count_writes()), self.args.concurrency)
        self.records += len(rows)
        self.stats["write_s"] += time.time() - t1
        self.stats["batches"] += 1


# ------------------------------------------------------------------ Real-Time Mode sinks (ForeachWriter)

class TutorialWriter:
    """ForeachWriter: one per Kafka partition (task); execute_async with a window of requests in
    flight; its acknowledged records go to PROGRESS/<partition> every 50 ms."""

    def __init__(self, contact, keyspace, table, concurrency, progress, batch_rows):
        self.contact, self.keyspace, self.table = contact, keyspace, table
        self.concurrency, self.progress, self.batch_rows = concurrency, progress, batch_rows

    def open(self, partition_id, epoch_id):
        import spark4_sink
        self.m = spark4_sink
        s, self.stmt = spark4_sink.prepared(self.contact, self.keyspace, spark4_sink.insert_cql(self.table))
        self.window = spark4_sink.Window(s, self.concurrency, self.batch_rows)
        self.file = spark4_sink.ProgressFile(self.progress, f"{partition_id}-{epoch_id}", self.window)
        return True

    def process(self, row):
        if row[0] is None:
            self.window.add_acked(1)
            return
        self.window.submit(self.stmt, self.m.tutorial_params(row))

    def close(self, error):
        try:
            self.window.drain()
        finally:
            self.file.stop()
        if error:
            raise error


class RtdsWriter:
    """ForeachWriter after repartition(1): the only task, so it sees every record and keeps the
    whole state (spark4_sink.RtdsState, rebuilt from created_users if this Python worker has none).
    A thread writes the changed counts every 50 ms (absolute values, after the rows they count
    were submitted) and the progress: records whose rows AND counts are acknowledged."""

    def __init__(self, contact, keyspace, suffix, concurrency, progress, today, batch_rows):
        self.contact, self.keyspace, self.suffix, self.batch_rows = contact, keyspace, suffix, batch_rows
        self.concurrency, self.progress, self.today = concurrency, progress, today

    def open(self, partition_id, epoch_id):
        import spark4_sink
        self.m = spark4_sink
        self.state = spark4_sink.rtds_state(self.contact, self.keyspace, self.suffix, self.today, epoch_id)
        self.epoch = epoch_id
        self.st = spark4_sink.RtdsStatements(self.contact, self.keyspace, self.suffix)
        self.window = spark4_sink.Window(self.st.s, self.concurrency, self.batch_rows)
        self.lock = threading.Lock()
        self.seen = 0
        self.counted = 0  # records whose counts are acknowledged
        self.stop = threading.Event()
        self.flusher = threading.Thread(target=self._flush_loop, daemon=True)
        self.flusher.start()
        self.file = spark4_sink.ProgressFile(self.progress, f"{partition_id}-{epoch_id}", self.window)
        self.file.extra = lambda: max(0, self.window.acked - self.counted)  # progress = min(acked, counted)
        return True

    def _flush(self):
        with self.lock:
            seen = self.seen
            writes = self.state.count_writes()
        if writes:
            self.m.write_all(self.st.s, self.st.count_pairs(writes), self.concurrency)
        self.counted = seen

    def _flush_loop(self):
        while not self.stop.wait(0.05):
            self._flush()

    def process(self, r):
        with self.lock:
            inserts, deletes = self.state.apply([(r[0], (r[2], r[1]), None if r[4] is None else r[4].asDict(), r[3])])
            self.seen += 1
        if inserts:
            self.window.submit(self.st.insert, self.m.RtdsState.insert_params(*inserts[0]))
        elif deletes:
            self.window.submit(self.st.delete, (self.m.uuid.UUID(deletes[0]),))
        else:  # an older version than the one known: nothing to write
            self.window.add_acked(1)

    def close(self, error):
        try:
            self.window.drain()
            self.stop.set()
            self.flusher.join()
            self._flush()
            if error is None:
                self.state.epoch = self.epoch  # the next epoch may reuse this state
        finally:
            self.file.stop()
        if error:
            raise error


# ------------------------------------------------------------------ running a query

def start_query(spark, args, topic, suffix, checkpoint, progress_dir, today):
    sel = selection(source(spark, args, topic), args.work)
    if args.mode == "microbatch":
        fn = TutorialBatchSink(args, suffix) if args.work == "tutorial" else RtdsBatchSink(args, suffix, today)
        q = sel.writeStream.foreachBatch(fn).option("checkpointLocation", checkpoint).start()
        q.stats = fn.stats
        return q, lambda: fn.records
    if args.work == "tutorial":
        writer = TutorialWriter(args.cassandra, args.keyspace, f"{args.keyspace}.created_users{suffix}", args.concurrency, progress_dir,
                                args.rt_batch_rows)
    else:
        sel = sel.repartition(1)
        writer = RtdsWriter(args.cassandra, args.keyspace, suffix, args.concurrency, progress_dir, today, args.rt_batch_rows)
    q = (sel.writeStream.outputMode("update").trigger(realTime=args.realtime_batch).foreach(writer)
         .option("checkpointLocation", checkpoint).start())
    return q, lambda: sink.read_progress(progress_dir)


def wait_for(q, processed, target, timeout, poll=0.02):
    """Polls the cheap progress counter until `target`; returns the time it was seen, or None."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if processed() >= target:
            return time.time()
        if not q.isActive:
            return None
        time.sleep(poll)
    return None


class RssWatch(threading.Thread):
    """Samples the tree every 0.5 s: peak RSS of the JVM, and of the Python processes (max of one
    and the largest sum at one time); Python workers can exit before the end."""

    def __init__(self):
        super().__init__(daemon=True)
        self.jvm = 0.0
        self.py_max = 0.0
        self.py_sum = 0.0
        self.stop = threading.Event()

    def sample(self):
        peaks = {}
        for pid in proc_tree(os.getpid()):
            name, hwm = proc_info(pid)
            if hwm is not None:
                peaks[pid] = (name, hwm)
        self.jvm = max([self.jvm] + [h for n, h in peaks.values() if n == "java"])
        py = [h for n, h in peaks.values() if n and n.startswith("python")]
        if py:
            self.py_max = max(self.py_max, max(py))
            self.py_sum = max(self.py_sum, sum(py))

    def run(self):
        while not self.stop.wait(0.5):
            self.sample()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--topic", required=True)
    p.add_argument("--keyspace", required=True)
    p.add_argument("--users", type=int, required=True, help="stop once this many records were processed")
    p.add_argument("--work", choices=["tutorial", "rtds"], default="tutorial")
    p.add_argument("--mode", choices=["microbatch", "realtime"], default="microbatch")
    p.add_argument("--sink", choices=["collect", "partitions"], default="partitions",
                   help="microbatch, tutorial (rtds always collects: its state is in the driver)")
    p.add_argument("--concurrency", type=int, default=32, help="Cassandra requests in flight per session/writer")
    p.add_argument("--batch-rows", type=int, default=8,
                   help="microbatch: rows per unlogged batch request (1: single-row INSERTs)")
    p.add_argument("--rt-batch-rows", type=int, default=8,
                   help="realtime: rows per unlogged batch, from rows already waiting (flushed every 10 ms)")
    p.add_argument("--partitions", type=int, default=8, help="the topic's partitions (realtime: one slot each)")
    p.add_argument("--realtime-batch", default="5 seconds",
                   help="realTime trigger duration; 5 minutes stalls: see the module docstring")
    p.add_argument("--kafka", default=os.environ.get("RTDS_KAFKA", "127.0.0.1:9092"))
    p.add_argument("--cassandra", default=os.environ.get("RTDS_CASSANDRA", "127.0.0.1:9042").split(",")[0])
    p.add_argument("--jars", default=os.path.expanduser("~/.cache/rtds/spark4/jars"))
    p.add_argument("--checkpoint", default=None, help="default: a fresh folder under /tmp")
    p.add_argument("--warmup-topic", default=None)
    p.add_argument("--warmup-users", type=int, default=1)
    p.add_argument("--timeout", type=float, default=900)
    p.add_argument("--conf", action="append", default=[], metavar="KEY=VALUE")
    # Spark's default (1g) runs out of Java heap at 1,000,000 users: rtds's work collects the first
    # micro-batch, the whole backlog, to the driver.
    p.add_argument("--driver-memory", default=os.environ.get("SPARK_DRIVER_MEMORY", "4g"))
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING, format="spark4_job: %(message)s")
    work_dir = args.checkpoint or tempfile.mkdtemp(prefix="rtds-spark4-")
    os.makedirs(work_dir, exist_ok=True)
    today = datetime.date.today()  # AGE(dob) counts to the day the job started (UTC on the test machine)

    rss = RssWatch()
    rss.start()
    spark, settings, slots = create_session(args)
    t_session = time.time()
    result = {"ok": False, "mode": args.mode, "work": args.work}
    warm_error = None
    if args.warmup_topic:
        os.makedirs(f"{work_dir}/warm-progress", exist_ok=True)
        wq, wdone = start_query(spark, args, args.warmup_topic, "_warmup", f"{work_dir}/warm-cp", f"{work_dir}/warm-progress", today)
        if wait_for(wq, wdone, args.warmup_users, 300) is None:
            warm_error = f"warm-up did not finish: {wq.exception()}"
        wq.stop()
    t_warm = time.time()

    os.makedirs(f"{work_dir}/progress", exist_ok=True)
    tree = proc_tree(os.getpid())
    cpu_before = cpu_seconds(tree, reaped=True)
    t_query = time.time()
    q, processed = start_query(spark, args, args.topic, "", f"{work_dir}/cp", f"{work_dir}/progress", today)
    t_done = wait_for(q, processed, args.users, args.timeout)
    t_end = time.time()
    rss.sample()
    tree = proc_tree(os.getpid())
    cpu_after = cpu_seconds(tree, reaped=True)
    exception = q.exception()
    stats = getattr(q, "stats", None)
    records = processed()
    q.stop()
    rss.stop.set()
    import cassandra
    if args.mode == "microbatch":
        sink_desc = (f"foreachBatch, {'collected to the driver' if args.sink == 'collect' or args.work == 'rtds' else 'foreachPartition in the Python workers'}"
                     f" + Python cassandra-driver {cassandra.__version__} (libev), prepared INSERTs"
                     + (f" in unlogged batches of {args.batch_rows}" if args.batch_rows > 1 else "")
                     + f", {args.concurrency} requests in flight"
                     + (" per worker" if args.sink == "partitions" and args.work == "tutorial" else ""))
    else:
        sink_desc = (f"ForeachWriter per {'Kafka partition' if args.work == 'tutorial' else 'single shuffle partition'}"
                     f" + Python cassandra-driver {cassandra.__version__} (libev), prepared execute_async"
                     + (f" (unlogged batches of up to {args.rt_batch_rows} waiting rows)" if args.rt_batch_rows > 1 else "")
                     + f", {args.concurrency} in flight per writer")
    result.update({
        "ok": t_done is not None and warm_error is None,
        "versions": f"Spark {spark.version}, spark-sql-kafka {kafka_version(args.jars)}, cassandra-driver {cassandra.__version__}",
        "sink": sink_desc,
        "master": f"local[{slots}]",
        "records": records,
        "seconds_to_session": round(t_session - T_START, 2),
        "warmup_seconds": round(t_warm - t_session, 2) if args.warmup_topic else None,
        "seconds": round((t_done or t_end) - t_query, 3),
        "seconds_total": round((t_done or t_end) - T_START, 3),
        "t_query": t_query,
        "t_done": t_done,
        "cpu_seconds": round(cpu_after - cpu_before, 2),
        "cpu_seconds_total": round(cpu_after, 2),
        "jvm_peak_rss_mb": rss.jvm,
        "python_peak_rss_mb": rss.py_max,
        "python_peak_rss_mb_is": "max over the driver and the Python workers (python_peak_rss_mb_sum: the largest sum seen)",
        "python_peak_rss_mb_sum": rss.py_sum,
        "batch_stats": {k: round(v, 2) for k, v in stats.items()} if stats else None,
        "settings": {k: v for k, v in settings.items() if k.startswith("spark.sql")},
        "error": warm_error or (None if exception is None else str(exception)[:2000]),
    })
    if not result["ok"] and result["error"] is None:
        result["error"] = f"only {records} of {args.users} records after {args.timeout:.0f} s"
    print(json.dumps(result), flush=True)
    spark.stop()
    if not args.checkpoint:
        shutil.rmtree(work_dir, ignore_errors=True)
    return 0 if result["ok"] else 1


def kafka_version(jars):
    """install.sh records the spark-sql-kafka version it resolved in jars/VERSION."""
    try:
        with open(os.path.join(jars, "VERSION")) as f:
            return f.read().strip()
    except OSError:
        return "?"


if __name__ == "__main__":
    raise SystemExit(main())

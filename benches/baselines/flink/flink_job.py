"""rtds's work as a Flink 2.3 job (PyFlink Table API / Flink SQL), a peer rtds is compared with.

What rtds's dataflows/users.sql does, written the way a Flink user would:

- the source is an `upsert-kafka` table keyed by id (key.format raw: the Kafka key is the id as
  text; value.format json), with the Kafka record timestamp as the METADATA column `produced_at`:
  Flink's planner turns it into the latest version of each id (its ChangelogNormalize operator
  keeps the last row per id in state), a tombstone a delete;
- the three counts are plain `GROUP BY ... COUNT(*)` in Flink SQL (a group that empties is
  retracted, i.e. deleted); AGE(dob) is whole years from dob to the day the job started (UTC),
  the day's date put into the SQL as three integer constants;
- the rows and the three counts are one query (a UNION ALL of the rows and the three
  aggregates over one common schema, tagged by table), so that the planner reads the topic and
  normalizes it once (sub-plan reuse) rather than once per output;
- there is no Cassandra connector for Flink 2.x (flink-connector-cassandra's last release is
  for Flink 1.x, on the SinkFunction API Flink 2.0 removed), so the changelog of that query
  (`to_changelog_stream`) goes to a Python function that writes Cassandra with the DataStax
  Python driver: prepared statements, one session per Python worker, many requests in flight
  (execute_async, a bounded window), +I/+U an INSERT (an upsert), -D a DELETE, -U skipped (the
  +U that follows overwrites it). The writes are idempotent upserts, so a replay after a
  failure (exactly-once checkpoints, below) writes the same final values;
- exactly-once checkpoints every --checkpoint-ms, the default (hashmap) state backend, the
  REST endpoint bound to 127.0.0.1, parallelism 2, and the TUNING settings below.

What differs from a plain job, for the benchmark only:

- with --warmup-topic, the same pipeline first runs as a bounded job over that (tiny) topic
  into the tables suffixed _warmup, so the measured job starts in a warm JVM;
- the job does not run forever: each Python worker keeps a small progress file (the row changes
  whose writes Cassandra acknowledged, the live ids, the sums of the counts it wrote, the writes
  in flight), rewritten at most every 50 ms by a thread; this driver polls those files and
  cancels the job once N records were applied and acknowledged and every count table sums to
  the number of live ids. A record is counted by the row change it makes (an insert, an update
  or a delete): a tombstone of an id never seen, or a record equal to the id's previous one
  (timestamp included), makes none and would not be counted (`rtds cdc` writes neither);
- it prints one JSON line with the timings, the CPU seconds (this process, the JVM it started
  and every Python worker) and the peak RSS.

    python flink_job.py --topic T --keyspace K --users N [--kafka 127.0.0.1:9092]
        [--cassandra 127.0.0.1:9042] [--jars DIR] [--warmup-topic T] [--timeout 900]
        [--parallelism 2] [--checkpoint-ms 10000] [--python-mode process|thread]
        [--window 64] [--no-drain] [--untuned] [--explain] [--conf KEY=VALUE ...]
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

from pyflink.common import Configuration, Types  # noqa: E402
from pyflink.datastream import StreamExecutionEnvironment  # noqa: E402
from pyflink.datastream.functions import FlatMapFunction, RuntimeContext  # noqa: E402
from pyflink.table import StreamTableEnvironment  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from procstat import cpu_seconds, proc_info, proc_tree  # noqa: E402  (benches/baselines/procstat.py)
FLINK_VERSION = "2.3.0"
KAFKA_CONNECTOR_VERSION = "5.0.0-2.2"

# What the benchmark sets beyond a plain job, without changing what it does. Measured on peer_dev
# (20,000 records) on the 2-core test machine, another job sharing it: with TUNING 13.9-19.8 s and
# ~20,700 Cassandra writes; --untuned 38.7 s, 80,000 writes (each record's three count updates
# written one by one) and 2.5x the CPU. Python workers in process mode (Beam, one per subtask)
# and thread mode (pemja, inside the JVM, one GIL for both subtasks) took the same 14 s, thread
# mode's first write 3 s sooner but its writing slower; process mode is kept (it also lets the
# sink wait for its writes at each bundle's end, see CassandraSink._hook_bundle_end). 64 or 256
# writes in flight per worker: the same (19.8 / 19.1 s). Checkpoints every 1 s or 10 s: the same
# time (17.8 / 17.5-19.8 s), 1 s more CPU; 10 s is kept: the sink's writes do not wait for a
# checkpoint to be seen, so the interval only bounds the replay after a failure.
TUNING = {
    # Mini-batches for the upsert normalization and the aggregates: each key's changes within a
    # batch are folded into one, so the counts change (and are written) once per batch, not once
    # per record.
    "table.exec.mini-batch.enabled": "true",
    "table.exec.mini-batch.allow-latency": "200 ms",
    "table.exec.mini-batch.size": "5000",
    # Elements go to the Python workers in bundles: at most this many, or this old.
    "python.fn-execution.bundle.size": "10000",
    "python.fn-execution.bundle.time": "100",
}

COUNTS = (("users_by_country", "country"), ("users_by_gender", "gender"), ("users_by_age_band", "age_band"))
ROW_COLUMNS = ("id", "first_name", "last_name", "gender", "address", "post_code", "email", "username", "dob",
               "registered_date", "phone", "picture", "country", "produced_at")


def source_ddl(name, topic, args, bounded):
    """The upsert-kafka table: the latest value per key (id), a null value a delete."""
    options = {
        "connector": "upsert-kafka",
        "topic": topic,
        "properties.bootstrap.servers": args.kafka,
        "properties.group.id": f"flink-{topic}-{os.getpid()}",
        "key.format": "raw",
        "value.format": "json",
        "value.json.timestamp-format.standard": "ISO-8601",
    }
    if bounded:
        options["scan.bounded.mode"] = "latest-offset"
    with_ = ", ".join(f"'{k}' = '{v}'" for k, v in options.items())
    return f"""CREATE TEMPORARY TABLE {name} (
        id STRING, first_name STRING, last_name STRING, gender STRING, address STRING, post_code STRING,
        email STRING, username STRING, dob TIMESTAMP_LTZ(3), registered_date TIMESTAMP_LTZ(3), phone STRING,
        picture STRING, country STRING,
        produced_at TIMESTAMP_LTZ(3) METADATA FROM 'timestamp' VIRTUAL,
        PRIMARY KEY (id) NOT ENFORCED
    ) WITH ({with_})"""


def work_query(source, today):
    """The rows (tag 0) and the three counts (tags 1-3) as one changelog, over one schema:
    t (which table), k (the key), n (the count), then the row's columns."""
    y, m, d = today.year, today.month, today.day
    # Of the date, not of the timestamp: Flink 2.3's DAYOFMONTH (EXTRACT(DAY ...)) of a timestamp
    # before 1970 is one day late (1957-06-02 00:12:59.655 gives 3); of CAST(... AS DATE) it is right.
    dob = "CAST(dob AS DATE)"
    age = f"({y} - YEAR({dob}) - CASE WHEN MONTH({dob}) > {m} OR (MONTH({dob}) = {m} AND DAYOFMONTH({dob}) > {d}) THEN 1 ELSE 0 END)"
    band = f"""CASE WHEN dob IS NULL THEN 'unknown' WHEN {age} < 20 THEN '<20' WHEN {age} >= 70 THEN '70+'
                    ELSE CONCAT(CAST({age} / 10 * 10 AS STRING), '-', CAST({age} / 10 * 10 + 9 AS STRING)) END"""
    nulls = ", ".join(f"CAST(NULL AS {'TIMESTAMP_LTZ(3)' if c in ('dob', 'registered_date', 'produced_at') else 'STRING'})"
                      for c in ROW_COLUMNS[1:])
    rows = f"SELECT 0 AS t, id AS k, CAST(NULL AS BIGINT) AS n, {', '.join(ROW_COLUMNS[1:])} FROM {source}"
    counts = [f"SELECT {tag} AS t, g AS k, COUNT(*) AS n, {nulls} FROM (SELECT {expr} AS g FROM {source}) GROUP BY g"
              for tag, expr in ((1, "COALESCE(country, 'unknown')"), (2, "COALESCE(gender, 'unknown')"), (3, band))]
    return "\nUNION ALL\n".join([rows] + counts)


class CassandraSink(FlatMapFunction):
    """Writes the changelog to Cassandra from a Python worker: one session per worker, prepared
    statements, at most `window` requests in flight; emits nothing."""

    def __init__(self, cassandra, keyspace, suffix, window, progress_dir, drain_at_bundle_end=True):
        self.cassandra, self.keyspace, self.suffix = cassandra, keyspace, suffix
        self.window, self.progress_dir = window, progress_dir
        self.drain_at_bundle_end = drain_at_bundle_end

    def open(self, runtime_context: RuntimeContext):
        import uuid
        from cassandra.cluster import Cluster, ExecutionProfile, EXEC_PROFILE_DEFAULT
        from cassandra.policies import RoundRobinPolicy
        from cassandra import ConsistencyLevel
        from pyflink.common import RowKind
        self.uuid = uuid.UUID
        from pyflink.common.time import Instant
        self.Instant = Instant
        self.INSERT, self.UPDATE_AFTER, self.DELETE = RowKind.INSERT, RowKind.UPDATE_AFTER, RowKind.DELETE
        host, _, port = self.cassandra.rpartition(":")
        profile = ExecutionProfile(load_balancing_policy=RoundRobinPolicy(), consistency_level=ConsistencyLevel.ONE,
                                   request_timeout=60)
        self.cluster = Cluster([host], port=int(port), execution_profiles={EXEC_PROFILE_DEFAULT: profile},
                               protocol_version=4)
        self.session = self.cluster.connect(self.keyspace)
        sfx = self.suffix
        cols = ", ".join(ROW_COLUMNS)
        self.insert_row = self.session.prepare(
            f"INSERT INTO created_users{sfx} ({cols}) VALUES ({', '.join('?' * len(ROW_COLUMNS))})")
        self.delete_row = self.session.prepare(f"DELETE FROM created_users{sfx} WHERE id = ?")
        self.upsert_count, self.delete_count = [None], [None]
        for table, key in COUNTS:
            self.upsert_count.append(self.session.prepare(f"INSERT INTO {table}{sfx} ({key}, users) VALUES (?, ?)"))
            self.delete_count.append(self.session.prepare(f"DELETE FROM {table}{sfx} WHERE {key} = ?"))
        self.slots = threading.BoundedSemaphore(self.window)
        self.lock = threading.Lock()
        self.changes = self.acked = self.live = self.in_flight = self.drains = 0
        self.sums = [0, 0, 0, 0]
        self.counts = [None, {}, {}, {}]  # the count last written per group, per count table
        self.error = None
        # one file per sink instance (in thread mode every subtask's instance is in the JVM's process)
        self.progress_file = os.path.join(self.progress_dir, f"{os.getpid()}-{id(self)}.json")
        self.drained = threading.Condition(self.lock)
        if self.drain_at_bundle_end:
            self._hook_bundle_end()
        self.running = True
        self.reporter = threading.Thread(target=self._report, daemon=True)
        self.reporter.start()

    def _done(self, _result=None):
        with self.lock:
            self.in_flight -= 1
            self.acked += 1
            if self.in_flight == 0:
                self.drained.notify_all()
        self.slots.release()

    def drain(self):
        """Waits until every write sent is acknowledged (or failed)."""
        with self.lock:
            self.drains += 1
            while self.in_flight:
                self.drained.wait()

    def _hook_bundle_end(self):
        """Process mode: Flink sends the elements to a Python worker in bundles, and before a
        checkpoint barrier goes past the Python operator it waits until the worker has finished
        its bundle (Operation.finish). PyFlink offers a user function no hook there, so the sink
        wraps that method to wait for its writes in flight too: then a completed checkpoint
        covers only acknowledged writes, and a restart from it replays whatever was not
        (at-least-once writes of idempotent upserts: exactly-once results)."""
        try:
            from pyflink.fn_execution.datastream.process import operations as ops
        except ImportError:
            return
        sinks = ops.__dict__.setdefault("_rtds_sinks", [])
        sinks.append(self)
        if not getattr(ops.Operation, "_rtds_hooked", False):
            finish = ops.Operation.finish

            def finish_after_drain(operation):
                for sink in ops._rtds_sinks:
                    sink.drain()
                finish(operation)
            ops.Operation.finish = finish_after_drain
            ops.Operation._rtds_hooked = True

    def _failed(self, exc):
        self.error = repr(exc)
        self._done()

    def _send(self, statement, values):
        self.slots.acquire()
        with self.lock:
            self.in_flight += 1
        future = self.session.execute_async(statement, values)
        future.add_callbacks(self._done, self._failed)

    def flat_map(self, value):
        kind = value.get_row_kind()
        tag = value[0]
        if tag == 0:
            if kind == self.INSERT or kind == self.UPDATE_AFTER:
                values = list(value[2:])
                values[0] = self.uuid(value[1])
                for i in (8, 9, 13):  # dob, registered_date, produced_at: Instants to epoch ms
                    ts = values[i]
                    if ts is not None:
                        # process mode: pyflink's Instant (its to_epoch_milli() is wrong before 1970);
                        # thread mode: java.time.Instant itself
                        values[i] = ts.seconds * 1000 + ts.nanos // 1_000_000 if type(ts) is self.Instant else ts.toEpochMilli()
                self._send(self.insert_row, values)
                self.changes += 1
                if kind == self.INSERT:
                    self.live += 1
            elif kind == self.DELETE:
                self._send(self.delete_row, (self.uuid(value[1]),))
                self.changes += 1
                self.live -= 1
        else:
            group, counts = value[1], self.counts[tag]
            if kind == self.INSERT or kind == self.UPDATE_AFTER:
                self.sums[tag] += value[2] - counts.get(group, 0)
                counts[group] = value[2]
                self._send(self.upsert_count[tag], (group, value[2]))
            elif kind == self.DELETE:
                self.sums[tag] -= counts.pop(group, 0)
                self._send(self.delete_count[tag], (group,))
        if self.error:
            raise RuntimeError(f"a Cassandra write failed: {self.error}")
        return ()

    def _report(self):
        last = None
        while self.running:
            with self.lock:
                now = (self.changes, self.live, tuple(self.sums[1:]), self.in_flight, self.acked, self.error,
                       self.drains)
            if now != last:
                tmp = self.progress_file + ".tmp"
                with open(tmp, "w") as f:
                    json.dump({"changes": now[0], "live": now[1], "sums": now[2], "in_flight": now[3],
                               "writes": now[4], "error": now[5], "drains": now[6]}, f)
                os.replace(tmp, self.progress_file)
                last = now
            time.sleep(0.05)

    def close(self):
        self.running = False
        self.cluster.shutdown()


# ------------------------------------------------------------------ measurement, not the job

def read_progress(folder):
    total = {"changes": 0, "live": 0, "sums": [0, 0, 0], "in_flight": 0, "writes": 0, "error": None, "drains": 0}
    for path in glob.glob(os.path.join(folder, "*.json")):
        try:
            with open(path) as f:
                p = json.load(f)
        except (OSError, ValueError):
            continue
        for key in ("changes", "live", "in_flight", "writes", "drains"):
            total[key] += p[key]
        total["sums"] = [a + b for a, b in zip(total["sums"], p["sums"])]
        total["error"] = total["error"] or p["error"]
    return total


def build(env, t_env, args, topic, suffix, bounded, progress_dir, today):
    source = "users" + suffix
    t_env.execute_sql(source_ddl(source, topic, args, bounded))
    table = t_env.sql_query(work_query(source, today))
    stream = t_env.to_changelog_stream(table)
    sink = CassandraSink(args.cassandra, args.keyspace, suffix, args.window, progress_dir, not args.no_drain)
    out = stream.flat_map(sink, output_type=Types.BOOLEAN()).name("cassandra-sink")
    jvm = env._j_stream_execution_environment.getClass().getClassLoader()  # noqa: F841
    gateway_jvm = __import__("pyflink.java_gateway", fromlist=["get_gateway"]).get_gateway().jvm
    out._j_data_stream.sinkTo(gateway_jvm.org.apache.flink.streaming.api.functions.sink.v2.DiscardingSink()) \
        .name("discard")
    return table


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--keyspace", required=True)
    parser.add_argument("--users", type=int, required=True, help="stop once this many records were applied")
    parser.add_argument("--kafka", default=os.environ.get("RTDS_KAFKA", "127.0.0.1:9092"))
    parser.add_argument("--cassandra", default=os.environ.get("RTDS_CASSANDRA", "127.0.0.1:9042").split(",")[0])
    parser.add_argument("--jars", default=os.path.expanduser("~/.cache/rtds/flink/jars"))
    parser.add_argument("--warmup-topic", default=None)
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--parallelism", type=int, default=2)
    parser.add_argument("--checkpoint-ms", type=int, default=10000)
    parser.add_argument("--python-mode", choices=("process", "thread"), default="process")
    parser.add_argument("--window", type=int, default=64, help="Cassandra writes in flight per Python worker")
    parser.add_argument("--no-drain", action="store_true",
                        help="process mode: do not wait for the writes in flight at each bundle's end")
    parser.add_argument("--untuned", action="store_true", help="leave out TUNING")
    parser.add_argument("--explain", action="store_true", help="print the plan and exit")
    parser.add_argument("--conf", action="append", default=[], metavar="KEY=VALUE", help="more Flink settings")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="flink_job: %(message)s")
    today = datetime.datetime.now(datetime.timezone.utc).date()
    work = tempfile.mkdtemp(prefix="rtds-flink-")

    settings = {
        "pipeline.jars": ";".join("file://" + j for j in sorted(glob.glob(os.path.join(args.jars, "*.jar")))),
        "parallelism.default": str(args.parallelism),
        "execution.checkpointing.interval": f"{args.checkpoint_ms} ms",
        "execution.checkpointing.mode": "EXACTLY_ONCE",
        "state.backend.type": "hashmap",
        # Checkpoints to files: the JobManager's memory storage takes at most 5 MB of state, which
        # the ids' latest rows outgrow at ~50,000 users ("Size of the state is larger than the
        # maximum permitted memory-backed state").
        "execution.checkpointing.storage": "filesystem",
        "execution.checkpointing.dir": "file://" + os.path.join(work, "checkpoints"),
        # A failure ends the job (and the run, with its error) instead of restarting it forever.
        "restart-strategy.type": "none",
        "rest.bind-address": "127.0.0.1",
        "rest.address": "127.0.0.1",
        "rest.port": "0",
        # The mini-cluster's other endpoints (RPC, blob server) on the loopback too; only the
        # Beam gRPC servers that talk to the Python workers (process mode) still bind every interface.
        "jobmanager.bind-host": "127.0.0.1",
        "taskmanager.bind-host": "127.0.0.1",
        "taskmanager.host": "127.0.0.1",
        "table.local-time-zone": "UTC",
        "python.execution-mode": args.python_mode,
        # This venv's interpreter for the workers too (in thread mode, pemja embeds it in the JVM).
        "python.executable": sys.executable,
        "python.client.executable": sys.executable,
    }
    if not args.untuned:
        settings |= TUNING
    for setting in args.conf:
        key, _, value = setting.partition("=")
        settings[key] = value
    if args.python_mode == "thread":
        # pemja embeds libpython in the JVM but not this venv's sys.path: hand it over.
        site = [p for p in sys.path if p.endswith("site-packages")]
        os.environ["PYTHONPATH"] = os.pathsep.join(site + [os.path.dirname(os.path.abspath(__file__))])
    config = Configuration()
    for key, value in settings.items():
        config.set_string(key, value)
    env = StreamExecutionEnvironment.get_execution_environment(config)
    t_env = StreamTableEnvironment.create(env)
    for key, value in settings.items():
        t_env.get_config().set(key, value)

    if args.explain:
        table = build(env, t_env, args, args.topic, "", False, work, today)
        print(table.explain())
        return 0
    t_session = time.time()
    if args.warmup_topic:
        warm = os.path.join(work, "warmup")
        os.mkdir(warm)
        build(env, t_env, args, args.warmup_topic, "_warmup", True, warm, today)
        env.execute("rtds-work-warmup")
    t_warm = time.time()

    progress_dir = os.path.join(work, "progress")
    os.mkdir(progress_dir)
    build(env, t_env, args, args.topic, "", False, progress_dir, today)
    tree = proc_tree(os.getpid())
    cpu_before = cpu_seconds(tree)
    t_query = time.time()
    job = env.execute_async("rtds-work")

    done_at, error, p = None, None, read_progress(progress_dir)
    pythons, first_write_at = {}, None
    deadline = t_query + args.timeout
    while time.time() < deadline:
        p = read_progress(progress_dir)
        if first_write_at is None and p["writes"] > 0:
            first_write_at = time.time()
        if p["error"]:
            error = p["error"]
            break
        if (p["changes"] >= args.users and p["in_flight"] == 0 and all(s == p["live"] for s in p["sums"])):
            done_at = time.time()
            break
        try:
            status = str(job.get_job_status().result())
        except Exception as e:  # noqa: BLE001 (the per-job mini-cluster is gone once the job failed)
            status = f"unknown ({str(e).splitlines()[0][:200]})"
        if status in ("FAILED", "CANCELED", "FINISHED") or status.startswith("unknown"):
            error = (f"the job ended: {status}; see the Flink log in "
                     f"{os.path.join(os.path.dirname(__import__('pyflink').__file__), 'log')}")
            break
        time.sleep(0.02)
    t_end = time.time()
    tree = proc_tree(os.getpid())
    cpu_after = cpu_seconds(tree)
    cpu_total = cpu_seconds(tree, reaped=True)
    jvm_rss = None
    for pid in tree:
        if pid == os.getpid():
            continue
        name, rss = proc_info(pid)
        if name == "java":
            jvm_rss = max(jvm_rss or 0, rss or 0)
        elif name and name.startswith("python") and rss:
            pythons[pid] = rss
    try:
        job.cancel().result()
    except Exception as e:  # noqa: BLE001
        logging.warning("cancel: %s", e)
    if error is None and done_at is None:
        error = f"only {p['changes']} of {args.users} records after {args.timeout:.0f} s (progress {p})"
    ok = done_at is not None
    result = {
        "ok": ok,
        "mode": "streaming",
        "work": "rtds",
        "versions": f"Flink {FLINK_VERSION} (PyFlink, local mini-cluster), flink-sql-connector-kafka {KAFKA_CONNECTOR_VERSION}",
        "sink": f"to_changelog_stream + Python flat_map ({args.python_mode} mode) with cassandra-driver 3.30, "
                f"prepared INSERT/DELETE, {args.window} in flight per worker",
        "records": p["changes"],
        "live_ids": p["live"],
        "cassandra_writes": p["writes"],
        # process mode: how often a worker waited for its writes in flight at a bundle's end
        "bundle_drains": p["drains"],
        "seconds_to_session": round(t_session - T_START, 2),
        "warmup_seconds": round(t_warm - t_session, 2) if args.warmup_topic else None,
        "seconds": round((done_at or t_end) - t_query, 3),
        "seconds_total": round((done_at or t_end) - T_START, 3),
        # from the job's start to the first write acknowledged (the Python workers' start-up in it)
        "first_write_seconds": round(first_write_at - t_query, 3) if first_write_at else None,
        "t_query": t_query,
        "t_done": done_at,
        "cpu_seconds": round(cpu_after - cpu_before, 2),
        "cpu_seconds_total": round(cpu_total, 2),
        "jvm_peak_rss_mb": jvm_rss,
        # the Python workers are separate processes in process mode (none in thread mode)
        "python_peak_rss_mb": max(pythons.values()) if pythons else None,
        "python_peak_rss_mb_is": "max over the Python workers" if pythons else "none (thread mode)",
        "python_workers": len(pythons),
        "driver_peak_rss_mb": proc_info(os.getpid())[1],
        "parallelism": args.parallelism,
        "checkpoint_ms": args.checkpoint_ms,
        "settings": {k: v for k, v in settings.items() if k.startswith(("table.exec", "python.", "state."))},
        "error": error,
    }
    print(json.dumps(result), flush=True)
    shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

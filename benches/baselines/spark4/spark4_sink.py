"""The Spark 4 peer's Cassandra sink: the Python cassandra-driver, used by spark4_job.py.

A module of its own (shipped to the Python workers with `spark.submit.pyFiles`) so that its
globals live as long as the Python process: one Cluster/Session per process (the driver, or a
reused Python worker), connected once and reused by every task and micro-batch, with its
prepared statements. Every write is a prepared statement (no CQL built from data), executed
asynchronously with a bounded number of requests in flight.

- `write_all(session, pairs, concurrency)`: (statement, params) pairs, `concurrency` in flight,
  returns when all are acknowledged (raises on the first error).
- `Window`: execute_async with at most N in flight, acknowledgements counted (ForeachWriter).
- `RtdsState`: rtds's users.sql (latest version of each id, a tombstone deletes it, and the three
  counts), kept in memory, rebuilt from the rows table when a process starts without it.
"""

import datetime
import os
import threading
import time
import uuid

TUTORIAL_COLUMNS = ["id", "first_name", "last_name", "gender", "address", "post_code", "email", "username",
                    "dob", "registered_date", "phone", "picture", "country", "produced_at"]
VIEWS = {"users_by_country": "country", "users_by_gender": "gender", "users_by_age_band": "age_band"}

_SESSIONS = {}
_LOCK = threading.Lock()


def session(contact, keyspace):
    """This process's session to `contact` (host:port), in `keyspace`; created once."""
    key = (contact, keyspace)
    with _LOCK:
        if key not in _SESSIONS:
            from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile
            from cassandra.policies import RoundRobinPolicy
            host, _, port = contact.rpartition(":")
            profile = ExecutionProfile(load_balancing_policy=RoundRobinPolicy(), request_timeout=60)
            cluster = Cluster([host or "127.0.0.1"], port=int(port or 9042), connect_timeout=30,
                              execution_profiles={EXEC_PROFILE_DEFAULT: profile})
            s = cluster.connect()  # tables are named keyspace.table (USE + prepared statements: a warning)
            # Client-side timestamps (the driver's default, monotonic per process): two versions
            # of an id written with requests in flight keep their order.
            _SESSIONS[key] = (s, {})
        return _SESSIONS[key]


def prepared(contact, keyspace, cql):
    s, cache = session(contact, keyspace)
    if cql not in cache:
        cache[cql] = s.prepare(cql)
    return s, cache[cql]


def insert_cql(table, columns=TUTORIAL_COLUMNS):
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"


def write_all(s, pairs, concurrency, batch_rows=1):
    """Executes the (prepared statement, params) pairs, `concurrency` requests in flight, each an
    unlogged batch of up to `batch_rows` of them if batch_rows > 1; returns their number."""
    from cassandra.concurrent import execute_concurrent
    pairs = list(pairs)
    if batch_rows > 1 and len(pairs) > 1:
        from cassandra.query import BatchStatement, BatchType
        requests = []
        for i in range(0, len(pairs), batch_rows):
            chunk = pairs[i:i + batch_rows]
            if len(chunk) == 1:
                requests.append(chunk[0])
                continue
            b = BatchStatement(batch_type=BatchType.UNLOGGED)
            for stmt, params in chunk:
                b.add(stmt, params)
            requests.append((b, ()))
    else:
        requests = pairs
    if requests:
        execute_concurrent(s, requests, concurrency=concurrency, raise_on_first_error=True, results_generator=False)
    return len(pairs)


class Window:
    """execute_async with at most `size` requests in flight; `acked` counts the answered records.
    With batch_rows > 1, rows wait in `pending` until batch_rows are there or flush() is called
    (the writer's ticker calls it every few ms), then go as one unlogged batch."""

    def __init__(self, s, size, batch_rows=1):
        self.s, self.slots, self.size = s, threading.Semaphore(size), size
        self.batch_rows = batch_rows
        self.acked, self.error = 0, None
        self.pending = []
        self._lock = threading.Lock()
        self._send_lock = threading.Lock()

    def _ok(self, _rows, n):
        with self._lock:
            self.acked += n
        self.slots.release()

    def _err(self, exc):
        self.error = self.error or exc
        self.slots.release()

    def add_acked(self, n):
        with self._lock:
            self.acked += n

    def submit(self, stmt, params, n=1):
        """n: how many input records this write completes (0 for a count's upsert)."""
        if self.error is not None:
            raise self.error
        if self.batch_rows <= 1:
            self.slots.acquire()
            future = self.s.execute_async(stmt, params)
            future.add_callbacks(self._ok, self._err, callback_args=(n,))
            return
        with self._send_lock:
            self.pending.append((stmt, params, n))
            if len(self.pending) >= self.batch_rows:
                self._send()

    def _send(self):  # with _send_lock held
        items, self.pending = self.pending, []
        if not items:
            return
        if len(items) == 1:
            stmt, params = items[0][0], items[0][1]
        else:
            from cassandra.query import BatchStatement, BatchType
            stmt, params = BatchStatement(batch_type=BatchType.UNLOGGED), None
            for st, p, _ in items:
                stmt.add(st, p)
        self.slots.acquire()
        future = self.s.execute_async(stmt, params)
        future.add_callbacks(self._ok, self._err, callback_args=(sum(i[2] for i in items),))

    def flush(self):
        if self.batch_rows > 1 and self.pending:
            with self._send_lock:
                self._send()

    def drain(self):
        self.flush()
        for _ in range(self.size):
            self.slots.acquire()
        for _ in range(self.size):
            self.slots.release()
        if self.error is not None:
            raise self.error


def tutorial_params(row):
    """A created_users row of the tutorial's job (every column text, id a uuid) from its Spark Row."""
    p = list(row)
    p[0] = uuid.UUID(p[0])
    return p


# ------------------------------------------------------------------ rtds's work (users.sql)

def parse_ts(text):
    if text is None:
        return None
    return datetime.datetime.fromisoformat(text)  # Python 3.11: '1997-04-18T01:28:52.776Z'


def age_band(dob, today):
    if dob is None:
        return "unknown"
    age = today.year - dob.year - ((today.month, today.day) < (dob.month, dob.day))
    if age < 20:
        return "<20"
    if age >= 70:
        return "70+"
    return f"{age // 10 * 10}-{age // 10 * 10 + 9}"


RTDS_COLUMNS = TUTORIAL_COLUMNS  # same names; dob and registered_date are timestamps there


class RtdsState:
    """id -> (kafka position, (country, gender, age_band) or None for a deleted id), and the counts.

    `apply(records)` takes (id text, position, value dict or None, produced_at ms) in any order:
    a record at or before the id's known position is an older version and is skipped, so the
    latest version wins even if versions arrive out of order. It returns the row writes (insert
    or delete params) and leaves the changed groups in `dirty` for `count_writes()`.
    """

    def __init__(self, today):
        self.today = today
        self.ids = {}
        self.counts = {view: {} for view in VIEWS}
        self.dirty = {view: set() for view in VIEWS}

    def _move(self, groups, delta):
        for view, group in zip(VIEWS, groups):
            c = self.counts[view]
            c[group] = c.get(group, 0) + delta
            self.dirty[view].add(group)

    def groups(self, country, gender, dob):
        return (country if country is not None else "unknown", gender if gender is not None else "unknown",
                age_band(dob, self.today))

    def apply(self, records):
        inserts, deletes = [], []
        for key, pos, v, produced_ms in records:
            old = self.ids.get(key)
            if old is not None and old[0] >= pos:
                continue
            if old is not None and old[1] is not None:
                self._move(old[1], -1)
            if v is None:
                self.ids[key] = (pos, None)
                deletes.append(key)
            else:
                dob = parse_ts(v.get("dob"))
                new = self.groups(v.get("country"), v.get("gender"), dob)
                self.ids[key] = (pos, new)
                self._move(new, +1)
                inserts.append((key, v, dob, produced_ms))
        return inserts, deletes

    @staticmethod
    def insert_params(key, v, dob, produced_ms):
        return (uuid.UUID(key), v.get("first_name"), v.get("last_name"), v.get("gender"), v.get("address"),
                v.get("post_code"), v.get("email"), v.get("username"), dob, parse_ts(v.get("registered_date")),
                v.get("phone"), v.get("picture"), v.get("country"),
                datetime.datetime.fromtimestamp(produced_ms / 1000, datetime.timezone.utc))

    def count_writes(self):
        """(view, group, users or 0 for a delete) for every group changed since the last call."""
        out = []
        for view, groups in self.dirty.items():
            for group in groups:
                n = self.counts[view].get(group, 0)
                if n == 0:
                    self.counts[view].pop(group, None)
                out.append((view, group, n))
            groups.clear()
        return out

    def live(self):
        return sum(1 for _, g in self.ids.values() if g is not None)

    def load(self, s, table):
        """Rebuilds the state from the rows table (after a restart: the rows are the latest versions).
        Positions are unknown then (-1): any record read again replaces the stored version."""
        from cassandra.query import SimpleStatement
        for row in s.execute(SimpleStatement(f"SELECT id, country, gender, dob FROM {table}", fetch_size=5000)):
            g = self.groups(row.country, row.gender, row.dob)
            self.ids[str(row.id)] = (-1, g)
            self._move(g, +1)
        for groups in self.dirty.values():
            groups.clear()


class RtdsStatements:
    def __init__(self, contact, keyspace, suffix):
        k = keyspace
        self.s, self.insert = prepared(contact, k, insert_cql(f"{k}.created_users{suffix}", RTDS_COLUMNS))
        _, self.delete = prepared(contact, k, f"DELETE FROM {k}.created_users{suffix} WHERE id = ?")
        self.upsert, self.remove = {}, {}
        for view, col in VIEWS.items():
            _, self.upsert[view] = prepared(contact, k, f"INSERT INTO {k}.{view}{suffix} ({col}, users) VALUES (?, ?)")
            _, self.remove[view] = prepared(contact, k, f"DELETE FROM {k}.{view}{suffix} WHERE {col} = ?")

    def count_pairs(self, writes):
        return [(self.upsert[v], (g, n)) if n else (self.remove[v], (g,)) for v, g, n in writes]


_STATES = {}


def rtds_state(contact, keyspace, suffix, today, epoch=None):
    """This process's RtdsState for the keyspace, loaded from Cassandra the first time, and again
    when `epoch` is given and the state did not end the epoch just before it (another Python
    worker ran that one: this copy is stale)."""
    key = (contact, keyspace, suffix)
    with _LOCK:
        state = _STATES.get(key)
    if state is not None and epoch is not None and getattr(state, "epoch", None) != epoch - 1:
        state = None
    if state is None:
        state = RtdsState(today)
        s, _ = session(contact, keyspace)
        state.load(s, f"{keyspace}.created_users{suffix}")
        with _LOCK:
            _STATES[key] = state
    return state


# ------------------------------------------------------------------ progress files (Real-Time Mode)

class ProgressFile:
    """Writes `window.acked` (plus a base) to DIR/NAME every `interval` seconds, atomically, so the
    driver can poll the sum cheaply; stop() writes the last value."""

    def __init__(self, directory, name, window, interval=0.01):
        self.path = os.path.join(directory, name)
        self.window, self.interval = window, interval
        self.extra = lambda: 0
        self._stop = threading.Event()
        self._last = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _write(self):
        value = self.window.acked - self.extra()
        if value != self._last:
            tmp = self.path + ".tmp"
            with open(tmp, "w") as f:
                f.write(str(value))
            os.replace(tmp, self.path)
            self._last = value

    def _run(self):
        while not self._stop.wait(self.interval):
            self.window.flush()
            self._write()

    def stop(self):
        self._stop.set()
        self._thread.join()
        self._write()


def read_progress(directory):
    total = 0
    for name in os.listdir(directory):
        if name.endswith(".tmp"):
            continue
        try:
            with open(os.path.join(directory, name)) as f:
                total += int(f.read() or 0)
        except (OSError, ValueError):
            pass
    return total


def now():
    return time.time()

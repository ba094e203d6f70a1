#!/usr/bin/env python3
"""benches/compare/cql.py: a small CQL native protocol v4 client for the comparison benchmark.

No Cassandra driver is needed (none is packaged here): STARTUP, then QUERY with paging on one
connection at consistency ONE, simple types decoded. Used by benches/compare.sh and
benches/baselines/spark/run for DDL, for watching rtds's durable offsets, and for reading back
the Spark baseline's rows (latency from WRITETIME, row counts).

  cql.py exec 'STATEMENT' ...                      run statements, print rows as a|b|c
  cql.py durable KEYSPACE TOPIC                    sum of rtds's durable offsets of TOPIC
  cql.py wait-durable KEYSPACE TOPIC N [--pid P] [--interval 0.2] [--timeout 600] [--status URL]
        poll rtds's offsets table until N records of TOPIC are durable; print JSON with the unix
        time it was first seen (t_offsets) and, with --status, when the master's /status first
        showed pipeline.durable_records >= N (t_status; it polls the same table once a second);
        exit 1 when process P ended or the timeout passed first
  cql.py wait-rows KEYSPACE TABLE N [--pid P] [--timeout 600]
        wait until the table exists and holds at least N rows
  cql.py latency KEYSPACE TABLE [--since MS]       Spark rows: WRITETIME(first_name) - produced_at,
                                                   percentiles as JSON; --since: only rows produced
                                                   at or after MS (unix milliseconds)
  cql.py count KEYSPACE TABLE                      rows, counted by a paged scan of the ids

The server is $RTDS_CASSANDRA (default 127.0.0.1:9042), the first contact point.
"""

import json
import os
import socket
import struct
import sys
import time
import uuid


class CqlError(Exception):
    pass


class Connection:
    def __init__(self, address=None, timeout=60.0):
        address = address or os.environ.get("RTDS_CASSANDRA", "127.0.0.1:9042")
        host, _, port = address.split(",")[0].strip().rpartition(":")
        self.sock = socket.create_connection((host or "127.0.0.1", int(port or 9042)), timeout=timeout)
        self.stream = 0
        self.file = self.sock.makefile("rb")
        body = struct.pack(">H", 1) + _string("CQL_VERSION") + _string("3.0.0")
        opcode, _ = self._request(0x01, body)
        if opcode != 0x02:
            raise CqlError("STARTUP was not answered with READY")

    def close(self):
        self.file.close()
        self.sock.close()

    def _request(self, opcode, body):
        self.stream = (self.stream + 1) % 32768
        self.sock.sendall(struct.pack(">BBhBI", 0x04, 0, self.stream, opcode, len(body)) + body)
        while True:
            header = self._read(9)
            _, flags, stream, op, length = struct.unpack(">BBhBI", header)
            payload = self._read(length)
            if stream == self.stream:
                break
        r = Reader(payload)
        if flags & 0x08:  # warnings
            for _ in range(r.short()):
                r.string()
        if op == 0x00:
            code = r.int()
            raise CqlError(f"error 0x{code:04x}: {r.string()}")
        return op, r

    def _read(self, n):
        data = self.file.read(n)
        if len(data) != n:
            raise CqlError("connection closed")
        return data

    def query(self, cql, page_size=5000):
        """Yields (column names, rows) page by page; one page of nothing for non-row results."""
        paging_state = None
        while True:
            flags = 0x04 | (0x08 if paging_state is not None else 0)
            body = _long_string(cql) + struct.pack(">HB", 0x0001, flags) + struct.pack(">i", page_size)
            if paging_state is not None:
                body += struct.pack(">i", len(paging_state)) + paging_state
            _, r = self._request(0x07, body)
            kind = r.int()
            if kind != 2:
                yield [], []
                return
            names, rows, paging_state = _rows(r)
            yield names, rows
            if paging_state is None:
                return

    def rows(self, cql, page_size=5000):
        out = []
        for _, rows in self.query(cql, page_size):
            out.extend(rows)
        return out


class Reader:
    def __init__(self, data):
        self.data, self.at = data, 0

    def take(self, n):
        chunk = self.data[self.at:self.at + n]
        self.at += n
        return chunk

    def short(self):
        return struct.unpack(">H", self.take(2))[0]

    def int(self):
        return struct.unpack(">i", self.take(4))[0]

    def string(self):
        return self.take(self.short()).decode()

    def bytes(self):
        n = self.int()
        return None if n < 0 else self.take(n)


def _string(s):
    b = s.encode()
    return struct.pack(">H", len(b)) + b


def _long_string(s):
    b = s.encode()
    return struct.pack(">i", len(b)) + b


def _option(r):
    kind = r.short()
    if kind == 0x0000:
        r.string()
    elif kind in (0x20, 0x22):
        _option(r)
    elif kind == 0x21:
        _option(r)
        _option(r)
    elif kind == 0x30:
        r.string()
        r.string()
        for _ in range(r.short()):
            r.string()
            _option(r)
    elif kind == 0x31:
        for _ in range(r.short()):
            _option(r)
    return kind


def _value(kind, raw):
    if raw is None:
        return None
    if kind in (0x02, 0x05, 0x0B):  # bigint, counter, timestamp (ms)
        return struct.unpack(">q", raw)[0]
    if kind == 0x09:
        return struct.unpack(">i", raw)[0]
    if kind in (0x01, 0x0D):
        return raw.decode()
    if kind in (0x0C, 0x0F):
        return uuid.UUID(bytes=raw)
    if kind == 0x04:
        return raw != b"\x00"
    return raw


def _rows(r):
    flags, columns = r.int(), r.int()
    paging_state = r.bytes() if flags & 0x02 else None
    if flags & 0x01:
        r.string()
        r.string()
    names, kinds = [], []
    for _ in range(columns):
        if not flags & 0x01:
            r.string()
            r.string()
        names.append(r.string())
        kinds.append(_option(r))
    rows = []
    for _ in range(r.int()):
        rows.append(tuple(_value(k, r.bytes()) for k in kinds))
    return names, rows, paging_state


def _literal(text):
    return "'" + text.replace("'", "''") + "'"


def _not_there_yet(error):
    """A table not created yet, or created a moment ago on a node that has not applied the
    schema change ("Unknown CF <id>")."""
    return any(m in str(error) for m in ("unconfigured table", "does not exist", "Unknown CF"))


def durable(conn, keyspace, topic):
    """Records of `topic` durable in rtds's offsets table: the sum of the partitions' record counts
    (of their next offsets in a table from before the counts: the same on a topic without
    transactions, more on one with them, whose commit markers take offsets)."""
    try:
        rows = conn.rows(f"SELECT records, next_offset FROM {keyspace}.offsets WHERE topic = {_literal(topic)}")
    except CqlError as e:
        if _not_there_yet(e):
            return 0  # the workers have not created it yet
        raise
    return sum(r[0] if r[0] is not None else (r[1] or 0) for r in rows)


def percentile(sorted_values, q):
    """The value at quantile q (nearest rank), like hdrhistogram's value_at_quantile."""
    if not sorted_values:
        return None
    rank = max(1, min(len(sorted_values), int(-(-q * len(sorted_values) // 1))))
    return sorted_values[rank - 1]


def latency(conn, keyspace, table, since_ms=None):
    values = []
    for _, rows in conn.query(f"SELECT WRITETIME(first_name), produced_at FROM {keyspace}.{table}"):
        for written_us, produced_ms in rows:
            if written_us is not None and produced_ms is not None and (since_ms is None or produced_ms >= since_ms):
                values.append(max(0.0, written_us / 1000.0 - produced_ms))
    values.sort()
    out = {"rows": len(values)}
    for name, q in (("p50", 0.5), ("p99", 0.99), ("p999", 0.999)):
        v = percentile(values, q)
        out[f"latency_ms_{name}"] = None if v is None else round(v, 1)
    out["latency_ms_max"] = round(values[-1], 1) if values else None
    out["latency_ms_mean"] = round(sum(values) / len(values), 1) if values else None
    return out


def count(conn, keyspace, table):
    return sum(len(rows) for _, rows in conn.query(f"SELECT id FROM {keyspace}.{table}", page_size=10000))


def _status_durable(url):
    import urllib.request
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return int(json.load(r)["pipeline"]["durable_records"])
    except Exception:  # not serving yet, or gone
        return -1


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped) counts as gone.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def main(argv):
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    cmd, args = argv[0], argv[1:]
    opts = {}
    rest = []
    i = 0
    while i < len(args):
        if args[i].startswith("--"):
            opts[args[i][2:]] = args[i + 1]
            i += 2
        else:
            rest.append(args[i])
            i += 1
    conn = Connection()
    try:
        if cmd == "exec":
            for statement in rest:
                for names, rows in conn.query(statement):
                    if names:
                        print("|".join(names))
                    for row in rows:
                        print("|".join("null" if v is None else str(v) for v in row))
        elif cmd == "durable":
            print(durable(conn, rest[0], rest[1]))
        elif cmd == "wait-durable":
            keyspace, topic, target = rest[0], rest[1], int(rest[2])
            pid = int(opts["pid"]) if "pid" in opts else None
            interval = float(opts.get("interval", 0.2))
            deadline = time.time() + float(opts.get("timeout", 600))
            status_url = opts.get("status")
            t_offsets = t_status = None
            while True:
                if t_offsets is None and durable(conn, keyspace, topic) >= target:
                    t_offsets = time.time()
                if status_url and t_status is None and _status_durable(status_url) >= target:
                    t_status = time.time()
                if t_offsets is not None and (t_status is not None or not status_url):
                    break
                gone = pid is not None and not _alive(pid)
                if gone or time.time() > deadline:
                    if t_offsets is not None:
                        break  # the master ended before its /status showed it: t_status stays null
                    print(f"cql.py: {topic}: {durable(conn, keyspace, topic)} of {target} records durable; gave up",
                          file=sys.stderr)
                    return 1
                time.sleep(interval)
            print(json.dumps({"t_offsets": t_offsets, "t_status": t_status}))
        elif cmd == "wait-rows":
            keyspace, table, target = rest[0], rest[1], int(rest[2])
            pid = int(opts["pid"]) if "pid" in opts else None
            deadline = time.time() + float(opts.get("timeout", 600))
            while True:
                try:
                    if len(conn.rows(f"SELECT id FROM {keyspace}.{table} LIMIT {target}")) >= target:
                        break
                except CqlError as e:
                    if not _not_there_yet(e):
                        raise
                if (pid is not None and not _alive(pid)) or time.time() > deadline:
                    print(f"cql.py: {keyspace}.{table} does not hold {target} rows; gave up", file=sys.stderr)
                    return 1
                time.sleep(0.2)
        elif cmd == "latency":
            since = int(opts["since"]) if "since" in opts else None
            print(json.dumps(latency(conn, rest[0], rest[1], since)))
        elif cmd == "count":
            print(count(conn, rest[0], rest[1]))
        else:
            print(__doc__.strip(), file=sys.stderr)
            return 2
    except CqlError as e:
        print(f"cql.py: {e}", file=sys.stderr)
        return 1
    finally:
        conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

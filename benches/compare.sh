#!/usr/bin/env bash
# benches/compare.sh: rtds side by side with the Spark Structured Streaming job it replaces, and
# with the limits of this machine (issue 6). Figures and method: benches/COMPARE.md.
#
#   scripts/stack up && cargo build --release && benches/compare.sh [--json FILE] [--png FILE]
#
# Environment: USERS (300000), RATE (5000 users/s offered in the latency runs), DURATION (20 s of
# offered load), ONLY (a comma list of parts to run: kcat,ceiling,rtds,scaling,spark,latency;
# default all), KEEP=1 keeps the keyspaces, topics and database, RTDS_BIN (target/release/rtds).
# Results: a table on stdout, JSON in benches/results/compare.json and a chart in
# benches/results/compare.png (or --json FILE / --png FILE); progress and logs on stderr.
#
# 1. Fills a fresh topic (8 partitions) with USERS users: `rtds ingest` from `rtds api serve` into a
#    database of the topic's own, then `rtds cdc` from it into the topic.
# 2. On that topic, each run with its own fresh keyspace:
#    - kcat: the topic read to /dev/null (the consumer side's limit), median of 5, its fixed
#      start-up cost (the same read of a one-record topic) taken off;
#    - Cassandra ceiling: benches/cassandra_ceiling.rs writes USERS rows like rtds's sink;
#    - rtds `master --local -n 2 -w 2`, then `worker -w 1|2|4` (1 process) and `master -n 1 -w 2`
#      and `-n 2 -w 1` (1 vs 2 processes): seconds until all USERS records are durable (rtds's
#      offsets table), CPU seconds of the rtds processes (/usr/bin/time: user + sys, the master's
#      workers included), peak RSS;
#    - Spark (benches/baselines/spark/run, local[2]): seconds from the query's start until all
#      USERS records are written, CPU of the JVM + Python driver, their peak RSS.
# 3. Latency at RATE users/s offered for DURATION s, each on its own fresh topic: `rtds worker -w 2`
#    (its hdrhistogram, from its per-second reports: PostgreSQL commit -> acknowledged Cassandra
#    write) and the Spark job (WRITETIME(first_name) - produced_at of every row, read back from
#    Cassandra); both of the offered records only, not the warm-up record written before.
# Background processes run in their own process groups and are all killed on exit.
set -euo pipefail
export LC_ALL=C

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
USERS=${USERS:-300000}
RATE=${RATE:-5000}
DURATION=${DURATION:-20}
ONLY=${ONLY:-kcat,ceiling,rtds,scaling,spark,latency}
BIN=${RTDS_BIN:-$ROOT/target/release/rtds}
JSON_OUT=$ROOT/benches/results/compare.json
PNG_OUT=$ROOT/benches/results/compare.png
while (($#)); do
  case $1 in
    --json) JSON_OUT=$2; shift 2 ;;
    --png) PNG_OUT=$2; shift 2 ;;
    -h | --help) sed -n '2,27p' "$0" | cut -c3-; exit 0 ;;
    *) echo "compare.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
export RTDS_KAFKA=${RTDS_KAFKA:-127.0.0.1:9092} RTDS_CASSANDRA=${RTDS_CASSANDRA:-127.0.0.1:9042}
STACK=${RTDS_STACK_DIR:-$ROOT/.stack}
CQL=(python3 "$ROOT/benches/compare/cql.py")
CPU=(python3 "$ROOT/benches/compare/cpu.py")
SPARK_RUN=$ROOT/benches/baselines/spark/run
T_BEGIN=$EPOCHREALTIME

say() { printf '%s compare: %s\n' "$(date +%T)" "$*" >&2; }
die() { say "$*"; exit 1; }
WARNED=
warn() { say "warning: $*"; WARNED=1; }
want() { [[ ,$ONLY, == *,$1,* ]]; }
now() { printf '%s' "$EPOCHREALTIME"; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
calc() { python3 -c "import sys; print($1)"; }
psql_() { PGCONNECT_TIMEOUT=3 psql -X -q -h 127.0.0.1 -U postgres "$@"; }

# ------------------------------------------------------------------ checks
[[ -x $BIN ]] || die "no rtds binary at $BIN: cargo build --release"
if ! { port_open 9092 && port_open 9042 && port_open 5432; }; then die "PostgreSQL, Kafka and Cassandra must run: scripts/stack up"; fi
command -v kcat >/dev/null || die "kcat is missing (scripts/stack up installs it)"
[[ -x /usr/bin/time ]] || die "/usr/bin/time is missing (apt-get install time)"
CASSANDRA_PID=$(cat "$STACK/cassandra/pid" 2>/dev/null || true)
KAFKA_PID=$(cat "$STACK/kafka/pid" 2>/dev/null || true)
if pgrep -x rustc >/dev/null || pgrep -x cargo >/dev/null; then
  say "warning: cargo/rustc is running: the figures will be skewed by the compiler's load"
fi

RUN=cmp$(date +%s)
TOPIC=${RUN}_t
WORK=$(mktemp -d /tmp/rtds-compare.XXXXXX)
PARTS=$WORK/parts
mkdir -p "$PARTS"
GROUPS_=()     # process groups started here (each background job is a session leader)
KEYSPACES=()
# The script's own stdout and stderr, for the exit trap: it may run inside a redirected call.
exec 8>&1 9>&2
cleanup() {
  local rc=$? pg
  trap - EXIT INT TERM
  exec 1>&8 2>&9
  for pg in "${GROUPS_[@]}"; do kill -TERM -- "-$pg" 2>/dev/null || true; done
  for _ in {1..20}; do
    local alive=
    for pg in "${GROUPS_[@]}"; do kill -0 -- "-$pg" 2>/dev/null && alive=1; done
    [[ -z $alive ]] && break
    sleep 0.25
  done
  for pg in "${GROUPS_[@]}"; do kill -KILL -- "-$pg" 2>/dev/null || true; done
  if [[ ${KEEP:-0} != 1 ]]; then
    for ks in "${KEYSPACES[@]}"; do "${CQL[@]}" exec "DROP KEYSPACE IF EXISTS $ks" >/dev/null 2>&1 || true; done
    # Every database of this run (one per topic, each with its CDC slot) starts with db_$RUN.
    for db in $(psql_ -d postgres -tAc "select datname from pg_database where datname like 'db\_${RUN}\_%'" 2>/dev/null); do
      psql_ -d postgres -c "select pg_drop_replication_slot(slot_name) from pg_replication_slots where database = '$db'" >/dev/null 2>&1 || true
      psql_ -d postgres -c "drop database if exists $db" >/dev/null 2>&1 || true
    done
    # Every topic of this run (and its .dlq) starts with $RUN.
    "$ROOT/scripts/stack" kafka-topics --delete --topic "${RUN}_.*" >/dev/null 2>&1 || true
  else
    say "kept: keyspaces ${KEYSPACES[*]}, topics ${RUN}_*, databases db_${RUN}_* (with their replication slots)"
  fi
  if [[ ${KEEP:-0} == 1 || -n $WARNED || $rc != 0 ]]; then say "logs kept in $WORK"; else rm -rf "$WORK"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Starts a command in the background in its own process group; its PID (= group) is in $BG.
spawn() {
  setsid "$@" 8>&- 9>&- &
  BG=$!
  GROUPS_+=("$BG")
}
# Waits for a background job; its exit status in $RC (never fails the script).
wait_bg() { RC=0; wait "$1" || RC=$?; }
# Runs a command in the foreground, but as its own process group that the script waits for: a
# TERM to the script then interrupts the wait at once, and the exit trap kills the group.
run() { spawn "$@"; wait_bg "$BG"; return "$RC"; }
drop_keyspace() { [[ ${KEEP:-0} == 1 ]] || "${CQL[@]}" exec "DROP KEYSPACE IF EXISTS $1" >/dev/null 2>&1 || true; }
part() { cat >"$PARTS/$1.json"; }

# ------------------------------------------------------------------ set-up
CEILING_BIN=
if want ceiling; then
  # The release profile (not `cargo bench`'s): it reuses the library `cargo build --release` built.
  say "building benches/cassandra_ceiling.rs (cargo build --release --bench cassandra_ceiling)"
  if CEILING_BIN=$(cargo build --release --bench cassandra_ceiling --message-format=json 2>"$WORK/cargo.err" |
    python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "cassandra_ceiling" and m.get("executable"):
        print(m["executable"])'); [[ -n $CEILING_BIN ]]; then :; else
    tail -n 20 "$WORK/cargo.err" >&2
    warn "the Cassandra ceiling bench does not build; that part is skipped"
    CEILING_BIN=
  fi
fi
if want spark || want latency; then
  say "installing the Spark baseline if needed (benches/baselines/spark/install.sh)"
  SPARK_CACHE=$("$ROOT/benches/baselines/spark/install.sh")
  PY=$SPARK_CACHE/venv/bin/python
else
  PY=$(ls "${XDG_CACHE_HOME:-$HOME/.cache}/rtds/spark/venv/bin/python" 2>/dev/null || echo python3)
fi

if [[ -n $CASSANDRA_PID && -n $KAFKA_PID ]]; then
  spawn "${CPU[@]}" sample "$WORK/services.cpu" "cassandra=$CASSANDRA_PID" "kafka=$KAFKA_PID"
else
  warn "no Cassandra/Kafka PID under $STACK; the services' CPU is not reported"
fi
services_cpu() { # t0 t1 -> {"cassandra": s, "kafka": s}
  if [[ -f $WORK/services.cpu ]]; then
    printf '{"cassandra": %s, "kafka": %s}' "$("${CPU[@]}" window "$WORK/services.cpu" cassandra "$1" "$2")" \
      "$("${CPU[@]}" window "$WORK/services.cpu" kafka "$1" "$2")"
  else
    echo null
  fi
}

API_PORT=$(free_port)
spawn "$BIN" api serve --addr "127.0.0.1:$API_PORT" >"$WORK/api.log" 2>&1
for _ in {1..50}; do port_open "$API_PORT" && break; sleep 0.1; done
API=http://127.0.0.1:$API_PORT/api/
database() { # topic -> the URL of the topic's own database (its CDC slot streams into that topic only)
  local db=db_$1
  psql_ -d postgres -c "create database $db" >/dev/null 2>&1 || true
  echo "postgres://postgres@127.0.0.1:5432/$db"
}

ingest() { # topic users seed [ingest flags...] -> ingest's JSON on stdout; then CDC fills the topic
  local topic=$1 users=$2 seed=$3 url
  shift 3
  url=$(database "$topic")
  "$BIN" ingest --api "$API" --postgres "$url" --users "$users" --seed "$seed" --json "$@" 2>>"$WORK/ingest.err"
  "$BIN" cdc --postgres "$url" --topic "$topic" --partitions 8 --idle-exit 1s --json >"$WORK/cdc_$topic.json" 2>>"$WORK/cdc.err"
}

say "run $RUN: $USERS users, latency at $RATE users/s for $DURATION s; work files in $WORK"
python3 - "$USERS" "$RATE" "$DURATION" "$RUN" "$(git rev-parse --short HEAD 2>/dev/null || echo '?')" \
  "$(git status --porcelain -- src 2>/dev/null | wc -l)" <<'EOF' | part meta
import json, os, sys, time
users, rate, duration, run, commit, dirty = sys.argv[1:]
print(json.dumps({"users": int(users), "rate": int(rate), "duration": int(duration), "run": run,
                  "commit": commit, "src_files_changed": int(dirty), "date": time.strftime("%Y-%m-%d %H:%M:%S"),
                  "nproc": os.cpu_count(), "loadavg_at_start": os.getloadavg()[0]}))
EOF

say "filling $TOPIC with $USERS users (rtds ingest, 8 partitions)"
ingest "$TOPIC" "$USERS" "$RUN" --batch 5000 | part ingest
# A one-record topic: a throwaway rtds run on it creates each rtds keyspace's tables beforehand,
# as the Spark run creates its table beforehand, so neither measurement includes DDL.
ingest "${RUN}_warm" 1 "$RUN-warm" >/dev/null

# ------------------------------------------------------------------ kcat: the consumer's limit
# kcat -e stops at the end of every partition; fetch.wait.max.ms=10 (librdkafka: 500) keeps the
# broker from holding the last, empty fetch for half a second, which would dwarf the reading. Its
# fixed cost (start-up, metadata, the last fetch) is kcat's time on the one-record topic; the rate
# is USERS over the difference. Median of 5 each.
if want kcat; then
  say "kcat: reading $TOPIC to /dev/null, 5 times"
  kc() { /usr/bin/time -f '%U %S' -o "$2" kcat -C -b "$RTDS_KAFKA" -t "$1" -o beginning -e -q -X fetch.wait.max.ms=10 >/dev/null; }
  n=$(kcat -C -b "$RTDS_KAFKA" -t "$TOPIC" -o beginning -e -q -X fetch.wait.max.ms=10 -f '%p\n' | wc -l)
  ((n == USERS)) || die "kcat read $n records from $TOPIC, not $USERS"
  for _ in 1 2 3 4 5; do
    t0=$(now); kc "${RUN}_warm" "$WORK/kcat.cpu"; echo "base $(calc "$(now) - $t0")" >>"$WORK/kcat.times"
    t0=$(now); kc "$TOPIC" "$WORK/kcat.cpu"; echo "full $(calc "$(now) - $t0") $(<"$WORK/kcat.cpu")" >>"$WORK/kcat.times"
  done
  python3 - "$USERS" "$WORK/kcat.times" <<'EOF' | part kcat || warn "no kcat result"
import json, sys
users = int(sys.argv[1])
base = sorted(float(l.split()[1]) for l in open(sys.argv[2]) if l.startswith("base"))
full = sorted([float(x) for x in l.split()[1:4]] for l in open(sys.argv[2]) if l.startswith("full"))
b, (f, u, s) = base[len(base) // 2], full[len(full) // 2]
print(json.dumps({"seconds": round(f, 3), "fixed_seconds": round(b, 3),
                  "records_per_second": round(users / max(f - b, 1e-3)), "records_per_second_raw": round(users / f),
                  "cpu_seconds": round(u + s, 2), "runs_seconds": [round(r[0], 3) for r in full]}))
EOF
fi

# ------------------------------------------------------------------ Cassandra ceiling
if want ceiling && [[ -n $CEILING_BIN ]]; then
  say "Cassandra ceiling: $USERS rows, single-row writes and unlogged batches"
  KEYSPACES+=("${RUN}_ceiling")
  t0=$(now)
  if run "$CEILING_BIN" --rows "$USERS" --keyspace "${RUN}_ceiling" --batch "${CEILING_BATCH:-10}" >"$WORK/ceiling.json" 2>"$WORK/ceiling.err"; then
    t1=$(now)
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); d["services_cpu_seconds"]=json.loads(sys.argv[2]); print(json.dumps(d))' \
      "$WORK/ceiling.json" "$(services_cpu "$t0" "$t1")" | part ceiling || warn "no ceiling result"
  else
    tail -n 20 "$WORK/ceiling.err" >&2
    warn "the Cassandra ceiling bench failed"
  fi
  drop_keyspace "${RUN}_ceiling"
fi

# ------------------------------------------------------------------ rtds throughput
rtds_run() { # name processes workers -> part rtds_NAME
  local name=$1 n=$2 w=$3 ks=${RUN}_$1 port args t0 done_json pid
  KEYSPACES+=("$ks")
  # The keyspace's tables, created by a run over the one-record topic (not timed).
  run "$BIN" worker -w 1 --topic "${RUN}_warm" --keyspace "$ks" --idle-exit 1s >/dev/null 2>>"$WORK/warm.err" ||
    die "rtds worker could not set up keyspace $ks (see $WORK/warm.err)"
  local status=()
  if [[ $name == master_* ]]; then
    port=$(free_port)
    args=(master --local -n "$n" -w "$w" --http "127.0.0.1:$port" --base-port $((port + 1)))
    status=(--status "http://127.0.0.1:$port/status")
  else
    args=(worker -w "$w")
  fi
  say "rtds ${args[*]}: $USERS records into $ks"
  t0=$(now)
  spawn /usr/bin/time -f '%e %U %S %M' -o "$WORK/$name.time" "$BIN" "${args[@]}" --topic "$TOPIC" --keyspace "$ks" \
    --idle-exit 3s >"$WORK/$name.out" 2>"$WORK/$name.err"
  pid=$BG
  done_json=
  if run "${CQL[@]}" wait-durable "$ks" "$TOPIC" "$USERS" --pid "$pid" --timeout 900 "${status[@]}" >"$WORK/$name.done"; then
    done_json=$(<"$WORK/$name.done")
  fi
  wait_bg "$pid"
  if [[ -z $done_json || $RC != 0 ]]; then
    tail -n 20 "$WORK/$name.err" >&2
    warn "rtds $name did not finish (exit $RC)"
    return 0
  fi
  local t1
  t1=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["t_offsets"])' "$done_json")
  python3 - "$name" "$n" "$w" "$USERS" "$t0" "$done_json" "$WORK/$name.time" "$(services_cpu "$t0" "$t1")" <<'EOF' | part "rtds_$name" || warn "no result for rtds $name"
import json, sys
name, n, w, users, t0, done, timefile, services = sys.argv[1:]
n, w, users, t0, done = int(n), int(w), int(users), float(t0), json.loads(done)
e, u, s, rss_kb = open(timefile).read().split()[-4:]
seconds = done["t_offsets"] - t0
cpu = float(u) + float(s)
print(json.dumps({
    "name": name, "processes": n, "workers": w,
    "config": f"master --local -n {n} -w {w}" if name.startswith("master") else f"worker -w {w}",
    "seconds": round(seconds, 3), "records_per_second": round(users / seconds),
    "seconds_status": round(done["t_status"] - t0, 3) if done.get("t_status") else None,
    "cpu_seconds": round(cpu, 2), "cpu_seconds_per_million": round(cpu / users * 1e6, 1),
    "peak_rss_mb": round(int(rss_kb) / 1024, 1), "wall_seconds_to_exit": float(e),
    "services_cpu_seconds": json.loads(services),
}))
EOF
  drop_keyspace "$ks"
}

spark_throughput() {
  local ks=${RUN}_spark
  KEYSPACES+=("$ks")
  say "Spark (local[2]): $USERS records into $ks"
  spawn "$SPARK_RUN" --topic "$TOPIC" --keyspace "$ks" --users "$USERS" --verify --warmup-topic "${RUN}_warm" \
    >"$WORK/spark.out" 2>"$WORK/spark.err"
  wait_bg "$BG"
  local out
  out=$(grep '^{' "$WORK/spark.out" | tail -n1 || true)
  if [[ -z $out ]]; then
    tail -n 30 "$WORK/spark.err" >&2
    warn "the Spark run printed no result (exit $RC)"
    return 0
  fi
  [[ $RC == 0 ]] || warn "the Spark run failed: $out"
  local t0 t1
  t0=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["t_query"])' "$out")
  t1=$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(d["t_done"] or d["t_query"])' "$out")
  python3 -c 'import json,sys; d=json.loads(sys.argv[1]); d["services_cpu_seconds"]=json.loads(sys.argv[2]); print(json.dumps(d))' \
    "$out" "$(services_cpu "$t0" "$t1")" | part spark || warn "no spark result"
  drop_keyspace "$ks"
}

# The main comparison first, back to back, while Cassandra holds the least data.
want rtds && rtds_run master_n2_w2 2 2
want spark && spark_throughput
if want scaling; then
  for w in 1 2 4; do rtds_run "worker_w$w" 1 "$w"; done
  rtds_run master_n1_w2 1 2
  rtds_run master_n2_w1 2 1
fi

# ------------------------------------------------------------------ latency at a fixed rate
OFFERED=$((RATE * DURATION))
offer() { # topic seed: offers RATE users/s for DURATION s, CDC streaming them; ingest's JSON on stdout
  local url i
  url=$(database "$1")
  "$BIN" cdc --postgres "$url" --topic "$1" --idle-exit 2s --json >"$WORK/cdc_$1.json" 2>"$WORK/cdc_$1.err" &
  local cdc=$!
  # The load starts once the stage streams, as it would in production where it runs all along:
  # otherwise its start-up (a Kafka transactional producer's first transaction) is in the
  # latency's tail. Its idle wait (2 s) has not run out by the first page.
  for ((i = 0; i < 300; i++)); do
    grep -q "resuming the stream" "$WORK/cdc_$1.err" 2>/dev/null && break
    sleep 0.1
  done
  cat "$WORK/cdc_$1.err" >>"$WORK/cdc.err"
  run "$BIN" ingest --api "$API" --postgres "$url" --users "$OFFERED" --seed "$2" --json --rate "$RATE" \
    --batch 100 2>>"$WORK/ingest.err"
  wait "$cdc"
}
if want latency; then
  t=${RUN}_lat_rtds
  ingest "$t" 1 "$RUN-lat-warm" >/dev/null
  KEYSPACES+=("$t")
  say "latency: rtds worker -w 2 while ingest offers $RATE users/s for $DURATION s"
  # --report: a line a second with the latencies recorded since the last one, so that the
  # warm-up record can be left out, as Spark's figure leaves it out (--since below): it was
  # committed before the worker started, and its latency is the worker's start-up.
  spawn /usr/bin/time -f '%M' -o "$WORK/lat_rtds.time" "$BIN" worker -w 2 --topic "$t" --keyspace "$t" --idle-exit 3s \
    --report >"$WORK/lat_rtds.out" 2>"$WORK/lat_rtds.err"
  pid=$BG
  if run "${CQL[@]}" wait-durable "$t" "$t" 1 --pid "$pid" --timeout 120 >/dev/null; then
    for ((i = 0; i < 50; i++)); do # until a report holds the warm-up record's latency
      grep -q '^rtds-report .*"latency_ms"' "$WORK/lat_rtds.out" && break
      sleep 0.1
    done
    warm_reports=$(grep -c '^rtds-report ' "$WORK/lat_rtds.out" || true)
    offer "$t" "$RUN-lat-rtds" >"$WORK/lat_rtds.ingest" || warn "ingest at $RATE users/s failed (see $WORK/ingest.err)"
    t_off=$(now)
    done_json='{"t_offsets": null}'
    if run "${CQL[@]}" wait-durable "$t" "$t" $((OFFERED + 1)) --pid "$pid" --timeout 900 >"$WORK/lat_rtds.done"; then
      done_json=$(<"$WORK/lat_rtds.done")
    fi
    wait_bg "$pid"
    python3 - "$WORK/lat_rtds.out" "$WORK/lat_rtds.time" "$WORK/lat_rtds.ingest" "$RATE" "$t_off" "$done_json" "$warm_reports" <<'EOF' | part latency_rtds || warn "no latency_rtds result"
import json, sys
lines = open(sys.argv[1]).read().splitlines()
summary = [json.loads(l) for l in lines if l.startswith("{")][-1]
# The offered load's latencies: the reports after the warm-up's (values, counts of hdrhistogram).
reports = [json.loads(l.split(" ", 1)[1]) for l in lines if l.startswith("rtds-report ")][int(sys.argv[7]):]
values = sorted((v, c) for r in reports for v, c in r.get("latency_ms", []))
total = sum(c for _, c in values)
def at(q):  # nearest rank, as hdrhistogram's value_at_quantile
    rank, seen = max(1, -(-q * total // 1)), 0
    for v, c in values:
        seen += c
        if seen >= rank:
            return v
if total:
    summary.update({"latency_ms_p50": at(0.5), "latency_ms_p99": at(0.99), "latency_ms_p999": at(0.999),
                    "latency_ms_max": values[-1][0], "latency_records": total})
ingest = json.load(open(sys.argv[3]))
done = json.loads(sys.argv[6])["t_offsets"]
summary.update({"offered_rate": int(sys.argv[4]), "achieved_rate": round(ingest["users_per_second"]),
                "peak_rss_mb": round(int(open(sys.argv[2]).read().split()[-1]) / 1024, 1),
                # how long after the offered load ended the last record became durable
                "behind_seconds": None if done is None else round(max(0.0, done - float(sys.argv[5])), 2)})
print(json.dumps(summary))
EOF
  else
    wait_bg "$pid"
    tail -n 20 "$WORK/lat_rtds.err" >&2
    warn "the rtds latency run did not start"
  fi
  drop_keyspace "$t"

  t=${RUN}_lat_spark
  ingest "$t" 1 "$RUN-lat-warm" >/dev/null
  KEYSPACES+=("$t")
  say "latency: Spark while ingest offers $RATE users/s for $DURATION s"
  spawn "$SPARK_RUN" --topic "$t" --keyspace "$t" --users $((OFFERED + 1)) --warmup-topic "${RUN}_warm" \
    >"$WORK/lat_spark.out" 2>"$WORK/lat_spark.err"
  pid=$BG
  # Spark is ready once the record that was waiting is in Cassandra.
  if run "${CQL[@]}" wait-rows "$t" created_users 1 --pid "$pid" --timeout 300; then
    since_ms=$(python3 -c 'import time; print(int(time.time() * 1000))')
    offer "$t" "$RUN-lat-spark" >"$WORK/lat_spark.ingest" || warn "ingest at $RATE users/s failed (see $WORK/ingest.err)"
    t_off=$(now)
    wait_bg "$pid"
    out=$(grep '^{' "$WORK/lat_spark.out" | tail -n1 || true)
    if [[ -n $out ]]; then
      "${CQL[@]}" latency "$t" created_users --since "$since_ms" >"$WORK/lat_spark.latency"
      python3 - "$out" "$WORK/lat_spark.latency" "$WORK/lat_spark.ingest" "$RATE" "$t_off" <<'EOF' | part latency_spark || warn "no latency_spark result"
import json, sys
job = json.loads(sys.argv[1])
latency = json.load(open(sys.argv[2]))
ingest = json.load(open(sys.argv[3]))
done = job.get("t_done")
latency.update({"offered_rate": int(sys.argv[4]), "achieved_rate": round(ingest["users_per_second"]),
                "behind_seconds": None if done is None else round(max(0.0, done - float(sys.argv[5])), 2),
                "batches": job["batches"], "batch_ms_median": job["batch_ms_median"], "ok": job["ok"],
                "jvm_peak_rss_mb": job["jvm_peak_rss_mb"], "python_peak_rss_mb": job["python_peak_rss_mb"]})
print(json.dumps(latency))
EOF
    else
      tail -n 20 "$WORK/lat_spark.err" >&2
      warn "the Spark latency run printed no result (exit $RC)"
    fi
  else
    wait_bg "$pid"
    tail -n 30 "$WORK/lat_spark.err" >&2
    warn "the Spark latency run did not start"
  fi
  drop_keyspace "$t"
fi

# ------------------------------------------------------------------ report
if [[ -f $WORK/services.cpu ]]; then "${CPU[@]}" env "$WORK/services.cpu" | part environment || true; fi
mkdir -p "$(dirname "$JSON_OUT")" "$(dirname "$PNG_OUT")"
total=$(calc "round($EPOCHREALTIME - $T_BEGIN)")
"$PY" "$ROOT/benches/compare/report.py" "$PARTS" "$JSON_OUT" "$PNG_OUT" "$total"
say "done in ${total}s: $JSON_OUT, $PNG_OUT"

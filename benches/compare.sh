#!/usr/bin/env bash
# benches/compare.sh: rtds side by side with its peers (the tutorial's Spark 3.5 job, Spark 4 in
# micro-batch and Real-Time Mode, Flink 2.3 SQL) and with the limits of this machine (issues 6, 27).
# Figures and method: BENCHMARKS.md, "rtds side by side with its peers".
#
#   scripts/stack up && cargo build --release && benches/compare.sh [--json FILE] [--png FILE]
#
# Environment: USERS (300000), RATES (5000,20000: the users/s offered in the latency runs, one
# run per rate and system), DURATION (20 s of offered load), ONLY (a comma list of parts to run: kcat,ceiling,rtds,scaling,peers,latency;
# default all), PEERS (a comma list of peers, for the peers and latency parts; default
# spark35,spark4,spark4_rt,spark4_rtds,spark4_rtds_rt,flink; empty: none), SCALING (the scaling part's
# rtds runs: worker_wW and master_nN_wW, _nocp for --no-checkpoint; default worker_w1,worker_w2,
# worker_w4,master_n1_w2,master_n2_w1,master_n2_w2_nocp; empty: none), KEEP=1 keeps the keyspaces, topics
# and database, RTDS_BIN (target/release/rtds), PEER_TIMEOUT (seconds a peer's throughput run may take:
# 900 + USERS/1000; passed to the peer, which reports what it wrote by then, and enforced from
# outside 120 s later for a peer that hangs past its own limit), CDC_FLAGS (more `rtds cdc` flags for the
# latency runs, e.g. "--linger 0ms").
# Results: a table on stdout, JSON in benches/results/compare.json and a chart in
# benches/results/compare.png (or --json FILE, with the chart beside it as FILE's name with .png,
# and --png FILE); progress and logs on stderr.
#
# 1. Fills a fresh topic (8 partitions) with USERS users: `rtds ingest` from `rtds api serve` into a
#    database of the topic's own, then `rtds cdc` from it into the topic.
# 2. On that topic, each run with its own fresh keyspace:
#    - kcat: the topic read to /dev/null (the consumer side's limit), median of 5, its fixed
#      start-up cost (the same read of a one-record topic) taken off;
#    - Cassandra ceiling: benches/cassandra_ceiling.rs writes USERS rows like rtds's sink;
#    - rtds `master --local -n 2 -w 2`, then SCALING's runs (by default `worker -w 1|2|4` (1 process),
#      `master -n 1 -w 2` and `-n 2 -w 1` (1 vs 2 processes), `master -n 2 -w 2 --no-checkpoint`):
#      seconds until all USERS records are durable (rtds's
#      offsets table), CPU seconds of the rtds processes (/usr/bin/time: user + sys, the master's
#      workers included), peak RSS;
#    - each peer (benches/baselines/*/run, warmed up on a one-record topic first): seconds from
#      its query's start until all USERS records are written (and, doing rtds's work, the counts
#      final), CPU of its whole process tree (JVM + Python), peak RSS.
# 3. Latency at each of RATES users/s offered for DURATION s, each on its own fresh topic: `rtds worker -w 2`
#    (its hdrhistogram, from its per-second reports: PostgreSQL commit -> acknowledged Cassandra
#    write) and each peer (WRITETIME(first_name) - produced_at of every row, read back from
#    Cassandra); all of the offered records only, not the warm-up record written before.
# Background processes run in their own process groups and are all killed on exit.
set -euo pipefail
export LC_ALL=C

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
USERS=${USERS:-300000}
RATES=${RATES:-${RATE:-5000,20000}}
DURATION=${DURATION:-20}
ONLY=${ONLY:-kcat,ceiling,rtds,scaling,peers,latency}
PEERS=${PEERS-spark35,spark4,spark4_rt,spark4_rtds,spark4_rtds_rt,flink}
# The scaling part's rtds runs besides master -n 2 -w 2: the workers of one process, a process or two,
# and the main run without its checkpoints (what they cost).
SCALING=${SCALING-worker_w1,worker_w2,worker_w4,master_n1_w2,master_n2_w1,master_n2_w2_nocp}
SCALING_CONFIG='^(worker|master_n([0-9]+))_w([0-9]+)(_nocp)?$'
BIN=${RTDS_BIN:-$ROOT/target/release/rtds}
PEER_TIMEOUT=${PEER_TIMEOUT:-$((900 + USERS / 1000))}
JSON_OUT=$ROOT/benches/results/compare.json
PNG_OUT=
while (($#)); do
  case $1 in
    --json) JSON_OUT=$2; shift 2 ;;
    --png) PNG_OUT=$2; shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | cut -c3-; exit 0 ;;
    *) echo "compare.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
# The chart goes beside the JSON unless named: a partial run given --json alone must not replace
# the committed benches/results/compare.png.
PNG_OUT=${PNG_OUT:-${JSON_OUT%.json}.png}
for config in ${SCALING//,/ }; do
  [[ $config =~ $SCALING_CONFIG ]] || { echo "compare.sh: SCALING: $config is not worker_wW or master_nN_wW, with _nocp for --no-checkpoint" >&2; exit 2; }
  [[ $config != master_n2_w2 ]] || { echo "compare.sh: SCALING: master_n2_w2 is the rtds part's run (ONLY=rtds)" >&2; exit 2; }
done
export RTDS_KAFKA=${RTDS_KAFKA:-127.0.0.1:9092} RTDS_CASSANDRA=${RTDS_CASSANDRA:-127.0.0.1:9042}
STACK=${RTDS_STACK_DIR:-$ROOT/.stack}
CQL=(python3 "$ROOT/benches/compare/cql.py")
CPU=(python3 "$ROOT/benches/compare/cpu.py")
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
# rtds's checkpoints (one folder per keyspace) go with the work folder, not to ~/.local/state.
export RTDS_STATE_DIR=$WORK/state
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
# The peers: NAME -> the command that runs it (each prints one JSON line; see its folder).
peer_cmd() {
  case $1 in
    spark35) PEER=("$ROOT/benches/baselines/spark/run") ;;
    spark4) PEER=("$ROOT/benches/baselines/spark4/run" --work tutorial --mode microbatch) ;;
    spark4_rt) PEER=("$ROOT/benches/baselines/spark4/run" --work tutorial --mode realtime) ;;
    spark4_rtds) PEER=("$ROOT/benches/baselines/spark4/run" --work rtds --mode microbatch) ;;
    spark4_rtds_rt) PEER=("$ROOT/benches/baselines/spark4/run" --work rtds --mode realtime) ;;
    flink) PEER=("$ROOT/benches/baselines/flink/run" --work rtds) ;;
    *) die "unknown peer $1 in PEERS (known: spark35,spark4,spark4_rt,spark4_rtds,spark4_rtds_rt,flink)" ;;
  esac
}

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
if want peers || want latency; then
  # Each peer installs itself once (a venv and jars under ~/.cache/rtds); done here so that a
  # failing install shows before the long runs.
  for peer in ${PEERS//,/ }; do peer_cmd "$peer"; done
  for dir in $(for peer in ${PEERS//,/ }; do peer_cmd "$peer"; dirname "${PEER[0]}"; done | sort -u); do
    say "installing the peer in ${dir#"$ROOT"/} if needed"
    "$dir/install.sh" >/dev/null || warn "$dir/install.sh failed: that peer's runs will fail"
  done
fi
# The chart needs matplotlib: the Spark peers' venvs have it.
PY=$(ls "${RTDS_SPARK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/rtds/spark}/venv/bin/python" \
  "${RTDS_SPARK4_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/rtds/spark4}/venv/bin/python" 2>/dev/null | head -n1 || true)
PY=${PY:-python3}

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

say "run $RUN: $USERS users, latency at $RATES users/s for $DURATION s; work files in $WORK"
python3 - "$USERS" "$RATES" "$DURATION" "$RUN" "$(git rev-parse --short HEAD 2>/dev/null || echo '?')" \
  "$(git status --porcelain -- src 2>/dev/null | wc -l)" <<'EOF' | part meta
import json, os, sys, time
users, rates, duration, run, commit, dirty = sys.argv[1:]
print(json.dumps({"users": int(users), "rates": [int(r) for r in rates.split(",")], "duration": int(duration), "run": run,
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
rtds_run() { # name processes workers [more flags] -> part rtds_NAME
  local name=$1 n=$2 w=$3 ks=${RUN}_$1 port args t0 done_json pid unset_state=()
  shift 3
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
  args+=("$@")
  # --no-checkpoint refuses a state folder, and RTDS_STATE_DIR names one.
  [[ " $* " == *" --no-checkpoint "* ]] && unset_state=(-u RTDS_STATE_DIR)
  spawn env "${unset_state[@]}" /usr/bin/time -f '%e %U %S %M' -o "$WORK/$name.time" "$BIN" "${args[@]}" --topic "$TOPIC" --keyspace "$ks" \
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
    "config": (f"master --local -n {n} -w {w}" if name.startswith("master") else f"worker -w {w}")
              + (" --no-checkpoint" if name.endswith("_nocp") else ""),
    "seconds": round(seconds, 3), "records_per_second": round(users / seconds),
    "seconds_status": round(done["t_status"] - t0, 3) if done.get("t_status") else None,
    "cpu_seconds": round(cpu, 2), "cpu_seconds_per_million": round(cpu / users * 1e6, 1),
    "peak_rss_mb": round(int(rss_kb) / 1024, 1), "wall_seconds_to_exit": float(e),
    "services_cpu_seconds": json.loads(services),
}))
EOF
  drop_keyspace "$ks"
}

# Adds the services' CPU over the peer's timed window to its JSON line (on stdin) -> stdout.
with_services_cpu() {
  local out t0 t1
  out=$(cat)
  t0=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1]).get("t_query") or 0)' "$out")
  t1=$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(d.get("t_done") or d.get("t_query") or 0)' "$out")
  python3 -c 'import json,sys; d=json.loads(sys.argv[1]); d["services_cpu_seconds"]=json.loads(sys.argv[2]); print(json.dumps(d))' \
    "$out" "$(services_cpu "$t0" "$t1")"
}
# A peer's throughput on the filled topic -> part peer_NAME. A peer that fails still gets its part,
# with "ok": false and the error, so the report says why it has no figure.
peer_throughput() {
  local name=$1 ks=${RUN}_$1 out
  peer_cmd "$name"
  KEYSPACES+=("$ks")
  say "peer $name: $USERS records into $ks"
  # A JVM that hangs after an error (an OutOfMemoryError in a Spark driver did) would hold the
  # whole comparison: the peer's own --timeout, then coreutils' timeout on its process group.
  spawn timeout --kill-after=30 $((PEER_TIMEOUT + 120)) "${PEER[@]}" --topic "$TOPIC" --keyspace "$ks" \
    --users "$USERS" --verify --warmup-topic "${RUN}_warm" --timeout "$PEER_TIMEOUT" \
    >"$WORK/$name.out" 2>"$WORK/$name.err"
  wait_bg "$BG"
  out=$(grep '^{' "$WORK/$name.out" | tail -n1 || true)
  if [[ -z $out ]]; then
    tail -n 30 "$WORK/$name.err" >&2
    local why="exit $RC"
    [[ $RC != 124 && $RC != 137 ]] || why="killed after $((PEER_TIMEOUT + 120)) s, its own limit $PEER_TIMEOUT s"
    warn "peer $name printed no result ($why)"
    python3 -c 'import json,sys; print(json.dumps({"ok": False, "error": sys.argv[1]}))' \
      "no result ($why): $(tail -n 3 "$WORK/$name.err" | tr '\n' ' ' | cut -c1-600)" | part "peer_$name"
    drop_keyspace "$ks"
    return 0
  fi
  [[ $RC == 0 ]] || warn "peer $name failed: $(cut -c1-300 <<<"$out")"
  with_services_cpu <<<"$out" | part "peer_$name" || warn "no result for peer $name"
  drop_keyspace "$ks"
}

# The main comparison first, back to back, while Cassandra holds the least data.
want rtds && rtds_run master_n2_w2 2 2
if want peers; then for peer in ${PEERS//,/ }; do peer_throughput "$peer"; done; fi
if want scaling; then
  for config in ${SCALING//,/ }; do
    [[ $config =~ $SCALING_CONFIG ]]
    rtds_run "$config" "${BASH_REMATCH[2]:-1}" "${BASH_REMATCH[3]}" ${BASH_REMATCH[4]:+--no-checkpoint}
  done
fi

# ------------------------------------------------------------------ latency at a fixed rate
offer() { # topic seed: offers RATE users/s for DURATION s, CDC streaming them; ingest's JSON on stdout
  local url i
  url=$(database "$1")
  # shellcheck disable=SC2086 # CDC_FLAGS is a list of flags
  "$BIN" cdc --postgres "$url" --topic "$1" --idle-exit 2s --json ${CDC_FLAGS:-} >"$WORK/cdc_$1.json" 2>"$WORK/cdc_$1.err" &
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
# A peer's latency while ingest offers RATE users/s -> part latency_RATE_NAME: WRITETIME - produced_at of
# every offered row, read back from Cassandra (cql.py latency), the warm-up record left out.
peer_latency() {
  local name=$1 t=${RUN}_lat${RATE}_$1 pid out since_ms t_off
  peer_cmd "$name"
  ingest "$t" 1 "$RUN-lat-warm" >/dev/null
  KEYSPACES+=("$t")
  say "latency: peer $name while ingest offers $RATE users/s for $DURATION s"
  spawn "${PEER[@]}" --topic "$t" --keyspace "$t" --users $((OFFERED + 1)) --warmup-topic "${RUN}_warm" \
    >"$WORK/lat${RATE}_$name.out" 2>"$WORK/lat${RATE}_$name.err"
  pid=$BG
  # The peer is ready once the record that was waiting is in Cassandra.
  if ! run "${CQL[@]}" wait-rows "$t" created_users 1 --pid "$pid" --timeout 300; then
    wait_bg "$pid"
    tail -n 30 "$WORK/lat${RATE}_$name.err" >&2
    warn "the latency run of peer $name did not start"
    drop_keyspace "$t"
    return 0
  fi
  since_ms=$(python3 -c 'import time; print(int(time.time() * 1000))')
  offer "$t" "$RUN-lat$RATE-$name" >"$WORK/lat${RATE}_$name.ingest" || warn "ingest at $RATE users/s failed (see $WORK/ingest.err)"
  t_off=$(now)
  wait_bg "$pid"
  out=$(grep '^{' "$WORK/lat${RATE}_$name.out" | tail -n1 || true)
  if [[ -z $out ]]; then
    tail -n 20 "$WORK/lat${RATE}_$name.err" >&2
    warn "the latency run of peer $name printed no result (exit $RC)"
    drop_keyspace "$t"
    return 0
  fi
  "${CQL[@]}" latency "$t" created_users --since "$since_ms" >"$WORK/lat${RATE}_$name.latency"
  python3 - "$out" "$WORK/lat${RATE}_$name.latency" "$WORK/lat${RATE}_$name.ingest" "$RATE" "$t_off" <<'PY' | part "latency_${RATE}_$name" || warn "no latency result for peer $name at $RATE users/s"
import json, sys
job = json.loads(sys.argv[1])
latency = json.load(open(sys.argv[2]))
ingest = json.load(open(sys.argv[3]))
done = job.get("t_done")
latency.update({"offered_rate": int(sys.argv[4]), "achieved_rate": round(ingest["users_per_second"]),
                "behind_seconds": None if done is None else round(max(0.0, done - float(sys.argv[5])), 2),
                "ok": job["ok"], "error": job.get("error"),
                **{k: job.get(k) for k in ("batches", "batch_ms_median", "jvm_peak_rss_mb", "python_peak_rss_mb",
                                           "versions", "sink", "mode", "work")}})
print(json.dumps(latency))
PY
  drop_keyspace "$t"
}
# rtds's latency while ingest offers RATE users/s -> part latency_RATE_rtds.
rtds_latency() {
  local t=${RUN}_lat${RATE}_rtds pid i warm_reports t_off done_json
  ingest "$t" 1 "$RUN-lat-warm" >/dev/null
  KEYSPACES+=("$t")
  say "latency: rtds worker -w 2 while ingest offers $RATE users/s for $DURATION s"
  # --report: a line a second with the latencies recorded since the last one, so that the
  # warm-up record can be left out, as Spark's figure leaves it out (--since below): it was
  # committed before the worker started, and its latency is the worker's start-up.
  spawn /usr/bin/time -f '%M' -o "$WORK/lat${RATE}_rtds.time" "$BIN" worker -w 2 --topic "$t" --keyspace "$t" --idle-exit 3s \
    --report >"$WORK/lat${RATE}_rtds.out" 2>"$WORK/lat${RATE}_rtds.err"
  pid=$BG
  if run "${CQL[@]}" wait-durable "$t" "$t" 1 --pid "$pid" --timeout 120 >/dev/null; then
    for ((i = 0; i < 50; i++)); do # until a report holds the warm-up record's latency
      grep -q '^rtds-report .*"latency_ms"' "$WORK/lat${RATE}_rtds.out" && break
      sleep 0.1
    done
    warm_reports=$(grep -c '^rtds-report ' "$WORK/lat${RATE}_rtds.out" || true)
    offer "$t" "$RUN-lat$RATE-rtds" >"$WORK/lat${RATE}_rtds.ingest" || warn "ingest at $RATE users/s failed (see $WORK/ingest.err)"
    t_off=$(now)
    done_json='{"t_offsets": null}'
    if run "${CQL[@]}" wait-durable "$t" "$t" $((OFFERED + 1)) --pid "$pid" --timeout 900 >"$WORK/lat${RATE}_rtds.done"; then
      done_json=$(<"$WORK/lat${RATE}_rtds.done")
    fi
    wait_bg "$pid"
    python3 - "$WORK/lat${RATE}_rtds.out" "$WORK/lat${RATE}_rtds.time" "$WORK/lat${RATE}_rtds.ingest" "$RATE" "$t_off" "$done_json" "$warm_reports" "$WORK/cdc_$t.json" <<'EOF' | part "latency_${RATE}_rtds" || warn "no rtds latency result at $RATE users/s"
import json, sys
lines = open(sys.argv[1]).read().splitlines()
summary = [json.loads(l) for l in lines if l.startswith("{")][-1]
# The offered load's latencies: the reports after the warm-up's (values, counts of hdrhistogram).
reports = [json.loads(l.split(" ", 1)[1]) for l in lines if l.startswith("rtds-report ")][int(sys.argv[7]):]
def merged(key):
    return sorted((v, c) for r in reports for v, c in r.get(key, []))
def at(values, q):  # nearest rank, as hdrhistogram's value_at_quantile
    rank, seen = max(1, -(-q * sum(c for _, c in values) // 1)), 0
    for v, c in values:
        seen += c
        if seen >= rank:
            return v
values = merged("latency_ms")
if values:
    summary.update({"latency_ms_p50": at(values, 0.5), "latency_ms_p99": at(values, 0.99), "latency_ms_p999": at(values, 0.999),
                    "latency_ms_max": values[-1][0], "latency_records": sum(c for _, c in values)})
# Per stage: commit -> Kafka commit (rtds cdc's own histogram), commit -> the worker's read, and
# the worker's Cassandra write requests; what is left of the end-to-end time is the dataflow's.
cdc = json.load(open(sys.argv[8]))
stages = {"commit_to_kafka_ms": [cdc.get("latency_p50_ms"), cdc.get("latency_p99_ms")]}
summary["cdc_transactions"] = cdc.get("transactions")
read, writes = merged("read_latency_ms"), merged("write_latency_us")
if read:
    stages["commit_to_worker_read_ms"] = [at(read, 0.5), at(read, 0.99)]
if writes:
    stages["cassandra_write_request_ms"] = [round(at(writes, 0.5) / 1000, 1), round(at(writes, 0.99) / 1000, 1)]
if values:
    stages["commit_to_cassandra_ack_ms"] = [summary["latency_ms_p50"], summary["latency_ms_p99"]]
summary["stages_p50_p99"] = stages
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
    tail -n 20 "$WORK/lat${RATE}_rtds.err" >&2
    warn "the rtds latency run did not start"
  fi
  drop_keyspace "$t"
}
if want latency; then
  for RATE in ${RATES//,/ }; do
    OFFERED=$((RATE * DURATION))
    rtds_latency
    for peer in ${PEERS//,/ }; do peer_latency "$peer"; done
  done
fi

# ------------------------------------------------------------------ report
if [[ -f $WORK/services.cpu ]]; then "${CPU[@]}" env "$WORK/services.cpu" | part environment || true; fi
mkdir -p "$(dirname "$JSON_OUT")" "$(dirname "$PNG_OUT")"
total=$(calc "round($EPOCHREALTIME - $T_BEGIN)")
"$PY" "$ROOT/benches/compare/report.py" "$PARTS" "$JSON_OUT" "$PNG_OUT" "$total"
say "done in ${total}s: $JSON_OUT, $PNG_OUT"

#!/usr/bin/env bash
# benches/ingest.sh: end-to-end ingest throughput, randomuser clone -> PostgreSQL -> (CDC) Kafka, all local.
#
#   scripts/stack up                 # once: PostgreSQL and Kafka on 127.0.0.1
#   benches/ingest.sh [USERS]        # USERS default 200000 (or $USERS)
#
# Starts `rtds api serve` on a free loopback port, creates a fresh PostgreSQL database and a fresh
# topic, runs `rtds cdc` (streaming into the topic) and `rtds ingest --json` at once, then prints
# users/s into PostgreSQL and users/s through to Kafka (until the CDC stage had every change in a
# committed transaction), the CPU seconds each process spent during the run (rtds ingest, rtds cdc,
# rtds api serve, PostgreSQL's processes, the Kafka JVM, and the Cassandra JVM the stack also
# runs), CPU seconds per million users, and the peak RSS of the rtds processes. The database (with
# its replication slot) and topics are dropped afterwards (KEEP=1 keeps them).
#
# Environment: RTDS_BIN (default target/release/rtds, built with `cargo build --release` unless
# given), BATCH (users per API request, default 5000), PARTITIONS (8), INGEST_ARGS (more flags).
set -euo pipefail
export LC_ALL=C

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
USERS=${1:-${USERS:-200000}}
BATCH=${BATCH:-5000}
PARTITIONS=${PARTITIONS:-8}
STACK=${RTDS_STACK_DIR:-$ROOT/.stack}
PG_HOST=127.0.0.1
KAFKA=127.0.0.1:9092
TICK=$(getconf CLK_TCK)

die() { echo "benches/ingest.sh: $*" >&2; exit 1; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
psql_() { PGCONNECT_TIMEOUT=3 psql -X -q -h "$PG_HOST" -U postgres "$@"; }

# The stack must be up: this script starts nothing but the API clone.
port_open 5432 && psql_ -d postgres -tAc 'select 1' >/dev/null 2>&1 ||
  die "PostgreSQL does not answer on $PG_HOST:5432; start the stack first: scripts/stack up"
port_open 9092 || die "Kafka does not answer on $KAFKA; start the stack first: scripts/stack up"
PG_PID=$(head -n1 "$STACK/postgres/data/postmaster.pid" 2>/dev/null || true)
KAFKA_PID=$(cat "$STACK/kafka/pid" 2>/dev/null || true)
CASSANDRA_PID=$(cat "$STACK/cassandra/pid" 2>/dev/null || true)
[[ -n $PG_PID && -r /proc/$PG_PID/stat ]] || die "no PostgreSQL PID in $STACK/postgres; was it started by scripts/stack up?"
[[ -n $KAFKA_PID && -r /proc/$KAFKA_PID/stat ]] || die "no Kafka PID in $STACK/kafka/pid; was it started by scripts/stack up?"

if [[ -z ${RTDS_BIN:-} ]]; then
  cargo build --release --quiet --bin rtds
  RTDS_BIN=$ROOT/target/release/rtds
fi
[[ -x $RTDS_BIN ]] || die "no rtds binary at $RTDS_BIN (cargo build --release)"

# CPU ticks (user + system) of one process, with its reaped children when $2 is "children".
ticks() {
  [[ -r /proc/$1/stat ]] || { echo 0; return; }
  local stat rest
  stat=$(<"/proc/$1/stat")
  rest=${stat##*) }        # fields from 3 on; the command name may hold spaces
  read -r -a f <<<"$rest"  # f[11]=utime f[12]=stime f[13]=cutime f[14]=cstime (fields 14-17)
  if [[ ${2:-} == children ]]; then echo $((f[11] + f[12] + f[13] + f[14])); else echo $((f[11] + f[12])); fi
}
# PostgreSQL: the postmaster with its live backends, plus what exited backends left in its cutime.
pg_ticks() {
  local total pid
  total=$(ticks "$PG_PID" children)
  for pid in $(pgrep -P "$PG_PID" || true); do total=$((total + $(ticks "$pid"))); done
  echo "$total"
}

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
RUN=bench_$(date +%s)_$$
DB=rtds_$RUN
TOPIC=$RUN
WORK=$(mktemp -d)
API_PID=
cleanup() {
  [[ -n $API_PID ]] && kill "$API_PID" 2>/dev/null && wait "$API_PID" 2>/dev/null || true
  if [[ ${KEEP:-0} != 1 ]]; then
    psql_ -d postgres -c "select pg_drop_replication_slot(slot_name) from pg_replication_slots where database = '$DB'" >/dev/null 2>&1 || true
    psql_ -d postgres -c "drop database if exists $DB" >/dev/null 2>&1 || true
    "$ROOT/scripts/stack" kafka-topics --delete --topic "$TOPIC.*" >/dev/null 2>&1 || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

"$RTDS_BIN" api serve --addr "127.0.0.1:$PORT" 2>"$WORK/api.log" &
API_PID=$!
for _ in $(seq 100); do port_open "$PORT" && break; sleep 0.05; done
port_open "$PORT" || { cat "$WORK/api.log" >&2; die "rtds api serve did not start"; }
API_URL=http://127.0.0.1:$PORT/api/
psql_ -d postgres -c "create database $DB" >/dev/null
PG_URL=postgres://postgres@$PG_HOST:5432/$DB

echo "ingest: $USERS users in requests of $BATCH from $API_URL into database $DB and topic $TOPIC ($PARTITIONS partitions)" >&2
# The CDC stage first (its slot and empty snapshot), so that the timed run streams every user.
IDLE=1
"$RTDS_BIN" cdc --postgres "$PG_URL" --kafka "$KAFKA" --topic "$TOPIC" --partitions "$PARTITIONS" --idle-exit 0s --json \
  >/dev/null 2>"$WORK/cdc-setup.log" || { cat "$WORK/cdc-setup.log" >&2; die "rtds cdc (setup) failed"; }
api0=$(ticks "$API_PID"); pg0=$(pg_ticks); kafka0=$(ticks "$KAFKA_PID"); cass0=$(ticks "$CASSANDRA_PID")
t0=$EPOCHREALTIME
/usr/bin/time -f '%U %S %M %e' -o "$WORK/cdc.time" \
  "$RTDS_BIN" cdc --postgres "$PG_URL" --kafka "$KAFKA" --topic "$TOPIC" --idle-exit "${IDLE}s" --json \
  >"$WORK/cdc.json" 2>"$WORK/cdc.log" &
CDC_PID=$!
/usr/bin/time -f '%U %S %M %e' -o "$WORK/time" \
  "$RTDS_BIN" ingest --api "$API_URL" --postgres "$PG_URL" \
  --batch "$BATCH" --users "$USERS" --seed bench --json ${INGEST_ARGS:-} \
  >"$WORK/summary.json" 2>"$WORK/ingest.log" || { cat "$WORK/ingest.log" >&2; die "rtds ingest failed"; }
wait "$CDC_PID" || { cat "$WORK/cdc.log" >&2; die "rtds cdc failed"; }
t1=$EPOCHREALTIME
sleep 0.5  # let PostgreSQL reap the connections' backends, so their CPU time shows in cutime
api1=$(ticks "$API_PID"); pg1=$(pg_ticks); kafka1=$(ticks "$KAFKA_PID"); cass1=$(ticks "$CASSANDRA_PID")
read -r ingest_user ingest_sys ingest_rss_kb ingest_wall <"$WORK/time"
read -r cdc_user cdc_sys cdc_rss_kb _ <"$WORK/cdc.time"

rows=$(psql_ -d "$DB" -tAc 'select count(*) from created_users')
python3 - "$WORK/summary.json" "$USERS" "$rows" "$TICK" "$ingest_user" "$ingest_sys" "$ingest_rss_kb" "$ingest_wall" \
  $((api1 - api0)) $((pg1 - pg0)) $((kafka1 - kafka0)) $((cass1 - cass0)) "$WORK/cdc.json" "$cdc_user" "$cdc_sys" "$cdc_rss_kb" \
  "$t0" "$t1" "$IDLE" <<'EOF'
import json, sys
summary = json.load(open(sys.argv[1]))
users, rows, tick = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
ingest_cpu = float(sys.argv[5]) + float(sys.argv[6])
rss_mib, wall = int(sys.argv[7]) / 1024, float(sys.argv[8])
api, pg, kafka, cassandra = (int(t) / tick for t in sys.argv[9:13])
cdc = json.load(open(sys.argv[13]))
cdc_cpu, cdc_rss_mib = float(sys.argv[14]) + float(sys.argv[15]), int(sys.argv[16]) / 1024
# Through to Kafka: from the start until the CDC stage finished, less its idle wait.
through = float(sys.argv[18]) - float(sys.argv[17]) - float(sys.argv[19])
if summary["fetched"] != users or rows != users or cdc["upserts"] != users:
    sys.exit(f"benches/ingest.sh: expected {users} users, got fetched {summary['fetched']}, "
             f"rows {rows}, changes in Kafka {cdc['upserts']}")
print(f"users            {users}")
print(f"seconds          {summary['seconds']:.2f} into PostgreSQL (ingest process: {wall:.2f} s wall), {through:.2f} through to Kafka")
print(f"users/s          {summary['users_per_second']:.0f} into PostgreSQL, {users / through:.0f} through to Kafka")
print(f"commit to Kafka  p50 {cdc['latency_p50_ms']} ms, p99 {cdc['latency_p99_ms']} ms ({cdc['transactions']} Kafka transactions)")
print(f"CPU seconds      total   per 1M users   share of {through:.1f} s x 2 cores")
total = 0
for name, cpu in [("rtds ingest", ingest_cpu), ("rtds cdc", cdc_cpu), ("rtds api serve", api), ("PostgreSQL", pg),
                  ("Kafka JVM", kafka), ("Cassandra JVM", cassandra)]:
    total += cpu
    print(f"  {name:15s}{cpu:6.2f}   {cpu / users * 1e6:12.2f}   {cpu / (2 * through) * 100:5.0f}%")
print(f"  {'all':15s}{total:6.2f}   {total / users * 1e6:12.2f}   {total / (2 * through) * 100:5.0f}%")
print(f"peak RSS: rtds ingest {rss_mib:.0f} MiB, rtds cdc {cdc_rss_mib:.0f} MiB")
EOF

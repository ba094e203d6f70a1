#!/usr/bin/env bash
# benches/profile.sh: where a worker's instructions go, per record and per stage (issue 27, item 5).
#
#   scripts/stack up && cargo build --release && benches/profile.sh [--json FILE]
#
# Instruction counts, not times: this guest has no hardware counters (`perf stat` says
# "not supported"), and callgrind's counts do not move with the machine's load as times do.
# 1. Fills two fresh topics (8 partitions) from `rtds api serve` through `rtds ingest` and
#    `rtds cdc`: USERS users and one user; a third one-record topic sets up each keyspace's tables
#    first, unprofiled, so neither profile includes the DDL.
# 2. Runs `rtds worker -w 1` under callgrind over each topic, to Cassandra, with its checkpoint
#    (or FLAGS, such as --no-checkpoint), every thread of the process counted, start-up included.
# 3. benches/profile/stages.py charges every function's own instructions to a stage (Kafka
#    consume, decode, expectations, dedupe, aggregates, CQL encoding, driver, ...; a function that
#    is none is charged to its callers, in proportion to what each calls), and the difference of
#    the two runs over USERS - 1 is each stage's cost per record, without the fixed start-up.
# Epochs are wall-clock periods and callgrind runs the worker ~30x slower, so the profiled
# dataflow's epoch_ms is EPOCH_MS (100, against users.sql's 10): about as many records an epoch
# as the native worker takes in 10 ms, so the per-epoch work is shared by as many records. The
# report prints the records per epoch it saw.
# Environment: USERS (20000), EPOCH_MS (100), FLAGS (more `rtds worker` flags), RTDS_BIN
# (target/release/rtds; a build with debug info names inlined frames: the release profile has
# it), KEEP=1 keeps the work folder, the topics, keyspaces and database. Progress on stderr.
set -euo pipefail
export LC_ALL=C
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
USERS=${USERS:-20000}
((USERS >= 2)) || { echo "profile.sh: USERS must be at least 2 (the cost a record is the difference from a run over one)" >&2; exit 2; }
EPOCH_MS=${EPOCH_MS:-100}
BIN=${RTDS_BIN:-$ROOT/target/release/rtds}
# shellcheck source=benches/lib.sh
. "$ROOT/benches/lib.sh"
bench_args profile "$@"
bench_prelude profile
command -v valgrind >/dev/null || die "valgrind is missing: apt-get install valgrind"

RUN=prof$(date +%s)
WORK=$(mktemp -d /tmp/rtds-profile.XXXXXX)
export RTDS_STATE_DIR=$WORK/state
API_PID=
cleanup() {
  local rc=$?
  trap - EXIT
  [[ -z $API_PID ]] || kill "$API_PID" 2>/dev/null || true
  if [[ ${KEEP:-0} != 1 ]]; then
    for ks in "${RUN}_base" "${RUN}_full"; do
      python3 "$ROOT/benches/compare/cql.py" exec "DROP KEYSPACE IF EXISTS $ks" >/dev/null 2>&1 || true
    done
    for run in warm base full; do
      psql_ -d postgres -c "select pg_drop_replication_slot(slot_name) from pg_replication_slots where database = 'db_${RUN}_$run'" >/dev/null 2>&1 || true
      psql_ -d postgres -c "drop database if exists db_${RUN}_$run" >/dev/null 2>&1 || true
    done
    "$ROOT/scripts/stack" kafka-topics --delete --topic "${RUN}_.*" >/dev/null 2>&1 || true
    ((rc == 0)) && rm -rf "$WORK"
  fi
  ((rc == 0)) || say "logs kept in $WORK"
  exit "$rc"
}
trap cleanup EXIT

API_PORT=$(free_port)
"$BIN" api serve --addr "127.0.0.1:$API_PORT" >"$WORK/api.log" 2>&1 &
API_PID=$!
for _ in {1..50}; do port_open "$API_PORT" && break; sleep 0.1; done
# Each topic from a database of its own: CDC's slot of a shared one would stream every topic the
# rows before it (a new topic has no resume point), so "one record" would be three.
fill() { # name users: the users committed to PostgreSQL, then CDC streams them into topic RUN_name
  local url=postgres://postgres@127.0.0.1:5432/db_${RUN}_$1
  psql_ -d postgres -c "create database db_${RUN}_$1" >/dev/null
  "$BIN" ingest --api "http://127.0.0.1:$API_PORT/api/" --postgres "$url" --users "$2" --seed "$RUN-$1" --batch 5000 --json >/dev/null 2>>"$WORK/ingest.err"
  "$BIN" cdc --postgres "$url" --topic "${RUN}_$1" --partitions 8 --idle-exit 1s --json >/dev/null 2>>"$WORK/cdc.err"
}
say "run $RUN: $USERS users; work files in $WORK"
fill warm 1
fill base 1
fill full "$USERS"

sed -E "s/^( *epoch_ms = )[0-9]+/\1$EPOCH_MS/" "$ROOT/dataflows/users.sql" >"$WORK/users.sql"
grep -q "epoch_ms = $EPOCH_MS," "$WORK/users.sql" || die "could not set epoch_ms in a copy of dataflows/users.sql"
read -r -a flags <<<"${FLAGS:-}"
[[ " ${flags[*]} " == *" --no-checkpoint "* ]] && unset RTDS_STATE_DIR
# --report: a report line a second, as under a master (the epochs are counted from it).
WORKER=("$BIN" worker -w 1 --report --dataflow "$WORK/users.sql" --idle-exit 3s "${flags[@]}")
for run in base full; do
  "${WORKER[@]}" --topic "${RUN}_warm" --keyspace "${RUN}_$run" >/dev/null 2>>"$WORK/warm.err" ||
    die "rtds worker could not set up keyspace ${RUN}_$run (see $WORK/warm.err)"
done
for run in base full; do
  say "callgrind: rtds worker -w 1 ${flags[*]} over ${RUN}_$run"
  t=$SECONDS
  valgrind --tool=callgrind --callgrind-out-file="$WORK/$run.callgrind" --log-file="$WORK/$run.valgrind" \
    "${WORKER[@]}" --topic "${RUN}_$run" --keyspace "${RUN}_$run" \
    >"$WORK/$run.out" 2>"$WORK/$run.err" || { tail -n 20 "$WORK/$run.err" >&2; die "rtds worker failed under callgrind (see $WORK)"; }
  say "  $((SECONDS - t)) s"
done
python3 "$ROOT/benches/profile/stages.py" --records "$USERS" --base "$WORK/base.callgrind" --full "$WORK/full.callgrind" \
  --reports "$WORK/full.out" --meta "$(printf '{"users": %s, "epoch_ms": %s, "flags": "%s", "date": "%s", "commit": "%s", "cpu": "%s"}' \
    "$USERS" "$EPOCH_MS" "${FLAGS:-}" "$(date -u +%F)" "$(git -C "$ROOT" rev-parse --short HEAD)" \
    "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)")" ${JSON_OUT:+--json "$JSON_OUT"}

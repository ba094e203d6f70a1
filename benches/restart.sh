#!/usr/bin/env bash
# benches/restart.sh: how long a crashed cluster takes to come back, end to end, with USERS users
# stored (issue 27: "from a restart to the first new durable epoch").
#
#   scripts/stack up && cargo build --release && USERS=1000000 benches/restart.sh [--json FILE]
#
# 1. Fills a fresh topic (8 partitions) with USERS users (`rtds ingest` from `rtds api serve`, then
#    `rtds cdc`), and runs `rtds master --local -n 2 -w 2` until all are durable in Cassandra.
# 2. kill -9 of the master and its worker processes; NEW (1000) more users go into the topic.
# 3. The same master again, each worker resuming from its checkpoint (RTDS_STATE_DIR): seconds from
#    its start until the first of the new users is durable (the first new durable epoch) and until
#    all are; the workers' peak RSS before the crash and after the restart.
# 4. kill -9 again, NEW more users, the checkpoints deleted (a lost disk: every worker reads its
#    stored rows back from Cassandra, as every restart did before the checkpoints), the same times.
# Prints one JSON line (and writes it to --json FILE); progress on stderr. Needs PostgreSQL, Kafka
# and Cassandra (scripts/stack up). Environment: USERS (1000000), NEW (1000), RTDS_BIN
# (target/release/rtds), KEEP=1 keeps the topic, keyspace, database and work folder, IMAGE=DIR copies
# the checkpoints as the first kill -9 left them to DIR (to study their opening).
set -euo pipefail
export LC_ALL=C
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
USERS=${USERS:-1000000}
NEW=${NEW:-1000}
BIN=${RTDS_BIN:-$ROOT/target/release/rtds}
# shellcheck source=benches/lib.sh
. "$ROOT/benches/lib.sh"
bench_args restart "$@"
bench_prelude restart

RUN=rst$(date +%s)
TOPIC=${RUN}_t KEYSPACE=${RUN}_ks DB=db_${RUN}
WORK=$(mktemp -d /tmp/rtds-restart.XXXXXX)
export RTDS_STATE_DIR=$WORK/state
GROUPS_=()
cleanup() {
  local rc=$? pg
  trap - EXIT
  for pg in "${GROUPS_[@]}"; do kill -KILL -- "-$pg" 2>/dev/null || true; done
  if [[ ${KEEP:-0} != 1 ]]; then
    python3 "$ROOT/benches/compare/cql.py" exec "DROP KEYSPACE IF EXISTS $KEYSPACE" >/dev/null 2>&1 || true
    psql_ -d postgres -c "select pg_drop_replication_slot(slot_name) from pg_replication_slots where database = '$DB'" >/dev/null 2>&1 || true
    psql_ -d postgres -c "drop database if exists $DB" >/dev/null 2>&1 || true
    "$ROOT/scripts/stack" kafka-topics --delete --topic "${RUN}_.*" >/dev/null 2>&1 || true
    ((rc == 0)) && rm -rf "$WORK"
  fi
  ((rc == 0)) || say "logs kept in $WORK"
  exit "$rc"
}
trap cleanup EXIT
spawn() { setsid "$@" & BG=$!; GROUPS_+=("$BG"); }

API_PORT=$(free_port)
spawn "$BIN" api serve --addr "127.0.0.1:$API_PORT" >"$WORK/api.log" 2>&1
for _ in {1..50}; do port_open "$API_PORT" && break; sleep 0.1; done
psql_ -d postgres -c "create database $DB" >/dev/null
URL=postgres://postgres@127.0.0.1:5432/$DB
fill() { # users seed
  "$BIN" ingest --api "http://127.0.0.1:$API_PORT/api/" --postgres "$URL" --users "$1" --seed "$2" --batch 5000 --json >/dev/null 2>>"$WORK/ingest.err"
  "$BIN" cdc --postgres "$URL" --topic "$TOPIC" --partitions 8 --idle-exit 1s --json >/dev/null 2>>"$WORK/cdc.err"
}
HTTP=$(free_port)
start_master() { # log -> the master's process group in $MASTER
  spawn "$BIN" master --local -n 2 -w 2 --http "127.0.0.1:$HTTP" --kafka "$RTDS_KAFKA" --cassandra "$RTDS_CASSANDRA" \
    --topic "$TOPIC" --keyspace "$KEYSPACE" --idle-exit 1h >/dev/null 2>"$1"
  MASTER=$BG
}
status() { curl -fsS -m 2 "http://127.0.0.1:$HTTP/status" 2>/dev/null || true; }
workers_rss_mb() { status | python3 -c 'import json,sys
s = json.load(sys.stdin); print(round(max(p["rss_bytes"] for p in s["cluster"]["processes"]) / 2**20))'; }
# Waits until rtds's offsets table in Cassandra shows N records durable (read every 20 ms; the
# master's /status reads it once a second) and prints the unix time it first did; stops the
# bench when the master exits or the limit passes first.
wait_durable() { # records limit-seconds
  python3 "$ROOT/benches/compare/cql.py" wait-durable "$KEYSPACE" "$TOPIC" "$1" --pid "$MASTER" --interval 0.02 --timeout "$2" |
    python3 -c "import json,sys; print(json.load(sys.stdin)['t_offsets'])" || die "not $1 records durable within $2 s, or the master exited (see $WORK)"
}
crash() { # kill -9 of the master's process group (its worker processes with it), until all are gone
  kill -KILL -- "-$MASTER" 2>/dev/null || true
  wait "$MASTER" 2>/dev/null || true
  while kill -0 -- "-$MASTER" 2>/dev/null; do sleep 0.05; done
}
# Restarts the master and times it: "first" until the first of the waiting records is durable, "all"
# until every one is. Sets TIMED (a JSON object); run in this shell, not in $(...), so MASTER and
# GROUPS_ keep the new master.
timed_restart() { # before(records durable) log
  local before=$1 t0 first all
  t0=$EPOCHREALTIME
  start_master "$2"
  first=$(python3 -c "print(round($(wait_durable "$((before + 1))" 1800) - $t0, 2))")
  all=$(python3 -c "print(round($(wait_durable "$((before + NEW))" 1800) - $t0, 2))")
  TIMED=$(printf '{"first_durable_s": %s, "all_durable_s": %s, "worker_rss_mb": %s, "resumed": %s, "read_back": %s}' "$first" "$all" \
    "$(workers_rss_mb)" "$(grep 'resuming from the checkpoint' "$2" | grep -vc 'not resuming' || true)" "$(grep -c 'not resuming from the checkpoint' "$2" || true)")
}

say "run $RUN: $USERS users into $TOPIC (8 partitions); work files in $WORK"
t=$SECONDS; fill "$USERS" "$RUN"; say "ingest and CDC: $((SECONDS - t)) s"
t=$SECONDS; start_master "$WORK/master-1.log"; wait_durable "$USERS" 3600 >/dev/null; fill_s=$((SECONDS - t))
rss_before=$(workers_rss_mb)
say "$USERS durable in $fill_s s (workers' RSS $rss_before MB); kill -9 of the cluster"
crash
[[ -z ${IMAGE:-} ]] || { rm -rf "$IMAGE" && cp -r "$RTDS_STATE_DIR/$KEYSPACE/$TOPIC" "$IMAGE" && say "checkpoints copied to $IMAGE"; }
fill "$NEW" "$RUN-more"
say "restart from the checkpoints, $NEW new records waiting"
timed_restart "$USERS" "$WORK/master-2.log"; resumed=$TIMED
say "  $resumed"
crash
fill "$NEW" "$RUN-more-2"
rm -rf "$RTDS_STATE_DIR"
say "restart with the checkpoints deleted (every worker reads its rows back), $NEW new records waiting"
timed_restart "$((USERS + NEW))" "$WORK/master-3.log"; scanned=$TIMED
say "  $scanned"
crash
result=$(printf '{"users": %s, "new": %s, "date": "%s", "commit": "%s", "cpu": "%s", "first_run_s": %s, "worker_rss_mb_before": %s, "resumed": %s, "read_back": %s}' \
  "$USERS" "$NEW" "$(date -u +%F)" "$(git -C "$ROOT" rev-parse --short HEAD)" "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)" \
  "$fill_s" "$rss_before" "$resumed" "$scanned")
echo "$result"
[[ -z $JSON_OUT ]] || echo "$result" >"$JSON_OUT"

#!/usr/bin/env bash
# benches/cluster.sh: the processing cluster's throughput and end-to-end latency on the local stack.
#
#   scripts/stack up && cargo build --release && benches/cluster.sh [USERS] [RATE]
#
# 1. Throughput: ingests USERS (default 200000) users into a fresh topic of 8 partitions, then runs
#    `rtds master --local -n 2 -w 2` over the filled topic and times it until every record is
#    durable in Cassandra (the master's /status), with the cluster's CPU seconds and peak RSS.
# 2. Latency: a single worker process (-w 2) runs while `rtds ingest` offers RATE users/s
#    (default 5000) for 20 s; the worker reports produce -> acknowledged-write latency
#    (hdrhistogram p50/p99/p99.9) and its peak RSS is measured.
# CPU seconds are the master's and its worker processes' (user + system), not the services'.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
USERS=${1:-200000}
RATE=${2:-5000}
BIN=target/release/rtds
[[ -x $BIN ]] || { echo "build first: cargo build --release" >&2; exit 1; }
export RTDS_POSTGRES=${RTDS_POSTGRES:-postgres://postgres@127.0.0.1:5432/rtds}
export RTDS_KAFKA=${RTDS_KAFKA:-127.0.0.1:9092} RTDS_CASSANDRA=${RTDS_CASSANDRA:-127.0.0.1:9042}
(exec 3<>/dev/tcp/127.0.0.1/9092) 2>/dev/null && (exec 3<>/dev/tcp/127.0.0.1/9042) 2>/dev/null ||
  { echo "Kafka and Cassandra must run: scripts/stack up" >&2; exit 1; }

run=bench$(date +%s)
tmp=$(mktemp -d)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
api_port=$(free_port)
$BIN api serve --addr 127.0.0.1:$api_port >/dev/null 2>&1 &
api=$!
trap 'kill $api 2>/dev/null || true; rm -rf "$tmp"' EXIT
sleep 0.5
API=http://127.0.0.1:$api_port/api/

echo "== throughput: $USERS users, master --local -n 2 -w 2" >&2
$BIN ingest --api "$API" --topic "${run}_t" --partitions 8 --users "$USERS" --seed "$run" --json >"$tmp/ingest.json" 2>/dev/null
http=$(free_port)
start=$(date +%s.%N)
/usr/bin/time -f '%e %U %S %M' -o "$tmp/time" \
  $BIN master --local -n 2 -w 2 --http 127.0.0.1:$http --base-port $((http + 1)) --topic "${run}_t" \
  --keyspace "${run}_t" --idle-exit 3s >"$tmp/master.out" 2>"$tmp/master.err" &
master=$!
done_at=
while kill -0 $master 2>/dev/null; do
  durable=$(curl -s 127.0.0.1:$http/status | python3 -c 'import json,sys; print(json.load(sys.stdin)["pipeline"]["durable_records"])' 2>/dev/null || echo 0)
  if [[ -z $done_at && $durable -ge $USERS ]]; then done_at=$(date +%s.%N); fi
  sleep 0.2
done
wait $master
read -r _ user sys _ <"$tmp/time"
seconds=$(python3 -c "print(round($done_at - $start, 2))")
rate=$(python3 -c "print(round($USERS / ($done_at - $start)))")
cpu_per_m=$(python3 -c "print(round(($user + $sys) / $USERS * 1e6, 1))")

echo "== latency: worker -w 2 while ingest offers $RATE users/s for 20 s" >&2
t2=${run}_l
$BIN ingest --api "$API" --topic "$t2" --partitions 8 --users 1 --seed "${run}-warm" --json >/dev/null 2>&1
/usr/bin/time -f '%M' -o "$tmp/worker.time" $BIN worker -w 2 --topic "$t2" --keyspace "$t2" --idle-exit 3s >"$tmp/worker.out" 2>/dev/null &
worker=$!
sleep 3
$BIN ingest --api "$API" --topic "$t2" --users $((RATE * 20)) --rate "$RATE" --batch 100 --seed "$run-lat" --json >/dev/null 2>&1
wait $worker
worker_rss_kb=$(cat "$tmp/worker.time")

python3 - "$tmp/worker.out" <<EOF
import json, sys
w = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")][-1]
result = {
    "users": $USERS, "cluster": "2 processes x 2 workers", "seconds_to_durable": $seconds,
    "records_per_second": $rate, "cluster_cpu_seconds": round($user + $sys, 2),
    "cpu_seconds_per_million": $cpu_per_m,
    "latency_offered_rate": $RATE, "latency_ms_p50": w["latency_ms_p50"], "latency_ms_p99": w["latency_ms_p99"],
    "latency_ms_p999": w["latency_ms_p999"], "latency_ms_max": w["latency_ms_max"],
    "worker_peak_rss_mb": round($worker_rss_kb / 1024, 1),
}
print(json.dumps(result, indent=2))
EOF

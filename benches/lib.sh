# benches/lib.sh: what the benchmark scripts share (sourced, not run): `bench_args NAME "$@"`, then
# `bench_prelude NAME`; BIN is the rtds binary (RTDS_BIN, else target/release/rtds).
#
#   bench_args NAME ARGS...    --json FILE (into JSON_OUT) and -h/--help (the script's header, the
#                              comment lines down to `set -euo`); anything else is refused
#   say / die MESSAGE          progress on stderr, prefixed with the time and NAME
#   port_open PORT             whether something listens on 127.0.0.1:PORT
#   free_port                  a free local TCP port
#   psql_ ARGS...              psql as postgres on the local stack
#
# bench_prelude checks that the binary exists and that PostgreSQL, Kafka and Cassandra run (the
# fix: `scripts/stack up`), and warns when a compiler runs beside a timed benchmark.

say() { printf '%s %s: %s\n' "$(date +%T)" "$BENCH_NAME" "$*" >&2; }
die() { say "$*"; exit 1; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
psql_() { PGCONNECT_TIMEOUT=3 psql -X -q -h 127.0.0.1 -U postgres "$@"; }

bench_args() {
  local name=$1
  shift
  JSON_OUT=
  while (($#)); do
    case $1 in
      --json) JSON_OUT=${2:?--json needs a FILE}; shift 2 ;;
      -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | cut -c3-; exit 0 ;;
      *) echo "$name.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
  done
}

bench_prelude() {
  BENCH_NAME=$1
  export RTDS_KAFKA=${RTDS_KAFKA:-127.0.0.1:9092} RTDS_CASSANDRA=${RTDS_CASSANDRA:-127.0.0.1:9042}
  [[ -x $BIN ]] || die "no rtds binary at $BIN: cargo build --release"
  port_open 9092 && port_open 9042 && port_open 5432 || die "PostgreSQL, Kafka and Cassandra must run: scripts/stack up"
  if pgrep -x rustc >/dev/null || pgrep -x cargo >/dev/null; then say "warning: a compiler is running: the times will be skewed"; fi
}

#!/usr/bin/env bash
# benches/scaling.sh: how rtds's cost grows with the stored users and with processes and workers
# (issue 27, item 4), drawn as two charts.
#
#   scripts/stack up && cargo build --release && benches/scaling.sh [--out DIR]
#
# For each of SIZES (100000,1000000; 10000000 takes about half an hour more):
# 1. benches/compare.sh (ONLY=rtds,scaling, no peers) fills a fresh topic with SIZE users and
#    moves them to Cassandra with `rtds master --local -n N -w W` for every GRID configuration:
#    records/s, CPU s per million records (start-up included), peak RSS of the largest process;
# 2. benches/restart.sh moves SIZE users with `master --local -n 2 -w 2`, kills it, and times its
#    restart from the checkpoints to the first new durable epoch (and from deleted checkpoints).
# Then benches/scaling/plot.py draws DIR/scaling-size.png (master -n 2 -w 2 by size: throughput,
# CPU per record, RSS, restart) and DIR/scaling-grid.png (-n 1..3 x -w 1..2 at each size), and
# prints a Markdown table. JSON of every run in DIR (default benches/results/scaling, the figures in
# BENCHMARKS.md: a run of your own there replaces those of its sizes and is drawn with the others).
# Environment: SIZES, GRID (1x1,1x2,2x1,2x2,3x1,3x2: processes x workers), RESTART=0 skips step 2,
# RTDS_BIN (target/release/rtds). Nothing else should run: the figures are times.
set -euo pipefail
export LC_ALL=C
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SIZES=${SIZES:-100000,1000000}
GRID=${GRID:-1x1,1x2,2x1,2x2,3x1,3x2}
OUT=$ROOT/benches/results/scaling
while (($#)); do
  case $1 in
    --out) OUT=$(realpath -m "$2"); shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | cut -c3-; exit 0 ;;
    *) echo "scaling.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
# shellcheck source=benches/lib.sh
. "$ROOT/benches/lib.sh"
BENCH_NAME=scaling
configs=()
for cell in ${GRID//,/ }; do
  [[ $cell =~ ^([1-9])x([1-9])$ ]] || { say "GRID: $cell is not PROCESSESxWORKERS, such as 2x1"; exit 2; }
  # compare.sh's rtds part runs master -n 2 -w 2 itself.
  [[ $cell == 2x2 ]] || configs+=("master_n${BASH_REMATCH[1]}_w${BASH_REMATCH[2]}")
done
mkdir -p "$OUT"
t0=$SECONDS
for size in ${SIZES//,/ }; do
  say "$size users: master -n N -w W for N x W in $GRID"
  USERS=$size ONLY=rtds,scaling PEERS= SCALING=$(IFS=,; echo "${configs[*]}") \
    "$ROOT/benches/compare.sh" --json "$OUT/grid-$size.json" --png "$OUT/.grid-$size.png" >"$OUT/grid-$size.md"
  rm -f "$OUT/.grid-$size.png"
  if [[ ${RESTART:-1} != 0 ]]; then
    say "$size users: restart"
    USERS=$size "$ROOT/benches/restart.sh" --json "$OUT/restart-$size.json" >/dev/null
  fi
done
say "all sizes in $((SECONDS - t0)) s; drawing"
# A Python with matplotlib: the peers' venvs have one (benches/baselines/*/install.sh); else a venv
# of its own, made once.
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/rtds
PY=
for py in "$CACHE/spark/venv/bin/python" "$CACHE/spark4/venv/bin/python" "$CACHE/plot/bin/python" python3; do
  if "$py" -c 'import matplotlib' 2>/dev/null; then PY=$py; break; fi
done
if [[ -z $PY ]]; then
  say "creating $CACHE/plot with matplotlib (once)"
  python3 -m venv "$CACHE/plot" && "$CACHE/plot/bin/pip" install -q --disable-pip-version-check matplotlib >&2 && PY=$CACHE/plot/bin/python
fi
"${PY:-python3}" "$ROOT/benches/scaling/plot.py" "$OUT"

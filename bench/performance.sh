#!/usr/bin/env bash
# bench/performance.sh - regenerates docs/performance.md and the README's headline table from one run of the main
# command (memtable-bench --json: the headline set, both peers, at the tool's defaults).
#
#   bench/performance.sh [--misses] [--scale] [memtable-bench flags...]
#   bench/performance.sh --render      # the page again from the inputs kept in docs/performance-data/
#
# --misses adds bench/count-misses.sh --peers=none (callgrind; about ten minutes), --scale adds bench/scale.sh
# (SCALE_* environment as that script documents). The inputs are kept in docs/performance-data/ (the JSON run
# and the two text reports), so the page can be rendered again without running anything; the page itself is
# never edited by hand.
set -euo pipefail
cd "$(dirname "$0")/.."

bench=${BENCH:-build/release/bench/memtable-bench}
data=docs/performance-data
render_only=false misses=false scale=false
flags=()
for arg in "$@"; do
  case $arg in
    --render) render_only=true ;;
    --misses) misses=true ;;
    --scale) scale=true ;;
    *) flags+=("$arg") ;;
  esac
done

mkdir -p "$data"
if ! $render_only; then
  [ -x "$bench" ] || { echo "performance.sh: $bench not built (cmake --workflow --preset release)" >&2; exit 2; }
  command="build/release/bench/memtable-bench --json${flags[*]:+ ${flags[*]}}"
  echo "performance.sh: $command" >&2
  "$bench" --json "${flags[@]}" >"$data/run.json.new"
  mv "$data/run.json.new" "$data/run.json"
  printf '%s\n' "$command" >"$data/command"
  date -u +%Y-%m-%d >"$data/date"
  if $misses; then
    echo "performance.sh: bench/count-misses.sh --peers=none" >&2
    MEMTABLE_BENCH="$bench" bash bench/count-misses.sh --peers=none >"$data/misses.txt"
  fi
  if $scale; then
    echo "performance.sh: bench/scale.sh" >&2
    BENCH="$bench" bash bench/scale.sh >"$data/scale.txt"
  fi
fi

[ -f "$data/run.json" ] || { echo "performance.sh: no $data/run.json to render" >&2; exit 2; }
extra=()
[ -s "$data/misses.txt" ] && extra+=(--misses "$data/misses.txt")
[ -s "$data/scale.txt" ] && extra+=(--scale "$data/scale.txt")
python3 bench/performance_report.py "$data/run.json" --command "$(cat "$data/command")" --date "$(cat "$data/date")" \
  --readme README.md "${extra[@]}" >docs/performance.md
echo "performance.sh: wrote docs/performance.md and the README's headline table" >&2

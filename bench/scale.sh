#!/usr/bin/env bash
# bench/scale.sh - how each benchmark's cost grows with the table, with and without huge pages.
#
# Runs memtable-bench at N = 1M and N = 10M (about 1.5 GB per table at 10M; every implementation's table is
# alive at once, so ~5 GB with both peers) for each --huge_pages mode, then prints per benchmark and
# implementation the ns/op at each N, the growth (ns/op at 10M over ns/op at 1M), and for our table the
# speed-up of each huge-page mode over off at each N. Runs alternate the modes (off, thp, off, thp, ...) so a
# busy spell on a shared machine does not fall on one mode only. Takes about 15 minutes on 2 cores.
#
# Usage: bench/scale.sh [extra memtable-bench flags...]        (e.g. --peers=none)
# Environment: BENCH (default build/release/bench/memtable-bench), SCALE_SMALL (1000000), SCALE_LARGE
# (10000000), SCALE_BENCHMARKS (fillrandom,readrandom), SCALE_REPETITIONS (3), SCALE_HUGE_PAGES ("off thp"),
# SCALE_OUT (a directory to keep the reports in; default a temporary one, removed).
set -euo pipefail
cd "$(dirname "$0")/.."

bench=${BENCH:-build/release/bench/memtable-bench}
small=${SCALE_SMALL:-1000000}
large=${SCALE_LARGE:-10000000}
benchmarks=${SCALE_BENCHMARKS:-fillrandom,readrandom}
repetitions=${SCALE_REPETITIONS:-3}
modes=${SCALE_HUGE_PAGES:-off thp}
[ -x "$bench" ] || { echo "scale.sh: $bench not built (cmake --workflow --preset release)" >&2; exit 2; }
if [ -n "${SCALE_OUT:-}" ]; then
  out=$SCALE_OUT
  mkdir -p "$out"
else
  out=$(mktemp -d)
  trap 'rm -rf "$out"' EXIT
fi

echo "scale.sh: N = $small and $large, $benchmarks, $repetitions repetitions, huge pages: $modes; load: $(cut -d' ' -f1-3 /proc/loadavg)"
for n in "$small" "$large"; do
  for mode in $modes; do
    report="$out/$mode-$n.txt"
    echo "scale.sh: --num=$n --huge_pages=$mode ..." >&2
    "$bench" --num="$n" --benchmarks="$benchmarks" --repetitions="$repetitions" --huge_pages="$mode" "$@" \
      >"$report" 2>/dev/null
    grep -h "arena pages" "$report" || true
  done
done
echo "scale.sh: done; load: $(cut -d' ' -f1-3 /proc/loadavg)"

# "fillrandom         : memtable                 4006.9 ns/op ..." -> benchmark, implementation, ns/op.
figures() {
  awk -F' : ' '/ ns\/op / && NF == 2 {
    split($2, f, " +"); name = $1; sub(/ +$/, "", name); print name, f[1], f[2] }' "$1"
}

printf '\n%-12s %-20s %-8s %12s %12s %8s\n' benchmark implementation pages "ns/op@$small" "ns/op@$large" growth
for mode in $modes; do
  join <(figures "$out/$mode-$small.txt" | awk '{print $1 "/" $2, $3}' | sort) \
       <(figures "$out/$mode-$large.txt" | awk '{print $1 "/" $2, $3}' | sort) |
    awk -v mode="$mode" '{split($1, k, "/"); printf "%-12s %-20s %-8s %12.1f %12.1f %7.2fx\n", k[1], k[2], mode, $2, $3, $3 / $2}'
done

set -- $modes
base=$1
shift
for mode in "$@"; do
  printf '\nmemtable with --huge_pages=%s over --huge_pages=%s (throughput ratio, > 1 means faster):\n' "$mode" "$base"
  for n in "$small" "$large"; do
    join <(figures "$out/$base-$n.txt" | awk '$2 == "memtable" {print $1, $3}' | sort) \
         <(figures "$out/$mode-$n.txt" | awk '$2 == "memtable" {print $1, $3}' | sort) |
      awk -v n="$n" '{printf "  %-12s N=%-9s %10.1f -> %10.1f ns/op  %5.2fx\n", $1, n, $2, $3, $2 / $3}'
  done
done

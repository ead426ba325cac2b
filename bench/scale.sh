#!/usr/bin/env bash
# bench/scale.sh - how each benchmark's cost grows with the table, with and without huge pages.
#
# Runs memtable-bench at N = 1M and N = 10M (about 1.5 GB per table at 10M, every implementation's table alive
# at once; LevelDB, whose write buffer is capped at 1 GiB, skips 10M) for each --huge_pages mode, then prints per benchmark and
# implementation the median ns/op at each N, the growth (ns/op at 10M over ns/op at 1M), and for our table the
# speed-up of each huge-page mode over off at each N. Each repetition is a round of single-repetition runs over
# every size and mode, so load from other processes spreads over all of them. About 15 minutes on 2 cores.
#
# Usage: bench/scale.sh [extra memtable-bench flags...]   (e.g. --peers=none --reads=2000000 for a shorter run)
# Environment: BENCH (default build/release/bench/memtable-bench), SCALE_SMALL (1000000), SCALE_LARGE
# (10000000), SCALE_BENCHMARKS (fillrandom,readrandom), SCALE_REPETITIONS (3 rounds), SCALE_HUGE_PAGES ("off thp"),
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

echo "scale.sh: N = $small and $large, $benchmarks, $repetitions rounds, huge pages: $modes; load: $(cut -d' ' -f1-3 /proc/loadavg)"
# One repetition per run, the runs of a round taking every size and mode in turn: a busy spell on a shared
# machine then falls on one round of every configuration rather than on every repetition of one.
: >"$out/figures"
: >"$out/chase"
for round in $(seq 1 "$repetitions"); do
  for n in "$small" "$large"; do
    for mode in $modes; do
      report="$out/$mode-$n-$round.txt"
      echo "scale.sh: round $round: --num=$n --huge_pages=$mode ..." >&2
      # The pointer chase sized like the table (about 160 bytes an entry): the most that huge pages can take off
      # each of a get's dependent loads at this size.
      "$bench" --num="$n" --benchmarks="$benchmarks" --repetitions=1 --huge_pages="$mode" \
        --chase_mib=$(((n * 160 >> 20) + 1)) --chase_huge_pages "$@" >"$report" 2>/dev/null
      # "dependent-load latency: 430.1 ns with 4 KiB pages, 436.2 ns with huge pages advised (... over 1526 MiB)"
      awk -v n="$n" '/^dependent-load latency:/ { print n, $3, $9, $(NF - 1) }' "$report" >>"$out/chase"
      [ "$round" = 1 ] && { grep -h "arena pages" "$report" || true; }
      # "fillrandom         : memtable                 4006.9 ns/op ..." -> mode N benchmark implementation ns/op
      awk -F' : ' -v mode="$mode" -v n="$n" '/ ns\/op / && NF == 2 {
        split($2, f, " +"); name = $1; sub(/ +$/, "", name); print mode, n, name, f[1], f[2] }' "$report" \
        >>"$out/figures"
    done
  done
done
echo "scale.sh: done; load: $(cut -d' ' -f1-3 /proc/loadavg)"

# The median of v[1..n], sorted ascending: an awk function for the programs below.
awk_median='function median_of(v, n) { return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2 }'

# The median ns/op of every (mode, N, benchmark, implementation) over the rounds.
sort -k1,1 -k2,2n -k3,3 -k4,4 -k5,5g "$out/figures" | awk "$awk_median"'
  { key = $1 " " $2 " " $3 " " $4; if (key != last && last != "") emit(); if (key != last) { n = 0; last = key }
    v[++n] = $5 }
  END { if (last != "") emit() }
  function emit() { print last, median_of(v, n) }' >"$out/medians"
median() { awk -v k="$1 $2 $3 $4" '$1 " " $2 " " $3 " " $4 == k {print $5}' "$out/medians"; }

printf '\nMedian ns/op of %s rounds:\n%-12s %-20s %-8s %12s %12s %8s\n' "$repetitions" benchmark implementation \
  pages "at $small" "at $large" growth
for mode in $modes; do
  awk -v mode="$mode" -v n="$small" '$1 == mode && $2 == n {print $3, $4}' "$out/medians" | while read -r name impl; do
    a=$(median "$mode" "$small" "$name" "$impl")
    b=$(median "$mode" "$large" "$name" "$impl")
    [ -n "$b" ] || b=nan
    awk -v name="$name" -v impl="$impl" -v mode="$mode" -v a="$a" -v b="$b" 'BEGIN {
      if (b == "nan") printf "%-12s %-20s %-8s %12.1f %12s %8s\n", name, impl, mode, a, "n/a", "-";
      else printf "%-12s %-20s %-8s %12.1f %12.1f %7.2fx\n", name, impl, mode, a, b, b / a }'
  done
done

printf '\nPointer chase sized like the table, 4 KiB pages vs huge pages advised (median ns per dependent load over\nevery run; a get is a chain of such loads, so this bounds what huge pages can save it here):\n'
# The median of column $2 of the chase lines for N = $1.
col_median() {
  awk -v n="$1" -v c="$2" '$1 == n {print $c}' "$out/chase" | sort -g |
    awk "$awk_median"' {v[++k] = $1} END {if (k) print median_of(v, k)}'
}
for n in "$small" "$large"; do
  a=$(col_median "$n" 2)
  b=$(col_median "$n" 3)
  mib=$(awk -v n="$n" '$1 == n {print $4; exit}' "$out/chase")
  [ -n "$a" ] && [ -n "$b" ] && awk -v n="$n" -v mib="$mib" -v a="$a" -v b="$b" \
    'BEGIN {printf "  N=%-9s %5s MiB: %7.1f ns with 4 KiB pages, %7.1f ns with huge pages  %5.2fx\n", n, mib, a, b, a / b}'
done

set -- $modes
base=$1
shift
for mode in "$@"; do
  printf '\nmemtable with --huge_pages=%s over --huge_pages=%s (median throughput ratio, > 1 means faster):\n' "$mode" "$base"
  for n in "$small" "$large"; do
    awk -v n="$n" -v mode="$base" '$1 == mode && $2 == n && $4 == "memtable" {print $3}' "$out/medians" | while read -r name; do
      a=$(median "$base" "$n" "$name" memtable)
      b=$(median "$mode" "$n" "$name" memtable)
      [ -n "$b" ] && awk -v name="$name" -v n="$n" -v a="$a" -v b="$b" \
        'BEGIN {printf "  %-12s N=%-9s %10.1f -> %10.1f ns/op  %5.2fx\n", name, n, a, b, a / b}'
    done
  done
done

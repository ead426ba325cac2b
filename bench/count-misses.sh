#!/usr/bin/env bash
# bench/count-misses.sh - data cache misses per operation of each read benchmark, ours and the peers', counted by
# callgrind's cache simulator (which needs no hardware cache counters, which virtual machines often do not expose).
#
#   bench/count-misses.sh [memtable-bench flags]      e.g.  bench/count-misses.sh --peers=none
#
# Runs memtable-bench once under callgrind. The tool marks the start and end of every measurement (console.c),
# so each gets a profile of its own; in each, the cost of an implementation is the inclusive cost of its read
# callback (ours_get, RocksGet, LevelGet, ...), divided by the operations it ran: --reads for point reads and
# seeks, --num entries for readseq/readreverse. "LL" misses are misses of the simulated last-level cache, i.e.
# DRAM accesses; D1 misses include the LL ones. The simulated LL is 32 MiB, 16-way (LL_CACHE overrides it:
# size,associativity,line): a virtual machine's CPUID may report a much larger L3, which would hide the misses a real
# server CPU's 32 MiB L3 slice takes. A valgrind run is tens of times slower than a native one; --peers=none
# leaves the peers out (a third of the time).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
bench=${MEMTABLE_BENCH:-$here/../build/release/bench/memtable-bench}
ll_cache=${LL_CACHE:-33554432,16,64}
command -v valgrind >/dev/null || { echo "count-misses.sh: valgrind is not installed" >&2; exit 2; }
[ -x "$bench" ] || { echo "count-misses.sh: no memtable-bench at $bench (cmake --workflow --preset release)" >&2; exit 2; }

# 300000 reads: enough that one benchmark's lines are gone from the simulated cache before the next reads the
# same keys, and that the upper skiplist levels stay cached, as in a read-heavy table.
args=(--num=1000000 --reads=300000 --repetitions=1
  --benchmarks=readrandom,readrandom_batch,readrandom_index,readmissing,readmissing_index,seekrandom,readseq,readreverse
  "$@")
num=1000000 reads=300000
for arg in "${args[@]}"; do
  case $arg in
    --num=*) num=${arg#--num=} ;;
    --reads=*) reads=${arg#--reads=} ;;
  esac
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if ! valgrind --tool=callgrind --cache-sim=yes --LL="$ll_cache" --callgrind-out-file="$work/profile" \
    "$bench" "${args[@]}" >"$work/bench.txt" 2>"$work/valgrind.txt"; then
  cat "$work/valgrind.txt" "$work/bench.txt" >&2
  exit 1
fi

printf '%-22s %-20s %12s %12s %14s\n' benchmark implementation "LL miss/op" "D1 miss/op" "instr/op"
for profile in "$work"/profile.*; do
  label=$(sed -n 's/^desc: Trigger: Client Request: //p' "$profile")
  name=${label#*] }
  case $name in
    "between measurements" | fill* | readwhilewriting) continue ;;
    readseq* | readreverse*) ops=$num ;;
    *) ops=$reads ;;
  esac
  # Columns: Ir Dr Dw I1mr D1mr D1mw ILmr DLmr DLmw, then the function. An implementation's figure is its
  # largest inclusive cost among its read callbacks (the outermost, if one calls another).
  callgrind_annotate --inclusive=yes --threshold=100 "$profile" | awk -v name="$name" -v ops="$ops" '
    {
      impl = ""
      if ($0 ~ /ours_(get|seek|scan)/) impl = "memtable"
      else if ($0 ~ /Rocks(Get|Seek|Scan)/) impl = "rocksdb"
      else if ($0 ~ /Level(Get|Seek|Scan)/) impl = "leveldb"
      if (impl == "") next
      line = $0
      gsub(/\( *[0-9.]+%\)/, "", line)
      split(line, field, " ")
      n = 0
      for (i = 1; i in field && n < 9; i++) {
        v = field[i]; gsub(",", "", v); if (v == ".") v = 0
        if (v !~ /^[0-9]+$/) break
        value[++n] = v + 0
      }
      if (n < 9 || (impl in best_ir && value[1] <= best_ir[impl])) next
      best_ir[impl] = value[1]; d1[impl] = value[5] + value[6]; ll[impl] = value[8] + value[9]
    }
    END {
      split("memtable rocksdb leveldb", which, " ")
      for (k = 1; k <= 3; k++) {
        impl = which[k]
        if (!(impl in best_ir)) continue
        printf "%-22s %-20s %12.2f %12.2f %14.1f\n", name, impl, ll[impl] / ops, d1[impl] / ops, best_ir[impl] / ops
      }
    }'
done

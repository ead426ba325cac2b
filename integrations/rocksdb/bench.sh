#!/usr/bin/env bash
# integrations/rocksdb/bench.sh - RocksDB's own db_bench on the plugin rep against RocksDB's skip_list rep.
#
# Memtable-resident runs (a write buffer larger than the data, no WAL, no compression), 16-byte keys and
# 100-byte values: fillrandom, readrandom, seekrandom and readseq in one process (the reads need the
# memtable the fill built), fillseq, a 2-thread fillrandom with allow_concurrent_memtable_write, then a
# flush-heavy fillrandom through 64 MiB write buffers. Each workload runs on both reps back to back (which
# goes first alternates), so a pair sees the same machine; the table gives each benchmark's median ops/s and
# the median of the pairs' ratios, plugin over skip_list (above 1: the plugin is faster).
#
# Usage: bench.sh [--num=N] [--repetitions=R] [--plugin=path/libmemtable_rocksdb.so] [--db_bench=path]
#        [--dir=scratch-directory]
set -euo pipefail

num=1000000
repetitions=3
here=$(cd "$(dirname "$0")" && pwd)
plugin=""
db_bench=$(command -v db_bench || true)
scratch=""
for arg in "$@"; do
  case $arg in
    --num=*) num=${arg#*=} ;;
    --repetitions=*) repetitions=${arg#*=} ;;
    --plugin=*) plugin=${arg#*=} ;;
    --db_bench=*) db_bench=${arg#*=} ;;
    --dir=*) scratch=${arg#*=} ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "bench.sh: unknown argument '$arg' (see --help)" >&2; exit 2 ;;
  esac
done
if [[ -z $plugin ]]; then
  for candidate in "$here/../../build/release/integrations/rocksdb/libmemtable_rocksdb.so" \
                   "$here/../../build/default/integrations/rocksdb/libmemtable_rocksdb.so"; do
    if [[ -f $candidate ]]; then plugin=$candidate; break; fi
  done
fi
[[ -f $plugin ]] || { echo "bench.sh: libmemtable_rocksdb.so not found: build a preset, or pass --plugin=" >&2; exit 2; }
[[ -x $db_bench ]] || { echo "bench.sh: db_bench not found (Debian: rocksdb-tools), or pass --db_bench=" >&2; exit 2; }
if [[ -z $scratch ]]; then scratch=$(mktemp -d); trap 'rm -rf "$scratch"' EXIT; fi
results=$scratch/results.txt
: > "$results"

common=(--seed=1 --key_size=16 --value_size=100 --compression_type=none --disable_wal=1 --histogram=0
        --statistics=0 --use_existing_db=0)
resident=$(( (num * 3 / 2) * 256 ))  # more than the entries take: no flush during the run
(( resident < 64 << 20 )) && resident=$(( 64 << 20 ))

# run <rep> <repetition> <label-suffix> <db_bench args...>: appends "<benchmark><suffix> <rep> <repetition>
# <ops/s>" lines.
run() {
  local rep=$1 repetition=$2 suffix=$3
  shift 3
  local db=$scratch/db_$rep
  rm -rf "$db"
  LD_PRELOAD=$plugin "$db_bench" --db="$db" --memtablerep="$rep" "${common[@]}" "$@" 2>&1 |
    awk -v rep="$rep" -v r="$repetition" -v suffix="$suffix" '$2 == ":" && $0 ~ /ops\/sec/ {
      for (i = 1; i <= NF; i++) if ($i == "ops/sec") print $1 suffix, rep, r, $(i - 1) }' >> "$results"
  rm -rf "$db"
}

# workload <repetition> <suffix> <args...>: one run on each rep, back to back, so the two runs of a pair see
# the same machine; which rep goes first alternates from one repetition to the next.
workload() {
  local repetition=$1
  shift
  if (( repetition % 2 )); then
    run skip_list "$repetition" "$@"
    run memtable_skiplist "$repetition" "$@"
  else
    run memtable_skiplist "$repetition" "$@"
    run skip_list "$repetition" "$@"
  fi
}

for (( r = 1; r <= repetitions; r++ )); do
  echo "repetition $r/$repetitions" >&2
  workload "$r" "" --num="$num" --write_buffer_size="$resident" --benchmarks=fillrandom,readrandom,seekrandom,readseq
  workload "$r" "" --num="$num" --write_buffer_size="$resident" --benchmarks=fillseq
  workload "$r" "_2threads" --num=$(( num / 2 )) --threads=2 --allow_concurrent_memtable_write=true \
    --write_buffer_size="$resident" --benchmarks=fillrandom
  workload "$r" "_flushing" --num=$(( num * 2 )) --write_buffer_size=$(( 64 << 20 )) --benchmarks=fillrandom
done

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo
echo "db_bench $($db_bench --version 2>/dev/null | head -1 | sed 's/db_bench version //'), num=$num, repetitions=$repetitions"
echo "median ops/s of each rep; ratio: median over repetitions of the pair's memtable_skiplist / skip_list"
printf '%-22s %14s %18s %8s\n' benchmark skip_list memtable_skiplist ratio
for bench in fillrandom fillseq readrandom seekrandom readseq fillrandom_2threads fillrandom_flushing; do
  theirs=$(awk -v b="$bench" '$1 == b && $2 == "skip_list" { print $4 }' "$results" | median)
  ours=$(awk -v b="$bench" '$1 == b && $2 == "memtable_skiplist" { print $4 }' "$results" | median)
  [[ -n $theirs && -n $ours ]] || continue
  ratio=$(awk -v b="$bench" '$1 == b { v[$2, $3] = $4; r[$3] = 1 }
    END { for (k in r) if (v["skip_list", k] > 0 && v["memtable_skiplist", k] != "") print v["memtable_skiplist", k] / v["skip_list", k] }' \
    "$results" | median)
  printf '%-22s %14.0f %18.0f %7.2fx\n' "$bench" "$theirs" "$ours" "$ratio"
done
rocksdb_library=$(ldd "$db_bench" | awk '/librocksdb/ { print $3 }')
if [[ -n $rocksdb_library ]] && nm -D "$rocksdb_library" 2>/dev/null | grep -c ' U __assert_fail' > /dev/null; then
  echo "note: this librocksdb was built without NDEBUG (Debian's is): its skip_list runs its assertions, and"
  echo "      RocksDB code around either rep does too. Against a RocksDB built with -DNDEBUG the ratios differ."
fi

#!/usr/bin/env bash
# Builds the libFuzzer targets the way OSS-Fuzz (and ClusterFuzzLite) does, from its environment:
#   CC, CXX, CFLAGS, CXXFLAGS   compilers and flags (sanitizers, coverage), used for the library too
#   LIB_FUZZING_ENGINE          the engine to link, e.g. -fsanitize=fuzzer
#   OUT                         where each <target>, <target>.dict and <target>_seed_corpus.zip go
# The library comes from CMake (layers as CMakeLists.txt lists them, generated version header) compiled with
# exactly $CC $CFLAGS; each fuzz/<folder>/*_fuzz.c is compiled and linked here. xxHash comes from pkg-config.
# Usage: CC=clang CFLAGS=... LIB_FUZZING_ENGINE=-fsanitize=fuzzer OUT=DIR fuzz/oss-fuzz-build.sh
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
: "${CC:=clang}" "${CXX:=clang++}" "${CFLAGS:=}" "${LIB_FUZZING_ENGINE:?set LIB_FUZZING_ENGINE, e.g. -fsanitize=fuzzer}"
: "${CXXFLAGS:=$CFLAGS}" "${OUT:?set OUT to the output directory}"
work=${WORK:-$(mktemp -d)}
[ -n "${WORK:-}" ] || trap 'rm -rf "$work"' EXIT
build=$work/memtable-build
mkdir -p "$OUT"

# Build type "None": only $CFLAGS, no optimisation or NDEBUG of CMake's own; the build fails if assertions are off.
# No libnuma (OSS-Fuzz images lack it, and the link lines below name xxHash only): NUMA requests fall back.
cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=None -DCMAKE_C_COMPILER="$CC" -DCMAKE_C_FLAGS="$CFLAGS" \
  -DMEMTABLE_WITH_NUMA=OFF \
  -DBUILD_SHARED_LIBS=OFF -DMEMTABLE_BUILD_TESTS=OFF -DMEMTABLE_BUILD_BENCH=OFF -DMEMTABLE_BUILD_FUZZ=OFF \
  -DMEMTABLE_WERROR=OFF -DMEMTABLE_EXPECT_ASSERTIONS=ON >/dev/null
cmake --build "$build" --target memtable -j "${JOBS:-2}" >/dev/null
library=$(find "$build" -maxdepth 1 -name 'libmemtable.a')
read -r -a xxhash_cflags <<<"$(pkg-config --cflags libxxhash)"
read -r -a xxhash_libs <<<"$(pkg-config --libs libxxhash)"
read -r -a cflags <<<"$CFLAGS"
read -r -a cxxflags <<<"$CXXFLAGS"
read -r -a engine <<<"$LIB_FUZZING_ENGINE"

# Each fuzz/<folder>/<name>_fuzz.c is a target; the folder's other .c files are support linked into each of its
# targets (as fuzz/CMakeLists.txt does).
for source in "$src"/fuzz/*/*_fuzz.c; do
  target=$(basename "$source" .c)
  folder=$(dirname "$source")
  units=("$source")
  for unit in "$folder"/*.c; do
    [[ $(basename "$unit" .c) == *_fuzz ]] || units+=("$unit")
  done
  objects=()
  for unit in "${units[@]}"; do
    name=$(basename "$unit" .c)
    "$CC" "${cflags[@]}" -std=c11 -I"$src/include" -I"$build/include" -I"$src/tests" -I"$src/fuzz" -I"$folder" \
      "${xxhash_cflags[@]}" -c "$unit" -o "$work/$target-$name.o"
    objects+=("$work/$target-$name.o")
  done
  # Linked by the C++ driver, as OSS-Fuzz does: an engine given as a library may be C++.
  "$CXX" "${cxxflags[@]}" "${objects[@]}" "$library" "${xxhash_libs[@]}" "${engine[@]}" -o "$OUT/$target"
  if [ -f "$folder/$target.dict" ]; then
    cp "$folder/$target.dict" "$OUT/$target.dict"
  fi
  if [ -d "$src/fuzz/corpus/$target" ]; then
    rm -f "$OUT/${target}_seed_corpus.zip"
    (cd "$src/fuzz/corpus/$target" && cmake -E tar cf "$OUT/${target}_seed_corpus.zip" --format=zip -- *)
  fi
  echo "built $OUT/$target"
done

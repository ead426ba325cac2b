#!/usr/bin/env bash
# Runs every libFuzzer target in a fuzz build for a bounded time; exits non-zero on the first crash.
# Usage: fuzz/run-fuzzers.sh BUILD_DIR [SECONDS_PER_TARGET]
# Each target starts from its committed corpus (fuzz/corpus/<target>/, read only) and dictionary
# (fuzz/<folder>/<target>.dict) and grows a scratch copy; a crash leaves its reproducer in fuzz-artifacts/<target>/
# of the current directory.
set -euo pipefail
build=${1:?usage: fuzz/run-fuzzers.sh BUILD_DIR [SECONDS]}
seconds=${2:-60}
here=$(cd "$(dirname "$0")" && pwd)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

targets=$(find "$build" -maxdepth 3 -type f -name '*_fuzz' -perm -u+x | sort)
[ -n "$targets" ] || { echo "no fuzz targets under $build" >&2; exit 1; }
for exe in $targets; do
  name=$(basename "$exe")
  mkdir -p "$scratch/$name" "fuzz-artifacts/$name"
  dict=()
  dict_file=$(find "$here" -mindepth 2 -maxdepth 2 -name "$name.dict" -print -quit)
  [ -n "$dict_file" ] && dict=(-dict="$dict_file")
  echo "fuzzing $name for ${seconds}s"
  status=0
  "$exe" "${dict[@]}" -max_total_time="$seconds" -print_final_stats=1 -timeout=25 -rss_limit_mb=4096 \
    -artifact_prefix="fuzz-artifacts/$name/" "$scratch/$name" "$here/corpus/$name" >"$scratch/$name.log" 2>&1 ||
    status=$?
  grep -E "^(stat::|Done |==[0-9]+==|SUMMARY|[a-z_]+_fuzz:)" "$scratch/$name.log" | tail -n 40
  if [ "$status" -ne 0 ]; then
    tail -n 80 "$scratch/$name.log"
    echo "$name failed (exit $status); reproducer in fuzz-artifacts/$name/" >&2
    exit "$status"
  fi
done

#!/usr/bin/env bash
# Installs the Debian packages memtable needs to build, test, fuzz and benchmark. Idempotent: installs only
# what is missing and prints nothing when everything is already there. Needs root (or sudo).
set -euo pipefail

packages=(
  cmake gcc g++ make pkg-config       # build
  python3                             # bench/performance_report.py (docs/performance.md)
  clang libclang-rt-14-dev            # libFuzzer and the clang builds
  libcmocka-dev                       # tests
  libxxhash-dev                       # bloom filter and checksums
  librocksdb-dev libleveldb-dev       # benchmark peers
  valgrind                            # bench/count-misses.sh (cache misses per operation)
  libnuma-dev                         # optional NUMA placement of arena blocks (builds without it too)
)

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$package")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

#!/usr/bin/env bash
# Runs every benchmark and prints its table. Benchmarks measure; they never fail a build.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh >/dev/null
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
OPENBLAS_NUM_THREADS=1 build/bench/bench_textenc
echo
OPENBLAS_NUM_THREADS=1 build/bench/bench_encoder "$@"

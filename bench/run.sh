#!/usr/bin/env bash
# Runs every benchmark and prints its table. Benchmarks measure; they never fail a build.
#
# usage: bench/run.sh [MODEL.mets]   (default models/mets-ecg.mets, the shipped encoder)
#
# The ONNX Runtime comparison needs onnx and onnxruntime: they go into a virtual environment under
# .cache/bench-venv, pinned, installed once (nothing else of mets uses Python packages).
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${1:-models/mets-ecg.mets}
VENV=.cache/bench-venv
PIP_PINS=(onnx==1.17.0 onnxruntime==1.20.1 numpy==1.26.4)

scripts/setup.sh >/dev/null
if ! "$VENV/bin/python" -c 'import onnx, onnxruntime, numpy' 2>/dev/null ||
   [ "$(cat "$VENV/.pins" 2>/dev/null)" != "${PIP_PINS[*]}" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q "${PIP_PINS[@]}"
  echo "${PIP_PINS[*]}" > "$VENV/.pins"
fi

export OPENBLAS_NUM_THREADS=1
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //');" \
     "OpenBLAS $(dpkg-query -W -f='${Version}' libopenblas0-pthread 2>/dev/null || echo '?')"
build/bench/bench_textenc
echo
build/bench/bench_encoder --cpu "$MODEL"
echo
"$VENV/bin/python" bench/onnx_export.py --model "$MODEL"
echo
# The same, 1 thread, timed in CPU time on both sides: other jobs on a shared machine do not count.
"$VENV/bin/python" bench/onnx_export.py --model "$MODEL" --cpu
echo
build/bench/bench_train
echo
build/bench/bench_window_latency
echo
# What a shorter look-ahead changes in the scores: the demo record, and MIT-BIH and VFDB where unpacked.
build/bench/bench_lookahead demo/mitdb_201_demo $(ls .cache/data/{mitdb,vfdb}/*.hea 2>/dev/null | sed 's/\.hea$//')
echo
bench/e2e.sh || echo "bench/e2e.sh: exit $? (77: no Java, Maven or kcat for the Kafka broker)"

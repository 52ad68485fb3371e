#!/usr/bin/env bash
# The README's first command. Installs and builds (scripts/setup.sh), starts the development broker and
# metsd, replays the committed demo recording (demo/: MIT-BIH record 201, 260 s of atrial fibrillation,
# sinus rhythm, and atrial fibrillation again) at 10 times real time, and prints every alert metsd raises
# and clears as a JSON line. SPEED=N changes the pace; Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh >/dev/null

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

build/tools/mets broker --bootstrap-file "$work/bootstrap" >/dev/null 2>"$work/broker.log" &
pids+=($!)
for _ in $(seq 100); do [ -s "$work/bootstrap" ] && break; sleep 0.1; done
bootstrap=$(cat "$work/bootstrap")
echo "demo: dev broker at $bootstrap; metsd log in $work/metsd.log" >&2

# Raised and cleared alerts only: updates (a probability that moved) would flood the screen.
build/daemon/metsd -c conf/metsd.yaml --bootstrap "$bootstrap" --print-alerts 2>"$work/metsd.log" \
  > >(grep --line-buffered -v '"state":"updated"') &
metsd=$!
pids+=("$metsd")
for _ in $(seq 300); do grep -q consuming "$work/metsd.log" && break; sleep 0.1; done

echo "demo: replaying demo/mitdb_201_demo as stream bed-12 at ${SPEED:-10}x: AF in 0-78 s and 177-214 s" >&2
build/tools/mets replay -q --bootstrap "$bootstrap" -x "${SPEED:-10}" -s bed-12 demo/mitdb_201_demo
sleep 5 # the last windows
kill -TERM "$metsd"
wait "$metsd" || true
grep "stopped:" "$work/metsd.log" >&2 || tail -n 3 "$work/metsd.log" >&2

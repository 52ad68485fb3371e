#!/usr/bin/env bash
# Stops the nodes start_kafka.sh DIR started: SIGTERM (a clean shutdown), up to 20 s, then SIGKILL.
# usage: stop_kafka.sh DIR
set -euo pipefail
dir=${1:?usage: stop_kafka.sh DIR}
pids=$(cat "$dir/pid" "$dir"/[0-9]*/pid 2>/dev/null | sort -u || true)
[ -n "$pids" ] || exit 0
for pid in $pids; do kill -CONT "$pid" 2>/dev/null || true; kill -TERM "$pid" 2>/dev/null || true; done
for pid in $pids; do
  for _ in $(seq 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    echo "stop_kafka: $pid still running after 20 s, killing it" >&2
    kill -KILL "$pid" 2>/dev/null || true
  fi
done
rm -f "$dir/pid" "$dir"/[0-9]*/pid "$dir/bootstrap"

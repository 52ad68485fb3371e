#!/usr/bin/env bash
# Stops the broker start_kafka.sh DIR started: SIGTERM (a clean shutdown), up to 20 s, then SIGKILL.
# usage: stop_kafka.sh DIR
set -euo pipefail
dir=${1:?usage: stop_kafka.sh DIR}
[ -s "$dir/pid" ] || exit 0
pid=$(cat "$dir/pid")
if kill -TERM "$pid" 2>/dev/null; then
  for _ in $(seq 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    echo "stop_kafka: $pid still running after 20 s, killing it" >&2
    kill -KILL "$pid" 2>/dev/null || true
  fi
fi
rm -f "$dir/pid" "$dir/bootstrap"

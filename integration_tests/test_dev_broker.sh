#!/usr/bin/env bash
# The development broker (`mets broker`) serves an independent Kafka client, kcat: the default topics
# exist with their partition counts, 100 keyed records produced to ecg.frames come back with their
# keys, and SIGTERM stops the broker cleanly (exit 0, bootstrap file removed).
# usage: test_dev_broker.sh PATH/TO/mets        (exit 77 = skipped: kcat is not installed)
set -euo pipefail
METS=${1:?usage: test_dev_broker.sh PATH/TO/mets}
. "$(dirname "$0")/lib.sh"
start_broker
[ "$(head -n1 "$work/broker.out")" = "bootstrap=$bootstrap" ] || fail "stdout's first line is not bootstrap=$bootstrap"

# Topics: -L prints 'topic "NAME" with N partitions:' for each.
timeout 20 kcat -b "$bootstrap" -L -m 10 >"$work/metadata" || fail "kcat -L"
for t in ecg.frames:4 ecg.embeddings:1 ecg.alerts:1 ecg.deadletter:1 metsd.state:4; do
  grep -q "topic \"${t%:*}\" with ${t#*:} partitions:" "$work/metadata" || fail "topic ${t%:*} with ${t#*:} partitions missing"
done

# 100 keyed records in, the same 100 keys out (spread over the 4 partitions by key).
for i in $(seq -w 0 99); do echo "bed-$i:frame $i"; done >"$work/sent"
timeout 20 kcat -b "$bootstrap" -P -t ecg.frames -K: -l "$work/sent" || fail "kcat -P"
timeout 20 kcat -b "$bootstrap" -C -t ecg.frames -e -o beginning -q -f '%p %k:%s\n' >"$work/consumed" || fail "kcat -C"
cut -d' ' -f2- "$work/consumed" >"$work/received"
[ "$(wc -l <"$work/received")" -eq 100 ] || fail "consumed $(wc -l <"$work/received") records, expected 100"
diff <(sort "$work/sent") <(sort "$work/received") >/dev/null || fail "the consumed keys and values differ from the produced"
[ "$(cut -d' ' -f1 "$work/consumed" | sort -u | wc -l)" -eq 4 ] || fail "the records did not reach all 4 partitions"

kill -TERM "$broker_pid"
status=0
for _ in $(seq 100); do kill -0 "$broker_pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$broker_pid" 2>/dev/null && fail "the broker still runs 10 s after SIGTERM"
wait "$broker_pid" || status=$?
pids=()
[ "$status" -eq 0 ] || fail "the broker exited $status after SIGTERM"
[ ! -e "$work/bootstrap" ] || fail "the bootstrap file outlived the broker"
echo "ok: dev broker at $bootstrap served 100 records; clean SIGTERM shutdown"

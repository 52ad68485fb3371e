#!/usr/bin/env bash
# /healthz and the Kafka metrics tell the truth (issue 13 item 2), on the development broker with faults
# injected through `mets broker --control` while a bed streams: every transaction failing (an abortable
# error on each AddPartitionsToTxn) makes /healthz answer 503 "outputs have waited ..." once
# health.commit_timeout_s (3 s here) has passed, with mets_commit_age_seconds growing; the broker down
# makes it answer 503 "no Kafka broker has answered ..." after health.broker_timeout_s (3 s) with
# mets_kafka_brokers_answering 0 and the lag marked stale, and no signal loss is raised for the streaming
# bed; each clears when the fault does.
# usage: test_health.sh PATH/TO/mets PATH/TO/metsd   (exit 77 = skipped: kcat is not installed)
set -euo pipefail
METS=${1:?usage: test_health.sh PATH/TO/mets PATH/TO/metsd}
METSD=${2:?}
. "$(dirname "$0")/lib.sh"
mkfifo "$work/control"
"$METS" broker --control --bootstrap-file "$work/bootstrap" <"$work/control" >"$work/answers" 2>"$work/broker.log" &
pids+=($!)
exec 3>"$work/control"
for _ in $(seq 100); do [ -s "$work/bootstrap" ] && break; sleep 0.1; done
bootstrap=$(cat "$work/bootstrap")
fault() {
  echo "$*" >&3
  for _ in $(seq 50); do grep -qxF "ok $*" "$work/answers" && return 0; sleep 0.1; done
  fail "fault '$*': $(tail -n 1 "$work/answers")"
}
start_metsd_on_broker -e 's|^log:|health:\n  broker_timeout_s: 3s\n  commit_timeout_s: 3s\nlog:|'
grep -q "commit_timeout_s: 3s" "$work/metsd.yaml" || fail "could not set the health timeouts"
"$METS" replay -q --bootstrap "$bootstrap" -x 1 --duration 60 -s bed-1 demo/mitdb_201_demo 2>"$work/replay.log" &
pids+=($!)

metric() { curl -s "http://127.0.0.1:$port/metrics" | awk -v m="$1" '$1 == m {print $2}'; }
health() { curl -s "http://127.0.0.1:$port/healthz"; }
# Waits up to $2 s for /healthz to begin with $1; prints the seconds waited.
wait_health() {
  local t0=$SECONDS
  for _ in $(seq $(($2 * 4))); do
    [[ "$(health)" == "$1"* ]] && { echo $((SECONDS - t0)); return 0; }
    sleep 0.25
  done
  fail "/healthz did not answer '$1' within $2 s: $(health)"
}

wait_health ok 10 >/dev/null
for _ in $(seq 40); do [ "$(metric mets_kafka_brokers_answering)" = 1 ] && break; sleep 0.25; done
[ "$(metric mets_kafka_brokers_answering)" = 1 ] || fail "the broker not counted as answering"
fault errors AddPartitionsToTxn 1000 TOPIC_AUTHORIZATION_FAILED
echo "commits failing: /healthz 503 after $(wait_health 'outputs have waited' 10) s: $(health)"
age=$(metric mets_commit_age_seconds)
awk -v a="$age" 'BEGIN { exit !(a >= 3) }' || fail "mets_commit_age_seconds $age while commits fail"
fault clear AddPartitionsToTxn
echo "commits again: /healthz ok after $(wait_health ok 15) s"
fault down all
echo "broker down: /healthz 503 after $(wait_health 'no Kafka broker has answered' 15) s: $(health)"
# /healthz counts 3 s (health.broker_timeout_s), the gauge 5 s from the last answer
for _ in $(seq 12); do [ "$(metric mets_kafka_brokers_answering)" = 0 ] && break; sleep 0.25; done
[ "$(metric mets_kafka_brokers_answering)" = 0 ] || fail "brokers answering 5 s after /healthz said none: $(metric mets_kafka_brokers_answering)"
stale=$(curl -s "http://127.0.0.1:$port/metrics" | awk '/^mets_consumer_lag_stale\{/ {s += $2} END {print s + 0}')
[ "$stale" -ge 1 ] || fail "no lag marked stale while the broker is down"
sleep 12 # longer than streams.signal_loss_s: the bed streams on, the broker is what is missing
fault up all
echo "broker up: /healthz ok after $(wait_health ok 20) s"
sleep 3
n=$(metric 'mets_alerts_raised{alert="technical/signal_lost"}')
[ "$n" = 0 ] || fail "signal_lost raised for a bed that streamed while the broker was down"
echo "health test: no signal loss raised across 12 s of a lost broker"

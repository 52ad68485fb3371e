#!/usr/bin/env bash
# Exactly-once across crashes, on a real Kafka broker: while recordings are replayed, metsd is killed
# with SIGKILL at random moments ($EOS_KILLS times, default 20) and restarted each time, then stopped and
# restarted gracefully twice (SIGTERM); what a read_committed consumer sees of its embeddings, alerts and
# dead letters must equal that of an undisturbed run over the same frames: nothing lost, nothing doubled.
# Finally no transaction of it may be left open.
# usage: test_crash.sh PATH/TO/mets PATH/TO/metsd   (exit 77 = skipped: no kcat, java or mvn)
set -euo pipefail
METS=${1:?usage: test_crash.sh PATH/TO/mets PATH/TO/metsd}
METSD=${2:?}
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/eos_lib.sh"
kills=${EOS_KILLS:-20}
start=$SECONDS
start_real_kafka
eos_topics ref crash
eos_config ref
eos_config crash
start_metsd ref one
eos_replay
RANDOM=${EOS_SEED:-42}
for k in $(seq "$kills"); do
  start_metsd crash one
  sleep "$(awk -v r=$RANDOM 'BEGIN { printf "%.2f", 1 + 4 * r / 32768 }')"
  kill -KILL "$metsd_pid"
  wait "$metsd_pid" 2>/dev/null || true
done
for g in 1 2; do
  start_metsd crash one
  sleep 4
  kill -TERM "$metsd_pid"
  wait "$metsd_pid" || fail "metsd exited $? on SIGTERM"
done
start_metsd crash one
crash_pid=$metsd_pid
wait "$replay_pid" || fail "replay: $(cat "$work/replay.log")"
wait_settled ref
expected=$(committed_count ref.embeddings)
wait_settled crash "$((expected - 2 * EOS_BEDS))"
wait_signal_lost ref
wait_signal_lost crash
kill -TERM "$crash_pid"
wait "$crash_pid" || fail "metsd exited $? on SIGTERM"
eos_dump ref
eos_dump crash
no_open_transactions crash
restarts=$(grep -c "exactly-once as" "$work/crash-one.log")
replayed=$(grep -o "restored [0-9]* state records" "$work/crash-one.log" | awk '{s += $2} END {print s + 0}')
echo "$kills kills and 2 graceful restarts ($restarts starts, $replayed state records restored)"
python3 "$(dirname "$0")/compare_outputs.py" --recording-s 260 "$work/ref" "$work/crash" || fail "the outputs differ"
echo "crash test: $((SECONDS - start)) s"

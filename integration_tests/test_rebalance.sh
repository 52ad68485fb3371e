#!/usr/bin/env bash
# Exactly-once across rebalances, on a real Kafka broker: three metsd processes share the frames
# partitions in one group while recordings are replayed; mid-stream one is killed (SIGKILL, not
# restarted: its partitions move once its session times out) and another one joins; later one leaves
# gracefully. What a read_committed consumer sees must equal the output of one undisturbed process over
# the same frames.
# usage: test_rebalance.sh PATH/TO/mets PATH/TO/metsd   (exit 77 = skipped: no kcat, java or mvn)
set -euo pipefail
METS=${1:?usage: test_rebalance.sh PATH/TO/mets PATH/TO/metsd}
METSD=${2:?}
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/eos_lib.sh"
start=$SECONDS
start_real_kafka
eos_topics ref rb
eos_config ref
eos_config rb
start_metsd ref one
declare -A member
for m in a b c; do
  start_metsd rb "$m"
  member[$m]=$metsd_pid
done
sleep 3
eos_replay
sleep 8
kill -KILL "${member[b]}"
wait "${member[b]}" 2>/dev/null || true
sleep 4
start_metsd rb d
member[d]=$metsd_pid
sleep 12
kill -TERM "${member[a]}"
wait "${member[a]}" || fail "metsd a exited $? on SIGTERM"
wait "$replay_pid" || fail "replay: $(cat "$work/replay.log")"
wait_settled ref
expected=$(committed_count ref.embeddings)
wait_settled rb "$((expected - 2 * EOS_BEDS))"
wait_signal_lost ref
wait_signal_lost rb
for m in c d; do
  kill -TERM "${member[$m]}"
  wait "${member[$m]}" || fail "metsd $m exited $? on SIGTERM"
done
eos_dump ref
eos_dump rb
no_open_transactions rb
check_since ref
assigned=$(cat "$work"/rb-*.log | grep -c "assigned [0-9]* partition")
revoked=$(cat "$work"/rb-*.log | grep -c "revoked [0-9]* partition")
echo "members a b c, b killed, d joined, a left: $assigned assignments, $revoked revocations"
[ "$assigned" -ge 5 ] || fail "only $assigned assignments: the partitions did not move"
python3 "$(dirname "$0")/compare_outputs.py" --recording-s 260 "$work/ref" "$work/rb" || fail "the outputs differ"
echo "rebalance test: $((SECONDS - start)) s"

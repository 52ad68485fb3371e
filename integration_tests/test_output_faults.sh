#!/usr/bin/env bash
# No silent loss on the output path (issue 13 item 3), on a real Kafka broker: failures injected with
# METS_FAILPOINTS (common/failpoint.h) into metsd while recordings are replayed, each answered as
# docs/delivery.md says, and what read_committed consumers see compared with an undisturbed run:
# - fatal: an output that cannot be encoded (embedding, alert event, dead letter) or an alert stage that
#   fails ends metsd with status 1 (systemd restarts it; here the script does) before anything of that
#   window is committed; restarted without the fault, the outputs equal the reference exactly;
# - retried, exactly once: a produce the client refuses, a delivery that fails and a commit that fails
#   abort the transaction and redo the work since the last commit; the outputs equal the reference exactly;
# - retried, at least once: a refused produce is redone, never only counted; outputs may repeat, none is
#   lost.
# usage: test_output_faults.sh PATH/TO/mets PATH/TO/metsd   (exit 77 = skipped: no kcat, java or mvn)
set -euo pipefail
METS=${1:?usage: test_output_faults.sh PATH/TO/mets PATH/TO/metsd}
METSD=${2:?}
EOS_BEDS=3
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/eos_lib.sh"
start=$SECONDS
start_real_kafka
eos_topics ref fatal retry alo
for g in ref fatal retry alo; do eos_config "$g"; done
sed -i "s|mode: exactly_once|mode: at_least_once|" "$work/alo.yaml"
start_metsd ref one

# Starts run $1 with the failpoints $2 and waits (up to 90 s) for it to exit 1, having said why.
expect_fatal() {
  METS_FAILPOINTS=$2 start_metsd "$1" one
  for _ in $(seq 900); do kill -0 "$metsd_pid" 2>/dev/null || break; sleep 0.1; done
  local rc=0
  wait "$metsd_pid" || rc=$?
  [ "$rc" -eq 1 ] || fail "metsd with $2 exited $rc, not 1"
  grep -q "injected failure" "$work/$1-one.log" || fail "metsd with $2 did not say why it stopped"
  echo "$2: metsd exited 1"
}

# The first dead letter comes 3 s into the replay: this run must be up before.
METS_FAILPOINTS=output.dead_letter=1 start_metsd fatal one
fatal_pid=$metsd_pid
METS_FAILPOINTS=metsd.produce=40,metsd.delivery=300,metsd.commit=25 start_metsd retry one
retry_pid=$metsd_pid
METS_FAILPOINTS=metsd.produce=60 start_metsd alo one
alo_pid=$metsd_pid
sleep 2
eos_replay
for _ in $(seq 300); do kill -0 "$fatal_pid" 2>/dev/null || break; sleep 0.1; done
rc=0
wait "$fatal_pid" || rc=$?
[ "$rc" -eq 1 ] && grep -q "injected failure" "$work/fatal-one.log" || fail "a failed dead letter: metsd exited $rc"
echo "output.dead_letter=1: metsd exited 1"
for fp in output.embedding=30 output.alert=3 alert.push=20; do expect_fatal fatal "$fp"; done
start_metsd fatal one
fatal_pid=$metsd_pid
wait "$replay_pid" || fail "replay: $(cat "$work/replay.log")"
wait_settled ref
for g in fatal retry alo; do wait_settled "$g" "$(committed_count ref.embeddings)"; done
for g in ref fatal retry alo; do wait_signal_lost "$g"; done
for p in "$fatal_pid" "$retry_pid" "$alo_pid"; do
  kill -TERM "$p"
  wait "$p" || fail "metsd exited $? on SIGTERM after its failures were redone"
done
for g in ref fatal retry alo; do eos_dump "$g"; done
aborted=$(grep -c "transaction .*: injected failure\|failed: Local: Fail\|transaction produce" "$work/retry-one.log" || true)
[ "$aborted" -ge 3 ] || fail "the retry run aborted $aborted transactions, expected 3: $(grep -i 'fail' "$work/retry-one.log")"
grep -q "not delivered: redoing" "$work/alo-one.log" || fail "the at-least-once run did not redo a refused output"
for g in fatal retry; do
  echo "== $g"
  python3 "$(dirname "$0")/compare_outputs.py" "$work/ref" "$work/$g" || fail "the outputs of $g differ"
done
echo "== alo"
python3 "$(dirname "$0")/compare_outputs.py" --at-least-once "$work/ref" "$work/alo" || fail "the at-least-once run lost outputs"
no_open_transactions fatal
no_open_transactions retry
echo "output-fault test: $((SECONDS - start)) s"

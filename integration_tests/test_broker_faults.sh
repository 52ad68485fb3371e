#!/usr/bin/env bash
# Exactly-once under real broker faults (issue 14), on a real 3-node Apache Kafka cluster (KRaft; topics
# replicated 3 times, min.insync.replicas 2): while recordings are replayed, metsd (as systemd runs it:
# restarted after any exit) reaches the cluster only through Toxiproxy, and
#   - the leader of a frames partition, the transaction coordinator, the group coordinator, the leader of an
#     output partition and the leader of a state partition are each killed (SIGKILL) and restarted;
#   - the transaction coordinator is paused (SIGSTOP) for 35 s, longer than the session (6 s), request
#     (30 s) and transaction (10 s) timeouts, then resumed;
#   - the network between metsd and the brokers gets latency, a link that stops passing data, connection
#     resets and a slow link (Toxiproxy toxics);
#   - all three nodes are restarted one after the other;
#   - metsd itself is killed (SIGKILL) in the middle of each of the above.
# Then a reference metsd processes the same stored frames undisturbed, and what read_committed consumers
# see of the two must be equal: every embedding, alert event and dead letter exactly once, values bit for
# bit (compare_outputs.py), every stream an unbroken run of windows. No transaction may be left open.
# This is the short version that CI runs; soak_broker_faults.sh is the long one, with random faults.
# usage: test_broker_faults.sh PATH/TO/mets PATH/TO/metsd   (exit 77 = skipped: no kcat, java or toxiproxy)
set -euo pipefail
METS=${1:?usage: test_broker_faults.sh PATH/TO/mets PATH/TO/metsd}
METSD=${2:?}
EOS_SPEED=${EOS_SPEED:-2} # 130 s of replay: room for every fault
. "$(dirname "$0")/faults_lib.sh"
start_cluster
t0=$SECONDS
eos_replay
until_s 5
n=$(leader_of ecg.frames 0)
kill_node "$n" "leader of ecg.frames 0"
until_s 8
kill_metsd "a frames leader down"
until_s 14
restart_node "$n"
# Node $1 (what it is: $2) killed, metsd killed 3 s later, the node restarted 4 s after that.
kill_step() {
  kill_node "$1" "$2"
  sleep 3
  kill_metsd "the $2 down"
  sleep 4
  restart_node "$1"
}
n=$(coordinator txn bf-one) || fail "no transaction coordinator"
kill_step "$n" "transaction coordinator of bf-one"
n=$(coordinator group bf) || fail "no group coordinator"
kill_step "$n" "group coordinator of bf"
kill_step "$(leader_of bf.alerts 0)" "leader of output partition bf.alerts 0"
kill_step "$(leader_of bf.state 1)" "leader of state partition bf.state 1"
n=$(coordinator txn bf-one) || fail "no transaction coordinator"
pause_node "$n" "transaction coordinator of bf-one"
sleep 15
kill_metsd "the transaction coordinator paused"
sleep 20
resume_node "$n"
sleep 5
toxic latency latency '{"latency": 300, "jitter": 100}'
sleep 4
kill_metsd "300 ms latency"
sleep 4
untoxic latency
toxic stall timeout '{"timeout": 0}'
sleep 6
untoxic stall
sleep 3
toxic reset reset_peer '{"timeout": 500}'
sleep 3
kill_metsd "connections reset"
sleep 2
untoxic reset
toxic slow bandwidth '{"rate": 64}'
sleep 8
untoxic slow
sleep 3
for n in 1 2 3; do
  stop_node "$n" "rolling restart"
  [ "$n" = 2 ] && kill_metsd "rolling restart"
  restart_node "$n"
done
wait "$replay_pid" || fail "replay: $(cat "$work/replay.log")"
log "replay done"
settle_and_compare --recording-s 260
echo "broker-fault test: $((SECONDS - start)) s"

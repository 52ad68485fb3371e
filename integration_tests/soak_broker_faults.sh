#!/usr/bin/env bash
# The long run of issue 14: many beds streamed in real time for an hour into a real 3-node Kafka cluster
# while a random fault starts every ~S seconds (a node killed: a frames partition's leader, the transaction
# coordinator, the group coordinator or any node, then restarted; a node paused past the session, request
# and transaction timeouts; a rolling restart; latency, a stalled link, connection resets or a slow link
# between metsd and the brokers), with metsd itself SIGKILLed in the middle of about half of them. Then an
# undisturbed reference metsd reads the same stored frames and what read_committed consumers see of both
# must be equal (compare_outputs.py: lost and doubled outputs, bit for bit). test_broker_faults.sh is the
# short, scripted version that CI runs.
# The recordings are replayed one after another, each as BEDS streams of its own (patients come and go),
# the demo recording unless --record is given (repeatable; e.g. .cache/data/mitdb/208).
# usage: soak_broker_faults.sh [--minutes 60] [--beds 200] [--every 30] [--seed 1] [--record PATH]...
#          PATH/TO/mets PATH/TO/metsd
# Prints the faults as they happen and their counts; METS_BROKER_FAULTS_KEEP=DIR keeps outputs and logs.
set -euo pipefail
minutes=60 beds=200 every=30 seed=1 records=()
while [ $# -gt 2 ]; do
  case $1 in
    --minutes) minutes=$2 ;;
    --beds) beds=$2 ;;
    --every) every=$2 ;;
    --seed) seed=$2 ;;
    --record) records+=("$2") ;;
    *) echo "soak_broker_faults.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift 2
done
METS=${1:?usage: soak_broker_faults.sh [options] PATH/TO/mets PATH/TO/metsd}
METSD=${2:?}
[ ${#records[@]} -gt 0 ] || records=(demo/mitdb_201_demo)
. "$(dirname "$0")/faults_lib.sh"
start_cluster
RANDOM=$seed
t0=$SECONDS
end=$((minutes * 60))

# The recordings, one after another until the end: recording k as streams r<k>-0001 ... r<k>-<beds>, then
# a few malformed frames.
(
  k=0
  while [ $((SECONDS - t0)) -lt $end ]; do
    rec=${records[$((k % ${#records[@]}))]}
    k=$((k + 1))
    "$METS" replay -q --bootstrap "$bootstrap" --beds "$beds" -s "r$k" --duration $((end - (SECONDS - t0))) "$rec" \
      >>"$work/replay.log" 2>&1 || { echo "replay of $rec failed" >>"$work/replay.log"; exit 1; }
    for i in 1 2 3; do echo "r$k-0001:not a frame $i"; done | kcat -b "$bootstrap" -P -t ecg.frames -K:
    echo "$k" >"$work/recordings"
  done
) &
replay_pid=$!
pids+=("$replay_pid")

# Waits (up to 90 s) until every partition of the cluster has all three replicas in sync again.
wait_in_sync() {
  for _ in $(seq 90); do
    kcat -b "$bootstrap" -L -J 2>/dev/null | python3 -c 'import json, sys
sys.exit(any(len(p["isrs"]) < 3 for t in json.load(sys.stdin)["topics"] for p in t["partitions"]))' && return 0
    sleep 1
  done
  log "replicas not all in sync after 90 s: going on"
}
declare -A count
fault() { count[$1]=$((${count[$1]:-0} + 1)); }
# Kills metsd half way through a fault of $1 s, one time in two.
maybe_kill_metsd() {
  if [ $((RANDOM % 2)) = 0 ]; then
    sleep $(($1 / 2))
    kill_metsd "$2"
    fault "metsd SIGKILL"
    sleep $(($1 - $1 / 2))
  else
    sleep "$1"
  fi
}
kill_and_restart() { # NODE WHAT
  kill_node "$1" "$2"
  fault "node killed: $2"
  maybe_kill_metsd $((3 + RANDOM % 6)) "$2 down"
  restart_node "$1"
  wait_in_sync
}
node_fault() {
  local n
  case $((RANDOM % 6)) in
    0) n=$(leader_of ecg.frames $((RANDOM % 4))) && kill_and_restart "$n" "frames leader" ;;
    1) n=$(coordinator txn bf-one) && kill_and_restart "$n" "transaction coordinator" ;;
    2) n=$(coordinator group bf) && kill_and_restart "$n" "group coordinator" ;;
    3) kill_and_restart $((1 + RANDOM % 3)) "any node" ;;
    4)
      n=$(coordinator txn bf-one) || return 0
      pause_node "$n" "transaction coordinator"
      fault "node paused"
      maybe_kill_metsd $((8 + RANDOM % 28)) "a node paused"
      resume_node "$n"
      wait_in_sync
      ;;
    5)
      if [ $((RANDOM % 4)) = 0 ]; then # a rolling restart costs three restarts: not too often
        for n in 1 2 3; do
          stop_node "$n" "rolling restart"
          fault "node restarted (rolling)"
          [ "$n" = 2 ] && [ $((RANDOM % 2)) = 0 ] && { kill_metsd "rolling restart"; fault "metsd SIGKILL"; }
          restart_node "$n"
          wait_in_sync
        done
      else
        n=$((1 + RANDOM % 3))
        pause_node "$n" "any node"
        fault "node paused"
        maybe_kill_metsd $((8 + RANDOM % 28)) "a node paused"
        resume_node "$n"
        wait_in_sync
      fi
      ;;
  esac
}
network_fault() {
  local types=(latency timeout reset_peer bandwidth) i=$((RANDOM % 4))
  local attrs=('{"latency": 300, "jitter": 100}' '{"timeout": 0}' '{"timeout": 500}' '{"rate": 256}')
  toxic net "${types[i]}" "${attrs[i]}"
  fault "network: ${types[i]}"
  maybe_kill_metsd $((4 + RANDOM % 7)) "a network fault"
  untoxic net
}
next=$every
while [ $((SECONDS - t0)) -lt $((end - every)) ]; do
  until_s "$next"
  next=$((next + every / 2 + RANDOM % (every + 1))) # every S s on average
  if [ $((RANDOM % 4)) = 0 ]; then network_fault; else node_fault; fi
done
wait "$replay_pid" || fail "replay: $(cat "$work/replay.log")"
log "replay done: $(cat "$work/recordings") recordings of $beds beds"
EOS_BEDS=$(($(cat "$work/recordings") * beds))
for k in "${!count[@]}"; do echo "$k: ${count[$k]}"; done | sort
EOS_SETTLE_S=1800 EOS_DUMP_S=1200 settle_and_compare --recording-s 0
echo "soak: $minutes min, $beds beds at a time, $EOS_BEDS streams, $((SECONDS - start)) s in all"

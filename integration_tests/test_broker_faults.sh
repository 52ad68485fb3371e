#!/usr/bin/env bash
# Exactly-once under real broker faults (issue 14), on a real 3-node Apache Kafka cluster (KRaft; topics
# replicated 3 times, min.insync.replicas 2): while recordings are replayed, metsd (as systemd runs it:
# restarted after any exit) reaches the cluster only through Toxiproxy, and
#   - the leader of a frames partition, the transaction coordinator and the group coordinator are each
#     killed (SIGKILL) and restarted;
#   - the transaction coordinator is paused (SIGSTOP) for 35 s, longer than the session (6 s), request
#     (30 s) and transaction (10 s) timeouts, then resumed;
#   - the network between metsd and the brokers gets latency, a link that stops passing data, connection
#     resets and a slow link (Toxiproxy toxics);
#   - all three nodes are restarted one after the other;
#   - metsd itself is killed (SIGKILL) in the middle of each of the above.
# Then a reference metsd processes the same stored frames undisturbed, and what read_committed consumers
# see of the two must be equal: every embedding, alert event and dead letter exactly once, values bit for
# bit (compare_outputs.py), every stream an unbroken run of windows. No transaction may be left open.
# usage: test_broker_faults.sh PATH/TO/mets PATH/TO/metsd   (exit 77 = skipped: no kcat, java, mvn or toxiproxy)
set -euo pipefail
METS=${1:?usage: test_broker_faults.sh PATH/TO/mets PATH/TO/metsd}
METSD=${2:?}
EOS_SPEED=${EOS_SPEED:-2} # 130 s of replay: room for every fault
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/eos_lib.sh"
toxiproxy=${METS_TOXIPROXY:-$PWD/.cache/toxiproxy/server}
[ -x "$toxiproxy" ] || { echo "SKIP: toxiproxy not installed (scripts/setup.sh installs it)"; exit 77; }
start=$SECONDS
command -v java >/dev/null || { echo "SKIP: java not installed"; exit 77; }
kafka_lib=${METS_KAFKA_LIB:-$PWD/.cache/kafka/lib}
kafka_dirs+=("$work/kafka")
integration_tests/kafka/start_kafka.sh --nodes 3 "$work/kafka" >/dev/null 2>"$work/start_kafka.log" \
  || fail "the Kafka cluster did not start"
bootstrap=$(cat "$work/kafka/bootstrap")
proxied=$(cat "$work/kafka/proxied_bootstrap")
echo "cluster up after $((SECONDS - start)) s: $bootstrap; metsd through Toxiproxy at $proxied"

# Toxiproxy: one proxy per node, driven over its HTTP API.
tport=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
LOG_LEVEL=info "$toxiproxy" -host 127.0.0.1 -port "$tport" >"$work/toxiproxy.log" 2>&1 &
pids+=($!)
tox() { # METHOD PATH [JSON]
  curl -sf -X "$1" "http://127.0.0.1:$tport$2" ${3:+-H 'Content-Type: application/json' -d "$3"} >/dev/null \
    || fail "toxiproxy $1 $2 $3"
}
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$tport/version" >/dev/null && break; sleep 0.1; done
for n in 1 2 3; do
  read -r listen upstream <"$work/kafka/$n/proxy"
  tox POST /proxies "{\"name\": \"node$n\", \"listen\": \"127.0.0.1:$listen\", \"upstream\": \"127.0.0.1:$upstream\"}"
done
toxic() { # NAME TYPE ATTRIBUTES: on every proxy, both directions
  local n
  for n in 1 2 3; do
    tox POST "/proxies/node$n/toxics" "{\"name\": \"$1-down\", \"type\": \"$2\", \"stream\": \"downstream\", \"attributes\": $3}"
    tox POST "/proxies/node$n/toxics" "{\"name\": \"$1-up\", \"type\": \"$2\", \"stream\": \"upstream\", \"attributes\": $3}"
  done
  log "toxic $1: $2 $3"
}
untoxic() {
  local n
  for n in 1 2 3; do tox DELETE "/proxies/node$n/toxics/$1-down"; tox DELETE "/proxies/node$n/toxics/$1-up"; done
  log "toxic $1 removed"
}

log() { echo "$(printf '%3d' $((SECONDS - t0))) s: $*"; }
# The node that leads partition $2 of topic $1.
leader_of() {
  kcat -b "$bootstrap" -L -t "$1" -J 2>/dev/null | python3 -c "import json, sys
print(next(p['leader'] for p in json.load(sys.stdin)['topics'][0]['partitions'] if p['partition'] == $2))"
}
kafka_tool() { # CLASS ARGS...: Kafka's command-line tool CLASS on the cluster
  java -Xmx128m -XX:TieredStopAtLevel=1 -Dlog4j2.configurationFile="$work/kafka/log4j2.properties" \
    -cp "$kafka_lib/*" "$1" --bootstrap-server "$bootstrap" "${@:2}"
}
# The coordinator of transactional id or group $2 ($1: txn or group), asked until one answers (up to 60 s:
# right after a fault the id may not be known yet).
coordinator() {
  local n=
  for _ in $(seq 20); do
    if [ "$1" = txn ]; then
      n=$(kafka_tool org.apache.kafka.tools.TransactionsCommand describe --transactional-id "$2" 2>/dev/null |
        awk 'NR == 2 && $1 ~ /^[0-9]+$/ {print $1}' || true)
    else
      n=$(kafka_tool org.apache.kafka.tools.consumer.group.ConsumerGroupCommand --describe --group "$2" --state \
        2>/dev/null | sed -nE 's/.*\(([0-9]+)\).*/\1/p' | head -n 1 || true)
    fi
    [ -n "$n" ] && { echo "$n"; return 0; }
    sleep 1
  done
  echo "FAIL: no $1 coordinator for $2 in 60 s" >&2
  return 1
}
kill_node() { kill -KILL "$(cat "$work/kafka/$1/pid")"; log "node $1 killed ($2)"; }
pause_node() { kill -STOP "$(cat "$work/kafka/$1/pid")"; log "node $1 paused ($2)"; }
resume_node() { kill -CONT "$(cat "$work/kafka/$1/pid")"; log "node $1 resumed"; }
restart_node() {
  integration_tests/kafka/start_kafka.sh --restart "$1" "$work/kafka" >/dev/null 2>>"$work/start_kafka.log" \
    || fail "node $1 did not start again"
  log "node $1 up again"
}
# metsd of run bf, as systemd runs it: restarted 1 s after any exit (a fenced producer exits 1 by design).
supervise() {
  (
    trap 'kill -TERM "$child" 2>/dev/null; wait "$child"; exit 0' TERM
    while :; do
      "$METSD" -c "$work/bf.yaml" --bootstrap "$proxied" --instance one >>"$work/bf-one.log" 2>&1 &
      child=$!
      rc=0
      wait "$child" 2>/dev/null || rc=$?
      echo "exited $rc" >>"$work/bf.exits"
      sleep 1
    done
  ) &
  supervisor=$!
  pids+=("$supervisor")
}
kill_metsd() {
  pkill -KILL -f -- "-c $work/bf.yaml" && log "metsd killed ($1)" || log "metsd not running to kill ($1)"
}
until_s() { while [ $((SECONDS - t0)) -lt "$1" ]; do sleep 0.2; done; }

KAFKA_RF=3 eos_topics ref bf
eos_config ref
eos_config bf
: >"$work/bf.exits"
supervise
for _ in $(seq 300); do grep -q "assigned" "$work/bf-one.log" && break; sleep 0.2; done
t0=$SECONDS
eos_replay
until_s 5
n=$(leader_of ecg.frames 0)
kill_node "$n" "leader of ecg.frames 0"
until_s 8
kill_metsd "a frames leader down"
until_s 14
restart_node "$n"
n=$(coordinator txn bf-one) || fail "no transaction coordinator"
kill_node "$n" "transaction coordinator of bf-one"
sleep 3
kill_metsd "the transaction coordinator down"
sleep 4
restart_node "$n"
n=$(coordinator group bf) || fail "no group coordinator"
kill_node "$n" "group coordinator of bf"
sleep 3
kill_metsd "the group coordinator down"
sleep 4
restart_node "$n"
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
  kill -TERM "$(cat "$work/kafka/$n/pid")"
  while kill -0 "$(cat "$work/kafka/$n/pid")" 2>/dev/null; do sleep 0.2; done
  log "node $n stopped (rolling restart)"
  [ "$n" = 2 ] && kill_metsd "rolling restart"
  restart_node "$n"
done
wait "$replay_pid" || fail "replay: $(cat "$work/replay.log")"
log "replay done"
start_metsd ref one # undisturbed, over the same stored frames
wait_settled ref
expected=$(committed_count ref.embeddings)
wait_settled bf "$expected"
wait_signal_lost ref
wait_signal_lost bf
kill -TERM "$supervisor"
wait "$supervisor" || true
eos_dump ref
eos_dump bf
no_open_transactions bf
[ -n "${METS_BROKER_FAULTS_KEEP:-}" ] && cp -r "$work/ref" "$work/bf" "$work"/*.log "$METS_BROKER_FAULTS_KEEP"/
echo "metsd exits under the faults: $(sort "$work/bf.exits" | uniq -c | tr '\n' ' ')"
python3 "$(dirname "$0")/compare_outputs.py" --recording-s 260 "$work/ref" "$work/bf" || fail "the outputs differ"
echo "broker-fault test: $((SECONDS - start)) s"

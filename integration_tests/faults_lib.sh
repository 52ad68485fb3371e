# Shared by the broker-fault tests (test_broker_faults.sh, soak_broker_faults.sh), sourced by them (it sources
# lib.sh and eos_lib.sh): a real 3-node Kafka cluster whose PROXIED listeners metsd reaches through Toxiproxy,
# the faults (nodes killed, paused, restarted; toxics on every link), and metsd run "bf" as systemd runs it.
# `start_cluster` starts it, sets $start, $bootstrap (direct, for the replay, the tools and the reference) and
# $proxied (for bf), makes the topics and configurations of runs ref and bf, and starts bf (`supervise`).
# Exits 77 (skipped) without java or toxiproxy.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/eos_lib.sh"

start_cluster() {
  start=$SECONDS
  toxiproxy=${METS_TOXIPROXY:-$PWD/.cache/toxiproxy/server}
  [ -x "$toxiproxy" ] || { echo "SKIP: toxiproxy not installed (scripts/setup.sh installs it)"; exit 77; }
  command -v java >/dev/null || { echo "SKIP: java not installed"; exit 77; }
  kafka_lib=${METS_KAFKA_LIB:-$PWD/.cache/kafka/lib}
  kafka_dirs+=("$work/kafka")
  integration_tests/kafka/start_kafka.sh --nodes 3 "$work/kafka" >/dev/null 2>"$work/start_kafka.log" \
    || fail "the Kafka cluster did not start"
  bootstrap=$(cat "$work/kafka/bootstrap")
  proxied=$(cat "$work/kafka/proxied_bootstrap")
  # Toxiproxy: one proxy per node, driven over its HTTP API.
  tport=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  LOG_LEVEL=info "$toxiproxy" -host 127.0.0.1 -port "$tport" >"$work/toxiproxy.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 50); do curl -sf "http://127.0.0.1:$tport/version" >/dev/null && break; sleep 0.1; done
  local n listen upstream
  for n in 1 2 3; do
    read -r listen upstream <"$work/kafka/$n/proxy"
    tox POST /proxies "{\"name\": \"node$n\", \"listen\": \"127.0.0.1:$listen\", \"upstream\": \"127.0.0.1:$upstream\"}"
  done
  echo "cluster up after $((SECONDS - start)) s: $bootstrap; metsd through Toxiproxy at $proxied"
  KAFKA_RF=3 eos_topics ref bf
  eos_config ref
  eos_config bf
  supervise
}

tox() { # METHOD PATH [JSON]
  curl -sf -X "$1" "http://127.0.0.1:$tport$2" ${3:+-H 'Content-Type: application/json' -d "$3"} >/dev/null \
    || fail "toxiproxy $1 $2 $3"
}
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

log() { echo "$(printf '%4d' $((SECONDS - t0))) s: $*"; }
until_s() { while [ $((SECONDS - t0)) -lt "$1" ]; do sleep 0.2; done; }

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
stop_node() {
  kill -TERM "$(cat "$work/kafka/$1/pid")"
  while kill -0 "$(cat "$work/kafka/$1/pid")" 2>/dev/null; do sleep 0.2; done
  log "node $1 stopped ($2)"
}
restart_node() {
  integration_tests/kafka/start_kafka.sh --restart "$1" "$work/kafka" >/dev/null 2>>"$work/start_kafka.log" \
    || fail "node $1 did not start again"
  log "node $1 up again"
}

# metsd of run bf, as systemd runs it: restarted 1 s after any exit (a fenced producer exits 1 by design);
# every exit status is appended to $work/bf.exits.
supervise() {
  : >"$work/bf.exits"
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
  for _ in $(seq 300); do grep -q "assigned" "$work/bf-one.log" && break; sleep 0.2; done
}
kill_metsd() {
  pkill -KILL -f -- "-c $work/bf.yaml" && log "metsd killed ($1)" || log "metsd not running to kill ($1)"
}

# After the recordings: the reference metsd reads the same stored frames undisturbed; both runs settle and
# raise signal_lost for every one of their $EOS_BEDS streams; bf stops; both are dumped and compared
# (compare_outputs.py with the arguments given); no transaction of bf is left open.
settle_and_compare() {
  start_metsd ref one
  wait_settled ref
  local expected
  expected=$(committed_count ref.embeddings)
  wait_settled bf "$expected"
  wait_signal_lost ref
  wait_signal_lost bf
  kill -TERM "$supervisor"
  wait "$supervisor" || true
  eos_dump ref
  eos_dump bf
  no_open_transactions bf
  if [ -n "${METS_BROKER_FAULTS_KEEP:-}" ]; then
    mkdir -p "$METS_BROKER_FAULTS_KEEP"
    cp -r "$work/ref" "$work/bf" "$work"/*.log "$METS_BROKER_FAULTS_KEEP"/
  fi
  echo "metsd exits under the faults: $(sort "$work/bf.exits" | uniq -c | tr '\n' ' ')"
  python3 "$(dirname "${BASH_SOURCE[0]}")/compare_outputs.py" "$@" "$work/ref" "$work/bf" || fail "the outputs differ"
}

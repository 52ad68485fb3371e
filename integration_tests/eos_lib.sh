# Shared by the delivery tests on a real Kafka broker (test_crash.sh, test_rebalance.sh), sourced after
# lib.sh: recordings replayed into ecg.frames while a reference metsd (group "ref") runs undisturbed and
# the metsd processes under test (their own group, output and state topics) are killed, restarted and
# rebalanced; at the end what read_committed consumers see of both is compared (compare_outputs.py).
# Needs $METS, $METSD, start_real_kafka done.
# The recordings: $EOS_BEDS beds of the demo recording at $EOS_SPEED x real time, and malformed frames.
EOS_BEDS=${EOS_BEDS:-6}
EOS_SPEED=${EOS_SPEED:-5}

# The topics of run NAME: its outputs (2 partitions) and its state (as many partitions as the frames).
eos_topics() {
  local specs=(ecg.frames:4) name
  for name in "$@"; do
    specs+=("$name.embeddings:2" "$name.alerts:2" "$name.deadletter:1" "$name.state:4:cleanup.policy=compact")
  done
  create_topics "${specs[@]}"
}

# $work/NAME.yaml: conf/metsd.yaml for group NAME with its own topics; static members that lose their
# partitions 6 s after dying (the broker's minimum session timeout), so that a test does not wait 45 s.
eos_config() {
  local name=$1
  python3 - "$name" "$PWD" "$work/$name.yaml" <<'PY'
import sys
name, root, out = sys.argv[1:]
text = open(f"{root}/conf/metsd.yaml").read()
for a, b in [("group_id: metsd", f"group_id: {name}"), ("embeddings: ecg.embeddings", f"embeddings: {name}.embeddings"),
             ("alerts: ecg.alerts", f"alerts: {name}.alerts"), ("dead_letter: ecg.deadletter", f"dead_letter: {name}.deadletter"),
             ("state: metsd.state", f"state: {name}.state"), ("../models/", f"{root}/models/"),
             ("labels: labels.yaml", f"labels: {root}/conf/labels.yaml"), ("listen: 127.0.0.1:9464", "listen: 127.0.0.1:0"),
             ("    client.id: metsd", "    client.id: metsd\n    session.timeout.ms: '6000'\n    heartbeat.interval.ms: '1000'")]:
    assert a in text, a
    text = text.replace(a, b)
open(out, "w").write(text)
PY
}

# Starts metsd for run NAME as INSTANCE in the background: $metsd_pid; logs appended to NAME-INSTANCE.log.
start_metsd() {
  "$METSD" -c "$work/$1.yaml" --bootstrap "$bootstrap" --instance "$2" >>"$work/$1-$2.log" 2>&1 &
  metsd_pid=$!
  pids+=("$metsd_pid")
}

# Replays the recordings (in the background: $replay_pid) and, part way, malformed frames.
eos_replay() {
  ( "$METS" replay -q --bootstrap "$bootstrap" -x "$EOS_SPEED" --beds "$EOS_BEDS" -s bed demo/mitdb_201_demo \
      >"$work/replay.log" 2>&1 || { echo "replay failed" >>"$work/replay.log"; exit 1; } ) &
  replay_pid=$!
  pids+=("$replay_pid")
  ( sleep 3; for i in 1 2 3; do echo "bed-0001:not a frame $i"; done \
      | kcat -b "$bootstrap" -P -t ecg.frames -K: ) &
}

committed_count() { # read_committed messages on topic $1
  timeout 60 kcat -b "$bootstrap" -X isolation.level=read_committed -C -t "$1" -e -o beginning -q -f 'x\n' 2>/dev/null | wc -l
}

# Waits until the embeddings of run NAME stop growing for 6 s (at least $2 of them, if given), up to
# $EOS_SETTLE_S (300 s).
wait_settled() {
  local name=$1 least=${2:-1} last=-1 same=0 n
  for _ in $(seq $((${EOS_SETTLE_S:-300} / 2))); do
    n=$(committed_count "$name.embeddings")
    if [ "$n" -eq "$last" ] && [ "$n" -ge "$least" ]; then
      same=$((same + 1))
      [ "$same" -ge 3 ] && return 0
    else
      same=0
    fi
    last=$n
    sleep 2
  done
  fail "the embeddings of $name did not settle (last count $last, expected at least $least)"
}

# Waits until run NAME has raised technical/signal_lost for every bed: its last outputs once the recordings
# end (streams.signal_loss_s of silence, counted again after a restart), in an undisturbed run and a
# disturbed one alike, so both are compared with them.
wait_signal_lost() {
  local name=$1 n=0
  for _ in $(seq 60); do
    n=$(timeout 60 "$METS" tail --bootstrap "$bootstrap" --alerts -t "$name.alerts" --from-beginning -e 2>/dev/null |
      python3 -c 'import json, sys
print(len({a["stream_id"] for a in map(json.loads, sys.stdin) if a["label"] == "signal_lost" and a["state"] == "raised"}))')
    [ "$n" -ge "$EOS_BEDS" ] && return 0
    sleep 2
  done
  fail "signal_lost raised for $n of the $EOS_BEDS beds of $name"
}

# What read_committed consumers see of run NAME, into $work/NAME/ (within $EOS_DUMP_S, 120 s, per topic).
eos_dump() {
  local name=$1 kind
  mkdir -p "$work/$name"
  for kind in embeddings alerts deadletter; do
    local flag=--$kind file=$kind
    [ "$kind" = deadletter ] && flag=--dead-letters file=deadletters
    timeout "${EOS_DUMP_S:-120}" "$METS" tail --bootstrap "$bootstrap" "$flag" -t "$name.$kind" --from-beginning -e --vectors \
      >"$work/$name/$file.jsonl" 2>"$work/$name-tail.log" || fail "mets tail $name.$kind"
  done
}

# No transaction of run NAME's instances left open (Kafka's own tool).
no_open_transactions() {
  local out
  out=$(java -Xmx256m -XX:TieredStopAtLevel=1 -Dlog4j2.configurationFile="$work/kafka/log4j2.properties" \
    -cp "$kafka_lib/*" org.apache.kafka.tools.TransactionsCommand --bootstrap-server "$bootstrap" list 2>&1) \
    || fail "kafka-transactions list: $out"
  echo "$out" | grep "^$1-" | awk '{print $1, $4}' >"$work/txn-$1"
  if grep -qw Ongoing "$work/txn-$1"; then fail "open transactions: $(cat "$work/txn-$1")"; fi
  echo "transactions of $1: $(tr '\n' ' ' <"$work/txn-$1")"
}

# `mets tail --since` on the real broker (the mock cannot look up offsets by time): from the median
# timestamp of run NAME's embeddings it must print, per partition, everything from the first message
# at or after that time.
check_since() {
  local name=$1 t expected got
  read -r t expected < <(python3 - "$work/$name/embeddings.jsonl" <<'PY'
import collections, json, sys
msgs = [json.loads(l)["kafka"] for l in open(sys.argv[1])]
t = sorted(m["timestamp_ms"] for m in msgs)[len(msgs) // 2]
parts = collections.defaultdict(list)
for m in msgs:
    parts[m["partition"]].append(m)
n = 0
for ms in parts.values():
    ms.sort(key=lambda m: m["offset"])
    first = next((i for i, m in enumerate(ms) if m["timestamp_ms"] >= t), len(ms))
    n += len(ms) - first
print(t, n)
PY
)
  got=$(timeout 60 "$METS" tail --bootstrap "$bootstrap" --embeddings -t "$name.embeddings" --since "$t" -e | wc -l)
  [ "$got" -eq "$expected" ] || fail "mets tail --since $t printed $got embeddings, expected $expected"
  echo "mets tail --since: $got of $(wc -l <"$work/$name/embeddings.jsonl") embeddings, as expected"
}

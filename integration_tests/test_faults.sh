#!/usr/bin/env bash
# metsd under broker faults, on a 3-broker development broker driven by `mets broker --control`: each
# broker down and back, leaders of the frames and output partitions moved, request errors on Produce,
# Fetch, AddPartitionsToTxn, EndTxn, TxnOffsetCommit (retriable, abortable and fatal ones), Heartbeat
# (the consumer loses its partitions) and JoinGroup, the group and transaction coordinators moved, 500 ms
# round trips; all while the demo recording is replayed at 5x. metsd may exit non-zero on a fault: it is
# then restarted, as systemd would. Nothing may be lost: every window (stream_id, window_end_us) and every
# alert (alert_id, state, window_end_us) of a fault-free reference run must appear. The reference runs
# on a fresh broker over the frames the faulty one stored (read back with kcat): under an injected
# Produce error the 2.0.2 mock now and then drops a frame it acknowledged to the replay, and metsd
# rightly bridges that gap and raises a signal_gap alert, which a reference over the replay's frames
# would not have. Duplicates are counted, not refused: librdkafka 2.0.2's mock cannot filter aborted
# transactions (docs/reliability.md, "Fault injection"); exactly-once is asserted on real Kafka elsewhere.
# usage: test_faults.sh PATH/TO/mets PATH/TO/metsd        (exit 77 = skipped: kcat is not installed)
set -euo pipefail
METS=${1:?usage: test_faults.sh PATH/TO/mets PATH/TO/metsd}
METSD=${2:?usage: test_faults.sh PATH/TO/mets PATH/TO/metsd}
. "$(dirname "$0")/lib.sh"

# The broker with a control pipe on fd 3: `fault COMMAND` sends one command and requires its "ok".
start_control_broker() {
  run=$1
  mkfifo "$work/$run.control"
  "$METS" broker --brokers 3 --control --bootstrap-file "$work/$run.bootstrap" <"$work/$run.control" \
    >"$work/$run.answers" 2>"$work/$run-broker.log" &
  broker_pid=$!
  pids+=("$broker_pid")
  exec 3>"$work/$run.control" # the broker's stdin stays open until stop_broker
  answered=1                  # the bootstrap line
  for _ in $(seq 100); do [ -s "$work/$run.bootstrap" ] && break; sleep 0.1; done
  [ -s "$work/$run.bootstrap" ] || fail "$run: no bootstrap file after 10 s"
  bootstrap=$(cat "$work/$run.bootstrap")
}
stop_broker() {
  exec 3>&-
  kill -TERM "$broker_pid"
  wait "$broker_pid" || fail "the broker exited $?"
}
declare -A injected=()
fault() {
  echo "$*" >&3
  answered=$((answered + 1))
  for _ in $(seq 100); do [ "$(wc -l <"$work/$run.answers")" -ge "$answered" ] && break; sleep 0.05; done
  local reply
  reply=$(sed -n "${answered}p" "$work/$run.answers")
  [[ $reply == "ok $*" ]] || fail "fault '$*': ${reply:-no answer in 5 s}"
  echo "$(now) fault: $*"
  local kind=$1
  [ "$1" = errors ] && kind="errors $2 $4"
  [ "$1" = coordinator ] && kind="coordinator $2"
  [ "$1" = rtt ] && kind="rtt $3 ms"
  injected[$kind]=$((${injected[$kind]:-0} + 1))
}

# Each line prefixed with the wall-clock time, to line metsd's log up with the faults.
stamp() { while IFS= read -r l; do printf '%(%T)T.%s %s\n' "${EPOCHREALTIME%.*}" "${EPOCHREALTIME#*.}" "$l"; done; }
now() { printf '%(%T)T.%s' "${EPOCHREALTIME%.*}" "${EPOCHREALTIME#*.}"; }

# metsd as systemd runs it (Restart=on-failure): restarted 1 s after a non-zero exit, at most 10 times
# (systemd's start limit). Each exit is a line in $work/RUN.exits; every start logs to $work/RUN-metsd.log.
start_metsd() {
  : >"$work/$run.exits"
  (
    child=
    stop() {
      local rc=0
      kill -TERM "$child" 2>/dev/null || true
      wait "$child" || rc=$?
      echo "stopped $rc" >>"$work/$run.exits"
    }
    trap 'stop; exit 0' TERM
    while :; do
      "$METSD" -c "$work/metsd.yaml" --bootstrap "$bootstrap" >/dev/null 2> >(stamp >>"$work/$run-metsd.log") &
      child=$!
      rc=0
      wait "$child" || rc=$?
      echo "exited $rc" >>"$work/$run.exits"
      [ "$rc" -eq 0 ] && exit 0
      [ "$(grep -c '^exited' "$work/$run.exits")" -gt 10 ] && exit 1
      echo "=== test_faults: metsd exited $rc, restarting in 1 s" >>"$work/$run-metsd.log"
      sleep 1
    done
  ) &
  supervisor=$!
  pids+=("$supervisor")
  for _ in $(seq 600); do grep -q consuming "$work/$run-metsd.log" 2>/dev/null && return 0; sleep 0.1; done
  fail "$run: metsd did not start consuming in 60 s"
}
stop_metsd() {
  kill -0 "$supervisor" 2>/dev/null || fail "$run: metsd exited 0 on its own: $(cat "$work/$run.exits")"
  kill -TERM "$supervisor"
  wait "$supervisor" || true
}
restarts() { grep -c '^exited [1-9]' "$work/$1.exits" || true; }

# What is on the output topics now, as sorted lines: RUN.windows "stream_id window_end_us" and
# RUN.alerts "alert_id state window_end_us", one line per message (duplicates kept).
collect() {
  timeout 30 "$METS" tail --bootstrap "$bootstrap" --embeddings --from-beginning -e >"$work/$1.embeddings.json" \
    2>"$work/tail.err" || fail "mets tail --embeddings: $(cat "$work/tail.err")"
  timeout 30 "$METS" tail --bootstrap "$bootstrap" --alerts --from-beginning -e >"$work/$1.alerts.json" \
    2>"$work/tail.err" || fail "mets tail --alerts: $(cat "$work/tail.err")"
  python3 - "$work/$1" <<'PY'
import json, sys
run = sys.argv[1]
for src, dst, fields in (("embeddings", "windows", ("stream_id",)), ("alerts", "alerts", ("alert_id", "state"))):
    keys = [" ".join([str(e[f]) for f in fields] + [str(int(e["window_end_us"]))])
            for e in map(json.loads, open("%s.%s.json" % (run, src)))]
    with open("%s.%s" % (run, dst), "w") as out:
        out.writelines(k + "\n" for k in sorted(keys))
PY
}

# Until the embeddings stop growing ($3 polls 2 s apart alike, default 3), at most $2 s.
wait_quiet() {
  local last=-1 same=0 n
  for _ in $(seq $(($2 / 2))); do
    collect "$1"
    n=$(wc -l <"$work/$1.windows")
    if [ "$n" -eq "$last" ] && [ "$n" -gt 0 ]; then same=$((same + 1)); else same=0; fi
    [ "$same" -ge "${3:-3}" ] && return 0
    last=$n
    sleep 2
  done
  fail "$1: the embeddings did not settle in $2 s ($last)"
}

summarise() {
  echo "faults injected:"
  for k in "${!injected[@]}"; do printf '  %-45s %d\n' "$k" "${injected[$k]}"; done | sort
  python3 - "$work/ref" "$work/faults" "$(restarts faults)" "$cut" <<'PY'
import collections, sys
ref, got, restarts, cut = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
for what in ("windows", "alerts"):
    lines = lambda path: collections.Counter(l for l in open(path).read().split("\n") if l)
    want, have = lines(ref + "." + what), lines(got + "." + what)
    required = {k for k in want if int(k.split()[-1]) <= cut}
    tail = lambda keys: len([k for k in keys if int(k.split()[-1]) > cut])
    missing = sorted(required - set(have))
    extra = sorted(set(have) - set(want))
    dups = sum(max(0, n - want[k]) for k, n in have.items() if k in want)
    print("%s: expected %d, seen %d, missing %d; duplicates %d (messages %d, reference %d); "
          "in the last 6 s (not required): reference %d, here %d; not in the reference %d"
          % (what, len(required), len(required & set(have)), len(missing), dups, sum(have.values()),
             sum(want.values()), tail(want), tail(have), len(extra)))
    for m in missing[:10]:
        print("  missing:", m)
    for m in extra[:5]:
        print("  not in the reference:", m)
print("metsd restarts:", restarts)
PY
}

sed -e "s|\.\./models/|$PWD/models/|" -e "s|labels: labels.yaml|labels: $PWD/conf/labels.yaml|" \
  -e "s|listen: 127.0.0.1:9464|listen: 127.0.0.1:0|" conf/metsd.yaml >"$work/metsd.yaml"
# librdkafka's group timing shortened (defaults: 45 s, 3 s): the mock does not know static membership, so
# every rejoin waits for the previous member's session to expire; with the defaults that is 45 s a time.
sed -i "s|^    client.id: metsd|&\n    session.timeout.ms: 6000\n    heartbeat.interval.ms: 1000|" "$work/metsd.yaml"
grep -q "session.timeout.ms: 6000" "$work/metsd.yaml" || fail "could not shorten session.timeout.ms in $work/metsd.yaml"
# To see what librdkafka does under each fault: METS_FAULTS_DEBUG=cgrp,eos,broker (its `debug` property);
# METS_FAULTS_KEEP=DIR keeps the logs, the control answers and the topics' JSON in DIR.
[ -n "${METS_FAULTS_DEBUG:-}" ] && sed -i "s|^    client.id: metsd|&\n    debug: $METS_FAULTS_DEBUG|" "$work/metsd.yaml"

# The faults, injected while the replay (52 s at 5x; a client of the faulty broker too) runs.
start_control_broker faults
start_metsd faults
timeout 150 "$METS" replay -q --bootstrap "$bootstrap" -x 5 -s bed-12 demo/mitdb_201_demo 2>"$work/replay.log" &
replay=$!
pids+=("$replay")
sleep 2
for b in 1 2 3; do # every broker, so whichever one coordinates the group and the transactions goes down
  fault down "$b"; sleep 2; fault up "$b"; sleep 1
done
fault leader ecg.frames 0 3; fault leader ecg.frames 1 1; fault leader ecg.frames 2 2; fault leader ecg.frames 3 3
sleep 1.5
fault leader ecg.embeddings 0 3; fault leader ecg.alerts 0 2
fault leader ecg.deadletter 0 1; fault leader metsd.state 0 2
sleep 1.5
fault errors Produce 3 NOT_LEADER_FOR_PARTITION; sleep 1.5
fault errors Fetch 3 NOT_LEADER_FOR_PARTITION; sleep 1.5
fault errors AddPartitionsToTxn 2 CONCURRENT_TRANSACTIONS; sleep 1.5     # retriable
fault errors EndTxn 1 NOT_COORDINATOR; sleep 1.5                        # retriable
fault errors TxnOffsetCommit 2 COORDINATOR_LOAD_IN_PROGRESS; sleep 1.5  # retriable
fault rtt all 500; sleep 4; fault rtt all 0; sleep 1
fault errors AddPartitionsToTxn 1 TOPIC_AUTHORIZATION_FAILED; sleep 2   # abortable: abort, rewind, redo
fault errors Heartbeat 1 UNKNOWN_MEMBER_ID; sleep 3                     # the member is fenced: partitions lost
fault errors JoinGroup 2 COORDINATOR_NOT_AVAILABLE                      # ... and its rejoin refused twice
# The transactional id is metsd's own choice; it names it in its log ("exactly-once as ID").
txn_id=$(sed -n 's/.*exactly-once as \([^ ,]*\).*/\1/p' "$work/faults-metsd.log" | head -1)
fault coordinator group metsd 2; fault coordinator txn "${txn_id:-metsd}" 2; sleep 8
fault errors EndTxn 1 PRODUCER_FENCED; sleep 3                          # fatal: metsd exits, is restarted
wait "$replay" || fail "the replay failed under faults: $(cat "$work/replay.log")"
wait_quiet faults 180 8 # 16 s alike: a restart after the fencing and the rejoin take about 10 s
kill -0 "$supervisor" 2>/dev/null || fail "faults: metsd is not running (systemd restarts it only after a failure); exits: $(tr '\n' ' ' <"$work/faults.exits")"
stop_metsd faults
collect faults
# The frames as the faulty broker stored them, one file per message in offset order, and what of the
# replay's 1,040 is not there.
kcat -b "$bootstrap" -C -t ecg.frames -o beginning -e -q -f '%p:%o:%S:%s' >"$work/frames.bin" 2>"$work/kcat.err" \
  || fail "kcat could not read ecg.frames: $(cat "$work/kcat.err")"
mkdir "$work/frames"
python3 - "$work/frames.bin" "$work/frames" <<'PY'
import sys
data, out = open(sys.argv[1], "rb").read(), sys.argv[2]
def varint(b, i):
    x = s = 0
    while True:
        x |= (b[i] & 0x7F) << s
        s += 7
        i += 1
        if b[i - 1] < 0x80:
            return x, i
def seq(v): # EcgFrame field 4 (proto/mets.proto); proto3 leaves a 0 out
    i = 0
    while i < len(v):
        key, i = varint(v, i)
        if key & 7 == 0:
            x, i = varint(v, i)
            if key >> 3 == 4:
                return x
        elif key & 7 == 2:
            n, i = varint(v, i)
            i += n
        else:
            i += 8 if key & 7 == 1 else 4
    return 0
i, msgs = 0, []
while i < len(data):
    p, o, n = (int(x) for x in data[i:].split(b":", 3)[:3])
    i += len(b"%d:%d:%d:" % (p, o, n))
    msgs.append((p, o, data[i:i + n]))
    i += n
msgs.sort()
for k, (p, o, v) in enumerate(msgs):
    open("%s/%05d" % (out, k), "wb").write(v)
seqs = sorted(seq(v) for _, _, v in msgs)
lost = sorted(set(range(1040)) - set(seqs))
print("frames stored by the faulty broker: %d of the replay's 1040%s" % (len(set(seqs)), "; not stored: seq " +
      " ".join(map(str, lost)) if lost else ""))
PY
stop_broker

# The reference: the same frames, as fast as possible, on a fresh broker with no faults.
start_control_broker ref
start_metsd ref
(cd "$work/frames" && kcat -b "$bootstrap" -P -t ecg.frames -k bed-12 -z none ./*) 2>"$work/kcat.err" \
  || fail "kcat could not produce the reference's frames: $(cat "$work/kcat.err")"
wait_quiet ref 120
stop_metsd ref
collect ref
[ "$(wc -l <"$work/ref.windows")" -ge 120 ] || fail "the reference run made only $(wc -l <"$work/ref.windows") windows"
stop_broker
# What must come out in both: the reference less its windows (and their alerts) ending in the last 6 s of
# the recording. Those are not certain even without faults: the reorder buffer holds back the last 2 s,
# and whether they are cut depends on how the frames came in batches (docs/delivery.md, "Limits";
# fault-free runs here made 123 or 125 windows). They are reported only.
read -r fs nsamp < <(awk 'NR == 1 { print $3, $4 }' demo/mitdb_201_demo.hea)
t0=$(python3 -c 'import json, sys; print(min(json.loads(l)["window_start_us"] for l in open(sys.argv[1])))' \
  "$work/ref.embeddings.json")
cut=$((t0 + nsamp * 1000000 / fs - 6000000))
for k in windows alerts; do awk -v cut="$cut" '$NF <= cut' "$work/ref.$k" >"$work/ref.required.$k"; done
summarise
[ -n "${METS_FAULTS_KEEP:-}" ] && cp "$work"/*.log "$work"/*.exits "$work"/*.answers "$work"/*.json "$METS_FAULTS_KEEP"/
if [ -n "$(comm -23 <(sort -u "$work/ref.required.windows") <(sort -u "$work/faults.windows"))" ] \
  || [ -n "$(comm -23 <(sort -u "$work/ref.required.alerts") <(sort -u "$work/faults.alerts"))" ]; then
  fail "faults: windows or alerts of the reference run are missing; metsd exits: $(tr '\n' ' ' <"$work/faults.exits")"
fi
echo "ok: nothing lost under $(( $(printf '%s+' "${injected[@]}") 0 )) faults, metsd restarted $(restarts faults) times"

#!/usr/bin/env bash
# mets pcd, the Alert Reporter, against an independent alert manager: integration_tests/hl7/AlertManager.java
# on HAPI HL7v2, which parses and validates every PCD-04 message (HL7 v2.6 ORU^R40) and answers ACK^R41,
# a negative acknowledgement (AE) on purpose every 7th message and no answer at all (the connection dropped)
# every 11th, taking 20 ms over each. metsd scores the demo recording as 6 beds on a real Kafka broker while
# mets pcd reports its alert events and is SIGKILLed every few seconds and restarted. Then every alert
# event of the topic must have been acknowledged (none lost), the first acknowledgements of each bed must
# come in the topic's order, every message must pass the manager's checks, and a message sent twice must
# carry the same control id. Prints sent, acknowledged, refused, dropped, lost and doubled.
# usage: test_pcd.sh PATH/TO/mets PATH/TO/metsd   (exit 77 = skipped: no java, javac or mvn)
set -euo pipefail
METS=${1:?usage: test_pcd.sh PATH/TO/mets PATH/TO/metsd}
METSD=${2:?usage: test_pcd.sh PATH/TO/mets PATH/TO/metsd}
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/eos_lib.sh"
command -v javac >/dev/null || { echo "SKIP: javac not installed"; exit 77; }
start=$SECONDS
start_real_kafka
EOS_BEDS=6 EOS_SPEED=10
eos_topics ward
eos_config ward

# The alert manager, compiled against HAPI.
hl7_lib=$(integration_tests/resolve_jars.sh hl7)
mkdir -p "$work/am"
javac -d "$work/am" -cp "$hl7_lib/*" integration_tests/hl7/AlertManager.java || fail "javac AlertManager.java"
java -Xmx256m -XX:TieredStopAtLevel=1 -cp "$hl7_lib/*:$work/am" AlertManager --port-file "$work/am.port" \
  --log "$work/am.log" --first "$work/first.txt" --nack-every 7 --drop-every 11 --delay-ms 20 \
  >"$work/am.out" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -s "$work/am.port" ] && break; sleep 0.1; done
[ -s "$work/am.port" ] || fail "the alert manager did not start: $(cat "$work/am.out")"

cat >"$work/pcd.yaml" <<EOF
kafka:
  bootstrap_servers: $bootstrap
  topic: ward.alerts
manager:
  address: 127.0.0.1:$(cat "$work/am.port")
  ack_timeout_s: 2s
  retry_min_s: 50ms
  retry_max_s: 1s
hl7:
  point_of_care: ICU
metrics:
  listen: 127.0.0.1:0
EOF
"$METS" pcd --check-config "$work/pcd.yaml" >/dev/null || fail "the configuration is refused"
start_pcd() { # [FAILPOINTS]
  METS_FAILPOINTS=${1:-} "$METS" pcd "$work/pcd.yaml" >>"$work/pcd.log" 2>&1 &
  pcd_pid=$!
  pids+=("$pcd_pid")
}
start_pcd
start_metsd ward a
eos_replay

# While the recording plays, mets pcd runs alternate: one kills itself (SIGKILL) between its 2nd
# acknowledgement and that event's commit, as a crash may, so the event is sent again; the next is SIGKILLed
# after 2-4 s wherever it is. And once more after the recording.
start_pcd pcd.acknowledged=2
runs=1 kills=0 crashes=0
while kill -0 "$replay_pid" 2>/dev/null; do
  if [ $((runs % 2)) = 1 ]; then
    while kill -0 "$pcd_pid" 2>/dev/null && kill -0 "$replay_pid" 2>/dev/null; do sleep 0.2; done
    kill -0 "$pcd_pid" 2>/dev/null || crashes=$((crashes + 1))
  else
    sleep $((2 + RANDOM % 3))
  fi
  kill -KILL "$pcd_pid" 2>/dev/null && kills=$((kills + 1))
  wait "$pcd_pid" 2>/dev/null || true
  runs=$((runs + 1))
  start_pcd "$([ $((runs % 2)) = 1 ] && echo pcd.acknowledged=2)"
done
wait "$replay_pid" || fail "replay: $(cat "$work/replay.log")"
wait_settled ward
wait_signal_lost ward # the last events: every bed's signal lost once its recording ends
kill -KILL "$pcd_pid" 2>/dev/null && kills=$((kills + 1))
wait "$pcd_pid" 2>/dev/null || true
start_pcd

# The alert topic as a read_committed consumer sees it, in order per partition.
events=$(committed_count ward.alerts)
[ "$events" -gt 10 ] || fail "only $events alert events: the test needs more"
timeout 60 "$METS" tail --alerts --from-beginning --exit-at-end --bootstrap "$bootstrap" -t ward.alerts \
  >"$work/topic.jsonl" 2>"$work/tail.err" || fail "mets tail: $(cat "$work/tail.err")"
# Every event acknowledged (up to 60 s), then the checks.
check() {
  python3 - "$work/topic.jsonl" "$work/am.log" "$@" <<'PY'
import collections, json, sys
topic = [json.loads(l) for l in open(sys.argv[1])]
log = [json.loads(l) for l in open(sys.argv[2])]
final = len(sys.argv) > 3
ids = [f'{e["alert_id"]}-{e["state"][0].upper()}-{e["window_end_us"]}' for e in topic]
acked = collections.Counter(r["control_id"] for r in log if r.get("reply") == "AA")
lost = [i for i in ids if not acked[i]]
if not final:
    sys.exit(1 if lost else 0)
errors = [r for r in log if "error" in r or "invalid" in r]
assert not errors, errors[:3]
assert len(set(ids)) == len(ids), "control ids are not unique to events"
unknown = set(r["control_id"] for r in log) - set(ids)
assert not unknown, ("messages of no event", sorted(unknown)[:3])
# The order per bed: the first acknowledgement of each event comes in the topic's order.
first = {}
for k, r in enumerate(log):
    if r.get("reply") == "AA":
        first.setdefault(r["control_id"], k)
by_bed = collections.defaultdict(list)
for e, i in zip(topic, ids):
    by_bed[e["stream_id"]].append(i)
for bed, seq in by_bed.items():
    assert [first[i] for i in seq] == sorted(first[i] for i in seq), f"{bed}: acknowledged out of order"
# What the manager read is what the topic says: bed, phase, priority, type and the event code.
byid = {r["control_id"]: r for r in log if r.get("reply") == "AA"}
phases = {"raised": {"start"}, "updated": {"continue", "update"}, "cleared": {"end"}}
for e, i in zip(topic, ids):
    r = byid[i]
    assert r["bed"] == e["stream_id"] and r["alert_id"] == e["alert_id"], (e, r)
    assert r["phase"] in phases[e["state"]], (e, r)
    assert r["priority"] == {1: "PH", 2: "PM", 3: "PL"}[e["priority"]], (e, r)
    assert r["type"] == ("ST" if e.get("technical") else "SP"), (e, r)
    if (e["label_group"], e["label"]) == ("rhythm", "AFIB"):
        assert r["event"] == "199736" and r["text"] == "atrial fibrillation", r
af = sum(e["label"] == "AFIB" for e in topic)
assert af >= 6, f"{af} AF events: expected the demo's AF episodes on each bed"
replies = collections.Counter(r.get("reply") for r in log)
doubled = sum(n - 1 for n in acked.values() if n > 1)
assert doubled >= 1, "no event was sent again: the crash between acknowledgement and commit was not exercised"
print(f"{len(ids)} alert events ({af} AF) on {len(by_bed)} beds; {len(log)} messages received: "
      f"{replies['AA']} acknowledged, {replies['AE']} refused (AE), {replies['drop']} dropped; "
      f"lost {len(lost)}, doubled {doubled} (sent again after a SIGKILL, same control id)")
PY
}
for _ in $(seq 60); do check && break; sleep 1; done
check final || fail "the alert manager's view differs"
echo "mets pcd: $runs runs, $crashes killed between an acknowledgement and its commit, $kills SIGKILLed at random"

# Its metrics count what it did; a refusal is logged as an error with the manager's reason.
port=$(sed -nE 's/.*metrics on port ([0-9]+).*/\1/p' "$work/pcd.log" | tail -1)
python3 - "$port" <<'PY' || fail "metrics"
import sys, urllib.request
base = "http://127.0.0.1:%s" % sys.argv[1]
text = urllib.request.urlopen(base + "/metrics", timeout=10).read().decode()
values = {l.rsplit(" ", 1)[0]: float(l.rsplit(" ", 1)[1]) for l in text.splitlines() if l and not l.startswith("#")}
assert values['mets_pcd_messages_total{result="accepted"}'] >= 0 and values["mets_pcd_unacknowledged_seconds"] == 0, values
assert "mets_pcd_events_total{outcome=\"delivered\"}" in values and "mets_pcd_manager_connected" in values
assert urllib.request.urlopen(base + "/healthz", timeout=10).read().decode().strip() == "ok"
PY
grep -q "the alert manager refused .* (AE, try 1): .*busy (a test's NACK)" "$work/pcd.log" \
  || fail "no refusal logged with its reason: $(tail -5 "$work/pcd.log")"
grep -q "not acknowledged (try 1): .*closed the connection before acknowledging" "$work/pcd.log" \
  || fail "no dropped connection logged"
kill -TERM "$pcd_pid"
wait "$pcd_pid" || fail "mets pcd exited $? on SIGTERM"
[ -z "${METS_PCD_FIRST:-}" ] || cp "$work/first.txt" "$METS_PCD_FIRST"
echo "test_pcd: $((SECONDS - start)) s"

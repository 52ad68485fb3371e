#!/usr/bin/env bash
# metsd against a corpus of malformed EcgFrames (make_bad_frames: truncated protobuf, wrong wire types,
# lengths beyond the buffer, absurd sizes, non-finite values, bad rates, times, ids, lead names, random
# bytes, an empty and a null message, valid frames beyond the stream cap) among three good streams, one of
# them out of order and with duplicates. Checked: every malformed frame is in the dead-letter topic with its
# expected reason and its original bytes verbatim (matched by partition/offset), no good frame is, the good
# streams produce their windows (the shuffled one exactly the windows of the ordered one), the Prometheus
# counters account for every frame, and metsd is still running at the end and stops cleanly.
# usage: test_bad_input.sh PATH/TO/mets PATH/TO/metsd PATH/TO/make_bad_frames   (exit 77: kcat missing)
set -euo pipefail
METS=${1:?usage: test_bad_input.sh PATH/TO/mets PATH/TO/metsd PATH/TO/make_bad_frames}
METSD=${2:?usage: test_bad_input.sh PATH/TO/mets PATH/TO/metsd PATH/TO/make_bad_frames}
MAKE_BAD=${3:?usage: test_bad_input.sh PATH/TO/mets PATH/TO/metsd PATH/TO/make_bad_frames}
. "$(dirname "$0")/lib.sh"
start_broker

# The shipped configuration with room for exactly the 3 good streams.
start_metsd_on_broker -e "s|max_streams: 1024|max_streams: 3|"
grep -q "max_streams: 3" "$work/metsd.yaml" || fail "conf/metsd.yaml has no streams.max_streams: 1024 to replace"

# Prometheus counters as "name{labels} value" lines.
metrics() { python3 -c 'import sys, urllib.request
print(urllib.request.urlopen("http://127.0.0.1:%s/metrics" % sys.argv[1], timeout=10).read().decode())' "$port"; }
counter() { metrics | awk -v k="$1" '$1 == k { print $2 }'; }
wait_frames() {
  local deadline=$((SECONDS + 60))
  while [ "$SECONDS" -lt "$deadline" ]; do
    kill -0 "$metsd" 2>/dev/null || fail "metsd exited while consuming the corpus"
    [ "$(counter mets_frames_total 2>/dev/null)" = "$1" ] && return 0
    sleep 0.1
  done
  fail "metsd consumed $(counter mets_frames_total) frames of $1"
}

timeout 60 "$MAKE_BAD" "$bootstrap" "$work/corpus.jsonl" >"$work/make_bad_frames.log" 2>&1 || fail "make_bad_frames"
wait_frames "$(wc -l <"$work/corpus.jsonl")"
# Only now, with good-a, good-b and good-c holding the 3 places, two more valid streams: refused (stream_cap).
timeout 60 "$MAKE_BAD" --stream-cap "$bootstrap" "$work/cap.jsonl" >>"$work/make_bad_frames.log" 2>&1 \
  || fail "make_bad_frames --stream-cap"
cat "$work/corpus.jsonl" "$work/cap.jsonl" >"$work/all.jsonl"
wait_frames "$(wc -l <"$work/all.jsonl")"
expected_dead=$(grep -vc '"expect": "ok"' "$work/all.jsonl")

# The dead letters, read twice: with kcat (an independent client: how many) and with mets tail (decoded).
deadline=$((SECONDS + 20))
while :; do
  n=$(timeout 20 kcat -b "$bootstrap" -C -t ecg.deadletter -e -o beginning -q -f 'x\n' | wc -l)
  [ "$n" -ge "$expected_dead" ] || [ "$SECONDS" -ge "$deadline" ] && break
  sleep 0.2
done
sleep 3 # the good streams' last windows: scored at the next commit
timeout 30 "$METS" tail -b "$bootstrap" --dead-letters --from-beginning --exit-at-end --vectors \
  >"$work/dead.jsonl" 2>"$work/tail.log" || fail "mets tail --dead-letters"
timeout 30 "$METS" tail -b "$bootstrap" --embeddings --from-beginning --exit-at-end \
  >"$work/embeddings.jsonl" 2>>"$work/tail.log" || fail "mets tail --embeddings"
metrics >"$work/metrics.txt" || fail "no /metrics"
kill -0 "$metsd" 2>/dev/null || fail "metsd is not running after the corpus"

checked=0
python3 - "$work/all.jsonl" "$work/dead.jsonl" "$work/embeddings.jsonl" "$work/metrics.txt" <<'PY' || checked=$?
import base64, collections, json, sys
corpus = [json.loads(l) for l in open(sys.argv[1])]
dead = [json.loads(l) for l in open(sys.argv[2])]
emb = [json.loads(l) for l in open(sys.argv[3])]
metrics = {l.rsplit(" ", 1)[0]: float(l.rsplit(" ", 1)[1]) for l in open(sys.argv[4]) if l.strip() and l[0] != "#"}
errors = []
by_place = {}
for d in dead:
    place = (d["topic"], d.get("partition", 0), d.get("offset", 0))
    if place in by_place:
        errors.append("two dead letters for %s" % (place,))
    by_place[place] = d
bad = [c for c in corpus if c["expect"] != "ok"]
for c in corpus:
    d = by_place.pop(("ecg.frames", c["partition"], c["offset"]), None)
    what = "%s at %d/%d" % (c["kind"], c["partition"], c["offset"])
    if c["expect"] == "ok":
        if d:
            errors.append("%s was dead-lettered: %s" % (what, d["reason_text"]))
        continue
    if not d:
        errors.append("%s (expected %s) is not in the dead-letter topic" % (what, c["expect"]))
        continue
    if d["reason"] != c["expect"] and not (c["expect"] == "any" and d["reason"] not in ("ok", "unspecified")):
        errors.append("%s: reason %s (%s), expected %s" % (what, d["reason"], d.get("reason_text"), c["expect"]))
    original, sent = base64.b64decode(d.get("original", "")), bytes.fromhex(c["hex"])
    if original != sent[:512 << 10] or int(d.get("original_size", 0)) != len(sent):
        errors.append("%s: original of %d bytes (size %s) is not the first 512 KiB of the %d bytes sent"
                      % (what, len(original), d.get("original_size"), len(sent)))
    c["seen"] = d["reason"]
errors += ["a dead letter of no corpus message: %s" % (p,) for p in by_place]

# The good streams: windows came out; the shuffled and duplicated good-b gives exactly good-a's windows.
ends = collections.defaultdict(list)
for e in emb:
    ends[e["stream_id"]].append(e["window_end_us"])
for s in ("good-a", "good-b", "good-c"):
    if len(ends[s]) != len(set(ends[s])):
        errors.append("%s: a window came out twice" % s)
if len(ends["good-a"]) < 5 or len(ends["good-c"]) < 2:
    errors.append("too few windows: %s" % {s: len(v) for s, v in ends.items()})
if sorted(ends["good-b"]) != sorted(ends["good-a"]):
    errors.append("good-b (out of order, duplicated) windows %s differ from good-a's %s" % (ends["good-b"], ends["good-a"]))
if set(ends) - {"good-a", "good-b", "good-c"}:
    errors.append("windows of other streams: %s" % sorted(set(ends) - {"good-a", "good-b", "good-c"}))

# Prometheus: every frame counted once, as processed or as dead-lettered with the reason it got.
seen = collections.Counter(c["seen"] for c in bad if "seen" in c)
dl = {k.split('"')[1]: int(v) for k, v in metrics.items() if k.startswith("mets_frames_dead_lettered_total{")}
if metrics.get("mets_frames_total") != len(corpus):
    errors.append("mets_frames_total %s, %d frames sent" % (metrics.get("mets_frames_total"), len(corpus)))
if {k: v for k, v in dl.items() if v} != dict(seen):
    errors.append("dead-lettered by reason: metrics %s, topic %s" % ({k: v for k, v in dl.items() if v}, dict(seen)))
processed = len(corpus) - sum(dl.values())
if processed != len(corpus) - len(bad):
    errors.append("%d frames processed, %d good frames sent" % (processed, len(corpus) - len(bad)))
# good-b's duplicates are dropped and its late frames put back in order, not dead-lettered, and /metrics says so
ev = {e: metrics.get('mets_stream_events_total{event="%s"}' % e, 0) for e in ("duplicate", "reordered")}
if ev["duplicate"] < 3 or ev["reordered"] < 1:
    errors.append("mets_stream_events_total %s: good-b's duplicates and late frames not counted" % ev)
if metrics.get("mets_windows_total") != len(emb):
    errors.append("mets_windows_total %s, %d embeddings" % (metrics.get("mets_windows_total"), len(emb)))
if metrics.get("mets_deliveries_failed_total"):
    errors.append("%d outputs not delivered" % metrics["mets_deliveries_failed_total"])

for e in errors:
    print("FAIL:", e)
kinds = collections.Counter(c["kind"] for c in bad)
reordered = sum(1 for c in corpus if c["kind"] == "out-of-order or duplicate seq")
print("%d malformed inputs of %d kinds, %d reasons (%s); %d good frames (%d out of order or duplicated, "
      "none dead-lettered), windows good-a/b/c %d/%d/%d; mets_frames_total %d = %d processed + %d dead-lettered"
      % (len(bad), len(kinds), len(seen), " ".join("%s=%d" % kv for kv in sorted(seen.items())),
         len(corpus) - len(bad), reordered, len(ends["good-a"]), len(ends["good-b"]), len(ends["good-c"]),
         len(corpus), processed, sum(dl.values())))
sys.exit(1 if errors else 0)
PY

kill -TERM "$metsd"
status=0
wait "$metsd" || status=$?
stats=$(grep 'stopped:' "$work/metsd.log") || fail "no final statistics"
# What metsd itself counted as failed deliveries must be on /metrics too.
failed=$(echo "$stats" | sed -E 's/.* ([0-9]+) failed deliveries.*/\1/')
[ "$failed" = "$(awk '$1 == "mets_deliveries_failed_total" { print $2 }' "$work/metrics.txt")" ] \
  || fail "metsd logged $failed failed deliveries, /metrics says otherwise"
[ "$checked" -eq 0 ] || fail "bad input"
[ "$n" -eq "$expected_dead" ] || fail "kcat sees $n dead letters, expected $expected_dead"
[ "$status" -eq 0 ] || fail "metsd exited $status on SIGTERM"
echo "ok: bad input"

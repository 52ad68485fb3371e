# metsd end to end on the broker at $bootstrap (sourced after lib.sh by test_metsd.sh, on the development
# broker, and test_real_kafka.sh, on a real Kafka broker): the demo recording (MIT-BIH 201, AF at 0-78 s
# and 177-214 s) replayed as fast as possible plus one malformed frame. Checked with an independent client
# (kcat): every window produced an embedding, the malformed frame is in the dead-letter topic, every
# frame is accounted for, the AF alerts overlap the annotated AF episodes, and systemd hears READY,
# watchdog pings and STOPPING; SIGHUP takes a reworded prompt and refuses a broken labels file; the
# Prometheus endpoint counts it all. Needs $METS, $METSD, $bootstrap and the topics of conf/metsd.yaml.
# (The body is not indented: its here-documents end at column 0.)
metsd_end_to_end() {
# systemd's notify socket, played by a datagram listener: READY, watchdog pings and STOPPING must arrive.
python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "w") as out:
    while True:
        out.write(s.recv(4096).decode() + "\n")
        out.flush()
' "$work/notify.sock" "$work/notify" &
pids+=($!)
for _ in $(seq 50); do [ -S "$work/notify.sock" ] && break; sleep 0.1; done
# A copy of the shipped configuration whose labels file this test edits (paths made absolute).
sed -e "s|\.\./models/|$PWD/models/|" -e "s|labels: labels.yaml|labels: $work/labels.yaml|" \
  -e "s|listen: 127.0.0.1:9464|listen: 127.0.0.1:0|" conf/metsd.yaml >"$work/metsd.yaml"
cp conf/labels.yaml "$work/labels.yaml"
NOTIFY_SOCKET="$work/notify.sock" "$METSD" -c "$work/metsd.yaml" --bootstrap "$bootstrap" --print-alerts \
  >"$work/alerts" 2>"$work/metsd.log" &
metsd=$!
pids+=("$metsd")
for _ in $(seq 300); do grep -q consuming "$work/metsd.log" && break; sleep 0.1; done
grep -q consuming "$work/metsd.log" || fail "metsd did not start"

# SIGHUP: a reworded prompt is re-embedded and taken; a broken labels file is refused and the running
# prompts stay (the AF checks below run on them).
reloaded() { for _ in $(seq 600); do [ "$(grep -c "$1" "$work/metsd.log")" -ge "$2" ] && return 0; sleep 0.1; done; return 1; }
sed -i 's/- atrial fibrillation with rapid ventricular response/- atrial fibrillation, rapid ventricular response/' "$work/labels.yaml"
kill -HUP "$metsd"
reloaded "reloaded $work/metsd.yaml: 24 labels" 1 || fail "a good reload was not taken"
cp "$work/labels.yaml" "$work/labels.good"
echo "groups: [" >>"$work/labels.yaml"
kill -HUP "$metsd"
reloaded "reload failed, keeping the running configuration: .*$work/labels.yaml:[0-9]*:[0-9]*:" 1 || fail "a bad reload was not refused"
cp "$work/labels.good" "$work/labels.yaml"
# A change that only a restart can apply is refused by name, and the running configuration stays.
cp "$work/metsd.yaml" "$work/metsd.good"
sed -i 's/^  group_id: metsd$/  group_id: another-group/' "$work/metsd.yaml"
kill -HUP "$metsd"
reloaded "reload refused, keeping the running configuration: $work/metsd.yaml: kafka.group_id changed, which takes a restart" 1 \
  || fail "a reload that changes kafka.group_id was not refused"
cp "$work/metsd.good" "$work/metsd.yaml"
timeout 60 "$METS" replay -q --bootstrap "$bootstrap" -x 0 -s bed-12 demo/mitdb_201_demo || fail "replay"
echo "bed-12:not a frame" | timeout 20 kcat -b "$bootstrap" -P -t ecg.frames -K: || fail "kcat -P"
frames=1041 # 260 s in 250 ms frames, and the malformed one
for _ in $(seq 300); do
  n=$(timeout 20 kcat -b "$bootstrap" -C -t ecg.embeddings -e -o beginning -q -f 'x\n' | wc -l)
  [ "$n" -ge 120 ] && break
  sleep 0.2
done
sleep 2
# Prometheus: every frame, dead letter, window and reload counted; /healthz says ok.
port=$(sed -nE 's/.*metrics on port ([0-9]+).*/\1/p' "$work/metsd.log")
python3 - "$port" <<'PY' || fail "metrics"
import sys, urllib.request
base = "http://127.0.0.1:%s" % sys.argv[1]
text = urllib.request.urlopen(base + "/metrics", timeout=10).read().decode()
values = {l.rsplit(" ", 1)[0]: float(l.rsplit(" ", 1)[1]) for l in text.splitlines() if l and not l.startswith("#")}
assert values["mets_frames_total"] == 1041, values["mets_frames_total"]
assert values['mets_frames_dead_lettered_total{reason="decode"}'] == 1
assert values["mets_windows_total"] >= 120
assert values['mets_reloads_total{result="ok"}'] == 1 and values['mets_reloads_total{result="failed"}'] == 2
assert values['mets_stage_seconds_count{stage="encode"}'] > 0 and values['mets_transactions_total{result="committed"}'] > 0
assert urllib.request.urlopen(base + "/healthz", timeout=10).read().decode().strip() == "ok"
PY
kill -TERM "$metsd"
wait "$metsd" || fail "metsd exited $?"
stats=$(grep 'stopped:' "$work/metsd.log") || fail "no final statistics"
read -r nframes ndead nwindows < <(echo "$stats" | sed -E 's/.*stopped: ([0-9]+) frames, ([0-9]+) dead letters, ([0-9]+) windows.*/\1 \2 \3/')
[ "$nframes" -eq "$frames" ] || fail "metsd consumed $nframes frames, expected $frames"
[ "$ndead" -eq 1 ] || fail "$ndead dead letters, expected 1"
embeddings=$(timeout 20 kcat -b "$bootstrap" -C -t ecg.embeddings -e -o beginning -q -f 'x\n' | wc -l)
[ "$embeddings" -eq "$nwindows" ] || fail "$embeddings embeddings for $nwindows windows"
dead=$(timeout 20 kcat -b "$bootstrap" -C -t ecg.deadletter -e -o beginning -q -f '%k\n')
[ "$dead" = "bed-12" ] || fail "dead letters (keyed by the frame's key): $dead"
for m in READY=1 WATCHDOG=1 STOPPING=1; do grep -q "^$m" "$work/notify" || fail "no $m on the notify socket"; done
alerts=$(timeout 20 kcat -b "$bootstrap" -C -t ecg.alerts -e -o beginning -q -f 'x\n' | wc -l)
[ "$alerts" -eq "$(wc -l <"$work/alerts")" ] || fail "$alerts alerts on the topic, $(wc -l <"$work/alerts") printed"

# AF raised within the first episode and again within the second; cleared after each (times from the
# window ends, seconds into the recording).
python3 - "$work/alerts" <<'PY' || fail "AF alerts do not match the annotated episodes"
import json, sys
t0 = 1767225600000000
ev = [json.loads(l) for l in open(sys.argv[1])]
af = [(e["state"], (e["window_end_us"] - t0) / 1e6) for e in ev if e["label"] == "AFIB" and e["state"] != "updated"]
print("AFIB:", af)
raised = [t for s, t in af if s == "raised"]
cleared = [t for s, t in af if s == "cleared"]
assert any(t <= 78 for t in raised), "no AF raised during 0-78 s"
assert any(177 <= t <= 214 for t in raised), "no AF raised during 177-214 s"
assert any(78 <= t <= 120 for t in cleared) and any(214 <= t <= 260 for t in cleared), "AF not cleared after the episodes"
PY
# Traceable outputs: every embedding and alert names the model file by its SHA-256 and the prompt set as
# loaded (the reload above reworded a prompt, so every output carries the reloaded set, not the first).
model="sha256:$(sha256sum models/mets-ecg.mets | cut -c1-16)"
first=$(sed -nE 's/.*consuming .* prompts (sha256:[0-9a-f]{16})$/\1/p' "$work/metsd.log")
reloaded=$(sed -nE 's/.*reloaded .*prompts \((sha256:[0-9a-f]{16})\).*/\1/p' "$work/metsd.log")
[ -n "$first" ] && [ -n "$reloaded" ] && [ "$first" != "$reloaded" ] || fail "prompt set versions: '$first', '$reloaded'"
timeout 30 "$METS" tail --bootstrap "$bootstrap" --alerts --from-beginning -e >"$work/tail-alerts" || fail "mets tail"
timeout 30 "$METS" tail --bootstrap "$bootstrap" --embeddings --from-beginning -e >"$work/tail-emb" || fail "mets tail"
python3 - "$work/tail-alerts" "$work/tail-emb" "$model" "$reloaded" <<'PY' || fail "outputs do not name their model and prompts"
import json, sys
alerts = [json.loads(l) for l in open(sys.argv[1])]
emb = [json.loads(l) for l in open(sys.argv[2])]
model, prompts = sys.argv[3], sys.argv[4]
assert alerts and emb
for a in alerts:
    assert a["model_version"] == model and a["prompt_set_version"] == prompts, a
for e in emb:
    assert e["model_id"] == "mets-ecg" and e["model_version"] == model, e
PY
echo "ok: $nframes frames, $nwindows windows and embeddings, 1 dead letter, $alerts alerts; model $model, prompts $reloaded"
}

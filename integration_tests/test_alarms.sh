#!/usr/bin/env bash
# The alarm evaluation end to end, short (eval/alarms.sh on committed excerpts, the dev broker): the demo
# recording (MIT-BIH 201, AF twice), VFDB 422 from 1480 s (sinus, noise, then ventricular fibrillation
# from 55 s) and NSTDB 118e_6 from 240 s (electrode-motion noise at -6 dB from 60 s to 180 s, on a patient
# with no AF, VT or VF) replayed side by side through metsd with the shipped configuration and model, the
# alert events scored by `mets eval --alarms`. Checked: both AF episodes and the VF are announced, no false
# clinical alarm on any of the three, VF within 10 s; the noise raises the technical alert noisy_signal
# while it lasts and no clinical alarm.
# usage: test_alarms.sh PATH/TO/mets PATH/TO/metsd        (exit 77 = skipped: kcat is not installed)
set -euo pipefail
export METS=${1:?usage: test_alarms.sh PATH/TO/mets PATH/TO/metsd}
export METSD=${2:?usage: test_alarms.sh PATH/TO/mets PATH/TO/metsd}
. "$(dirname "$0")/lib.sh"

data=$work/data
mkdir -p "$data/demo" "$data/vfdb" "$data/nstdb"
ln -s "$PWD"/demo/mitdb_201_demo.* "$data/demo/"
ln -s "$PWD"/tests/fixtures/alarms/vfdb/* "$data/vfdb/"
ln -s "$PWD"/tests/fixtures/alarms/nstdb/* "$data/nstdb/"
eval/alarms.sh --dev-broker --data "$data" --records demo/mitdb_201_demo,vfdb/422_vf,nstdb/118e_6 --nstdb none \
  --out "$work/out" >"$work/alarms.out" 2>"$work/alarms.log" || fail "eval/alarms.sh failed"
cat "$work/alarms.out"

python3 - "$work/out" <<'PY' || fail "alarm results"
import json, sys
out = sys.argv[1]
r = json.load(open(out + "/alarms.json"))
assert r["records"] == 3, r["records"]
af, vf, vt, fl = (r["alarms"][k] for k in ("AFIB", "VF", "VT", "AFLT"))
assert af["ref_episodes"] == 2 and af["ref_hit"] == 2, ("AF episodes", af)
assert vf["ref_episodes"] == 1 and vf["ref_hit"] == 1, ("VF episode", vf)
assert vf["delay_median_s"] <= 10, ("VF delay", vf)
for name, k in (("AF", af), ("VF", vf), ("VT", vt), ("flutter", fl)):
    assert k["false_alarms"] == 0, (name, "false alarms", k)
# NSTDB 118e_6 from 240 s: noise on from 60 s to 180 s of the excerpt.
t0 = 1767225600.0
def secs(iso):
    from datetime import datetime, timezone
    return datetime.strptime(iso[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc).timestamp() + \
        float("0" + iso[19:-1]) - t0
ev = [json.loads(l) for l in open(out + "/alerts.jsonl")]
noisy = [e for e in ev if e["stream_id"] == "nstdb/118e_6"]
tech = [e for e in noisy if e.get("technical") and e["label"] == "noisy_signal"]
raised = [secs(e["window_end"]) for e in tech if e["state"] == "raised"]
cleared = [secs(e["window_end"]) for e in tech if e["state"] == "cleared"]
assert raised and 60 <= raised[0] <= 80, ("noisy_signal raised", raised)
assert cleared and 180 <= cleared[-1] <= 200, ("noisy_signal cleared", cleared)
# most of the noise under the technical alarm (it may flicker off where a window reads through the noise)
up = [(secs(e["onset"]), secs(e["window_end"]), e["state"]) for e in tech if e["state"] != "updated"]
covered, start = 0.0, None
for onset, end, state in up:
    if state == "raised":
        start = onset
    elif start is not None:
        covered += max(0.0, min(end, 180) - max(start, 60)); start = None
assert covered >= 0.5 * 120, ("noisy_signal covers only %.0f s of the 120 s of noise" % covered)
clinical = [e for e in noisy if not e.get("technical") and e["state"] == "raised"]
assert not clinical, ("clinical alarms on the noise record", clinical)
print("alarms: AF 2/2, VF 1/1 (delay %.1f s), 0 false alarms; noisy_signal %.0f-%.0f s, over %.0f of the 120 s "
      "of noise" % (vf["delay_median_s"], raised[0], cleared[-1], covered))
PY

#!/usr/bin/env bash
# `mets plot` on the demo recording (demo/: MIT-BIH 201, AF in 177-214 s) with the AF alert metsd raised
# and cleared for it (`mets replay -s bed-12` + `metsd --print-alerts`, below as captured): the SVG parses
# as XML, is ECG paper at 25 mm/s (10 s rows = 250 mm of trace), has one trace per lead and row, one score
# line per label of the group and row, the raise mark at the onset (182 s) and the clear mark (228 s) where
# they belong; the scores it computes are metsd's (AFIB 0.9148 at 196 s, the raised alert's probability);
# the PNG has the PNG signature and the pixel size of the SVG's mm; a missing record, a range outside the
# record, an unknown lead and bad alert files fail with a message naming the file and leave no file behind.
# usage: test_plot.sh PATH/TO/mets [TEXT_MODEL]    (exit 77 = skipped: no converted language model)
set -euo pipefail
METS=${1:?usage: test_plot.sh PATH/TO/mets [TEXT_MODEL]}
MODEL=${2:-models/all-minilm-l6-v2.mets}
[ -s "$MODEL" ] || { echo "SKIP: no language model at $MODEL (scripts/setup.sh converts it)"; exit 77; }
command -v python3 >/dev/null || { echo "SKIP: python3 not installed"; exit 77; }
RECORD=demo/mitdb_201_demo

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

cat >"$work/alert.jsonl" <<'EOF'
{"alert_id":"514f2ed49d90b099149ab3773a39a1b1","stream_id":"bed-12","group":"rhythm","label":"AFIB","state":"raised","probability":0.9148,"onset_us":1767225782000000,"window_end_us":1767225796000000,"technical":false}
{"alert_id":"514f2ed49d90b099149ab3773a39a1b1","stream_id":"bed-12","group":"rhythm","label":"AFIB","state":"updated","probability":0.9262,"onset_us":1767225782000000,"window_end_us":1767225800000000,"technical":false}

{"alert_id":"514f2ed49d90b099149ab3773a39a1b1","stream_id":"bed-12","group":"rhythm","label":"AFIB","state":"cleared","probability":0.02252,"onset_us":1767225782000000,"window_end_us":1767225828000000,"technical":false}
EOF

"$METS" plot -m "$MODEL" --alert "$work/alert.jsonl" --from 180 --to 230 --print-scores -o "$work/af.svg" "$RECORD" \
  >"$work/scores.jsonl" 2>"$work/err" || fail "mets plot: $(cat "$work/err")"
"$METS" plot -m "$MODEL" --alert "$work/alert.jsonl" --from 180 --to 230 --px-per-mm 3 -o "$work/af.png" "$RECORD" \
  2>"$work/err" || fail "mets plot PNG: $(cat "$work/err")"

python3 - "$work" <<'EOF' || fail "the picture's structure (above)"
import json, re, struct, sys
from xml.dom import minidom
work = sys.argv[1]
doc = minidom.parse(f"{work}/af.svg")            # well-formed XML
svg = doc.documentElement
errors = []
def check(cond, what):
    if not cond:
        errors.append(what)

w_mm, h_mm = float(svg.getAttribute("width")[:-2]), float(svg.getAttribute("height")[:-2])
check(svg.getAttribute("viewBox") == f"0 0 {w_mm:.2f} {h_mm:.2f}", "the viewBox is in mm")
check(abs(w_mm - (22 + 250 + 6)) < 1e-6, f"width {w_mm} mm: expected 22 + 10 s x 25 mm/s + 6")
paths = doc.getElementsByTagName("path")
def cls(c):
    return [p for p in paths if p.getAttribute("class") == c]
def walk(d):
    """Points of a path of M (absolute) and l (relative) commands."""
    pts, x, y = [], 0.0, 0.0
    for cmd, args in re.findall(r"([Ml])([^Ml]*)", d):
        nums = [float(n) for n in re.findall(r"-?(?:\d+\.?\d*|\.\d+)", args)]
        for i in range(0, len(nums), 2):
            if cmd == "M" and i == 0:
                x, y = nums[0], nums[1]
            else:
                x, y = x + nums[i], y + nums[i + 1]
            pts.append((x, y))
    return pts

rows = [g for g in doc.getElementsByTagName("g") if g.getAttribute("id").startswith("row-")]
check(len(rows) == 5, f"{len(rows)} rows for 50 s, expected 5 of 10 s")
check(len(cls("grid-minor")) == 5 and len(cls("grid-major")) == 5, "a minor and a major grid per row")
check(len(cls("calibration")) == 10, "a 1 mV calibration pulse per lead and row")
leads = cls("lead")
check([p.getAttribute("data-label") for p in leads] == ["II", "V1"] * 5, "traces II and V1 in every row")
for p in leads:
    xs = [x for x, _ in walk(p.getAttribute("d"))]
    check(abs(min(xs) - 22) < 0.1 and abs(max(xs) - 272) < 0.4, f"a 10 s trace spans 22..272 mm: {min(xs)}..{max(xs)}")
cal = walk(cls("calibration")[0].getAttribute("d"))
check(abs(max(y for _, y in cal) - min(y for _, y in cal) - 10) < 1e-6, "the calibration pulse is 10 mm (1 mV)")
scores = cls("score")
labels = ["SR", "AFIB", "STACH", "SBRAD", "SARRH", "PACE", "SVARR", "BIGU", "AFLT", "SVTAC", "PSVT", "TRIGU", "VT", "VF",
          "NOISE"]
check(sorted(p.getAttribute("data-label") for p in scores) == sorted(labels * 5), "a score line per rhythm label and row")
texts = [t.firstChild.data for t in doc.getElementsByTagName("text") if t.firstChild]
check(all(l in texts for l in labels), "the legend names every label")
check(any("AFIB" in t and "0.91" in t for t in texts), "the title gives the alert's label and probability")

def mark(c):
    ms = cls(c)
    check(len(ms) == 1, f"one {c}, got {len(ms)}")
    if not ms:
        return None, None
    row = ms[0].parentNode.getAttribute("id")
    return row, walk(ms[0].getAttribute("d"))[0][0]
row, x = mark("mark raised")      # onset 182 s: row 1 (180-190 s), 2 s in
check(row == "row-1" and x is not None and abs(x - (22 + 50)) < 0.1, f"raise mark in {row} at x {x}")
row, x = mark("mark cleared")     # cleared at 228 s: row 5 (220-230 s), 8 s in
check(row == "row-5" and x is not None and abs(x - (22 + 200)) < 0.1, f"clear mark in {row} at x {x}")

# The scores are metsd's: at the raise (window end 196 s) and the clear (228 s) the alert's probabilities.
by_t = {round(j["t_s"], 3): j["scores"] for j in map(json.loads, open(f"{work}/scores.jsonl"))}
check(abs(by_t.get(196.0, {}).get("AFIB", -1) - 0.9048) < 5e-4, f"AFIB at 196 s: {by_t.get(196.0, {}).get('AFIB')}")
check(abs(by_t.get(228.0, {}).get("AFIB", -1) - 0.05781) < 5e-4, f"AFIB at 228 s: {by_t.get(228.0, {}).get('AFIB')}")
check(min(by_t) <= 178.0 and max(by_t) >= 232.0, f"windows {min(by_t)}..{max(by_t)} s reach past the row edges")

png = open(f"{work}/af.png", "rb").read()
check(png[:8] == b"\x89PNG\r\n\x1a\n" and png[12:16] == b"IHDR", "the PNG signature")
pw, ph = struct.unpack(">II", png[16:24])
check((pw, ph) == (round(w_mm * 3), round(h_mm * 3)), f"PNG {pw}x{ph} px, expected the SVG's mm x 3")
for e in errors:
    print("FAIL:", e)
sys.exit(1 if errors else 0)
EOF

# Errors: non-zero, the file named, nothing written (not even the temporary file).
expect_error() { # NAME WHAT_THE_MESSAGE_NAMES ARGS...
  local name=$1 names=$2
  shift 2
  if "$METS" plot -m "$MODEL" -o "$work/bad/out.svg" "$@" 2>"$work/err"; then fail "$name: succeeded"; fi
  grep -q -- "$names" "$work/err" || fail "$name: the message does not name $names: $(cat "$work/err")"
  [ -z "$(ls -A "$work/bad")" ] || fail "$name: left $(ls "$work/bad")"
}
mkdir "$work/bad"
printf '{"state": "raised"\n' >"$work/broken.jsonl"
printf '{"label": "AFIB", "state": "raised"}\n' >"$work/fields.jsonl"
expect_error "missing record" no_such_record demo/no_such_record
expect_error "range outside" "$RECORD" --from 250 --to 300 "$RECORD"
expect_error "unknown lead" "no lead V5" --leads II,V5 "$RECORD"
expect_error "not JSON" "$work/broken.jsonl:1" --alert "$work/broken.jsonl" "$RECORD"
expect_error "not an alert" "$work/fields.jsonl:1" --alert "$work/fields.jsonl" "$RECORD"
expect_error "missing alert file" "$work/none.jsonl" --alert "$work/none.jsonl" "$RECORD"
expect_error "unknown group" "no label group" --group nosuch "$RECORD"
echo "ok: SVG and PNG structure, metsd's scores, error cases"

#!/usr/bin/env bash
# The monitoring shipped in deploy/ against what metsd exports: the Prometheus alert rules pass
# `promtool check rules` and their unit tests (`promtool test rules`); every query of the Grafana dashboard
# parses (promtool checks it as a recording rule); a metsd streaming a bed on the development broker
# exports metrics that pass `promtool check metrics`, and every metric the rules and the dashboard name is
# among them, so a renamed metric cannot leave a rule or a panel silently empty.
# usage: test_monitoring.sh PATH/TO/mets PATH/TO/metsd   (exit 77 = skipped: no promtool or kcat)
set -euo pipefail
METS=${1:?usage: test_monitoring.sh PATH/TO/mets PATH/TO/metsd}
METSD=${2:?}
command -v promtool >/dev/null || { echo "SKIP: promtool not installed (Debian's prometheus package)"; exit 77; }
. "$(dirname "$0")/lib.sh"
rules=deploy/prometheus/metsd.rules.yml dashboard=deploy/grafana/metsd.json

promtool check rules "$rules" >"$work/check.log" 2>&1 || fail "promtool check rules: $(cat "$work/check.log")"
(cd "$(dirname "$rules")" && promtool test rules metsd.rules.test.yml) >"$work/test.log" 2>&1 \
  || fail "promtool test rules: $(cat "$work/test.log")"
echo "alert rules: $(grep -o '[0-9]* rules found' "$work/check.log"), their unit tests pass"

# The dashboard's queries, with its variables filled in, as recording rules for promtool to parse.
python3 - "$dashboard" "$work/dashboard.rules.yml" "$work/dashboard.exprs" <<'PY' || fail "the dashboard"
import json, sys
d = json.load(open(sys.argv[1]))
exprs = [t["expr"].replace("$instance", ".*") for p in d["panels"] for t in p["targets"]]
assert exprs and all(p["targets"] for p in d["panels"]), "a panel without a query"
with open(sys.argv[2], "w") as f:
    f.write("groups:\n  - name: dashboard\n    rules:\n")
    for i, e in enumerate(exprs):
        f.write(f"      - record: dashboard:query{i}\n        expr: {json.dumps(e)}\n")
open(sys.argv[3], "w").write("\n".join(exprs) + "\n")
print(f"dashboard: {len(d['panels'])} panels, {len(exprs)} queries")
PY
promtool check rules "$work/dashboard.rules.yml" >"$work/check.log" 2>&1 \
  || fail "a dashboard query does not parse: $(cat "$work/check.log")"

# A running metsd's metrics.
start_broker
start_metsd_on_broker
"$METS" replay -q --bootstrap "$bootstrap" -x 5 --duration 30 -s bed-1 demo/mitdb_201_demo 2>"$work/replay.log" \
  || fail "replay"
for _ in $(seq 40); do
  curl -s "http://127.0.0.1:$port/metrics" >"$work/metrics.txt"
  grep -q '^mets_windows_total [1-9]' "$work/metrics.txt" && break
  sleep 0.25
done
grep -q '^mets_windows_total [1-9]' "$work/metrics.txt" || fail "no window scored"
promtool check metrics <"$work/metrics.txt" >"$work/lint.log" 2>&1 || fail "promtool check metrics: $(cat "$work/lint.log")"
python3 - "$work/metrics.txt" "$rules" "$work/dashboard.exprs" <<'PY' || fail "rules or panels name metrics metsd does not export"
import re, sys
exported = {l.split()[2] for l in open(sys.argv[1]) if l.startswith("# TYPE ")}
used = set()
for path in sys.argv[2:]:
    used |= set(re.findall(r"\b((?:mets|process)_[a-z_]+)", open(path).read()))
used = {re.sub(r"_(bucket|sum|count)$", "", n) if re.sub(r"_(bucket|sum|count)$", "", n) in exported else n for n in used}
missing = sorted(used - exported)
print(f"metrics: {len(exported)} exported, {len(used)} named by the rules and the dashboard, missing: {missing or 'none'}")
sys.exit(1 if missing else 0)
PY
echo "monitoring test: ok"

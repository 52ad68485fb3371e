#!/usr/bin/env bash
# `mets tail` against known messages on the development broker (produced by produce_alerts with the
# generated protobuf-c code): every Alert comes out as one JSON line with its fields and Kafka
# coordinates, the undecodable message goes to stderr as an error object, the filters select the right
# subset, dead letters show their reason's name, --from-end with --exit-at-end prints nothing and stops;
# librdkafka properties given with -X and -F apply, and a bad one is refused with its name.
# (--since is not checked: the 2.0.2 mock cluster answers every timestamp lookup with the end.)
# usage: test_tail.sh PATH/TO/mets PATH/TO/produce_alerts
set -euo pipefail
METS=${1:?usage: test_tail.sh PATH/TO/mets PATH/TO/produce_alerts}
PRODUCE=${2:?usage: test_tail.sh PATH/TO/mets PATH/TO/produce_alerts}

. "$(dirname "$0")/lib.sh"
start_broker --topics ecg.alerts:3,ecg.deadletter
export METS_BOOTSTRAP=$bootstrap
timeout 30 "$PRODUCE" "$METS_BOOTSTRAP" || fail "produce_alerts"

tail_() { timeout 30 "$METS" tail --exit-at-end "$@"; }

# One line per alert, as JSON; the values that went in come out, sorted by alert id.
tail_ --alerts --from-beginning >"$work/all" 2>"$work/all.err" || fail "mets tail: $(cat "$work/all.err")"
python3 - "$work/all" <<'PY' || fail "the alerts as JSON: $(cat "$work/all")"
import json, sys
rows = sorted((json.loads(line) for line in open(sys.argv[1])), key=lambda r: r["alert_id"])
assert [(r["stream_id"], r["label"], r["state"], r["priority"]) for r in rows] == [
    ("bed-1", "af", "raised", 1), ("bed-2", "vf", "raised", 1),
    ("bed-1", "af", "updated", 2), ("bed-1", "af", "cleared", 3)], rows
a = rows[0]
assert a["probability"] == 0.87 and a["competing"] == [{"label": "normal", "probability": 0.13}], a
assert a["window_end_us"] == 1714564810000000 and a["window_end"] == "2024-05-01T12:00:10.000000Z", a
k = a["kafka"]
assert k["topic"] == "ecg.alerts" and k["key"] == "bed-1" and k["timestamp_ms"] == 1714564800000, k
assert isinstance(k["partition"], int) and isinstance(k["offset"], int), k
PY
python3 - "$work/all.err" <<'PY' || fail "the undecodable message on stderr: $(cat "$work/all.err")"
import json, sys
errors = [json.loads(line) for line in open(sys.argv[1]) if line.startswith("{")]
assert len(errors) == 1 and errors[0]["topic"] == "ecg.alerts" and "Alert" in errors[0]["error"], errors
assert {"partition", "offset"} <= errors[0].keys(), errors
PY

ids() { python3 -c 'import json,sys; print(" ".join(sorted(json.loads(l)["alert_id"] for l in sys.stdin)))'; }
[ "$(tail_ --from-beginning --stream bed-1 2>/dev/null | ids)" = "alert-0 alert-2 alert-3" ] || fail "--stream bed-1"
[ "$(tail_ --from-beginning --state raised 2>/dev/null | ids)" = "alert-0 alert-1" ] || fail "--state raised"
[ "$(tail_ --from-beginning --stream bed-1 --priority low 2>/dev/null | ids)" = "alert-3" ] || fail "--priority low"
[ "$(tail_ --from-beginning --count 2 2>/dev/null | wc -l)" = 2 ] || fail "--count 2"
[ -z "$(tail_ 2>/dev/null)" ] || fail "--from-end printed old alerts"

dead=$(tail_ --dead-letters --from-beginning) || fail "mets tail --dead-letters"
python3 -c '
import json, sys
d = json.loads(sys.argv[1])
assert d["reason"] == "sample_rate" and d["kafka"]["key"] == "bed-3" and d["original_length"] == 3, d
' "$dead" || fail "the dead letter: $dead"
tail_ --dead-letters --from-beginning --pretty | grep -q "bed-3 DEAD LETTER sample_rate" || fail "--pretty dead letter"
if tail_ --label af --dead-letters 2>/dev/null; then fail "--label on dead letters was accepted"; fi
# librdkafka properties as kcat takes them: -X NAME=VALUE and -F FILE, applied after the tool's own.
printf '# a comment, then a blank line\n\n  client.id = mets-tail-test\nfetch.wait.max.ms=50\n' | sed 's/ = /=/' >"$work/props"
[ "$(tail_ --from-beginning -X socket.timeout.ms=20000 -F "$work/props" 2>/dev/null | ids)" = \
  "alert-0 alert-1 alert-2 alert-3" ] || fail "-X and -F"
refused() { # EXPECTED_STATUS MESSAGE ARGS...: mets tail refuses ARGS with that status and message
  local want=$1 msg=$2 rc=0
  tail_ "${@:3}" >/dev/null 2>"$work/refused" || rc=$?
  [ "$rc" = "$want" ] && grep -qF "$msg" "$work/refused" || fail "mets tail ${*:3}: status $rc, $(cat "$work/refused")"
}
refused 1 "mets tail: secruity.protocol: No such configuration property" -X secruity.protocol=SSL
refused 1 "mets tail: security.protocol: Invalid value" -X security.protocol=TLS
refused 2 "mets tail: -X security.protocol: expected NAME=VALUE" -X security.protocol
printf 'client.id=x\nno equals sign\n' >"$work/bad.props"
refused 2 "mets tail: $work/bad.props:2: expected NAME=VALUE" -F "$work/bad.props"
refused 2 "mets tail: -F $work/none: cannot open it" -F "$work/none"
echo "ok: 4 alerts as JSON, 1 undecodable on stderr, filters, dead letter reason, -X and -F"

#!/usr/bin/env bash
# The signal-loss technical alarm (issue 13), end to end through metsd: a bed whose frames stop raises
# technical/signal_lost (high priority) within streams.signal_loss_s (10 s) plus a few seconds, its raised
# clinical alerts are sent again marked stale, and the first frame back clears both.
#   test_signal_loss.sh METS METSD        on the development broker: the alarm's timing, /healthz, metrics;
#   test_signal_loss.sh METS METSD real   on a real Kafka broker: the broker paused (SIGSTOP) while beds
#                                         stream makes /healthz answer 503 and raises no signal loss; then
#                                         exactly once across metsd killed with SIGKILL while the beds are
#                                         silent and after their loss is committed, and a rebalance before
#                                         the signal returns: every event once.
# (exit 77 = skipped: no kcat; real: no java or mvn)
set -euo pipefail
METS=${1:?usage: test_signal_loss.sh PATH/TO/mets PATH/TO/metsd [real]}
METSD=${2:?}
real=${3:-}
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/eos_lib.sh"
start=$SECONDS

# The events of technical/signal_lost and the stale marks in topic $1, as "STREAM LABEL STATE STALE" lines.
events() {
  timeout 60 "$METS" tail --bootstrap "$bootstrap" --alerts -t "$1" --from-beginning -e 2>/dev/null | python3 -c '
import json, sys
for line in sys.stdin:
    a = json.loads(line)
    if a["label"] == "signal_lost" or a.get("stale") or a["state"] == "updated" and not a["technical"]:
        print(a["stream_id"], a["label"], a["state"], a.get("stale", False))'
}

# Waits (up to $3 s) until topic $1 holds $2 signal_lost events of state $4; prints the seconds waited.
wait_events() {
  local t0=$SECONDS n
  for _ in $(seq "$3"); do
    n=$(events "$1" | grep -c "signal_lost $4" || true)
    [ "$n" -ge "$2" ] && { echo $((SECONDS - t0)); return 0; }
    sleep 1
  done
  fail "$n of $2 signal_lost $4 events in $1 after $3 s: $(events "$1")"
}

# Checks the events of topic $1 for beds $2: per bed one signal_lost raised, then cleared, with one id; each
# clinical alert raised when it went sent once stale and once current again; nothing twice.
check_events() {
  timeout 60 "$METS" tail --bootstrap "$bootstrap" --alerts -t "$1" --from-beginning -e >"$work/events.jsonl" \
    2>/dev/null || fail "mets tail $1"
  python3 - "$work/events.jsonl" "$2" <<'PY' || fail "signal-loss events are wrong"
import collections, json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
keys = collections.Counter((a["alert_id"], a["state"], a["window_end_us"], a.get("stale", False)) for a in ev)
twice = [k for k, n in keys.items() if n > 1]
assert not twice, f"events doubled: {twice}"
for bed in sys.argv[2].split():
    mine = [a for a in ev if a["stream_id"] == bed]
    lost = [a for a in mine if a["label"] == "signal_lost"]
    # lost where the first 50 s of the recording end, back where the replay starts again at 60 s: not before
    assert len(lost) >= 2 and lost[1]["window_end_us"] - lost[0]["onset_us"] == 10_000_000, f"{bed}: {lost}"
    # raised, cleared (and, once the bed is silent again after the test's last frames, raised ...)
    assert len(lost) >= 2 and [a["state"] for a in lost] == ["raised", "cleared"] * (len(lost) // 2) + \
        ["raised"] * (len(lost) % 2), f"{bed}: {lost}"
    assert lost[0]["alert_id"] == lost[1]["alert_id"] and lost[0]["priority"] == 1, f"{bed}: {lost}"
    at = mine.index(lost[0])
    raised = {a["alert_id"] for a in mine[:at] if a["state"] == "raised" and not a["technical"]}
    raised -= {a["alert_id"] for a in mine[:at] if a["state"] == "cleared"}
    stale = [a["alert_id"] for a in mine[:mine.index(lost[1])] if a.get("stale")]
    back = [a["alert_id"] for a in mine[mine.index(lost[1]):] if a["state"] == "updated" and
            not a["technical"] and not a.get("stale")][:len(raised)]
    assert sorted(stale) == sorted(raised) and sorted(back) == sorted(raised), f"{bed}: raised {raised}, stale {stale}, back {back}"
    print(f"{bed}: signal_lost raised and cleared once; {len(raised)} clinical alert(s) marked stale and current again")
PY
}

metric() { curl -sf "http://127.0.0.1:$port/metrics" | awk -v m="$1" '$1 == m {print $2}'; }

if [ -z "$real" ]; then
  start_broker
  start_metsd_on_broker
  "$METS" replay -q --bootstrap "$bootstrap" -x 5 --duration 50 -s bed-1 demo/mitdb_201_demo || fail "replay"
  t0=$SECONDS
  for _ in $(seq 30); do
    [ "$(metric 'mets_alerts_raised{alert="technical/signal_lost"}')" = 1 ] && break
    sleep 0.5
  done
  waited=$((SECONDS - t0))
  [ "$(metric 'mets_alerts_raised{alert="technical/signal_lost"}')" = 1 ] || fail "no signal_lost after $waited s"
  [ "$waited" -ge 9 ] && [ "$waited" -le 15 ] || fail "signal_lost raised $waited s after the last frame, not 10-15"
  [ "$(metric 'mets_alerts_raised_by_priority{priority="high"}')" -ge 1 ] || fail "no high-priority alert counted"
  curl -sf "http://127.0.0.1:$port/healthz" >/dev/null || fail "/healthz is not ok while a bed is silent"
  echo "signal_lost raised $waited s after the last frame"
  "$METS" replay -q --bootstrap "$bootstrap" -x 5 --start 60 --duration 10 -s bed-1 demo/mitdb_201_demo || fail "replay"
  wait_events ecg.alerts 1 20 cleared >/dev/null
  [ "$(metric 'mets_alerts_raised{alert="technical/signal_lost"}')" = 0 ] || fail "signal_lost still counted raised"
  check_events ecg.alerts bed-1
else
  start_real_kafka
  eos_topics sl
  eos_config sl
  printf 'health:\n  broker_timeout_s: 4s\n' >>"$work/sl.yaml"
  start_metsd sl one
  "$METS" replay -q --bootstrap "$bootstrap" -x 2 --duration 50 --beds 2 -s bed demo/mitdb_201_demo \
    >"$work/replay.log" 2>&1 &
  replay_pid=$!
  sleep 6
  kill -STOP "$(cat "$work/kafka/pid")" # beds still stream: their frames wait in the replay's producer
  sleep 8
  port=$(sed -nE 's/.*metrics on port ([0-9]+).*/\1/p' "$work/sl-one.log" | tail -n 1)
  health=$(curl -s -w ' %{http_code}' "http://127.0.0.1:$port/healthz" || true)
  kill -CONT "$(cat "$work/kafka/pid")"
  [[ "$health" == "no Kafka broker has answered for "*" 503" ]] || fail "/healthz with the broker paused: $health"
  echo "broker paused 8 s: /healthz $health"
  for _ in $(seq 40); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.5; done
  curl -sf "http://127.0.0.1:$port/healthz" >/dev/null || fail "/healthz not ok 20 s after the broker resumed"
  wait "$replay_pid" || fail "replay: $(cat "$work/replay.log")"
  sleep 4 # silent, not yet lost: the loss must still come, once, from the restarted process
  kill -KILL "$metsd_pid"
  wait "$metsd_pid" 2>/dev/null || true
  start_metsd sl one
  echo "signal_lost of both beds $(wait_events sl.alerts 2 40 raised) s after a restart 4 s into the silence"
  kill -KILL "$metsd_pid" # after the loss is committed: the restart must not raise it again
  wait "$metsd_pid" 2>/dev/null || true
  start_metsd sl one
  one_pid=$metsd_pid
  sleep 12
  start_metsd sl two # a rebalance: the partitions of one bed move with its lost signal
  two_pid=$metsd_pid
  sleep 10
  "$METS" replay -q --bootstrap "$bootstrap" -x 5 --start 60 --duration 10 --beds 2 -s bed demo/mitdb_201_demo \
    || fail "replay"
  wait_events sl.alerts 2 40 cleared >/dev/null
  sleep 3
  check_events sl.alerts "bed-0001 bed-0002"
  # Stopped first: a running member begins a transaction at any time (a clock record a second).
  for p in "$one_pid" "$two_pid"; do
    kill -TERM "$p"
    wait "$p" || fail "metsd exited $? on SIGTERM"
  done
  no_open_transactions sl
fi
echo "signal-loss test: $((SECONDS - start)) s"

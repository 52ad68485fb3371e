#!/usr/bin/env bash
# Resource limits on the development broker: with streams.max_streams 3 and five beds replayed, the first
# three streams metsd sees are windowed and scored, every frame of the other two goes to the dead-letter
# topic with reason stream_cap, metsd keeps running, and /metrics accounts for every frame; memory per
# stream is printed (RSS).
# usage: test_limits.sh PATH/TO/mets PATH/TO/metsd        (exit 77 = skipped: kcat is not installed)
set -euo pipefail
METS=${1:?usage: test_limits.sh PATH/TO/mets PATH/TO/metsd}
METSD=${2:?}
. "$(dirname "$0")/lib.sh"
start_broker
start_metsd_on_broker -e "s|max_streams: 1024|max_streams: 3|"
grep -q "max_streams: 3" "$work/metsd.yaml" || fail "could not set the cap"
timeout 60 "$METS" replay -q --bootstrap "$bootstrap" -x 0 --beds 5 -s bed --duration 60 demo/mitdb_201_demo \
  || fail "replay"
frames=$((5 * 240)) # 60 s in 250 ms frames, five beds
for _ in $(seq 100); do
  n=$(curl -s "127.0.0.1:$port/metrics" | awk '$1 == "mets_frames_total" {print $2}')
  [ "${n:-0}" = "$frames" ] && break
  sleep 0.2
done
sleep 1
kill -0 "$metsd" || fail "metsd died"
rss=$(awk '/VmRSS/ {print $2}' "/proc/$metsd/status")
python3 - "$port" "$frames" <<'PY' || fail "metrics"
import sys, urllib.request
text = urllib.request.urlopen("http://127.0.0.1:%s/metrics" % sys.argv[1], timeout=10).read().decode()
v = {l.rsplit(" ", 1)[0]: float(l.rsplit(" ", 1)[1]) for l in text.splitlines() if l and not l.startswith("#")}
assert v["mets_frames_total"] == int(sys.argv[2]), v["mets_frames_total"]
assert v['mets_frames_dead_lettered_total{reason="stream_cap"}'] == 2 * 240, v['mets_frames_dead_lettered_total{reason="stream_cap"}']
assert v["mets_streams"] <= 3, v["mets_streams"]
PY
kill -TERM "$metsd"
wait "$metsd" || fail "metsd exited $?"
capped=$(timeout 20 "$METS" tail --bootstrap "$bootstrap" --dead-letters --from-beginning -e \
  | python3 -c 'import json, sys, collections
c = collections.Counter((json.loads(l)["kafka"]["key"], json.loads(l)["reason"]) for l in sys.stdin)
print(" ".join(sorted("%s:%s:%d" % (k, r, n) for (k, r), n in c.items())))')
scored=$(timeout 20 kcat -b "$bootstrap" -C -t ecg.embeddings -e -o beginning -q -f '%k\n' | sort -u | tr '\n' ' ')
echo "dead letters (stream:reason:count): $capped; streams with embeddings: $scored; metsd RSS $rss kB"
[ "$(echo "$capped" | wc -w)" -eq 2 ] && [ "$(echo "$capped" | tr " " "\n" | grep -c ":stream_cap:240$")" -eq 2 ] \
  || fail "expected two streams with all 240 frames dead-lettered as stream_cap: $capped"
[ "$(echo "$scored" | wc -w)" -eq 3 ] || fail "expected three streams scored: $scored"
for s in $scored; do echo "$capped" | grep -q "$s:" && fail "stream $s both scored and capped"; done
echo "limits: OK"

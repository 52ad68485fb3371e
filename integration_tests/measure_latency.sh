#!/usr/bin/env bash
# Frame-to-alert latency on a real Kafka broker (not a ctest: it replays in real time, about 80 s in
# all): the first 60 s of the demo recording replayed at real-time pace into metsd (conf/metsd.yaml:
# exactly-once, 2 s hop); for every alert, its Kafka timestamp on ecg.alerts minus the Kafka timestamp of
# the frame that ended its window on ecg.frames (latency.py). Prints p50 / p99 / max in ms, for the
# embeddings too.
# usage: integration_tests/measure_latency.sh build/tools/mets build/daemon/metsd [SECONDS]
set -euo pipefail
METS=${1:?usage: measure_latency.sh PATH/TO/mets PATH/TO/metsd [SECONDS]}
METSD=${2:?usage: measure_latency.sh PATH/TO/mets PATH/TO/metsd [SECONDS]}
duration=${3:-60}
. "$(dirname "$0")/lib.sh"
start_real_kafka
create_topics ecg.frames:4 ecg.embeddings ecg.alerts ecg.deadletter metsd.state:4:cleanup.policy=compact
start_metsd_on_broker
timeout $((duration + 60)) "$METS" replay -q --bootstrap "$bootstrap" -x 1 --duration "$duration" -s bed-12 \
  demo/mitdb_201_demo || fail "replay"
sleep 3
kill -TERM "$metsd"
wait "$metsd" || fail "metsd exited $?"
for t in frames alerts embeddings; do
  timeout 30 kcat -b "$bootstrap" -C -t ecg.$t -e -o beginning -q -f '%T %K %S\n%k%s' >"$work/$t.dump"
done
python3 "$(dirname "$0")/latency.py" "$work/frames.dump" "$work/alerts.dump"
python3 "$(dirname "$0")/latency.py" --embeddings "$work/frames.dump" "$work/embeddings.dump"

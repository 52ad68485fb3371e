#!/usr/bin/env bash
# The alarm evaluation of the real daemon: replays annotated records through `metsd` as it is configured,
# all records at once as a ward streams them, reads back what a read_committed consumer of the alert topic
# sees, and scores it against the reference annotations (`mets eval --alarms`, eval/alarmeval.h): episode
# Se / +P per alarm, false alarms per bed-hour, alarm delay, and the noise stress test on NSTDB.
#
#   eval/alarms.sh [--data DIR] [--records L] [--nstdb L] [--config FILE] [--model FILE] [--out DIR]
#                  [--dev-broker] [--speed X] [-- more `mets eval --alarms` options]
#
#   --data DIR      data folder (default $METS_DATA, else .cache/data)
#   --records L     annotated records, e.g. mitdb/201,vfdb/418, or all (default: every record of the data
#                   folder outside the training split of train/streams.h)
#   --nstdb L       noise stress test records (default nstdb/118e24,...,nstdb/118e_6 when present; none)
#   --config FILE   the metsd configuration (default conf/metsd.yaml); its relative paths stay valid
#   --model FILE    another ECG model than the configuration's
#   --out DIR       keeps alerts.jsonl, embeddings.jsonl (with vectors), alarms.txt / alarms.json there
#   --dev-broker    the development broker (librdkafka's mock) instead of a real Kafka broker
#   --speed X       replay speed (default 0: as fast as possible)
# Each record is one stream named as the record ("mitdb/201"). Needs a built tree (scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
METS=${METS:-$PWD/build/tools/mets}
METSD=${METSD:-$PWD/build/daemon/metsd}
data=${METS_DATA:-.cache/data}
records=all nstdb=default config=conf/metsd.yaml model= out= dev_broker=0 speed=0 extra=()
while [ $# -gt 0 ]; do
  case $1 in
    --data) data=$2; shift 2 ;;
    --records) records=$2; shift 2 ;;
    --nstdb) nstdb=$2; shift 2 ;;
    --config) config=$2; shift 2 ;;
    --model) model=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --dev-broker) dev_broker=1; shift ;;
    --speed) speed=$2; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "eval/alarms.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
source integration_tests/lib.sh

# The records: the scorer's own list (so that both agree), those whose files are in the data folder.
if [ "$nstdb" = default ]; then
  nstdb=$(for r in 118e24 118e18 118e12 118e06 118e00 118e_6; do
    [ -f "$data/nstdb/$r.hea" ] && printf 'nstdb/%s,' "$r"; done | sed 's/,$//')
  nstdb=${nstdb:-none}
fi
if [ "$records" = all ]; then
  mapfile -t list < <("$METS" eval --list-records --data "$data")
else
  IFS=, read -ra list <<<"$records"
fi
scored=$(IFS=,; echo "${list[*]}")
[ "$nstdb" = none ] || { IFS=, read -ra more <<<"$nstdb"; list+=("${more[@]}"); }
[ ${#list[@]} -gt 0 ] || fail "no records to replay in $data"
for r in "${list[@]}"; do [ -f "$data/$r.hea" ] || fail "$data/$r.hea: no such record"; done

if [ "$dev_broker" = 1 ]; then
  start_broker
else
  start_real_kafka
  create_topics ecg.frames:4 ecg.embeddings ecg.alerts ecg.deadletter metsd.state:4:cleanup.policy=compact
fi

# The configuration as it is, with its model paths made absolute, any metrics port and this broker.
confdir=$(cd "$(dirname "$config")" && pwd)
sed -E -e "s#^( *(ecg|text|labels): *)([^/ \"'][^ ]*)#\1$confdir/\3#" -e 's#^( *listen: *).*#\1127.0.0.1:0#' \
  ${model:+-e "s#^( *ecg: *)[^ ]*#\1$(realpath "$model")#"} "$config" >"$work/metsd.yaml"
"$METSD" --check-config "$work/metsd.yaml" >/dev/null || fail "the configuration does not load"
"$METSD" -c "$work/metsd.yaml" --bootstrap "$bootstrap" >/dev/null 2>"$work/metsd.log" &
metsd=$!
pids+=("$metsd")
for _ in $(seq 300); do grep -q consuming "$work/metsd.log" && break; kill -0 "$metsd" || break; sleep 0.1; done
grep -q consuming "$work/metsd.log" || fail "metsd did not start"
port=$(sed -nE 's/.*metrics on port ([0-9]+).*/\1/p' "$work/metsd.log")

echo "alarms: replaying ${#list[@]} records side by side into metsd on $bootstrap" >&2
replays=()
for r in "${list[@]}"; do
  "$METS" replay --bootstrap "$bootstrap" -x "$speed" -s "$r" "$data/$r" 2>"$work/replay-${r//\//_}.log" &
  replays+=($!)
done
for p in "${replays[@]}"; do wait "$p" || fail "a replay failed"; done
sent=$(cat "$work"/replay-*.log | tr '\r' '\n' | sed -nE 's/^mets replay: ([0-9]+) frames to .*/\1/p' \
  | awk '{s += $1} END {print s}')

# Done when metsd has taken every frame and committed what they made.
frames() {
  python3 -c 'import sys, urllib.request
for l in urllib.request.urlopen("http://127.0.0.1:%s/metrics" % sys.argv[1], timeout=5).read().decode().splitlines():
    if l.startswith("mets_frames_total "): print(int(float(l.split()[1])))' "$port" 2>/dev/null || echo -1
}
for _ in $(seq 3000); do
  [ "$(frames)" = "$sent" ] && break
  kill -0 "$metsd" || fail "metsd exited"
  sleep 0.2
done
[ "$(frames)" = "$sent" ] || fail "metsd consumed $(frames) of $sent frames"
sleep 3 # the last transaction
kill -TERM "$metsd"
wait "$metsd" || fail "metsd did not stop cleanly"

dest=${out:-$work/out}
mkdir -p "$dest"
"$METS" tail --bootstrap "$bootstrap" --alerts --from-beginning -e >"$dest/alerts.jsonl"
"$METS" tail --bootstrap "$bootstrap" --embeddings --vectors --from-beginning -e >"$dest/embeddings.jsonl"
echo "alarms: $sent frames, $(wc -l <"$dest/embeddings.jsonl") windows, $(wc -l <"$dest/alerts.jsonl") alert events" >&2
"$METS" eval --alarms "$dest/alerts.jsonl" --data "$data" --stream-records "$scored" --exclude-records none \
  --nstdb "$nstdb" --json "$dest/alarms.json" "${extra[@]}" | tee "$dest/alarms.txt"

#!/usr/bin/env bash
# The end-to-end benchmark: how many beds one machine serves live, exactly-once included. On a real Kafka
# broker (integration_tests/lib.sh start_real_kafka), for each mode and each number of beds N: N beds of
# 250 Hz 3-lead frames (bench/e2e_source.py: demo/mitdb_201_demo resampled; 63-sample frames, 252 ms)
# produced at real-time pace by `mets replay -x 1`, open loop (its pace does not depend on metsd), into a
# frames topic of 8 partitions, consumed by one metsd (conf/metsd.yaml with the mode and its own topics).
# The beds' clocks are spread evenly over one 2 s hop, so that their windows close at different times.
# After WARMUP s it measures for SECONDS s:
#   frames/s and windows/s consumed, the consumer lag (mets_consumer_lag summed over partitions, scraped
#   from /metrics every second) at the start and end of the measurement; "sustained" means the lag did
#   not grow (end <= start + 0.5 s of input) and metsd consumed >= 98 % of the frames offered;
#   CPU of metsd (of 2 cores, and ms per bed per second), of the replay and of the broker, from
#   /proc/PID/stat; metsd's RSS at the end and its peak (VmHWM);
#   latency from the close of each window (the Kafka timestamp of the frame that ended it) to the output
#   being produced (its Kafka timestamp) and to its being visible to a read_committed consumer (after the
#   commit; embeddings only), p50 / p99 / p99.9 / max: bench/e2e_latency.py.
# With --search, for each mode N doubles from the first N given while sustained, then bisects at most twice.
# Benchmarks measure; this one never fails on a slow result. The Kafka broker, the replay and the scrapes
# run on the same cores as metsd: their CPU is reported beside it.
#
# usage: bench/e2e.sh [-d SECONDS] [-w WARMUP] [-m MODES] [-p BEDS_PER_REPLAY] [--search] [N...]
#        defaults: -d 40 -w 30 -m "exactly_once at_least_once" -p 2000, N = 100 300: about 7 minutes
#        METS, METSD: the binaries (default build/tools/mets, build/daemon/metsd; copied before use)
#        E2E_OUT: a folder that keeps results.jsonl and each run's scrapes, final /metrics, latencies and
#        metsd log (default: none kept)
set -euo pipefail
cd "$(dirname "$0")/.."
duration=40 warmup=30 modes="exactly_once at_least_once" per_replay=2000 search=0 ns=()
while [ $# -gt 0 ]; do
  case $1 in
    -d) duration=$2; shift 2 ;;
    -w) warmup=$2; shift 2 ;;
    -m) modes=$2; shift 2 ;;
    -p) per_replay=$2; shift 2 ;;
    --search) search=1; shift ;;
    -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) ns+=("$1"); shift ;;
  esac
done
[ ${#ns[@]} -gt 0 ] || ns=(100 300)
[ $((warmup + duration)) -le 250 ] || { echo "warm-up + duration must fit the 260 s recording"; exit 2; }
METS=${METS:-build/tools/mets}
METSD=${METSD:-build/daemon/metsd}
. integration_tests/lib.sh
. integration_tests/eos_lib.sh
# Private copies: a rebuild during the run must not change what is measured.
cp "$METS" "$work/mets" && cp "$METSD" "$work/metsd"
METS=$work/mets METSD=$work/metsd
out=${E2E_OUT:-$work/out}
mkdir -p "$out"
export OPENBLAS_NUM_THREADS=1

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); load $(cut -d' ' -f1-3 /proc/loadavg)"
start_real_kafka
kafka_pid=$(cat "$work/kafka/pid")
python3 bench/e2e_source.py demo/mitdb_201_demo "$work/source.csv"
create_topics replay.frames:8
t0=$(date +%s%3N)
"$METS" replay -q --bootstrap "$bootstrap" -t replay.frames -x 0 --frame-ms 252 --beds 400 -s b --duration 20 \
  "$work/source.csv" || fail "replay"
echo "one replay process, as fast as it goes: 400 beds x 20 s in $(($(date +%s%3N) - t0)) ms," \
  "$((400 * 20 * 250 / 63 * 1000 / ($(date +%s%3N) - t0 + 1))) frames/s (a bed is 250/63 = 3.97 frames/s)"

ticks() { # utime + stime of the processes $@ (clock ticks), 0 for those gone
  local t=0 p s
  for p in "$@"; do
    s=$(cut -d' ' -f14,15 "/proc/$p/stat" 2>/dev/null) || continue
    t=$((t + ${s% *} + ${s#* }))
  done
  echo "$t"
}

# Every second: wall ms, the lag summed over partitions, frames and windows consumed, metsd's CPU ticks
# and RSS (kB), the replays' and the broker's CPU ticks.
scrape() {
  local port=$1 metsd=$2; shift 2
  while kill -0 "$metsd" 2>/dev/null; do
    local m rss
    m=$(curl -s --max-time 1 "127.0.0.1:$port/metrics" | awk '
      /^mets_consumer_lag/ {lag += $NF} /^mets_frames_total/ {f += $NF} /^mets_windows_total/ {w += $NF}
      END {printf "%d %d %d", lag, f, w}') || m="-1 -1 -1"
    rss=$(awk '/^VmRSS/ {print $2}' "/proc/$metsd/status" 2>/dev/null || echo 0)
    echo "$(date +%s%3N) $m $(ticks "$metsd") ${rss:-0} $(ticks "$@") $(ticks "$kafka_pid")"
    sleep 1
  done
}

# One run: mode $1, $2 beds. Appends its result to $out/results.jsonl and prints it as a table row.
run=0
bench_one() {
  local mode=$1 n=$2 name r
  run=$((run + 1))
  name=r$run
  create_topics "$name.frames:8" "$name.embeddings:2" "$name.alerts:2" "$name.deadletter:1" \
    "$name.state:8:cleanup.policy=compact"
  eos_config "$name"
  sed -i -e "s|frames: ecg.frames|frames: $name.frames|" -e "s|mode: exactly_once|mode: $mode|" \
    -e "s|max_streams: 1024|max_streams: $((n > 1000 ? 2 * n : 1024))|" "$work/$name.yaml"
  python3 bench/e2e_stamp.py "$work/$name.visible" kcat -b "$bootstrap" -X isolation.level=read_committed -u \
    -C -t "$name.embeddings" -o beginning -q -f '%p %o\n' &
  local stamp_pid=$!
  pids+=("$stamp_pid")
  "$METSD" -c "$work/$name.yaml" --bootstrap "$bootstrap" --instance e2e >"$work/$name-metsd.log" 2>&1 &
  local metsd_pid=$!
  pids+=("$metsd_pid")
  for _ in $(seq 300); do grep -q consuming "$work/$name-metsd.log" && break; sleep 0.1; done
  grep -q consuming "$work/$name-metsd.log" || fail "metsd did not start"
  local port
  port=$(sed -n 's/.*metrics on port \([0-9]*\).*/\1/p' "$work/$name-metsd.log" | head -1)
  # The replays: at most $per_replay beds each, stream ids bPROC-BED. The beds' clocks are spread evenly
  # over one hop, so that their windows close at different times, as real beds' do; a spread wider than
  # streams.idle_timeout_s (the default 0.37 s x N beyond 800 beds) would have metsd drop the streams
  # furthest behind as idle.
  local replay_pids=() left=$n p=0 k offset
  offset=$(awk -v n="$n" 'BEGIN {printf "%.6f", 2 / n}')
  while [ "$left" -gt 0 ]; do
    p=$((p + 1)); k=$((left < per_replay ? left : per_replay)); left=$((left - k))
    "$METS" replay -q --bootstrap "$bootstrap" -t "$name.frames" -x 1 --frame-ms 252 --beds "$k" -s "b$p" \
      --bed-offset "$offset" --duration $((warmup + duration + 2)) "$work/source.csv" \
      >"$work/$name-replay$p.log" 2>&1 &
    replay_pids+=($!)
    pids+=($!)
  done
  local t_start
  t_start=$(date +%s%3N)
  scrape "$port" "$metsd_pid" "${replay_pids[@]}" >"$work/$name.scrape" &
  pids+=($!)
  for r in "${replay_pids[@]}"; do wait "$r" || fail "replay $r"; done
  sleep 3 # the last windows' commit
  awk '/^VmHWM/ {print $2}' "/proc/$metsd_pid/status" >"$work/$name.hwm"
  curl -s --max-time 2 "127.0.0.1:$port/metrics" >"$work/$name.metrics" || true
  kill -TERM "$metsd_pid"
  wait "$metsd_pid" || fail "metsd exited $?"
  kill -TERM "$stamp_pid" 2>/dev/null || true
  for r in frames embeddings alerts; do # from a second before the measurement: the dumps stay small
    timeout 120 kcat -b "$bootstrap" -X isolation.level=read_committed -C -t "$name.$r" -e \
      -o "s@$((t_start + warmup * 1000 - 1000))" -q \
      -f '%T %p %o %K %S\n%k%s' >"$work/$name.$r.dump"
  done
  python3 bench/e2e_latency.py --bed-offset "$offset" --from $((t_start + warmup * 1000)) --to $((t_start + (warmup + duration) * 1000)) \
    --visible "$work/$name.visible" "$work/$name.frames.dump" "$work/$name.embeddings.dump" \
    "$work/$name.alerts.dump" >"$work/$name.latency.json"
  python3 bench/e2e_report.py row --mode "$mode" --beds "$n" --replays "$p" --from $((t_start + warmup * 1000)) \
    --to $((t_start + (warmup + duration) * 1000)) --load "$(cut -d' ' -f1 /proc/loadavg)" \
    --hwm-kb "$(cat "$work/$name.hwm" 2>/dev/null || echo 0)" --metrics "$work/$name.metrics" \
    "$work/$name.scrape" "$work/$name.latency.json" >>"$out/results.jsonl"
  python3 bench/e2e_report.py table --last "$out/results.jsonl"
  cp "$work/$name.scrape" "$work/$name-metsd.log" "$work/$name.latency.json" "$work/$name.metrics" "$out/" 2>/dev/null || true
  rm -f "$work/$name".*.dump
}

sustained() { # whether the last run sustained its load
  python3 bench/e2e_report.py sustained "$out/results.jsonl"
}

python3 bench/e2e_report.py table --header
for mode in $modes; do
  if [ "$search" = 0 ]; then
    for n in "${ns[@]}"; do bench_one "$mode" "$n"; done
    continue
  fi
  good=0 bad=0 n=${ns[0]}
  while :; do
    bench_one "$mode" "$n"
    if sustained; then good=$n; n=$((n * 2)); else bad=$n; break; fi
  done
  for _ in 1 2; do
    n=$(((good + bad) / 2))
    [ $((bad - good)) -gt $((good / 8 + 1)) ] || break
    bench_one "$mode" "$n"
    if sustained; then good=$n; else bad=$n; fi
  done
  echo "$mode: largest N sustained $good (not sustained: $bad)"
done
python3 bench/e2e_report.py table "$out/results.jsonl"

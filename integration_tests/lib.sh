# Shared by the integration scripts (source it): a scratch folder, processes killed on exit, `fail`,
# and `start_broker [mets broker options]`, which starts the development broker and sets $bootstrap;
# `start_real_kafka` starts a real Apache Kafka broker instead (kafka/start_kafka.sh; Java and Maven) and
# sets $bootstrap, `create_topics NAME[:PARTITIONS[:CONFIG=VALUE]] ...` creates topics on it, and
# `start_metsd_on_broker [sed args]` starts metsd ($METSD) on $bootstrap with the shipped configuration.
# Needs $METS (the mets binary) and kcat; without kcat the script exits 77 (ctest: skipped).
command -v kcat >/dev/null || { echo "SKIP: kcat not installed"; exit 77; }

work=$(mktemp -d)
pids=()
kafka_dirs=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  for d in "${kafka_dirs[@]}"; do "$(dirname "${BASH_SOURCE[0]}")/kafka/stop_kafka.sh" "$d" || true; done
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*"
  for log in "$work"/*.log; do [ -s "$log" ] && { echo "--- $log:"; cat "$log"; }; done
  exit 1
}

start_broker() {
  "$METS" broker "$@" --bootstrap-file "$work/bootstrap" >"$work/broker.out" 2>"$work/broker.log" &
  broker_pid=$!
  pids+=("$broker_pid")
  for _ in $(seq 100); do
    [ -s "$work/bootstrap" ] && break
    kill -0 "$broker_pid" 2>/dev/null || fail "the broker exited before announcing its address"
    sleep 0.1
  done
  [ -s "$work/bootstrap" ] || fail "no bootstrap file after 10 s"
  bootstrap=$(cat "$work/bootstrap")
}

# A real Kafka broker (KRaft, one node) in $work/kafka, stopped on exit; options go to kafka/start_kafka.sh
# (--tls: also a TLS listener, $work/kafka/tls_bootstrap). Exits 77 (skipped) without Java or, when the
# jars are not resolved yet (.cache/kafka/lib), without Maven.
start_real_kafka() {
  local here
  here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
  command -v java >/dev/null || { echo "SKIP: java not installed"; exit 77; }
  ls "$here/../.cache/kafka/lib/"kafka_2.13-*.jar >/dev/null 2>&1 || command -v mvn >/dev/null \
    || { echo "SKIP: mvn not installed and the Kafka jars not resolved"; exit 77; }
  kafka_dirs+=("$work/kafka")
  "$here/kafka/start_kafka.sh" "$@" "$work/kafka" >/dev/null 2>"$work/start_kafka.log" \
    || { cp "$work/kafka/kafka.log" "$work/kafka_broker.log" 2>/dev/null || true; fail "the Kafka broker did not start"; }
  bootstrap=$(cat "$work/kafka/bootstrap")
  kafka_lib=${METS_KAFKA_LIB:-$here/../.cache/kafka/lib}
}

# Creates topics on the real broker, all at once: NAME[:PARTITIONS[:CONFIG=VALUE]] (default 1 partition),
# replicated $KAFKA_RF times (default 1).
create_topics() {
  local t name parts conf topic_pids=() p
  for t in "$@"; do
    IFS=: read -r name parts conf <<<"$t"
    java -Xmx256m -XX:TieredStopAtLevel=1 -Dlog4j2.configurationFile="$work/kafka/log4j2.properties" \
      -cp "$kafka_lib/*" org.apache.kafka.tools.TopicCommand --bootstrap-server "$bootstrap" --create \
      --topic "$name" --partitions "${parts:-1}" --replication-factor "${KAFKA_RF:-1}" ${conf:+--config "$conf"} \
      >"$work/topic-$name.log" 2>&1 &
    topic_pids+=($!)
  done
  for p in "${topic_pids[@]}"; do wait "$p" || fail "could not create the topics"; done
  rm -f "$work"/topic-*.log
}

# Starts metsd ($METSD) on $bootstrap with the shipped configuration made runnable here (absolute model
# paths, any metrics port) and changed by the sed arguments given (e.g. -e 's|max_streams: 1024|...|');
# sets $metsd (its pid) and $port (its metrics port). Its log is $work/metsd.log.
start_metsd_on_broker() {
  sed -e "s|\.\./models/|$PWD/models/|" -e "s|labels: labels.yaml|labels: $PWD/conf/labels.yaml|" \
    -e "s|listen: 127.0.0.1:9464|listen: 127.0.0.1:0|" "$@" conf/metsd.yaml >"$work/metsd.yaml"
  "$METSD" -c "$work/metsd.yaml" --bootstrap "$bootstrap" >/dev/null 2>"$work/metsd.log" &
  metsd=$!
  pids+=("$metsd")
  for _ in $(seq 300); do
    grep -q consuming "$work/metsd.log" && break
    kill -0 "$metsd" 2>/dev/null || break
    sleep 0.1
  done
  grep -q consuming "$work/metsd.log" || fail "metsd did not start"
  port=$(sed -nE 's/.*metrics on port ([0-9]+).*/\1/p' "$work/metsd.log")
  [ -n "$port" ] || fail "metsd announced no metrics port"
}

#!/usr/bin/env bash
# Starts a real Apache Kafka broker (KRaft, one node that is broker and controller) on 127.0.0.1 for the
# integration tests, with its data, configuration and log in DIR. The jars come from Maven Central
# (pom.xml next to this script) into .cache/kafka/lib, resolved once (scripts/setup.sh does it too).
# Writes the bootstrap address to DIR/bootstrap and the broker's pid to DIR/pid; stop_kafka.sh DIR stops it.
# usage: start_kafka.sh DIR        (needs java 17+, mvn the first time, kcat)
set -euo pipefail
dir=${1:?usage: start_kafka.sh DIR}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

lib=$("$here/resolve.sh")

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
port=$(free_port)
cport=$(free_port)
while [ "$cport" = "$port" ]; do cport=$(free_port); done

cat >"$dir/server.properties" <<PROPS
node.id=1
process.roles=broker,controller
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
controller.quorum.voters=1@127.0.0.1:$cport
log.dirs=$dir/data
num.partitions=4
auto.create.topics.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
PROPS
# Warnings and up only, to DIR/kafka.log.
cat >"$dir/log4j2.properties" <<PROPS
appender.file.type=File
appender.file.name=file
appender.file.fileName=$dir/kafka.log
appender.file.layout.type=PatternLayout
appender.file.layout.pattern=[%d] %p %m (%c)%n
rootLogger.level=WARN
rootLogger.appenderRef.file.ref=file
logger.started.name=kafka.server.KafkaRaftServer
logger.started.level=INFO
PROPS

java_opts=(-Xmx512m -Xms128m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true
           -Dlog4j2.configurationFile="$dir/log4j2.properties")
rm -rf "$dir/data"
uuid=$(java "${java_opts[@]}" -cp "$lib/*" kafka.tools.StorageTool random-uuid)
java "${java_opts[@]}" -cp "$lib/*" kafka.tools.StorageTool format -t "$uuid" \
  -c "$dir/server.properties" >"$dir/format.out" 2>&1 || { cat "$dir/format.out" >&2; exit 1; }

setsid java "${java_opts[@]}" -cp "$lib/*" kafka.Kafka "$dir/server.properties" \
  >"$dir/kafka.out" 2>&1 </dev/null &
pid=$!
echo "$pid" >"$dir/pid"

bootstrap=127.0.0.1:$port
for _ in $(seq 120); do   # 60 s
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "start_kafka: the broker exited:" >&2; tail -n 30 "$dir/kafka.out" "$dir/kafka.log" >&2 2>/dev/null || true
    exit 1
  fi
  if timeout 5 kcat -b "$bootstrap" -L -m 2 >/dev/null 2>&1; then
    echo "$bootstrap" >"$dir/bootstrap"
    echo "$bootstrap"
    exit 0
  fi
  sleep 0.5
done
echo "start_kafka: no answer on $bootstrap after 60 s" >&2
"$here/stop_kafka.sh" "$dir" || true
exit 1

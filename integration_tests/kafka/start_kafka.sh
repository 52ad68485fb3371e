#!/usr/bin/env bash
# Starts a real Apache Kafka cluster (KRaft; each node is broker and controller) on 127.0.0.1 for the
# integration tests, with its data, configuration and logs in DIR. The jars come from Maven Central
# (pom.xml next to this script) into .cache/kafka/lib, resolved once (scripts/setup.sh does it too).
#   start_kafka.sh DIR              one node, as every test but the broker-fault one uses
#   start_kafka.sh --nodes 3 DIR    three nodes: internal topics replicated 3 times with min.insync.replicas 2,
#                                   and the default for new topics the same
#   start_kafka.sh --restart N DIR  starts node N of the cluster in DIR again (after a kill), same data
#   start_kafka.sh --tls DIR        also a TLS listener on each node, with a certificate for 127.0.0.1 from a
#                                   CA made here (openssl): DIR/tls_bootstrap, DIR/tls/ca.pem for clients
# Each node also has a listener PROXIED, advertised at a port of its own that nothing listens on until a
# fault proxy (Toxiproxy) is put there with the node's PROXIED port as upstream: DIR/N/proxy holds
# "LISTEN UPSTREAM". Clients bootstrapping there reach the cluster only through the proxies.
# Writes DIR/bootstrap (every node's PLAINTEXT address), DIR/proxied_bootstrap, DIR/N/pid and DIR/pid (one
# pid a line); stop_kafka.sh DIR stops them all.
# usage: start_kafka.sh [--nodes N | --restart N] [--tls] DIR   (needs java 17+, mvn the first time, kcat;
#        openssl for --tls)
set -euo pipefail
nodes=1 restart= tls=
while [ $# -gt 1 ]; do
  case $1 in
    --nodes) nodes=$2; shift 2 ;;
    --restart) restart=$2; shift 2 ;;
    --tls) tls=1; shift ;;
    *) break ;;
  esac
done
dir=${1:?usage: start_kafka.sh [--nodes N | --restart N] [--tls] DIR}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

lib=$("$here/../resolve_jars.sh" kafka)
# Small heaps: three nodes, metsd and the tests share 2 cores and a few GiB.
heap=$([ "$nodes" -gt 1 ] || [ -n "$restart" ] && echo 256m || echo 512m)
java_opts=(-Xmx"$heap" -Xms64m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true
           -Dlog4j2.configurationFile="$dir/log4j2.properties")

# Starts node $1 from its properties and waits until it answers on its PLAINTEXT port; its pid in DIR/N/pid.
launch() {
  local n=$1 port pid
  port=$(sed -n 's/^advertised.listeners=PLAINTEXT:\/\/127.0.0.1:\([0-9]*\),.*/\1/p' "$dir/$n/server.properties")
  setsid java "${java_opts[@]}" -Dkafka.logs.dir="$dir/$n" -cp "$lib/*" kafka.Kafka "$dir/$n/server.properties" \
    >"$dir/$n/kafka.out" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$dir/$n/pid"
  for _ in $(seq 240); do # 120 s: three JVMs starting on 2 cores
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "start_kafka: node $n exited:" >&2; tail -n 30 "$dir/$n/kafka.out" "$dir/kafka.log" >&2 2>/dev/null || true
      return 1
    fi
    timeout 5 kcat -b "127.0.0.1:$port" -L -m 2 >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  echo "start_kafka: node $n not answering on 127.0.0.1:$port after 120 s" >&2
  return 1
}

if [ -n "$restart" ]; then
  launch "$restart"
  cat "$dir"/[0-9]*/pid >"$dir/pid"
  exit 0
fi

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
declare -A used=()
port_for() { # a free port not handed out before
  local p
  p=$(free_port)
  while [ -n "${used[$p]:-}" ]; do p=$(free_port); done
  used[$p]=1
  echo "$p"
}
voters="" bootstrap="" proxied="" tls_bootstrap=""
for n in $(seq "$nodes"); do
  mkdir -p "$dir/$n"
  # plaintext controller proxied proxy tls
  echo "$(port_for) $(port_for) $(port_for) $(port_for) $(port_for)" >"$dir/$n/ports"
  read -r port cport _ xport sport <"$dir/$n/ports"
  voters+="${voters:+,}$n@127.0.0.1:$cport"
  bootstrap+="${bootstrap:+,}127.0.0.1:$port"
  proxied+="${proxied:+,}127.0.0.1:$xport"
  tls_bootstrap+="${tls_bootstrap:+,}127.0.0.1:$sport"
done
# TLS: a CA of this cluster alone and one server certificate for 127.0.0.1, in a PKCS12 keystore.
tls_listener="" tls_map="" tls_props=""
if [ -n "$tls" ]; then
  t=$dir/tls
  mkdir -p "$t"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$t/ca.key" -out "$t/ca.pem" -days 2 -subj /CN=mets-test-ca \
    2>/dev/null
  openssl req -newkey rsa:2048 -nodes -keyout "$t/server.key" -out "$t/server.csr" -subj /CN=127.0.0.1 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$t/ext"
  openssl x509 -req -in "$t/server.csr" -CA "$t/ca.pem" -CAkey "$t/ca.key" -CAcreateserial -out "$t/server.pem" \
    -days 2 -extfile "$t/ext" 2>/dev/null
  openssl pkcs12 -export -in "$t/server.pem" -inkey "$t/server.key" -out "$t/server.p12" -passout pass:mets-test
  tls_map=,TLS:SSL
  tls_props="ssl.keystore.type=PKCS12
ssl.keystore.location=$t/server.p12
ssl.keystore.password=mets-test
ssl.key.password=mets-test"
fi
rf=$([ "$nodes" -ge 3 ] && echo 3 || echo 1)
isr=$([ "$nodes" -ge 3 ] && echo 2 || echo 1)
for n in $(seq "$nodes"); do
  read -r port cport pport xport sport <"$dir/$n/ports"
  echo "$xport $pport" >"$dir/$n/proxy"
  [ -n "$tls" ] && tls_listener=",TLS://127.0.0.1:$sport"
  cat >"$dir/$n/server.properties" <<PROPS
node.id=$n
process.roles=broker,controller
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport,PROXIED://127.0.0.1:$pport$tls_listener
advertised.listeners=PLAINTEXT://127.0.0.1:$port,PROXIED://127.0.0.1:$xport$tls_listener
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,PROXIED:PLAINTEXT$tls_map
$tls_props
inter.broker.listener.name=PLAINTEXT
controller.quorum.voters=$voters
log.dirs=$dir/$n/data
num.partitions=4
auto.create.topics.enable=true
default.replication.factor=$rf
min.insync.replicas=$isr
offsets.topic.replication.factor=$rf
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=$rf
transaction.state.log.min.isr=$isr
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor=$rf
share.coordinator.state.topic.min.isr=$isr
group.initial.rebalance.delay.ms=0
replica.lag.time.max.ms=10000
PROPS
done
# Warnings and up only, to DIR/kafka.log (every node).
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

uuid=$(java "${java_opts[@]}" -cp "$lib/*" kafka.tools.StorageTool random-uuid)
for n in $(seq "$nodes"); do
  rm -rf "$dir/$n/data"
  java "${java_opts[@]}" -cp "$lib/*" kafka.tools.StorageTool format -t "$uuid" \
    -c "$dir/$n/server.properties" >"$dir/$n/format.out" 2>&1 || { cat "$dir/$n/format.out" >&2; exit 1; }
done
# The nodes wait for a quorum of controllers: start them all, then wait for each.
pids=()
for n in $(seq "$nodes"); do
  launch "$n" &
  pids+=($!)
done
ok=1
for p in "${pids[@]}"; do wait "$p" || ok=0; done
cat "$dir"/[0-9]*/pid >"$dir/pid"
if [ "$ok" = 0 ]; then
  "$here/stop_kafka.sh" "$dir" || true
  exit 1
fi
echo "$bootstrap" >"$dir/bootstrap"
echo "$proxied" >"$dir/proxied_bootstrap"
[ -z "$tls" ] || echo "$tls_bootstrap" >"$dir/tls_bootstrap"
echo "$bootstrap"

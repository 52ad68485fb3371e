#!/usr/bin/env bash
# metsd end to end (metsd_e2e.sh, the checks test_metsd.sh runs on the development broker) on a real
# Apache Kafka broker (KRaft, one node, kafka/start_kafka.sh), where transactions, read_committed and
# committed offsets are the real thing: exactly-once delivery is asserted here, not on the mock cluster.
# usage: test_real_kafka.sh PATH/TO/mets PATH/TO/metsd   (exit 77 = skipped: no kcat, java or mvn)
set -euo pipefail
METS=${1:?usage: test_real_kafka.sh PATH/TO/mets PATH/TO/metsd}
METSD=${2:?usage: test_real_kafka.sh PATH/TO/mets PATH/TO/metsd}
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/metsd_e2e.sh"
start=$SECONDS
start_real_kafka
# The topics of conf/metsd.yaml, as `mets broker` makes them; the state topic compacted.
create_topics ecg.frames:4 ecg.embeddings ecg.alerts ecg.deadletter metsd.state:4:cleanup.policy=compact
echo "broker $bootstrap up with its topics in $((SECONDS - start)) s"
metsd_end_to_end
echo "real Kafka: $((SECONDS - start)) s in all"

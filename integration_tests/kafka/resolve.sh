#!/usr/bin/env bash
# Resolves the Kafka broker's jars (pom.xml next to this script) from Maven Central into .cache/kafka/lib
# (or $METS_KAFKA_LIB), once: a stamp names the pom they came from, so editing the pom resolves again.
# Prints the folder. Called by start_kafka.sh and scripts/setup.sh.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
lib=${METS_KAFKA_LIB:-$(cd "$here/../.." && pwd)/.cache/kafka/lib}
stamp="$lib/.resolved-$(sha256sum "$here/pom.xml" | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  echo "resolving the Kafka jars into $lib" >&2
  rm -rf "$lib"
  mvn -q -B -f "$here/pom.xml" dependency:copy-dependencies -DincludeScope=runtime \
    -DoutputDirectory="$lib" >&2
  touch "$stamp"
fi
echo "$lib"

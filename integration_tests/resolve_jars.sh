#!/usr/bin/env bash
# Resolves the jars a test runs from Maven Central, as a pom.xml names them, into a folder, once: a stamp
# names the pom they came from, so editing the pom resolves again. Prints the folder.
#   resolve_jars.sh kafka   the Kafka broker (kafka/pom.xml) into .cache/kafka/lib or $METS_KAFKA_LIB
#   resolve_jars.sh hl7     the alert manager of test_pcd, HAPI HL7v2 (hl7/pom.xml), into .cache/hl7/lib
# Called by kafka/start_kafka.sh, test_pcd.sh and scripts/setup.sh.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
name=${1:?usage: resolve_jars.sh kafka|hl7}
pom="$here/$name/pom.xml"
[ -f "$pom" ] || { echo "resolve_jars.sh: no $pom" >&2; exit 2; }
lib="$(cd "$here/.." && pwd)/.cache/$name/lib"
[ "$name" = kafka ] && lib=${METS_KAFKA_LIB:-$lib}
stamp="$lib/.resolved-$(sha256sum "$pom" | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  echo "resolving the jars of $pom into $lib" >&2
  rm -rf "$lib"
  mvn -q -B -f "$pom" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$lib" >&2
  touch "$stamp"
fi
echo "$lib"

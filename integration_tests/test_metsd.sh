#!/usr/bin/env bash
# metsd end to end on the development broker: the checks are in metsd_e2e.sh (test_real_kafka.sh runs
# the same on a real Kafka broker).
# usage: test_metsd.sh PATH/TO/mets PATH/TO/metsd        (exit 77 = skipped: kcat is not installed)
set -euo pipefail
METS=${1:?usage: test_metsd.sh PATH/TO/mets PATH/TO/metsd}
METSD=${2:?usage: test_metsd.sh PATH/TO/mets PATH/TO/metsd}
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/metsd_e2e.sh"
start_broker
metsd_end_to_end

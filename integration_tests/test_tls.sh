#!/usr/bin/env bash
# The mets tools reach a broker that wants TLS, with librdkafka properties given as kcat takes them
# (issue 16): on a real Kafka broker with a TLS listener (a certificate for 127.0.0.1 from a CA the harness
# makes with openssl), `mets replay -X security.protocol=SSL -X ssl.ca.location=CA` sends frames that kcat
# reads back over plaintext, and `mets tail` with the same properties in a -F file reads known alerts back;
# without them, or trusting another CA, nothing is read.
# usage: test_tls.sh PATH/TO/mets PATH/TO/produce_alerts   (exit 77 = skipped: no kcat, java or openssl)
set -euo pipefail
METS=${1:?usage: test_tls.sh PATH/TO/mets PATH/TO/produce_alerts}
PRODUCE=${2:?}
command -v openssl >/dev/null || { echo "SKIP: openssl not installed"; exit 77; }
. "$(dirname "$0")/lib.sh"
start_real_kafka --tls
tls=$(cat "$work/kafka/tls_bootstrap") ca=$work/kafka/tls/ca.pem
create_topics ecg.frames:2 ecg.alerts:3 ecg.deadletter

timeout 60 "$METS" replay -q -b "$tls" -X security.protocol=SSL -X "ssl.ca.location=$ca" -x 0 --duration 5 \
  -s bed-tls demo/mitdb_201_demo 2>"$work/replay.log" || fail "replay over TLS: $(cat "$work/replay.log")"
n=$(timeout 30 kcat -b "$bootstrap" -C -t ecg.frames -e -o beginning -q -f '%k\n' | grep -c '^bed-tls$' || true)
[ "$n" = 20 ] || fail "frames sent over TLS: $n, expected 20 (5 s of 250 ms frames)"

timeout 30 "$PRODUCE" "$bootstrap" || fail "produce_alerts"
printf '# the TLS listener of the test broker\nsecurity.protocol=SSL\nssl.ca.location=%s\n' "$ca" >"$work/tls.properties"
n=$(timeout 60 "$METS" tail -b "$tls" -F "$work/tls.properties" --from-beginning -e 2>"$work/tail.log" | wc -l)
[ "$n" = 4 ] || fail "alerts read over TLS: $n, expected 4: $(cat "$work/tail.log")"

# The TLS port without TLS, and TLS trusting another CA: nothing is read.
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/other.key" -out "$work/other.pem" -days 1 \
  -subj /CN=another-ca 2>/dev/null
for props in "-X security.protocol=PLAINTEXT" "-X security.protocol=SSL -X ssl.ca.location=$work/other.pem"; do
  # shellcheck disable=SC2086
  n=$(timeout 20 "$METS" tail -b "$tls" $props -X socket.timeout.ms=5000 --from-beginning -e 2>/dev/null | wc -l || true)
  [ "$n" = 0 ] || fail "read $n alerts with $props"
done
echo "TLS: 20 frames replayed and 4 alerts tailed through the TLS listener; none without TLS or with another CA"

#!/usr/bin/env bash
# The systemd units (systemd/metsd@.service, systemd/mets-pcd.service): their security exposure stays at
# most 2.0 by systemd's own measure; metsd@ runs the member named by the instance and reloads with SIGHUP;
# mets-pcd runs `mets pcd` on the shipped configuration, which it accepts; and a secret given through
# LoadCredential= reaches metsd through kafka.property_files: `metsd --check-config` of a configuration
# that names /run/credentials/metsd@a.service/... accepts a credential file there and refuses a missing one.
# usage: test_unit.sh PATH/TO/metsd PATH/TO/mets   (exit 77 = skipped: no systemd-analyze)
set -euo pipefail
METSD=${1:?usage: test_unit.sh PATH/TO/metsd PATH/TO/mets}
METS=${2:?usage: test_unit.sh PATH/TO/metsd PATH/TO/mets}
unit=systemd/metsd@.service
command -v systemd-analyze >/dev/null || { echo "SKIP: systemd-analyze not installed"; exit 77; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

systemd-analyze security --offline=true --threshold=20 "$unit" >"$work/security.txt" 2>&1 \
  || fail "exposure above 2.0: $(tail -n 1 "$work/security.txt")"
exposure=$(sed -nE 's/.*Overall exposure level for [^:]*: ([0-9.]+).*/\1/p' "$work/security.txt")
[ -n "$exposure" ] || fail "no exposure level: $(tail -n 3 "$work/security.txt")"
grep -qx 'ExecStart=/usr/local/bin/metsd -c /etc/mets/metsd.yaml --instance %i' "$unit" || fail "ExecStart"
grep -qx 'ExecReload=/bin/kill -HUP $MAINPID' "$unit" || fail "ExecReload"
echo "unit: exposure $exposure (at most 2.0), the instance is the member name, reload is SIGHUP"
systemd-analyze security --offline=true --threshold=20 systemd/mets-pcd.service >"$work/security.txt" 2>&1 \
  || fail "mets-pcd: exposure above 2.0: $(tail -n 1 "$work/security.txt")"
grep -qx 'ExecStart=/usr/local/bin/mets pcd /etc/mets/pcd.yaml' systemd/mets-pcd.service || fail "mets-pcd ExecStart"
grep -qx 'Type=notify' systemd/mets-pcd.service || fail "mets-pcd Type"
"$METS" pcd --check-config conf/pcd.yaml >/dev/null || fail "mets pcd refuses the shipped conf/pcd.yaml"
echo "mets-pcd unit: $(sed -nE 's/.*Overall exposure level for [^:]*: ([0-9.]+).*/exposure \1/p' "$work/security.txt"), the shipped configuration accepted"

# The credential as systemd hands it over: a file in the service's credentials folder.
creds=$work/run/credentials/metsd@a.service
mkdir -p "$creds"
printf 'pa55word\n' >"$creds/sasl-password"
sed -e "s|\.\./models/|$PWD/models/|" -e "s|labels: labels.yaml|labels: $PWD/conf/labels.yaml|" \
  -e "s|^kafka:|kafka:\n  property_files:\n    sasl.password: $creds/sasl-password|" conf/metsd.yaml >"$work/metsd.yaml"
grep -q "property_files" "$work/metsd.yaml" || fail "could not add kafka.property_files"
"$METSD" --check-config "$work/metsd.yaml" >"$work/check.log" 2>&1 || fail "refused: $(cat "$work/check.log")"
grep -q pa55word "$work/check.log" && fail "the secret was printed"
rm "$creds/sasl-password"
if "$METSD" --check-config "$work/metsd.yaml" >"$work/check.log" 2>&1; then fail "accepted a missing credential"; fi
grep -q "kafka.property_files.sasl.password: $creds/sasl-password" "$work/check.log" \
  || fail "the missing credential not named: $(cat "$work/check.log")"
echo "credentials: read through kafka.property_files, never printed; a missing one refused: $(head -c 160 "$work/check.log")"

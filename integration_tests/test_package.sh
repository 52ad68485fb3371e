#!/usr/bin/env bash
# The Debian package (packaging/): built with cpack, installed with dpkg on this machine, then
#   - metsd --check-config /etc/mets/metsd.yaml accepts the installed configuration and models;
#   - the installed unit's security exposure is at most 2.0;
#   - the demo runs on the installed binaries and files: mets broker, metsd with the installed
#     configuration (its metrics port made free) and mets replay of /usr/share/mets/demo raise alerts;
#   - reinstalling keeps an operator's edit of the conffile /etc/mets/metsd.yaml;
#   - purging removes every file it installed.
# usage: test_package.sh BUILD_DIR   (exit 77 = skipped: not root, or no dpkg or cpack)
set -euo pipefail
build=${1:?usage: test_package.sh BUILD_DIR}
[ "$(id -u)" = 0 ] || { echo "SKIP: installing a package needs root"; exit 77; }
command -v dpkg >/dev/null && command -v cpack >/dev/null || { echo "SKIP: no dpkg or cpack"; exit 77; }
METS=/usr/bin/mets
. "$(dirname "$0")/lib.sh"
cleanup_package() { dpkg --purge mets >/dev/null 2>&1 || true; }
trap 'cleanup_package; cleanup' EXIT

cpack --config "$build/CPackConfig.cmake" >"$work/cpack.log" 2>&1 || fail "cpack: $(tail -n 5 "$work/cpack.log")"
deb=$(ls "$build"/package/mets_*_amd64.deb)
dpkg -i "$deb" >"$work/dpkg.log" 2>&1 || fail "dpkg -i: $(cat "$work/dpkg.log")"
files=$(dpkg -L mets | while read -r f; do if [ -f "$f" ]; then echo "$f"; fi; done)
echo "installed $(basename "$deb"): $(echo "$files" | wc -l) files; depends: $(dpkg-query -W -f='${Depends}' mets)"

/usr/bin/metsd --check-config /etc/mets/metsd.yaml >"$work/check.log" 2>&1 || fail "check-config: $(cat "$work/check.log")"
/usr/bin/mets pcd --check-config /etc/mets/pcd.yaml >"$work/check.log" 2>&1 || fail "pcd: $(cat "$work/check.log")"
if command -v systemd-analyze >/dev/null; then
  for unit in metsd@.service mets-pcd.service; do
    systemd-analyze security --offline=true --threshold=20 "/lib/systemd/system/$unit" >"$work/sec.log" 2>&1 \
      || fail "the installed $unit: $(tail -n 1 "$work/sec.log")"
  done
  grep -q '^ExecStart=/usr/bin/metsd ' /lib/systemd/system/metsd@.service || fail "metsd@'s ExecStart"
  grep -q '^ExecStart=/usr/bin/mets pcd /etc/mets/pcd.yaml$' /lib/systemd/system/mets-pcd.service || fail "mets-pcd's ExecStart"
fi

# The demo on the installed files.
start_broker
sed 's|listen: 127.0.0.1:9464|listen: 127.0.0.1:0|; s|labels: labels.yaml|labels: /etc/mets/labels.yaml|' \
  /etc/mets/metsd.yaml >"$work/metsd.yaml"
/usr/bin/metsd -c "$work/metsd.yaml" --bootstrap "$bootstrap" --print-alerts >"$work/alerts.jsonl" 2>"$work/metsd.log" &
pids+=($!)
for _ in $(seq 300); do grep -q consuming "$work/metsd.log" && break; sleep 0.1; done
grep -q consuming "$work/metsd.log" || fail "the installed metsd did not start"
timeout 120 "$METS" replay -q --bootstrap "$bootstrap" -x 20 -s bed-12 /usr/share/mets/demo/mitdb_201_demo \
  || fail "the installed mets replay"
for _ in $(seq 60); do grep -q '"state":"raised"' "$work/alerts.jsonl" && break; sleep 0.5; done
raised=$(grep '"state":"raised"' "$work/alerts.jsonl" | python3 -c 'import json, sys
print(" ".join(sorted({a["label_group"] + "/" + a["label"] for a in map(json.loads, sys.stdin)})))')
[ -n "$raised" ] || fail "the demo raised no alert"
echo "demo on the installed binaries: raised $raised"

echo "# edited by the operator" >>/etc/mets/metsd.yaml
dpkg -i "$deb" >"$work/dpkg.log" 2>&1 || fail "dpkg -i again: $(cat "$work/dpkg.log")"
tail -n 1 /etc/mets/metsd.yaml | grep -qx "# edited by the operator" || fail "reinstalling lost the conffile edit"
dpkg --purge mets >"$work/dpkg.log" 2>&1 || fail "dpkg --purge: $(cat "$work/dpkg.log")"
left=$(echo "$files" | while read -r f; do if [ -e "$f" ]; then echo "$f"; fi; done)
[ -z "$left" ] || fail "left after purge: $left"
echo "package: conffile edit kept on reinstall; purge removed all $(echo "$files" | wc -l) files"

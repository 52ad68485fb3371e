#!/usr/bin/env bash
# `mets replay` through the development broker, read back by an independent client (kcat): a 20 s WFDB
# record replayed as 2 beds gives exactly 100 frames per bed, keyed by stream id; a second replay of the
# same record gives byte-identical messages (determinism); a missing record fails with its name and
# publishes nothing.
# usage: test_replay.sh PATH/TO/mets        (exit 77 = skipped: kcat is not installed)
set -euo pipefail
METS=${1:?usage: test_replay.sh PATH/TO/mets}
RECORD=tests/fixtures/wfdb/vfdb_418 # 20 s at 250 Hz (PhysioNet VFDB, ODC-By 1.0: tests/fixtures/wfdb/README.md)
. "$(dirname "$0")/lib.sh"
start_broker --topics a:4,b:4,c:4

# Every partition in offset order, so that two topics can be compared byte for byte.
dump() {
  for p in 0 1 2 3; do
    timeout 20 kcat -b "$bootstrap" -C -t "$1" -p "$p" -e -o beginning -q -f '%k %s\n' || fail "kcat -C $1/$p"
  done
}

for topic in a b; do
  timeout 60 "$METS" replay -q -b "$bootstrap" -t "$topic" -x 0 --frame-ms 200 --beds 2 -s bed "$RECORD" \
    || fail "mets replay to $topic"
done
dump a >"$work/a"
dump b >"$work/b"
keys=$(timeout 20 kcat -b "$bootstrap" -C -t a -e -o beginning -q -f '%k\n' | sort | uniq -c | awk '{print $2 "=" $1}' | tr '\n' ' ')
[ "$keys" = "bed-0001=100 bed-0002=100 " ] || fail "frames per stream: $keys, expected 100 each"
cmp -s "$work/a" "$work/b" || fail "two replays of the same record differ"

if "$METS" replay -q -b "$bootstrap" -t c -x 0 tests/fixtures/wfdb/no_such_record 2>"$work/err"; then
  fail "replaying a missing record succeeded"
fi
grep -q "no_such_record" "$work/err" || fail "the error does not name the record: $(cat "$work/err")"
[ -z "$(dump c)" ] || fail "a failed replay published frames"
echo "ok: 2 beds x 100 frames, deterministic, missing record refused"

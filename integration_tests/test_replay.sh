#!/usr/bin/env bash
# `mets replay` through the development broker, read back by an independent client (kcat): a 20 s WFDB
# record replayed as 2 beds gives exactly 100 frames per bed, keyed by stream id; a second replay of the
# same record gives byte-identical messages (determinism); a missing record fails with its name and
# publishes nothing. CSV input: 10 s at 250 Hz gives 40 frames, twice byte-identical; a bad CSV after a
# good one fails with file:line and publishes nothing at all. A topic time range: 5 s of frame time out of
# the 2-bed replay gives exactly those frames, byte for byte, and --stream-suffix renames their streams.
# Two records play side by side, merged by frame time, or one after the other with --sequential.
# --progress prints a summary with the rate.
# usage: test_replay.sh PATH/TO/mets        (exit 77 = skipped: kcat is not installed)
set -euo pipefail
METS=${1:?usage: test_replay.sh PATH/TO/mets}
RECORD=tests/fixtures/wfdb/vfdb_418 # 20 s at 250 Hz (PhysioNet VFDB, ODC-By 1.0: tests/fixtures/wfdb/README.md)
. "$(dirname "$0")/lib.sh"
start_broker --topics a:4,b:4,c:4,csv1:4,csv2:4,bad:4,range:4,renamed:4,slow:4,ward,ward-seq,ward-bad

# Every partition in offset order, so that two topics can be compared byte for byte (read side by side:
# each kcat takes a second to close).
dump() {
  local p kpids=()
  for p in 0 1 2 3; do
    timeout 20 kcat -b "$bootstrap" -C -t "$1" -p "$p" -e -o beginning -q -f '%k %s\n' >"$work/dump.$p" &
    kpids+=($!)
  done
  for p in 0 1 2 3; do wait "${kpids[$p]}" || fail "kcat -C $1/$p"; done
  cat "$work"/dump.[0-3]
}
# "KEY=COUNT " for every key of a topic, sorted.
keys() {
  timeout 20 kcat -b "$bootstrap" -C -t "$1" -e -o beginning -q -f '%k\n' | sort | uniq -c | awk '{print $2 "=" $1}' \
    | tr '\n' ' '
}

for topic in a b; do
  timeout 60 "$METS" replay -q -b "$bootstrap" -t "$topic" -x 0 --frame-ms 200 --beds 2 -s bed "$RECORD" \
    || fail "mets replay to $topic"
done
dump a >"$work/a"
dump b >"$work/b"
[ "$(keys a)" = "bed-0001=100 bed-0002=100 " ] || fail "frames per stream: $(keys a), expected 100 each"
cmp -s "$work/a" "$work/b" || fail "two replays of the same record differ"

if "$METS" replay -q -b "$bootstrap" -t c -x 0 tests/fixtures/wfdb/no_such_record 2>"$work/err"; then
  fail "replaying a missing record succeeded"
fi
grep -q "no_such_record" "$work/err" || fail "the error does not name the record: $(cat "$work/err")"
[ -z "$(dump c)" ] || fail "a failed replay published frames"

# CSV: 2500 rows at 250 Hz (times to 3 decimals), leads I, II, V1 with empty and nan cells.
awk 'BEGIN { print "time,I,II,V1"
  for (i = 0; i < 2500; i++)
    printf "%.3f,%.3f,%.3f,%s\n", i / 250, sin(i / 10), cos(i / 7), i % 100 == 5 ? "" : i % 100 == 6 ? "nan" : 0.01 * (i % 50) }' \
  >"$work/bed-csv.csv"
for topic in csv1 csv2; do
  timeout 60 "$METS" replay -q -b "$bootstrap" -t "$topic" -x 0 "$work/bed-csv.csv" || fail "CSV replay to $topic"
done
[ "$(keys csv1)" = "bed-csv=40 " ] || fail "CSV frames: $(keys csv1), expected bed-csv=40"
dump csv1 >"$work/csv1"
dump csv2 >"$work/csv2"
cmp -s "$work/csv1" "$work/csv2" || fail "two replays of the same CSV differ"

# Several records side by side, merged by frame time as a ward streams them (ties: the record given
# first), or one after another with --sequential; one partition keeps the order they were sent in.
order() { timeout 20 kcat -b "$bootstrap" -C -t "$1" -e -o beginning -q -f '%k\n' | uniq -c | awk '{print $2 "x" $1}' | tr '\n' ' '; }
timeout 60 "$METS" replay -q -b "$bootstrap" -t ward -x 0 "$RECORD" "$work/bed-csv.csv" || fail "side by side"
[ "$(order ward)" = "$(printf 'vfdb_418x1 bed-csvx1 %.0s' $(seq 40))vfdb_418x40 " ] \
  || fail "side by side: $(order ward | cut -c1-200)"
timeout 60 "$METS" replay -q -b "$bootstrap" -t ward-seq -x 0 --sequential "$RECORD" "$work/bed-csv.csv" \
  || fail "--sequential"
[ "$(order ward-seq)" = "vfdb_418x80 bed-csvx40 " ] || fail "--sequential: $(order ward-seq)"
if "$METS" replay -q -b "$bootstrap" -t ward-bad -x 0 -s bed "$RECORD" "$work/bed-csv.csv" 2>"$work/err"; then
  fail "-s with two records side by side was accepted"
fi
grep -q -- "-s names one stream" "$work/err" || fail "-s with two records: $(cat "$work/err")"

printf 'time,I,II\n0,0.1,0.2\n0.004,0.1,0.2\n0.008,0.1,abc\n' >"$work/broken.csv"
if "$METS" replay -q -b "$bootstrap" -t bad -x 0 "$work/bed-csv.csv" "$work/broken.csv" 2>"$work/err"; then
  fail "replaying a bad CSV succeeded"
fi
grep -q "broken.csv:4: column II: 'abc'" "$work/err" || fail "the error does not say file:line: $(cat "$work/err")"
[ -z "$(dump bad)" ] || fail "a replay with a bad CSV published frames"

# Frame time [5 s, 10 s) of topic a: bed 1's frames start at 0.2 s steps, bed 2's 0.37 s later: 25 each.
timeout 60 "$METS" replay -q -b "$bootstrap" --from-topic a -t range -x 0 \
  --since 2026-01-01T00:00:05Z --until 1767225610000000 || fail "range replay"
[ "$(keys range)" = "bed-0001=25 bed-0002=25 " ] || fail "range frames: $(keys range), expected 25 each"
# The same bytes: each is one of topic a's messages, and they are exactly the ones of the range.
sort "$work/a" >"$work/a.sorted"
dump range | sort >"$work/range"
[ "$(comm -13 "$work/a.sorted" "$work/range" | wc -l)" = 0 ] || fail "range replay changed frames"
timeout 60 "$METS" replay -q -b "$bootstrap" --from-topic a -t renamed -x 0 --stream-suffix=-rescore \
  --since 2026-01-01T00:00:05Z --until 2026-01-01T00:00:10Z || fail "range replay with a suffix"
[ "$(keys renamed)" = "bed-0001-rescore=25 bed-0002-rescore=25 " ] || fail "renamed frames: $(keys renamed)"

# Progress and summary: 2 s of the record at 10x (about 0.2 s, longer on a loaded machine: not checked).
timeout 60 "$METS" replay --progress -b "$bootstrap" -t slow -x 10 --duration 2 "$RECORD" 2>"$work/progress" \
  || fail "replay with --progress"
grep -q '%, ETA' "$work/progress" || fail "no progress line: $(cat "$work/progress")"
grep -Eq '^mets replay: 8 frames to slow in [0-9]+\.[0-9][0-9] s \([0-9]+ frames/s\)$' "$work/progress" \
  || fail "no summary line: $(cat "$work/progress")"
# librdkafka properties (-X, -F) reach the producer and the range's consumer; a bad one is refused by name
# before anything is sent.
printf 'linger.ms=20\n' >"$work/props"
timeout 60 "$METS" replay -q -b "$bootstrap" -t props -x 0 -X client.id=replay-test -F "$work/props" "$RECORD" \
  || fail "replay with -X and -F"
timeout 60 "$METS" replay -q -b "$bootstrap" --from-topic props -t props-range -x 0 -X fetch.wait.max.ms=50 \
  || fail "range replay with -X"
[ "$(keys props-range)" = "$(keys props)" ] || fail "range replay with -X: $(keys props-range)"
if "$METS" replay -q -b "$bootstrap" -t props-bad -x 0 -X linger.ms=never "$RECORD" 2>"$work/err"; then
  fail "a bad -X was accepted"
fi
grep -q "mets replay: linger.ms: Invalid value" "$work/err" || fail "the bad -X not named: $(cat "$work/err")"
[ -z "$(dump props-bad)" ] || fail "a refused replay published frames"
echo "ok: 2 beds x 100 frames, deterministic, missing record refused; CSV 40 frames, deterministic, bad CSV" \
  "refused with nothing sent; records side by side and --sequential; range replay exact, renamed;" \
  "progress and summary; -X and -F"

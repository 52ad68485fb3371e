#!/usr/bin/env bash
# Chooses among trained models (e.g. the epochs `mets train --keep-epochs` keeps) by what counts at the
# bedside: each model runs through the daemon on the held-aside records (eval/alarms.sh), its operating
# points are chosen (mets eval --operating-points, docs/alarms.md), and the model whose chosen points detect
# the largest share of the long episodes (>= 10 s; AF >= 30 s) of all alarms together, counting only
# alarms within their false-alarm limits, wins, plus 1 when its artefact alarm covers the noise stress test
# (an artefact threshold was chosen); ties: fewer false alarms.
#
#   eval/select_model.sh [--data DIR] [--out DIR] MODEL...
#
# Prints one line per model and the winner; --out keeps each model's alarm run and sweep in DIR/NAME.
set -euo pipefail
cd "$(dirname "$0")/.."
data=${METS_DATA:-.cache/data} out=$(mktemp -d) keep=0
while [ $# -gt 0 ]; do
  case $1 in
    --data) data=$2; shift 2 ;;
    --out) out=$2; keep=1; shift 2 ;;
    -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) break ;;
  esac
done
[ $# -gt 0 ] || { echo "usage: eval/select_model.sh [--data DIR] [--out DIR] MODEL..." >&2; exit 2; }
[ "$keep" = 1 ] || trap 'rm -rf "$out"' EXIT
best= best_score=-1
for m in "$@"; do
  d=$out/$(basename "$m")
  mkdir -p "$d"
  eval/alarms.sh --data "$data" --model "$m" --out "$d" >"$d/alarms.log" 2>&1 || { cat "$d/alarms.log"; exit 1; }
  build/tools/mets eval --data "$data" -M "$m" --operating-points "$d/embeddings.jsonl" \
    --curves "$d/operating-points.csv" >"$d/operating-points.txt"
  # | alarm | max | raise_p | k of n | clear_m | Se | Se long | +P | false / h | NSTDB | delay | meets |
  line=$(awk -F'|' '/^\| (AF|flutter|SVT|VT|VF\/VFL) \|/ {
           gsub(/ /, "", $8); gsub(/ /, "", $10); gsub(/ /, "", $13); split($8, c, /[(\/)]/);
           if ($13 == "yes") hit += c[2]; ref += c[3]; f += $10; printf "%s %s %s  ", $2, $8, $13 }
           END { printf "| score %.2f | false/h %.2f", ref ? hit / ref : 0, f }' "$d/operating-points.txt")
  art=$(sed -n 's/^chosen: //p' "$d/operating-points.txt")
  score=$(sed -E 's/.*score ([0-9.]+).*false\/h ([0-9.]+)/\1 \2/' <<<"$line")
  [ "$art" = none ] || score=$(awk -v s="$score" 'BEGIN { split(s, x, " "); printf "%.2f %s", x[1] + 1, x[2] }')
  echo "$(basename "$m"): $line | artefact $art | total ${score% *}"
  if awk -v s="$score" -v b="$best_score" 'BEGIN { split(s, x, " "); split(b, y, " ");
        exit !(x[1] > y[1] + 1e-9 || (x[1] > y[1] - 1e-9 && x[2] < y[2])) }'; then
    best=$m best_score=$score
  fi
done
echo "chosen: $best"

#!/usr/bin/env python3
"""Compares what read_committed consumers see of two metsd runs over the same frames: every embedding
(stream, window end), every alert event (id, state, window end) and every dead letter (partition, offset,
reason) must be in both exactly once. Values may differ only by floating-point rounding (a rebuilt window
is encoded in a batch with other windows, and BLAS sums in another order): embeddings by cosine
>= 1 - 1e-4, probabilities by 1e-3.
usage: compare_outputs.py REFERENCE_DIR RUN_DIR   (each with embeddings.jsonl, alerts.jsonl,
deadletters.jsonl as `mets tail --vectors -e --from-beginning` prints them); exit 1 on any difference."""
import collections
import json
import math
import sys


def load(path, key):
    seen = collections.defaultdict(list)
    with open(path) as f:
        for line in f:
            m = json.loads(line)
            seen[key(m)].append(m)
    return seen


def compare(name, ref, run, value=None, tolerance=None):
    lost = [k for k in ref if k not in run]
    extra = [k for k in run if k not in ref]
    doubled = sum(len(v) - 1 for v in run.values() if len(v) > 1)
    worst = 0.0
    if value:
        for k in ref:
            if k in run:
                worst = max(worst, value(ref[k][0], run[k][0]))
    print(f"{name}: {len(ref)} in the reference, {sum(len(v) for v in run.values())} in the run: "
          f"{len(lost)} lost, {doubled} doubled, {len(extra)} extra" +
          (f", largest value difference {worst:.3g}" if value else ""))
    for k in (lost + extra)[:5]:
        print("   ", "lost" if k in ref else "extra", k)
    return not lost and not extra and not doubled and (not value or worst <= tolerance)


def cosine_gap(a, b):
    x, y = a["vector"], b["vector"]
    dot = sum(p * q for p, q in zip(x, y))
    return 1 - dot / math.sqrt(sum(p * p for p in x) * sum(q * q for q in y))


def main():
    ref, run = sys.argv[1], sys.argv[2]
    ok = compare("embeddings", load(f"{ref}/embeddings.jsonl", lambda m: (m["stream_id"], m["window_end_us"])),
                 load(f"{run}/embeddings.jsonl", lambda m: (m["stream_id"], m["window_end_us"])),
                 cosine_gap, 1e-4)
    akey = lambda m: (m["alert_id"], m["state"], m["window_end_us"])
    ok &= compare("alert events", load(f"{ref}/alerts.jsonl", akey), load(f"{run}/alerts.jsonl", akey),
                  lambda a, b: abs(a["probability"] - b["probability"]), 1e-3)
    dkey = lambda m: (m["partition"], m["offset"], m["reason"])
    ok &= compare("dead letters", load(f"{ref}/deadletters.jsonl", dkey), load(f"{run}/deadletters.jsonl", dkey))
    sys.exit(0 if ok else 1)


main()

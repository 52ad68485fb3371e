#!/usr/bin/env python3
"""Compares what read_committed consumers see of two metsd runs over the same frames: every embedding
(stream, window end), every alert event (id, state, window end, stale) and every dead letter (partition, offset,
reason) must be in both exactly once, with the same values bit for bit: a window rebuilt after a restart has
the same samples, and its scores do not depend on the batch it is encoded in (docs/performance.md).
With --recording-s S, the reference must also hold every window of each replayed S-second recording: per
stream an unbroken run of window ends every 2 s, at least (S - 10 - 2) / 2 of them (a 10 s window, and up
to 2 s at the end that no window covers whole); with S 0 only the unbroken runs.
With --at-least-once, the run may repeat outputs (never lose one, nor have one the reference lacks).
usage: compare_outputs.py [--recording-s S] [--at-least-once] REFERENCE_DIR RUN_DIR   (each with embeddings.jsonl,
alerts.jsonl, deadletters.jsonl as `mets tail --vectors -e --from-beginning` prints them); exit 1 on any
difference."""
import array
import collections
import json
import math
import sys


def load(path, key):
    seen = collections.defaultdict(list)
    with open(path) as f:
        for line in f:
            m = json.loads(line)
            if "vector" in m:  # packed: an hour of hundreds of beds is millions of floats
                m["vector"] = array.array("d", m["vector"])
            seen[key(m)].append(m)
    return seen


def compare(name, ref, run, value=None, tolerance=None, repeats_ok=False):
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
    return not lost and not extra and (repeats_ok or not doubled) and (not value or worst <= tolerance)


def vector_gap(a, b):
    """0 for the same vector, else 1 - cosine (printed to say how far apart)."""
    x, y = a["vector"], b["vector"]
    if x == y:
        return 0.0
    dot = sum(p * q for p, q in zip(x, y))
    return max(1 - dot / math.sqrt(sum(p * p for p in x) * sum(q * q for q in y)), 5e-324)  # never 0: they differ


def covers_recordings(path, seconds, hop_us=2_000_000):
    ends = collections.defaultdict(list)
    with open(path) as f:
        for line in f:
            m = json.loads(line)
            ends[m["stream_id"]].append(m["window_end_us"])
    least = max(0, int((seconds - 10 - 2) // 2))
    ok = bool(ends)
    for stream, e in sorted(ends.items()):
        e.sort()
        gaps = [b - a for a, b in zip(e, e[1:]) if b - a != hop_us]
        if gaps or len(e) < least:
            print(f"{stream}: {len(e)} windows (at least {least}), {len(gaps)} breaks in the 2 s grid")
            ok = False
    print(f"reference windows: {len(ends)} streams, {sum(len(e) for e in ends.values())} windows, every stream "
          f"an unbroken run of at least {least}" if ok else "reference windows: the recordings are not covered")
    return ok


def main():
    args = sys.argv[1:]
    seconds, alo = None, False
    while args[0].startswith("--"):
        if args[0] == "--recording-s":
            seconds, args = float(args[1]), args[2:]
        elif args[0] == "--at-least-once":
            alo, args = True, args[1:]
        else:
            sys.exit(f"unknown option {args[0]}")
    ref, run = args
    ok = compare("embeddings", load(f"{ref}/embeddings.jsonl", lambda m: (m["stream_id"], m["window_end_us"])),
                 load(f"{run}/embeddings.jsonl", lambda m: (m["stream_id"], m["window_end_us"])),
                 vector_gap, 0.0, alo)
    akey = lambda m: (m["alert_id"], m["state"], m["window_end_us"], m.get("stale", False))
    ok &= compare("alert events", load(f"{ref}/alerts.jsonl", akey), load(f"{run}/alerts.jsonl", akey),
                  lambda a, b: abs(a["probability"] - b["probability"]), 0.0, alo)
    dkey = lambda m: (m["partition"], m["offset"], m["reason"])
    ok &= compare("dead letters", load(f"{ref}/deadletters.jsonl", dkey), load(f"{run}/deadletters.jsonl", dkey),
                  repeats_ok=alo)
    if seconds is not None:
        ok &= covers_recordings(f"{ref}/embeddings.jsonl", seconds)
    sys.exit(0 if ok else 1)


main()

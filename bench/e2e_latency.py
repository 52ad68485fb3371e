#!/usr/bin/env python3
"""Latencies of one bench/e2e.sh run, from kcat dumps made with -f '%T %p %o %K %S\\n%k%s' (Kafka timestamp
in ms, partition, offset, key and payload sizes, then key and payload) of the frames, embeddings and
alerts topics, all keyed by stream id.

An output's latency is measured from the close of its window: the Kafka timestamp of the frame that ends
the window (the frame whose t0_us is the last before the output's window_end_us; EcgFrame.t0_us is field
5, Embedding.window_end_us field 4, Alert.window_end_us field 11), as integration_tests/latency.py does,
to
  produced: the output's own Kafka timestamp (when metsd produced it, inside its transaction), and
  visible: when a read_committed consumer received it (--visible: lines 'WALL_MS PARTITION OFFSET' written
           by a kcat -u consumer through e2e_stamp.py, all on the same host clock), i.e. after the commit.
Only outputs whose window closed within [--from, --to] (ms since 1970) count. Also the replay's own
lateness: how much later than its process's most punctual frame each frame reached Kafka, against the
frame's t0 less the bed's clock shift (--bed-offset), which tells whether the source kept real time.
Prints one line of JSON.
usage: e2e_latency.py --from MS --to MS [--bed-offset S] FRAMES EMBEDDINGS ALERTS [--visible STAMPS]"""
import argparse, bisect, json, os, sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration_tests"))
from latency import fields, messages, percentile  # noqa: E402  the dump readers of latency.py


def field(b, want):
    """Top-level field `want` of a protobuf message, None if absent or not decodable."""
    try:
        return fields(b).get(want)
    except (ValueError, IndexError):
        return None


def percentiles(xs):
    if not xs:
        return None
    xs = sorted(xs)

    def p(q):
        return round(percentile(xs, q), 1)

    return {"n": len(xs), "mean": round(sum(xs) / len(xs), 1), "p50": p(50), "p99": p(99), "p999": p(99.9), "max": xs[-1], "min": xs[0]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--from", dest="t_from", type=int, required=True)
    ap.add_argument("--to", dest="t_to", type=int, required=True)
    ap.add_argument("--bed-offset", type=float, default=0.37)
    ap.add_argument("--visible")
    ap.add_argument("frames")
    ap.add_argument("embeddings")
    ap.add_argument("alerts")
    a = ap.parse_args()

    frames = {}  # stream -> sorted [(t0_us, kafka ms)]
    ahead = {}  # replay process (stream prefix) -> [(kafka ms, kafka ms - t0 ms less the bed's clock shift)]
    for ts, _, _, key, payload in messages(a.frames):
        t0 = field(payload, 5)
        if t0 is None:
            continue
        frames.setdefault(key, []).append((t0, ts))
        prefix, _, bed = key.rpartition(b"-")
        shift = (int(bed) - 1) * a.bed_offset * 1000 if bed.isdigit() else 0
        ahead.setdefault(prefix, []).append((ts, ts - (t0 / 1000 - shift)))
    for v in frames.values():
        v.sort()
    late = []  # against the most punctual frame of the same process
    for v in ahead.values():
        best = min(d for _, d in v)
        late += [d - best for ts, d in v if a.t_from <= ts <= a.t_to]

    visible = {}
    if a.visible:
        for line in open(a.visible):
            wall, part, off = line.split()
            visible[(int(part), int(off))] = int(float(wall))

    out = {"replay_late_ms": percentiles(late)}
    for name, path, end_field in (("embedding", a.embeddings, 4), ("alert", a.alerts, 11)):
        produced, seen, unmatched = [], [], 0
        for ts, part, off, key, payload in messages(path):
            end = field(payload, end_field)
            fs = frames.get(key)
            j = bisect.bisect_left(fs, (end,)) - 1 if fs and end is not None else -1
            if j < 0:
                unmatched += 1
                continue
            closed = fs[j][1]
            if not a.t_from <= closed <= a.t_to:
                continue
            produced.append(ts - closed)
            if (part, off) in visible:
                seen.append(visible[(part, off)] - closed)
        out[name] = percentiles(produced)
        out[name + "_visible"] = percentiles(seen)
        out[name + "_unmatched"] = unmatched
    print(json.dumps(out))


main()

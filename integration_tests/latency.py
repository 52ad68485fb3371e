#!/usr/bin/env python3
"""Frame-to-output latency from two kcat dumps made with -f '%T %K %S\\n%k%s' (Kafka timestamp in ms, key
and payload sizes, then key and payload): ecg.frames (EcgFrame, t0_us = field 5) and ecg.alerts (Alert,
window_end_us = field 11), both keyed by stream id. For each alert: its Kafka timestamp minus the
timestamp of the frame that ends its window (the frame whose t0_us is the last before window_end_us), in
ms. Prints p50 / p99 / max. With --embeddings the second dump is ecg.embeddings (window_end_us = field 4).
usage: latency.py [--embeddings] FRAMES_DUMP OUTPUTS_DUMP   (bench/e2e_latency.py imports its readers)"""
import bisect, sys


def messages(path):
    """(timestamp ms, partition, offset, key, payload) of each message of a kcat dump made with
    -f '%T %K %S\\n%k%s' (partition and offset None) or -f '%T %p %o %K %S\\n%k%s'."""
    data = open(path, "rb").read()
    i = 0
    while i < len(data):
        nl = data.index(b"\n", i)
        head = [int(x) for x in data[i:nl].split()]
        ts, part, off = head[0], *(head[1:3] if len(head) == 5 else (None, None))
        ksize, size = max(head[-2], 0), max(head[-1], 0)  # -1: none
        key = data[nl + 1 : nl + 1 + ksize]
        yield ts, part, off, key, data[nl + 1 + ksize : nl + 1 + ksize + size]
        i = nl + 1 + ksize + size


def varint(b, i):
    v = shift = 0
    while True:
        c = b[i]
        i += 1
        v |= (c & 0x7F) << shift
        shift += 7
        if not c & 0x80:
            return v, i


def fields(b):
    """Top-level protobuf fields: {number: last value} (varints as ints, length-delimited as bytes)."""
    out, i = {}, 0
    while i < len(b):
        key, i = varint(b, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, i = varint(b, i)
            if v >= 1 << 63:
                v -= 1 << 64
        elif wt == 2:
            n, i = varint(b, i)
            v, i = b[i : i + n], i + n
        elif wt == 1:
            v, i = int.from_bytes(b[i : i + 8], "little"), i + 8
        elif wt == 5:
            v, i = int.from_bytes(b[i : i + 4], "little"), i + 4
        else:
            raise ValueError("wire type %d" % wt)
        out[num] = v
    return out


def percentile(xs, p):
    xs = sorted(xs)
    k = (len(xs) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def main():
    args = sys.argv[1:]
    end_field, what = (4, "embedding") if args[0] == "--embeddings" else (11, "alert")
    if args[0] == "--embeddings":
        args = args[1:]
    frames = {}  # stream -> sorted [(t0_us, kafka ms)]
    for ts, _, _, key, payload in messages(args[0]):
        try:
            f = fields(payload)
        except (ValueError, IndexError):
            continue  # not a frame (the malformed one)
        if 5 in f:
            frames.setdefault(key, []).append((f[5], ts))
    for v in frames.values():
        v.sort()
    lat, missing = [], 0
    for ts, _, _, key, payload in messages(args[1]):
        a = fields(payload)
        fs = frames.get(key)
        end = a.get(end_field)
        j = bisect.bisect_left(fs, (end,)) - 1 if fs and end is not None else -1
        if j < 0:
            missing += 1
            continue
        lat.append(ts - fs[j][1])
    if not lat:
        sys.exit("no alert matched a frame (%d alerts)" % missing)
    print("frame-to-%s latency over %d %ss (%d unmatched): p50 %.0f ms, p99 %.0f ms, max %.0f ms, min %.0f ms"
          % (what, len(lat), what, missing, percentile(lat, 50), percentile(lat, 99), max(lat), min(lat)))


if __name__ == "__main__":
    main()

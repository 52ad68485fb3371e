#!/usr/bin/env python3
"""The bedside source of bench/e2e.sh: a WFDB record of two leads stored in format 212 (demo/mitdb_201_demo:
MLII and V1 at 360 Hz) resampled to 250 Hz by linear interpolation and written as a `mets replay` CSV with
three leads, II, V1 and V5. II and V1 are the record's; the record has no V5, so V5 is (II + V1) / 2, a
stand-in that gives the daemon the bytes and the resampling work of a third lead (the encoder's input is
the 12-lead tensor whatever arrives).
usage: e2e_source.py RECORD OUT.csv [RATE_HZ]"""
import sys


def read_header(path):
    lines = [l.split() for l in open(path + ".hea") if l.strip() and not l.startswith("#")]
    fs = float(lines[0][2])
    sigs = []
    for f in lines[1 : 1 + int(lines[0][1])]:
        assert f[1] == "212", "only format 212 is read"
        gain, _, rest = f[2].partition("(")
        baseline = int(rest.split(")")[0]) if rest else int(f[4])
        sigs.append((float(gain.split("/")[0]), baseline, f[-1]))
    return fs, sigs


def read_212(path, nsig):
    """Format 212: two 12-bit samples in three bytes, signals interleaved."""
    data = open(path + ".dat", "rb").read()
    out = []
    for i in range(0, len(data) - 2, 3):
        a, b, c = data[i], data[i + 1], data[i + 2]
        s0 = a | (b & 0x0F) << 8
        s1 = c | (b & 0xF0) << 4
        out.append(s0 - 4096 if s0 > 2047 else s0)
        out.append(s1 - 4096 if s1 > 2047 else s1)
    return [out[k::nsig] for k in range(nsig)]


def main():
    record, dest = sys.argv[1], sys.argv[2]
    rate = float(sys.argv[3]) if len(sys.argv) > 3 else 250.0
    fs, sigs = read_header(record)
    assert len(sigs) == 2, "expected a two-lead record"
    raw = read_212(record, 2)
    n = min(len(r) for r in raw)
    mv = [[(v - base) / gain for v in r[:n]] for r, (gain, base, _) in zip(raw, sigs)]
    m = int((n - 1) * rate / fs)
    with open(dest, "w") as out:
        out.write("time,II,V1,V5\n")
        for j in range(m):
            x = j * fs / rate
            i = int(x)
            w = x - i
            ii, v1 = (s[i] + (s[i + 1] - s[i]) * w for s in mv)
            out.write("%.6f,%.4f,%.4f,%.4f\n" % (j / rate, ii, v1, (ii + v1) / 2))


main()

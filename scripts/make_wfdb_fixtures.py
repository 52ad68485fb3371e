#!/usr/bin/env python3
"""Writes the WFDB fixtures of tests/test_wfdb.c: short excerpts of real PhysioNet records, plus one
synthetic record for the reader paths real data leaves out, and the values the reference reader (the
`wfdb` Python package) finds in each.

    pip install wfdb
    python3 scripts/make_wfdb_fixtures.py .cache/data tests/fixtures/wfdb fuzz/corpus/fuzz_wfdb

Signal excerpts are byte slices of the original sample files (so each keeps its own format: 212, 16, and
16 at byte offset 24 inside a MATLAB v4 file); headers are the originals with the record name, length,
initial values and checksums updated, comments and line endings kept. Annotations are re-written with
wfdb.wrann, shifted to the excerpt. reference.json is what wfdb reads back from the fixture files. The optional third folder receives seeds
for fuzz/fuzz_wfdb.c built from the fixtures, in its input layout.
"""
import json
import os
import struct
import sys

import numpy as np
import wfdb

EDGE = 64  # frames kept in reference.json at each end of a record

# (name, source record in the data directory, first frame, frames)
EXCERPTS = [
    ("mitdb_201_af", "mitdb/201", 0, 1800),  # atrial fibrillation from the start: "(AFIB"
    ("mitdb_201_noise", "mitdb/201", 395100, 1800),  # noise annotations with subtypes, a PVC, "(N"
    ("vfdb_418", "vfdb/418", 99000, 5000),  # ventricular flutter onset and end: "(VFL", "(N"
    ("ptbxl_00001_lr", "ptbxl/records100/00000/00001_lr", 0, 400),
    ("cinc_A00004", "cinc2017/training2017/A00004", 0, 1500),  # labelled A (AF) in REFERENCE.csv
]


def checksum_text(values, signed):
    """The 16-bit sum, written signed (MIT-BIH) or unsigned (PTB-XL) as the original header does."""
    s = int(np.sum(values, dtype=np.int64)) & 0xFFFF
    return str(s - 65536 if signed and s > 32767 else s)


def bytes_per_frame(fmt, nsig):
    return {"16": 2 * nsig, "212": 3 * nsig / 2, "80": nsig}[fmt]


def cut_header(src_hea, name, start, n, adc):
    """The original header text with name, length, sample file, initial values and checksums replaced."""
    with open(src_hea, "rb") as f:
        text = f.read().decode("ascii")
    eol = "\r\n" if "\r\n" in text else "\n"
    lines = text.split(eol)
    rec = lines[0].split(" ")
    old = rec[0]
    rec[0], rec[3] = name, str(n)
    out = [" ".join(rec)]
    nsig = int(rec[1])
    sig_lines = [line.split(" ") for line in lines[1:1 + nsig]]
    signed = all(int(tok[6]) <= 32767 for tok in sig_lines)
    for s, tok in enumerate(sig_lines):
        tok[0] = tok[0].replace(old, name)
        tok[5] = str(int(adc[0, s]))
        if tok[6] != "0":  # CinC 2017 writes 0, "not computed"; keep that as found
            tok[6] = checksum_text(adc[:, s], signed)
        out.append(" ".join(tok))
    return eol.join(out + lines[1 + nsig:])


def cut_record(data_dir, out_dir, name, src, start, n):
    src_path = os.path.join(data_dir, src)
    hdr = wfdb.rdheader(src_path)
    fmt, offset = hdr.fmt[0], hdr.byte_offset[0] or 0
    per_frame = bytes_per_frame(fmt, hdr.n_sig)
    assert per_frame == int(per_frame), "excerpt must start on a byte boundary"
    with open(os.path.join(os.path.dirname(src_path), hdr.file_name[0]), "rb") as f:
        raw = f.read()
    body = raw[offset + int(start * per_frame): offset + int((start + n) * per_frame)]
    head = raw[:offset]
    if offset == 24:  # MATLAB v4 header: the matrix is 1 x ncols, ncols at byte 8
        head = head[:8] + struct.pack("<i", n) + head[12:]
    ext = os.path.splitext(hdr.file_name[0])[1]
    with open(os.path.join(out_dir, name + ext), "wb") as f:
        f.write(head + body)
    adc = wfdb.rdrecord(src_path, sampfrom=start, sampto=start + n, physical=False).d_signal
    with open(os.path.join(out_dir, name + ".hea"), "wb") as f:
        f.write(cut_header(src_path + ".hea", name, start, n, adc).encode("ascii"))
    if os.path.exists(src_path + ".atr"):
        a = wfdb.rdann(src_path, "atr", sampfrom=start, sampto=start + n - 1)
        wfdb.wrann(name, "atr", a.sample - start, symbol=a.symbol, subtype=a.subtype, chan=a.chan,
                   num=a.num, aux_note=a.aux_note, fs=hdr.fs, write_dir=out_dir)


def pack212(values):
    out = bytearray()
    v = [x & 0xFFF for x in values] + ([0] if len(values) % 2 else [])
    for a, b in zip(v[::2], v[1::2]):
        out += bytes([a & 0xFF, (a >> 8) | ((b >> 8) << 4), b & 0xFF])
    return bytes(out[: (3 * len(values) + 1) // 2])


def write_synthetic(out_dir):
    """Three sample files (formats 16, 80, and 212 with 3 signals per frame and a 6-byte offset), WFDB's
    invalid values in each, an odd 212 stream, a counter frequency, comments and CR LF line ends, and
    annotations with chan, num, subtype and a SKIP."""
    s16 = [0, 1, -1, 32767, -32768, -32767, 12345]
    s80 = [-128, -127, 0, 1, 127, -1, 5]
    s212 = [[0, 2047, -2048], [-2047, 1, -1], [100, -100, 7], [-2048, 0, 2047],
            [5, 6, 7], [-8, -9, -10], [1000, -1000, 11]]
    with open(os.path.join(out_dir, "synth_a.dat"), "wb") as f:
        f.write(struct.pack("<7h", *s16))
    with open(os.path.join(out_dir, "synth_b.dat"), "wb") as f:
        f.write(bytes((v + 128) for v in s80))
    with open(os.path.join(out_dir, "synth_c.dat"), "wb") as f:
        f.write(b"JUNK!\n" + pack212([v for frame in s212 for v in frame]))
    col = [list(c) for c in zip(*s212)]
    sums = [sum(c) & 0xFFFF for c in [s16, s80] + col]
    lines = [
        "# synthetic record for tests/test_wfdb.c",
        "synth 5 128/256(10) 7 12:30:00 24/12/2020",
        f"synth_a.dat 16 400(-5)/uV 16 0 0 {sums[0]} 0 ECG 16-bit",
        f"synth_b.dat 80 50 8 3 -128 {sums[1]} 0 PPG",
        f"synth_c.dat 212+6 100(3)/mV 12 0 0 {sums[2]} 0 I",
        f"synth_c.dat 212+6 2.5e+01/mmHg 12 0 2047 {sums[3]} 0 ABP",
        "synth_c.dat 212+6 100(3)/mV",
        "# an info line after the signals",
        "",
    ]
    with open(os.path.join(out_dir, "synth.hea"), "wb") as f:
        f.write("\r\n".join(lines).encode("ascii"))
    wfdb.wrann("synth", "atr", np.array([1, 2, 3, 5000, 70000]), symbol=["N", "V", "+", "~", '"'],
               subtype=np.array([0, 0, 0, 3, -2]), chan=np.array([0, 1, 1, 2, 0]),
               num=np.array([0, 0, 5, 100, 0]), aux_note=["", "", "(VT", "", "a note"], fs=128,
               write_dir=out_dir)


def opt(v):
    """A field the header may leave out: null when wfdb found none."""
    return None if v is None else int(v)


def header_json(h):
    sig = []
    for s in range(h.n_sig):
        sig.append({
            "file_name": h.file_name[s], "format": int(h.fmt[s]), "byte_offset": int(h.byte_offset[s] or 0),
            "gain": float(h.adc_gain[s]), "baseline": int(h.baseline[s]), "units": h.units[s],
            "adc_res": opt(h.adc_res[s]), "adc_zero": opt(h.adc_zero[s]), "init_value": opt(h.init_value[s]),
            "checksum": opt(h.checksum[s]), "block_size": opt(h.block_size[s]), "description": h.sig_name[s],
        })
    return {
        "name": h.record_name, "nsig": h.n_sig, "fs": float(h.fs), "nsamp": h.sig_len,
        "counter_freq": h.counter_freq, "base_counter": h.base_counter,
        "base_time": str(h.base_time) if h.base_time else None,
        "base_date": h.base_date.strftime("%d/%m/%Y") if h.base_date else None, "signals": sig,
    }


def frames(a):
    return [[None if isinstance(v, float) and np.isnan(v) else v for v in row] for row in a.tolist()]


def reference(out_dir, name):
    path = os.path.join(out_dir, name)
    h = wfdb.rdheader(path)
    adc = wfdb.rdrecord(path, physical=False).d_signal.astype(np.int64)
    phys = wfdb.rdrecord(path).p_signal
    entry = {
        "header": header_json(h),
        "adc_head": frames(adc[:EDGE]), "adc_tail": frames(adc[-EDGE:]),
        "phys_head": frames(phys[:EDGE]), "phys_tail": frames(phys[-EDGE:]),
        "adc_sum": [int(x) for x in adc.sum(axis=0)], "adc_min": [int(x) for x in adc.min(axis=0)],
        "adc_max": [int(x) for x in adc.max(axis=0)],
    }
    if os.path.exists(path + ".atr"):
        a = wfdb.rdann(path, "atr", return_label_elements=["label_store", "symbol"])
        # libwfdb's printers, and our C strings, end aux at its first NUL; MIT-BIH pads many with one
        entry["annotations"] = [
            {"sample": int(t), "code": int(c), "symbol": sym, "subtype": int(sub), "chan": int(ch),
             "num": int(nm), "aux": None if not aux else aux.split("\x00")[0]}
            for t, c, sym, sub, ch, nm, aux in zip(a.sample, a.label_store, a.symbol, a.subtype, a.chan,
                                                   a.num, a.aux_note)]
    return entry


def write_fuzz_seeds(fixture_dir, corpus_dir):
    """One seed per fixture: u16 header length, u16 data length, header, sample data, annotations."""
    os.makedirs(corpus_dir, exist_ok=True)
    seeds = {"mitdb_201_noise": ".dat", "ptbxl_00001_lr": ".dat", "cinc_A00004": ".mat", "synth": "_c.dat"}
    for name, dat_ext in seeds.items():
        def read(ext):
            path = os.path.join(fixture_dir, name + ext)
            return open(path, "rb").read() if os.path.exists(path) else b""
        hea, dat, atr = read(".hea"), read(dat_ext), read(".atr")
        if name == "synth":  # one buffer serves every sample file: keep the signals that share it
            hea = b"synth 3 128 7\r\n" + b"\r\n".join(hea.split(b"\r\n")[4:7]) + b"\r\n"
        with open(os.path.join(corpus_dir, name), "wb") as f:
            f.write(struct.pack("<HH", len(hea), len(dat)) + hea + dat + atr)


def main():
    data_dir, out_dir = sys.argv[1], sys.argv[2]
    os.makedirs(out_dir, exist_ok=True)
    for name, src, start, n in EXCERPTS:
        cut_record(data_dir, out_dir, name, src, start, n)
    write_synthetic(out_dir)
    ref = {name: reference(out_dir, name) for name in [e[0] for e in EXCERPTS] + ["synth"]}
    with open(os.path.join(out_dir, "reference.json"), "w") as f:
        json.dump(ref, f, indent=None, separators=(",", ":"))
        f.write("\n")
    if len(sys.argv) > 3:
        write_fuzz_seeds(out_dir, sys.argv[3])


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Cut the demo recording: MIT-BIH record 201 from 300 s to 560 s (atrial fibrillation, nodal and sinus
rhythm, atrial fibrillation again), written as a WFDB record (format 212, both signals) with its
reference annotations, into demo/. Run once by a developer (needs `pip install wfdb`):
    python3 scripts/make_demo_recording.py .cache/data/mitdb/201 demo
"""
import os
import sys

import numpy as np
import wfdb

START_S, END_S = 300, 560


def main():
    src, dest = sys.argv[1], sys.argv[2]
    rec = wfdb.rdrecord(src, physical=False)
    fs = rec.fs
    a, b = int(START_S * fs), int(END_S * fs)
    os.makedirs(dest, exist_ok=True)
    name = "mitdb_201_demo"
    wfdb.wrsamp(name, fs=fs, units=rec.units, sig_name=rec.sig_name, d_signal=rec.d_signal[a:b].astype(np.int64),
                fmt=rec.fmt, adc_gain=rec.adc_gain, baseline=rec.baseline, write_dir=dest)
    ann = wfdb.rdann(src, "atr", sampfrom=a, sampto=b - 1, shift_samps=True)
    # the rhythm in force at the cut: carry the last rhythm label before it to the first sample
    full = wfdb.rdann(src, "atr")
    before = [n for s, n in zip(full.sample, full.aux_note) if s < a and n.strip()]
    samples, symbols, aux = list(ann.sample), list(ann.symbol), list(ann.aux_note)
    if before:
        samples.insert(0, 0), symbols.insert(0, "+"), aux.insert(0, before[-1])
    wfdb.wrann(name, "atr", np.array(samples), symbol=symbols, aux_note=aux, fs=fs, write_dir=dest)
    print(f"wrote {dest}/{name}: {END_S - START_S} s at {fs} Hz, {len(samples)} annotations")


if __name__ == "__main__":
    main()

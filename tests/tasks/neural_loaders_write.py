#!/usr/bin/env python3
"""numpy's and Python's side of the neural recording loader tests (tests/tasks/test_neural_loaders.cpp).

  neural_loaders_write.py DIR
      writes, for groove's load_neural_npz / load_neural_csv to read back (the test knows the
      same layout and values):
        np_savez.npz (+ np_savez.neural.json)  np.savez: responses_<i> float32, labels_<i> int64,
                                               stimulus_0 int64 (none for session 1), subject and
                                               day int64; names for the subjects and session 0
        np_compressed.npz                      np.savez_compressed: int64 spike counts, float64
                                               labels with whole values, uint8 subject, no day
        np_folder/                             the arrays of np_savez.npz as np.save files, and
                                               neural.json
        np_strings.npz                         subject as a numpy string array (not supported)
        wide.csv                               csv module, QUOTE_MINIMAL: a subject name with a
                                               comma, label names, stimulus names, a neuron column
                                               left empty in one session
        doc_example.npz (+ .neural.json)       the numpy example of docs/data.md
Values: response (session i, trial t, neuron j) = 100 i + 0.5 t + 0.25 j (exact in float32);
counts in np_compressed.npz: 10 i + t + j.
"""
import csv
import json
import os
import sys

import numpy as np

# Per archive session i: trials, neurons, labels, stimulus (None: no array), subject id, day.
SESSIONS = [
    dict(trials=5, neurons=3, labels=[1, 0, 2, 0, 1], stimulus=[0, 3, 7, 3, 0], subject=1, day=4),
    dict(trials=4, neurons=2, labels=[0, 1, 1, 0], stimulus=None, subject=0, day=9),
    dict(trials=3, neurons=4, labels=[2, 1, 0], stimulus=[5, 5, 6], subject=1, day=2),
]
SUBJECT_NAMES = ["mouse A", "mouse B"]
NEURONS_0 = ["cell-a", "cell-b", "cell-c"]


def responses(i, counts=False):
    s = SESSIONS[i]
    t = np.arange(s["trials"])[:, None]
    j = np.arange(s["neurons"])[None, :]
    if counts:
        return (10 * i + t + j).astype(np.int64)
    return (100.0 * i + 0.5 * t + 0.25 * j).astype(np.float32)


def arrays():
    out = {}
    for i, s in enumerate(SESSIONS):
        out["responses_%d" % i] = responses(i)
        out["labels_%d" % i] = np.array(s["labels"], dtype=np.int64)
        if s["stimulus"] is not None:
            out["stimulus_%d" % i] = np.array(s["stimulus"], dtype=np.int64)
    out["subject"] = np.array([s["subject"] for s in SESSIONS], dtype=np.int64)
    out["day"] = np.array([s["day"] for s in SESSIONS], dtype=np.int64)
    return out


def sidecar():
    return {"subjects": SUBJECT_NAMES, "neurons": {"0": NEURONS_0}}


def write(out):
    a = arrays()
    np.savez(os.path.join(out, "np_savez.npz"), **a)
    with open(os.path.join(out, "np_savez.neural.json"), "w") as f:
        json.dump(sidecar(), f)

    c = {}
    for i, s in enumerate(SESSIONS):
        c["responses_%d" % i] = responses(i, counts=True)
        c["labels_%d" % i] = np.array(s["labels"], dtype=np.float64)
    c["subject"] = np.array([s["subject"] for s in SESSIONS], dtype=np.uint8)
    np.savez_compressed(os.path.join(out, "np_compressed.npz"), **c)

    folder = os.path.join(out, "np_folder")
    os.makedirs(folder, exist_ok=True)
    for name, value in a.items():
        np.save(os.path.join(folder, name + ".npy"), value)
    with open(os.path.join(folder, "neural.json"), "w") as f:
        json.dump(sidecar(), f)

    s = dict(a)
    s["subject"] = np.array(["M1", "M2", "M1"])
    np.savez(os.path.join(out, "np_strings.npz"), **s)

    # subject, day, label, odor, then neurons u1..u3; session ("Ann, jr", 2) has no u2 values.
    rows = [
        ["Ann, jr", 2, "Target", "lemon", 1.5, "", 3],
        ["Bo", 1, "non-target", "pine", 4, 5, 6],
        ["Ann, jr", 2, "probe", "mint", 2.5, "", -1e-3],
        ["Ann, jr", 1, "nontarget", "lemon", 7, 8, 9],
        ["Bo", 1, "target", "lemon", 10, 11, 12],
    ]
    with open(os.path.join(out, "wide.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["subject", "day", "label", "odor", "u1", "u2", "u3"])
        for r in rows:
            w.writerow(r)


def doc_example(out):
    # As in docs/data.md, "Neural recordings (groove decode input)", with paths in `out`.
    rng = np.random.default_rng(0)
    arrays = {}
    for i, (trials, neurons) in enumerate([(40, 25), (38, 27)]):  # two sessions
        arrays[f"responses_{i}"] = rng.poisson(5.0, size=(trials, neurons)).astype(np.float32)
        arrays[f"labels_{i}"] = rng.integers(0, 3, size=trials)             # int64: 0 / 1 / 2
        arrays[f"stimulus_{i}"] = rng.integers(0, 6, size=trials)           # odor ids
    arrays["subject"] = np.array([0, 0])
    arrays["day"] = np.array([1, 2])
    np.savez(os.path.join(out, "doc_example.npz"), **arrays)
    with open(os.path.join(out, "doc_example.neural.json"), "w") as f:
        json.dump({"subjects": ["M1"]}, f)


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        sys.exit(2)
    write(sys.argv[1])
    doc_example(sys.argv[1])


if __name__ == "__main__":
    main()

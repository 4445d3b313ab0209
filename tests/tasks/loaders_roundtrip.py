#!/usr/bin/env python3
"""numpy's and Python's side of the dataset loader tests (tests/tasks/test_loaders.cpp).

  loaders_roundtrip.py write DIR
      writes, for groove's loaders to read back (the test knows the same list and values):
        np_savez.npz (+ np_savez.groups.json)  np.savez: X_train f8 [8, 3], y_train i8, w_train f8,
                                               X_test f4 [5, 3], y_test i8, group_test i8
        np_compressed.npz                      np.savez_compressed: float labels with whole values
        np_default_groups.npz                  group_test without a names file
        np_folder/                             X_train.npy ... group_test.npy, groups.json
        np_strings.npz                         a numpy string array 'groups' (not supported)
        numeric.csv                            csv module, integer labels, no group column
        names.csv                              csv module, QUOTE_ALL, class names with quotes,
                                               commas and a newline, a split column
Values: feature (row i, column j) of a split is i * 0.5 + j * 0.25 - 1 (test rows continue i
after the train rows); labels and groups are listed below.
"""
import csv
import json
import os
import sys

import numpy as np

N_TRAIN, N_TEST, D = 8, 5, 3
Y_TRAIN = [0, 1, 2, 0, 1, 2, 0, 1]
Y_TEST = [2, 1, 0, 2, 1]
W_TRAIN = [1.0, 0.5, 2.0, 0.0, 1.5, 1.0, 0.25, 3.0]
GROUP_TEST = [1, 0, 1, 2, 0]
GROUP_NAMES = ["near", "far", "odd one"]
CLASS_NAMES = ['plain', 'with "quotes", and a comma', 'two\nlines']
CSV_SPLIT = ["train", "train", "test", "train", "probe, a", "train", "train", "test", "train"]
CSV_LABELS = [0, 1, 0, 2, 1, 2, 1, 2, 0]


def features(first_row, rows):
    i = np.arange(first_row, first_row + rows, dtype=np.float64)[:, None]
    j = np.arange(D, dtype=np.float64)[None, :]
    return i * 0.5 + j * 0.25 - 1


def write(out):
    x_train = features(0, N_TRAIN)
    x_test = features(N_TRAIN, N_TEST).astype(np.float32)
    y_train = np.array(Y_TRAIN, dtype=np.int64)
    y_test = np.array(Y_TEST, dtype=np.int64)
    arrays = dict(X_train=x_train, y_train=y_train, w_train=np.array(W_TRAIN), X_test=x_test, y_test=y_test,
                  group_test=np.array(GROUP_TEST, dtype=np.int64))
    np.savez(os.path.join(out, "np_savez.npz"), **arrays)
    with open(os.path.join(out, "np_savez.groups.json"), "w") as f:
        json.dump(GROUP_NAMES, f)

    np.savez_compressed(os.path.join(out, "np_compressed.npz"), X_train=x_train,
                        y_train=y_train.astype(np.float64), X_test=x_test, y_test=y_test.astype(np.float32))

    np.savez(os.path.join(out, "np_default_groups.npz"), X_train=x_train, y_train=y_train.astype(np.uint8),
             X_test=x_test, y_test=y_test, group_test=np.array(GROUP_TEST, dtype=np.int16))

    folder = os.path.join(out, "np_folder")
    os.makedirs(folder, exist_ok=True)
    for name, value in arrays.items():
        np.save(os.path.join(folder, name + ".npy"), value)
    with open(os.path.join(folder, "groups.json"), "w") as f:
        json.dump(GROUP_NAMES, f)

    np.savez(os.path.join(out, "np_strings.npz"), X_train=x_train, y_train=y_train,
             groups=np.array(GROUP_NAMES))

    x = features(0, len(CSV_LABELS))
    with open(os.path.join(out, "numeric.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["f0", "f1", "f2", "label"])
        for row, label in zip(x, CSV_LABELS):
            w.writerow([repr(float(v)) for v in row] + [label])
    with open(os.path.join(out, "names.csv"), "w", newline="") as f:
        w = csv.writer(f, quoting=csv.QUOTE_ALL)
        w.writerow(["split", "f0", "class", "f1", "f2"])
        for row, label, split in zip(x, CSV_LABELS, CSV_SPLIT):
            w.writerow([split, repr(float(row[0])), CLASS_NAMES[label], repr(float(row[1])), repr(float(row[2]))])


def main():
    if len(sys.argv) != 3 or sys.argv[1] != "write":
        print(__doc__)
        sys.exit(2)
    write(sys.argv[2])


if __name__ == "__main__":
    main()

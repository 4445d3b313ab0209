#!/usr/bin/env python3
"""scipy's side of the NDT raster loader test (tests/tasks/test_neural.cpp, NdtLoader.ReadsFilesWrittenByScipy).

  ndt_write.py DIR
      writes py_0.mat .. py_3.mat with scipy.io.savemat in the Neural Decoding Toolbox raster
      format: raster_data (5 trials x 60 bins) and raster_labels, a struct of per-trial fields
      mouse_name, day_of_behavior, stimulus_category_with_probes and stimulus_name. Each file
      stores them differently, the way MATLAB and Python pipelines do:
        py_0  compressed; dense double raster; cell arrays of strings; double day vector
        py_1  uint8 raster; char matrices (one row per trial, blank-padded); int32 day vector
        py_2  sparse (CSC) double raster; day as a cell array of strings
        py_3  int16 raster; day 1 instead of 2 (a second session); label fields saved as
              column vectors (oned_as="column")
      Raster value of (trial t, bin b) in file f: 1 + t % 2 when (31 t + 7 b + 13 f) % 17 == 0,
      else 0; the test computes the same values.

Exits 77 when scipy is missing (the test skips), non-zero with a message on any other failure.
"""
import os
import sys

try:
    import numpy as np
    import scipy.io as sio
    import scipy.sparse as sparse
except ImportError as e:  # pragma: no cover
    print("ndt_write.py: scipy not available: %s" % e)
    sys.exit(77)

TRIALS, BINS = 5, 60
LABELS = ["target", "nontarget", "probe", "Non-Target", "TARGET"]
STIMULI = ["odor A", "odor B", "probe 1", "odor B", "odor A"]


def raster(f):
    t = np.arange(TRIALS)[:, None]
    b = np.arange(BINS)[None, :]
    return np.where((31 * t + 7 * b + 13 * f) % 17 == 0, 1 + t % 2, 0).astype(np.float64)


def cell(values):
    out = np.empty((1, len(values)), dtype=object)
    for i, v in enumerate(values):
        out[0, i] = v
    return out


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    folder = sys.argv[1]
    os.makedirs(folder, exist_ok=True)
    mice = ["Mx"] * TRIALS

    labels0 = {"mouse_name": cell(mice), "day_of_behavior": np.full((1, TRIALS), 2.0),
               "stimulus_category_with_probes": cell(LABELS), "stimulus_name": cell(STIMULI)}
    sio.savemat(os.path.join(folder, "py_0.mat"), {"raster_data": raster(0), "raster_labels": labels0},
                do_compression=True)

    labels1 = {"mouse_name": np.array(mice), "day_of_behavior": np.full((1, TRIALS), 2, dtype=np.int32),
               "stimulus_category_with_probes": np.array(LABELS), "stimulus_name": np.array(STIMULI)}
    sio.savemat(os.path.join(folder, "py_1.mat"),
                {"raster_data": raster(1).astype(np.uint8), "raster_labels": labels1})

    labels2 = dict(labels0, day_of_behavior=cell(["2"] * TRIALS))
    sio.savemat(os.path.join(folder, "py_2.mat"),
                {"raster_data": sparse.csc_matrix(raster(2)), "raster_labels": labels2})

    # Counts stored as int16 with column-vector label fields (oned_as="column").
    labels3 = {"mouse_name": np.array(mice, dtype=object), "day_of_behavior": np.ones(TRIALS),
               "stimulus_category_with_probes": np.array(LABELS, dtype=object),
               "stimulus_name": np.array(STIMULI, dtype=object)}
    sio.savemat(os.path.join(folder, "py_3.mat"),
                {"raster_data": raster(3).astype(np.int16), "raster_labels": labels3}, oned_as="column")

    # Read one back with scipy to make sure what was written is what the test expects.
    back = sio.loadmat(os.path.join(folder, "py_2.mat"))
    if not np.array_equal(back["raster_data"].toarray(), raster(2)):
        print("ndt_write.py: FAIL: py_2.mat raster does not round-trip")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Peer check: groove's batched binary linear decoders match scikit-learn.

usage: decode_peer.py DRIVER WORKDIR

Runs `DRIVER --out WORKDIR` (tests/peers/decode_driver.cpp), which writes one NPZ per decoding
problem: x [T, f], train [T] (weights, 0 = held out), labels [T], and groove's results for every
decoder setting (kind, param; weights [D, f + 1] = (w, b), scores [D, T], info [D]) from
ops::fit_linear_decoders, all problems batched in one padded call per setting. For each problem
and setting this script fits scikit-learn on the training trials, each repeated train[t] times
(integer weights are repetition counts), and checks

    info          groove's info is 0
    coefficients  max |(w, b)_groove - (coef_, intercept_)| <= 1e-6 * max |(coef_, intercept_)|
    scores        groove's scores equal x . w + b of its own (w, b) (rel 1e-12)
    predictions   sign(score) equals sklearn's predict() on every trial (train and held out),
                  except where |sklearn's decision_function| <= 1e-6 * max |decision_function|

with lda = LinearDiscriminantAnalysis(solver="lsqr", shrinkage=param or None),
svm = LinearSVC(C=param, loss="squared_hinge", dual=True, tol=1e-10, max_iter=10**6, random_state=0),
logistic = LogisticRegression(C=param, tol=1e-12, max_iter=10**5, solver="newton-cholesky")
("newton-cg" before scikit-learn 1.2). Both reach the unique optimum to ~1e-10 here. The obvious
tighter settings do not: LIBLINEAR's dual solver with tol=1e-12 shrinks variables for good (it
only unshrinks once the tolerance is met, which never happens) and ends up to 4% off after 10^6
epochs, and lbfgs stops on scipy's relative-decrease test (ftol = 64 eps, not settable through
scikit-learn) 1e-5 .. 3e-4 away; lbfgs's error is printed for information only.
It prints the relative error of every fit and the largest per decoder.

Exit status: 0 when every problem passes, 1 when one fails, 77 (skip) when numpy or scikit-learn
is missing.
"""

import os
import subprocess
import sys
import warnings

try:
    import numpy as np
    import sklearn
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
    from sklearn.linear_model import LogisticRegression
    from sklearn.svm import LinearSVC
except ImportError as e:  # pragma: no cover - depends on the machine
    print(f"SKIP: {e} (decode_peer needs numpy and scikit-learn)")
    sys.exit(77)

REL = 1e-6
KINDS = ("lda", "svm", "logistic")


def newton_solver():
    major, minor = (int(v) for v in sklearn.__version__.split(".")[:2])
    return "newton-cholesky" if (major, minor) >= (1, 2) else "newton-cg"


def sklearn_model(kind, param, solver=None):
    if kind == "lda":
        return LinearDiscriminantAnalysis(solver="lsqr", shrinkage=param if param > 0 else None)
    if kind == "svm":
        return LinearSVC(C=param, loss="squared_hinge", penalty="l2", dual=True, tol=1e-10, max_iter=10**6,
                         random_state=0)
    return LogisticRegression(C=param, penalty="l2", tol=1e-12, max_iter=10**5, solver=solver or newton_solver())


def relative_error(wg, model):
    ws = np.concatenate([model.coef_.reshape(-1), np.atleast_1d(model.intercept_).reshape(-1)]).astype(np.float64)
    return float(np.max(np.abs(wg - ws)) / np.max(np.abs(ws)))


def check(path, worst):
    z = np.load(path)
    x, train, labels = z["x"], z["train"], z["labels"]
    name = os.path.basename(path)[:-4]
    reps = np.rint(train).astype(int)
    integer = np.all(train == reps)
    ok = True
    if not integer:
        print(f"FAIL {name}: the peer needs integer weights")
        return False
    xr, yr = np.repeat(x, reps, axis=0), np.repeat(labels, reps)
    for d in range(len(z["kind"])):
        kind, param = KINDS[int(z["kind"][d])], float(z["param"][d])
        info = int(z["info"][d])
        wg = z["weights"][d]
        failures = []
        if info != 0:
            failures.append(f"groove info {info}")
        model = sklearn_model(kind, param)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(xr, yr)
        rel = relative_error(wg, model)
        if not rel <= REL:
            failures.append(f"coefficients: relative error {rel:.3g} > {REL:g}")
        own = x @ wg[:-1] + wg[-1]
        sg = z["scores"][d]
        if not np.allclose(sg, own, rtol=1e-12, atol=1e-12 * np.max(np.abs(own))):
            failures.append(f"scores differ from x . w + b by {np.max(np.abs(sg - own)):.3g}")
        dec = model.decision_function(x)
        pred_s = model.predict(x)
        pred_g = (sg > 0).astype(int)
        tiny = np.abs(dec) <= 1e-6 * np.max(np.abs(dec))
        wrong = np.flatnonzero((pred_s != pred_g) & ~tiny)
        if len(wrong):
            failures.append(f"{len(wrong)} predictions differ (first trial {wrong[0]}: groove score {sg[wrong[0]]:.6g}, "
                            f"sklearn {dec[wrong[0]]:.6g})")
        worst[kind] = max(worst.get(kind, 0.0), rel)
        n_iter = getattr(model, "n_iter_", None)
        it = f", sklearn iterations {int(np.max(n_iter))}" if n_iter is not None else ""
        if kind == "logistic":
            lbfgs = sklearn_model(kind, param, "lbfgs")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                lbfgs.fit(xr, yr)
            it += f", lbfgs (information) {relative_error(wg, lbfgs):.3g}"
        print(f"{'FAIL' if failures else 'ok  '} {name} {kind} {'shrinkage' if kind == 'lda' else 'C'}={param:g}: "
              f"relative error {rel:.3g}, train trials {int(np.sum(reps > 0))} (weight {int(np.sum(reps))}), "
              f"held out {int(np.sum(reps == 0))}{it}")
        for f in failures:
            print(f"     {f}")
        ok = ok and not failures
    return ok


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    driver, work = sys.argv[1], sys.argv[2]
    os.makedirs(work, exist_ok=True)
    for f in os.listdir(work):
        if f.endswith(".npz"):
            os.remove(os.path.join(work, f))
    run = subprocess.run([driver, "--out", work], capture_output=True, text=True)
    sys.stdout.write(run.stdout)
    if run.returncode != 0:
        sys.stdout.write(run.stderr)
        print(f"FAIL: the driver exited with {run.returncode}")
        return 1
    files = sorted(os.path.join(work, f) for f in os.listdir(work) if f.endswith(".npz"))
    if not files:
        print("FAIL: the driver wrote no problem")
        return 1
    worst = {}
    ok = all([check(f, worst) for f in files])
    print("max relative error per decoder: " + ", ".join(f"{k} {worst[k]:.3g}" for k in KINDS if k in worst))
    print(f"decode_peer: {len(files)} problems, {'all passed' if ok else 'FAILED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Peer check: groove's hard-margin linear SVM matches scikit-learn's SVC.

usage: svm_peer.py DRIVER WORKDIR

Runs `DRIVER --out WORKDIR` (tests/peers/svm_driver.cpp), which writes one NPZ per separable
binary problem with groove's solution (w, b from ops::svm_dual_solve; margin, min_distance,
closest_1pct, closest_5pct from metrics::svm_max_margin; the margins of a K = 3 ensemble of affine
copies s_k x + t_k). For each problem this script fits sklearn.svm.SVC(kernel="linear", C=1e10,
tol=1e-9) (LIBSVM: a hard margin for these separable sets) and checks

    margin        |groove - sklearn| <= 1e-4 * sklearn, with sklearn's margin = 1 / ||coef||
    direction     cosine(w_groove, coef) > 1 - 1e-6
    offset        |b_g / ||w_g|| - b_s / ||w_s||| <= 1e-4 * (margin + max_i ||x_i||)
                  (b / ||w|| is the signed distance of the origin to the boundary)
    distances     min_distance, closest_1pct, closest_5pct (mean of the ceil(1% P), ceil(5% P)
                  smallest y_i f(x_i) / ||w||) against sklearn's decision function, <= 1e-4 * margin
    ensemble      margin of model k = s_k * sklearn's margin (rel 1e-4)

Exit status: 0 when every problem passes, 1 when one fails, 77 (skip) when numpy or scikit-learn
is missing.
"""

import math
import os
import subprocess
import sys

try:
    import numpy as np
    from sklearn.svm import SVC
except ImportError as e:  # pragma: no cover - depends on the machine
    print(f"SKIP: {e} (svm_peer needs numpy and scikit-learn)")
    sys.exit(77)

REL = 1e-4
COS = 1e-6


def closest_mean(d, fraction):
    k = max(1, min(len(d), math.ceil(fraction * len(d) - 1e-9)))
    return float(np.sort(d)[:k].mean())


def check(path):
    z = np.load(path)
    x, labels = z["x"], z["labels"]
    y = np.where(labels == 1, 1.0, -1.0)
    name = os.path.basename(path)[:-4]
    failures = []

    def expect(ok, what):
        if not ok:
            failures.append(what)

    status = int(z["status"][0])
    expect(status == 1, f"groove's op did not converge (status {status}, {int(z['iterations'][0])} iterations)")

    svc = SVC(kernel="linear", C=1e10, tol=1e-9, max_iter=-1)
    svc.fit(x, labels)
    expect(svc.fit_status_ == 0, f"sklearn did not fit (fit_status_ {svc.fit_status_})")
    ws = svc.coef_.reshape(-1).astype(np.float64)
    bs = float(svc.intercept_[0])
    margin_s = 1.0 / np.linalg.norm(ws)
    f_s = x @ ws + bs
    d_s = y * f_s / np.linalg.norm(ws)
    expect(d_s.min() > 0, f"sklearn's solution does not separate the set (min distance {d_s.min():.3g})")

    wg, bg = z["w"].astype(np.float64), float(z["b"][0])
    margin_g = float(z["margin"][0])
    expect(abs(margin_g - margin_s) <= REL * margin_s, f"margin: groove {margin_g:.10g} vs sklearn {margin_s:.10g}")
    margin_op = 1.0 / np.linalg.norm(wg)
    expect(abs(margin_op - margin_s) <= REL * margin_s,
           f"op margin 1/||w||: groove {margin_op:.10g} vs sklearn {margin_s:.10g}")
    cos = float(wg @ ws / (np.linalg.norm(wg) * np.linalg.norm(ws)))
    expect(cos > 1 - COS, f"direction of w: cosine {cos:.12f}")
    radius = float(np.linalg.norm(x, axis=1).max())
    off_g, off_s = bg / np.linalg.norm(wg), bs / np.linalg.norm(ws)
    expect(abs(off_g - off_s) <= REL * (margin_s + radius), f"b / ||w||: groove {off_g:.10g} vs sklearn {off_s:.10g}")
    for key, ref in (("min_distance", float(d_s.min())), ("closest_1pct", closest_mean(d_s, 0.01)),
                     ("closest_5pct", closest_mean(d_s, 0.05))):
        got = float(z[key][0])
        expect(abs(got - ref) <= REL * margin_s, f"{key}: groove {got:.10g} vs sklearn {ref:.10g}")
    for s, m in zip(z["ensemble_scales"], z["ensemble_margins"]):
        expect(abs(m - s * margin_s) <= REL * s * margin_s,
               f"ensemble model with scale {s}: margin {m:.10g} vs {s * margin_s:.10g}")

    P, N = x.shape
    print(f"{'FAIL' if failures else 'ok  '} {name}: P={P} N={N} margin groove {margin_g:.9g} sklearn {margin_s:.9g} "
          f"cos {cos:.12f} support vectors {len(svc.support_)}")
    for f in failures:
        print(f"     {f}")
    return not failures


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
    ok = all([check(f) for f in files])
    print(f"svm_peer: {len(files)} problems, {'all passed' if ok else 'FAILED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

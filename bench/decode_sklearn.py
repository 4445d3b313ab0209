#!/usr/bin/env python3
"""decode_sklearn.py: the scikit-learn / numpy baseline of the `groove decode` benchmark.

    decode_sklearn.py --data preprocessed.npz [--out results.csv] [--sessions N] [--extrapolate M]
                      [--decoders lda[,svm,logistic]] [--permutations 1000] [--rsm-null 500]
                      [--shrinkage 0|VALUE|auto] [--svm-c inf] [--threads 1] [--seed 0]
    decode_sklearn.py --make-fixture PATH [--fixture-sessions 10] [--fixture-neurons 20]
                      [--fixture-trials 250] [--fixture-shuffles 10] [--fixture-folds 10] [--seed 0]

The same pipeline as groove decode, written the straightforward way a user would write it with
scikit-learn and numpy (one estimator fitted per fold, per shuffle, per permutation), to time groove
against (target: groove >= 10x faster on the CPU). Not a ctest: a benchmark (the full loop takes minutes).

Input (groove writes it with the option save_preprocessed): an .npz with, for i = 0 .. S-1,
  responses_<i>  f64 [trials_i, neurons_i]  already preprocessed (neurons dropped, z-scored)
  labels_<i>     i32 [trials_i]             0 non-target, 1 target, 2 probe
  folds_<i>      i32 [shuffles, trials_i]   fold 0 .. folds-1 of each target/non-target trial per
                                            shuffle; -1 for probe trials
(`meta` and any other array are ignored.)

Per session:
  cv            for each decoder, shuffle and fold: fit on the other folds' target/non-target trials,
                predict the fold; accuracy per shuffle; mean and SE (ddof 1) over shuffles.
                lda: LinearDiscriminantAnalysis(solver="lsqr", shrinkage=None or --shrinkage);
                svm: LinearSVC(C=1, loss="squared_hinge"); logistic: LogisticRegression(C=1).
  permutations  for each decoder, P times: permute the target/non-target labels (numpy Generator,
                --seed), cross-validate with the folds of shuffle 0; chance = mean (and SD) of the null,
                p = (1 + #(null >= observed mean accuracy)) / (1 + P).
  probe         fit on all target/non-target trials; fraction of probe trials predicted non-target.
  margins       separable: whether a linear program finds (w, b) with y(w.x + b) >= 1 for every
                target/non-target trial (y = +1 target, -1 non-target). Then SVC(kernel="linear",
                C=--svm-c; inf -> 1e10) on all target/non-target trials: margin = 1/||w||; signed distances
                y(w.x + b)/||w||; closest1/closest5 = mean of the ceil(1%) / ceil(5%) smallest.
                With --svm-c inf (hard margin) the SVC is fitted only on separable sessions: the hard-margin
                SVM does not exist otherwise, and libsvm with C = 1e10 does not converge there (millions
                of iterations per session); margin, closest1 and closest5 are then left empty.
  rsm           np.corrcoef of the trials (target, then non-target); rsm_index = mean of the two
                within-class mean similarities (off-diagonal) minus the between-class mean similarity;
                null: --rsm-null Gaussian matrices with the data's per-neuron means and unit variance,
                the same index each; z = (index - null mean) / null SD, p = (1 + #(null >= index)) / (1 + R).
  pca           PCA(3).fit_transform of all trials (probes included); explained-variance ratios.

Output: per-session lines, a per-stage timing table, the total wall time (and the extrapolation to all
sessions, or to --extrapolate M, when only --sessions N were run), and with --out a CSV with one row
per session whose column names are those of groove decode's sessions.csv (D_accuracy, D_chance, ...,
margin, closest1, closest5, rsm_index, pca_var1..3), so the numbers can be compared directly.

Threads: OMP_NUM_THREADS, OPENBLAS_NUM_THREADS, MKL_NUM_THREADS, ... are set to --threads before numpy
is imported. Like the groove CLI (runtime/build_info.cpp), when OpenBLAS chose generic kernels for a CPU
with AVX-512 or AVX2 and OPENBLAS_CORETYPE is unset, the script re-executes itself with OPENBLAS_CORETYPE
set (SkylakeX / Haswell), so both sides of the comparison run the same BLAS kernels (--no-coretype-fix:
leave OpenBLAS as it is). The BLAS in use is printed.
"""

import os
import sys

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS",
                    "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")


def early_threads(argv):
    """--threads from the command line (before argparse and numpy): the BLAS reads these variables
    when it loads. Invalid values are left to argparse to report."""
    threads = "1"
    for i, a in enumerate(argv):
        if a == "--threads" and i + 1 < len(argv):
            threads = argv[i + 1]
        elif a.startswith("--threads="):
            threads = a.split("=", 1)[1]
    if threads.isdigit() and int(threads) >= 1:
        for v in THREAD_VARIABLES:
            os.environ[v] = threads


if __name__ == "__main__":
    early_threads(sys.argv[1:])

import argparse  # noqa: E402
import csv  # noqa: E402
import importlib  # noqa: E402
import importlib.util  # noqa: E402
import math  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

try:
    import numpy as np  # noqa: E402
except ImportError as _e:
    sys.exit("decode_sklearn: error: %s needs numpy (%s)" % (sys.executable, _e))

DECODERS = ("lda", "svm", "logistic")
STAGES = ("import", "load", "cv", "permutations", "probe", "margins", "rsm", "pca")
HARD_MARGIN_C = 1e10   # --svm-c inf: sklearn's SVC needs a finite C


class BenchError(Exception):
    """Bad input or options; the message names the file (and array) at fault."""


def note(message):
    print("decode_sklearn: note: " + message, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# BLAS

def blas_info():
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    return [i for i in threadpool_info() if i.get("user_api") == "blas"]


def cpu_flags():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def recommended_coretype(info):
    """The OPENBLAS_CORETYPE groove's CLI would set (runtime/build_info.cpp), or ''."""
    if os.environ.get("OPENBLAS_CORETYPE"):
        return ""
    cores = [str(i.get("architecture") or "") for i in info if i.get("internal_api") == "openblas"]
    if not cores:
        return ""
    core, flags = cores[0].lower(), cpu_flags()
    if {"avx512f", "avx512bw", "avx512vl"} <= flags and core not in ("skylakex", "cooperlake", "sapphirerapids",
                                                                     "zen"):
        return "SkylakeX"
    if {"avx2", "fma"} <= flags and core in ("prescott", "core2", "penryn", "dunnington", "nehalem", "atom",
                                             "sandybridge", "katmai", "coppermine", "northwood", "banias"):
        return "Haswell"
    return ""


def maybe_reexec(no_fix):
    if no_fix or os.environ.get("DECODE_SKLEARN_REEXEC"):
        return
    core = recommended_coretype(blas_info())
    if core:
        os.environ["OPENBLAS_CORETYPE"] = core
        os.environ["DECODE_SKLEARN_REEXEC"] = "1"
        sys.stdout.flush()
        sys.stderr.flush()
        try:
            os.execv(sys.executable, [sys.executable] + sys.argv)
        except OSError as e:  # run with the generic kernels
            note("re-execution with OPENBLAS_CORETYPE=%s failed (%s): generic OpenBLAS kernels" % (core, e))


def blas_line():
    info = blas_info()
    if not info:
        return "BLAS: unknown (threadpoolctl not available)"
    return "BLAS: " + "; ".join("%s %s (%s kernels, %s threads, %s)" % (
        i.get("internal_api"), i.get("version"), i.get("architecture", "?"), i.get("num_threads"),
        i.get("filepath")) for i in info) + (
        "  [OPENBLAS_CORETYPE=%s]" % os.environ["OPENBLAS_CORETYPE"] if os.environ.get("OPENBLAS_CORETYPE") else "")


# ---------------------------------------------------------------------------------------------
# Input

def session_count(path, names):
    indices = set()
    for n in names:
        for prefix in ("responses_", "labels_", "folds_"):
            if n.startswith(prefix) and n[len(prefix):].isdigit():
                indices.add(int(n[len(prefix):]))
    if not indices:
        raise BenchError("%s: no responses_<i> arrays (not a groove preprocessed.npz?)" % path)
    s = max(indices) + 1
    for i in range(s):
        for prefix in ("responses_", "labels_", "folds_"):
            if "%s%d" % (prefix, i) not in names:
                raise BenchError("%s: array %s%d missing (sessions 0..%d expected)" % (path, prefix, i, s - 1))
    return s


def load_session(npz, path, i):
    """(responses [T, N] f64, labels [T] i64, folds [shuffles, T] i64) of session i, checked."""
    try:
        x = np.asarray(npz["responses_%d" % i], dtype=np.float64)
        y = np.asarray(npz["labels_%d" % i]).astype(np.int64)
        folds = np.asarray(npz["folds_%d" % i]).astype(np.int64)
    except (ValueError, OSError, KeyError) as e:
        raise BenchError("%s: session %d: cannot read (%s)" % (path, i, e)) from None
    where = "%s: session %d" % (path, i)
    if x.ndim != 2 or x.shape[0] < 1 or x.shape[1] < 1:
        raise BenchError("%s: responses_%d has shape %s, expected [trials, neurons]" % (where, i, x.shape))
    t = x.shape[0]
    if y.shape != (t,):
        raise BenchError("%s: labels_%d has shape %s, expected [%d]" % (where, i, y.shape, t))
    if folds.ndim == 1:
        folds = folds[None, :]
    if folds.ndim != 2 or folds.shape[1] != t or folds.shape[0] < 1:
        raise BenchError("%s: folds_%d has shape %s, expected [shuffles, %d]" % (where, i, folds.shape, t))
    if not np.isfinite(x).all():
        raise BenchError("%s: responses_%d has non-finite values" % (where, i))
    if not np.isin(y, (0, 1, 2)).all():
        raise BenchError("%s: labels_%d has values other than 0, 1, 2" % (where, i))
    probe = y == 2
    if (folds[:, probe] != -1).any() or (folds[:, ~probe] < 0).any():
        raise BenchError("%s: folds_%d must be -1 exactly at the probe trials" % (where, i))
    return x, y, folds


# ---------------------------------------------------------------------------------------------
# The pipeline

def make_decoder(name, args):
    if name == "lda":
        from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
        return LinearDiscriminantAnalysis(solver="lsqr", shrinkage=args.shrinkage_value)
    if name == "svm":
        from sklearn.svm import LinearSVC
        return LinearSVC(C=1.0, loss="squared_hinge")
    from sklearn.linear_model import LogisticRegression
    return LogisticRegression(C=1.0, max_iter=1000)


def cv_accuracy(name, args, x, y, folds):
    """Accuracy of one cross-validation: fit on the other folds, predict each fold."""
    correct = 0
    for k in np.unique(folds):
        test = folds == k
        model = make_decoder(name, args)
        model.fit(x[~test], y[~test])
        correct += int(np.sum(model.predict(x[test]) == y[test]))
    return correct / len(y)


def linearly_separable(x, y):
    """Whether some (w, b) has y_i (w.x_i + b) >= 1 for every trial (y = +1 target, -1 non-target):
    a feasibility linear program (scipy HiGHS). The hard-margin SVM exists only then; libsvm's SVC with
    C = 1e10 on non-separable data runs for millions of iterations without converging."""
    from scipy.optimize import linprog
    sign = np.where(y == 1, 1.0, -1.0)
    a = -sign[:, None] * np.hstack([x, np.ones((x.shape[0], 1))])
    res = linprog(np.zeros(x.shape[1] + 1), A_ub=a, b_ub=-np.ones(x.shape[0]), bounds=(None, None), method="highs")
    if res.status not in (0, 2):  # 0 solved (feasible), 2 infeasible
        note("separability LP: %s (status %d): treated as not separable" % (res.message, res.status))
    return res.status == 0


def rsm_index(x, n_target):
    """rsm_index of trials ordered target (the first n_target rows), then non-target; and its parts."""
    r = np.corrcoef(x)
    t = slice(0, n_target)
    n = slice(n_target, x.shape[0])

    def within(block):
        k = block.shape[0]
        return (block.sum() - np.trace(block)) / (k * (k - 1)) if k > 1 else math.nan
    wt, wn = within(r[t, t]), within(r[n, n])
    between = float(r[t, n].mean())
    return 0.5 * (wt + wn) - between, wt, wn, between


def run_session(i, x, y, folds, args, rng, timings):
    """One results row for session i; adds each stage's seconds to timings."""
    row = {"session": i, "trials_target": int(np.sum(y == 1)), "trials_nontarget": int(np.sum(y == 0)),
           "trials_probe": int(np.sum(y == 2)), "neurons": x.shape[1]}
    tn = y != 2
    xs, ys, fs = x[tn], y[tn], folds[:, tn]
    both = row["trials_target"] >= 2 and row["trials_nontarget"] >= 2
    if not both:
        note("session %d: fewer than 2 target or non-target trials: decoding, margins and RSM skipped" % i)
    with warnings.catch_warnings():
        from sklearn.exceptions import ConvergenceWarning
        warnings.simplefilter("ignore", category=ConvergenceWarning)
        for d in args.decoder_list:
            if not both:
                continue
            t0 = time.perf_counter()
            acc = np.array([cv_accuracy(d, args, xs, ys, fs[s]) for s in range(fs.shape[0])])
            row[d + "_accuracy"] = float(acc.mean())
            row[d + "_accuracy_se"] = float(acc.std(ddof=1) / math.sqrt(len(acc))) if len(acc) > 1 else None
            t1 = time.perf_counter()
            timings["cv"] += t1 - t0
            if args.permutations > 0:
                null = np.empty(args.permutations)
                for p in range(args.permutations):
                    null[p] = cv_accuracy(d, args, xs, rng.permutation(ys), fs[0])
                row[d + "_chance"] = float(null.mean())
                row[d + "_chance_sd"] = float(null.std(ddof=1)) if len(null) > 1 else None
                row[d + "_p"] = float((1 + np.sum(null >= row[d + "_accuracy"])) / (1 + len(null)))
            t2 = time.perf_counter()
            timings["permutations"] += t2 - t1
            if row["trials_probe"]:
                model = make_decoder(d, args)
                model.fit(xs, ys)
                row[d + "_probe_accuracy"] = float(np.mean(model.predict(x[~tn]) == 0))
            timings["probe"] += time.perf_counter() - t2

        if both:
            t0 = time.perf_counter()
            separable = linearly_separable(xs, ys)
            row["separable"] = int(separable)
            if separable or not args.hard_margin:
                from sklearn.svm import SVC
                svc = SVC(kernel="linear", C=args.margin_c)
                svc.fit(xs, ys)
                w, b = svc.coef_[0], float(svc.intercept_[0])
                norm = float(np.linalg.norm(w))
                sign = np.where(ys == svc.classes_[1], 1.0, -1.0)
                dist = np.sort(sign * (xs @ w + b) / norm)
                row["margin"] = 1.0 / norm
                row["closest1"] = float(dist[:math.ceil(0.01 * len(dist))].mean())
                row["closest5"] = float(dist[:math.ceil(0.05 * len(dist))].mean())
            t1 = time.perf_counter()
            timings["margins"] += t1 - t0

            ordered = np.concatenate([xs[ys == 1], xs[ys == 0]])
            n_target = row["trials_target"]
            index, wt, wn, between = rsm_index(ordered, n_target)
            means = ordered.mean(axis=0)
            null = np.empty(args.rsm_null)
            for r in range(args.rsm_null):
                null[r] = rsm_index(rng.normal(loc=means, scale=1.0, size=ordered.shape), n_target)[0]
            row.update(rsm_target=wt, rsm_nontarget=wn, rsm_between=between, rsm_index=index)
            if args.rsm_null > 0:
                sd = float(null.std(ddof=1)) if len(null) > 1 else math.nan
                row.update(rsm_null_mean=float(null.mean()), rsm_null_sd=sd,
                           rsm_z=(index - null.mean()) / sd if sd > 0 else None,
                           rsm_p=float((1 + np.sum(null >= index)) / (1 + len(null))))
            timings["rsm"] += time.perf_counter() - t1

    t0 = time.perf_counter()
    k = min(3, x.shape[0], x.shape[1])
    if x.shape[0] >= 2:
        from sklearn.decomposition import PCA
        pca = PCA(n_components=k)
        pca.fit_transform(x)
        for j in range(3):
            row["pca_var%d" % (j + 1)] = float(pca.explained_variance_ratio_[j]) if j < k else None
    timings["pca"] += time.perf_counter() - t0
    return row


def result_columns(decoders):
    cols = ["session", "trials_target", "trials_nontarget", "trials_probe", "neurons"]
    for d in decoders:
        cols += [d + s for s in ("_accuracy", "_accuracy_se", "_chance", "_chance_sd", "_p", "_probe_accuracy")]
    return cols + ["margin", "closest1", "closest5", "separable", "rsm_target", "rsm_nontarget", "rsm_between",
                   "rsm_index", "rsm_null_mean", "rsm_null_sd", "rsm_z", "rsm_p", "pca_var1", "pca_var2",
                   "pca_var3"]


def cell(v):
    if v is None:
        return ""
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    return repr(float(v))


def fmt_seconds(s):
    if s >= 120:
        return "%.1f min (%.0f s)" % (s / 60, s)
    return "%.2f s" % s


def run(args):
    t_start, cpu_start = time.perf_counter(), time.process_time()
    timings = {s: 0.0 for s in STAGES}
    for module in ("scipy.optimize", "sklearn.decomposition", "sklearn.discriminant_analysis", "sklearn.linear_model",
                   "sklearn.svm"):  # imported here: their import time is a stage of its own
        importlib.import_module(module)
    timings["import"] = time.perf_counter() - t_start
    path = args.data
    if not os.path.isfile(path):
        raise BenchError("%s: file not found" % path)
    try:
        npz = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise BenchError("%s: not a readable .npz (%s)" % (path, e)) from None
    with npz:
        total = session_count(path, set(npz.files))
        n_run = total if args.sessions is None else min(args.sessions, total)
        print("decode_sklearn: %s: %d sessions (running %d); decoders %s; %d permutations, %d RSM null matrices; "
              "%s thread%s" % (path, total, n_run, ",".join(args.decoder_list), args.permutations, args.rsm_null,
                               args.threads, "" if args.threads == 1 else "s"), flush=True)
        print(blas_line(), flush=True)
        # Every session is read and checked before any is computed (a bad one fails at once).
        t0 = time.perf_counter()
        sessions = [load_session(npz, path, i) for i in range(total)]
        timings["load"] += time.perf_counter() - t0
    work_all = sum(float(x.shape[0]) * x.shape[1] for x, _, _ in sessions)
    work_run, rows = 0.0, []
    rng = np.random.default_rng(args.seed)
    for i, (x, y, folds) in enumerate(sessions[:n_run]):
        t1 = time.perf_counter()
        row = run_session(i, x, y, folds, args, rng, timings)
        rows.append(row)
        work_run += float(x.shape[0]) * x.shape[1]
        d = args.decoder_list[0]
        acc = row.get(d + "_accuracy")
        print("session %d (%d trials, %d neurons, %d shuffles x %d folds): %s %s%s%s; rsm_index %s; %.2f s" % (
            i, x.shape[0], x.shape[1], folds.shape[0], len(np.unique(folds[folds >= 0])), d,
            "%.3f" % acc if acc is not None else "-",
            " +- %.3f" % row[d + "_accuracy_se"] if row.get(d + "_accuracy_se") is not None else "",
            " (chance %.3f, p %.4g)" % (row[d + "_chance"], row[d + "_p"]) if row.get(d + "_chance") is not None
            else "", "%.4g" % row["rsm_index"] if row.get("rsm_index") is not None else "-",
            time.perf_counter() - t1), flush=True)
    wall = time.perf_counter() - t_start
    print("\nstage          seconds   share", flush=True)
    busy = sum(timings.values())
    for s in STAGES:
        print("%-12s %9.2f  %5.1f%%" % (s, timings[s], 100.0 * timings[s] / busy if busy > 0 else 0.0))
    print("%-12s %9.2f" % ("total (wall)", wall))
    cpu = time.process_time() - cpu_start
    print("%-12s %9.2f  (%.0f%% of wall x threads: less means other processes took the CPU, and the wall time is "
          "inflated)" % ("total (CPU)", cpu, 100.0 * cpu / (wall * args.threads) if wall > 0 else 0.0))
    if any(r.get("separable") == 0 for r in rows):
        print("not linearly separable: %d of %d sessions%s" % (
            sum(1 for r in rows if r.get("separable") == 0), len(rows),
            " (hard-margin SVM undefined: margins left empty)" if args.hard_margin else ""))
    if rows:
        fixed = timings["import"] + timings["load"]
        per_session = (wall - fixed) / len(rows)
        print("per session: %s (mean over %d; imports and reading the file excluded)"
              % (fmt_seconds(per_session), len(rows)))
        if n_run < total:
            by_work = fixed + (wall - fixed) * work_all / work_run if work_run > 0 else math.nan
            print("extrapolated to all %d sessions: %s (by trials x neurons; %s by session count)"
                  % (total, fmt_seconds(by_work), fmt_seconds(fixed + per_session * total)))
        if args.extrapolate:
            print("extrapolated to %d sessions: %s (imports and reading + %d x the mean time per session)"
                  % (args.extrapolate, fmt_seconds(fixed + per_session * args.extrapolate), args.extrapolate))
    if args.out:
        cols = result_columns(args.decoder_list)
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(cols)
            for row in rows:
                w.writerow([cell(row.get(c)) for c in cols])
        print("results: %s" % args.out)


# ---------------------------------------------------------------------------------------------
# Fixture

def make_fixture(args):
    """A synthetic preprocessed.npz: S sessions of z-scored Gaussian responses where the target and
    non-target means differ along one direction by a separation that grows with the session (probes
    in between), and stratified folds per shuffle."""
    rng = np.random.default_rng(args.seed)
    s_count, neurons, trials = args.fixture_sessions, args.fixture_neurons, args.fixture_trials
    shuffles, k = args.fixture_shuffles, args.fixture_folds
    n_probe = trials // 5
    n_target = (trials - n_probe) // 2
    n_nontarget = trials - n_probe - n_target
    if min(n_target, n_nontarget) < k:
        raise BenchError("--fixture-trials %d: fewer target/non-target trials than --fixture-folds %d" % (trials, k))
    arrays = {}
    for i in range(s_count):
        w = rng.normal(size=neurons)
        w /= np.linalg.norm(w)
        sep = 0.5 + 2.5 * i / max(1, s_count - 1)
        labels = rng.permutation(np.array([1] * n_target + [0] * n_nontarget + [2] * n_probe, dtype=np.int32))
        pos = np.where(labels == 1, 0.5, np.where(labels == 0, -0.5, 0.2))
        x = (pos * sep)[:, None] * w[None, :] + rng.normal(size=(trials, neurons))
        x = (x - x.mean(axis=0)) / x.std(axis=0)
        folds = np.full((shuffles, trials), -1, dtype=np.int32)
        for s in range(shuffles):
            for c in (0, 1):
                idx = np.flatnonzero(labels == c)
                folds[s, rng.permutation(idx)] = np.arange(len(idx)) % k
        arrays["responses_%d" % i] = x
        arrays["labels_%d" % i] = labels
        arrays["folds_%d" % i] = folds
    arrays["meta"] = np.array('{"source": "decode_sklearn.py --make-fixture"}')
    os.makedirs(os.path.dirname(os.path.abspath(args.make_fixture)), exist_ok=True)
    np.savez(args.make_fixture, **arrays)
    print("%s: %d sessions x %d trials (%d target, %d non-target, %d probe) x %d neurons, %d shuffles x %d folds"
          % (args.make_fixture, s_count, trials, n_target, n_nontarget, n_probe, neurons, shuffles, k))


# ---------------------------------------------------------------------------------------------
# Command line

def positive_int(text):
    v = int(text)
    if v < 1:
        raise argparse.ArgumentTypeError("must be >= 1")
    return v


def nonnegative_int(text):
    v = int(text)
    if v < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return v


def parse_args(argv):
    p = argparse.ArgumentParser(prog="decode_sklearn.py", description="scikit-learn baseline of the groove decode "
                                "benchmark (see the header of this script).")
    p.add_argument("--data", metavar="NPZ", help="preprocessed.npz written by groove decode (save_preprocessed)")
    p.add_argument("--out", metavar="CSV", help="write one row per session (sessions.csv column names)")
    p.add_argument("--sessions", type=positive_int, metavar="N", help="run only the first N sessions and "
                   "extrapolate the time to all")
    p.add_argument("--extrapolate", type=positive_int, metavar="M", help="also print the time extrapolated to M "
                   "sessions")
    p.add_argument("--decoders", default="lda", help="comma-separated subset of lda,svm,logistic (first = primary)")
    p.add_argument("--permutations", type=nonnegative_int, default=1000)
    p.add_argument("--rsm-null", type=nonnegative_int, default=500)
    p.add_argument("--shrinkage", default="0", help="LDA shrinkage: 0 (none), a value in (0, 1], or auto")
    p.add_argument("--svm-c", default="inf", help="C of the margin SVM (inf: hard margin, C = %g)" % HARD_MARGIN_C)
    p.add_argument("--threads", type=positive_int, default=1, help="BLAS/OpenMP threads (set before numpy loads)")
    p.add_argument("--seed", type=int, default=0, help="seed of the permutations and the RSM null (and fixture)")
    p.add_argument("--no-coretype-fix", action="store_true", help="do not set OPENBLAS_CORETYPE when OpenBLAS "
                   "chose generic kernels")
    p.add_argument("--make-fixture", metavar="PATH", help="write a synthetic preprocessed.npz and exit")
    p.add_argument("--fixture-sessions", type=positive_int, default=10)
    p.add_argument("--fixture-neurons", type=positive_int, default=20)
    p.add_argument("--fixture-trials", type=positive_int, default=250)
    p.add_argument("--fixture-shuffles", type=positive_int, default=10)
    p.add_argument("--fixture-folds", type=positive_int, default=10)
    args = p.parse_args(argv)
    if not args.make_fixture and not args.data:
        p.error("one of --data and --make-fixture is required")
    args.decoder_list = [d.strip() for d in args.decoders.split(",") if d.strip()]
    bad = [d for d in args.decoder_list if d not in DECODERS]
    if bad or not args.decoder_list or len(set(args.decoder_list)) != len(args.decoder_list):
        p.error("--decoders %r: expected a comma-separated subset of %s without repeats" % (args.decoders,
                                                                                        ",".join(DECODERS)))
    if args.shrinkage == "auto":
        args.shrinkage_value = "auto"
    else:
        try:
            v = float(args.shrinkage)
        except ValueError:
            p.error("--shrinkage %r: expected 0, a value in (0, 1] or auto" % args.shrinkage)
        if not 0.0 <= v <= 1.0:
            p.error("--shrinkage %r: expected 0, a value in (0, 1] or auto" % args.shrinkage)
        args.shrinkage_value = None if v == 0.0 else v
    try:
        c = float(args.svm_c)
    except ValueError:
        p.error("--svm-c %r: expected a positive number or inf" % args.svm_c)
    if not c > 0:
        p.error("--svm-c %r: expected a positive number or inf" % args.svm_c)
    args.margin_c = HARD_MARGIN_C if math.isinf(c) else c
    args.hard_margin = math.isinf(c)
    return args


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    try:
        if args.make_fixture:
            make_fixture(args)
            return 0
        maybe_reexec(args.no_coretype_fix)
        missing = [m for m in ("sklearn", "scipy", "threadpoolctl") if importlib.util.find_spec(m) is None]
        if missing:
            raise BenchError("%s needs scikit-learn and scipy (missing: %s)" % (sys.executable, ", ".join(missing)))
        run(args)
    except BenchError as e:
        print("decode_sklearn: error: %s" % e, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("decode_sklearn: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())

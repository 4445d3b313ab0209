#!/usr/bin/env python3
"""Synthetic groove output folders for the plotting test (tests/tools/test_plot.py).

    plot_fixture.py OUTDIR

writes, in exactly the formats of docs/metrics.md and tools/plot/groove_plot.py's header:
  OUTDIR/run/           a full run folder: metrics.csv (per-step columns, per-group columns for
                        the groups test, probe_overlap_1, probe_overlap_2 (EMPTY: no examples),
                        probe_overlap_4, probe_overlap_8, periodic columns empty between probe
                        steps, a computed `nan`), summary.json (onset, flips, hyper, run_id),
                        examples.npy, snapshots/, status.json, config.yaml
  OUTDIR/run_minimal/   a run without examples.npy, snapshots or periodic columns
  OUTDIR/sweep/         runs.csv + sweep.json: model.gamma in {0.1, 1} x seeds {0, 1, 2} (one seed
                        recorded every 10 steps instead of 5) plus one failed run without files
  OUTDIR/reversal/      reversal.csv, reversal_curves.csv, reversal.json
  OUTDIR/decode/        a `groove decode` folder (make_decode): 2 subjects x 5 days, decoders lda + svm,
                        probe trials, generalization.csv, rsm/ and pca/ arrays (layout: the header of
                        tools/plot/groove_plot.py)
The numbers follow the qualitative story of SCIENCE.md (train accuracy saturates, probe accuracy
rises late, low overlap first; overlap-8 probes stay wrong), deterministic for a given seed.
"""

import csv
import json
import math
import os
import sys

import numpy as np

GROUPS = ["test", "probe_overlap_1", "probe_overlap_2", "probe_overlap_4", "probe_overlap_8"]
GROUP_SIZES = [12, 8, 0, 8, 8]          # probe_overlap_2 has no examples: its columns are NaN
GROUP_CROSSING = [(0.6, 2.6), (1.8, 3.0), (0, 0), (2.8, 3.9), (4.6, 6.0)]  # log10(step) of learning
P_TRAIN = 40
HIDDEN = 16
LAYERS = 2


def fmt(v):
    """Shortest round-trip text of a double; '' for not computed (None)."""
    if v is None:
        return ""
    v = float(v)
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    if v == int(v) and abs(v) < 1e15:
        return str(int(v))
    return repr(v)


def example_margins(rng, t, speed):
    """Margins [rows, P + Q]: each example crosses zero near its own log10 step, with wobbles."""
    logt = np.log10(1.0 + t * speed)[:, None]
    train_c = rng.uniform(0.8, 2.4, P_TRAIN)
    held_c, held_class, held_group = [], [], []
    for g, (n, (lo, hi)) in enumerate(zip(GROUP_SIZES, GROUP_CROSSING)):
        held_c += list(rng.uniform(lo, hi, n))
        held_class += ([1, 0] * n)[:n] if GROUPS[g] == "test" else [0] * n
        held_group += [g] * n
    c = np.concatenate([train_c, held_c])[None, :]
    amp = rng.uniform(0.6, 1.4, c.shape[1])[None, :]
    phase = rng.uniform(0, 2 * np.pi, c.shape[1])[None, :]
    m = amp * (logt - c) + 0.2 * np.sin(8 * logt + phase)
    return m, np.array(held_class, np.int32), np.array(held_group, np.int32)


def logistic_loss(m):
    return np.logaddexp(0.0, -3.0 * m)


def per_step_rows(t, speed, m, held_group):
    """The per-step columns of metrics.csv (docs/metrics.md), one dict per row."""
    train = m[:, :P_TRAIN]
    held = m[:, P_TRAIN:]
    logt = np.log10(1.0 + t * speed)
    cols = {}
    loss = logistic_loss(train).mean(axis=1)
    cols["train_loss"] = loss
    cols["train_log10_loss"] = np.log10(loss)
    cols["train_acc"] = (train > 0).mean(axis=1)
    cols["margin_min"] = train.min(axis=1)
    cols["margin_mean"] = train.mean(axis=1)
    cols["margin_q01"] = np.quantile(train, 0.01, axis=1)
    cols["margin_q05"] = np.quantile(train, 0.05, axis=1)
    w = [1.0 + 0.25 * logt * (l + 1) for l in range(LAYERS)]
    cols["margin_norm_prod"] = cols["margin_min"] / (w[0] * w[1])
    cols["margin_norm_global"] = cols["margin_min"] / (w[0] ** 2 + w[1] ** 2) ** (LAYERS / 2)
    cols["margin_readout"] = cols["margin_min"] / w[1]
    cols["train_ncm_acc"] = np.clip(cols["train_acc"] - 0.05 * np.exp(-logt), 0, 1)
    cols["centroid_dist"] = 0.5 + 0.8 * logt
    cols["within_var"] = 2.0 / (1.0 + 0.5 * logt)
    cols["grad_norm"] = 1.0 / (1.0 + t * speed) ** 0.7
    cols["weight_norm"] = np.sqrt(w[0] ** 2 + w[1] ** 2)
    hl = logistic_loss(held)
    cols["heldout_loss"] = hl.mean(axis=1)
    cols["heldout_log10_loss"] = np.log10(cols["heldout_loss"])
    cols["heldout_acc"] = (held > 0).mean(axis=1)
    cols["heldout_ncm_acc"] = np.clip(cols["heldout_acc"] + 0.03, 0, 1)
    for l in range(LAYERS):
        cols["w%d_norm" % l] = w[l]
        cols["w%d_move" % l] = 0.01 + 0.2 * logt * (l + 1) / 5
    for g, name in enumerate(GROUPS):
        sel = held_group == g
        if sel.any():
            gl = hl[:, sel].mean(axis=1)
            cols[name + "_loss"], cols[name + "_log10_loss"] = gl, np.log10(gl)
            cols[name + "_acc"] = (held[:, sel] > 0).mean(axis=1)
            cols[name + "_ncm_acc"] = np.clip(cols[name + "_acc"] + 0.05, 0, 1)
        else:
            for suffix in ("_loss", "_log10_loss", "_acc", "_ncm_acc"):
                cols[name + suffix] = np.full(len(t), np.nan)
    return cols


def periodic_columns(t, speed, cols, held_group, with_pgd=True):
    """Periodic columns at every row (the caller blanks rows without a probe step)."""
    logt = np.log10(1.0 + t * speed)
    out = {}
    separable = cols["train_acc"] >= 1.0
    svm = 0.05 * logt
    out["svm_margin"] = np.where(separable, svm, np.nan)  # a computed NaN when not separable
    out["svm_min_distance"] = np.where(separable, svm, -0.1)
    out["svm_closest_1pct"] = out["svm_min_distance"] + 0.01
    out["svm_closest_5pct"] = out["svm_min_distance"] + 0.03
    out["svm_margin_bound"] = np.abs(svm) + 0.02
    out["svm_separable"] = separable.astype(float)
    out["svm_converged"] = np.ones(len(t))
    for probe, lag in (("ridge", 0.2), ("logistic", 0.0)):
        out[probe + "_train_acc"] = np.clip(cols["train_acc"] + 0.02, 0, 1)
        out[probe + "_heldout_acc"] = np.clip(cols["heldout_acc"] + 0.1, 0, 1)
        if probe == "logistic":
            out["logistic_heldout_loss"] = cols["heldout_loss"] * 0.8
        for name in GROUPS:
            base = cols[name + "_acc"]
            out["%s_%s_acc" % (probe, name)] = np.clip(base + 0.15 - lag * 0.1, 0, 1)
        if probe == "logistic":
            out["logistic_converged"] = np.ones(len(t))
    for k, name in enumerate(["train"] + GROUPS):
        empty = name != "train" and not (held_group == GROUPS.index(name)).any()
        scale = 1.0 if name == "train" else 0.5 / (1 + k)
        j = np.full(len(t), np.nan) if empty else scale * (0.2 + logt ** 2)
        out["fisher_%s_J" % name] = j
        out["fisher_%s_dist" % name] = np.sqrt(np.abs(j)) if not empty else j
        out["fisher_%s_within" % name] = np.full(len(t), np.nan) if empty else 1.0 / (1 + logt)
    names = ["class0", "class1"] + GROUPS
    for a in range(len(names)):
        for b in range(a + 1, len(names)):
            out["rsm_%s_%s" % (names[a], names[b])] = np.tanh(0.3 * logt - 0.1 * (b - a))
    out["kernel_alignment"] = 0.2 + 0.6 * (1 - np.exp(-logt / 2))
    if with_pgd:
        out["pgd_acc"] = np.clip(cols["heldout_acc"] - 0.2, 0, 1)
        for name in GROUPS:
            out["pgd_%s_acc" % name] = np.clip(cols[name + "_acc"] - 0.2, 0, 1)
    return out


def onset_of(steps, acc, window):
    for i, s in enumerate(steps):
        if acc[i] >= 1.0:
            later = (steps >= s) & (steps <= s + window)
            if np.all(acc[later] >= 1.0):
                return {"step": int(s), "provisional": bool(s + window > steps[-1])}
    return None


def flips_of(steps, held_margins, onset):
    q = held_margins.shape[1]
    n_flips, first, final, lists = [], [], [], []
    right = held_margins > 0
    for i in range(q):
        changes = np.flatnonzero(right[1:, i] != right[:-1, i]) + 1
        lists.append([int(steps[r]) if right[r, i] else -int(steps[r]) for r in changes])
        n_flips.append(len(changes))
        ok = np.flatnonzero(right[:, i])
        first.append(int(steps[ok[0]]) if len(ok) else -1)
        final.append(int(right[-1, i]))
    w2r = None
    if onset is not None:
        r = int(np.searchsorted(steps, onset["step"]))
        w2r = [i for i in range(q) if not right[r, i] and right[-1, i]]
    return {"n_flips": n_flips, "first_correct": first, "final_correct": final, "flip_steps": lists,
            "flip_steps_note": "positive: wrong -> right at that step; negative: right -> wrong",
            "wrong_at_onset_right_at_end": w2r}


def snapshot_steps(last):
    out, base = [0], 1
    while base <= last:
        out += [s for s in (base, 2 * base, 5 * base) if s <= last]
        base *= 10
    return sorted(set(out + [last]))


def write_snapshots(folder, rng, steps_done, speed, held_class, held_group):
    os.makedirs(os.path.join(folder, "snapshots"), exist_ok=True)
    n = len(held_class)
    directions = rng.normal(size=(len(GROUPS) + 2, HIDDEN))
    noise = rng.normal(size=(n, HIDDEN))
    for s in snapshot_steps(steps_done):
        grow = np.log10(1.0 + s * speed)
        feat = noise + grow * (directions[held_group] + 1.5 * directions[len(GROUPS) + held_class])
        np.save(os.path.join(folder, "snapshots", "step_%010d.npy" % s), np.maximum(feat, 0).astype(np.float32))
    np.save(os.path.join(folder, "snapshots", "classes.npy"), held_class.astype(np.int32))
    np.save(os.path.join(folder, "snapshots", "groups.npy"), held_group.astype(np.int32))
    return snapshot_steps(steps_done)


def make_run(folder, run_id, hyper, seed, speed=1.0, steps_done=20000, every=5, probe_every=2000,
             examples=True, snapshots=True, periodic=True, onset_window=1000):
    """Writes one run folder; returns its summary dict."""
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(seed)
    steps = np.arange(0, steps_done + 1, every, dtype=np.int64)
    t = steps.astype(np.float64)
    m, held_class, held_group = example_margins(rng, t, speed)
    cols = per_step_rows(t, speed, m, held_group)
    header = ["step"] + list(cols)
    if periodic:
        per = periodic_columns(t, speed, cols, held_group)
        probe_row = (steps % probe_every == 0) | (steps == steps[-1])
        header += list(per)
    with open(os.path.join(folder, "metrics.csv"), "w", newline="") as f:
        f.write(",".join(header) + "\n")
        for r in range(len(steps)):
            vals = [str(int(steps[r]))] + [fmt(cols[c][r]) for c in cols]
            if periodic:
                vals += [fmt(per[c][r]) if probe_row[r] else "" for c in per]
            f.write(",".join(vals) + "\n")
    if examples:
        np.save(os.path.join(folder, "examples.npy"), m.astype(np.float32))
    snaps = write_snapshots(folder, rng, steps_done, speed, held_class, held_group) if snapshots else []
    onset = onset_of(steps, cols["train_acc"], onset_window)
    last = {c: (None if not np.isfinite(cols[c][-1]) else float(cols[c][-1])) for c in cols}
    summary = {"model": 0, "steps": int(steps_done), "every": every, "onset_window": onset_window,
               "heldout_groups": GROUPS, "device": "cpu", "rng": "philox4x32-10",
               "groove": {"version": "0.1.0", "git_hash": "fixture"}, "final": last, "onset": onset,
               "snapshots": snaps, "run_id": run_id, "hyper": hyper}
    if onset is not None:
        r = int(np.searchsorted(steps, onset["step"]))
        summary["at_onset"] = {c: (None if not np.isfinite(cols[c][r]) else float(cols[c][r])) for c in cols}
        summary["growth_per_decade"] = {c: 0.1 for c in cols}
    summary["flips"] = flips_of(steps, m[:, P_TRAIN:], onset)
    with open(os.path.join(folder, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2)
    with open(os.path.join(folder, "status.json"), "w") as f:
        json.dump({"status": "done", "step": int(steps_done), "message": ""}, f)
    with open(os.path.join(folder, "config.yaml"), "w") as f:
        f.write("# fixture config of %s\nmodel:\n  gamma: %s\nseed: %d\n" % (run_id, hyper.get("model.gamma", 1),
                                                                          seed))
    return summary


def make_sweep(folder):
    os.makedirs(folder, exist_ok=True)
    rows = []
    k = 0
    for gamma in (0.1, 1.0):
        for seed in (0, 1, 2):
            run_id = "r%03d" % k
            every = 10 if (gamma == 0.1 and seed == 2) else 5
            s = make_run(os.path.join(folder, run_id), run_id, {"model.gamma": gamma, "seed": seed}, seed=100 + k,
                         speed=0.25 + 0.75 * gamma, steps_done=10000, every=every, probe_every=1000)
            onset = s["onset"]["step"] if s["onset"] else ""
            rows.append([run_id, "done", 10000, "", gamma, seed, onset, s["final"]["train_loss"],
                         s["final"]["heldout_acc"], s["final"]["margin_min"]])
            k += 1
    # A failed run: listed in runs.csv, no folder (the message has a comma: quoted CSV).
    rows.append(["r%03d" % k, "failed", 0, "out of memory, needed 3 GiB", 1.0, 3, "", "", "", ""])
    with open(os.path.join(folder, "runs.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["run_id", "status", "step", "message", "model.gamma", "seed", "onset_step", "final.train_loss",
                    "final.heldout_acc", "final.margin_min"])
        w.writerows(rows)
    with open(os.path.join(folder, "sweep.json"), "w") as f:
        json.dump({"name": "gamma", "axes": ["model.gamma"], "seed_key": "seed", "runs": len(rows)}, f)


def make_reversal(folder):
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(7)
    networks = {"rich (gamma=1)": 1.0, "lazy (gamma=0.05)": 0.0}
    summary_rows, curve_rows = [], []
    curve_steps = np.arange(0, 2001, 10)
    for net, richness in networks.items():
        for t_pre in (0, 100, 1000, 10000):
            for seed in range(3):
                align = 0.3 + 0.5 * richness * math.log10(1 + t_pre) / 4 + rng.normal(0, 0.01)
                rate = 0.0015 * (1 + 5 * richness * math.log10(1 + t_pre)) * rng.uniform(0.8, 1.2)
                loss = 0.69 * np.exp(-rate * curve_steps) + 1e-4
                acc = np.clip(1 - np.exp(-1.5 * rate * curve_steps), 0, 1)
                hit_loss = np.flatnonzero(loss < 0.05)
                hit_acc = np.flatnonzero(acc >= 0.99)
                to_loss = int(curve_steps[hit_loss[0]]) if len(hit_loss) else -1
                to_acc = int(curve_steps[hit_acc[0]]) if len(hit_acc) else -1
                summary_rows.append([net, t_pre, seed, to_loss, to_acc, round(align, 6), float(loss[-1])])
                curve_rows += [[net, t_pre, seed, int(s), float(l), float(a)]
                               for s, l, a in zip(curve_steps, loss, acc)]
    with open(os.path.join(folder, "reversal.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["network", "pretrain_steps", "seed", "steps_to_loss", "steps_to_accuracy", "kernel_alignment",
                    "final_loss"])
        w.writerows(summary_rows)
    with open(os.path.join(folder, "reversal_curves.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["network", "pretrain_steps", "seed", "step", "loss", "accuracy"])
        w.writerows(curve_rows)
    with open(os.path.join(folder, "reversal.json"), "w") as f:
        json.dump({"loss_criterion": 0.05, "accuracy_criterion": 0.99}, f)



# ---------------------------------------------------------------------------------------------
# A `groove decode` folder: the statistics are computed (with small numpy stand-ins for the
# decoders: a shrinkage LDA as "lda", a more strongly shrunk one as "svm") from sessions of the
# neural-like model of docs/data.md, so every file agrees with the others.

DECODE_SUBJECTS = ["M1", "M2"]
DECODE_DAYS = [1, 2, 3, 4, 5]
DECODE_DECODERS = {"lda": 0.05, "svm": 0.5}   # name -> covariance shrinkage of the stand-in
DECODE_OVERTRAINING = {"M1": 3, "M2": 4}
DECODE_NEURONS = 30
DECODE_TRIALS = (40, 40, 20)                  # target, non-target, probe trials per session
DECODE_FOLDS, DECODE_SHUFFLES, DECODE_PERMUTATIONS, DECODE_RSM_NULL, DECODE_WINDOW = 5, 4, 40, 200, 3
NONTARGET_ODORS, PROBE_ODORS = [1, 2, 3, 4], [5, 6]
LABEL_NAMES = {1: "target", 0: "nontarget", 2: "probe"}


def decode_statistics(decoders):
    """The statistics of days.csv, in order."""
    return ([d + "_accuracy" for d in decoders] + [d + "_probe_accuracy" for d in decoders]
            + ["margin_norm", "closest1_norm", "closest5_norm", "rsm_index"])


def decode_session(rng, w, base, offsets, day):
    """One session: z-scored responses [trials, neurons] ordered target, non-target, probe; labels
    (1 target, 0 non-target, 2 probe); stimulus ids."""
    n_t, n_n, n_p = DECODE_TRIALS
    sep = 1.5 + 0.9 * (day - 1)
    lam = 0.8 * 0.75 ** (day - 1)
    stim = np.array([0] * n_t + [NONTARGET_ODORS[i % 4] for i in range(n_n)] + [PROBE_ODORS[i % 2] for i in range(n_p)])
    labels = np.array([1] * n_t + [0] * n_n + [2] * n_p, dtype=np.int32)
    pos = np.where(labels == 1, 0.5, np.where(labels == 0, -0.5, lam - 0.5))
    mean = base[None, :] + (pos * sep)[:, None] * w[None, :] + offsets[stim]
    x = mean + 2.0 * rng.normal(size=mean.shape)
    x = (x - x.mean(axis=0)) / x.std(axis=0)
    return x, labels, stim


def lda_fit(x, y, shrink):
    m1, m0 = x[y == 1].mean(axis=0), x[y == 0].mean(axis=0)
    xc = np.concatenate([x[y == 1] - m1, x[y == 0] - m0])
    cov = xc.T @ xc / max(1, len(xc) - 2)
    cov = (1 - shrink) * cov + shrink * np.trace(cov) / cov.shape[0] * np.eye(cov.shape[0])
    wv = np.linalg.solve(cov, m1 - m0)
    return wv, -0.5 * wv @ (m1 + m0)


def lda_predict(model, x):
    return (x @ model[0] + model[1] > 0).astype(np.int32)


def cv_correct(x, y, folds, shrink):
    """Per-trial correctness [trials] of a cross-validated decoder with the given fold of each trial."""
    right = np.zeros(len(y))
    for f in range(DECODE_FOLDS):
        test = folds == f
        model = lda_fit(x[~test], y[~test], shrink)
        right[test] = lda_predict(model, x[test]) == y[test]
    return right


def rsm_index_of(r, y):
    """Mean within-class similarity (off-diagonal) minus the between-class similarity; and the three."""
    t, n = y == 1, y == 0
    def within(sel):
        block = r[np.ix_(sel, sel)]
        k = block.shape[0]
        return (block.sum() - np.trace(block)) / (k * (k - 1))
    wt, wn, between = within(t), within(n), r[np.ix_(t, n)].mean()
    return 0.5 * (wt + wn) - between, wt, wn, between


def decode_one(folder, rng, subject, day, x, labels, stim, decoders):
    """The statistics of one session (a sessions.csv row) and its per-stimulus and array files."""
    key = "%s/day%d" % (subject, day)
    tn = labels != 2
    xs, ys = x[tn], labels[tn]
    row = {"subject": subject, "day": day, "key": key, "trials_target": int((labels == 1).sum()),
           "trials_nontarget": int((labels == 0).sum()), "trials_probe": int((labels == 2).sum()),
           "neurons": DECODE_NEURONS, "neurons_dropped": int(rng.integers(0, 3))}
    folds = np.array([rng.permutation(len(ys)) % DECODE_FOLDS for _ in range(DECODE_SHUFFLES)])
    primary_right = None
    for di, (d, shrink) in enumerate(decoders.items()):
        rights = np.array([cv_correct(xs, ys, folds[s], shrink) for s in range(DECODE_SHUFFLES)])
        acc = rights.mean(axis=1)
        row[d + "_accuracy"] = acc.mean()
        row[d + "_accuracy_se"] = acc.std(ddof=1) / math.sqrt(len(acc))
        if di == 0:  # permutation test: primary decoder only (the other decoders' cells stay empty)
            primary_right = rights.mean(axis=0)
            null = np.array([cv_correct(xs, rng.permutation(ys), folds[0], shrink).mean()
                             for _ in range(DECODE_PERMUTATIONS)])
            row[d + "_chance"], row[d + "_chance_sd"] = null.mean(), null.std(ddof=1)
            row[d + "_p"] = (1 + np.sum(null >= acc.mean())) / (1 + DECODE_PERMUTATIONS)
        else:
            row[d + "_chance"] = row[d + "_chance_sd"] = row[d + "_p"] = None
        model = lda_fit(xs, ys, shrink)
        probe_pred = lda_predict(model, x[labels == 2])
        row[d + "_probe_accuracy"] = float(np.mean(probe_pred == 0)) if len(probe_pred) else None
        if di == 0:
            probe_right = (probe_pred == 0).astype(float)
    sep = 1.5 + 0.9 * (day - 1)
    row["margin"] = 0.03 * sep * math.exp(0.1 * rng.normal())
    row["closest1"] = row["margin"] * (1.03 + 0.02 * rng.random())
    row["closest5"] = row["closest1"] * (1.25 + 0.1 * rng.random())
    row["separable"] = 1
    r = np.corrcoef(x)
    index, wt, wn, between = rsm_index_of(r[np.ix_(tn, tn)], ys)
    means = xs.mean(axis=0)
    null = np.array([rsm_index_of(np.corrcoef(means[None, :] + rng.normal(size=xs.shape)), ys)[0]
                     for _ in range(DECODE_RSM_NULL)])
    row.update(rsm_target=wt, rsm_nontarget=wn, rsm_between=between, rsm_index=index, rsm_null_mean=null.mean(),
               rsm_null_sd=null.std(ddof=1))
    row["rsm_z"] = (index - null.mean()) / null.std(ddof=1)
    row["rsm_p"] = (1 + np.sum(null >= index)) / (1 + DECODE_RSM_NULL)
    xc = x - x.mean(axis=0)
    u, sv, _ = np.linalg.svd(xc, full_matrices=False)
    proj = u[:, :3] * sv[:3]
    var = sv ** 2 / np.sum(sv ** 2)
    row["pca_var1"], row["pca_var2"], row["pca_var3"] = var[:3]
    name = key.replace("/", "_")
    np.save(os.path.join(folder, "rsm", name + ".npy"), r.astype(np.float32))
    np.save(os.path.join(folder, "rsm", name + ".labels.npy"), labels.astype(np.int32))
    np.save(os.path.join(folder, "rsm", name + ".null.npy"), null.astype(np.float64))
    np.save(os.path.join(folder, "pca", name + ".npy"), proj.astype(np.float32))
    np.save(os.path.join(folder, "pca", name + ".labels.npy"), labels.astype(np.int32))
    centres = np.array([proj[labels == c].mean(axis=0) if (labels == c).any() else np.full(3, np.nan)
                        for c in (1, 0, 2)])
    np.save(os.path.join(folder, "pca", name + ".centres.npy"), centres.astype(np.float32))
    right = np.zeros(len(labels))
    right[tn], right[labels == 2] = primary_right, probe_right
    stimuli = []
    for sid in sorted(set(stim.tolist())):
        sel = stim == sid
        stimuli.append({"subject": subject, "day": day, "stimulus": sid, "label": LABEL_NAMES[int(labels[sel][0])],
                        "trials": int(sel.sum()), "fraction_correct": float(right[sel].mean())})
    return row, stimuli


def sliding(days, values, window):
    """(mean, se, n) per day of `days` over the sessions within the window centred on it."""
    out = []
    for d in days:
        sel = np.abs(days - d) <= window // 2
        v = values[sel & np.isfinite(values)]
        se = v.std(ddof=1) / math.sqrt(len(v)) if len(v) > 1 else None
        out.append((v.mean() if len(v) else None, se, int(sel.sum())))
    return out


def trend(days, values):
    ok = np.isfinite(values)
    if ok.sum() < 2:
        return {"slope": None, "r": None}
    slope = np.polyfit(days[ok], values[ok], 1)[0]
    return {"slope": float(slope), "r": float(np.corrcoef(days[ok], values[ok])[0, 1])}


def write_csv(path, header, rows):
    with open(path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        for r in rows:
            w.writerow([r.get(c) if isinstance(r.get(c), str) else fmt(r.get(c)) for c in header])


def make_decode(folder, generalization=True, seed=11):
    """Writes a groove decode folder (layout: the header of tools/plot/groove_plot.py)."""
    for sub in ("", "rsm", "pca"):
        os.makedirs(os.path.join(folder, sub), exist_ok=True)
    rng = np.random.default_rng(seed)
    decoders = list(DECODE_DECODERS)
    sessions, stimuli, data = [], [], {}
    for subject in DECODE_SUBJECTS:
        g = rng.normal(size=DECODE_NEURONS)
        w = g / np.linalg.norm(g)
        base = 8.0 + 2.0 * rng.normal(size=DECODE_NEURONS)
        offsets = np.zeros((1 + len(NONTARGET_ODORS) + len(PROBE_ODORS), DECODE_NEURONS))
        for group in (NONTARGET_ODORS, PROBE_ODORS):
            v = rng.normal(size=(len(group), DECODE_NEURONS))
            v -= np.outer(v @ w, w)
            offsets[group] = v - v.mean(axis=0)
        for day in DECODE_DAYS:
            x, labels, stim = decode_session(rng, w, base + 0.3 * day * rng.normal(size=DECODE_NEURONS), offsets, day)
            data[(subject, day)] = (x, labels)
            row, stims = decode_one(folder, rng, subject, day, x, labels, stim, DECODE_DECODERS)
            sessions.append(row)
            stimuli += stims
    for subject in DECODE_SUBJECTS:  # *_norm: divided by the subject's mean
        mine = [r for r in sessions if r["subject"] == subject]
        for c in ("margin", "closest1", "closest5"):
            mean = np.mean([r[c] for r in mine])
            for r in mine:
                r[c + "_norm"] = r[c] / mean
    header = ["subject", "day", "key", "trials_target", "trials_nontarget", "trials_probe", "neurons",
              "neurons_dropped"]
    for d in decoders:
        header += [d + s for s in ("_accuracy", "_accuracy_se", "_chance", "_chance_sd", "_p", "_probe_accuracy")]
    header += ["margin", "margin_norm", "closest1", "closest1_norm", "closest5", "closest5_norm", "separable",
               "rsm_target", "rsm_nontarget", "rsm_between", "rsm_index", "rsm_null_mean", "rsm_null_sd", "rsm_z",
               "rsm_p", "pca_var1", "pca_var2", "pca_var3"]
    write_csv(os.path.join(folder, "sessions.csv"), header, sessions)

    stats = decode_statistics(decoders)
    day_rows, per_subject = [], {}
    for subject in DECODE_SUBJECTS:
        mine = [r for r in sessions if r["subject"] == subject]
        days = np.array([r["day"] for r in mine], dtype=float)
        cols = {}
        for st in stats:
            values = np.array([np.nan if r[st] is None else r[st] for r in mine], dtype=float)
            cols[st] = sliding(days, values, DECODE_WINDOW)
        for i, d in enumerate(days):
            rec = {"subject": subject, "day": int(d), "n": cols[stats[0]][i][2]}
            for st in stats:
                rec[st + "_mean"], rec[st + "_se"] = cols[st][i][:2]
            day_rows.append(rec)
            per_subject[(subject, int(d))] = rec
    pooled_rows = []
    for d in sorted({r["day"] for r in sessions}):
        have = [per_subject[(s, d)] for s in DECODE_SUBJECTS if (s, d) in per_subject]
        rec = {"subject": "pooled", "day": d, "n": len(have)}
        for st in stats:
            v = np.array([h[st + "_mean"] for h in have if h[st + "_mean"] is not None], dtype=float)
            rec[st + "_mean"] = v.mean() if len(v) else None
            rec[st + "_se"] = v.std(ddof=1) / math.sqrt(len(v)) if len(v) > 1 else None
        pooled_rows.append(rec)
    write_csv(os.path.join(folder, "days.csv"), ["subject", "day", "n"] + [st + suffix for st in stats
                                                                          for suffix in ("_mean", "_se")],
              day_rows + pooled_rows)

    write_csv(os.path.join(folder, "stimuli.csv"), ["subject", "day", "stimulus", "label", "trials",
                                                    "fraction_correct"], stimuli)
    flips = []
    for subject in DECODE_SUBJECTS:
        for sid in sorted({r["stimulus"] for r in stimuli if r["subject"] == subject}):
            rs = sorted((r for r in stimuli if r["subject"] == subject and r["stimulus"] == sid),
                        key=lambda r: r["day"])
            days = [r["day"] for r in rs]
            right = [r["fraction_correct"] > 0.5 for r in rs]
            first = next((d for d, ok in zip(days, right) if ok), None)
            stable = None
            for i in range(len(days) - 1, -1, -1):
                if not right[i]:
                    break
                stable = days[i]
            at_ot = right[days.index(DECODE_OVERTRAINING[subject])]
            flips.append({"subject": subject, "stimulus": sid, "label": rs[0]["label"], "first_correct_day": first,
                          "stable_from_day": stable, "correct_first_overtraining": int(at_ot),
                          "correct_last": int(right[-1]), "flipped": int(not at_ot and right[-1])})
    write_csv(os.path.join(folder, "flips.csv"), ["subject", "stimulus", "label", "first_correct_day",
                                                  "stable_from_day", "correct_first_overtraining", "correct_last",
                                                  "flipped"], flips)
    if generalization:
        gen = []
        for subject in DECODE_SUBJECTS:
            for d_train in DECODE_DAYS:
                xt, lt = data[(subject, d_train)]
                model = lda_fit(xt[lt != 2], lt[lt != 2], DECODE_DECODERS[decoders[0]])
                for d_test in DECODE_DAYS:
                    xv, lv = data[(subject, d_test)]
                    acc = np.mean(lda_predict(model, xv[lv != 2]) == lv[lv != 2])
                    gen.append({"subject": subject, "train_day": d_train, "test_day": d_test, "accuracy": acc})
        write_csv(os.path.join(folder, "generalization.csv"), ["subject", "train_day", "test_day", "accuracy"], gen)

    trends = {}
    for subject in DECODE_SUBJECTS:
        mine = [r for r in sessions if r["subject"] == subject]
        days = np.array([r["day"] for r in mine], dtype=float)
        trends[subject] = {st: trend(days, np.array([np.nan if r[st] is None else r[st] for r in mine], dtype=float))
                           for st in stats}
    pdays = np.array([r["day"] for r in pooled_rows], dtype=float)
    trends["pooled"] = {st: trend(pdays, np.array([np.nan if r[st + "_mean"] is None else r[st + "_mean"]
                                                   for r in pooled_rows], dtype=float)) for st in stats}
    with open(os.path.join(folder, "summary.json"), "w") as f:
        json.dump({"trend": trends, "overtraining_day": DECODE_OVERTRAINING,
                   "timings": {"decode_s": 1.25, "permutations_s": 3.5, "rsm_s": 0.5, "total_s": 5.5}}, f, indent=2)
    with open(os.path.join(folder, "decode.json"), "w") as f:
        json.dump({"name": "fixture", "decoders": decoders, "subjects": DECODE_SUBJECTS, "sessions": len(sessions),
                   "folds": DECODE_FOLDS, "shuffles": DECODE_SHUFFLES, "permutations": DECODE_PERMUTATIONS,
                   "rsm_null": DECODE_RSM_NULL, "window": DECODE_WINDOW, "probe_label": "nontarget"}, f, indent=2)


def make_all(out):
    make_run(os.path.join(out, "run"), "r000", {"model.gamma": 1.0, "seed": 0}, seed=1)
    make_run(os.path.join(out, "run_minimal"), "minimal", {}, seed=2, steps_done=3000, every=3, examples=False,
             snapshots=False, periodic=False)
    make_sweep(os.path.join(out, "sweep"))
    make_reversal(os.path.join(out, "reversal"))
    make_decode(os.path.join(out, "decode"))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: plot_fixture.py OUTDIR")
    make_all(sys.argv[1])

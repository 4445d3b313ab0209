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


def make_all(out):
    make_run(os.path.join(out, "run"), "r000", {"model.gamma": 1.0, "seed": 0}, seed=1)
    make_run(os.path.join(out, "run_minimal"), "minimal", {}, seed=2, steps_done=3000, every=3, examples=False,
             snapshots=False, periodic=False)
    make_sweep(os.path.join(out, "sweep"))
    make_reversal(os.path.join(out, "reversal"))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: plot_fixture.py OUTDIR")
    make_all(sys.argv[1])

#!/usr/bin/env python3
"""groove_plot.py: the figures of `groove plot DIR` (PNG by default).

Usage:  groove_plot.py DIR [--out FIGDIR] [--table] [--format png|svg|pdf]

DIR is a run folder, a sweep folder, a reversal folder or a decode folder (detected in this order of
precedence: decode.json, reversal.csv, runs.csv, metrics.csv). Figures go to FIGDIR (default
DIR/figures); the path of every figure written is printed on stdout, one per line. Notes (skipped runs, missing optional
files, panels without data) go to stderr. A folder that cannot be plotted prints
`groove plot: error: <message naming the file>` on stderr and exits 1.
Needs only Python 3, numpy and matplotlib (Agg backend).

Folder formats (column definitions: docs/metrics.md):

  run folder      metrics.csv      header row then one row per recorded step; `step` first.
                                   Per-step columns (train_loss, train_log10_loss, train_acc,
                                   margin_*, train_ncm_acc, centroid_dist, within_var, grad_norm,
                                   weight_norm, heldout_*, w{l}_norm, w{l}_move, {group}_loss,
                                   {group}_log10_loss, {group}_acc, {group}_ncm_acc), then periodic
                                   columns (svm_*, ridge_*, logistic_*, fisher_{set}_J/_dist/_within,
                                   rsm_*, rsa_spearman, kernel_alignment, pgd_*), EMPTY on rows where
                                   they were not computed; `nan`/`inf` may appear.
                  summary.json     heldout_groups, onset {step, provisional} | null, flips
                                   {n_flips, first_correct, final_correct, flip_steps, ...},
                                   snapshots, steps, run_id, hyper {dotted key: value}, ...;
                                   optional heldout_example_groups [Q] (group index of each
                                   held-out example; else the flips raster takes the groups from
                                   snapshots/groups.npy, which covers the first n examples)
                  examples.npy     float32 [rows, P + Q] output margins (train, then held-out),
                                   rows aligned with metrics.csv (optional)
                  snapshots/       step_XXXXXXXXXX.npy float32 [n, N] hidden features,
                                   classes.npy int32 [n], groups.npy int32 [n] (-1 = train
                                   example) (optional)
                  status.json      {status, step, message} (optional)
  sweep folder    runs.csv         run_id,status,step,message,<swept keys...>,onset_step,final.<col>...
                  sweep.json       {name, axes: [dotted keys, seed excluded], seed_key, runs}
                  <run_id>/        one run folder per row (runs not `done` are skipped)
  reversal folder reversal.csv     network,pretrain_steps,seed,steps_to_loss,steps_to_accuracy,
                                   kernel_alignment,final_loss   (steps_to_* = -1: never reached)
                  reversal_curves.csv  network,pretrain_steps,seed,step,loss,accuracy
                  reversal.json    {loss_criterion, accuracy_criterion} (optional)
  decode folder   decode.json      {name, decoders [first = primary; of lda, svm, logistic], subjects, sessions,
                                   folds, shuffles, permutations, rsm_null, window (days), probe_label}
  (groove decode) sessions.csv     subject,day,key,trials_target,trials_nontarget,trials_probe,neurons,
                                   neurons_dropped, then per decoder D: D_accuracy,D_accuracy_se,D_chance,
                                   D_chance_sd,D_p,D_probe_accuracy, then margin,margin_norm,closest1,
                                   closest1_norm,closest5,closest5_norm,separable,rsm_target,rsm_nontarget,
                                   rsm_between,rsm_index,rsm_null_mean,rsm_null_sd,rsm_z,rsm_p,pca_var1..3
                                   (one row per session; EMPTY cell = not computed)
                  days.csv         subject,day,n, then S_mean,S_se for S in each D_accuracy, each
                                   D_probe_accuracy, margin_norm, closest1_norm, closest5_norm, rsm_index
                                   (sliding window over days; subject `pooled`: mean and SE over subjects)
                  stimuli.csv      subject,day,stimulus,label,trials,fraction_correct (primary decoder)
                  flips.csv        subject,stimulus,label,first_correct_day,stable_from_day,
                                   correct_first_overtraining,correct_last,flipped
                  generalization.csv  subject,train_day,test_day,accuracy (optional)
                  rsm/<key>.npy    f32 [trials, trials] Pearson r; .labels.npy i32 [trials] (1 target,
                                   0 non-target, 2 probe); .null.npy f64 [rsm_null] null rsm_index values
                  pca/<key>.npy    f32 [trials, 3] PC scores; .labels.npy i32 [trials]; .centres.npy f32
                                   [3, 3] class centres (rows target, non-target, probe; NaN row if absent)
                  summary.json     {trend, overtraining_day {subject: day}, timings} (optional)
                  (<key>: the session key with '/' replaced by '_', e.g. M1_day3.) decode.json and
                  sessions.csv are required; a missing optional file skips its figure (a note); every CSV
                  file present is checked before any figure is drawn.

Figures:
  run       loss, accuracy, margins, probes, flips, pca (each only when its columns/files exist)
  sweep     sweep_train_loss, sweep_heldout_loss, sweep_probe_acc, sweep_linear_probe_acc, sweep_margins, sweep_fisher,
            sweep_onset, plus the run figures of the first finished run in FIGDIR/<run_id>/
            (a sweep of one run: only those)
  reversal  reversal_steps, reversal_curves
  decode    decode_accuracy, decode_margins, decode_rsm, decode_pca, decode_generalization, decode_flips,
            decode_probe (days on a linear x axis: per-subject sessions as thin lines, the pooled rows of
            days.csv as mean +- SE bands; RSM and PCA of each subject's first and last session, at most
            4 subjects)

Conventions: steps are on a log x axis with step 0 drawn at 0.5 (said in the axis label); losses on
a log y axis, taken from the log10-loss columns (which stay finite when the loss underflows; below
10^-300 the axis shows log10(loss) itself). Long runs are thinned to about 2500 log-spaced rows per
line. Sweep curves: runs of one configuration (the seeds) are aligned on the INTERSECTION of their
recorded steps at which all of them have a finite value (no interpolation; a periodic column is
compared only at its common probe steps), then shown as mean +- standard error over seeds;
log-scale quantities (losses, Fisher J) are averaged in log10 (geometric mean, band = 10^(mean+-SE)).
"""

import argparse
import csv
import glob
import json
import math
import os
import re
import sys
import warnings

try:
    import numpy as np
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import cm, colors as mcolors
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    from matplotlib.ticker import MaxNLocator
except ImportError as _e:  # the CLI shows this line; Debian: apt-get install python3-numpy python3-matplotlib
    sys.exit("groove plot: error: %s needs numpy and matplotlib (%s)" % (sys.executable, _e))

MAX_POINTS = 2500        # rows drawn per line (log-spaced subset of longer runs)
MAX_RASTER_COLUMNS = 1200  # time columns of the flips raster
MAX_PCA_PANELS = 6
ZERO_STEP_X = 0.5        # where step 0 is drawn on a log axis
LOG10_UNDERFLOW = -300.0  # below this 10**x underflows: show log10 values on a linear axis
DPI = 110
PANEL_W, PANEL_H = 5.4, 3.8
TRAIN_COLOR, POOLED_COLOR = "black", "0.45"
WRONG_COLOR, RIGHT_COLOR, UNKNOWN_COLOR = "#e8a33d", "#3b6fb6", "0.88"
PNG_FORMATS = ("png", "svg", "pdf")


class PlotError(Exception):
    """A folder or file that cannot be plotted; the message names the file."""


def note(message):
    print("groove plot: note: " + message, file=sys.stderr)


# ---------------------------------------------------------------------------------------------
# Reading

def read_json(path, required=False):
    if not os.path.isfile(path):
        if required:
            raise PlotError(path + ": file not found")
        return None
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (ValueError, UnicodeDecodeError) as e:
        raise PlotError("%s: not valid JSON (%s)" % (path, e)) from None


class Table:
    """A numeric CSV table: header names and a float array [rows, columns] (empty cell = NaN)."""

    def __init__(self, path, header, data):
        self.path, self.header, self.data = path, header, data
        self.index = {name: i for i, name in enumerate(header)}

    @property
    def rows(self):
        return self.data.shape[0]

    def col(self, name):
        i = self.index.get(name)
        return None if i is None else self.data[:, i]

    def has(self, name):
        """The column exists and has at least one finite value."""
        c = self.col(name)
        return c is not None and bool(np.isfinite(c).any())


def _locate_bad_row(path, header, lines):
    """Raises a PlotError naming the first malformed line of a numeric CSV body."""
    n = len(header)
    for lineno, line in enumerate(lines, start=2):
        if not line.strip():
            continue
        fields = line.split(",")
        if len(fields) != n:
            raise PlotError("%s: line %d: %d fields, expected %d (the header has %d columns)"
                            % (path, lineno, len(fields), n, n))
        for name, value in zip(header, fields):
            value = value.strip()
            if value:
                try:
                    float(value)
                except ValueError:
                    raise PlotError("%s: line %d, column '%s': cannot read %r as a number"
                                    % (path, lineno, name, value)) from None
    return None


def fill_empty_cells(body):
    """'nan' in every empty cell of comma-separated lines (str.replace: ~15x faster than a regex)."""
    body = body.replace(",,", ",nan,").replace(",,", ",nan,")  # two passes cover runs of empties
    body = body.replace(",\n", ",nan\n").replace("\n,", "\nnan,")
    if body.endswith(","):
        body += "nan"
    if body.startswith(","):
        body = "nan" + body
    return body


def read_metrics(path):
    """metrics.csv as a Table; rows sorted by step (the last row of a repeated step is kept)."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read().replace("\r", "")
    except (OSError, UnicodeDecodeError) as e:
        raise PlotError("%s: cannot read (%s)" % (path, e)) from None
    lines = text.split("\n")
    if not lines[0].strip():
        raise PlotError(path + ": line 1: empty (expected the header row)")
    header = [h.strip() for h in lines[0].split(",")]
    if header[0] != "step":
        raise PlotError("%s: line 1: the first column must be 'step', found %r" % (path, header[0]))
    body = lines[1:]
    if body and body[-1] == "":
        body.pop()
    elif body and len(body[-1].split(",")) != len(header):
        note("%s: dropped the incomplete last line %d (still being written?)" % (path, len(body) + 1))
        body.pop()
    kept = [line for line in body if line.strip()]
    if not kept:
        return Table(path, header, np.zeros((0, len(header))))
    try:
        data = np.loadtxt(fill_empty_cells("\n".join(kept)).split("\n"), delimiter=",", ndmin=2,
                          dtype=np.float64, comments=None)
    except ValueError as e:
        _locate_bad_row(path, header, body)
        raise PlotError("%s: cannot parse (%s)" % (path, e)) from None
    if data.shape[1] != len(header):
        _locate_bad_row(path, header, body)
        raise PlotError("%s: rows have %d fields, the header %d" % (path, data.shape[1], len(header)))
    steps = data[:, 0]
    if not np.isfinite(steps).all():
        bad = int(np.flatnonzero(~np.isfinite(steps))[0])
        raise PlotError("%s: data row %d: the step is not a number" % (path, bad + 1))
    table = Table(path, header, data)
    table.row_index = np.arange(data.shape[0])
    if data.shape[0] > 1 and np.any(np.diff(steps) <= 0):
        rev = steps[::-1]
        _, first_in_rev = np.unique(rev, return_index=True)
        keep = np.sort(len(steps) - 1 - first_in_rev)
        note("%s: %d rows repeat or go back in steps (a resumed run?): kept the last row of each step"
             % (path, len(steps) - len(keep)))
        table = Table(path, header, data[keep])
        table.row_index = keep
    return table


def read_text_table(path, required_columns=()):
    """A CSV file with a header as (header, rows of strings); checks field counts."""
    try:
        with open(path, encoding="utf-8", newline="") as f:
            records = list(csv.reader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise PlotError("%s: cannot read (%s)" % (path, e)) from None
    if not records or not records[0]:
        raise PlotError(path + ": line 1: empty (expected the header row)")
    header = [h.strip() for h in records[0]]
    for name in required_columns:
        if name not in header:
            raise PlotError("%s: line 1: no column '%s' (header: %s)" % (path, name, ",".join(header)))
    rows = []
    for lineno, rec in enumerate(records[1:], start=2):
        if not rec or (len(rec) == 1 and not rec[0].strip()):
            continue
        if len(rec) != len(header):
            raise PlotError("%s: line %d: %d fields, expected %d" % (path, lineno, len(rec), len(header)))
        rows.append((lineno, [v.strip() for v in rec]))
    return header, rows


def to_number(path, lineno, column, value):
    if value == "":
        return math.nan
    try:
        return float(value)
    except ValueError:
        raise PlotError("%s: line %d, column '%s': cannot read %r as a number"
                        % (path, lineno, column, value)) from None


# ---------------------------------------------------------------------------------------------
# Run folders

def load_run(folder):
    """Everything the run figures need; only metrics.csv is required."""
    metrics_path = os.path.join(folder, "metrics.csv")
    if not os.path.isfile(metrics_path):
        raise PlotError(metrics_path + ": file not found (not a run folder)")
    table = read_metrics(metrics_path)
    if table.rows == 0:
        raise PlotError(metrics_path + ": no data rows")
    summary = read_json(os.path.join(folder, "summary.json"))
    if summary is None:
        note(os.path.join(folder, "summary.json") + ": not found: no onset, flips or groups from it")
        summary = {}
    elif not isinstance(summary, dict):
        raise PlotError(os.path.join(folder, "summary.json") + ": expected a JSON object")
    status = read_json(os.path.join(folder, "status.json")) or {}
    run_id = str(summary.get("run_id") or os.path.basename(os.path.normpath(os.path.abspath(folder))))
    return {"dir": folder, "id": run_id, "metrics": table, "summary": summary,
            "status": status.get("status") if isinstance(status, dict) else None,
            "groups": heldout_groups(summary, table), "onset": onset_of(summary)}


def heldout_groups(summary, table):
    names = summary.get("heldout_groups")
    if isinstance(names, list):
        return [str(g) for g in names]
    suffix = "_log10_loss"
    return [c[:-len(suffix)] for c in table.header
            if c.endswith(suffix) and c not in ("train" + suffix, "heldout" + suffix)]


def onset_of(summary):
    on = summary.get("onset")
    if isinstance(on, dict) and isinstance(on.get("step"), (int, float)):
        return {"step": int(on["step"]), "provisional": bool(on.get("provisional", False))}
    return None


def run_title(run, what):
    hyper = run["summary"].get("hyper")
    text = "%s  -  run %s" % (what, run["id"])
    if isinstance(hyper, dict) and hyper:
        text += "  (" + ", ".join("%s=%s" % (k, v) for k, v in hyper.items()) + ")"
    if run["status"] and run["status"] != "done":
        text += "  [status: %s]" % run["status"]
    return text


def group_colors(groups):
    palette = [plt.get_cmap("tab10")(i) for i in (0, 1, 2, 3, 4, 5, 6, 8, 9)]
    if len(groups) > len(palette):
        palette = [plt.get_cmap("tab20")(i % 20) for i in range(len(groups))]
    return {g: palette[i % len(palette)] for i, g in enumerate(groups)}


# ---------------------------------------------------------------------------------------------
# Line panels: a panel is a dict {title, ylabel, scale, series, ylim, hlines}; a series is a dict
# {label, x, y, color, ls, lw, band (lo, hi) or None}. scale: "linear", "log", or "log10" (y holds
# log10 values: drawn as 10**y on a log axis, or as log10 on a linear axis when 10**y underflows).

def xsteps(steps):
    s = np.asarray(steps, dtype=np.float64)
    return np.where(s > 0, s, ZERO_STEP_X)


def thin(steps, mask, max_points=MAX_POINTS):
    """Indices of the rows where mask holds; a log-spaced subset of them beyond max_points."""
    idx = np.flatnonzero(mask)
    if len(idx) <= max_points:
        return idx
    x = np.log10(xsteps(steps[idx]))
    pos = np.searchsorted(x, np.linspace(x[0], x[-1], max_points))
    pos = np.unique(np.concatenate(([0], np.clip(pos, 0, len(idx) - 1), [len(idx) - 1])))
    return idx[pos]


def series(label, steps, y, color, ls="-", lw=1.5, band=None):
    return {"label": label, "x": np.asarray(steps, dtype=np.float64), "y": np.asarray(y, dtype=np.float64),
            "color": color, "ls": ls, "lw": lw, "band": band}


def table_series(table, specs):
    """Series for the (label, column, color, ls) specs whose column has finite values."""
    out = []
    for label, column, color, ls in specs:
        if table.has(column):
            out.append(series(label, table.col("step"), table.col(column), color, ls))
    return out


def panel(title, ylabel, series_list, scale="linear", ylim=None, hlines=(), zoom_after_onset=False):
    """zoom_after_onset: on a linear axis, fit the y range to the rows from the onset on when the
    early rows would squash them (normalized margins start far below zero)."""
    return {"title": title, "ylabel": ylabel, "series": series_list, "scale": scale, "ylim": ylim,
            "hlines": list(hlines), "zoom": zoom_after_onset}


def _finite_y(s, scale):
    ok = np.isfinite(s["y"])
    if scale == "log":
        ok &= s["y"] > 0
    return ok


def panel_has_data(p):
    return any(_finite_y(s, p["scale"]).any() for s in p["series"])


def draw_line_panel(ax, p, onset=None, xlabel="training steps", legend=True, zoom_from=None):
    """Draws a line panel; marks the onset; zoom panels fit y to steps >= zoom_from (default: the onset)."""
    scale = p["scale"]
    underflow = False
    if scale == "log10":
        lows = [np.nanmin(s["y"][np.isfinite(s["y"])]) for s in p["series"] if np.isfinite(s["y"]).any()]
        underflow = bool(lows) and min(lows) < LOG10_UNDERFLOW
    has_zero = False
    for s in p["series"]:
        ok = _finite_y(s, scale)
        idx = thin(s["x"], ok)
        if len(idx) == 0:
            continue
        x, y = xsteps(s["x"][idx]), s["y"][idx]
        has_zero |= bool(np.any(s["x"][idx] <= 0))
        band = s["band"]
        lo = hi = None
        if band is not None:
            lo, hi = band[0][idx], band[1][idx]
        if scale == "log10" and not underflow:
            y = 10.0 ** y
            if band is not None:
                lo, hi = 10.0 ** lo, 10.0 ** hi
        sparse = len(idx) <= 40 or (len(idx) <= 60 and ok.sum() < 0.5 * len(ok))
        ax.plot(x, y, color=s["color"], ls=s["ls"], lw=s["lw"], label=s["label"],
                marker="o" if sparse else None, ms=3.5)
        if band is not None:
            ax.fill_between(x, lo, hi, color=s["color"], alpha=0.2, lw=0)
    ax.set_xscale("log")
    ax.set_xlabel(xlabel + " (log scale" + ("; step 0 drawn at %g)" % ZERO_STEP_X if has_zero else ")"))
    ylabel = p["ylabel"]
    if scale == "log" or (scale == "log10" and not underflow):
        ax.set_yscale("log")
        ylabel += " (log scale)"
    elif scale == "log10":
        ylabel = "log10 of " + ylabel
    ax.set_ylabel(ylabel)
    title = p["title"]
    if p["ylim"] is not None:
        ax.set_ylim(*p["ylim"])
    elif p.get("zoom") and scale == "linear" and (zoom_from is not None or onset is not None):
        if zoom_to_onset(ax, p["series"], onset["step"] if zoom_from is None else zoom_from):
            title += "\n(y range fitted to the steps from %s on)" % (
                "the onset" if zoom_from is None else "the earliest onset (step %d)" % zoom_from)
    for y, label in p["hlines"]:
        ax.axhline(y, color="0.6", lw=0.8, ls="-", zorder=0, label=label)
    mark_onset(ax, onset)
    ax.set_title(title, fontsize=10)
    ax.grid(True, which="major", alpha=0.3)
    if legend:
        ax.legend(fontsize=7.5, loc="best", framealpha=0.85)


def zoom_to_onset(ax, series_list, onset_step):
    """Fits the y range (with 0) to the values at steps >= onset_step when they span less than a
    third of the full range; True when it did."""
    late, full = [], []
    for s in series_list:
        ok = np.isfinite(s["y"])
        full.append(s["y"][ok])
        late.append(s["y"][ok & (s["x"] >= onset_step)])
    late, full = np.concatenate(late), np.concatenate(full)
    if len(late) < 2 or len(full) == 0:
        return False
    lo, hi = min(0.0, float(late.min())), max(0.0, float(late.max()))
    if hi - lo <= 0 or (hi - lo) * 3 > float(full.max() - full.min()):
        return False
    pad = 0.08 * (hi - lo)
    ax.set_ylim(lo - pad, hi + pad)
    return True


def mark_onset(ax, onset):
    if onset is None:
        return
    s, prov = onset["step"], onset["provisional"]
    ax.axvline(max(s, ZERO_STEP_X), color="0.2", lw=1.2, ls=":" if prov else "--",
               label="groove onset (step %d%s)" % (s, ", provisional" if prov else ""))


def panel_grid(n, ncols=3, width=PANEL_W, height=PANEL_H):
    ncols = min(ncols, n)
    nrows = int(math.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows + 0.5), squeeze=False)
    flat = list(axes.flat)
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def save(fig, path, suptitle=None):
    if suptitle:
        fig.suptitle(suptitle, fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def drawable(path, panels, what):
    """The panels with data; a note for each one left out (or for the whole figure)."""
    name = os.path.basename(path)
    keep = [p for p in panels if panel_has_data(p)]
    if not keep:
        note("%s: skipped (no %s columns with values)" % (name, what or "matching"))
        return []
    for p in panels:
        if not panel_has_data(p):
            note("%s: panel '%s' left out (no columns with values)" % (name, re.sub(r"[$\\]", "", p["title"])))
    return keep


def line_figure(path, suptitle, panels, onset=None, ncols=3, xlabel="training steps", what=""):
    """Draws the panels that have data; returns the path, or None (with a note) when none has."""
    panels = drawable(path, panels, what)
    if not panels:
        return None
    fig, axes = panel_grid(len(panels), ncols=ncols)
    for ax, p in zip(axes, panels):
        draw_line_panel(ax, p, onset, xlabel=xlabel)
    return save(fig, path, suptitle)


# ---------------------------------------------------------------------------------------------
# Run figures

def loss_log10(table, lin_col, log_col):
    """log10 of a loss: the log10 column where finite (exact when the loss underflows), else log10
    of the loss column where it is > 0. None when neither has a value."""
    out = np.full(table.rows, np.nan)
    lin = table.col(lin_col)
    if lin is not None:
        ok = np.isfinite(lin) & (lin > 0)
        out[ok] = np.log10(lin[ok])
    log = table.col(log_col)
    if log is not None:
        ok = np.isfinite(log)
        out[ok] = log[ok]
    return out if np.isfinite(out).any() else None


def run_loss_figure(run, figdir, ext):
    t, colors = run["metrics"], group_colors(run["groups"])
    items = [("train", "train", TRAIN_COLOR, "-", 2.0), ("held-out (all groups)", "heldout", POOLED_COLOR, "--", 1.8)]
    items += [("held-out: " + g, g, colors[g], "-", 1.4) for g in run["groups"]]
    lines = []
    for label, prefix, color, ls, lw in items:
        y = loss_log10(t, prefix + "_loss", prefix + "_log10_loss")
        if y is not None:
            lines.append(series(label, t.col("step"), y, color, ls, lw))
    p = panel("training and held-out loss", "loss", lines, scale="log10")
    fig, axes = panel_grid(1, width=8.5, height=5.2) if panel_has_data(p) else (None, None)
    if fig is None:
        note("loss: skipped (no loss columns with values)")
        return None
    draw_line_panel(axes[0], p, run["onset"])
    axes[0].legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5), framealpha=0.9)
    return save(fig, os.path.join(figdir, "loss." + ext), run_title(run, "Loss"))


def group_specs(t, groups, colors, pattern, pooled=None, train=None):
    specs = []
    if train:
        specs.append(("train", train, TRAIN_COLOR, "-"))
    if pooled:
        specs.append(("held-out (all groups)", pooled, POOLED_COLOR, "--"))
    specs += [(g, pattern.format(g), colors[g], "-") for g in groups]
    return table_series(t, specs)


def run_accuracy_figure(run, figdir, ext):
    t, g, colors = run["metrics"], run["groups"], group_colors(run["groups"])
    ylim, ylab = (-0.03, 1.03), "accuracy (fraction correct)"
    panels = [
        panel("accuracy of the network", ylab, group_specs(t, g, colors, "{}_acc", "heldout_acc", "train_acc"),
              ylim=ylim),
        panel("nearest-class-mean accuracy (hidden layer)", ylab,
              group_specs(t, g, colors, "{}_ncm_acc", "heldout_ncm_acc", "train_ncm_acc"), ylim=ylim),
        panel(r"held-out accuracy under $L_\infty$ PGD attack", ylab,
              group_specs(t, g, colors, "pgd_{}_acc", "pgd_acc"), ylim=ylim),
    ]
    return line_figure(os.path.join(figdir, "accuracy." + ext), run_title(run, "Accuracy"), panels, run["onset"],
                       what="accuracy")


def run_margins_figure(run, figdir, ext):
    t = run["metrics"]
    tab = plt.get_cmap("tab10")
    output = table_series(t, [("min", "margin_min", TRAIN_COLOR, "-"), ("1% quantile", "margin_q01", tab(0), "-"),
                              ("5% quantile", "margin_q05", tab(1), "-"), ("mean", "margin_mean", tab(2), "--")])
    svm = table_series(t, [(r"SVM margin $1/\Vert w\Vert$", "svm_margin", TRAIN_COLOR, "-"),
                           ("min distance to boundary", "svm_min_distance", tab(3), "--"),
                           ("closest 1% (mean distance)", "svm_closest_1pct", tab(0), "-"),
                           ("closest 5% (mean distance)", "svm_closest_5pct", tab(1), "-"),
                           (r"upper bound $\Vert w\Vert / \Sigma_i a_i$", "svm_margin_bound", "0.6", ":")])
    panels = [
        panel(r"output margin $m_i = y_i\,f(x_i)$ over training examples", "margin", output, hlines=[(0, None)]),
        panel(r"normalized margin $m_{\min} / \Pi_l \Vert W_l\Vert_F$", "normalized margin",
              table_series(t, [("margin_norm_prod", "margin_norm_prod", tab(4), "-")]), hlines=[(0, None)],
              zoom_after_onset=True),
        panel(r"normalized margin $m_{\min} / (\Sigma_l \Vert W_l\Vert_F^2)^{L/2}$", "normalized margin",
              table_series(t, [("margin_norm_global", "margin_norm_global", tab(5), "-")]), hlines=[(0, None)],
              zoom_after_onset=True),
        panel(r"readout-normalized margin $m_{\min} / \Vert W_L\Vert_F$", "normalized margin",
              table_series(t, [("margin_readout", "margin_readout", tab(6), "-")]), hlines=[(0, None)],
              zoom_after_onset=True),
        panel("hard-margin SVM of the hidden layer (periodic)", "distance in feature space", svm,
              hlines=[(0, None)]),
    ]
    return line_figure(os.path.join(figdir, "margins." + ext), run_title(run, "Margins"), panels, run["onset"],
                       what="margin")


def run_probes_figure(run, figdir, ext):
    t, g, colors = run["metrics"], run["groups"], group_colors(run["groups"])
    ylim, ylab = (-0.03, 1.03), "probe accuracy"
    tab = plt.get_cmap("tab10")
    fisher = table_series(t, [("train: target vs other classes", "fisher_train_J", TRAIN_COLOR, "-")]
                          + [("target vs " + x, "fisher_%s_J" % x, colors[x], "-") for x in g])
    align = table_series(t, [("kernel-target alignment", "kernel_alignment", tab(4), "-"),
                             ("RSA (Spearman vs reference)", "rsa_spearman", tab(5), "--")])
    align_title = " / ".join(s["label"] for s in align) or "kernel-target alignment"
    geometry = table_series(t, [("class-centroid distance", "centroid_dist", tab(0), "-"),
                                ("within-class variance", "within_var", tab(3), "--")])
    moves = sorted((c for c in t.header if re.fullmatch(r"w\d+_move", c)), key=lambda c: int(c[1:-5]))
    movement = table_series(t, [("layer %s" % c[1:-5], c, tab(i % 10), "-") for i, c in enumerate(moves)])
    panels = [
        panel("ridge probe accuracy (hidden layer)", ylab,
              group_specs(t, g, colors, "ridge_{}_acc", "ridge_heldout_acc", "ridge_train_acc"), ylim=ylim),
        panel("logistic probe accuracy (hidden layer)", ylab,
              group_specs(t, g, colors, "logistic_{}_acc", "logistic_heldout_acc", "logistic_train_acc"), ylim=ylim),
        panel("Fisher discriminant J (target class vs set)", "J", fisher, scale="log"),
        panel(align_title, "alignment / correlation", align),
        panel("class geometry of the hidden layer", "distance / variance", geometry, scale="log"),
        panel(r"weight movement $\Vert W_l - W_l^0\Vert_F / \Vert W_l^0\Vert_F$", "relative movement", movement,
              scale="log"),
    ]
    return line_figure(os.path.join(figdir, "probes." + ext), run_title(run, "Hidden-layer probes"), panels,
                       run["onset"], what="probe")


def heldout_membership(run, q):
    """Group index of each of the q held-out examples (-2 = unknown), and where it came from."""
    members = run["summary"].get("heldout_example_groups")
    if isinstance(members, list) and len(members) == q:
        return np.asarray(members, dtype=np.int64), "summary.json"
    out = np.full(q, -2, dtype=np.int64)
    path = os.path.join(run["dir"], "snapshots", "groups.npy")
    if os.path.isfile(path):
        try:
            snap = np.asarray(np.load(path), dtype=np.int64).ravel()
        except (OSError, ValueError) as e:
            note("%s: unreadable (%s)" % (path, e))
            snap = np.zeros(0, dtype=np.int64)
        if len(snap) and snap.min() >= 0:
            n = min(q, len(snap))
            out[:n] = snap[:n]
            if n < q:
                note("flips: groups of held-out examples %d..%d unknown (snapshots/groups.npy covers %d)"
                     % (n, q - 1, n))
            return out, "snapshots/groups.npy"
    note("flips: no group of the held-out examples known (no snapshots/groups.npy)")
    return out, None


def flip_states_from_examples(run, q):
    """(steps [T], state [q, T] with 1 correct, 0 wrong, NaN unknown) from examples.npy, or None."""
    path = os.path.join(run["dir"], "examples.npy")
    if not os.path.isfile(path):
        return None
    try:
        margins = np.load(path, mmap_mode="r")
    except (OSError, ValueError) as e:
        note("%s: unreadable (%s): flips from summary.json" % (path, e))
        return None
    t = run["metrics"]
    if margins.ndim != 2 or margins.shape[1] < q:
        note("%s: shape %s does not hold %d held-out columns: flips from summary.json" % (path, margins.shape, q))
        return None
    rows = t.row_index[t.row_index < margins.shape[0]]
    if len(rows) < t.rows:
        note("%s: %d rows for %d metrics rows: using the first %d" % (path, margins.shape[0], t.rows, len(rows)))
    steps = t.col("step")[: len(rows)]
    pick = thin(steps, np.ones(len(steps), dtype=bool), MAX_RASTER_COLUMNS)
    held = np.asarray(margins[rows[pick], margins.shape[1] - q:], dtype=np.float64).T
    state = np.where(np.isfinite(held), (held > 0).astype(np.float64), np.nan)
    return steps[pick], state


def flip_states_from_summary(run, flips, q):
    final_step = run["summary"].get("steps") or int(run["metrics"].col("step")[-1])
    flip_steps = flips.get("flip_steps") or [[] for _ in range(q)]
    n_flips = flips.get("n_flips") or [len(f) for f in flip_steps]
    final = flips.get("final_correct") or [0] * q
    grid = sorted({0, int(final_step)} | {abs(int(s)) for f in flip_steps for s in f})
    steps = np.asarray(grid, dtype=np.float64)
    state = np.full((q, len(steps)), np.nan)
    for i in range(q):
        f = [int(s) for s in flip_steps[i]] if i < len(flip_steps) else []
        if not f:
            state[i, :] = float(final[i])
            continue
        state[i, steps < abs(f[0])] = 0.0 if f[0] > 0 else 1.0
        for j, s in enumerate(f):
            end = abs(f[j + 1]) if j + 1 < len(f) else math.inf
            state[i, (steps >= abs(s)) & (steps < end)] = 1.0 if s > 0 else 0.0
        if n_flips[i] > len(f):  # truncated list: state unknown after the last stored flip
            state[i, steps > abs(f[-1])] = np.nan
        state[i, -1] = float(final[i])
    return steps, state


def run_flips_figure(run, figdir, ext):
    flips = run["summary"].get("flips")
    if not isinstance(flips, dict) or not flips.get("first_correct"):
        note("flips: skipped (summary.json has no flips: no held-out examples or no summary)")
        return None
    q = len(flips["first_correct"])
    got = flip_states_from_examples(run, q)
    source = "examples.npy margins > 0"
    if got is None:
        got, source = flip_states_from_summary(run, flips, q), "summary.json flips"
    steps, state = got
    member, _ = heldout_membership(run, q)
    first = np.asarray(flips["first_correct"], dtype=np.float64)
    first[first < 0] = np.inf
    order = np.lexsort((first, np.where(member < 0, 10 ** 9, member)))
    state, member = state[order], member[order]

    height = min(11.0, max(4.5, 2.2 + 0.045 * q))
    fig, ax = plt.subplots(figsize=(10.5, height))
    ax.set_facecolor(UNKNOWN_COLOR)
    x = xsteps(steps)
    edges_x = np.concatenate((x, [x[-1] * 1.15 if len(x) else 1.0]))
    cmap = mcolors.ListedColormap([WRONG_COLOR, RIGHT_COLOR])
    ax.pcolormesh(edges_x, np.arange(q + 1), np.ma.masked_invalid(state), cmap=cmap, vmin=0, vmax=1,
                  shading="flat", rasterized=True)
    ax.set_xscale("log")
    ax.set_xlim(edges_x[0], edges_x[-1])
    ax.set_ylim(q, 0)
    names = run["groups"]
    ticks, labels = [], []
    for gi in np.unique(member):
        rows = np.flatnonzero(member == gi)
        lo, hi = rows[0], rows[-1] + 1
        if lo > 0:
            ax.axhline(lo, color="white", lw=2)
            ax.axhline(lo, color="black", lw=0.8)
        name = names[gi] if 0 <= gi < len(names) else ("unknown group" if gi == -2 else "group %d" % gi)
        ticks.append((lo + hi) / 2)
        labels.append("%s (n=%d)" % (name, hi - lo))
    ax.set_yticks(ticks)
    ax.set_yticklabels(labels, fontsize=8)
    ax.set_ylabel("held-out examples (by group, then first-correct step)")
    zero = bool(np.any(steps <= 0))
    ax.set_xlabel("training steps (log scale%s)" % ("; step 0 drawn at %g" % ZERO_STEP_X if zero else ""))
    mark_onset(ax, run["onset"])
    handles = [Patch(color=RIGHT_COLOR, label="correct (margin > 0)"), Patch(color=WRONG_COLOR, label="wrong")]
    if np.isnan(state).any():
        handles.append(Patch(color=UNKNOWN_COLOR, label="unknown"))
    if run["onset"] is not None:
        handles += [h for h in ax.get_legend_handles_labels()[0]]
    ax.legend(handles=handles, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.12 * 5 / height),
              ncol=len(handles), frameon=False)
    n_flips = int(np.sum(flips.get("n_flips") or []))
    w2r = flips.get("wrong_at_onset_right_at_end")
    sub = "%d flips in all" % n_flips
    if isinstance(w2r, list):
        sub += "; %d wrong at onset and right at the end" % len(w2r)
    ax.set_title("Held-out classification over training (%s; %s)" % (sub, source), fontsize=10)
    return save(fig, os.path.join(figdir, "flips." + ext), run_title(run, "Per-example flips"))


def snapshot_files(folder):
    out = []
    for path in glob.glob(os.path.join(folder, "snapshots", "step_*.npy")):
        m = re.fullmatch(r"step_(\d+)\.npy", os.path.basename(path))
        if m:
            out.append((int(m.group(1)), path))
    return sorted(out)


def pick_log_spaced(steps, k):
    """Indices of up to k entries of the sorted steps, log-spaced, always the first and the last."""
    n = len(steps)
    if n <= k:
        return list(range(n))
    x = np.log10(xsteps(steps))
    chosen = {0, n - 1}
    for target in np.linspace(x[0], x[-1], k)[1:-1]:
        free = [i for i in range(n) if i not in chosen]
        chosen.add(min(free, key=lambda i: abs(x[i] - target)))
    return sorted(chosen)


def pca2(features, previous):
    """Top-2 PC scores [n, 2] and variance fractions; signs match `previous` (same examples)."""
    xc = features - features.mean(axis=0)
    u, s, _ = np.linalg.svd(xc, full_matrices=False)
    scores = np.zeros((xc.shape[0], 2))
    k = min(2, len(s))
    scores[:, :k] = u[:, :k] * s[:k]
    total = float(np.sum(s ** 2))
    frac = [(float(s[i] ** 2) / total if total > 0 and i < len(s) else 0.0) for i in range(2)]
    for i in range(2):
        ref = previous[:, i] if previous is not None else scores[:, i] ** 2
        if np.dot(scores[:, i], ref) < 0:
            scores[:, i] = -scores[:, i]
    return scores, frac


def run_pca_figure(run, figdir, ext):
    snaps = snapshot_files(run["dir"])
    if not snaps:
        note("pca: skipped (no snapshots/step_*.npy)")
        return None
    n_rows = None
    loaded = []
    for step, path in snaps:
        try:
            feat = np.asarray(np.load(path), dtype=np.float64)
        except (OSError, ValueError) as e:
            note("%s: unreadable (%s): skipped" % (path, e))
            continue
        if feat.ndim != 2 or feat.shape[0] < 2 or not np.isfinite(feat).all():
            note("%s: shape %s or non-finite values: skipped" % (path, feat.shape))
            continue
        if n_rows is not None and feat.shape[0] != n_rows:
            note("%s: %d rows, other snapshots %d: skipped" % (path, feat.shape[0], n_rows))
            continue
        n_rows = feat.shape[0]
        loaded.append((step, feat))
    if not loaded:
        note("pca: skipped (no readable snapshot)")
        return None
    classes = load_labels(os.path.join(run["dir"], "snapshots", "classes.npy"), n_rows)
    groups = load_labels(os.path.join(run["dir"], "snapshots", "groups.npy"), n_rows)
    names = run["groups"]
    point_group = ["train" if g < 0 else (names[g] if g < len(names) else "group %d" % g) for g in groups]
    group_order = list(dict.fromkeys(["train"] * bool(np.any(groups < 0)) + [n for n in names if n in point_group]
                                     + point_group))
    colors = group_colors(names + [g for g in group_order if g not in names and g != "train"])
    colors["train"] = TRAIN_COLOR
    class_values = sorted(set(classes.tolist()))
    markers = ["o", "^", "s", "D", "v", "P", "X", "*"]
    marker_of = {c: markers[i % len(markers)] for i, c in enumerate(class_values)}

    chosen = [loaded[i] for i in pick_log_spaced([s for s, _ in loaded], MAX_PCA_PANELS)]
    fig, axes = panel_grid(len(chosen), ncols=3, width=4.6, height=4.0)
    previous = None
    for ax, (step, feat) in zip(axes, chosen):
        scores, frac = pca2(feat, previous)
        previous = scores
        for gname in group_order:
            for c in class_values:
                sel = np.array([pg == gname for pg in point_group]) & (classes == c)
                if sel.any():
                    ax.scatter(scores[sel, 0], scores[sel, 1], s=22, color=colors[gname], marker=marker_of[c],
                               alpha=0.8, edgecolors="none")
        ax.set_xlabel("PC1 (%.0f%% of variance)" % (100 * frac[0]))
        ax.set_ylabel("PC2 (%.0f%% of variance)" % (100 * frac[1]))
        on = run["onset"]
        tag = ""
        if on is not None:
            tag = "  (before onset)" if step < on["step"] else "  (after onset)"
        ax.set_title("step %d%s" % (step, tag), fontsize=10)
        ax.grid(True, alpha=0.3)
    handles = [Patch(color=colors[g], label=g) for g in group_order]
    if len(class_values) > 1:
        handles += [Line2D([], [], color="0.4", marker=marker_of[c], ls="", label="class %d" % c)
                    for c in class_values]
    fig.legend(handles=handles, loc="lower center", ncol=min(8, len(handles)), fontsize=8, frameon=False)
    fig.suptitle(run_title(run, "Hidden-layer PCA (fitted per snapshot)"), fontsize=11)
    fig.tight_layout(rect=(0, 0.06 if len(handles) <= 8 else 0.1, 1, 1))
    path = os.path.join(figdir, "pca." + ext)
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def load_labels(path, n):
    """An int label per snapshot row (0 everywhere when the file is missing or does not fit)."""
    if os.path.isfile(path):
        try:
            v = np.asarray(np.load(path)).astype(np.int64).ravel()
            if len(v) == n:
                return v
            note("%s: %d labels for %d snapshot rows: ignored" % (path, len(v), n))
        except (OSError, ValueError) as e:
            note("%s: unreadable (%s): ignored" % (path, e))
    else:
        note(path + ": not found: points not labelled")
    return np.zeros(n, dtype=np.int64)


RUN_FIGURES = (run_loss_figure, run_accuracy_figure, run_margins_figure, run_probes_figure, run_flips_figure,
               run_pca_figure)


def render_run(folder, figdir, ext, emit, run=None):
    """The run figures of a run folder (`run`: already loaded with load_run)."""
    run = run or load_run(folder)
    if run["status"] and run["status"] != "done":
        note("%s: run status is '%s': figures show the rows recorded so far" % (folder, run["status"]))
    os.makedirs(figdir, exist_ok=True)
    for fn in RUN_FIGURES:
        emit(fn.__name__, lambda fn=fn: fn(run, figdir, ext))


# ---------------------------------------------------------------------------------------------
# Sweep figures

def load_sweep(folder):
    path = os.path.join(folder, "runs.csv")
    header, rows = read_text_table(path, required_columns=("run_id", "status"))
    meta = read_json(os.path.join(folder, "sweep.json"))
    if meta is None:
        note(os.path.join(folder, "sweep.json") + ": not found: axes taken from the runs.csv columns")
        meta = {}
    seed_key = str(meta.get("seed_key", "seed"))
    axes = meta.get("axes")
    if not isinstance(axes, list):
        start = header.index("message") + 1 if "message" in header else 2
        axes = []
        for name in header[start:]:
            if name == "onset_step" or name.startswith("final."):
                break
            if name != seed_key:
                axes.append(name)
    axes = [str(a) for a in axes]
    for a in axes:
        if a not in header:
            raise PlotError("%s: line 1: no column for the swept key '%s' of sweep.json" % (path, a))
    records = [dict(zip(header, values), _line=lineno) for lineno, values in rows]
    if not records:
        raise PlotError(path + ": no runs listed")
    return {"dir": folder, "name": str(meta.get("name") or os.path.basename(os.path.abspath(folder))),
            "axes": axes, "seed_key": seed_key, "records": records, "path": path}


def load_done_runs(sweep):
    """(record, run) for the finished runs whose files load; notes for the others."""
    out = []
    for rec in sweep["records"]:
        rid, status = rec["run_id"], rec["status"]
        if status != "done":
            msg = rec.get("message", "")
            note("skipping run %s (status %s%s)" % (rid, status, ": " + msg if msg else ""))
            continue
        try:
            run = load_run(os.path.join(sweep["dir"], rid))
        except PlotError as e:
            note("skipping run %s (%s)" % (rid, e))
            continue
        if out:  # the first run keeps every column for its run figures; the others only what sweeps plot
            run["metrics"] = slim(run["metrics"])
        out.append((rec, run))
    return out


_SWEEP_COLUMN = re.compile(r"step|margin_min|margin_norm_global|margin_norm_prod|margin_readout|svm_margin"
                           r"|.*_loss|.*_acc|fisher_.*_J")


def slim(table):
    """The table with only the columns the sweep figures read (memory of large sweeps)."""
    keep = [i for i, name in enumerate(table.header) if _SWEEP_COLUMN.fullmatch(name)]
    slimmed = Table(table.path, [table.header[i] for i in keep], np.ascontiguousarray(table.data[:, keep]))
    slimmed.row_index = table.row_index
    return slimmed


def config_label(axes, key):
    return ", ".join("%s=%s" % (a, v) for a, v in zip(axes, key)) if axes else "all runs"


def sort_key(value):
    try:
        return (0, float(value), "")
    except ValueError:
        return (1, 0.0, value)


def configurations(sweep, runs):
    """[(label, [run, ...])] grouped by the values of the swept axes, sorted by those values."""
    by_key = {}
    for rec, run in runs:
        by_key.setdefault(tuple(rec.get(a, "") for a in sweep["axes"]), []).append(run)
    keys = sorted(by_key, key=lambda k: [sort_key(v) for v in k])
    return [(config_label(sweep["axes"], k), by_key[k]) for k in keys]


def config_colors(n):
    if n <= 1:
        return [plt.get_cmap("tab10")(0)]
    if n <= 10:
        return [plt.get_cmap("tab10")(i) for i in range(n)]
    return [plt.get_cmap("viridis")(i / (n - 1)) for i in range(n)]


def aligned_mean_se(run_values):
    """run_values: [(steps, values)] of one configuration's seeds. Returns (steps, mean, se, n) on
    the steps every seed recorded with a finite value (intersection), or None."""
    common = None
    for steps, values in run_values:
        ok = np.isfinite(values)
        s = steps[ok]
        common = s if common is None else np.intersect1d(common, s)
    if common is None or len(common) == 0:
        return None
    mat = []
    for steps, values in run_values:
        ok = np.isfinite(values)
        s, v = steps[ok], values[ok]
        pos = np.searchsorted(s, common)
        mat.append(v[pos])
    mat = np.asarray(mat)
    n = mat.shape[0]
    se = mat.std(axis=0, ddof=1) / math.sqrt(n) if n > 1 else np.zeros(mat.shape[1])
    return common, mat.mean(axis=0), se, n


def sweep_series(configs, colors, values_of):
    """One mean +- SE series per configuration; values_of(run) -> values per metrics row or None."""
    out = []
    for (label, runs), color in zip(configs, colors):
        run_values = []
        for run in runs:
            v = values_of(run)
            if v is not None:
                run_values.append((run["metrics"].col("step"), v))
        if not run_values:
            continue
        got = aligned_mean_se(run_values)
        if got is None:
            note("sweep: '%s': its seeds have no common step with values: line skipped" % label)
            continue
        steps, mean, se, n = got
        out.append(series("%s (n=%d)" % (label, n), steps, mean, color, lw=1.6, band=(mean - se, mean + se)))
    return out


def column_values(column, log=False):
    def get(run):
        v = run["metrics"].col(column)
        if v is None or not np.isfinite(v).any():
            return None
        if log:
            v = np.where(v > 0, v, np.nan)
            with np.errstate(invalid="ignore", divide="ignore"):
                return np.log10(v)
        return v
    return get


def loss_values(prefix):
    return lambda run: loss_log10(run["metrics"], prefix + "_loss", prefix + "_log10_loss")


def union_groups(runs):
    return list(dict.fromkeys(g for _, run in runs for g in run["groups"]))


def sweep_figure(path, title, panels, what, zoom_from=None):
    """Like line_figure, with the legend of the configurations in the first panel only."""
    panels = drawable(path, panels, what)
    if not panels:
        return None
    fig, axes = panel_grid(len(panels), ncols=3)
    for i, (ax, p) in enumerate(zip(axes, panels)):
        draw_line_panel(ax, p, legend=(i == 0), zoom_from=zoom_from)
    return save(fig, path, title)


def render_sweep_figures(sweep, runs, figdir, ext, emit):
    configs = configurations(sweep, runs)
    colors = config_colors(len(configs))
    groups = union_groups(runs)
    name = "sweep '%s': mean +- SE over seeds" % sweep["name"]
    fpath = lambda stem: os.path.join(figdir, stem + "." + ext)  # noqa: E731

    def loss_fig():
        p = panel("training loss", "loss", sweep_series(configs, colors, loss_values("train")), scale="log10")
        return sweep_figure(fpath("sweep_train_loss"), "Training loss  -  " + name, [p], "train loss")

    def heldout_fig():
        panels = [panel("held-out loss: all groups", "loss", sweep_series(configs, colors, loss_values("heldout")),
                        scale="log10")]
        panels += [panel("held-out loss: " + g, "loss", sweep_series(configs, colors, loss_values(g)), scale="log10")
                   for g in groups]
        return sweep_figure(fpath("sweep_heldout_loss"), "Held-out loss per group  -  " + name, panels,
                            "held-out loss")

    def probe_fig():
        # The network's own accuracy on each held-out (probe) group: the paper's "probe accuracy".
        panels = [panel("network accuracy: %s" % g, "accuracy",
                        sweep_series(configs, colors, column_values("{}_acc".format(g))), ylim=(-0.03, 1.03))
                  for g in groups]
        return sweep_figure(fpath("sweep_probe_acc"), "Accuracy per held-out group  -  %s" % name,
                            panels, "probe accuracy")

    def linear_probe_fig():
        for probe, pattern in (("ridge probe", "ridge_{}_acc"), ("logistic probe", "logistic_{}_acc"),
                               ("nearest-class-mean", "{}_ncm_acc")):
            if any(run["metrics"].has(pattern.format(g)) for _, run in runs for g in groups):
                break
        panels = [panel("%s accuracy: %s" % (probe, g), "probe accuracy",
                        sweep_series(configs, colors, column_values(pattern.format(g))), ylim=(-0.03, 1.03))
                  for g in groups]
        return sweep_figure(fpath("sweep_linear_probe_acc"),
                            "Hidden-layer %s accuracy per group  -  %s" % (probe, name), panels, "probe accuracy")

    def margin_fig():
        specs = [("min output margin", "margin_min"), ("normalized margin (global norm)", "margin_norm_global"),
                 ("normalized margin (product of norms)", "margin_norm_prod"),
                 ("readout-normalized margin", "margin_readout"), ("hidden-layer SVM margin", "svm_margin")]
        panels = [panel("%s (%s)" % (title, col), "margin", sweep_series(configs, colors, column_values(col)),
                        hlines=[(0, None)], zoom_after_onset=col.startswith("margin_norm") or col == "margin_readout")
                  for title, col in specs]
        onsets = [run_onset_step(rec, run) for rec, run in runs]
        onsets = [o for o in onsets if o is not None]
        return sweep_figure(fpath("sweep_margins"), "Margins  -  " + name, panels, "margin",
                            zoom_from=min(onsets) if onsets else None)

    def fisher_fig():
        panels = [panel("Fisher J: target vs " + ("other classes (train)" if s == "train" else s), "J",
                        sweep_series(configs, colors, column_values("fisher_%s_J" % s, log=True)), scale="log10")
                  for s in ["train"] + groups]
        return sweep_figure(fpath("sweep_fisher"), "Fisher discriminant per group  -  " + name, panels, "Fisher")

    emit("sweep_train_loss", loss_fig)
    emit("sweep_heldout_loss", heldout_fig)
    emit("sweep_probe_acc", probe_fig)
    emit("sweep_linear_probe_acc", linear_probe_fig)
    emit("sweep_margins", margin_fig)
    emit("sweep_fisher", fisher_fig)
    emit("sweep_onset", lambda: sweep_onset_figure(sweep, runs, fpath("sweep_onset")))


def run_onset_step(rec, run):
    value = rec.get("onset_step", "")
    if value not in ("", None):
        try:
            v = float(value)
            return v if v >= 0 else None
        except ValueError:
            pass
    on = run["onset"]
    return float(on["step"]) if on else None


def sweep_onset_figure(sweep, runs, path):
    axes = sweep["axes"]
    numeric = [a for a in axes if all(sort_key(rec.get(a, ""))[0] == 0 for rec, _ in runs)]
    xaxis = numeric[0] if numeric else None
    others = [a for a in axes if a != xaxis]
    lines = {}
    for rec, run in runs:
        okey = tuple(rec.get(a, "") for a in others)
        xval = rec.get(xaxis, "") if xaxis else config_label(axes, tuple(rec.get(a, "") for a in axes))
        lines.setdefault(okey, {}).setdefault(xval, []).append(run_onset_step(rec, run))
    if not any(v is not None for pts in lines.values() for vals in pts.values() for v in vals):
        note("sweep_onset: skipped (no run reached the groove onset)")
        return None
    categories = sorted({x for pts in lines.values() for x in pts}, key=sort_key)
    fig, ax = plt.subplots(figsize=(8.0, 5.0))
    colors = config_colors(len(lines))
    for (okey, pts), color in zip(sorted(lines.items(), key=lambda kv: [sort_key(v) for v in kv[0]]), colors):
        xs, means, ses, missing = [], [], [], []
        for xval in sorted(pts, key=sort_key):
            vals = [v for v in pts[xval] if v is not None]
            x = float(xval) if xaxis else categories.index(xval)
            if len(vals) < len(pts[xval]):
                missing.append((x, len(pts[xval]) - len(vals), len(pts[xval])))
            if vals:
                xs.append(x)
                means.append(float(np.mean(vals)))
                ses.append(float(np.std(vals, ddof=1) / math.sqrt(len(vals))) if len(vals) > 1 else 0.0)
        label = config_label(others, okey) if others else "onset step"
        ax.errorbar(xs, means, yerr=ses, color=color, marker="o", capsize=4, lw=1.6, label=label + " (mean +- SE)")
        for x, k, n in missing:
            ax.annotate("%d/%d seeds: no onset" % (k, n), (x, 1), xycoords=("data", "axes fraction"),
                        xytext=(0, -14), textcoords="offset points", ha="center", fontsize=7.5, color=color)
    ax.set_yscale("log")
    ax.set_ylabel("groove onset step (log scale)")
    if xaxis:
        xs_all = [float(x) for x in categories]
        if min(xs_all) > 0 and max(xs_all) / min(xs_all) >= 10:
            ax.set_xscale("log")
            ax.set_xlabel(xaxis + " (log scale)")
        else:
            ax.set_xlabel(xaxis)
    else:
        ax.set_xticks(range(len(categories)))
        ax.set_xticklabels(categories, rotation=20, ha="right", fontsize=8)
        ax.set_xlabel("configuration")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    ax.set_title("Step at which training accuracy reaches 100% and stays there", fontsize=10)
    return save(fig, path, "Groove onset  -  sweep '%s' (over seeds)" % sweep["name"])


def render_sweep(folder, figdir, ext, emit):
    sweep = load_sweep(folder)
    runs = load_done_runs(sweep)
    if not runs:
        raise PlotError("%s: no finished run with a readable metrics.csv (of %d listed)"
                        % (sweep["path"], len(sweep["records"])))
    os.makedirs(figdir, exist_ok=True)
    first_rec, first_run = runs[0]
    if len(sweep["records"]) > 1:
        render_sweep_figures(sweep, runs, figdir, ext, emit)
    render_run(first_run["dir"], os.path.join(figdir, first_rec["run_id"]), ext, emit, run=first_run)


# ---------------------------------------------------------------------------------------------
# Reversal figures

def load_reversal(folder):
    path = os.path.join(folder, "reversal.csv")
    cols = ("network", "pretrain_steps", "seed", "steps_to_loss", "steps_to_accuracy")
    header, rows = read_text_table(path, required_columns=cols)
    records = []
    for lineno, values in rows:
        rec = dict(zip(header, values))
        out = {"network": rec["network"]}
        for c in header:
            if c != "network":
                out[c] = to_number(path, lineno, c, rec[c])
        records.append(out)
    if not records:
        raise PlotError(path + ": no rows")
    meta = read_json(os.path.join(folder, "reversal.json")) or {}
    return records, meta


def t_positions(values):
    """x positions for pretraining steps on a log axis: T = 0 drawn at half the smallest T > 0."""
    pos = [v for v in values if v > 0]
    zero_x = (min(pos) / 2.0) if pos else ZERO_STEP_X
    return (lambda t: t if t > 0 else zero_x), zero_x, any(v <= 0 for v in values)


def reversal_steps_figure(records, meta, path):
    networks = list(dict.fromkeys(r["network"] for r in records))
    to_x, zero_x, has_zero = t_positions([r["pretrain_steps"] for r in records])
    colors = config_colors(len(networks))
    loss_c, acc_c = meta.get("loss_criterion"), meta.get("accuracy_criterion")
    specs = [("steps_to_loss", "phase-2 steps until loss < %s" % loss_c if loss_c is not None else
              "phase-2 steps to the loss criterion", "steps to criterion", True),
             ("steps_to_accuracy", "phase-2 steps until accuracy >= %s" % acc_c if acc_c is not None else
              "phase-2 steps to the accuracy criterion", "steps to criterion", True)]
    if any(np.isfinite(r.get("kernel_alignment", math.nan)) for r in records):
        specs.append(("kernel_alignment", "kernel-target alignment after pretraining", "alignment", False))
    fig, axes = panel_grid(len(specs), ncols=3, width=5.4, height=4.4)
    t_values = sorted({r["pretrain_steps"] for r in records})
    never_any = False
    for ax, (col, title, ylabel, logy) in zip(axes, specs):
        any_never = False
        for ni, (net, color) in enumerate(zip(networks, colors)):
            by_t = {}
            for r in records:
                if r["network"] == net:
                    by_t.setdefault(r["pretrain_steps"], []).append(r.get(col, math.nan))
            xs, means, ses = [], [], []
            for t in sorted(by_t):
                vals = [v for v in by_t[t] if np.isfinite(v) and (not logy or v >= 0)]
                never = len(by_t[t]) - len(vals)
                if never and logy:
                    any_never = True
                    mark_never(ax, to_x(t), ni, "%d/%d" % (never, len(by_t[t])), color)
                if vals:
                    xs.append(to_x(t))
                    means.append(float(np.mean(vals)))
                    ses.append(float(np.std(vals, ddof=1) / math.sqrt(len(vals))) if len(vals) > 1 else 0.0)
            if xs:
                means, ses = np.asarray(means), np.asarray(ses)
                ax.plot(xs, means, color=color, marker="o", lw=1.6, label=net)
                lo = np.maximum(means - ses, means * 0.05) if logy else means - ses
                ax.fill_between(xs, lo, means + ses, color=color, alpha=0.2, lw=0)
        ax.set_xscale("log")
        ax.set_xticks([to_x(t) for t in t_values])
        ax.set_xticklabels(["%g" % t for t in t_values])
        ax.minorticks_off()
        ax.set_xlabel("pretraining steps T (log scale%s)" % ("; T = 0 drawn at %g" % zero_x if has_zero else ""))
        if logy:
            ax.set_yscale("log")
            ylabel += " (log scale)"
            lo, hi = ax.get_ylim()
            ax.set_ylim(lo, hi * (1.0 + 2.0 * len(networks)))  # room for the never-reached marks
        ax.set_ylabel(ylabel)
        ax.set_title(title, fontsize=10)
        ax.grid(True, alpha=0.3)
        xs_all = [to_x(t) for t in t_values]
        ax.set_xlim(min(xs_all) / 1.5, max(xs_all) * 1.8)
        never_any |= any_never
    handles = [Line2D([], [], color=c, marker="o", lw=1.6, label=n) for n, c in zip(networks, colors)]
    if never_any:
        handles.append(Line2D([], [], color="0.4", marker="v", ls="", label="k/n: seeds that never reached it"))
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=8.5, frameon=False)
    fig.suptitle("Overtraining reversal: relearning reversed labels (mean +- SE over seeds)", fontsize=11)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def mark_never(ax, x, row, text, color):
    """A mark near the top of the axes for seeds that never reached the criterion at this T."""
    y = 0.95 - 0.07 * row
    ax.plot([x], [y], marker="v", color=color, ls="", transform=ax.get_xaxis_transform(), clip_on=False)
    ax.annotate(text, (x, y), xycoords=ax.get_xaxis_transform(), xytext=(6, 0), textcoords="offset points",
                va="center", fontsize=7.5, color=color)


def load_reversal_curves(folder):
    path = os.path.join(folder, "reversal_curves.csv")
    if not os.path.isfile(path):
        return None
    header, rows = read_text_table(path, required_columns=("network", "pretrain_steps", "seed", "step", "loss"))
    curves = {}
    numeric = [c for c in header if c != "network"]
    for lineno, values in rows:
        rec = dict(zip(header, values))
        nums = {c: to_number(path, lineno, c, rec[c]) for c in numeric}
        key = (rec["network"], nums["pretrain_steps"], nums["seed"])
        curves.setdefault(key, []).append(nums)
    return curves


def reversal_curves_figure(curves, meta, path):
    networks = list(dict.fromkeys(k[0] for k in curves))
    ts = sorted({k[1] for k in curves})
    to_x, zero_x, has_zero = t_positions(ts)
    t_lo, t_hi = min(to_x(t) for t in ts), max(to_x(t) for t in ts)
    norm = mcolors.LogNorm(vmin=t_lo, vmax=max(t_hi, t_lo * 1.01))
    cmap = plt.get_cmap("viridis")
    quantities = [("loss", "phase-2 training loss", True)]
    if any("accuracy" in rows[0] for rows in curves.values()):
        quantities.append(("accuracy", "phase-2 training accuracy", False))
    fig, axes = plt.subplots(len(quantities), len(networks), figsize=(5.4 * len(networks) + 1.2, 4.0 * len(quantities)),
                             squeeze=False)
    criteria = {"loss": meta.get("loss_criterion"), "accuracy": meta.get("accuracy_criterion")}
    for qi, (qname, ylabel, logy) in enumerate(quantities):
        for ni, net in enumerate(networks):
            ax = axes[qi][ni]
            for t in ts:
                run_values = []
                for (n, tt, _seed), rows in curves.items():
                    if n == net and tt == t:
                        steps = np.array([r["step"] for r in rows])
                        vals = np.array([r.get(qname, math.nan) for r in rows])
                        order = np.argsort(steps, kind="stable")
                        steps, vals = steps[order], vals[order]
                        if logy:
                            vals = np.where(vals > 0, vals, np.nan)
                            with np.errstate(invalid="ignore", divide="ignore"):
                                vals = np.log10(vals)
                        run_values.append((steps, vals))
                got = aligned_mean_se(run_values) if run_values else None
                if got is None:
                    continue
                steps, mean, _, _ = got
                idx = thin(steps, np.ones(len(steps), dtype=bool))
                ax.plot(xsteps(steps[idx]), 10.0 ** mean[idx] if logy else mean[idx], color=cmap(norm(to_x(t))),
                        lw=1.5)
            if criteria[qname] is not None:
                ax.axhline(float(criteria[qname]), color="0.3", ls="--", lw=1,
                           label="criterion (%s)" % criteria[qname])
                ax.legend(fontsize=8, loc="best")
            ax.set_xscale("log")
            if logy:
                ax.set_yscale("log")
            else:
                ax.set_ylim(-0.03, 1.03)
            ax.set_xlabel("phase-2 steps (log scale; step 0 drawn at %g)" % ZERO_STEP_X)
            ax.set_ylabel(ylabel + (" (log scale)" if logy else ""))
            ax.set_title("%s: %s (mean over seeds)" % (net, qname), fontsize=10)
            ax.grid(True, alpha=0.3)
    sm = cm.ScalarMappable(norm=norm, cmap=cmap)
    fig.tight_layout(rect=(0, 0, 0.9, 0.95))
    cax = fig.add_axes((0.92, 0.12, 0.015, 0.76))
    bar = fig.colorbar(sm, cax=cax)
    bar.set_label("pretraining steps T (log scale%s)" % ("; T = 0 at %g" % zero_x if has_zero else ""))
    fig.suptitle("Overtraining reversal: phase-2 curves on reversed labels, colored by pretraining steps T",
                 fontsize=11)
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def render_reversal(folder, figdir, ext, emit):
    records, meta = load_reversal(folder)
    curves = load_reversal_curves(folder)
    os.makedirs(figdir, exist_ok=True)
    emit("reversal_steps", lambda: reversal_steps_figure(records, meta, os.path.join(figdir, "reversal_steps." + ext)))
    if curves:
        emit("reversal_curves",
             lambda: reversal_curves_figure(curves, meta, os.path.join(figdir, "reversal_curves." + ext)))
    else:
        note(os.path.join(folder, "reversal_curves.csv") + ": not found or empty: reversal_curves skipped")


# ---------------------------------------------------------------------------------------------
# Decode folders (groove decode)

DECODER_COLUMNS = ("accuracy", "accuracy_se", "chance", "chance_sd", "p", "probe_accuracy")
SESSION_INFO_COLUMNS = ("subject", "day", "key", "trials_target", "trials_nontarget", "trials_probe", "neurons",
                        "neurons_dropped")
SESSION_STAT_COLUMNS = ("margin", "margin_norm", "closest1", "closest1_norm", "closest5", "closest5_norm",
                        "separable", "rsm_target", "rsm_nontarget", "rsm_between", "rsm_index", "rsm_null_mean",
                        "rsm_null_sd", "rsm_z", "rsm_p", "pca_var1", "pca_var2", "pca_var3")
POOLED = "pooled"
MAX_DECODE_SUBJECTS = 4     # rows of the RSM and PCA figures
CLASS_ORDER = (1, 0, 2)     # trial label codes: 1 target, 0 non-target, 2 probe
CLASS_NAMES = {1: "target", 0: "non-target", 2: "probe"}
CLASS_COLORS = {1: "#c0392b", 0: "#3b6fb6", 2: "#2e9e5b"}
STIMULUS_LABEL_ORDER = ("target", "nontarget", "probe")
SIGNIFICANCE = 0.05


def decoder_statistics(decoders):
    """The statistics of days.csv, in its column order."""
    return ([d + "_accuracy" for d in decoders] + [d + "_probe_accuracy" for d in decoders]
            + ["margin_norm", "closest1_norm", "closest5_norm", "rsm_index"])


def read_records(path, required, text_columns):
    """A CSV file with a header as a list of dicts: text columns as str, the others as float (empty
    cell = NaN); '_line' holds the line number. Every required column must be in the header."""
    header, rows = read_text_table(path, required_columns=required)
    records = []
    for lineno, values in rows:
        rec = {"_line": lineno}
        for name, value in zip(header, values):
            rec[name] = value if name in text_columns else to_number(path, lineno, name, value)
        records.append(rec)
    return records


def need_finite(path, rec, *columns):
    for c in columns:
        if not math.isfinite(rec[c]):
            raise PlotError("%s: line %d, column '%s': empty or not finite (required)" % (path, rec["_line"], c))


def optional_records(folder, name, required, text_columns, why):
    path = os.path.join(folder, name)
    if not os.path.isfile(path):
        note("%s: not found: %s" % (path, why))
        return None
    return read_records(path, required, text_columns)


def load_decode(folder):
    """Everything the decode figures and table need, every CSV file read and checked up front (so a
    malformed file stops before any figure is drawn); the .npy arrays are read when drawn."""
    meta_path = os.path.join(folder, "decode.json")
    meta = read_json(meta_path, required=True)
    if not isinstance(meta, dict):
        raise PlotError(meta_path + ": expected a JSON object")
    decoders = meta.get("decoders")
    if not isinstance(decoders, list) or not decoders or not all(isinstance(d, str) and d for d in decoders):
        raise PlotError(meta_path + ": 'decoders' must be a non-empty list of decoder names")
    sessions_path = os.path.join(folder, "sessions.csv")
    if not os.path.isfile(sessions_path):
        raise PlotError(sessions_path + ": file not found")
    required = (list(SESSION_INFO_COLUMNS) + ["%s_%s" % (d, c) for d in decoders for c in DECODER_COLUMNS]
                + list(SESSION_STAT_COLUMNS))
    sessions = read_records(sessions_path, required, ("subject", "key"))
    if not sessions:
        raise PlotError(sessions_path + ": no data rows")
    for rec in sessions:
        need_finite(sessions_path, rec, "day")
        if not rec["subject"] or not rec["key"]:
            raise PlotError("%s: line %d: empty subject or key" % (sessions_path, rec["_line"]))
    listed = [str(s) for s in meta.get("subjects", [])] if isinstance(meta.get("subjects"), list) else []
    present = list(dict.fromkeys(r["subject"] for r in sessions))
    for s in listed:
        if s not in present:
            note("%s: subject %s has no session in sessions.csv" % (meta_path, s))
    subjects = [s for s in listed if s in present] + [s for s in present if s not in listed]
    by_subject = {s: sorted((r for r in sessions if r["subject"] == s), key=lambda r: r["day"]) for s in subjects}

    stats = decoder_statistics(decoders)
    days = optional_records(folder, "days.csv", ["subject", "day", "n"] + [s + x for s in stats
                                                                           for x in ("_mean", "_se")],
                            ("subject",), "no pooled mean +- SE bands")
    for rec in days or ():
        need_finite(os.path.join(folder, "days.csv"), rec, "day")
    stimuli = optional_records(folder, "stimuli.csv", ("subject", "day", "stimulus", "label", "trials",
                                                       "fraction_correct"),
                               ("subject", "stimulus", "label"), "decode_flips skipped")
    for rec in stimuli or ():
        need_finite(os.path.join(folder, "stimuli.csv"), rec, "day")
    flips = optional_records(folder, "flips.csv", ("subject", "stimulus", "label", "first_correct_day",
                                                   "stable_from_day", "correct_first_overtraining", "correct_last",
                                                   "flipped"),
                             ("subject", "stimulus", "label"), "no first-correct days or flips marked")
    gen_path = os.path.join(folder, "generalization.csv")
    generalization = None
    if os.path.isfile(gen_path):
        generalization = read_records(gen_path, ("subject", "train_day", "test_day", "accuracy"), ("subject",))
        for rec in generalization:
            need_finite(gen_path, rec, "train_day", "test_day")
    summary = read_json(os.path.join(folder, "summary.json"))
    if summary is not None and not isinstance(summary, dict):
        raise PlotError(os.path.join(folder, "summary.json") + ": expected a JSON object")
    summary = summary or {}
    overtraining = {}
    if isinstance(summary.get("overtraining_day"), dict):
        for s, d in summary["overtraining_day"].items():
            if isinstance(d, (int, float)) and math.isfinite(d):
                overtraining[str(s)] = float(d)
    window = meta.get("window")
    return {"dir": folder, "meta": meta, "name": str(meta.get("name") or os.path.basename(os.path.abspath(folder))),
            "decoders": decoders, "primary": decoders[0], "subjects": subjects, "by_subject": by_subject,
            "sessions": sessions, "days": days, "stimuli": stimuli, "flips": flips,
            "generalization": generalization, "summary": summary, "overtraining": overtraining,
            "window": window if isinstance(window, (int, float)) else None}


def subject_colors(subjects):
    palette = [plt.get_cmap("tab10")(i) for i in (0, 1, 2, 4, 5, 6, 8, 9, 3)]
    if len(subjects) > len(palette):
        palette = [plt.get_cmap("tab20")(i % 20) for i in range(len(subjects))]
    return {s: palette[i % len(palette)] for i, s in enumerate(subjects)}


def session_values(dec, subject, column):
    recs = dec["by_subject"][subject]
    return np.array([r["day"] for r in recs]), np.array([r[column] for r in recs], dtype=np.float64)


def pooled_band(dec, stat):
    """(days, mean, se) of the pooled rows of days.csv for a statistic, or None."""
    if not dec["days"]:
        return None
    rows = sorted((r for r in dec["days"] if r["subject"] == POOLED), key=lambda r: r["day"])
    days = np.array([r["day"] for r in rows])
    mean = np.array([r[stat + "_mean"] for r in rows], dtype=np.float64)
    se = np.array([r[stat + "_se"] for r in rows], dtype=np.float64)
    ok = np.isfinite(mean)
    if not ok.any():
        return None
    return days[ok], mean[ok], np.where(np.isfinite(se[ok]), se[ok], 0.0)


def decode_title(dec, what):
    return "%s  -  decode '%s' (%d subject%s, %d session%s)" % (
        what, dec["name"], len(dec["subjects"]), "" if len(dec["subjects"]) == 1 else "s", len(dec["sessions"]),
        "" if len(dec["sessions"]) == 1 else "s")


def pooled_label(dec):
    w = dec["window"]
    return "pooled: mean +- SE over subjects" + (" (%g-day window)" % w if w and w > 1 else "")


def day_axis(ax, dec):
    days = sorted({r["day"] for r in dec["sessions"]})
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    lo, hi = days[0], days[-1]
    pad = max(0.3, 0.04 * (hi - lo))
    ax.set_xlim(lo - pad, hi + pad)
    ax.set_xlabel("day")
    ax.grid(True, alpha=0.3)


def mark_overtraining(ax, dec, colors):
    """A dotted vertical line at each subject's first overtraining session (summary.json); True if any."""
    days = {s: d for s, d in dec["overtraining"].items() if s in colors}
    if not days:
        return False
    if len(set(days.values())) == 1:
        ax.axvline(next(iter(days.values())), color="0.25", ls=":", lw=1.2, zorder=1)
    else:
        for s, d in days.items():
            ax.axvline(d, color=colors[s], ls=":", lw=1.2, zorder=1)
    return True


def draw_day_panel(ax, dec, column, colors, p_column=None):
    """Per-subject thin lines from sessions.csv and the pooled mean +- SE band from days.csv;
    sessions with p >= SIGNIFICANCE (when p_column has values) drawn as open markers. Returns
    whether anything was drawn and the lowest value drawn."""
    drawn, lowest = False, math.inf
    for s in dec["subjects"]:
        days, vals = session_values(dec, s, column)
        ok = np.isfinite(vals)
        if not ok.any():
            continue
        drawn, lowest = True, min(lowest, float(vals[ok].min()))
        ax.plot(days[ok], vals[ok], color=colors[s], lw=1.0, alpha=0.85, zorder=3)
        sig = np.ones(len(vals), dtype=bool)
        if p_column is not None:
            _, p = session_values(dec, s, p_column)
            sig = ~(np.isfinite(p) & (p >= SIGNIFICANCE))
        ax.plot(days[ok & sig], vals[ok & sig], ls="", marker="o", ms=4, color=colors[s], zorder=4)
        ax.plot(days[ok & ~sig], vals[ok & ~sig], ls="", marker="o", ms=4, mfc="white", mec=colors[s], zorder=4)
    band = pooled_band(dec, column)
    if band is not None:
        d, m, se = band
        ax.plot(d, m, color=TRAIN_COLOR, lw=2.2, zorder=5)
        ax.fill_between(d, m - se, m + se, color=TRAIN_COLOR, alpha=0.15, lw=0, zorder=2)
        drawn, lowest = True, min(lowest, float(np.min(m - se)))
    return drawn, lowest


def subject_handles(dec, colors, band=True, extra=()):
    handles = [Line2D([], [], color=colors[s], lw=1.0, marker="o", ms=4, label=s) for s in dec["subjects"]]
    if band and dec["days"]:
        handles.append(Line2D([], [], color=TRAIN_COLOR, lw=2.2, label=pooled_label(dec)))
    ot = {s: d for s, d in dec["overtraining"].items() if s in colors}
    if ot:
        handles.append(Line2D([], [], color="0.25", ls=":", lw=1.2, label="first overtraining session" + (
            " (subject's colour)" if len(set(ot.values())) > 1 else "")))
    return handles + list(extra)


def finish_legend(fig, handles, ncols=None):
    """The figure legend below the panels; returns the bottom margin to leave free."""
    ncols = ncols or min(len(handles), 5)
    fig.legend(handles=handles, loc="lower center", ncol=ncols, fontsize=8, frameon=False)
    return 0.035 * math.ceil(len(handles) / ncols) + 0.03


def save_with_legend(fig, path, handles, suptitle):
    h_in = fig.get_size_inches()[1]
    bottom = finish_legend(fig, handles) * 5.0 / max(h_in, 5.0)
    fig.suptitle(suptitle, fontsize=11)
    fig.tight_layout(rect=(0, bottom, 1, 0.97))
    fig.savefig(path, dpi=DPI, bbox_inches="tight")  # a long title or legend widens the canvas, never clips
    plt.close(fig)
    return path


def decode_accuracy_figure(dec, path):
    colors = subject_colors(dec["subjects"])
    fig, axes = panel_grid(len(dec["decoders"]), ncols=3, width=5.4, height=4.2)
    any_drawn, any_open, any_chance = False, False, False
    for ax, d in zip(axes, dec["decoders"]):
        drawn, lowest = draw_day_panel(ax, dec, d + "_accuracy", colors, p_column=d + "_p")
        any_drawn |= drawn
        any_open |= any(bool(np.any(np.isfinite(session_values(dec, s, d + "_p")[1])
                                    & (session_values(dec, s, d + "_p")[1] >= SIGNIFICANCE))) for s in dec["subjects"])
        # chance: mean over subjects per day of the permutation-null mean, band +- its SD
        days = sorted({r["day"] for r in dec["sessions"]})
        chance, sd = [], []
        for day in days:
            recs = [r for r in dec["sessions"] if r["day"] == day and math.isfinite(r[d + "_chance"])]
            chance.append(np.mean([r[d + "_chance"] for r in recs]) if recs else np.nan)
            sds = [r[d + "_chance_sd"] for r in recs if math.isfinite(r[d + "_chance_sd"])]
            sd.append(np.mean(sds) if sds else 0.0)
        chance, sd, days = np.array(chance), np.array(sd), np.array(days)
        ok = np.isfinite(chance)
        if ok.any():
            any_chance = True
            ax.plot(days[ok], chance[ok], color="0.35", ls="--", lw=1.3, zorder=2)
            ax.fill_between(days[ok], chance[ok] - sd[ok], chance[ok] + sd[ok], color="0.5", alpha=0.12, lw=0)
            lowest = min(lowest, float(np.min(chance[ok] - sd[ok])))
        else:
            ax.axhline(0.5, color="0.6", lw=0.8, zorder=0)
        mark_overtraining(ax, dec, colors)
        day_axis(ax, dec)
        ax.set_ylim(min(0.4, math.floor((lowest - 0.02) * 20) / 20) if math.isfinite(lowest) else 0.4, 1.02)
        ax.set_ylabel("cross-validated accuracy")
        title = d + (" (primary decoder)" if d == dec["primary"] else "")
        if not ok.any():
            title += "\n(no permutation test: line at 0.5)"
        ax.set_title(title, fontsize=10)
    if not any_drawn:
        plt.close(fig)
        note("decode_accuracy: skipped (no accuracy values in sessions.csv)")
        return None
    extra = []
    if any_chance:
        extra.append(Line2D([], [], color="0.35", ls="--", lw=1.3, label="chance (permutation null mean +- SD)"))
    if any_open:
        extra.append(Line2D([], [], color="0.4", ls="", marker="o", mfc="white", label="p >= %g" % SIGNIFICANCE))
    return save_with_legend(fig, path, subject_handles(dec, colors, extra=extra),
                            decode_title(dec, "Decoding accuracy (target vs non-target) by day"))


def decode_margins_figure(dec, path):
    colors = subject_colors(dec["subjects"])
    specs = [("margin_norm", r"SVM margin $1/\Vert w\Vert$"),
             ("closest1_norm", "mean distance of the closest 1% of trials"),
             ("closest5_norm", "mean distance of the closest 5% of trials")]
    fig, axes = panel_grid(len(specs), ncols=3, width=5.0, height=4.0)
    any_drawn, any_nonsep = False, False
    for ax, (col, title) in zip(axes, specs):
        drawn, _ = draw_day_panel(ax, dec, col, colors)
        any_drawn |= drawn
        for s in dec["subjects"]:
            days, vals = session_values(dec, s, col)
            _, sep = session_values(dec, s, "separable")
            bad = np.isfinite(vals) & np.isfinite(sep) & (sep == 0)
            if bad.any():
                any_nonsep = True
                ax.plot(days[bad], vals[bad], ls="", marker="x", ms=8, color="black", zorder=6)
        ax.axhline(1.0, color="0.6", lw=0.8, zorder=0)
        mark_overtraining(ax, dec, colors)
        day_axis(ax, dec)
        ax.set_ylabel("relative to the subject's mean")
        ax.set_title(title + "\n(divided by the subject's mean)", fontsize=10)
    if not any_drawn:
        plt.close(fig)
        note("decode_margins: skipped (no margin values in sessions.csv)")
        return None
    extra = [Line2D([], [], ls="", marker="x", ms=8, color="black", label="not linearly separable")] * any_nonsep
    return save_with_legend(fig, path, subject_handles(dec, colors, extra=extra),
                            decode_title(dec, "Margins of the target vs non-target hard-margin SVM by day"))


def decode_probe_figure(dec, path):
    if not any(np.isfinite(r[d + "_probe_accuracy"]) for r in dec["sessions"] for d in dec["decoders"]):
        note("decode_probe: skipped (no probe accuracy in sessions.csv: no probe trials)")
        return None
    colors = subject_colors(dec["subjects"])
    decoders = [d for d in dec["decoders"] if any(np.isfinite(r[d + "_probe_accuracy"]) for r in dec["sessions"])]
    fig, axes = panel_grid(len(decoders), ncols=3, width=5.4, height=4.2)
    label = str(dec["meta"].get("probe_label") or "nontarget").replace("nontarget", "non-target")
    for ax, d in zip(axes, decoders):
        draw_day_panel(ax, dec, d + "_probe_accuracy", colors)
        ax.axhline(0.5, color="0.6", lw=0.8, zorder=0)
        mark_overtraining(ax, dec, colors)
        day_axis(ax, dec)
        ax.set_ylim(-0.03, 1.03)
        ax.set_ylabel("fraction of probe trials decoded as %s" % label)
        ax.set_title(d + (" (primary decoder)" if d == dec["primary"] else ""), fontsize=10)
    return save_with_legend(fig, path, subject_handles(dec, colors),
                            decode_title(dec, "Probe trials: decoder trained on target vs non-target"))


def key_file(key):
    return key.replace("/", "_")


def load_array(path, what):
    """np.load of an optional array; None with a note when missing or unreadable."""
    if not os.path.isfile(path):
        note("%s: not found: %s" % (path, what))
        return None
    try:
        return np.load(path)
    except (OSError, ValueError) as e:
        note("%s: unreadable (%s): %s" % (path, e, what))
        return None


def class_order(labels):
    """Indices sorting trials into the blocks target, non-target, probe (stable), and the blocks
    [(code, start, stop)]."""
    rank = np.full(len(labels), len(CLASS_ORDER), dtype=np.int64)
    for i, c in enumerate(CLASS_ORDER):
        rank[labels == c] = i
    idx = np.argsort(rank, kind="stable")
    blocks, start = [], 0
    for c in CLASS_ORDER:
        n = int(np.sum(labels == c))
        if n:
            blocks.append((c, start, start + n))
            start += n
    if start < len(labels):
        blocks.append((-1, start, len(labels)))
    return idx, blocks


def load_rsm(dec, rec):
    """(matrix [T, T] in class-block order, blocks, null or None) of a session, or None."""
    base = os.path.join(dec["dir"], "rsm", key_file(rec["key"]))
    m = load_array(base + ".npy", "RSM panel of %s left empty" % rec["key"])
    labels = None if m is None else load_array(base + ".labels.npy", "RSM panel of %s left empty" % rec["key"])
    if m is None or labels is None:
        return None
    m = np.asarray(m, dtype=np.float64)
    labels = np.asarray(labels).astype(np.int64).ravel()
    if m.ndim != 2 or m.shape[0] != m.shape[1] or m.shape[0] != len(labels):
        note("%s.npy: shape %s with %d labels (expected [trials, trials]): RSM panel of %s left empty"
             % (base, m.shape, len(labels), rec["key"]))
        return None
    idx, blocks = class_order(labels)
    null = None
    if os.path.isfile(base + ".null.npy"):
        null = load_array(base + ".null.npy", "no null histogram")
        if null is not None:
            null = np.asarray(null, dtype=np.float64).ravel()
            null = null[np.isfinite(null)]
    else:
        note("%s.null.npy: not found: no null histogram for %s" % (base, rec["key"]))
    return m[np.ix_(idx, idx)], blocks, null


def limited_subjects(dec, figure):
    subjects = dec["subjects"]
    if len(subjects) > MAX_DECODE_SUBJECTS:
        note("%s: showing the first %d of %d subjects (%s left out)" % (
            figure, MAX_DECODE_SUBJECTS, len(subjects), ", ".join(subjects[MAX_DECODE_SUBJECTS:])))
    return subjects[:MAX_DECODE_SUBJECTS]


def first_last(dec, subject):
    recs = dec["by_subject"][subject]
    return [recs[0]] if len(recs) == 1 else [recs[0], recs[-1]]


def mark_blocks(ax, blocks):
    ticks, labels = [], []
    for code, lo, hi in blocks:
        if lo > 0:
            ax.axhline(lo - 0.5, color="black", lw=0.8)
            ax.axvline(lo - 0.5, color="black", lw=0.8)
        ticks.append((lo + hi - 1) / 2.0)
        labels.append("%s\n(%d)" % (CLASS_NAMES.get(code, "other"), hi - lo))
    ax.set_xticks(ticks)
    ax.set_xticklabels(labels, fontsize=7.5)
    ax.set_yticks(ticks)
    ax.set_yticklabels([t.replace("\n", " ") for t in labels], fontsize=7.5)
    ax.tick_params(length=0)


def decode_rsm_figure(dec, path):
    subjects = limited_subjects(dec, "decode_rsm")
    loaded = {s: [(rec, load_rsm(dec, rec)) for rec in first_last(dec, s)] for s in subjects}
    mats = [got[0] for rows in loaded.values() for _, got in rows if got is not None]
    if not mats:
        note("decode_rsm: skipped (no readable rsm/<key>.npy of a first or last session)")
        return None
    off = np.concatenate([m[~np.eye(m.shape[0], dtype=bool)] for m in mats])
    off = off[np.isfinite(off)]
    lim = float(np.percentile(np.abs(off), 99)) if len(off) else 1.0
    lim = min(1.0, max(lim, 1e-3))
    fig = plt.figure(figsize=(14.0, 4.1 * len(subjects) + 0.6))
    grid = fig.add_gridspec(len(subjects), 4, width_ratios=(1.0, 1.0, 0.04, 1.2))
    image = None
    for row, s in enumerate(subjects):
        pairs = loaded[s]
        for col in range(2):
            ax = fig.add_subplot(grid[row, col])
            if col >= len(pairs):
                ax.axis("off")
                ax.text(0.5, 0.5, "%s has one session" % s, ha="center", va="center", transform=ax.transAxes)
                continue
            rec, got = pairs[col]
            which = "first" if col == 0 else "last"
            if got is None:
                ax.axis("off")
                ax.text(0.5, 0.5, "%s: no RSM file" % rec["key"], ha="center", va="center", transform=ax.transAxes)
                continue
            m, blocks, _ = got
            image = ax.imshow(m, cmap="RdBu_r", vmin=-lim, vmax=lim, interpolation="nearest")
            mark_blocks(ax, blocks)
            idx = rec["rsm_index"]
            ax.set_title("%s day %g (%s): rsm_index %s" % (s, rec["day"], which,
                                                           "%.3g" % idx if math.isfinite(idx) else "-"), fontsize=10)
        draw_rsm_null(fig.add_subplot(grid[row, 3]), s, pairs)
    cax = fig.add_subplot(grid[:, 2])
    if image is not None:
        bar = fig.colorbar(image, cax=cax)
        bar.set_label("Pearson r (shared scale, clipped at the 99th percentile of |r|)")
    else:
        cax.axis("off")
    fig.suptitle(decode_title(dec, "Trial-by-trial similarity (Pearson r of population vectors), first and last day"),
                 fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def draw_rsm_null(ax, subject, pairs):
    """Histograms of the null rsm_index of the first and last session and the observed values."""
    styles = [("0.55", "--"), ("black", "-")]
    nulls = [got[2] for _, got in pairs if got is not None and got[2] is not None and len(got[2])]
    bins = np.linspace(min(n.min() for n in nulls), max(n.max() for n in nulls), 31) if nulls else 30
    drawn = False
    for (rec, got), (color, ls), which in zip(pairs, styles, ("first", "last")):
        null = got[2] if got is not None else None
        label = "day %g (%s)" % (rec["day"], which)
        if null is not None and len(null):
            ax.hist(null, bins=bins, color=color, alpha=0.45, label="null, " + label)
            drawn = True
        obs = rec["rsm_index"]
        if math.isfinite(obs):
            z, p = rec["rsm_z"], rec["rsm_p"]
            stat = ", ".join(t for t in ("z=%.3g" % z if math.isfinite(z) else "", "p=%.3g" % p if math.isfinite(p)
                                         else "") if t)
            ax.axvline(obs, color=color, ls=ls, lw=1.6, label="observed, %s%s" % (label, " (%s)" % stat if stat
                                                                                   else ""))
            drawn = True
    if not drawn:
        ax.axis("off")
        ax.text(0.5, 0.5, "no rsm_index or null", ha="center", va="center", transform=ax.transAxes)
        return
    ax.set_xlabel("rsm_index (mean within-class minus between-class r)", fontsize=9)
    ax.set_ylabel("null matrices")
    ax.set_title("%s: rsm_index against its null\n(random Gaussian trials, same neuron means)" % subject, fontsize=10)
    ax.legend(fontsize=7, loc="best")
    ax.grid(True, alpha=0.3)


def load_pca(dec, rec):
    """(projections [T, >=2], labels [T], centres [3, >=2] or None) of a session, or None."""
    base = os.path.join(dec["dir"], "pca", key_file(rec["key"]))
    proj = load_array(base + ".npy", "PCA panel of %s left empty" % rec["key"])
    labels = None if proj is None else load_array(base + ".labels.npy", "PCA panel of %s left empty" % rec["key"])
    if proj is None or labels is None:
        return None
    proj = np.asarray(proj, dtype=np.float64)
    labels = np.asarray(labels).astype(np.int64).ravel()
    if proj.ndim != 2 or proj.shape[1] < 2 or proj.shape[0] != len(labels):
        note("%s.npy: shape %s with %d labels (expected [trials, 3]): PCA panel of %s left empty"
             % (base, proj.shape, len(labels), rec["key"]))
        return None
    centres = None
    if os.path.isfile(base + ".centres.npy"):
        centres = load_array(base + ".centres.npy", "class centres not drawn")
        if centres is not None:
            centres = np.asarray(centres, dtype=np.float64)
            if centres.ndim != 2 or centres.shape[0] != 3 or centres.shape[1] < 2:
                note("%s.centres.npy: shape %s (expected [3, 3]): class centres not drawn" % (base, centres.shape))
                centres = None
    else:
        note("%s.centres.npy: not found: class centres not drawn for %s" % (base, rec["key"]))
    return proj, labels, centres


def decode_pca_figure(dec, path):
    subjects = limited_subjects(dec, "decode_pca")
    cells = [(s, rec, which) for s in subjects for rec, which in zip(first_last(dec, s), ("first", "last"))]
    loaded = [(s, rec, which, load_pca(dec, rec)) for s, rec, which in cells]
    if not any(got is not None for *_, got in loaded):
        note("decode_pca: skipped (no readable pca/<key>.npy of a first or last session)")
        return None
    fig, axes = panel_grid(len(loaded), ncols=4 if len(loaded) >= 4 else len(loaded), width=4.2, height=4.0)
    classes_seen = set()
    for ax, (s, rec, which, got) in zip(axes, loaded):
        if got is None:
            ax.axis("off")
            ax.text(0.5, 0.5, "%s: no PCA file" % rec["key"], ha="center", va="center", transform=ax.transAxes)
            continue
        proj, labels, centres = got
        for c in CLASS_ORDER + tuple(sorted(set(labels.tolist()) - set(CLASS_ORDER))):
            sel = labels == c
            if sel.any():
                classes_seen.add(c)
                ax.scatter(proj[sel, 0], proj[sel, 1], s=14, color=CLASS_COLORS.get(c, "0.5"), alpha=0.7,
                           edgecolors="none")
        if centres is not None:
            for row, c in enumerate(CLASS_ORDER):
                if np.isfinite(centres[row, :2]).all():
                    ax.scatter([centres[row, 0]], [centres[row, 1]], s=170, marker="X", color=CLASS_COLORS[c],
                               edgecolors="black", linewidths=1.2, zorder=5)
        v1, v2 = rec["pca_var1"], rec["pca_var2"]
        ax.set_xlabel("PC1" + (" (%.0f%% of variance)" % (100 * v1) if math.isfinite(v1) else ""))
        ax.set_ylabel("PC2" + (" (%.0f%% of variance)" % (100 * v2) if math.isfinite(v2) else ""))
        ax.set_title("%s day %g (%s)" % (s, rec["day"], which), fontsize=10)
        ax.grid(True, alpha=0.3)
    handles = [Line2D([], [], ls="", marker="o", color=CLASS_COLORS.get(c, "0.5"),
                      label=CLASS_NAMES.get(c, "label %d" % c)) for c in CLASS_ORDER if c in classes_seen]
    handles.append(Line2D([], [], ls="", marker="X", ms=10, color="0.6", mec="black", label="class centre"))
    return save_with_legend(fig, path, handles,
                            decode_title(dec, "Trials on the top 2 principal components (fitted per session)"))


def decode_generalization_figure(dec, path):
    rows = dec["generalization"]
    if rows is None:
        note("%s: not found: decode_generalization skipped (sessions do not share neurons?)"
             % os.path.join(dec["dir"], "generalization.csv"))
        return None
    subjects = [s for s in dec["subjects"] if any(r["subject"] == s for r in rows)]
    subjects += [s for s in dict.fromkeys(r["subject"] for r in rows) if s not in subjects]
    if not subjects:
        note("decode_generalization: skipped (generalization.csv has no rows)")
        return None
    days = sorted({r["train_day"] for r in rows} | {r["test_day"] for r in rows})
    pos = {d: i for i, d in enumerate(days)}
    mats = {}
    for s in subjects:
        m = np.full((len(days), len(days)), np.nan)
        for r in rows:
            if r["subject"] == s:
                m[pos[r["train_day"]], pos[r["test_day"]]] = r["accuracy"]
        mats[s] = m
    panels = [(s, mats[s]) for s in subjects]
    if len(subjects) > 1:
        with warnings.catch_warnings():  # a cell no subject has: NaN (numpy warns "mean of empty slice")
            warnings.simplefilter("ignore", category=RuntimeWarning)
            mean = np.nanmean(np.stack([mats[s] for s in subjects]), axis=0)
        panels.append(("mean over %d subjects" % len(subjects), mean))
    finite = np.concatenate([m[np.isfinite(m)] for _, m in panels])
    vmin = min(0.5, math.floor(float(finite.min()) * 20) / 20) if len(finite) else 0.5
    fig, axes = panel_grid(len(panels), ncols=3, width=4.6, height=4.6)
    image = None
    for ax, (title, m) in zip(axes, panels):
        image = ax.imshow(np.ma.masked_invalid(m), cmap="viridis", vmin=vmin, vmax=1.0, interpolation="nearest")
        ax.set_facecolor(UNKNOWN_COLOR)
        ax.set_xticks(range(len(days)))
        ax.set_xticklabels(["%g" % d for d in days], fontsize=8)
        ax.set_yticks(range(len(days)))
        ax.set_yticklabels(["%g" % d for d in days], fontsize=8)
        ax.set_xlabel("test day")
        ax.set_ylabel("train day")
        ax.set_title(title, fontsize=10)
        if len(days) <= 10:
            for i in range(len(days)):
                for j in range(len(days)):
                    if np.isfinite(m[i, j]):
                        light = (m[i, j] - vmin) / max(1e-9, 1.0 - vmin) > 0.6
                        ax.text(j, i, "%.2f" % m[i, j], ha="center", va="center", fontsize=7,
                                color="black" if light else "white")
    fig.suptitle(decode_title(dec, "Cross-day generalization of the %s decoder (trained on all target/non-target "
                                   "trials of one day, tested on another)" % dec["primary"]), fontsize=10.5)
    fig.tight_layout(rect=(0, 0.02, 0.92, 0.95))
    cax = fig.add_axes((0.93, 0.2, 0.012, 0.6))
    fig.colorbar(image, cax=cax).set_label("accuracy")
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def label_rank(label):
    return STIMULUS_LABEL_ORDER.index(label) if label in STIMULUS_LABEL_ORDER else len(STIMULUS_LABEL_ORDER)


def decode_flips_figure(dec, path):
    stimuli = dec["stimuli"]
    if not stimuli:
        note("decode_flips: skipped (no stimuli.csv rows)")
        return None
    flips = {(r["subject"], r["stimulus"]): r for r in dec["flips"] or ()}
    subjects = [s for s in dec["subjects"] if any(r["subject"] == s for r in stimuli)]
    subjects += [s for s in dict.fromkeys(r["subject"] for r in stimuli) if s not in subjects]
    cmap = mcolors.LinearSegmentedColormap.from_list("wrong_right", [WRONG_COLOR, "#f7f7f7", RIGHT_COLOR])
    tables = []
    for s in subjects:
        mine = [r for r in stimuli if r["subject"] == s]
        days = sorted({r["day"] for r in mine})
        stims = {}
        for r in mine:
            stims.setdefault(r["stimulus"], r["label"])

        def order(sid, s=s):
            f = flips.get((s, sid))
            first = f["first_correct_day"] if f is not None and math.isfinite(f["first_correct_day"]) else math.inf
            return (label_rank(stims[sid]), first, sort_key(sid))
        names = sorted(stims, key=order)
        m = np.full((len(names), len(days)), np.nan)
        row, col = {n: i for i, n in enumerate(names)}, {d: j for j, d in enumerate(days)}
        for r in mine:
            m[row[r["stimulus"]], col[r["day"]]] = r["fraction_correct"]
        tables.append((s, days, names, stims, m))
    most = max(len(t[2]) for t in tables)
    ncols = min(3, len(tables))
    height = min(10.0, max(3.6, 1.4 + 0.26 * most))
    fig, axes = panel_grid(len(tables), ncols=ncols, width=5.2, height=height)
    any_first, any_flip = False, False
    any_missing = any(bool(np.isnan(t[4]).any()) for t in tables)
    for ax, (s, days, names, stims, m) in zip(axes, tables):
        ax.set_facecolor(UNKNOWN_COLOR)
        mesh = ax.pcolormesh(np.arange(len(days) + 1) - 0.5, np.arange(len(names) + 1) - 0.5, np.ma.masked_invalid(m),
                             cmap=cmap, vmin=0.0, vmax=1.0, shading="flat")
        ax.set_xlim(-0.5, len(days) - 0.5)
        ax.set_ylim(len(names) - 0.5, -0.5)
        ax.set_xticks(range(len(days)))
        ax.set_xticklabels(["%g" % d for d in days], fontsize=8)
        ax.set_xlabel("day")
        labels = []
        for i, n in enumerate(names):
            f = flips.get((s, n))
            flipped = f is not None and f["flipped"] == 1
            any_flip |= flipped
            labels.append("%s %s%s" % (stims[n], n, " *" if flipped else ""))
            if f is not None and math.isfinite(f["first_correct_day"]):
                d = f["first_correct_day"]
                if d in days:
                    any_first = True
                    ax.plot([days.index(d)], [i], ls="", marker="o", ms=6, mfc="none", mec="black", mew=1.3)
        for i in range(1, len(names)):
            if stims[names[i]] != stims[names[i - 1]]:
                ax.axhline(i - 0.5, color="black", lw=1.2)
        if len(names) <= 40:
            ax.set_yticks(range(len(names)))
            ax.set_yticklabels(labels, fontsize=7.5 if len(names) <= 20 else 6)
        else:
            groups = list(dict.fromkeys(stims[n] for n in names))
            ax.set_yticks([np.mean([i for i, n in enumerate(names) if stims[n] == g]) for g in groups])
            ax.set_yticklabels(groups, fontsize=8)
        ot = dec["overtraining"].get(s)
        if ot is not None:
            later = [j for j, d in enumerate(days) if d >= ot]
            if later:
                ax.axvline(later[0] - 0.5, color="0.15", ls=":", lw=1.6)
        ax.set_title("%s (%d stimuli)" % (s, len(names)), fontsize=10)
    fig.tight_layout(rect=(0, 0.1 * 5 / max(height, 5), 0.92, 0.95))
    cax = fig.add_axes((0.93, 0.25, 0.012, 0.55))
    fig.colorbar(mesh, cax=cax).set_label("fraction of the stimulus' trials decoded correctly")
    handles = []
    if any_first:
        handles.append(Line2D([], [], ls="", marker="o", ms=6, mfc="none", mec="black", mew=1.3,
                              label="first_correct_day (flips.csv)"))
    if dec["overtraining"]:
        handles.append(Line2D([], [], color="0.15", ls=":", lw=1.6, label="first overtraining session"))
    if any_flip:
        handles.append(Line2D([], [], ls="", label="* flipped: wrong at the first overtraining session, right at the "
                                                   "last"))
    if any_missing:
        handles.append(Patch(color=UNKNOWN_COLOR, label="not recorded"))
    fig.legend(handles=handles, loc="lower center", ncol=min(2, len(handles)), fontsize=8, frameon=False)
    fig.suptitle(decode_title(dec, "Per-stimulus decoding by day (%s decoder; probe correct = decoded as %s)"
                              % (dec["primary"], dec["meta"].get("probe_label", "nontarget"))), fontsize=10.5)
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def render_decode(folder, figdir, ext, emit, dec=None):
    dec = dec or load_decode(folder)
    os.makedirs(figdir, exist_ok=True)
    for name, fn in (("decode_accuracy", decode_accuracy_figure), ("decode_margins", decode_margins_figure),
                     ("decode_rsm", decode_rsm_figure), ("decode_pca", decode_pca_figure),
                     ("decode_generalization", decode_generalization_figure), ("decode_flips", decode_flips_figure),
                     ("decode_probe", decode_probe_figure)):
        emit(name, lambda fn=fn, name=name: fn(dec, os.path.join(figdir, name + "." + ext)))


def decode_table(dec):
    """Per subject and pooled, at the first and the last day: the primary decoder's accuracy +- SE
    (over shuffles; pooled: over subjects), its permutation chance and p, margin_norm, rsm_index."""
    d = dec["primary"]
    meta = dec["meta"]
    lines = ["%s: decode '%s': %d subject%s, %d session%s; primary decoder %s (%s)" % (
        dec["dir"], dec["name"], len(dec["subjects"]), "" if len(dec["subjects"]) == 1 else "s",
        len(dec["sessions"]), "" if len(dec["sessions"]) == 1 else "s", d,
        ", ".join("%s %s" % (meta[k], k) for k in ("folds", "shuffles", "permutations") if k in meta))]

    def fmt(v, spec="%.3f"):
        return spec % v if isinstance(v, float) and math.isfinite(v) else "-"

    head = ("subject", "session", "day", "%s accuracy" % d, "chance", "p", "margin_norm", "rsm_index")
    table = []
    ends = {s: {"first": dec["by_subject"][s][0], "last": dec["by_subject"][s][-1]} for s in dec["subjects"]}
    for s in dec["subjects"]:
        for which in ("first", "last"):
            r = ends[s][which]
            acc = fmt(r[d + "_accuracy"]) + (" +- " + fmt(r[d + "_accuracy_se"]) if math.isfinite(r[d + "_accuracy_se"])
                                             else "")
            table.append((s, which, "%g" % r["day"], acc, fmt(r[d + "_chance"]), fmt(r[d + "_p"], "%.4g"),
                          fmt(r["margin_norm"]), fmt(r["rsm_index"], "%.4g")))
    for which in ("first", "last"):
        recs = [ends[s][which] for s in dec["subjects"]]

        def mean_se(col):
            v = np.array([r[col] for r in recs], dtype=np.float64)
            v = v[np.isfinite(v)]
            if not len(v):
                return math.nan, math.nan
            return float(v.mean()), (float(v.std(ddof=1) / math.sqrt(len(v))) if len(v) > 1 else math.nan)
        acc, se = mean_se(d + "_accuracy")
        days = {r["day"] for r in recs}
        n_sig = sum(1 for r in recs if math.isfinite(r[d + "_p"]) and r[d + "_p"] < SIGNIFICANCE)
        n_p = sum(1 for r in recs if math.isfinite(r[d + "_p"]))
        table.append((POOLED, which, "%g" % days.pop() if len(days) == 1 else "-",
                      fmt(acc) + (" +- " + fmt(se) if math.isfinite(se) else ""), fmt(mean_se(d + "_chance")[0]),
                      "%d/%d < %g" % (n_sig, n_p, SIGNIFICANCE) if n_p else "-", fmt(mean_se("margin_norm")[0]),
                      fmt(mean_se("rsm_index")[0], "%.4g")))
    widths = [max(len(head[i]), max(len(t[i]) for t in table)) for i in range(len(head))]
    lines.append("  ".join(h.ljust(w) for h, w in zip(head, widths)).rstrip())
    for t in table:
        lines.append("  ".join(v.ljust(w) for v, w in zip(t, widths)).rstrip())
    lines.append("(pooled: mean over subjects of each subject's first / last session, SE across subjects; "
                 "p: subjects with p < %g)" % SIGNIFICANCE)
    trend = dec["summary"].get("trend")
    if isinstance(trend, dict) and isinstance(trend.get(POOLED), dict):
        t = trend[POOLED].get(d + "_accuracy")
        if isinstance(t, dict) and isinstance(t.get("slope"), (int, float)) and isinstance(t.get("r"), (int, float)):
            lines.append("trend of %s accuracy over days (pooled, summary.json): %+.4f per day, r = %.3f"
                         % (d, t["slope"], t["r"]))
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Summary table (groove plot DIR --table; make demo prints it)

TABLE_STATS = (("train loss", "train_loss"), ("held-out loss", "heldout_loss"), ("min margin", "margin_min"),
               ("normalized margin (global)", "margin_norm_global"), ("train accuracy", "train_acc"))


def summary_table(folder):
    """Mean over the finished runs of a sweep (or one run): the groove onset, and the key statistics at the
    onset and at the end (train/probe loss, margins, Fisher discriminant, probe accuracy per group)."""
    if os.path.isfile(os.path.join(folder, "runs.csv")):
        header, rows = read_text_table(os.path.join(folder, "runs.csv"), ("run_id", "status"))
        i_id, i_status = header.index("run_id"), header.index("status")
        dirs = [os.path.join(folder, r[i_id]) for _, r in rows if r[i_status] in ("done", "diverged")]
    else:
        dirs = [folder]
    summaries = [s for s in (read_json(os.path.join(d, "summary.json")) for d in dirs) if s]
    if not summaries:
        raise PlotError("%s: no finished run with a summary.json" % folder)
    groups = summaries[0].get("heldout_groups", [])
    stats = list(TABLE_STATS)
    for g in groups:
        stats.append(("%s loss" % g, "%s_loss" % g))
        stats.append(("%s accuracy" % g, "%s_acc" % g))
        stats.append(("Fisher J target vs %s" % g, "fisher_%s_J" % g))
    onsets = [s["onset"]["step"] for s in summaries if isinstance(s.get("onset"), dict)]

    def mean_of(section, key):
        vals = [s.get(section, {}).get(key) for s in summaries]
        vals = [v for v in vals if isinstance(v, (int, float)) and math.isfinite(v)]
        return sum(vals) / len(vals) if vals else None

    def fmt(v):
        return "-" if v is None else "%.4g" % v

    lines = ["%s: %d run%s" % (folder, len(summaries), "" if len(summaries) == 1 else "s")]
    if onsets:
        lines.append("groove onset (train accuracy 100%%): step %s (mean %.0f over %d run%s)"
                     % (", ".join(str(o) for o in onsets), sum(onsets) / len(onsets), len(onsets),
                        "" if len(onsets) == 1 else "s"))
    else:
        lines.append("groove onset: not reached")
    width = max(len(name) for name, _ in stats)
    lines.append("%-*s  %12s  %12s" % (width, "statistic (mean over runs)", "at onset", "at end"))
    for name, key in stats:
        at_onset, at_end = mean_of("at_onset", key), mean_of("final", key)
        if at_onset is None and at_end is None:
            continue
        lines.append("%-*s  %12s  %12s" % (width, name, fmt(at_onset), fmt(at_end)))
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Command line

def detect(folder):
    for name, kind in (("decode.json", "decode"), ("reversal.csv", "reversal"), ("runs.csv", "sweep"),
                       ("metrics.csv", "run")):
        if os.path.isfile(os.path.join(folder, name)):
            return kind
    raise PlotError("%s: not a run, sweep, reversal or decode folder (no metrics.csv, runs.csv, reversal.csv or "
                    "decode.json)" % folder)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="groove plot", description="Figures of a groove run, sweep, reversal or "
                                     "decode folder (see the header of this script for the formats).")
    parser.add_argument("dir", metavar="DIR", help="run, sweep, reversal or decode folder")
    parser.add_argument("--out", metavar="FIGDIR", help="where to write the figures (default: DIR/figures)")
    parser.add_argument("--format", default="png", choices=PNG_FORMATS, help="image format (default: png)")
    parser.add_argument("--table", action="store_true",
                        help="first print a summary table (onset; statistics at onset and at the end; decode "
                        "folders: first and last day per subject and pooled)")
    args = parser.parse_args(argv)
    failures = []

    def emit(name, make):
        """Draws one figure; a failure is reported and the other figures still drawn."""
        try:
            path = make()
        except PlotError:
            raise
        except Exception as e:  # a bug or an unexpected file: report it, keep going, exit 1
            plt.close("all")
            failures.append(name)
            print("groove plot: error: %s (%s): %s: %s" % (name, args.dir, type(e).__name__, e), file=sys.stderr)
            return
        if path:
            print(path, flush=True)

    try:
        if not os.path.isdir(args.dir):
            raise PlotError("%s: no such folder" % args.dir)
        kind = detect(args.dir)
        figdir = args.out or os.path.join(args.dir, "figures")
        if kind == "decode":
            dec = load_decode(args.dir)
            if args.table:
                print(decode_table(dec), flush=True)
            render_decode(args.dir, figdir, args.format, emit, dec=dec)
            return 1 if failures else 0
        if args.table and kind != "reversal":
            print(summary_table(args.dir), flush=True)
        {"run": render_run, "sweep": render_sweep, "reversal": render_reversal}[kind](args.dir, figdir, args.format,
                                                                                      emit)
    except PlotError as e:
        print("groove plot: error: %s" % e, file=sys.stderr)
        return 1
    except OSError as e:
        print("groove plot: error: %s" % e, file=sys.stderr)
        return 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

"""Shared parts of the benchmark peers (torch_peer.py, jax_peer.py): reading a dump written by
`groove bench --dump DIR`, the curve check against groove, the step-count policy and the result
JSON. NumPy only; no framework is imported here.

A dump holds:
  bench.json   config {D, N, P, C, K, batch, Q, groups}, model {parameterization, gamma,
               activation, readout_scale}, loss, optimizer {kind, lr}, log_every, check_steps,
               columns (the per-step columns of curves.npz, in groove's order), device, groove
  init.npz     layer0.weight [K,N,D], layer0.bias [K,N], layer1.weight [K,C,N], layer1.bias [K,C]
  data.npz     x [P,D], labels [P], heldout_x [Q,D], heldout_labels [Q], heldout_groups [Q];
               with minibatches batch_index [check_steps, K, B]
  curves.npz   one f64 [check_steps, K] array per column; row s = statistics of theta_s
"""

import json
import math
import os
import platform
import statistics
import sys
import time

import numpy as np

LOG10E = 0.43429448190325182765

# The check (see README.md, "The check"):
#  - continuous columns: max over steps and models of |peer - groove| / peak, where peak is the
#    column's largest |groove| value over the checked steps for that model (so a column that
#    starts at 0, like w0_move, or crosses 0, like margin_min, is judged at the scale it reaches);
#    must be <= RTOL.
#  - accuracies (columns ending in _acc): |peer - groove| * n <= MAX_EXAMPLES, n the number of
#    examples behind the column (P, Q or the group's size): a couple of examples whose margin or
#    nearest class mean sits at a tie within rounding may differ.
#  - step: exact.  NaN must match NaN.
#  - where a fixed limit is exceeded: the peer's own code run in float64 (the reference) decides
#    whether groove is at least about as close to exact arithmetic as the peer's float32 run
#    (REF_FACTOR times its distance, never more than REF_CAP of the peak); see check_rows.
RTOL = 1e-4
MAX_EXAMPLES = 2
REF_FACTOR = 4.0
REF_CAP = 1e-2


class DumpError(Exception):
    pass


def fail(msg):
    raise DumpError(msg)


def _need(d, key, where):
    if key not in d:
        fail(f"{where}: missing field '{key}'")
    return d[key]


def _load_npz(path, keys, what):
    if not os.path.exists(path):
        fail(f"{path}: no such file ({what})")
    with np.load(path) as z:
        out = {}
        for k in keys:
            if k not in z.files:
                fail(f"{path}: missing array '{k}' (has {sorted(z.files)})")
            out[k] = z[k]
        rest = {k: z[k] for k in z.files if k not in keys}
    return out, rest


def _check_shape(arr, shape, path, name, dtype=None):
    if tuple(arr.shape) != tuple(shape):
        fail(f"{path}: '{name}' has shape {tuple(arr.shape)}, expected {tuple(shape)}")
    if dtype is not None and arr.dtype != dtype:
        fail(f"{path}: '{name}' is {arr.dtype}, expected {np.dtype(dtype)}")


class Dump:
    """The contents of a dump folder, validated."""

    def __init__(self, folder):
        self.folder = folder
        bj = os.path.join(folder, "bench.json")
        if not os.path.exists(bj):
            fail(f"{bj}: no such file (is '{folder}' a folder written by `groove bench --dump`?)")
        with open(bj) as fh:
            try:
                self.bench = json.load(fh)
            except ValueError as e:
                fail(f"{bj}: not valid JSON: {e}")
        b = self.bench
        cfg = _need(b, "config", bj)
        self.config = cfg
        for key in ("D", "N", "P", "C", "K", "Q"):
            v = _need(cfg, key, bj + " config")
            if not isinstance(v, int) or v < 0:
                fail(f"{bj}: config.{key} must be a non-negative integer, got {v!r}")
        self.D, self.N, self.P, self.C, self.K, self.Q = (cfg[k] for k in ("D", "N", "P", "C", "K", "Q"))
        self.batch = int(cfg.get("batch", 0) or 0)
        self.groups = list(cfg.get("groups", []))
        if self.C < 2:
            fail(f"{bj}: config.C = {self.C}; the peers implement softmax cross-entropy (C >= 2)")
        model = _need(b, "model", bj)
        self.parameterization = _need(model, "parameterization", bj + " model")
        if self.parameterization not in ("mean_field", "ntk", "standard"):
            fail(f"{bj}: model.parameterization '{self.parameterization}' is not implemented by the peers")
        self.activation = model.get("activation", "relu")
        if self.activation != "relu":
            fail(f"{bj}: model.activation '{self.activation}' is not implemented by the peers (relu only)")
        self.gamma = float(model.get("gamma", 1.0))
        # The readout scale as groove applies it: float32(1 / (gamma N)) for mean field, else 1.
        if self.parameterization == "mean_field":
            rs = model.get("readout_scale")
            self.readout_scale = float(np.float32(1.0 / (self.gamma * self.N))) if rs is None else float(rs)
            if float(np.float32(self.readout_scale)) != self.readout_scale:
                fail(f"{bj}: model.readout_scale {self.readout_scale!r} is not a float32 value")
        else:
            self.readout_scale = 1.0
        # Hidden layer: 1/sqrt(D) multiplies the product for ntk and mean_field, 1 for standard.
        self.hidden_scale = 1.0 if self.parameterization == "standard" else 1.0 / math.sqrt(self.D)
        hs = model.get("hidden_scale")
        if isinstance(hs, (int, float)) and not isinstance(hs, bool):
            self.hidden_scale = float(hs)
        elif hs is not None:
            named = {"1/sqrt(D)": 1.0 / math.sqrt(self.D), "1": 1.0}
            if hs not in named:
                fail(f"{bj}: model.hidden_scale {hs!r} is not understood (expected a number, '1/sqrt(D)' or '1')")
            self.hidden_scale = named[hs]
        loss = _need(b, "loss", bj)
        if loss != "cross_entropy":
            fail(f"{bj}: loss '{loss}' is not implemented by the peers (cross_entropy only)")
        opt = _need(b, "optimizer", bj)
        if _need(opt, "kind", bj + " optimizer") != "sgd":
            fail(f"{bj}: optimizer.kind '{opt['kind']}' is not implemented by the peers (plain sgd only)")
        for key in ("weight_decay", "momentum"):
            if float(opt.get(key, 0) or 0) != 0:
                fail(f"{bj}: optimizer.{key} = {opt[key]}; the peers implement plain SGD only")
        self.lr = float(_need(opt, "lr", bj + " optimizer"))
        self.log_every = int(b.get("log_every", 1000))
        if self.log_every < 1:
            fail(f"{bj}: log_every must be >= 1")
        self.check_steps = int(_need(b, "check_steps", bj))
        self.columns = list(_need(b, "columns", bj))
        self.groove = b.get("groove", {})
        self.groove_device = b.get("device", "?")

        K, N, D, C, P, Q = self.K, self.N, self.D, self.C, self.P, self.Q
        path = os.path.join(folder, "init.npz")
        names = ["layer0.weight", "layer0.bias", "layer1.weight", "layer1.bias"]
        init, rest = _load_npz(path, names, "initial parameters")
        if rest:
            fail(f"{path}: unexpected parameters {sorted(rest)} (the peers implement a 2-layer MLP with biases)")
        for name, shape in zip(names, [(K, N, D), (K, N), (K, C, N), (K, C)]):
            _check_shape(init[name], shape, path, name, np.float32)
        self.init = init

        path = os.path.join(folder, "data.npz")
        keys = ["x", "labels"] + (["heldout_x", "heldout_labels", "heldout_groups"] if Q > 0 else [])
        if self.batch > 0:
            keys.append("batch_index")
        data, _ = _load_npz(path, keys, "training and held-out data")
        _check_shape(data["x"], (P, D), path, "x", np.float32)
        _check_shape(data["labels"], (P,), path, "labels")
        self.x = data["x"]
        self.labels = data["labels"].astype(np.int64)
        if self.labels.min() < 0 or self.labels.max() >= C:
            fail(f"{path}: labels outside [0, {C})")
        if Q > 0:
            _check_shape(data["heldout_x"], (Q, D), path, "heldout_x", np.float32)
            _check_shape(data["heldout_labels"], (Q,), path, "heldout_labels")
            _check_shape(data["heldout_groups"], (Q,), path, "heldout_groups")
            self.heldout_x = data["heldout_x"]
            self.heldout_labels = data["heldout_labels"].astype(np.int64)
            self.heldout_groups = data["heldout_groups"].astype(np.int64)
            if self.heldout_labels.min() < 0 or self.heldout_labels.max() >= C:
                fail(f"{path}: heldout_labels outside [0, {C})")
            if len(self.groups) and (self.heldout_groups.min() < 0 or self.heldout_groups.max() >= len(self.groups)):
                fail(f"{path}: heldout_groups outside [0, {len(self.groups)}) (config.groups = {self.groups})")
        else:
            self.heldout_x = np.zeros((0, D), np.float32)
            self.heldout_labels = np.zeros((0,), np.int64)
            self.heldout_groups = np.zeros((0,), np.int64)
        if self.batch > 0:
            bi = data["batch_index"]
            if bi.ndim != 3 or bi.shape[1:] != (K, self.batch) or bi.shape[0] < 1:
                fail(f"{path}: 'batch_index' has shape {bi.shape}, expected [check_steps, {K}, {self.batch}]")
            if bi.min() < 0 or bi.max() >= P:
                fail(f"{path}: 'batch_index' holds indices outside [0, {P})")
            self.batch_index = bi.astype(np.int64)
        else:
            self.batch_index = None

        path = os.path.join(folder, "curves.npz")
        curves, _ = _load_npz(path, self.columns, "groove's per-step statistics")
        rows = None
        for c in self.columns:
            a = curves[c]
            if a.ndim != 2 or a.shape[1] != K:
                fail(f"{path}: '{c}' has shape {a.shape}, expected [check_steps, {K}]")
            rows = a.shape[0] if rows is None else rows
            if a.shape[0] != rows:
                fail(f"{path}: '{c}' has {a.shape[0]} rows, other columns {rows}")
        self.curves = {c: curves[c].astype(np.float64) for c in self.columns}
        self.curve_rows = rows or 0
        if self.curve_rows < self.check_steps:
            fail(f"{path}: {self.curve_rows} rows, bench.json check_steps = {self.check_steps}")
        if self.batch > 0 and self.batch_index.shape[0] < self.check_steps:
            fail(f"{path}: batch_index has {self.batch_index.shape[0]} steps, check_steps = {self.check_steps}")

    def describe(self):
        return (f"D={self.D} N={self.N} P={self.P} C={self.C} K={self.K} Q={self.Q} "
                f"batch={self.batch or 'full'} {self.parameterization} lr={self.lr:g}")


def known_columns(layers, groups):
    """The per-step columns the peers compute, in groove's order (kernels/stats_ops.h)."""
    cols = ["step", "train_loss", "train_log10_loss", "train_acc", "margin_min", "margin_mean", "margin_q01",
            "margin_q05", "margin_norm_prod", "margin_norm_global", "margin_readout", "train_ncm_acc",
            "centroid_dist", "within_var", "grad_norm", "weight_norm", "heldout_loss", "heldout_log10_loss",
            "heldout_acc", "heldout_ncm_acc"]
    for layer in range(layers):
        cols += [f"w{layer}_norm", f"w{layer}_move"]
    for g in groups:
        cols += [f"{g}_loss", f"{g}_log10_loss", f"{g}_acc", f"{g}_ncm_acc"]
    return cols


def check_columns(dump):
    known = known_columns(2, dump.groups)
    unknown = [c for c in dump.columns if c not in known]
    if unknown:
        fail(f"{os.path.join(dump.folder, 'bench.json')}: columns {unknown} are not computed by the peers "
             f"(they compute {known})")


def quantile_plan(n, qs=(0.01, 0.05)):
    """numpy's linear interpolation of the q-quantile of n sorted values: index lo, hi and weight;
    and how many of the smallest values are needed (for a partial sort)."""
    plan = []
    for q in qs:
        h = q * (n - 1)
        lo = int(math.floor(h))
        hi = lo + 1 if lo + 1 < n else lo
        plan.append((lo, hi, h - lo))
    need = max(hi for _, hi, _ in plan) + 1
    return plan, min(max(need, 1), n)


def example_counts(dump):
    """Number of examples behind each accuracy column."""
    n = {}
    for c in dump.columns:
        if not c.endswith("_acc"):
            continue
        if c.startswith("train_"):
            n[c] = dump.P
        elif c.startswith("heldout_"):
            n[c] = dump.Q
        else:
            g = c[: -len("_ncm_acc")] if c.endswith("_ncm_acc") else c[: -len("_acc")]
            if g in dump.groups:
                n[c] = int(np.sum(dump.heldout_groups == dump.groups.index(g)))
            else:
                n[c] = dump.Q
    return n


def column_errors(columns, a, b, peak_rows, counts):
    """Per column: (unit, err [K], score [steps, K], nan mismatch [steps, K]) of run a against run b,
    all f64 [steps, K, columns]; continuous columns are normalized by the per-model peak of
    peak_rows (groove's rows), accuracies counted in examples (counts: {column: examples})."""
    out = {}
    for j, c in enumerate(columns):
        g = peak_rows[:, :, j]
        x, y = a[:, :, j], b[:, :, j]
        bad_nan = np.isnan(x) != np.isnan(y)
        ok = ~np.isnan(x) & ~np.isnan(y)
        diff = np.where(ok, np.abs(x - y), 0.0)
        if c == "step":
            unit, score = "exact", diff
        elif c in counts:
            unit, score = "examples", np.round(diff * counts[c], 6)
        else:
            peak = np.max(np.where(np.isnan(g), 0.0, np.abs(g)), axis=0, initial=0.0)
            peak = np.where(peak > 0, peak, 1.0)
            unit, score = "of peak", diff / peak[None, :]
        out[c] = (unit, score.max(axis=0, initial=0.0), score, bad_nan)
    return out


def _models(ks, limit=4):
    ks = [int(k) for k in ks]
    text = ", ".join(str(k) for k in ks[:limit])
    return text + (f" and {len(ks) - limit} more" if len(ks) > limit else "")


def check_rows(columns, groove, peer, counts, rtol=RTOL, max_examples=MAX_EXAMPLES, reference=None):
    """The check of the peer's rows against groove's, both f64 [steps, K, columns].

    A column passes for a model when |peer - groove| is within the fixed limit over every step
    (rtol of groove's per-model peak, or max_examples examples for accuracies; step exact; NaN
    where the other has NaN fails). Where some column exceeds its fixed limit (and no NaN mismatch
    or `step` already fails the check), `reference` is called once: a function returning the rows
    of the peer's own code run in float64 ([>= steps, K, columns]). For each column c and model k
    over the limit, with g_k = max over steps |groove - reference| on model k and p = max over
    steps and models |peer - reference| (the same units), the error is accepted when

        g_k <= max(fixed limit, min(REF_FACTOR * p, REF_CAP))     (no cap for accuracies)

    i.e. groove is at least about as close to exact arithmetic as the peer's own float32 run, and
    never further than REF_CAP of the peak from it. Two correct float32 runs both leave exact
    arithmetic by amplified rounding; a bug in the peer is in its float64 run too (groove then
    leaves the reference by the bug's size while the peer does not), and a bug in groove moves
    groove alone: either fails. p is the peer's largest distance over all the models, not model
    k's own: statistics such as grad_norm jump where a ReLU pre-activation sits within rounding of
    0 (one example's contribution to the gradient comes or goes for a step), events that hit
    either f32 run on a few (model, step) pairs at random; the peer's largest over K models
    measures how large they get on this workload.

    Returns (passed, max_errors {column: worst |peer - groove| over models, inf on a NaN
    mismatch}, report lines, failures [(column, step, model, message)], notes, reference distances
    ({column: {"groove": max g, "peer": max p}} over models, None when the reference did not run))."""
    steps = groove.shape[0]
    peer = peer[:steps]
    errs = column_errors(columns, peer, groove, groove, counts)
    limits = {c: (0.0 if u == "exact" else float(max_examples) if u == "examples" else rtol)
              for c, (u, _, _, _) in errs.items()}
    over = {c for c, (u, e, _, bad) in errs.items() if bad.any() or (e > limits[c]).any()}
    hard = any(errs[c][3].any() or c == "step" for c in over)
    ref_g = ref_p = ref_rows = None
    ref_error = None
    if over and reference is not None and not hard:
        try:
            ref_rows = np.asarray(reference(), dtype=np.float64)
            if ref_rows.ndim != 3 or ref_rows.shape[0] < steps or ref_rows.shape[1:] != groove.shape[1:]:
                raise ValueError(f"the float64 reference has shape {ref_rows.shape}, expected "
                                 f"[>= {steps}, {groove.shape[1]}, {groove.shape[2]}]")
            ref_rows = ref_rows[:steps]
            ref_g = column_errors(columns, groove, ref_rows, groove, counts)
            ref_p = column_errors(columns, peer, ref_rows, groove, counts)
        except Exception as e:  # the check then fails on the fixed limits, and says why
            ref_error = f"{type(e).__name__}: {e}"
            ref_rows = None
    max_errors, lines, failures, notes = {}, [], [], []
    distances = {} if ref_rows is not None else None
    for j, c in enumerate(columns):
        unit, e, score, bad = errs[c]
        fixed = limits[c]
        worst = float(e.max(initial=0.0))
        max_errors[c] = worst if not bad.any() else float("inf")
        extra = ""
        g = p = allowed = None
        if ref_rows is not None and unit != "exact":
            g = np.where(ref_g[c][3].any(axis=0), np.inf, ref_g[c][1])  # NaN against the reference: never accepted
            p = np.where(ref_p[c][3].any(axis=0), 0.0, ref_p[c][1])  # ... and no evidence of rounding
            p_all = float(p.max(initial=0.0))  # the peer's largest distance, over the models
            k_all = int(np.argmax(p)) if p.size else 0
            cap = REF_CAP if unit == "of peak" else np.inf
            allowed = max(fixed, min(REF_FACTOR * p_all, cap))
            distances[c] = {"groove": float(g.max(initial=0.0)), "peer": p_all}
            extra = f"; float64 reference: groove {float(g.max(initial=0.0)):.3g}, peer {p_all:.3g}"
        lines.append(f"  {c:24s} {worst:10.3g} {unit:9s} (limit {fixed:g}{extra})")
        if bad.any():
            s, k = np.argwhere(bad)[0]
            failures.append((c, int(s), int(k), f"NaN mismatch: groove {float(groove[s, k, j])!r}, "
                             f"peer {float(peer[s, k, j])!r}"))
            continue
        over_k = e > fixed
        if not over_k.any():
            continue
        if allowed is None:  # no reference (none given, not run, or it failed)
            k = int(np.argmax(e - fixed))
            s = int(np.argmax(score[:, k]))
            why = f"error {e[k]:.3g} {unit} > {fixed:g}"
            if ref_error is not None:
                why += f" (no float64 reference: {ref_error})"
            elif reference is not None and hard and unit != "exact":
                why += " (float64 reference not run: a NaN mismatch or the step column fails the check anyway)"
            failures.append((c, s, k, f"{why}: groove {float(groove[s, k, j])!r}, peer {float(peer[s, k, j])!r}"))
            continue
        fails = over_k & ~(g <= allowed)
        if fails.any():
            k = int(np.argmax(np.where(fails, g - allowed, -np.inf)))
            nan_k = ref_g[c][3][:, k]  # a NaN against the reference, else groove's largest distance from it
            s = int(np.argmax(nan_k)) if nan_k.any() else int(np.argmax(ref_g[c][2][:, k]))
            capped = unit == "of peak" and REF_FACTOR * p_all > REF_CAP
            why = (f"error {e[k]:.3g} {unit} > {fixed:g}, and groove leaves the peer's float64 reference by "
                   f"{g[k]:.3g} while the peer's f32 run leaves it by {p[k]:.3g} on this model, {p_all:.3g} at "
                   f"most (model {k_all}) -> limit {allowed:.3g} ("
                   + (f"max(fixed limit, min({REF_FACTOR:g} x peer, {REF_CAP:g}))" if unit == "of peak"
                      else f"max(fixed limit, {REF_FACTOR:g} x peer)") + (", capped)" if capped else ")"))
            n_fail = int(fails.sum())
            if n_fail > 1:
                why += f" [{n_fail} models fail: {_models(np.flatnonzero(fails))}]"
            failures.append((c, s, k, f"{why}: at step {s} groove {float(groove[s, k, j])!r}, peer "
                             f"{float(peer[s, k, j])!r}, float64 reference {float(ref_rows[s, k, j])!r}"))
            continue
        ks = sorted(np.flatnonzero(over_k), key=lambda k: -e[k])
        parts = [f"model {int(k)} (error {e[k]:.3g} at step {int(np.argmax(score[:, k]))}; groove {g[k]:.3g}, "
                 f"peer {p[k]:.3g})" for k in ks[:16]]
        notes.append(f"{c}: error over the fixed limit {fixed:g} {unit} on {len(ks)} model(s), accepted: the peer's "
                     f"f32 run leaves its float64 reference by {p_all:.3g} (model {k_all}), groove by "
                     f"{float(g[ks].max()):.3g} at most: " + ", ".join(parts)
                     + (f" and {len(ks) - 16} more" if len(ks) > 16 else ""))
    return not failures, max_errors, lines, failures, notes, distances


def compare(dump, peer_rows, steps, rtol=RTOL, max_examples=MAX_EXAMPLES, reference=None):
    """check_rows for a dump: the peer's rows (f64 [steps, K, columns], the dump's column order)
    against groove's curves over the first `steps` steps. `reference`: see check_rows."""
    return check_rows(dump.columns, _groove_rows(dump, steps), peer_rows[:steps], example_counts(dump),
                      rtol, max_examples, reference)


def _groove_rows(dump, steps):
    return np.stack([dump.curves[c][:steps] for c in dump.columns], axis=-1)


def save_rows(path, rows):
    """--save-rows: the check rows, f64 [steps, K, columns] in the dump's column order (.npy)."""
    np.save(path, np.asarray(rows, dtype=np.float64))
    print(f"rows: {rows.shape[0]} steps x {rows.shape[1]} model(s) x {rows.shape[2]} columns saved to {path}")
    sys.stdout.flush()


def float64_reference(script, args, dump, steps):
    """A function running `script` (a peer) in this interpreter, in a subprocess, with `args` and
    `--dtype float64 --save-rows FILE` on the dump, and returning the rows it saved: the reference
    of the check (float64 needs its own process: JAX's x64 switch is process-wide)."""
    def reference():
        import subprocess
        import tempfile
        with tempfile.TemporaryDirectory(prefix="groove-peer-f64-") as tmp:
            path = os.path.join(tmp, "rows.npy")
            cmd = [sys.executable, script, dump.folder] + list(args) + ["--dtype", "float64", "--save-rows", path]
            print(f"check: a fixed limit is exceeded; running the peer in float64 for its reference "
                  f"({os.path.basename(script)} {' '.join(args)} --dtype float64)")
            sys.stdout.flush()
            t = time.perf_counter()
            r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            if r.returncode != 0 or not os.path.exists(path):
                tail = " | ".join(r.stdout.strip().splitlines()[-5:])
                raise RuntimeError(f"the float64 run exited {r.returncode}: {tail}")
            rows = np.load(path)
            print(f"check: float64 reference computed in {time.perf_counter() - t:.1f} s")
            sys.stdout.flush()
        return rows[:steps]
    return reference


def add_common_arguments(ap, dtype_note=""):
    """The options every peer takes besides its own (--mode, --device, --threads): the dump, the
    timing and the check."""
    ap.add_argument("dump", help="folder written by `groove bench --dump`")
    ap.add_argument("--steps", type=int, default=0,
                    help="steps per timed repeat (default: 10000 on a GPU; on a CPU enough for ~1 s, >= 100)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--min-time", type=float, default=1.0, help="CPU: seconds per timed repeat when --steps is not given")
    ap.add_argument("--out", default="", help="write the result JSON here")
    ap.add_argument("--rtol", type=float, default=RTOL, help="check: continuous columns, fraction of peak")
    ap.add_argument("--max-examples", type=int, default=MAX_EXAMPLES, help="check: accuracies, examples")
    ap.add_argument("--check-only", action="store_true", help="run the check and stop (no timing)")
    ap.add_argument("--no-check", action="store_true",
                    help="time without checking against groove (the result records the check as skipped)")
    ap.add_argument("--save-rows", default="", metavar="FILE.npy",
                    help="save the check rows (f64 [check_steps, K, columns]) to this .npy file")
    ap.add_argument("--dtype", choices=["float32", "float64"], default="float32",
                    help=f"float64{dtype_note}: the check's reference; computes and saves (--save-rows) the rows only")


def parse_common(ap, argv):
    """Parses argv and rejects the combinations of the common options that make no sense."""
    args = ap.parse_args(argv)
    if args.dtype == "float64" and not args.save_rows:
        ap.error("--dtype float64 computes the check rows only: give --save-rows FILE.npy")
    if args.no_check and (args.check_only or args.dtype == "float64" or args.save_rows):
        ap.error("--no-check cannot be combined with --check-only, --dtype float64 or --save-rows")
    return args


def drain_interval(dump):
    """Rows per copy to the host, as groove's Monitor sizes its device ring (metrics/monitor.cpp):
    log_every, reduced so the ring of rows (f64, the per-step columns and `step`) and margins
    (f32, P + Q per model) stays within ring_bytes (bench.json's, else groove's default 256 MiB).
    At K = 1024 on piriform-1k that is every 102 steps."""
    ring_bytes = int(dump.bench.get("ring_bytes", 256 << 20))
    cols = len(dump.columns) + (0 if "step" in dump.columns else 1)
    row_bytes = dump.K * (cols * 8 + (dump.P + dump.Q) * 4)
    return max(1, min(dump.log_every, ring_bytes // max(1, row_bytes)))


def choose_steps(requested, gpu, step_seconds, log_every, min_time=1.0):
    """Steps per timed repeat: as requested, else 10000 on a GPU (or more, to cover min_time), else
    enough for ~min_time seconds (at least 3; when that is >= 100 steps: the smallest divisor of log_every that is >= 100 and
    covers it, else a multiple of log_every (so the rows reach the host at the same cadence as
    groove's, every log_every)."""
    if requested:
        return int(requested)
    n = int(math.ceil(min_time / max(step_seconds, 1e-9)))
    if gpu:
        return max(10000, int(math.ceil(n / float(log_every))) * log_every)
    if n < 100:  # heavy steps (e.g. 64 piriform models on a CPU): a few steps are a long repeat
        return max(3, n)
    for d in range(100, log_every + 1):
        if log_every % d == 0 and d >= n:
            return d
    return int(math.ceil(n / float(log_every))) * log_every


def flops_per_model_step(dump):
    """Approximate FLOPs of one model's training step (PERF.md: 4 P D N + 6 P N C for the
    forward and backward on the training batch), plus the clean forward passes the statistics
    need (held-out examples; the whole training set with minibatches)."""
    n = dump.batch or dump.P
    train = 4 * n * dump.D * dump.N + 6 * n * dump.N * dump.C
    clean = 2 * (dump.Q + (dump.P if dump.batch else 0)) * (dump.D * dump.N + dump.N * dump.C)
    return float(train + clean)


def write_result(path, result):
    text = json.dumps(result, indent=2, sort_keys=False)
    if path:
        with open(path, "w") as fh:
            fh.write(text + "\n")
    return text


def base_result(peer, dump, framework_version, device, threads):
    return {
        "peer": peer,
        "framework_version": framework_version,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "host": platform.node(),
        "device": device,
        "threads": threads,
        "dump": os.path.abspath(dump.folder),
        "config": dict(dump.config, lr=dump.lr, log_every=dump.log_every,
                       parameterization=dump.parameterization, readout_scale=dump.readout_scale),
        "groove": dump.groove,
        "groove_device": dump.groove_device,
    }


def finish_timing(result, dump, steps, seconds, compile_seconds):
    med = statistics.median(seconds)
    sps = steps / med if med > 0 else float("inf")
    result.update({
        "steps_per_repeat": steps,
        "repeat_seconds": seconds,
        "steps_per_s": sps,
        "model_steps_per_s": sps * dump.K,
        "us_per_step": 1e6 / sps,
        "flops_per_model_step": flops_per_model_step(dump),
        "achieved_flops_per_s": flops_per_model_step(dump) * sps * dump.K,
        "compile_seconds": compile_seconds,
    })
    return result


def summary_line(result):
    return (f"{result['peer']}: {result['steps_per_s']:.1f} steps/s ({result['us_per_step']:.1f} us/step, "
            f"{result['model_steps_per_s']:.1f} model-steps/s, {result['achieved_flops_per_s'] / 1e9:.2f} GFLOP/s) "
            f"median of {len(result['repeat_seconds'])} x {result['steps_per_repeat']} steps on {result['device']}; "
            f"compile {result['compile_seconds']:.2f} s; "
            + ("check skipped (--no-check)" if result.get("check", {}).get("skipped") else "check passed"))


def print_check(dump, passed, lines, failures, steps, rtol, max_examples, notes=()):
    print(f"check: {steps} steps x {dump.K} model(s) against groove ({dump.groove_device}); limits: continuous "
          f"columns {rtol:g} of the column's peak, accuracies {max_examples} examples, step exact; over them, "
          f"groove within max(limit, min({REF_FACTOR:g} x the peer's, {REF_CAP:g} of peak)) of the peer's "
          "float64 reference")
    for line in lines:
        print(line)
    for note in notes:
        print(f"note: {note}")
    for c, s, k, msg in failures:
        print(f"CHECK FAILED: column {c}, step {s}, model {k}: {msg}")
    sys.stdout.flush()


def load_dump(path):
    """The dump of `path` with its columns checked, or None after printing the error (exit 2)."""
    try:
        dump = Dump(path)
        check_columns(dump)
        return dump
    except DumpError as e:
        print(f"error: {e}")
        return None


def check_record(steps, max_errors, notes, distances, rtol, max_examples):
    """The result JSON's `check` after a passed check."""
    return {"steps": steps, "passed": True, "max_errors": max_errors, "notes": notes,
            # None unless the float64 reference ran: {column: {"groove": g, "peer": p}} (null: not finite)
            "reference": None if distances is None else {
                c: {k: (v if math.isfinite(v) else None) for k, v in d.items()} for c, d in distances.items()},
            "limits": {"continuous_fraction_of_peak": rtol, "accuracy_examples": max_examples,
                       "reference_factor": REF_FACTOR, "reference_cap": REF_CAP}}


def skipped_check(steps):
    """The result JSON's `check` with --no-check (bench/compare: rounds after a passed check)."""
    return {"skipped": True, "passed": None, "steps": 0, "check_steps": steps,
            "why": "--no-check: timed without checking (an earlier invocation checked this dump)"}

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
RTOL = 1e-4
MAX_EXAMPLES = 2
TWIN_FACTOR = 4.0
TWIN_CAP = 1e-2
TWIN_ORDERS = (0, 1)  # reversed, one random order


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


def _column_errors(dump, a, b, steps, counts):
    """Per column: (unit, err [K], score [steps, K], nan mismatch [steps, K]) of run a against run b,
    both f64 [steps, K, columns]; continuous columns are normalized by groove's per-model peak."""
    out = {}
    for j, c in enumerate(dump.columns):
        g = dump.curves[c][:steps]
        x, y = a[:steps, :, j], b[:steps, :, j]
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


def compare(dump, peer_rows, steps, rtol=RTOL, max_examples=MAX_EXAMPLES, twins=None):
    """Checks the peer's rows (f64 [steps, K, columns]) against groove's curves.

    A column passes for a model when its error is within the fixed limit (rtol of the peak, or
    max_examples for accuracies; step exact). Where it is not, and `twins` is given (a function
    returning the rows of the same peer run with the examples presented in other orders: the same
    computation, rounded differently), the error is accepted as amplified fp32 rounding when it
    is at most TWIN_FACTOR times the largest distance between the peer and its twins on that
    column and model, and that distance stays under TWIN_CAP of the peak (beyond it the run has
    forgotten its rounding and no check can tell a bug from it). A bug in either implementation
    moves the curves away from the peer's own twins, which share its code, so it still fails.

    Returns (passed, max_errors {column: worst error over models}, report lines, failures
    [(column, step, model, message)], notes)."""
    counts = example_counts(dump)
    errs = _column_errors(dump, peer_rows, _groove_rows(dump, steps), steps, counts)
    limits = {c: (0.0 if u == "exact" else float(max_examples) if u == "examples" else rtol)
              for c, (u, _, _, _) in errs.items()}
    over = {c for c, (u, e, _, bad) in errs.items() if bad.any() or (e > limits[c]).any()}
    twin_errs = None
    if over and twins is not None and not any(errs[c][3].any() or c == "step" for c in over):
        runs = twins()
        twin_errs = [_column_errors(dump, peer_rows, r, steps, counts) for r in runs]
    max_errors, lines, failures, notes = {}, [], [], []
    for c, (unit, e, score, bad) in errs.items():
        limit = np.full(e.shape, limits[c])
        twin = None
        if c in over and twin_errs is not None and unit != "exact":
            twin = np.max([t[c][1] for t in twin_errs], axis=0)
            cap = TWIN_CAP if unit == "of peak" else np.inf
            allowed = np.where(twin <= cap, TWIN_FACTOR * twin, 0.0)
            limit = np.maximum(limit, allowed)
        worst = float(e.max(initial=0.0))
        max_errors[c] = worst if not bad.any() else float("inf")
        extra = ""
        if twin is not None:
            extra = f"; twins differ by {float(twin.max()):.3g} -> limit {float(limit.max()):.3g}"
        lines.append(f"  {c:24s} {worst:10.3g} {unit:9s} (limit {limits[c]:g}{extra})")
        if bad.any():
            s, k = np.argwhere(bad)[0]
            failures.append((c, int(s), int(k), f"NaN mismatch: groove {float(dump.curves[c][s, k])!r}, "
                             f"peer {float(peer_rows[s, k, dump.columns.index(c)])!r}"))
            continue
        fails = e > limit
        if fails.any():
            k = int(np.argmax(np.where(fails, e - limit, -np.inf)))
            s = int(np.argmax(score[:, k]))
            g, p = float(dump.curves[c][s, k]), float(peer_rows[s, k, dump.columns.index(c)])
            why = f"error {e[k]:.3g} {unit} > {limit[k]:.3g}"
            if twin is not None:
                why += (f" (fixed limit {limits[c]:g}; the peer's reordered twins differ by {twin[k]:.3g}"
                        f"{', over the cap' if unit == 'of peak' and twin[k] > TWIN_CAP else ''})")
            failures.append((c, s, k, f"{why}: groove {g!r}, peer {p!r}"))
        elif twin is not None and (e > limits[c]).any():
            notes.append(f"{c}: error {worst:.3g} {unit} over the fixed limit {limits[c]:g}, accepted as amplified "
                         f"fp32 rounding: the peer's reordered twins differ from it by up to {float(twin.max()):.3g}")
    return not failures, max_errors, lines, failures, notes


def _groove_rows(dump, steps):
    return np.stack([dump.curves[c][:steps] for c in dump.columns], axis=-1)


def permuted(dump, order_seed):
    """A copy of the dump with the training and held-out examples in another order (seed 0:
    reversed; else a random permutation): the same run, rounded differently."""
    import copy
    d = copy.copy(dump)
    rng = np.random.default_rng(order_seed)
    pp = np.arange(dump.P)[::-1].copy() if order_seed == 0 else rng.permutation(dump.P)
    pq = np.arange(dump.Q)[::-1].copy() if order_seed == 0 else rng.permutation(dump.Q)
    d.x, d.labels = dump.x[pp].copy(), dump.labels[pp].copy()
    d.heldout_x, d.heldout_labels = dump.heldout_x[pq].copy(), dump.heldout_labels[pq].copy()
    d.heldout_groups = dump.heldout_groups[pq].copy()
    if dump.batch_index is not None:
        inverse = np.empty_like(pp)
        inverse[pp] = np.arange(dump.P)
        d.batch_index = inverse[dump.batch_index]
    return d


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
            f"compile {result['compile_seconds']:.2f} s; check passed")


def print_check(dump, passed, lines, failures, steps, rtol, max_examples, notes=()):
    print(f"check: {steps} steps x {dump.K} model(s) against groove ({dump.groove_device}); limits: continuous "
          f"columns {rtol:g} of the column's peak, accuracies {max_examples} examples, step exact")
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

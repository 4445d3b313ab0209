#!/usr/bin/env python3
"""Peer check: groove's training matches PyTorch.

usage: torch_parity.py DRIVER WORKDIR [--seed S]   (--seed: run every case with seed S instead of its own)

For each case, runs `DRIVER --out WORKDIR/CASE --case CASE` (tests/peers/parity_driver.cpp),
which trains a small K = 1 f32 MLP with groove's Trainer and writes init.npz, data.npz,
final.npz and losses.npy. This script rebuilds the same model in PyTorch (float32) from
init.npz, with the same parameterization, loss and optimizer (torch.optim), trains the same
number of full-batch steps and compares every final parameter tensor:

    final-normalized error = max|groove - torch| / (max|torch| + 1e-12)  <=  1e-5  (per tensor)

and the per-step mean losses the same way (relative to the largest loss).

One documented exception (printed whenever it is used, never silently): two correct fp32
implementations differ by a few ulps per step, at the magnitude the tensor has *during* the run.
A tensor that shrinks to a small final value after being large (a 2-class readout bias that
crosses zero, say) turns those ulps into a large final-normalized error although every step
agrees. Such a tensor passes only when both
  (a) its error normalized by its peak magnitude over the run, max_t max|torch_t|, is <= 1e-5, and
  (b) groove is no farther than PyTorch's own float32 run from a float64 PyTorch reference of
      the same run (within a factor of 2): a bug moves groove away from the exact answer,
      rounding does not.
A second exception covers runs that amplify rounding (Adam late in a run, when gradients are at
the rounding level and every step moves each parameter by about lr whatever their sign): a
tensor passes when another float32 implementation of the same run lands more than 1e-5 from the
float64 reference and groove is within twice the farthest such distance. The other
implementations: PyTorch with the examples presented in ORDERS other orders (reversed and random;
the same full-batch run, rounded differently) and, for Adam, Adam written out with the first
moment updated as PyTorch 1.x does (beta1 m + (1 - beta1) g) and as PyTorch 2.x does
(lerp(m, g, 1 - beta1)). Where a float32 run lands is then luck: in mlp_adam_ce, float32 runs land
either 5e-7 or 1e-4 from the float64 run (a discrete event decides which; the form of the
first-moment update alone moves a run from one to the other). With Debian's PyTorch 1.13 groove
and PyTorch agree to 5e-7; with PyTorch 2.11 (lerp), PyTorch lands near the float64 run and groove
1e-4 from both.

Exit status: 0 when every case passes, 1 when one fails, 77 (skip) when PyTorch is missing.
"""

import math
import os
import subprocess
import sys

import numpy as np

TOLERANCE = 1e-5
ORDERS = 6  # example orders of the rounding-amplification check

# What each case must be, independently of the driver (the driver writes its hyperparameters into
# data.npz; they are checked against this table so the two sides cannot drift apart silently).
CASES = {
    "mlp_sgd_ce": dict(parameterization="standard", hidden=[32], activation="relu", output_dim=3,
                       loss="cross_entropy", optimizer="sgd", lr=0.1, weight_decay=0.0),
    "mlp_momentum_logistic": dict(parameterization="ntk", hidden=[32, 16], activation="tanh", output_dim=1,
                                  loss="logistic", optimizer="momentum", lr=0.05, momentum=0.9,
                                  weight_decay=1e-3),
    "mlp_adam_ce": dict(parameterization="mean_field", gamma=0.5, hidden=[64], activation="relu", output_dim=2,
                        loss="cross_entropy", optimizer="adam", lr=1e-2, weight_decay=0.0),
    "mlp_adamw_mse": dict(parameterization="standard", hidden=[16], activation="gelu", output_dim=2,
                          loss="squared_error", optimizer="adamw", lr=1e-2, weight_decay=1e-2),
    "nesterov_hinge": dict(parameterization="standard", hidden=[32], activation="leaky_relu", slope=0.01,
                           output_dim=1, loss="hinge", margin=1.0, optimizer="nesterov", lr=0.05, momentum=0.9,
                           weight_decay=0.0),
}


def text(arr):
    return "".join(chr(int(c)) for c in np.asarray(arr).reshape(-1))


def scalar(arr):
    return float(np.asarray(arr).reshape(-1)[0])


def read_hyper(data):
    """The case description the driver wrote into data.npz."""
    return dict(
        case=text(data["case"]),
        parameterization=text(data["parameterization"]),
        hidden=[int(v) for v in data["hidden"]],
        output_dim=int(data["output_dim"][0]),
        activation=text(data["activation"]),
        slope=scalar(data["slope"]),
        loss=text(data["loss"]),
        margin=scalar(data["margin"]),
        optimizer=text(data["optimizer"]),
        lr=scalar(data["lr"]),
        momentum=scalar(data["momentum"]),
        beta1=scalar(data["beta1"]),
        beta2=scalar(data["beta2"]),
        eps=scalar(data["eps"]),
        weight_decay=scalar(data["weight_decay"]),
        gamma=scalar(data["gamma"]),
        steps=int(data["steps"][0]),
    )


def check_hyper(name, hyper):
    expected = CASES[name]
    if hyper["case"] != name:
        raise RuntimeError(f"data.npz describes case '{hyper['case']}', expected '{name}'")
    for key, want in expected.items():
        got = hyper[key]
        same = got == want if not isinstance(want, float) else math.isclose(got, want, rel_tol=1e-12)
        if not same:
            raise RuntimeError(f"the driver's {key} is {got!r}, the reference expects {want!r}")


class Mlp:
    """groove's MLP (nn/mlp.cpp) in PyTorch, K = 1:
    standard:   y = x W^T + b
    ntk:        y = (x W^T) / sqrt(fan_in) + b
    mean_field: hidden layers as ntk; readout y = (h a^T) / (gamma N) + b, N = last hidden width
                (the scale multiplies the product, not the bias)."""

    def __init__(self, torch, hyper, init, dtype):
        self.torch = torch
        self.hyper = hyper
        self.layers = len(hyper["hidden"]) + 1
        self.params = {}
        for name, value in sorted(init.items()):
            if value.shape[0] != 1:
                raise RuntimeError(f"init.npz: {name} has {value.shape[0]} models, expected 1")
            self.params[name] = torch.tensor(value[0], dtype=dtype, requires_grad=True)
        expected = {f"layer{i}.{kind}" for i in range(self.layers) for kind in ("weight", "bias")}
        if set(self.params) != expected:
            raise RuntimeError(f"init.npz holds {sorted(self.params)}, expected {sorted(expected)}")
        width = hyper["hidden"][-1] if hyper["hidden"] else None
        self.readout_scale = None
        if hyper["parameterization"] == "mean_field":
            n = width if width is not None else self.params["layer0.weight"].shape[1]
            # groove rounds 1 / (gamma N) (computed in double) to the parameter dtype once.
            self.readout_scale = torch.tensor(1.0 / (hyper["gamma"] * n), dtype=dtype)

    def ordered(self):
        return [self.params[f"layer{i}.{kind}"] for i in range(self.layers) for kind in ("weight", "bias")]

    def activation(self, h):
        torch, act = self.torch, self.hyper["activation"]
        if act == "relu":
            return torch.relu(h)
        if act == "tanh":
            return torch.tanh(h)
        if act == "gelu":
            return torch.nn.functional.gelu(h)  # exact (erf) form, as groove
        if act == "leaky_relu":
            return torch.nn.functional.leaky_relu(h, negative_slope=self.hyper["slope"])
        if act == "sigmoid":
            return torch.sigmoid(h)
        raise RuntimeError(f"activation '{act}' is not implemented in the reference")

    def forward(self, x):
        h = x
        p = self.hyper["parameterization"]
        for i in range(self.layers):
            w, b = self.params[f"layer{i}.weight"], self.params[f"layer{i}.bias"]
            readout = i + 1 == self.layers
            z = h @ w.T
            if p == "mean_field" and readout:
                z = z * self.readout_scale
            elif p in ("ntk", "mean_field"):
                z = z * (1.0 / math.sqrt(w.shape[1]))
            elif p != "standard":
                raise RuntimeError(f"parameterization '{p}' is not implemented in the reference")
            h = z + b
            if not readout:
                h = self.activation(h)
        return h


def loss_fn(torch, hyper, logits, labels):
    """Per-model mean loss over the examples (kernels/loss_math.h)."""
    kind = hyper["loss"]
    if kind == "cross_entropy":
        return torch.nn.functional.cross_entropy(logits, labels.long())
    sign = (labels > 0).to(logits.dtype) * 2 - 1  # labels 0/1 -> -1/+1
    if kind == "logistic":
        return torch.nn.functional.softplus(-sign * logits[:, 0]).mean()
    if kind == "hinge":
        return torch.relu(hyper["margin"] - sign * logits[:, 0]).mean()
    if kind == "squared_error":
        c = logits.shape[1]
        target = sign[:, None] if c == 1 else torch.nn.functional.one_hot(labels.long(), c).to(logits.dtype)
        return (0.5 * ((logits - target) ** 2).sum(dim=1)).mean()
    raise RuntimeError(f"loss '{kind}' is not implemented in the reference")


def make_optimizer(torch, hyper, params):
    kind, lr, wd = hyper["optimizer"], hyper["lr"], hyper["weight_decay"]
    if kind == "sgd":
        return torch.optim.SGD(params, lr=lr, weight_decay=wd)
    if kind in ("momentum", "nesterov"):
        return torch.optim.SGD(params, lr=lr, momentum=hyper["momentum"], nesterov=kind == "nesterov",
                               weight_decay=wd)
    if kind in ("adam", "adamw"):
        cls = torch.optim.Adam if kind == "adam" else torch.optim.AdamW
        return cls(params, lr=lr, betas=(hyper["beta1"], hyper["beta2"]), eps=hyper["eps"], weight_decay=wd)
    raise RuntimeError(f"optimizer '{kind}' is not implemented in the reference")


def rel_error(a, b, scale=None):
    """max|a - b| / (scale + 1e-12), scale = max|b| by default."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if scale is None:
        scale = np.max(np.abs(b))
    return float(np.max(np.abs(a - b)) / (scale + 1e-12))


class ManualAdam:
    """Adam / AdamW written out, with the first moment updated as PyTorch 1.x does
    (m = beta1 m + (1 - beta1) g) or as PyTorch 2.x does (m = lerp(m, g, 1 - beta1)): two float32
    implementations of the same update that round differently."""

    def __init__(self, torch, hyper, params, form):
        self.torch, self.hyper, self.params, self.form = torch, hyper, params, form
        self.state = [(torch.zeros_like(p), torch.zeros_like(p)) for p in params]
        self.t = 0

    def zero_grad(self, set_to_none=True):
        for p in self.params:
            p.grad = None

    def step(self):
        h, self.t = self.hyper, self.t + 1
        b1, b2, eps, lr, wd = h["beta1"], h["beta2"], h["eps"], h["lr"], h["weight_decay"]
        with self.torch.no_grad():
            for p, (m, v) in zip(self.params, self.state):
                g = p.grad
                if h["optimizer"] == "adamw":
                    p.mul_(1 - lr * wd)
                elif wd:
                    g = g.add(p, alpha=wd)
                if self.form == "lerp":
                    m.lerp_(g, 1 - b1)
                else:
                    m.mul_(b1).add_(g, alpha=1 - b1)
                v.mul_(b2).addcmul_(g, g, value=1 - b2)
                denom = (v.sqrt() / (1 - b2 ** self.t) ** 0.5).add_(eps)
                p.addcdiv_(m, denom, value=-lr / (1 - b1 ** self.t))


def train_reference(torch, hyper, init, x_np, labels_np, dtype, order=None, adam_form=None):
    """Trains the PyTorch twin; returns its final parameters, the peak magnitude max_t max|p_t| of
    each parameter over the run, and the loss of each step (before that step's update).
    order (a permutation of the examples) gives the same run mathematically (full-batch means)
    with a different rounding in every reduction; adam_form ("muladd" or "lerp") replaces
    torch.optim's Adam by ManualAdam."""
    if order is not None:
        x_np, labels_np = x_np[order].copy(), labels_np[order].copy()
    model = Mlp(torch, hyper, init, dtype)
    x = torch.from_numpy(x_np).to(dtype)
    labels = torch.from_numpy(labels_np)
    if adam_form is None:
        optimizer = make_optimizer(torch, hyper, model.ordered())
    else:
        optimizer = ManualAdam(torch, hyper, model.ordered(), adam_form)
    peak = {k: float(v.detach().abs().max()) for k, v in model.params.items()}
    losses = []
    for _ in range(hyper["steps"]):
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(torch, hyper, model.forward(x), labels)
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
        for k, v in model.params.items():
            peak[k] = max(peak[k], float(v.detach().abs().max()))
    final = {k: v.detach().numpy().astype(np.float64) for k, v in model.params.items()}
    return final, peak, np.array(losses)


def layer_order(key):
    return (int(key.split(".")[0][len("layer"):]), key)


def run_case(torch, driver, workdir, name, seed=None):
    """Returns (passed, report line)."""
    out = os.path.join(workdir, name)
    os.makedirs(out, exist_ok=True)
    command = [driver, "--out", out, "--case", name] + ([] if seed is None else ["--seed", str(seed)])
    proc = subprocess.run(command, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"the driver failed (exit {proc.returncode}):\n{proc.stdout}")
    with np.load(os.path.join(out, "data.npz")) as data:
        hyper = read_hyper(data)
        x_np, labels_np = data["x"], data["labels"]
    check_hyper(name, hyper)
    if x_np.dtype != np.float32 or labels_np.dtype != np.int32:
        raise RuntimeError(f"data.npz: x is {x_np.dtype}, labels {labels_np.dtype}; expected float32 and int32")
    with np.load(os.path.join(out, "init.npz")) as init_file:
        init = {k: init_file[k] for k in init_file.files}
    with np.load(os.path.join(out, "final.npz")) as final_file:
        groove = {k: final_file[k] for k in final_file.files}
    groove_losses = np.load(os.path.join(out, "losses.npy"))

    ref, peak, losses = train_reference(torch, hyper, init, x_np, labels_np, torch.float32)
    if set(groove) != set(ref):
        raise RuntimeError(f"final.npz holds {sorted(groove)}, expected {sorted(ref)}")
    if groove_losses.shape != losses.shape:
        raise RuntimeError(f"losses.npy has shape {groove_losses.shape}, expected {losses.shape}")

    passed = True
    parts, notes = [], []
    ref64 = None
    for key in sorted(ref, key=layer_order):
        got = groove[key]
        if got.shape != (1,) + ref[key].shape:
            raise RuntimeError(f"final.npz: {key} has shape {got.shape}, expected {(1,) + ref[key].shape}")
        err = rel_error(got[0], ref[key])
        parts.append(f"{key} {err:.2e}")
        if err <= TOLERANCE:
            continue
        # The documented exceptions (see the module docstring): rounding at the run's peak scale,
        # or a run that amplifies rounding.
        if ref64 is None:
            ref64, _, _ = train_reference(torch, hyper, init, x_np, labels_np, torch.float64)
            n = len(labels_np)
            orders = [np.arange(n)[::-1]] + [np.random.default_rng(s).permutation(n) for s in range(ORDERS - 1)]
            ref_perms = [train_reference(torch, hyper, init, x_np, labels_np, torch.float32, o)[0] for o in orders]
            if hyper["optimizer"] in ("adam", "adamw"):
                ref_perms += [train_reference(torch, hyper, init, x_np, labels_np, torch.float32, adam_form=form)[0]
                              for form in ("muladd", "lerp")]
        err_peak = rel_error(got[0], ref[key], scale=peak[key])
        groove64 = rel_error(got[0], ref64[key])
        torch64 = rel_error(ref[key], ref64[key])
        perm64 = max(rel_error(r[key], ref64[key]) for r in ref_perms)
        rounding = err_peak <= TOLERANCE and groove64 <= 2 * torch64
        chaotic = groove64 <= 2 * perm64 and perm64 > TOLERANCE
        ok = rounding or chaotic
        passed = passed and ok
        verdict = ("accepted as fp32 rounding" if rounding else
                   "accepted: the run amplifies rounding" if chaotic else "REJECTED")
        notes.append(f"{key}: final-normalized {err:.2e} > {TOLERANCE:g}; it peaked at {peak[key]:.3g} and ended at "
                     f"{np.max(np.abs(ref[key])):.3g}: peak-normalized {err_peak:.2e}; distance to a float64 "
                     f"reference: groove {groove64:.2e}, torch float32 {torch64:.2e}, other float32 runs (examples "
                     f"reordered{', Adam written out' if len(ref_perms) > ORDERS else ''}) up to {perm64:.2e} "
                     f"-> {verdict}")
    loss_err = rel_error(groove_losses, losses, scale=np.max(np.abs(losses)))
    if loss_err > TOLERANCE:
        passed = False
        step = int(np.argmax(np.abs(groove_losses - losses)))
        notes.append(f"per-step losses differ by {loss_err:.2e} > {TOLERANCE:g} (of the largest loss); worst at step "
                     f"{step}: groove {groove_losses[step]:.9g}, torch {losses[step]:.9g}")
    worst = max(rel_error(groove[k][0], ref[k]) for k in ref)
    line = (f"{'ok  ' if passed else 'FAIL'} {name}: max {worst:.2e} [{', '.join(parts)}]; "
            f"loss {losses[0]:.4g} -> {losses[-1]:.4g}, per-step loss error {loss_err:.2e}")
    for note in notes:
        line += f"\n       note {note}"
    return passed, line


def main(argv):
    seed = None
    if len(argv) == 5 and argv[3] == "--seed" and argv[4].isdigit():
        seed = int(argv[4])
    elif len(argv) != 3:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    driver, workdir = argv[1], argv[2]
    try:
        import torch
    except ImportError:
        print("SKIP: PyTorch is not installed (Debian: python3-torch)")
        return 77
    torch.manual_seed(0)
    if hasattr(torch, "set_float32_matmul_precision"):
        torch.set_float32_matmul_precision("highest")
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)  # fixed reduction order, run to run
    print(f"torch {torch.__version__}, numpy {np.__version__}; tolerance {TOLERANCE:g} "
          "(max|groove - torch| / max|torch| per tensor)")

    listed = subprocess.run([driver, "--list"], stdout=subprocess.PIPE, text=True, check=True).stdout.split()
    if sorted(listed) != sorted(CASES):
        print(f"FAIL: the driver has cases {sorted(listed)}, the reference {sorted(CASES)}")
        return 1

    failed = []
    for name in CASES:
        try:
            passed, line = run_case(torch, driver, workdir, name, seed)
        except Exception as e:  # report and go on with the other cases
            passed, line = False, f"FAIL {name}: {e}"
        print(line)
        if not passed:
            failed.append(name)
    if failed:
        print(f"{len(failed)} of {len(CASES)} cases failed: {', '.join(failed)}")
        return 1
    print(f"all {len(CASES)} cases match PyTorch")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

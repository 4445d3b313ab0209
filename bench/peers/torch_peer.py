#!/usr/bin/env python3
"""PyTorch peer of groove's reference training workload (issue 8; see README.md beside this file).

usage: torch_peer.py DUMP --mode eager|compile|vmap --device cpu|cuda [--steps N] [--repeats R]
                     [--threads T] [--out result.json] [--rtol X] [--max-examples N]
                     [--check-only | --no-check] [--save-rows FILE.npy] [--dtype float32|float64]

Loads a dump written by `groove bench --dump DUMP`, trains the same K models with the same
numerics, computes every per-step statistic groove computes (on the device, every step, kept in a
device ring and copied to the host every log_every steps), checks its curves against groove's for
the dump's check_steps steps (exit 1 without timing when they differ), then times the loop.
Where a fixed limit of the check is exceeded, the peer runs itself again with --dtype float64 (a
subprocess) and judges groove and itself by their distances to that reference (README.md).

  --save-rows FILE.npy  save the peer's check rows (f64 [check_steps, K, columns], the dump's
                        column order) before comparing them: a diagnostic when a check fails
  --dtype float64       the same code with every float32 tensor (data, parameters, learning-rate
                        arithmetic, statistics) in float64: computes the check rows only (no check,
                        no timing) and needs --save-rows; the check's reference
  --no-check            time without checking (a short warm-up instead of the check's steps); the
                        result records "check": {"skipped": true}. bench/compare passes it in the
                        rounds after a peer's first passed check

Modes:
  eager    K = 1: plain PyTorch (2-D parameters, addmm, autograd, torch.optim.SGD fused or foreach);
           K > 1: the same with the K models stacked ([K, ...] parameters, baddbmm/bmm).
  vmap     torch.func.vmap (functorch.vmap on PyTorch 1.13) of a functional per-model
           forward + grad over the K models; the update is one foreach add over the stacks.
  compile  torch.compile(mode="reduce-overhead") of the whole step: forward, loss, gradient
           (torch.func.grad), statistics, ring write and update. Needs PyTorch >= 2.0 (else 77).

Exit status: 0 check passed and timed; 1 check failed; 2 bad dump or usage; 77 skipped.
"""

import argparse
import math
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peer_common as pc  # noqa: E402

SKIP = 77


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    pc.add_common_arguments(ap)
    ap.add_argument("--mode", choices=["eager", "compile", "vmap"], default="eager")
    ap.add_argument("--device", default="cpu", help="cpu or cuda (cuda:N)")
    ap.add_argument("--threads", type=int, default=0, help="CPU threads (torch.set_num_threads); default: all")
    return pc.parse_common(ap, argv)


def torch_version_tuple(torch):
    parts = []
    for p in torch.__version__.split("+")[0].split("."):
        digits = "".join(ch for ch in p if ch.isdigit())
        parts.append(int(digits) if digits else 0)
        if len(parts) == 2:
            break
    return tuple(parts)


class TorchPeer:
    def __init__(self, torch, dump, mode, device, dtype="float32"):
        T = self.T = torch
        self.dump, self.mode = dump, mode
        self.dev = dev = torch.device(device)
        self.cuda = dev.type == "cuda"
        d = dump
        self.K, self.N, self.D, self.P, self.C, self.Q = d.K, d.N, d.D, d.P, d.C, d.Q
        self.B = d.batch
        self.lr = d.lr
        self.alpha0 = d.hidden_scale      # 1/sqrt(D): multiplies x W0^T, not the bias
        self.alpha1 = d.readout_scale     # float32(1/(gamma N)): multiplies h W1^T, not the bias
        self.R = pc.drain_interval(d)  # rows per copy to the host (log_every unless the ring budget binds)
        self.columns = d.columns
        self.notes = []
        # f32: the parameters' dtype, float32 (float64 for the check's reference: --dtype float64)
        f32, f64 = getattr(T, dtype), T.float64
        self.dt = f32
        K, P, C, Q = self.K, self.P, self.C, self.Q

        def dt(a, dtype=None):
            t = T.from_numpy(np.ascontiguousarray(a)).to(dev)
            return t if dtype is None else t.to(dtype)

        # Data and label helpers (one-hot in f32 for the training loss, f64 for statistics).
        self.x = dt(d.x, f32)
        self.labels = dt(d.labels)
        eye = np.eye(C)
        oh = eye[d.labels]
        self.oh32, self.oh64, self.ohb = dt(oh, f32), dt(oh, f64), dt(oh > 0)
        # The training loss's operand: for C = 2, sgn = +1 (other) / -1 (true): sum(f * sgn) = f_o - f_y.
        self.train_target = dt(1 - 2 * oh, f32) if C == 2 else self.oh32
        counts = oh.sum(0)
        a = (oh / np.where(counts > 0, counts, 1)).T  # [C, P]: rows average a class (zero if empty)
        self.avg = dt(a, f32)
        self.pairmask = dt(np.triu(np.ones((C, C)), 1), f64)
        self.npairs = C * (C - 1) // 2
        self.plan, self.kq = pc.quantile_plan(P)
        if Q > 0:
            self.hx = dt(d.heldout_x, f32)
            self.hlabels = dt(d.heldout_labels)
            ohh = eye[d.heldout_labels]
            self.hoh32, self.hoh64, self.hohb = dt(ohh, f32), dt(ohh, f64), dt(ohh > 0)
            G = len(d.groups)
            g1 = np.zeros((Q, G + 1))
            if G:
                g1[np.arange(Q), d.heldout_groups] = 1
            g1[:, G] = 1  # pooled
            cnt = g1.sum(0)
            self.g1 = dt(g1, f64)
            with np.errstate(divide="ignore"):
                self.logg1 = dt(np.log(g1), f64)
                self.logcnt = dt(np.where(cnt > 0, np.log(np.maximum(cnt, 1)), np.nan), f64)
            self.invcnt = dt(np.where(cnt > 0, 1.0 / np.maximum(cnt, 1), np.nan), f64)
        # Parameters, their initial values and initial norms (constant: computed once, in f64).
        self.init = [dt(d.init[k], f32) for k in ("layer0.weight", "layer0.bias", "layer1.weight", "layer1.bias")]
        w02 = [np.sum(d.init[k].astype(np.float64) ** 2, axis=tuple(range(1, d.init[k].ndim)))
               for k in ("layer0.weight", "layer1.weight")]
        self.inv_w0 = [dt(np.where(v > 0, 1.0 / np.sqrt(np.where(v > 0, v, 1)), np.nan), f64) for v in w02]
        if self.B:
            self.bidx = dt(d.batch_index)  # [S, K, B] int64
            self.S = d.batch_index.shape[0]
        # Device ring of per-step rows (2 halves of log_every rows: a double buffer) and margins.
        M = len(self.columns)
        self.col_index = {c: j for j, c in enumerate(self.columns)}
        self.ring = T.full((2 * self.R, K, M), float("nan"), dtype=f64, device=dev)
        self.mring = T.zeros((2 * self.R, K, P + Q), dtype=f32, device=dev)
        pin = self.cuda
        self.host = T.empty((2 * self.R, K, M), dtype=f64, pin_memory=pin)
        self.mhost = T.empty((2 * self.R, K, P + Q), dtype=f32, pin_memory=pin)
        self.pending = []
        self.done = 0
        self.next_row = 0
        self.consumer = None
        self.nan = T.tensor(float("nan"), dtype=f64, device=dev)
        self.zero_k = T.zeros((K,), dtype=f64, device=dev)
        self.nan_k = T.full((K,), float("nan"), dtype=f64, device=dev)  # columns groove leaves NaN
        self._build()

    # ------------------------------------------------------------------------------------------
    # The model, the training loss and the statistics (batched over K unless noted)

    def forward(self, ps, x):
        """groove's MLP: h = relu((x W0^T) a0 + b0), f = (h W1^T) a1 + b1. 2-D parameters (one
        model: plain PyTorch and vmap's per-model function) use addmm; [K, ...] stacks baddbmm."""
        T = self.T
        W0, b0, W1, b1 = ps
        if W0.dim() == 2:
            h = T.relu(T.addmm(b0, x, W0.t(), alpha=self.alpha0))
            f = T.addmm(b1, h, W1.t(), alpha=self.alpha1)
            return f, h
        K = W0.shape[0]
        xk = x if x.dim() == 3 else x.unsqueeze(0).expand(K, x.shape[0], x.shape[1])
        h = T.relu(T.baddbmm(b0.unsqueeze(1), xk, W0.transpose(1, 2), alpha=self.alpha0))
        f = T.baddbmm(b1.unsqueeze(1), h, W1.transpose(1, 2), alpha=self.alpha1)
        return f, h

    def train_loss(self, f, target):
        """Mean softmax cross-entropy over the examples (per model), written from the margins as
        groove's loss (kernels/loss_math.h): l = softplus(log S), S = sum_{j != y} e^{f_j - f_y},
        whose gradient e^{f_j - f_y} / (1 + S) keeps the far tail exact (never p_y - 1)."""
        T = self.T
        if self.C == 2:
            log_s = (f * target).sum(-1)  # f_other - f_y
        else:
            fy = (f * target).sum(-1, keepdim=True)
            log_s = T.logsumexp((f - fy).masked_fill(target > 0, float("-inf")), -1)
        return T.nn.functional.softplus(log_s).mean(-1)

    def margins_losses(self, f, oh64, ohb):
        """Per-example margin, loss and log-loss in f64 from f32 logits [K, n, C]."""
        T = self.T
        f64 = f.double()
        fy = (f64 * oh64).sum(-1)
        m = fy - f64.masked_fill(ohb, float("-inf")).amax(-1)
        if self.C == 2:
            log_s = -m
        else:
            log_s = T.logsumexp((f64 - fy.unsqueeze(-1)).masked_fill(ohb, float("-inf")), -1)
        loss = T.clamp(log_s, min=0) + T.log1p(T.exp(-T.abs(log_s)))
        log_loss = T.where(log_s < -700, log_s, T.log(loss))
        return m, loss, log_loss

    def class_distances(self, h, oh32, oh64, mu, mub, dmu2):
        """d[k, i, c] = ||h_i - mu_c||^2 without forming [K, n, C, N]: with e_i = h_i - mu_{y_i}
        (exact selection by a one-hot product), d = ||e_i||^2 + 2 e_i.(mu_y - mu_c) + ||mu_y - mu_c||^2,
        the cross term against the centred means (no cancellation when the features are far from
        the origin). Returns ||e_i||^2 (the own-class distance) and d."""
        T = self.T
        K = h.shape[0]
        e = T.baddbmm(h, oh32.unsqueeze(0).expand(K, oh32.shape[0], oh32.shape[1]), mu, alpha=-1)
        en2 = T.linalg.vector_norm(e, dim=-1).double() ** 2
        E = T.bmm(e, mub.transpose(1, 2))
        cross = ((E * oh32).sum(-1, keepdim=True) - E).double()
        d = en2.unsqueeze(-1) + 2 * cross + T.matmul(oh64, dmu2)
        return en2, d

    def stats(self, W0, W1, grads, f, h, fh, hh):
        """One row per model ([K, M] f64, the dump's column order) and the margins ([K, P + Q] f32)
        of the parameters before this step's update. All inputs are [K, ...]."""
        T = self.T
        P = self.P
        out = {}
        nan = self.nan
        m, loss, log_loss = self.margins_losses(f, self.oh64, self.ohb)
        out["train_loss"] = loss.mean(-1).to(self.dt).double()  # groove keeps the loss in the params' dtype
        out["train_log10_loss"] = ((T.logsumexp(log_loss, -1) - math.log(P)) * pc.LOG10E).to(self.dt).double()
        out["train_acc"] = (m > 0).double().mean(-1)
        out["margin_mean"] = m.mean(-1)
        v = T.topk(m, self.kq, dim=-1, largest=False, sorted=True).values
        has_nan = T.isnan(m).any(-1)
        out["margin_min"] = T.where(has_nan, nan, v[:, 0])
        for name, (lo, hi, w) in zip(("margin_q01", "margin_q05"), self.plan):
            out[name] = T.where(has_nan, nan, v[:, lo] + w * (v[:, hi] - v[:, lo]))
        # Parameter norms (f32 reductions, combined in f64).
        vn = T.linalg.vector_norm
        w2 = [vn(W, dim=(1, 2)).double() ** 2 for W in (W0, W1)]
        for layer, (W, W_init) in enumerate(((W0, self.init[0]), (W1, self.init[2]))):
            out[f"w{layer}_norm"] = w2[layer].sqrt()
            out[f"w{layer}_move"] = vn(W - W_init, dim=(1, 2)).double() * self.inv_w0[layer]
        total = w2[0] + w2[1]
        mmin = out["margin_min"]
        out["margin_norm_prod"] = mmin / (w2[0].sqrt() * w2[1].sqrt())
        out["margin_norm_global"] = mmin / total  # (sum ||W_l||^2)^(L/2), L = 2
        out["margin_readout"] = mmin / w2[1].sqrt()
        g2 = None
        for g in grads:
            t = vn(g, dim=tuple(range(1, g.dim()))).double() ** 2
            g2 = t if g2 is None else g2 + t
        out["grad_norm"] = g2.sqrt()
        out["weight_norm"] = total.sqrt()
        # Hidden layer: class means of the training features (f32, as groove stores them).
        mu = T.matmul(self.avg, h)  # [K, C, N]
        mub = mu - mu.mean(1, keepdim=True)
        gram = T.bmm(mub, mub.transpose(1, 2)).double()
        dg = T.diagonal(gram, dim1=1, dim2=2)
        dmu2 = T.clamp(dg.unsqueeze(2) + dg.unsqueeze(1) - 2 * gram, min=0)  # ||mu_c - mu_c'||^2
        out["centroid_dist"] = (dmu2.sqrt() * self.pairmask).sum((1, 2)) / self.npairs
        en2, dist = self.class_distances(h, self.oh32, self.oh64, mu, mub, dmu2)
        out["within_var"] = en2.mean(-1)
        out["train_ncm_acc"] = (T.argmin(dist, -1) == self.labels).double().mean(-1)
        margins = [m]
        if self.Q > 0:
            mh, lh, log_lh = self.margins_losses(fh, self.hoh64, self.hohb)
            _, dh = self.class_distances(hh, self.hoh32, self.hoh64, mu, mub, dmu2)
            ncm = (T.argmin(dh, -1) == self.hlabels).double()
            sums = T.matmul(lh, self.g1) * self.invcnt
            lse = T.logsumexp(log_lh.unsqueeze(-1) + self.logg1, dim=1)
            log10 = (lse - self.logcnt) * pc.LOG10E
            acc = T.matmul((mh > 0).double(), self.g1) * self.invcnt
            ncm_acc = T.matmul(ncm, self.g1) * self.invcnt
            G = len(self.dump.groups)
            for g, name in enumerate(list(self.dump.groups) + ["heldout"]):
                out[f"{name}_loss"] = sums[:, g]
                out[f"{name}_log10_loss"] = log10[:, g]
                out[f"{name}_acc"] = acc[:, g]
                out[f"{name}_ncm_acc"] = ncm_acc[:, g]
            assert G + 1 == sums.shape[1]
            margins.append(mh)
        row = T.stack([out.get(c, self.nan_k) if c != "step" else self.zero_k for c in self.columns], 1)
        marg = T.cat(margins, 1).to(self.dt)
        return row, marg

    # ------------------------------------------------------------------------------------------
    # The step in each mode

    def _build(self):
        T = self.T
        K = self.K
        if self.mode == "eager":
            if K == 1:
                self.params = [p[0].clone().requires_grad_(True) for p in self.init]
                self.impl = "plain PyTorch (2-D parameters, addmm, autograd)"
            else:
                self.params = [p.clone().requires_grad_(True) for p in self.init]
                self.impl = f"the {K} models stacked: [K, ...] parameters, baddbmm/bmm, autograd"
            self.opt, kind = None, None
            for kind in ("fused", "foreach"):
                try:
                    self.opt = T.optim.SGD(self.params, lr=self.lr, **{kind: True})
                    break
                except (TypeError, RuntimeError, ValueError):
                    continue
            self.opt_kind = kind
            self.impl += f"; torch.optim.SGD({kind}=True)"
            self.step_fn = self._eager_step
        elif self.mode == "vmap":
            self.params = [p.clone() for p in self.init]
            if hasattr(T, "func") and hasattr(T.func, "vmap"):
                vmap, grad, src = T.func.vmap, T.func.grad, "torch.func"
            else:
                import functorch
                vmap, grad, src = functorch.vmap, functorch.grad, f"functorch {functorch.__version__}"

            def loss_one(ps, x, target):
                f, h = self.forward(ps, x)
                return self.train_loss(f, target), (f, h)

            xdim = 0 if self.B else None
            self.vgrad = vmap(grad(loss_one, has_aux=True), in_dims=(0, xdim, xdim))
            self.vfwd = vmap(self.forward, in_dims=(0, None))
            self.impl = (f"{src}.vmap of a per-model functional step ({src}.grad, addmm) over the {K} models; "
                         "update: torch._foreach_add_ on the stacks")
            self.step_fn = self._vmap_step
        else:
            self.params = [p.clone() for p in self.init]
            self.tdev = T.zeros((1,), dtype=T.int64, device=self.dev)
            if hasattr(T, "_dynamo") and hasattr(T._dynamo, "mark_static_address"):
                for t in self.params + [self.ring, self.mring, self.tdev]:
                    T._dynamo.mark_static_address(t)
            grad = T.func.grad

            def loss_all(ps, x, target):
                f, h = self.forward(ps, x)
                return self.train_loss(f, target).sum(), (f, h)

            gradf = grad(loss_all, has_aux=True)

            def step():
                t = self.tdev
                if self.B:
                    xb, target = self._batch(self.bidx.index_select(0, t % self.S)[0])
                else:
                    xb, target = self.x, self.train_target
                ps = tuple(self.params)
                grads, (f, h) = gradf(ps, xb, target)
                f, h, fh, hh = self._clean(ps, f, h, self.forward)
                row, marg = self.stats(ps[0], ps[2], grads, f, h, fh, hh)
                slot = t % (2 * self.R)
                self.ring.index_copy_(0, slot, row.unsqueeze(0))
                self.mring.index_copy_(0, slot, marg.unsqueeze(0))
                T._foreach_add_(self.params, list(grads), alpha=-self.lr)
                t.add_(1)

            self.compiled = T.compile(step, mode="reduce-overhead")
            self.impl = ("torch.compile(mode='reduce-overhead') of the whole step (forward, loss, torch.func.grad, "
                         f"statistics, ring write, SGD update) over the {K} models stacked (baddbmm)")
            self.step_fn = self._compiled_step

    def _batch(self, idx):
        """Minibatch rows for idx [K, B] (batched) -> x [K, B, D] and the loss target [K, B, C]."""
        K, B = self.K, self.B
        flat = idx.reshape(-1)
        xb = self.x.index_select(0, flat).view(K, B, self.D)
        target = self.train_target.index_select(0, flat).view(K, B, self.C)
        return xb, target

    def _clean(self, ps, f, h, fwd):
        """The statistics' forward passes: held-out examples; the whole training set when the
        step trained on a minibatch (groove's clean forward)."""
        if self.B:
            f, h = fwd(ps, self.x)
        fh, hh = fwd(ps, self.hx) if self.Q > 0 else (None, None)
        return f, h, fh, hh

    def _eager_step(self, s):
        T = self.T
        self.opt.zero_grad(set_to_none=True)
        ps = self.params
        if self.B:
            idx = self.bidx[s % self.S]
            if self.K == 1:
                xb, target = self.x.index_select(0, idx[0]), self.train_target.index_select(0, idx[0])
            else:
                xb, target = self._batch(idx)
        else:
            xb, target = self.x, self.train_target
        f, h = self.forward(ps, xb)
        self.train_loss(f, target).sum().backward()
        with T.no_grad():
            f, h, fh, hh = self._clean(ps, f.detach(), h.detach(), self.forward)
            if self.K == 1:
                f, h = f.unsqueeze(0), h.unsqueeze(0)
                fh, hh = (fh.unsqueeze(0), hh.unsqueeze(0)) if fh is not None else (None, None)
                W0, W1 = ps[0].detach().unsqueeze(0), ps[2].detach().unsqueeze(0)
                grads = [p.grad.unsqueeze(0) for p in ps]
            else:
                W0, W1 = ps[0].detach(), ps[2].detach()
                grads = [p.grad for p in ps]
            row, marg = self.stats(W0, W1, grads, f, h, fh, hh)
            slot = s % (2 * self.R)
            self.ring[slot].copy_(row)
            self.mring[slot].copy_(marg)
        self.opt.step()

    def _vmap_step(self, s):
        T = self.T
        ps = tuple(self.params)
        if self.B:
            xb, target = self._batch(self.bidx[s % self.S])
        else:
            xb, target = self.x, self.train_target
        grads, (f, h) = self.vgrad(ps, xb, target)
        f, h, fh, hh = self._clean(ps, f, h, self.vfwd)
        row, marg = self.stats(ps[0], ps[2], grads, f, h, fh, hh)
        slot = s % (2 * self.R)
        self.ring[slot].copy_(row)
        self.mring[slot].copy_(marg)
        T._foreach_add_(self.params, list(grads), alpha=-self.lr)

    def _compiled_step(self, s):
        self.compiled()

    # ------------------------------------------------------------------------------------------
    # Running, the ring drain

    def run(self, steps):
        for _ in range(steps):
            self.step_fn(self.done)
            self.done += 1
            if self.done % self.R == 0:
                self.drain()

    def drain(self):
        """Enqueue the copy of the rows written since the last drain (one contiguous slice of the
        ring), then hand over the rows of earlier drains (their copies had a whole interval)."""
        T = self.T
        n = self.done - self.next_row
        if n > 0:
            a = self.next_row % (2 * self.R)
            self.host[a:a + n].copy_(self.ring[a:a + n], non_blocking=self.cuda)
            self.mhost[a:a + n].copy_(self.mring[a:a + n], non_blocking=self.cuda)
            ev = None
            if self.cuda:
                ev = T.cuda.Event()
                ev.record()
            self.pending.append((ev, a, n, self.next_row))
            self.next_row = self.done
        while len(self.pending) > 1:
            self._process(self.pending.pop(0))

    def flush(self):
        self.drain()
        while self.pending:
            self._process(self.pending.pop(0))

    def _process(self, item):
        ev, a, n, first = item
        if ev is not None:
            ev.synchronize()
        if self.consumer is not None:
            rows = self.host[a:a + n].numpy().copy()
            if "step" in self.col_index:
                rows[:, :, self.col_index["step"]] = np.arange(first, first + n)[:, None]
            self.consumer(first, rows)

    def sync(self):
        if self.cuda:
            self.T.cuda.synchronize(self.dev)


def device_info(torch, dev):
    if dev.type != "cuda":
        import platform
        return f"cpu ({platform.processor() or platform.machine()}, {os.cpu_count()} logical CPUs)", {}
    p = torch.cuda.get_device_properties(dev)
    info = {"name": p.name, "sm_count": p.multi_processor_count, "memory_bytes": p.total_memory,
            "cuda_runtime": torch.version.cuda, "cudnn": torch.backends.cudnn.version()}
    try:
        import subprocess
        out = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, timeout=20).stdout
        info["driver"] = out.strip().splitlines()[dev.index or 0] if out.strip() else None
    except Exception:
        info["driver"] = None
    return f"{dev} ({p.name})", info


def main(argv):
    args = parse_args(argv)
    tuning = []
    # Debian's PyTorch (python3-torch, 1.13) runs its GEMMs in OpenBLAS's own pthreads next to
    # libgomp's intra-op threads, which spin after every parallel region and starve them: on 2
    # cores piriform-1k steps take ~3x longer than with OMP_WAIT_POLICY=PASSIVE (measured). Wheels
    # with MKL (one OpenMP pool) get slower with PASSIVE, so only Debian's build gets it, and
    # only when the caller has not chosen. Must be set before libgomp loads (with torch).
    import importlib.util
    spec = importlib.util.find_spec("torch")
    origin = (spec.origin or "") if spec else ""
    if (not args.device.startswith("cuda") and "OMP_WAIT_POLICY" not in os.environ
            and origin.startswith("/usr/lib/python3/dist-packages/")):
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
        tuning.append("OMP_WAIT_POLICY=PASSIVE (Debian's PyTorch: OpenBLAS threads beside libgomp's)")
    try:
        import torch
    except ImportError as e:
        print(f"skipped: PyTorch is not importable by {sys.executable} ({e}); run bench/peers/setup")
        return SKIP
    dump = pc.load_dump(args.dump)
    if dump is None:
        return 2
    version = torch_version_tuple(torch)
    if args.mode == "compile" and (version < (2, 0) or not hasattr(torch, "compile")):
        print(f"skipped: torch.compile needs PyTorch >= 2.0, this is {torch.__version__} ({sys.executable})")
        return SKIP
    if args.mode == "vmap" and not (hasattr(torch, "func") and hasattr(torch.func, "vmap")):
        try:
            import functorch  # noqa: F401
        except ImportError:
            print(f"skipped: vmap needs torch.func (PyTorch >= 2.0) or functorch; this is {torch.__version__}")
            return SKIP
    want = args.device
    if want.startswith("cuda") and not torch.cuda.is_available():
        print(f"skipped: --device {want} but torch.cuda.is_available() is False (PyTorch {torch.__version__})")
        return SKIP
    dev = torch.device(want if want != "gpu" else "cuda")
    if dev.type == "cuda":
        torch.cuda.set_device(dev)  # events and streams of the timing are the current device's

    # Same numerics on every side: full fp32 matmuls, no TF32.
    if hasattr(torch, "set_float32_matmul_precision"):
        torch.set_float32_matmul_precision("highest")
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    threads = args.threads or os.cpu_count() or 1
    torch.set_num_threads(threads)
    threads = torch.get_num_threads()
    torch.set_grad_enabled(args.mode == "eager")

    print(f"torch {torch.__version__} ({sys.executable}), mode {args.mode}, device {dev}, threads {threads}; "
          f"dump {dump.describe()}")
    peer = TorchPeer(torch, dump, args.mode, str(dev), args.dtype)
    print(f"implementation: {peer.impl}" + (f"; dtype {args.dtype}" if args.dtype != "float32" else "")
          + (f"; tuning: {', '.join(tuning)}" if tuning else ""))

    # --- the check -----------------------------------------------------------------------------
    S = dump.check_steps
    warm = min(3, S)
    if args.no_check:
        # Warm-up (compilation, allocations) and the step time that sizes the repeats, without the
        # check's S steps: steps doubling until a batch takes >= ~min-time/4 (at most S steps).
        t0 = time.perf_counter()
        peer.run(warm)
        peer.sync()
        first_seconds = time.perf_counter() - t0
        n_cal, done_cal = 1, 0
        while True:
            t = time.perf_counter()
            peer.run(n_cal)
            peer.sync()
            took = time.perf_counter() - t
            done_cal += n_cal
            if took >= max(0.05, 0.25 * args.min_time) or done_cal + 2 * n_cal > max(S, 1):
                break
            n_cal *= 2
        step_seconds = took / n_cal
        compile_seconds = max(0.0, first_seconds - warm * step_seconds)
        print(f"check skipped (--no-check); warm-up {warm + done_cal} steps, {step_seconds * 1e6:.1f} us/step")
        check = pc.skipped_check(S)
    else:
        def collect(first, r):
            end = min(first + r.shape[0], S)
            if first < S:
                rows[first:end] = r[: end - first]

        rows = np.full((S, dump.K, len(dump.columns)), np.nan)
        peer.consumer = collect
        t0 = time.perf_counter()
        peer.run(warm)
        peer.sync()
        first_seconds = time.perf_counter() - t0
        t1 = time.perf_counter()
        peer.run(S - warm)
        peer.flush()
        check_seconds = time.perf_counter() - t1
        step_seconds = check_seconds / max(1, S - warm)
        compile_seconds = max(0.0, first_seconds - warm * step_seconds)
        if args.save_rows:
            pc.save_rows(args.save_rows, rows)
        if args.dtype == "float64":
            return 0

        script_args = ["--mode", args.mode, "--device", args.device, "--threads", str(args.threads)]
        reference = pc.float64_reference(os.path.abspath(__file__), script_args, dump, S)
        passed, max_errors, lines, failures, notes, distances = pc.compare(
            dump, rows, S, args.rtol, args.max_examples, reference)
        pc.print_check(dump, passed, lines, failures, S, args.rtol, args.max_examples, notes)
        if not passed:
            print("not timed: the curves differ from groove's")
            return 1
        print(f"check passed ({S} steps in {check_seconds + first_seconds:.2f} s; first {warm} steps "
              f"{first_seconds:.2f} s)")
        if args.check_only:
            return 0
        check = pc.check_record(S, max_errors, notes, distances, args.rtol, args.max_examples)

    # --- timing ----------------------------------------------------------------------------------
    peer.consumer = None  # rows still copied to the host every log_every steps; not kept
    n = pc.choose_steps(args.steps, peer.cuda, step_seconds, peer.R, args.min_time)
    seconds = []
    for _ in range(max(1, args.repeats)):
        if peer.cuda:
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            peer.sync()
            start.record()
            peer.run(n)
            end.record()
            end.synchronize()
            seconds.append(start.elapsed_time(end) / 1e3)
        else:
            t = time.perf_counter()
            peer.run(n)
            seconds.append(time.perf_counter() - t)
    peer.flush()

    if args.mode == "compile":
        try:
            from torch._dynamo.utils import counters
            skips = dict(counters.get("inductor", {})).get("cudagraph_skips", 0)
            breaks = sum(counters.get("graph_break", {}).values())
            peer.notes.append(f"dynamo graph breaks: {breaks}; inductor cudagraph skips: {skips}"
                              + (" (CUDA graphs were NOT used)" if skips and peer.cuda else ""))
        except Exception as e:  # counters are internal: report, never fail on them
            peer.notes.append(f"graph-break / cudagraph counters unavailable ({e})")
    name, info = device_info(torch, dev)
    result = pc.base_result(f"torch-{args.mode}", dump, torch.__version__, name, threads)
    result["device_info"] = info
    result["implementation"] = peer.impl
    pc.finish_timing(result, dump, n, seconds, compile_seconds)
    result["check"] = check
    result["drain_every"] = peer.R
    result["notes"] = "; ".join([
        peer.impl,
        "loss written from the margins as groove's (softplus of log-sum-exp over j != y of f_j - f_y), not "
        "F.cross_entropy, so the gradient of the far tail is exact as groove's",
        "statistics every step on the device (margins, losses, quantiles in f64; norms and class-mean distances "
        f"from f32 reductions), rows and margins in a device ring copied to the host every {peer.R} steps "
        "(groove's ring: log_every, reduced to fit 256 MiB)",
        "initial weight norms computed once (constant); compile_seconds = first 3 steps minus 3 steady steps",
    ] + tuning + peer.notes)
    pc.write_result(args.out, result)
    for note in peer.notes:
        print(f"note: {note}")
    print(pc.summary_line(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

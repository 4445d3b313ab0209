#!/usr/bin/env python3
"""JAX peer of groove's reference training workload (issue 8; see README.md beside this file).

usage: jax_peer.py DUMP --device cpu|gpu [--steps N] [--repeats R] [--threads 1] [--out result.json]
                   [--rtol X] [--max-examples N] [--check-only | --no-check] [--save-rows FILE.npy]
                   [--dtype float32|float64]

jax.jit of lax.scan over a chunk of log_every steps (fewer when the steps asked for are not a
multiple of it) of jax.vmap(step) over the K models, the state (parameters and the step counter)
donated; each step computes every per-step statistic groove computes, as the scan's output, copied
to the host once per chunk. Matmuls in full float32 (jax_default_matmul_precision="float32"),
x64 off (the statistics are therefore f32 here, f64 in groove and the PyTorch peer).
Where a fixed limit of the check is exceeded, the peer runs itself again with --dtype float64 (a
subprocess: x64 is process-wide) and judges groove and itself by their distances to that
reference (README.md).

  --save-rows FILE.npy  save the peer's check rows (f64 [check_steps, K, columns], the dump's
                        column order) before comparing them: a diagnostic when a check fails
  --dtype float64       jax_enable_x64 and the same code with every float32 array (data,
                        parameters, learning-rate arithmetic, statistics) in float64: computes
                        the check rows only (no check, no timing) and needs --save-rows
  --no-check            time without checking (a short warm-up instead of the check's steps); the
                        result records "check": {"skipped": true}. bench/compare passes it in the
                        rounds after a peer's first passed check

Exit status: 0 check passed and timed; 1 check failed; 2 bad dump or usage; 77 skipped (no JAX,
no GPU).
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
    pc.add_common_arguments(ap, dtype_note=" (x64 on)")
    ap.add_argument("--device", choices=["cpu", "gpu", "cuda"], default="cpu")
    ap.add_argument("--threads", type=int, default=0,
                    help="CPU: 1 runs XLA single-threaded; default: XLA's own (all cores)")
    return pc.parse_common(ap, argv)


def make_data(dump, jnp, dtype=np.float32):
    """Every array the step reads (a pytree passed to the jitted chunk, not baked into it); floats
    in `dtype` (float32; float64 for the check's reference)."""
    C, Q = dump.C, dump.Q
    eye = np.eye(C, dtype=dtype)
    oh = eye[dump.labels]
    counts = oh.sum(0)
    d = {
        "x": dump.x,
        "labels": dump.labels.astype(np.int32),
        "oh": oh,
        # C = 2: sum(f * target) = f_other - f_y; else the one-hot itself
        "target": (1 - 2 * oh) if C == 2 else oh,
        "avg": (oh / np.where(counts > 0, counts, 1)).T.copy(),
    }
    if Q > 0:
        ohh = eye[dump.heldout_labels]
        G = len(dump.groups)
        g1 = np.zeros((Q, G + 1), dtype)
        if G:
            g1[np.arange(Q), dump.heldout_groups] = 1
        g1[:, G] = 1
        cnt = g1.sum(0)
        with np.errstate(divide="ignore"):
            logg1 = np.log(g1)
        d.update({
            "hx": dump.heldout_x, "hlabels": dump.heldout_labels.astype(np.int32), "hoh": ohh, "g1": g1,
            "logg1": logg1.astype(dtype),
            "logcnt": np.where(cnt > 0, np.log(np.maximum(cnt, 1)), np.nan).astype(dtype),
            "invcnt": np.where(cnt > 0, 1.0 / np.maximum(cnt, 1), np.nan).astype(dtype),
        })
    if dump.batch:
        d["bidx"] = dump.batch_index.astype(np.int32)
    init = [dump.init[k].astype(dtype) for k in ("layer0.weight", "layer0.bias", "layer1.weight", "layer1.bias")]
    d["W0_init"], d["W1_init"] = init[0], init[2]
    for layer, w in ((0, init[0]), (1, init[2])):
        w02 = np.sum(w.astype(np.float64) ** 2, axis=(1, 2))
        d[f"inv_w{layer}"] = np.where(w02 > 0, 1 / np.sqrt(np.where(w02 > 0, w02, 1)), np.nan).astype(dtype)
    d["x"] = d["x"].astype(dtype)
    if Q > 0:
        d["hx"] = d["hx"].astype(dtype)
    return {k: jnp.asarray(v) for k, v in d.items()}, [jnp.asarray(p) for p in init]


def build(dump, jax, jnp, lax, dtype="float32"):
    """The jitted chunk: (state, data, n) -> state, rows [n, K, M], margins [n, K, P + Q]; floats
    in `dtype` (float64 for the check's reference, with jax_enable_x64)."""
    C, P, Q, B = dump.C, dump.P, dump.Q, dump.batch
    a0, a1, lr = dump.hidden_scale, dump.readout_scale, dump.lr
    plan, kq = pc.quantile_plan(P)
    groups = list(dump.groups)
    columns = dump.columns
    S = dump.batch_index.shape[0] if B else 1
    f32 = getattr(jnp, dtype)  # the parameters' dtype: float32 (float64 for the reference)
    # Below this log S, log(log1p(e^s)) = s - e^s/2 + ... is s within rounding (and log1p(e^s)
    # underflows far below it): float32 from -15, float64 (as groove's log_softplus_neg) from -700.
    tail = -15.0 if dtype == "float32" else -700.0

    def forward(ps, x):
        W0, b0, W1, b1 = ps
        h = jax.nn.relu(jnp.matmul(x, W0.T) * f32(a0) + b0)
        f = jnp.matmul(h, W1.T) * f32(a1) + b1
        return f, h

    def softplus(z):  # exact in both tails
        return jnp.maximum(z, 0) + jnp.log1p(jnp.exp(-jnp.abs(z)))

    def log_s_of(f, target):
        if C == 2:
            return jnp.sum(f * target, -1)  # f_other - f_y
        fy = jnp.sum(f * target, -1, keepdims=True)
        return jax.nn.logsumexp(jnp.where(target > 0, -jnp.inf, f - fy), -1)

    def train_loss(ps, x, target):
        f, h = forward(ps, x)
        return jnp.mean(softplus(log_s_of(f, target))), (f, h)

    def margins_losses(f, oh):
        fy = jnp.sum(f * oh, -1)
        m = fy - jnp.max(jnp.where(oh > 0, -jnp.inf, f), -1)
        log_s = -m if C == 2 else jax.nn.logsumexp(jnp.where(oh > 0, -jnp.inf, f - fy[:, None]), -1)
        loss = softplus(log_s)
        log_loss = jnp.where(log_s < tail, log_s, jnp.log(loss))  # log(log1p(e^s)) = s - e^s/2 + ...
        return m, loss, log_loss

    def distances(h, oh, mu, mub, dmu2):
        e = h - oh @ mu  # h_i - mu_{y_i}
        en2 = jnp.sum(e * e, -1)
        E = e @ mub.T
        d = en2[:, None] + 2 * (jnp.sum(E * oh, -1, keepdims=True) - E) + oh @ dmu2
        return en2, d

    def stats(ps, grads, f, h, fh, hh, data, k_init):
        W0, _, W1, _ = ps
        W0i, W1i, inv0, inv1 = k_init
        out = {}
        m, loss, log_loss = margins_losses(f, data["oh"])
        out["train_loss"] = jnp.mean(loss)
        out["train_log10_loss"] = (jax.nn.logsumexp(log_loss) - math.log(P)) * pc.LOG10E
        out["train_acc"] = jnp.mean((m > 0).astype(f32))
        out["margin_mean"] = jnp.mean(m)
        v = -lax.top_k(-m, kq)[0]  # the kq smallest, ascending
        has_nan = jnp.any(jnp.isnan(m))
        out["margin_min"] = jnp.where(has_nan, jnp.nan, v[0])
        for name, (lo, hi, w) in zip(("margin_q01", "margin_q05"), plan):
            out[name] = jnp.where(has_nan, jnp.nan, v[lo] + f32(w) * (v[hi] - v[lo]))
        w2 = [jnp.sum(W0 * W0), jnp.sum(W1 * W1)]
        out["w0_norm"], out["w1_norm"] = jnp.sqrt(w2[0]), jnp.sqrt(w2[1])
        out["w0_move"] = jnp.sqrt(jnp.sum(jnp.square(W0 - W0i))) * inv0
        out["w1_move"] = jnp.sqrt(jnp.sum(jnp.square(W1 - W1i))) * inv1
        total = w2[0] + w2[1]
        mmin = out["margin_min"]
        out["margin_norm_prod"] = mmin / (out["w0_norm"] * out["w1_norm"])
        out["margin_norm_global"] = mmin / total
        out["margin_readout"] = mmin / out["w1_norm"]
        out["grad_norm"] = jnp.sqrt(sum(jnp.sum(g * g) for g in grads))
        out["weight_norm"] = jnp.sqrt(total)
        mu = data["avg"] @ h
        mub = mu - jnp.mean(mu, 0, keepdims=True)
        gram = mub @ mub.T
        dg = jnp.diag(gram)
        dmu2 = jnp.maximum(dg[:, None] + dg[None, :] - 2 * gram, 0)
        iu = np.triu_indices(C, 1)
        out["centroid_dist"] = jnp.mean(jnp.sqrt(dmu2[iu]))
        en2, dist = distances(h, data["oh"], mu, mub, dmu2)
        out["within_var"] = jnp.mean(en2)
        out["train_ncm_acc"] = jnp.mean((jnp.argmin(dist, -1) == data["labels"]).astype(f32))
        margins = [m]
        if Q > 0:
            mh, lh, log_lh = margins_losses(fh, data["hoh"])
            _, dh = distances(hh, data["hoh"], mu, mub, dmu2)
            ncm = (jnp.argmin(dh, -1) == data["hlabels"]).astype(f32)
            g1, inv = data["g1"], data["invcnt"]
            sums = (lh @ g1) * inv
            log10 = (jax.nn.logsumexp(log_lh[:, None] + data["logg1"], axis=0) - data["logcnt"]) * pc.LOG10E
            acc = ((mh > 0).astype(f32) @ g1) * inv
            ncm_acc = (ncm @ g1) * inv
            for g, name in enumerate(groups + ["heldout"]):
                out[f"{name}_loss"] = sums[g]
                out[f"{name}_log10_loss"] = log10[g]
                out[f"{name}_acc"] = acc[g]
                out[f"{name}_ncm_acc"] = ncm_acc[g]
            margins.append(mh)
        zero, nan = jnp.zeros((), f32), jnp.full((), jnp.nan, f32)  # columns groove leaves NaN
        row = jnp.stack([out.get(c, nan) if c != "step" else zero for c in columns])
        return row, jnp.concatenate(margins)

    def model_step(ps, xb, target, data, k_init):
        grads, (f, h) = jax.grad(train_loss, has_aux=True)(ps, xb, target)
        if B:
            f, h = forward(ps, data["x"])  # groove's clean forward over the whole training set
        fh, hh = forward(ps, data["hx"]) if Q > 0 else (None, None)
        row, marg = stats(ps, grads, f, h, fh, hh, data, k_init)
        new = tuple(p - f32(lr) * g for p, g in zip(ps, grads))
        return new, row, marg

    xdim = 0 if B else None
    vstep = jax.vmap(model_step, in_axes=(0, xdim, xdim, None, 0))

    def chunk(state, data, n):
        def body(carry, _):
            ps, t = carry
            if B:
                idx = data["bidx"][t % S]  # [K, B]
                xb, target = data["x"][idx], data["target"][idx]
            else:
                xb, target = data["x"], data["target"]
            k_init = (data["W0_init"], data["W1_init"], data["inv_w0"], data["inv_w1"])
            new, row, marg = vstep(ps, xb, target, data, k_init)
            return (new, t + 1), (row, marg)

        (ps, t), (rows, margs) = lax.scan(body, state, None, length=n)
        return (ps, t), rows, margs

    return jax.jit(chunk, donate_argnums=(0,), static_argnums=(2,))


def main(argv):
    args = parse_args(argv)
    if args.device == "cpu":
        os.environ.setdefault("JAX_PLATFORMS", "cpu")
        if args.threads == 1:
            os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                                       " --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1").strip()
    try:
        import jax
        import jax.numpy as jnp
        from jax import lax
    except ImportError as e:
        print(f"skipped: JAX is not importable by {sys.executable} ({e}); run bench/peers/setup")
        return SKIP
    dump = pc.load_dump(args.dump)
    if dump is None:
        return 2
    jax.config.update("jax_enable_x64", args.dtype == "float64")
    jax.config.update("jax_default_matmul_precision", "float32")
    gpu = args.device in ("gpu", "cuda")
    try:
        device = jax.devices("gpu" if gpu else "cpu")[0]
    except RuntimeError as e:
        print(f"skipped: no JAX {args.device} device ({e})")
        return SKIP
    jax.config.update("jax_default_device", device)
    threads = 1 if (args.threads == 1 and not gpu) else (os.cpu_count() if not gpu else None)
    import jaxlib
    version = f"jax {jax.__version__}, jaxlib {getattr(jaxlib, '__version__', '?')}"
    print(f"{version} ({sys.executable}), device {device} ({device.device_kind}); dump {dump.describe()}"
          + (f"; dtype {args.dtype}" if args.dtype != "float32" else ""))

    chunk = build(dump, jax, jnp, lax, args.dtype)
    K = dump.K
    S = dump.check_steps
    R = pc.drain_interval(dump)  # steps per chunk: groove's rows per copy to the host

    def start_state(d):
        data, init = make_data(d, jnp, np.dtype(args.dtype))
        data = jax.device_put(data, device)
        ps = tuple(jax.device_put(jnp.array(p), device) for p in init)
        return (ps, jnp.zeros((), jnp.int32)), data

    compiled = {}

    def compile_chunks(state, data, lengths):
        """AOT-compiles the chunk of each length (once); returns the seconds it took."""
        t = time.perf_counter()
        for length in sorted(set(lengths)):
            if length not in compiled:
                compiled[length] = chunk.lower(state, data, length).compile()
        return time.perf_counter() - t

    def chunks(steps):
        return [R] * (steps // R) + ([steps % R] if steps % R else [])

    def run(state, data, lengths, consume=None):
        """One chunk per length; the rows of a chunk are fetched once the next one is dispatched."""
        pending = None
        done = 0
        for length in lengths:
            state, rows, margs = compiled[length](state, data)
            if hasattr(rows, "copy_to_host_async"):
                rows.copy_to_host_async()
                margs.copy_to_host_async()
            if pending is not None:
                consume(*pending) if consume is not None else np.asarray(pending[1])
            pending = (done, rows)
            done += length
        return state, pending

    # --- the check -------------------------------------------------------------------------------
    def check_rows(d):
        state, data = start_state(d)
        out = np.full((S, K, len(dump.columns)), np.nan)

        def consume(first, rows):
            r = np.asarray(rows).astype(np.float64)
            if "step" in dump.columns:
                r[:, :, dump.columns.index("step")] = np.arange(first, first + r.shape[0])[:, None]
            out[first:first + r.shape[0]] = r

        state, pending = run(state, data, chunks(S), consume)
        consume(*pending)
        return out, state, data

    if args.no_check:
        # Compilation, warm-up and the step time that sizes the repeats, without the check's S
        # steps: chunks of min(R, 16) steps, doubling until a batch takes >= ~min-time/4 (at most S).
        state, data = start_state(dump)
        c = min(R, 16)
        compile_seconds = compile_chunks(state, data, [c])
        state, _ = run(state, data, [c])
        jax.block_until_ready(state)
        reps, done_cal = 1, c
        while True:
            t = time.perf_counter()
            state, _ = run(state, data, [c] * reps)
            jax.block_until_ready(state)
            took = time.perf_counter() - t
            done_cal += c * reps
            if took >= max(0.05, 0.25 * args.min_time) or done_cal + 2 * c * reps > max(S, c):
                break
            reps *= 2
        step_seconds = took / (c * reps)
        print(f"check skipped (--no-check); warm-up {done_cal} steps, {step_seconds * 1e6:.1f} us/step")
        check = pc.skipped_check(S)
    else:
        state, data = start_state(dump)
        compile_seconds = compile_chunks(state, data, chunks(S))
        t1 = time.perf_counter()
        rows, state, data = check_rows(dump)
        jax.block_until_ready(state)
        check_seconds = time.perf_counter() - t1
        step_seconds = check_seconds / S
        if args.save_rows:
            pc.save_rows(args.save_rows, rows)
        if args.dtype == "float64":
            return 0

        script_args = ["--device", args.device]  # --threads 1: XLA_FLAGS, inherited by the subprocess
        reference = pc.float64_reference(os.path.abspath(__file__), script_args, dump, S)
        passed, max_errors, lines, failures, notes, distances = pc.compare(
            dump, rows, S, args.rtol, args.max_examples, reference)
        pc.print_check(dump, passed, lines, failures, S, args.rtol, args.max_examples, notes)
        if not passed:
            print("not timed: the curves differ from groove's")
            return 1
        print(f"check passed ({S} steps in {check_seconds:.2f} s; compile {compile_seconds:.2f} s)")
        if args.check_only:
            return 0
        check = pc.check_record(S, max_errors, notes, distances, args.rtol, args.max_examples)

    # --- timing ----------------------------------------------------------------------------------
    n = pc.choose_steps(args.steps, gpu, step_seconds, R, args.min_time)
    # Whole chunks: n steps of chunks of R (rounded up), or one chunk of n when n < R.
    lengths = [n] if n < R else [R] * (-(-n // R))
    n = sum(lengths)
    if any(length not in compiled for length in lengths):  # compile, and run once before timing
        compile_seconds += compile_chunks(state, data, lengths)
        state, _ = run(state, data, lengths[:1])
        jax.block_until_ready(state)
    seconds = []
    for _ in range(max(1, args.repeats)):
        t = time.perf_counter()
        state, pending = run(state, data, lengths)
        jax.block_until_ready(state)
        seconds.append(time.perf_counter() - t)
        np.asarray(pending[1])
    length = lengths[0]

    result = pc.base_result("jax-jit-vmap-scan", dump, version, f"{device} ({device.device_kind})", threads)
    impl = (f"jax.jit(lax.scan over chunks of {length} steps of jax.vmap(step) over the {K} models), state donated; "
            "statistics as the scan's output (f32: x64 off), copied to the host once per chunk")
    result["implementation"] = impl
    result["drain_every"] = length
    pc.finish_timing(result, dump, n, seconds, compile_seconds)
    result["check"] = check
    result["notes"] = "; ".join([
        impl, "loss written from the margins as groove's (softplus of log-sum-exp over j != y of f_j - f_y)",
        "matmul precision float32 (no TF32); compile_seconds = jit lowering + XLA compilation of the chunk(s)",
        f"chunk of {length} steps: rows copied to the host every {length} steps (groove: every {R})",
    ])
    pc.write_result(args.out, result)
    print(pc.summary_line(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

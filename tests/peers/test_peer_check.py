#!/usr/bin/env python3
"""The rule of the benchmark peers' check (bench/peers/peer_common.check_rows) on synthetic rows:
fixed limits first; over them, groove's and the peer's distances to the peer's float64 reference.
Pure NumPy, no dump, no framework; exit 77 without NumPy.

usage: test_peer_check.py [ignored arguments]
"""

import os
import sys

try:
    import numpy as np
except ImportError:
    print("SKIP: numpy is not importable by " + sys.executable)
    sys.exit(77)

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "bench", "peers"))
import peer_common as pc  # noqa: E402

COLUMNS = ["step", "train_loss", "grad_norm", "train_acc"]
COUNTS = {"train_acc": 64}  # examples behind the accuracy column
STEPS, K = 50, 3
failed = []


def base():
    """groove's rows: smooth curves, peak 1 in the continuous columns; accuracies in 1/64."""
    s = np.arange(STEPS, dtype=np.float64)
    rows = np.zeros((STEPS, K, len(COLUMNS)))
    rows[:, :, 0] = s[:, None]
    rows[:, :, 1] = np.exp(-s / 20)[:, None] * np.array([1.0, 0.9, 0.8])
    rows[:, :, 2] = (0.5 + 0.5 * np.cos(s / 7))[:, None] * np.ones(K)
    rows[:, :, 3] = np.round(np.linspace(32, 60, STEPS))[:, None] / 64
    return rows


class Reference:
    def __init__(self, rows):
        self.rows, self.calls = rows, 0

    def __call__(self):
        self.calls += 1
        return self.rows


def run(name, groove, peer, ref, expect_pass, expect_calls=1, note=None, failure=None):
    passed, max_errors, lines, failures, notes, distances = pc.check_rows(
        COLUMNS, groove, peer, COUNTS, pc.RTOL, pc.MAX_EXAMPLES, ref)
    calls = ref.calls if isinstance(ref, Reference) else None
    problems = []
    if passed != expect_pass:
        problems.append(f"passed = {passed}, expected {expect_pass}")
    if calls is not None and calls != expect_calls:
        problems.append(f"the reference was called {calls} times, expected {expect_calls}")
    if note is not None and not any(note in n for n in notes):
        problems.append(f"no note containing {note!r}")
    if failure is not None and not any(failure in m for _, _, _, m in failures):
        problems.append(f"no failure message containing {failure!r}")
    if expect_pass and failures:
        problems.append("failures listed on a pass")
    status = "ok" if not problems else "FAILED"
    print(f"{status}: {name}")
    for line in lines:
        print("   " + line)
    for n in notes:
        print("   note: " + n)
    for c, s, k, m in failures:
        print(f"   check failure: column {c}, step {s}, model {k}: {m}")
    for p in problems:
        print("   PROBLEM: " + p)
    if problems:
        failed.append(name)
    return failures, notes, distances


def main():
    g = base()
    j_loss, j_grad, j_acc = 1, 2, 3

    # 1. Within the fixed limits: the reference is not run.
    peer = g.copy()
    peer[:, :, j_loss] *= 1 + 3e-5
    run("within the fixed limits, no reference", g, peer, Reference(g), True, expect_calls=0)

    # 2. The peer spikes (one step, 2e-3 of peak) and drifts (2e-5) away from its float64
    #    reference; groove stays on it (1e-7): accepted, with a note naming the model.
    ref = g.copy()
    ref[:, :, j_grad] += 1e-7 * np.sin(np.arange(STEPS))[:, None]
    peer = ref.copy()
    peer[:, :, j_grad] += 2e-5
    peer[30, 1, j_grad] += 2e-3
    _, notes, dist = run("groove on the reference, the peer spikes", g, peer, Reference(ref), True,
                         note="accepted: the peer's f32 run leaves its float64 reference by")
    if not any("model 1 " in n for n in notes) or abs(dist["grad_norm"]["peer"] - 2.02e-3) > 1e-6:
        failed.append("note / distances of case 2")
        print(f"   PROBLEM: expected model 1 in the notes and a peer distance 2.02e-3, got {dist['grad_norm']}")

    # 3. Groove off the reference by 10x the peer's distance (the peer 1e-4 .. 1.2e-4 away, groove
    #    1.2e-3: a bug in groove or an amplified event only groove shows): fails.
    ref = g.copy()
    peer = ref.copy()
    peer[:, :, j_grad] += 1.2e-4 * np.linspace(0.8, 1, STEPS)[:, None]
    gg = ref.copy()
    gg[:, 2, j_grad] += 1.2e-3 * np.linspace(0, 1, STEPS)
    run("groove 10x further from the reference than the peer", gg, peer, Reference(ref), False,
        failure="groove leaves the peer's float64 reference by")

    # 4. Groove's distance within 4x the peer's largest (on another model: the ReLU-kink events of
    #    grad_norm hit either run on a few models at random): accepted.
    peer = ref.copy()
    peer[40, 0, j_grad] += 1e-3
    gg = ref.copy()
    gg[20, 2, j_grad] += 2e-3
    run("groove's event within 4x the peer's largest event on another model", gg, peer, Reference(ref), True,
        note="model 2")

    # 5. Both far from the reference (the peer 5e-2, over the cap), groove 2e-2 > REF_CAP: fails.
    peer = ref.copy()
    peer[10:, 1, j_loss] += 5e-2
    gg = ref.copy()
    gg[10:, 1, j_loss] += 2e-2
    run("both far, groove over the cap", gg, peer, Reference(ref), False, failure="capped")
    # ... and groove under the cap (5e-3) passes.
    gg = ref.copy()
    gg[10:, 1, j_loss] += 5e-3
    run("both far, groove under the cap", gg, peer, Reference(ref), True)

    # 6. A NaN where groove has a number: fails without consulting the reference.
    peer = g.copy()
    peer[5, 0, j_loss] = np.nan
    peer[:, :, j_grad] += 1e-3  # also over a fixed limit
    run("NaN mismatch", g, peer, Reference(g), False, expect_calls=0, failure="NaN mismatch")

    # 7. The step column is exact, never accepted by the reference.
    peer = g.copy()
    peer[7, 1, 0] += 1
    run("step column", g, peer, Reference(g), False, expect_calls=0)

    # 8. Accuracy columns in examples: groove 3 examples from the reference, the peer 1 (limit
    #    max(2, 4 x 1) = 4): passes; groove 5 examples away: fails; no cap for examples.
    peer = g.copy()
    peer[12, 0, j_acc] += 1 / 64
    peer[13, 0, j_acc] += 1 / 64
    gg = g.copy()
    gg[12, 0, j_acc] -= 3 / 64
    run("accuracy: groove 3 examples off, the peer 1", gg, peer, Reference(g), True, note="examples")
    gg[12, 0, j_acc] -= 2 / 64
    run("accuracy: groove 5 examples off, the peer 1", gg, peer, Reference(g), False, failure="examples")
    peer = g.copy()
    peer[12, 0, j_acc] += 10 / 64
    gg = g.copy()
    gg[12, 0, j_acc] -= 30 / 64  # 4 x 10 = 40 examples allowed: no cap
    run("accuracy: no cap in examples", gg, peer, Reference(g), True)

    # 9. A bug in the peer is in its reference too: groove leaves it, the peer does not: fails.
    bug = g.copy()
    bug[:, :, j_loss] += 3e-4 * np.linspace(0, 1, STEPS)[:, None]
    peer = bug.copy()
    peer[:, :, j_loss] += 1e-7
    run("a bug in the peer (in its reference too)", g, peer, Reference(bug), False)

    # 10. The reference fails (raises): the fixed limits decide, and the message says why.
    def broken():
        raise RuntimeError("the float64 run exited 1")
    peer = g.copy()
    peer[:, :, j_grad] += 2e-4
    run("the reference fails", g, peer, broken, False, failure="no float64 reference")

    # 11. Groove and the peer agree on a NaN that the reference does not have, on a column over its
    #     limit: groove's distance to the reference is then unbounded, never accepted.
    ref = g.copy()
    gg = g.copy()
    gg[3, 1, j_grad] = np.nan
    peer = gg.copy()
    peer[:, :, j_grad] += 1e-3
    run("NaN against the reference", gg, peer, Reference(ref), False, failure="inf")

    if failed:
        print(f"{len(failed)} case(s) failed: {', '.join(failed)}")
        return 1
    print("all cases passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())

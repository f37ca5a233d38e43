"""GD engine benchmarks on the shared harness: one engine step against its two GEMMs, the training
loop against the step, a plain torch autograd step, and a naive numpy experiment.

Every ratio comes from ONE interleaved best-of-K block of :func:`_common.compare` (A B C, C B A,
...; one untimed warm-up each), whose detail column carries the medians and the ``NOISY`` flag
when other processes took 5 % or more of the CPUs meanwhile (the verdict then ends in ``?``).

1. ``engine step / two GEMMs``: ``twolayer.dynamics.step`` on an ``engine.init`` state (Arora et
   al. network, first layer trained, float32, ``½n⁻¹Σ`` loss) divided by the two bare products of
   the same shapes into preallocated buffers, ``P = X Wᵀ`` (n × m) and ``G = Pᵀ X`` (m × d);
   target ≤ 1.15 at n = 2,000, d = 784, m = 10,000 (the step is GEMM-bound).
2. ``train loop per step / engine step``: ``twolayer.dynamics.train`` with its built-in observers
   (recorder, divergence guard, diagnostics, kernel gap against the closed-form H∞), 20 steps
   recorded at the first and the last (``gram_diagnostics=False``: the ``n² m`` tangent Gram per
   record is an opt-in diagnostic); the loop's own time (``TrainResult.seconds``, i.e. without
   building the reference kernel and its spectrum) divided by the number of steps. Target ≤ 1.05:
   the two records (activation flips, distances, the kernel prediction) are the overhead.
3. ``peak extra memory``: numpy allocations during one step (tracemalloc) in units of the
   ``n × m`` pre-activation matrix (target ≤ 1: no avoidable ``n × m`` temporaries).
4. ``torch autograd step / engine step``: the same network and loss as a plain PyTorch CPU
   autograd step (float32, torch imported lazily; the row is a ``skip`` without torch), target
   ≥ 1.4; with torch's own two GEMMs in the same block, so that the detail shows how far torch
   itself is from its floor (the ratio cannot exceed torch-step/torch-GEMMs ÷ ours/GEMMs).
5. ``naive loop / engine``: a Figure-1-sized experiment — three label sets (true, random, worst
   case) with loss, distance and activation flips — written as a straightforward numpy loop
   (float64, one label set at a time, diagnostics every step) divided by one batched
   ``twolayer.dynamics.train`` call (float32, log-spaced records); and the ``batching gain``:
   three sequential ``train`` calls divided by the batched one. Both from one interleaved block
   (no warm-up: each call runs hundreds of steps).

Usage: ``python benchmarks/bench_dynamics.py [--quick] [--repeat K]``; ``run_all.py`` runs it too.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import (Row, SelfTimed, compare, log, peak_allocation, print_environment,  # noqa: E402
                     print_table, ratio_detail, unit_rows)

from twolayer import dynamics as D  # noqa: E402
from twolayer import networks as N  # noqa: E402

FULL = dict(step=dict(n=2000, d=784, m=10_000, train_steps=20),
            experiment=dict(n=300, d=64, m=10_000, steps=300))
QUICK = dict(step=dict(n=500, d=784, m=2000, train_steps=20),
             experiment=dict(n=200, d=64, m=1000, steps=50))
TARGET_STEP = 1.15
TARGET_TRAIN = 1.05
TARGET_TORCH = 1.4
LR = 1e-3  # in the mean convention: far below the stable step, so a few hundred timed steps stay finite


def _torch_fns(X: np.ndarray, y: np.ndarray, net: N.Network):
    """The torch autograd step of the same network and loss, and torch's two bare GEMMs; None without torch."""
    try:
        import torch
    except ImportError:
        return None
    n, d = X.shape
    m = net.width
    Xt = torch.from_numpy(X)
    yt = torch.from_numpy(np.ascontiguousarray(y[0]))
    Wt = torch.from_numpy(net.W[0].copy()).requires_grad_(True)
    at = torch.from_numpy(net.a[0].copy())
    scale = float(net.scale)
    Pt = torch.empty((n, m), dtype=Xt.dtype)
    Gt = torch.empty((m, d), dtype=Xt.dtype)
    W0 = Wt.detach()

    def step():
        u = torch.relu(Xt @ Wt.T) @ at * scale
        loss = 0.5 * ((u - yt) ** 2).mean()
        loss.backward()
        with torch.no_grad():
            Wt.sub_(LR * Wt.grad)
            Wt.grad = None

    def gemms():
        torch.matmul(Xt, W0.T, out=Pt)
        torch.matmul(Pt.T, Xt, out=Gt)

    return step, gemms, torch.__version__, torch.get_num_threads()


def bench_step(n: int, d: int, m: int, train_steps: int, repeat: int) -> list[Row]:
    dtype = np.float32
    X = unit_rows(n, d, 0).astype(dtype)
    y = np.sign(X[:, 0]).astype(dtype)[None, :]
    net = N.init_network("arora", d, m, seed=1, kappa=1e-2, dtype=dtype)
    state = D.init(net, X, y, D.make_rule("gd", lr=LR), normalization="mean")

    def step():
        D.step(state)

    Wf = net.W.reshape(m, d)
    P = np.empty((n, m), dtype)
    G = np.empty((m, d), dtype)

    def gemms():
        np.matmul(X, Wf.T, out=P)
        np.matmul(P.T, X, out=G)

    def train_loop() -> float:
        res = D.train(net, X, y, lr=LR, steps=train_steps, normalization="mean", record_steps=(0, train_steps),
                      gram_diagnostics=False)
        return res.seconds / train_steps

    funcs = {"gemms": gemms, "step": step, "train": SelfTimed(train_loop)}
    torch_fns = _torch_fns(X, y, net)
    if torch_fns is not None:
        funcs["torch"], funcs["torch_gemms"] = torch_fns[0], torch_fns[1]
    shape = f"n={n}, d={d}, m={m}, float32"
    log(f"dynamics: step / GEMMs / train loop{' / torch' if torch_fns else ''} at {shape} (best of {repeat})")
    t = compare(funcs, repeat=repeat)
    gflops = 4 * n * m * d / t["gemms"].best / 1e9
    rows = [
        Row(f"engine step / two GEMMs ({shape})", t["step"].best / t["gemms"].best, ("<=", TARGET_STEP),
            ratio_detail(t["step"], t["gemms"], "dynamics.step", "GEMMs") + f"; GEMMs {gflops:.0f} GFLOP/s"),
        Row(f"train loop per step (observers; records at 0 and {train_steps}, no Gram diagnostics) / engine step",
            t["train"].best / t["step"].best, ("<=", TARGET_TRAIN),
            ratio_detail(t["train"], t["step"], f"train ({train_steps} steps)/step", "step")),
    ]
    peak = peak_allocation(step)
    rows.append(Row("engine step peak extra numpy memory / (n x m float32)", peak / (n * m * 4), ("<=", 1.0),
                    f"{peak / 2**20:.1f} MiB (workspace reused)"))
    if torch_fns is None:
        rows.append(Row("torch autograd step / engine step", float("nan"), (">=", TARGET_TORCH),
                        "torch not installed (pip install torch): comparison skipped", status="skip"))
        return rows
    version, threads = torch_fns[2], torch_fns[3]
    rows.append(Row(f"torch autograd step / engine step (CPU, same network, {shape})",
                    t["torch"].best / t["step"].best, (">=", TARGET_TORCH),
                    ratio_detail(t["torch"], t["step"], "torch", "ours")
                    + f"; torch step / torch's two GEMMs {t['torch'].best / t['torch_gemms'].best:.2f}x, "
                      f"ours / our GEMMs {t['step'].best / t['gemms'].best:.2f}x; torch {version}, {threads} threads"))
    return rows


def _naive_experiment(X, Ys, m, kappa, lr, steps, seed):
    """What one writes by hand: float64, one label set at a time, diagnostics at every step."""
    n, d = X.shape
    out = []
    for y in Ys:
        rng = np.random.default_rng(seed)
        W = kappa * rng.standard_normal((m, d))
        a = rng.choice([-1.0, 1.0], m)
        W0 = W.copy()
        act0 = X @ W.T > 0
        losses, dists, flips = [], [], []
        for _ in range(steps + 1):
            pre = X @ W.T
            u = np.maximum(pre, 0) @ a / np.sqrt(m)
            e = u - y
            losses.append(0.5 * np.mean(e**2))
            dists.append(np.linalg.norm(W - W0))
            flips.append(np.mean((pre > 0) != act0))
            grad = ((pre > 0) * e[:, None] * a[None, :] / np.sqrt(m)).T @ X / n
            W = W - lr * grad
        out.append(losses[-1])
    return out


def bench_experiment(n: int, d: int, m: int, steps: int, repeat: int) -> list[Row]:
    from twolayer.kernels import first_layer_ntk
    from twolayer.spectra import spectrum, worst_case_labels

    X64 = unit_rows(n, d, 2)
    y_true = np.sign(X64[:, 0] + 0.5 * X64[:, 1])
    y_rand = np.random.default_rng(3).choice([-1.0, 1.0], n)
    sp = spectrum(first_layer_ntk(X64))
    Ys = np.stack([y_true, y_rand, worst_case_labels(sp)])
    lr = 0.5 * sp.max_stable_lr("mean")
    kappa = 1e-2
    X32 = X64.astype(np.float32)

    def batched():
        net = N.init_network("arora", d, m, seed=4, batch=3, kappa=kappa, dtype=np.float32)
        D.train(net, X32, Ys, lr=lr, steps=steps, normalization="mean", gram_diagnostics=False)

    def sequential():
        for b in range(3):
            net = N.init_network("arora", d, m, seed=4, batch=1, kappa=kappa, dtype=np.float32)
            D.train(net, X32, Ys[b], lr=lr, steps=steps, normalization="mean", gram_diagnostics=False)

    log(f"dynamics: naive loop / batched train / sequential train (n={n}, d={d}, m={m}, {steps} steps, "
        f"best of {repeat}, no warm-up)")
    t = compare({"naive": lambda: _naive_experiment(X64, Ys, m, kappa, lr, steps, seed=4),
                 "batched": batched, "sequential": sequential}, repeat=repeat, warmup=0)
    return [
        Row(f"naive numpy loop / engine (3 label sets, n={n}, d={d}, m={m}, {steps} steps)",
            t["naive"].best / t["batched"].best, None, ratio_detail(t["naive"], t["batched"], "naive", "engine")),
        Row("batching gain: 3 sequential train calls / 1 batched call", t["sequential"].best / t["batched"].best,
            None, ratio_detail(t["sequential"], t["batched"], "sequential", "batched")),
    ]


def run(quick: bool = False, repeat: int = 3) -> list[Row]:
    cfg = QUICK if quick else FULL
    return bench_step(**cfg["step"], repeat=repeat) + bench_experiment(**cfg["experiment"], repeat=repeat)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help=f"small sizes {QUICK} instead of {FULL}")
    ap.add_argument("--repeat", type=int, default=3, help="timed repetitions per measurement (best is reported; >= 3)")
    a = ap.parse_args(argv)
    print_environment()
    rows = run(quick=a.quick, repeat=max(3, a.repeat))
    print_table(rows, "GD engine (ratios: ours / reference; lower is better unless the target says >=)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

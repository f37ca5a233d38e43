"""GD engine benchmarks: ratios against the machine's GEMMs, a plain torch autograd loop and a naive numpy loop.

Printed (one run, ratios only as headline; times in the detail column):

1. ``step / GEMMs``: one full GD step of the Arora et al. network (first layer trained, float32)
   divided by the two bare matrix products of the same shapes, ``P = X Wᵀ`` and ``Gᵀ = Dᵀ X``
   (target ≤ 1.15 at n = 2,000, d = 784, m = 10,000: the step is GEMM-bound).
2. ``torch autograd / step``: a plain PyTorch CPU autograd step of the same model divided by ours
   (target ≥ 1.4), when torch is installed.
3. ``peak extra memory``: numpy allocations during a step (tracemalloc) in units of the ``n × m``
   pre-activation matrix (target: ≤ 1, i.e. no avoidable n × m temporaries).
4. ``naive loop / engine``: a Figure-1-sized experiment — three label sets (true, random, worst
   case) trained to the same number of steps with loss, distance and activation flips recorded —
   written as a straightforward numpy loop (one label set at a time, float64, diagnostics every
   step) divided by ``twolayer.dynamics.train`` (batched, float32, log-spaced records).
5. ``batching gain``: three label sets run one after the other through the engine, divided by the
   same three in one batched pass.

Usage: ``python benchmarks/bench_dynamics.py [--quick]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import tracemalloc

import numpy as np

from twolayer import dynamics as D
from twolayer import networks as N


def _best(fn, reps: int) -> float:
    fn()
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def _sphere(n, d, seed, dtype):
    X = np.random.default_rng(seed).standard_normal((n, d))
    return (X / np.linalg.norm(X, axis=1, keepdims=True)).astype(dtype)


def bench_step(n: int, d: int, m: int, reps: int) -> list[dict]:
    dtype = np.float32
    X = _sphere(n, d, 0, dtype)
    y = np.sign(X[:, 0]).astype(dtype)[None, :]
    net = N.init_network("arora", d, m, seed=1, kappa=1e-2, dtype=dtype)
    ws = N.Workspace(n, net)
    rule = D.make_rule("gd", lr=1e-3)
    params = {"W": net.W}
    state = rule.init(params)

    def step():
        nonlocal state
        out = N.loss_and_grads(net, X, y, normalization="mean", trains={"W"}, ws=ws)
        upd, state = rule.update({"W": out["gW"]}, state, params)
        params["W"] += upd["W"]

    Wf = net.W.reshape(m, d)
    P = np.empty((n, m), dtype)
    G = np.empty((m, d), dtype)

    def gemms():
        np.matmul(X, Wf.T, out=P)
        np.matmul(P.T, X, out=G)

    t_gemm = _best(gemms, reps)
    t_step = _best(step, reps)
    tracemalloc.start()
    step()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rows = [
        {"name": f"GD step / two GEMMs (n={n}, d={d}, m={m}, float32)", "ratio": t_step / t_gemm,
         "target": "<= 1.15", "ok": t_step / t_gemm <= 1.15,
         "detail": f"step {t_step * 1e3:.1f} ms, GEMMs {t_gemm * 1e3:.1f} ms"},
        {"name": "GD step peak extra numpy memory / (n x m float32)", "ratio": peak / (n * m * 4),
         "target": "<= 1", "ok": peak / (n * m * 4) <= 1.0, "detail": f"{peak / 2**20:.1f} MiB"},
    ]
    try:
        import torch
    except ImportError:
        rows.append({"name": "torch autograd step / our step", "ratio": float("nan"), "target": ">= 1.4",
                     "ok": None, "detail": "torch not installed (pip install torch==2.13.0)"})
        return rows
    torch.set_num_threads(max(1, torch.get_num_threads()))
    Xt = torch.from_numpy(X)
    yt = torch.from_numpy(y[0])
    Wt = torch.from_numpy(net.W[0].copy()).requires_grad_(True)
    at = torch.from_numpy(net.a[0].copy())

    def torch_step():
        u = torch.relu(Xt @ Wt.T) @ at / m**0.5
        loss = 0.5 * ((u - yt) ** 2).mean()
        loss.backward()
        with torch.no_grad():
            Wt.sub_(1e-3 * Wt.grad)
            Wt.grad = None

    t_torch = _best(torch_step, reps)
    rows.append({"name": "torch autograd step / our step (CPU, same model)", "ratio": t_torch / t_step,
                 "target": ">= 1.4", "ok": t_torch / t_step >= 1.4,
                 "detail": f"torch {t_torch * 1e3:.1f} ms, ours {t_step * 1e3:.1f} ms, torch {torch.__version__}"})
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


def bench_experiment(n: int, d: int, m: int, steps: int) -> list[dict]:
    X64 = _sphere(n, d, 2, np.float64)
    y_true = np.sign(X64[:, 0] + 0.5 * X64[:, 1])
    y_rand = np.random.default_rng(3).choice([-1.0, 1.0], n)
    from twolayer.kernels import first_layer_ntk
    from twolayer.spectra import spectrum, worst_case_labels

    sp = spectrum(first_layer_ntk(X64))
    y_worst = worst_case_labels(sp)
    Ys = np.stack([y_true, y_rand, y_worst])
    lr = 0.5 * sp.max_stable_lr("mean")
    kappa = 1e-2

    t0 = time.perf_counter()
    _naive_experiment(X64, Ys, m, kappa, lr, steps, seed=4)
    t_naive = time.perf_counter() - t0

    def engine(batched: bool):
        X = X64.astype(np.float32)
        if batched:
            net = N.init_network("arora", d, m, seed=4, batch=3, kappa=kappa, dtype=np.float32)
            D.train(net, X, Ys, lr=lr, steps=steps, normalization="mean", gram_diagnostics=False)
        else:
            for b in range(3):
                net = N.init_network("arora", d, m, seed=4, batch=1, kappa=kappa, dtype=np.float32)
                D.train(net, X, Ys[b], lr=lr, steps=steps, normalization="mean", gram_diagnostics=False)

    t0 = time.perf_counter()
    engine(True)
    t_batched = time.perf_counter() - t0
    t0 = time.perf_counter()
    engine(False)
    t_seq = time.perf_counter() - t0
    return [
        {"name": f"naive numpy loop / engine (3 label sets, n={n}, d={d}, m={m}, {steps} steps)",
         "ratio": t_naive / t_batched, "target": "-", "ok": None,
         "detail": f"naive {t_naive:.1f} s, engine {t_batched:.1f} s"},
        {"name": "batching gain: 3 sequential runs / 1 batched run", "ratio": t_seq / t_batched,
         "target": "-", "ok": None,
         "detail": f"sequential {t_seq:.1f} s, batched {t_batched:.1f} s"},
    ]


def run(quick: bool = False) -> list[dict]:
    if quick:
        return bench_step(500, 784, 2000, 3) + bench_experiment(200, 64, 2000, 200)
    return bench_step(2000, 784, 10000, 5) + bench_experiment(300, 64, 10000, 1000)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args(argv)
    try:
        from threadpoolctl import threadpool_info

        blas = ", ".join(f"{i['internal_api']} {i.get('version')} ({i['num_threads']} threads)"
                         for i in threadpool_info())
    except ImportError:
        blas = "threadpoolctl not installed"
    print(f"BLAS: {blas}")
    for r in run(args.quick):
        ok = "-" if r["ok"] is None else ("pass" if r["ok"] else "MISS")
        print(f"{r['name']:<78} {r['ratio']:7.2f}  {r['target']:>7}  {ok:>4}  {r['detail']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

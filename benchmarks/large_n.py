"""Scale run: Krylov complexity, the 1,000-point predicted trajectory and the top-100 spectrum at n = 40,000–60,000.

Not a test and not part of ``run_all.py`` (minutes per size, ``4n²`` bytes of float32 kernel).
For each ``n`` it builds ``H^∞`` (Arora et al. 2019 eq. 3) as a float32
:class:`twolayer.kernels.KernelOperator` (``make_operator(X, storage="dense32")``: products in
float64 per row block, error bound in :mod:`twolayer.kernels.operator`) and times

* ``complexity(op, y, method="krylov")`` (CG, certified Gauss / Gauss–Radau interval, tol 1e-6,
  randomly pivoted Cholesky preconditioner of rank 100 from the operator's rows),
* ``krylov.trajectory(op, y, steps, lr)``: 1,000 distinct steps from 0 to 10⁶ (geometric),
  ``lr = 1/λ_max bound`` (Gershgorin of the stored matrix), sum convention,
* ``krylov.top_eigenpairs(op, 100, y=y, method=...)`` (``--top-method arpack`` (default) or
  ``block``: one pass over the matrix per block of columns; residual bounds either way),

printing each phase's wall time, the process's peak RSS (``resource.getrusage``: includes the
kernel) and the peak of numpy's traced allocations within the phase (``tracemalloc``), next to
:func:`twolayer.kernels.estimate_kernel_memory`.

Data. Default ``synthetic``: rows uniform on the unit sphere in d = 784 (seed 0) labelled
``y_i = sign(wᵀx_i)`` for a fixed Gaussian ``w`` (seed 1) — a linear teacher, ±1. Real MNIST is not
available offline here; ``--data mnist:PATH`` uses the first ``n`` training images (file order),
unit norm, labelled by digit parity (+1 even, −1 odd).

Run: ``nice .venv/bin/python benchmarks/large_n.py --n 40000 [--n 60000] [--data mnist:PATH]
[--top-method block] [--phases complexity,trajectory,top]``.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
import tracemalloc

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))

from twolayer import krylov  # noqa: E402
from twolayer.bounds import complexity  # noqa: E402
from twolayer.kernels import estimate_kernel_memory, make_operator  # noqa: E402

GiB = 2.0**30


def synthetic(n: int, d: int = 784) -> tuple[np.ndarray, np.ndarray]:
    """``n`` unit rows uniform on the sphere (seed 0), ``y = sign(wᵀx)`` for ``w ~ N(0, I)`` (seed 1)."""
    X = np.random.default_rng(0).standard_normal((n, d))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    w = np.random.default_rng(1).standard_normal(d)
    y = np.where(X @ w >= 0, 1.0, -1.0)
    return X, y


def mnist(path: str, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The first ``n`` MNIST training images (file order), unit norm, ``y = +1`` for even digits."""
    from twolayer.data.mnist import read_mnist_arrays

    arrays, _ = read_mnist_arrays(path)
    images, labels = arrays["train_images"], arrays["train_labels"]
    X = np.asarray(images[:n], dtype=np.float64).reshape(min(n, len(images)), -1)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    y = np.where(np.asarray(labels[:n]) % 2 == 0, 1.0, -1.0)
    return X, y


def step_grid(points: int, max_step: int) -> np.ndarray:
    """``points`` distinct integer steps, 0 then geometric up to ``max_step`` (as ``twolayer trajectory``)."""
    from twolayer.cli import _step_grid

    return _step_grid(None, points, max_step)


def peak_rss() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / GiB


def phase(name: str, fn):
    tracemalloc.start()
    t0 = time.perf_counter()
    out = fn()
    secs = time.perf_counter() - t0
    _, traced = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"  {name:<28s} {secs:9.1f} s   peak RSS {peak_rss():6.2f} GiB   traced peak {traced / GiB:6.3f} GiB",
          flush=True)
    return out, secs, traced


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def loadavg() -> str:
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "n/a"


def run(n: int, data: str, phases: tuple[str, ...] = ("complexity", "trajectory", "top"),
        top_methods: tuple[str, ...] = ("arpack",), top_tol: float = 1e-7) -> dict:
    X, y = synthetic(n) if data == "synthetic" else mnist(data.split(":", 1)[1], n)
    n, d = X.shape
    est = estimate_kernel_memory(n, d=d, dtype=np.float32)
    print(f"n = {n}, d = {d}, data = {data}; float32 build estimate {est}", flush=True)
    op, t_build, m_build = phase("build (dense32)", lambda: make_operator(X, storage="dense32"))
    v = np.random.default_rng(2).standard_normal(n)
    t_mv = min(_timed(lambda: op.matvec(v)) for _ in range(3))
    print(f"  one product (float32 storage, float64 accumulation): {t_mv:.2f} s (best of 3)", flush=True)
    t_c = t_t = float("nan")
    its = lanczos = -1
    if "complexity" in phases:
        c, t_c, m_c = phase("complexity (krylov)", lambda: complexity(op, y, method="krylov"))
        its = c.iterations
        print(f"    complexity {c.complexity:.8g} in [{c.complexity_lower:.8g}, {c.complexity_upper:.8g}], "
              f"{c.iterations} CG iterations ({c.products}, {c.refinements} float64 residuals), {c.preconditioner}, "
              f"certified upper: {c.upper_certified}; storage error bound {c.storage_error / c.yHy:.1e} rel.",
              flush=True)
    if "trajectory" in phases:
        b = op.gershgorin_upper()
        ks = step_grid(1000, 10**6)
        t, t_t, m_t = phase("trajectory (1,000 steps)", lambda: krylov.trajectory(op, y, ks, 1.0 / b,
                                                                                   lambda_max_upper=b))
        lanczos = t.iterations
        print(f"    {t.iterations} Lanczos steps, {t.rule}, converged {t.converged}, max error "
              f"{float(t.error.max()):.3g}, loss(1e6) = {t.value[-1]:.6g}", flush=True)
    tops = {}
    if "top" in phases:
        for meth in top_methods:
            e, t_e, m_e = phase(f"top-100 spectrum ({meth})",
                                lambda meth=meth: krylov.top_eigenpairs(op, 100, y=y, method=meth, tol=top_tol))
            tops[meth] = (t_e, e.matvecs, e.passes)
            print(f"    lambda_max = {e.eigenvalues[0]:.6g}, lambda_100 = {e.eigenvalues[-1]:.6g}, max residual "
                  f"{float(e.residuals.max()):.2g}, {e.matvecs} products"
                  + (f" in {e.passes} block passes" if e.passes else ""), flush=True)
    return dict(n=n, build=t_build, product=t_mv, complexity=t_c, trajectory=t_t, tops=tops, rss=peak_rss(),
                estimate=est.total / GiB, iterations=its, lanczos=lanczos)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, action="append", help="sizes (repeatable; default 40000 and 60000)")
    p.add_argument("--data", default="synthetic", help="synthetic (default) or mnist:PATH")
    p.add_argument("--phases", default="complexity,trajectory,top", help="comma-separated subset to run")
    p.add_argument("--top-method", action="append", choices=("arpack", "block"),
                   help="top_eigenpairs method (repeatable; default arpack)")
    p.add_argument("--top-tol", type=float, default=1e-7,
                   help="top_eigenpairs tol (default 1e-7: float32 storage moves eigenvalues by ~6e-8 relative)")
    args = p.parse_args(argv)
    print(f"load average before: {loadavg()}", flush=True)
    rows = [run(n, args.data, tuple(args.phases.split(",")), tuple(args.top_method or ["arpack"]), args.top_tol)
            for n in (args.n or [40000, 60000])]
    print(f"load average after: {loadavg()}", flush=True)
    print("\n| n | build s | one product s | complexity s (CG its) | trajectory s (Lanczos) | top-100 s (products) | "
          "peak RSS GiB | estimate GiB |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        tops = "; ".join(f"{m} {t:.1f} ({mv}" + (f", {ps} passes)" if ps else ")")
                         for m, (t, mv, ps) in r["tops"].items())
        print(f"| {r['n']:,} | {r['build']:.0f} | {r['product']:.2f} | {r['complexity']:.1f} ({r['iterations']}) | "
              f"{r['trajectory']:.1f} "
              f"({r['lanczos']}) | {tops} | {r['rss']:.1f} | {r['estimate']:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Sweep benchmarks: the parallel, resumable sweep runner against perfect scaling on this machine.

Measured, each as a ratio in one run, on a sweep of Figure-2-like points (GD on 100 digits,
m = 1,000, first layer, ``--points`` points of ``--steps`` steps):

* ``run_sweep(jobs=J)`` / (the same points run one after another in this process with one BLAS
  thread, divided by J): 1.0 is perfect scaling over J = cpu_count processes, the machine's limit
  for independent points; target <= 1.15;
* ``run_sweep(jobs=1)`` (in process, every BLAS thread) / ``run_sweep(jobs=J)``: what ``--jobs``
  gains over the default serial run (information);
* the store's cost per point (atomic save + checked load of one point file) / the point's compute
  time: the price of resumability; target <= 0.02.

Run: ``.venv/bin/python benchmarks/bench_sweep.py [--quick] [--points P] [--steps T]``.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import Row, fmt_s, log, print_environment, print_table  # noqa: E402

from twolayer.sweep import ResultStore, grid, point_seed, run_sweep  # noqa: E402


def _gd_point(params, seed, *, steps: int):
    """One Figure-2-like point: noisy labels, complexity-free, GD for ``steps`` steps."""
    import numpy as np

    from twolayer.data import apply_label_noise, load
    from twolayer.dynamics import train
    from twolayer.networks import init_network

    ds = load("digits", n_train=100, n_test=100, seed=0)
    y, _ = apply_label_noise(ds.y, float(params["noise"]), np.random.default_rng(seed))
    net = init_network("arora", ds.d, 1000, seed=seed, kappa=0.01)
    res = train(net, ds.X, y, lr=1.0, steps=steps, normalization="mean", n_records=10, gram_diagnostics=False,
                check_stability=False)
    return [{"metric": "loss", "value": float(res.metrics["loss"][0, -1]), **params}], {
        "loss": res.metrics["loss"][0]}


def run(quick: bool = False, points: int | None = None, steps: int | None = None) -> list[Row]:
    from threadpoolctl import threadpool_limits

    jobs = max(2, os.cpu_count() or 2)
    n_points = points or (4 if quick else 8)
    steps = steps or (300 if quick else 1500)
    pts = grid(noise=[round(i / n_points, 4) for i in range(n_points)])
    func = functools.partial(_gd_point, steps=steps)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        _gd_point(pts[0], point_seed(0, pts[0]), steps=10)  # warm-up: imports, digits cache
        log(f"sweep: {n_points} points x {steps} GD steps, serial at 1 BLAS thread")
        t = time.perf_counter()
        with threadpool_limits(1):
            for p in pts:
                func(p, point_seed(0, p))
        serial_1t = time.perf_counter() - t
        log(f"sweep: run_sweep(jobs={jobs})")
        t = time.perf_counter()
        run_sweep(func, pts, store=ResultStore(tmp / "par", {"bench": 1}), root_seed=0, jobs=jobs, progress=False)
        par = time.perf_counter() - t
        log("sweep: run_sweep(jobs=1), in process")
        t = time.perf_counter()
        run_sweep(func, pts, store=ResultStore(tmp / "ser", {"bench": 1}), root_seed=0, jobs=1, progress=False)
        ser = time.perf_counter() - t
        store = ResultStore(tmp / "par", {"bench": 1})
        t = time.perf_counter()
        results = [store.load(p) for p in pts]
        load_s = (time.perf_counter() - t) / n_points
        t = time.perf_counter()
        for r in results:
            ResultStore(tmp / "copy", {"bench": 1}).save(r)
        save_s = (time.perf_counter() - t) / n_points
    per_point = serial_1t / n_points
    rows.append(Row(f"sweep jobs={jobs} / perfect scaling (serial 1-thread / {jobs})", par / (serial_1t / jobs),
                    ("<=", 1.15), f"{fmt_s(par)} vs {fmt_s(serial_1t)}/{jobs}; {n_points} points"))
    rows.append(Row(f"sweep jobs=1 (all BLAS threads) / sweep jobs={jobs}", ser / par, None,
                    f"{fmt_s(ser)} vs {fmt_s(par)}"))
    rows.append(Row("store save + load per point / point compute", (save_s + load_s) / per_point, ("<=", 0.02),
                    f"{fmt_s(save_s)} + {fmt_s(load_s)} vs {fmt_s(per_point)}"))
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="4 points of 300 steps")
    p.add_argument("--points", type=int)
    p.add_argument("--steps", type=int)
    a = p.parse_args(argv)
    print_environment()
    print_table(run(quick=a.quick, points=a.points, steps=a.steps), "sweep benchmarks")
    return 0


if __name__ == "__main__":
    sys.exit(main())

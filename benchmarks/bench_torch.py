"""Torch backend benchmarks: the device GD step against its two bare torch GEMMs, on CPU and CUDA.

Rows (ratios measured in one run with the shared interleaved best-of-N harness of _common.py;
times in the detail column):

1. ``torch-CPU GD step / two torch GEMMs``: one ``engine.step`` of the Arora et al. network (first
   layer trained, float32) on ``device="cpu"`` divided by the two bare products of the same shapes,
   ``torch.matmul(X, Wᵀ, out=P)`` and ``torch.matmul(Pᵀ, X, out=G)`` (target ≤ 1.2 at n = 2,000,
   d = 784, m = 10,000).
2. ``torch-CPU step / numpy step``: the same step against the numpy engine (informational).
3. ``CUDA GD step / two cuBLAS GEMMs`` at n = m = 10⁴, d = 784, float32 (target ≤ 1.3; the issue's
   paper-scale step), and the same with TF32 GEMMs (against TF32 GEMMs) and a 20-step
   ``engine.run`` with the divergence guard (which reads the losses every step) per step; only
   when CUDA is present, else one ``skip`` row.
4. ``H∞ build on the device / one torch GEMM X Xᵀ`` (informational; CPU at n = 4,000, CUDA at
   n = 10⁴).

CUDA timings synchronize the device inside every timed call.

Usage: ``python benchmarks/bench_torch.py [--quick] [--cuda-only] [--n N --m M --d D] [--repeat K]``.
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

from _common import Row, compare, log, print_environment, print_table, ratio_detail, unit_rows  # noqa: E402


def _skip(name: str, why: str) -> Row:
    return Row(name, float("nan"), None, why, status="skip")


def _setup(device: str, n: int, d: int, m: int, dtype, tf32: bool = False):
    from twolayer import dynamics as D
    from twolayer import networks as N

    X = unit_rows(n, d, 0).astype(dtype)
    y = np.sign(X[:, 0]).astype(dtype)
    net = N.init_network("arora", d, m, seed=1, kappa=1e-2, dtype=dtype)
    state = D.init(net, X, y, D.make_rule("gd", lr=1e-3), normalization="mean", device=device, tf32=tf32)
    return D, state


def _gemms(state, sync):
    import torch

    pr = state.problem
    X, W = pr.Xd, state.net.W.view(-1, state.net.dim)
    P, G = pr.ws.P, pr.ws.G

    def gemms():
        torch.matmul(X, W.T, out=P)
        torch.matmul(P.T, X, out=G)
        sync()

    return gemms


def _step_rows(device: str, n: int, d: int, m: int, repeat: int, *, tf32: bool = False, numpy_row: bool = False,
               run_row: bool = False, target: float = 1.2) -> list[Row]:
    import torch

    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    D, state = _setup(device, n, d, m, np.float32, tf32=tf32)
    gemms = _gemms(state, sync)
    old = torch.backends.cuda.matmul.allow_tf32

    def step():
        D.step(state)
        sync()

    def ref():
        torch.backends.cuda.matmul.allow_tf32 = tf32  # the GEMMs get the same precision as the step
        try:
            gemms()
        finally:
            torch.backends.cuda.matmul.allow_tf32 = old

    funcs = {"step": step, "gemms": ref}
    if numpy_row:
        D_np, st_np = _setup(None, n, d, m, np.float32)
        funcs["numpy"] = lambda: D_np.step(st_np)
    steps_per_run = 20
    if run_row:
        guard = [D.DivergenceGuard(None)]

        def run20():
            state.step = 0
            D.run(state, steps_per_run, guard)
            sync()

        funcs["run"] = run20
    t = compare(funcs, repeat=repeat)
    what = f"n={n}, d={d}, m={m}, float32{', TF32' if tf32 else ''}"
    label = "CUDA" if device == "cuda" else "torch-CPU"
    ref_label = ("two cuBLAS GEMMs" if device == "cuda" else "two torch GEMMs") + (" (TF32)" if tf32 else "")
    rows = [Row(f"{label} GD step / {ref_label} ({what})", t["step"].best / t["gemms"].best, ("<=", target),
                ratio_detail(t["step"], t["gemms"], "step", "GEMMs") + f"; torch {torch.__version__}, {torch.get_num_threads()} CPU thread(s)")]
    if numpy_row:
        rows.append(Row(f"{label} GD step / numpy engine step ({what})", t["step"].best / t["numpy"].best, None,
                        ratio_detail(t["step"], t["numpy"], "torch", "numpy")))
    if run_row:
        per = t["run"].best / (steps_per_run + 1)  # run evaluates steps + 1 times (the last without an update)
        rows.append(Row(f"{label} engine.run per step (divergence guard reads the loss each step) / {ref_label}",
                        per / t["gemms"].best, ("<=", target),
                        f"{per * 1e3:.2f} ms per step / GEMMs {t['gemms'].best * 1e3:.2f} ms (best of {repeat} "
                        f"runs of {steps_per_run} steps)"))
    return rows


def _kernel_row(device: str, n: int, d: int, repeat: int) -> Row:
    import torch

    from twolayer import torch_backend as tb

    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    X = unit_rows(n, d, 3)
    Xt = torch.from_numpy(X).to(device)

    def build():
        K = tb.first_layer_ntk(X, device=device)
        sync()
        return K

    def gemm():
        K = Xt @ Xt.T
        sync()
        return K

    t = compare({"build": build, "gemm": gemm}, repeat=repeat)
    return Row(f"H-inf build on {device} / one torch GEMM X X^T (n={n}, d={d}, float64)",
               t["build"].best / t["gemm"].best, None, ratio_detail(t["build"], t["gemm"], "build", "GEMM"))


def run(quick: bool = False, repeat: int = 3, cuda_only: bool = False, cuda_size: tuple | None = None,
        threads: int | None = None) -> list[Row]:
    """Rows of this module for run_all.py (``skip`` rows where torch or CUDA is absent).

    ``threads`` sets torch's CPU threads for the run (default: torch's own choice, all cores)."""
    try:
        import torch
    except ImportError:
        return [_skip("torch backend benchmarks (bench_torch.py)", "torch not installed (pip install torch==2.13.0)")]
    old = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        return _run(torch, quick, repeat, cuda_only, cuda_size)
    finally:
        torch.set_num_threads(old)


def _run(torch, quick, repeat, cuda_only, cuda_size) -> list[Row]:
    rows: list[Row] = []
    if not cuda_only:
        n, d, m = (500, 784, 2000) if quick else (2000, 784, 10000)
        log(f"torch: CPU step n={n}, d={d}, m={m}, {torch.get_num_threads()} torch thread(s)")
        rows += _step_rows("cpu", n, d, m, repeat, numpy_row=True)
        log("torch: CPU kernel build")
        rows.append(_kernel_row("cpu", 1000 if quick else 4000, 784, repeat))
    if not torch.cuda.is_available():
        rows.append(_skip("CUDA GD step / two cuBLAS GEMMs (n=m=10^4, d=784)",
                          f"no CUDA device (torch {torch.__version__}); run benchmarks/gpu_check.sh on a GPU"))
        return rows
    n, d, m = cuda_size or ((2000, 784, 2000) if quick else (10000, 784, 10000))
    log(f"torch: CUDA step n={n}, d={d}, m={m} on {torch.cuda.get_device_name()}")
    rows += _step_rows("cuda", n, d, m, repeat, run_row=True, target=1.3)
    rows += _step_rows("cuda", n, d, m, repeat, tf32=True, target=1.3)
    rows.append(_kernel_row("cuda", n, d, repeat))
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--cuda-only", action="store_true", help="only the CUDA rows")
    ap.add_argument("--n", type=int, default=10000, help="CUDA rows: training points")
    ap.add_argument("--m", type=int, default=10000, help="CUDA rows: width")
    ap.add_argument("--d", type=int, default=784, help="CUDA rows: input dimension")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice); on a loaded machine "
                                                "1 avoids OpenMP waits on descheduled threads")
    a = ap.parse_args(argv)
    print_environment()
    size = None if a.quick else (a.n, a.d, a.m)
    rows = run(quick=a.quick, repeat=max(3, a.repeat), cuda_only=a.cuda_only, cuda_size=size, threads=a.threads)
    print_table(rows, "torch backend (ratio = ours / reference; lower is better)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

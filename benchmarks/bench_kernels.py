"""Kernel-build benchmarks: twolayer's arc-cosine kernels against the machine's GEMM/SYRK limit,
against the naive numpy formula a user would write, and (if installed) neural-tangents.

Measured, each as a ratio in one run:

* time of ``first_layer_ntk(X)`` / time of ``np.dot(X, X.T, out=buf)`` (numpy uses SYRK for
  ``X @ X.T``: the floor for any method that needs the Gram matrix of ``X``), target <= 1.5
  at n = 10,000, d = 784; the same for ``two_layer_ntk(X)`` and for the cross kernel
  ``first_layer_ntk(X, Z)`` (n = 10,000 x n_z = 2,000) against ``np.dot(X, Z.T, out=buf)`` (GEMM);
* the same builds / the naive numpy formula
  ``C = np.clip(X @ X.T, -1, 1); H = C * (np.pi - np.arccos(C)) / (2 * np.pi)``
  (scikit-learn has no arc-cosine kernel, so there is no library alternative there);
* neural-tangents ``stax.serial(Dense(1), Relu(), Dense(1))`` ``kernel_fn(..., 'ntk')``, only
  if ``import neural_tangents`` works;
* peak memory allocated during the build, in units of the result (n^2 * 8 bytes), by
  tracemalloc (numpy reports its buffers to it) and cross-checked by the ``ru_maxrss`` delta
  of a fresh subprocess per measurement (which also sees BLAS's own buffers);
* accuracy: max |H_ours - H_naive| off the diagonal, and the diagonal error of both against
  ||x||^2 / 2 computed in extended precision.

Run: ``.venv/bin/python benchmarks/bench_kernels.py [--quick] [--repeat K]``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import (Row, compare, fmt_s, log, peak_allocation, print_environment,  # noqa: E402
                     print_table, ratio_detail, unit_rows)

from twolayer.kernels import estimate_kernel_memory, first_layer_ntk, two_layer_ntk  # noqa: E402

FULL = dict(n=10_000, d=784, n_z=2_000)
QUICK = dict(n=2_000, d=784, n_z=500)
#: Target for every build / bare-GEMM ratio (DESIGN: "one GEMM plus n^2 angle evaluations").
TARGET_VS_GEMM = 1.5
#: Target for the peak allocation of a blocked in-place build, in units of the result.
TARGET_PEAK = 1.1


# ---------------------------------------------------------------------------------------------
# What a user would write without the package
# ---------------------------------------------------------------------------------------------
def naive_first_layer(X, Z=None):
    Z = X if Z is None else Z
    C = np.clip(X @ Z.T, -1, 1)
    H = C * (np.pi - np.arccos(C)) / (2 * np.pi)
    return H


def naive_two_layer(X, Z=None):
    Z = X if Z is None else Z
    C = np.clip(X @ Z.T, -1, 1)
    T = np.arccos(C)
    return (np.sqrt(1 - C * C) + 2 * C * (np.pi - T)) / (2 * np.pi)


# ---------------------------------------------------------------------------------------------
# RSS cross-check, one fresh process per measurement
# ---------------------------------------------------------------------------------------------
def _proc_status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _rss_probe(method: str, n: int, d: int) -> None:
    """Child process: print the peak-RSS increase caused by one build, in bytes.

    ``ru_maxrss`` cannot be used as such in a child: Linux carries the parent's RSS at fork
    time over into the child's ``ru_maxrss`` (so a big parent hides the child's own peak).
    The per-process high-water mark ``VmHWM`` of /proc/self/status starts afresh at exec, and
    writing 5 to /proc/self/clear_refs resets it to the current RSS just before the build.
    ``ru_maxrss`` is the fallback where /proc is missing.
    """
    import resource

    X = unit_rows(n, d, 0)
    small = X[:64].copy()
    first_layer_ntk(small)  # start BLAS threads, the thread pool and numpy's caches first
    naive_first_layer(small)
    f = {"ours": lambda: first_layer_ntk(X), "naive": lambda: naive_first_layer(X),
         "syrk": lambda: X @ X.T}[method]
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        reset = True
    except OSError:
        reset = False
    rss0, hwm0 = _proc_status_kib("VmRSS"), _proc_status_kib("VmHWM")
    maxrss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    H = f()
    hwm1 = _proc_status_kib("VmHWM")
    if hwm1 is not None and hwm0 is not None:
        delta, how = hwm1 - (rss0 if reset else hwm0), "VmHWM"
    else:
        delta, how = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - maxrss0, "ru_maxrss"
    print(json.dumps({"delta_bytes": delta * 1024, "how": how, "shape": list(H.shape)}))


def rss_delta(method: str, n: int, d: int) -> float | None:
    """ru_maxrss increase (bytes) of a build of ``method`` in a fresh subprocess, or None."""
    try:
        res = subprocess.run([sys.executable, os.path.abspath(__file__), "--rss-probe", method, str(n), str(d)],
                             capture_output=True, text=True, timeout=600, check=True)
        return float(json.loads(res.stdout.strip().splitlines()[-1])["delta_bytes"])
    except (subprocess.SubprocessError, ValueError, KeyError, IndexError) as exc:
        log(f"RSS probe {method} failed: {exc}")
        return None


# ---------------------------------------------------------------------------------------------
# Benchmarks
# ---------------------------------------------------------------------------------------------
def _neural_tangents_row(X: np.ndarray, ours_best: float, repeat: int) -> Row:
    name = "H-inf build / neural-tangents NTK"
    try:
        import neural_tangents as nt  # noqa: F401
        from neural_tangents import stax
    except ImportError:
        return Row(name, float("nan"), None, "neural_tangents not installed: comparison skipped", status="skip")
    try:
        import jax

        jax.config.update("jax_enable_x64", True)
        _, _, kernel_fn = stax.serial(stax.Dense(1), stax.Relu(), stax.Dense(1))
        batched = nt.batch(kernel_fn, batch_size=min(1000, X.shape[0]), store_on_device=False)

        def run_nt():
            return np.asarray(batched(X, None, "ntk"))

        t = compare({"nt": run_nt}, repeat=repeat, warmup=1)["nt"]
        return Row(name, ours_best / t.best, None,
                   f"ours {fmt_s(ours_best)} / neural-tangents {fmt_s(t.best)} (best of {len(t.times)}, "
                   f"x64, batched 1000 rows, jax {jax.__version__})")
    except Exception as exc:  # a failure of the optional comparison must not stop the run
        return Row(name, float("nan"), None, f"neural_tangents failed: {type(exc).__name__}: {exc}"[:200],
                   status="error")


def run(quick: bool = False, repeat: int = 3, rss: bool = True) -> list[Row]:
    cfg = QUICK if quick else FULL
    n, d, nz = cfg["n"], cfg["d"], cfg["n_z"]
    rows: list[Row] = []
    X = unit_rows(n, d, seed=0)
    Z = unit_rows(nz, d, seed=1)
    result_bytes = 8 * n * n
    shape = f"n={n}, d={d}"

    # -- time: self kernels against SYRK and against the naive formula ---------------------------
    log(f"kernels: self-kernel timings at {shape} (best of {repeat}, 1 warm-up)")
    buf = np.empty((n, n))
    t = compare({
        "syrk": lambda: np.dot(X, X.T, out=buf),
        "ours": lambda: first_layer_ntk(X),
        "ours_out": lambda: first_layer_ntk(X, out=buf),
        "two": lambda: two_layer_ntk(X),
        "naive": lambda: naive_first_layer(X),
        "naive_two": lambda: naive_two_layer(X),
    }, repeat=repeat)
    gflops = n * n * d / t["syrk"].best / 1e9  # SYRK does n^2 d flops (half of the 2 n^2 d GEMM)
    rows.append(Row(f"H-inf build / bare SYRK np.dot(X,X.T,out=) ({shape})", t["ours"].best / t["syrk"].best,
                    ("<=", TARGET_VS_GEMM),
                    ratio_detail(t["ours"], t["syrk"], "first_layer_ntk", "SYRK")
                    + f"; SYRK {gflops:.0f} GFLOP/s; with out=buf: {t['ours_out'].best / t['syrk'].best:.2f}x"))
    rows.append(Row(f"two-layer NTK build / bare SYRK ({shape})", t["two"].best / t["syrk"].best,
                    ("<=", TARGET_VS_GEMM), ratio_detail(t["two"], t["syrk"], "two_layer_ntk", "SYRK")))
    rows.append(Row("H-inf build / naive numpy clip+arccos", t["ours"].best / t["naive"].best, ("<", 1.0),
                    ratio_detail(t["ours"], t["naive"], "ours", "naive")
                    + f"; naive is {t['naive'].best / t['syrk'].best:.2f}x SYRK"))
    rows.append(Row("two-layer NTK build / naive numpy", t["two"].best / t["naive_two"].best, ("<", 1.0),
                    ratio_detail(t["two"], t["naive_two"], "ours", "naive")))
    ours_best = t["ours"].best
    buf = None  # free the 1 n^2 buffer (the lambdas above are not called again)

    # -- time: cross kernel (train x test) against GEMM ----------------------------------------
    log(f"kernels: cross-kernel timings {n} x {nz}")
    bufc = np.empty((n, nz))
    tc = compare({
        "gemm": lambda: np.dot(X, Z.T, out=bufc),
        "ours": lambda: first_layer_ntk(X, Z),
        "naive": lambda: naive_first_layer(X, Z),
    }, repeat=max(repeat, 5))
    rows.append(Row(f"cross H-inf(X,Z) / bare GEMM ({n}x{nz}, d={d})", tc["ours"].best / tc["gemm"].best,
                    ("<=", TARGET_VS_GEMM), ratio_detail(tc["ours"], tc["gemm"], "first_layer_ntk(X,Z)", "GEMM")
                    + f"; GEMM {2 * n * nz * d / tc['gemm'].best / 1e9:.0f} GFLOP/s"))
    rows.append(Row("cross H-inf(X,Z) / naive numpy", tc["ours"].best / tc["naive"].best, ("<", 1.0),
                    ratio_detail(tc["ours"], tc["naive"], "ours", "naive")))
    bufc = None

    # -- neural-tangents (optional) ------------------------------------------------------------
    rows.append(_neural_tangents_row(X, ours_best, repeat))

    # -- memory --------------------------------------------------------------------------------
    log("kernels: peak memory (tracemalloc" + (", RSS subprocesses)" if rss else ")"))
    est = estimate_kernel_memory(n, d=d)
    peaks = {
        "ours": peak_allocation(lambda: first_layer_ntk(X)),
        "two": peak_allocation(lambda: two_layer_ntk(X)),
        "naive": peak_allocation(lambda: naive_first_layer(X)),
    }
    rss_d = {m: rss_delta(m, n, d) for m in ("syrk", "ours", "naive")} if rss else {}

    def rss_txt(m: str) -> str:
        v = rss_d.get(m)
        if v is None:
            return ""
        s = rss_d.get("syrk")
        extra = f", X@X.T alone {s / result_bytes:.2f}" if s else ""
        return f"; RSS delta {v / result_bytes:.2f} result{extra}"

    # ~ +0 beyond the result; at small n the fixed per-thread workspace (2 MiB blocks) is not
    # negligible, so the package's own estimate is the target there when it is larger
    peak_target = max(TARGET_PEAK, round(est.total / result_bytes, 2))
    rows.append(Row("H-inf peak allocation / result size (blocked)", peaks["ours"] / result_bytes,
                    ("<=", peak_target),
                    f"+{(peaks['ours'] - result_bytes) / 2**20:.0f} MiB beyond the {result_bytes / 2**20:.0f} MiB result "
                    f"(estimate_kernel_memory: {est.total / result_bytes:.3f}){rss_txt('ours')}"))
    rows.append(Row("two-layer peak allocation / result size", peaks["two"] / result_bytes, ("<=", peak_target),
                    f"+{(peaks['two'] - result_bytes) / 2**20:.0f} MiB beyond the result"))
    rows.append(Row("naive numpy peak allocation / result size", peaks["naive"] / result_bytes, None,
                    f"+{(peaks['naive'] - result_bytes) / 2**20:.0f} MiB beyond the result{rss_txt('naive')}"))

    # -- accuracy ------------------------------------------------------------------------------
    log("kernels: accuracy")
    H = first_layer_ntk(X)
    Hn = naive_first_layer(X)
    off = 0.0
    for i in range(0, n, 1000):
        blk = np.abs(H[i:i + 1000] - Hn[i:i + 1000])
        k = np.arange(blk.shape[0])
        blk[k, k + i] = 0.0
        off = max(off, float(blk.max()))
    exact_diag = 0.5 * np.einsum("ij,ij->i", X.astype(np.longdouble), X.astype(np.longdouble))
    err_ours = float(np.max(np.abs(np.diag(H).astype(np.longdouble) - exact_diag)))
    err_naive = float(np.max(np.abs(np.diag(Hn).astype(np.longdouble) - exact_diag)))
    del H, Hn
    # rows whose computed norm is exactly 1.0: the theory's diagonal 1/2 is then exact in float64
    pool = unit_rows(3 * min(n, 2000), d, seed=2)
    exact_rows = pool[np.sqrt(np.einsum("ij,ij->i", pool, pool)) == 1.0][:min(n, 2000)]
    e_ours1 = float(np.max(np.abs(np.diag(first_layer_ntk(exact_rows)) - 0.5)))
    e_naive1 = float(np.max(np.abs(np.diag(naive_first_layer(exact_rows)) - 0.5)))
    rows.append(Row("max |H_ours - H_naive| off-diagonal", off, None,
                    "random data has no near-parallel pairs, so both agree to rounding here", unit=""))
    rows.append(Row("naive diagonal error vs ||x||^2/2 (extended)", err_naive, None,
                    f"arccos of a cosine rounded below 1; on {exact_rows.shape[0]} rows with ||x|| == 1.0 exactly: "
                    f"max |diag - 1/2| = {e_naive1:.2g}", unit=""))
    rows.append(Row("ours diagonal error vs ||x||^2/2 (extended)", err_ours, ("<=", 1e-15),
                    f"set exactly (1/2 * ||x||^2 in float64); on rows with ||x|| == 1.0 exactly: "
                    f"max |diag - 1/2| = {e_ours1:.2g}", unit=""))
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help=f"small sizes {QUICK} instead of {FULL}")
    p.add_argument("--repeat", type=int, default=3, help="timed repetitions per measurement (best is reported; >= 3)")
    p.add_argument("--no-rss", action="store_true", help="skip the RSS subprocess cross-check")
    p.add_argument("--rss-probe", nargs=3, metavar=("METHOD", "N", "D"), help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.rss_probe:
        _rss_probe(a.rss_probe[0], int(a.rss_probe[1]), int(a.rss_probe[2]))
        return 0
    print_environment()
    rows = run(quick=a.quick, repeat=max(3, a.repeat), rss=not a.no_rss)
    print_table(rows, "Kernel builds (ratios: ours / reference; lower is better)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

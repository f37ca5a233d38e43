"""Spectrum and complexity benchmarks: twolayer's dense linear algebra against bare LAPACK calls.

Measured, each as a ratio in one run:

* ``spectrum(H)`` / ``scipy.linalg.eigh(H, driver="evd")`` (the LAPACK routine it wraps: the
  machine's limit), target <= 1.1, at n = 4,000 (and n = 8,000 with ``--large``); the same with
  eigenvalues only; and, for information, against what a user would call otherwise
  (``numpy.linalg.eigh`` / ``eigvalsh``, ``scipy.linalg.eigh`` with its default driver);
* ``complexity(H, y)`` / ``c = scipy.linalg.cho_factor(H); y @ scipy.linalg.cho_solve(c, y)``,
  target <= 1.2, at n = 10,000, d = 784 (random unit-norm rows) and on scikit-learn's digits
  (all 1,797 rows, unit-normalized, deduplicated); plus ``complexity(H, y, spectrum=...)``
  (exact extreme eigenvalues given, so no estimation) to isolate the cost of the
  ``lambda_min`` / ``lambda_max`` estimation, and a one-shot profile of the steps inside;
* accuracy of the estimated ``lambda_min`` / ``lambda_max`` (and condition number) against exact
  ``eigvalsh`` at n = 3,000 and on digits, and whether the reported ``*_err`` bounds cover the
  true error.

Run: ``.venv/bin/python benchmarks/bench_spectra.py [--quick] [--large] [--repeat K]``.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time

import numpy as np
import scipy.linalg as sla

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import (Row, compare, digits_unit_rows, fmt_s, log, print_environment,  # noqa: E402
                     print_table, ratio_detail, unit_rows)

from twolayer.bounds import KernelSolver, complexity  # noqa: E402
from twolayer.kernels import first_layer_ntk  # noqa: E402
from twolayer.spectra import check_symmetric_matrix, extreme_eigenvalues, spectrum  # noqa: E402

FULL = dict(n_eig=4_000, n_eig_large=8_000, n_chol=10_000, n_acc=3_000, d=784)
QUICK = dict(n_eig=1_500, n_eig_large=3_000, n_chol=2_500, n_acc=1_500, d=784)
TARGET_EIGH = 1.1
TARGET_COMPLEXITY = 1.2


def _labels(n: int, seed: int) -> np.ndarray:
    return np.where(np.random.default_rng(seed).random(n) < 0.5, -1.0, 1.0)


def bare_complexity(H: np.ndarray, y: np.ndarray) -> float:
    """What a user would write: one Cholesky, one solve, sqrt(2 y^T H^-1 y / n)."""
    c = sla.cho_factor(H)
    return math.sqrt(2.0 * float(y @ sla.cho_solve(c, y)) / H.shape[0])


# ---------------------------------------------------------------------------------------------
# Eigendecomposition
# ---------------------------------------------------------------------------------------------
def _eig_rows(n: int, d: int, repeat: int, alternatives: bool, warmup: int = 1) -> list[Row]:
    rows = []
    H = first_layer_ntk(unit_rows(n, d, seed=10))
    log(f"spectra: eigh with vectors at n={n} (best of {repeat}, {warmup} warm-up)")
    funcs = {"ours": lambda: spectrum(H), "evd": lambda: sla.eigh(H, driver="evd")}
    if alternatives:
        funcs.update({"numpy": lambda: np.linalg.eigh(H), "scipy_default": lambda: sla.eigh(H)})
    t = compare(funcs, repeat=repeat, warmup=warmup)
    rows.append(Row(f"spectrum(H) / scipy eigh(driver='evd') (n={n}, vectors)", t["ours"].best / t["evd"].best,
                    ("<=", TARGET_EIGH), ratio_detail(t["ours"], t["evd"], "spectrum", "eigh evd")
                    + f"; {9 * n**3 / t['evd'].best / 1e9:.0f} GFLOP/s at ~9n^3 flops"))
    if alternatives:
        rows.append(Row("spectrum(H) / numpy.linalg.eigh (vectors)", t["ours"].best / t["numpy"].best, None,
                        ratio_detail(t["ours"], t["numpy"], "spectrum", "np eigh")
                        + " (numpy ships its own OpenBLAS build)"))
        rows.append(Row("spectrum(H) / scipy eigh default driver (evr)", t["ours"].best / t["scipy_default"].best,
                        None, ratio_detail(t["ours"], t["scipy_default"], "spectrum", "eigh evr")))
    del t
    log(f"spectra: eigenvalues only at n={n}")
    funcs = {"ours": lambda: spectrum(H, vectors=False),
             "evd": lambda: sla.eigh(H, eigvals_only=True, driver="evd")}
    if alternatives:
        funcs["numpy"] = lambda: np.linalg.eigvalsh(H)
    t = compare(funcs, repeat=max(repeat, 3), warmup=warmup)
    rows.append(Row(f"spectrum(H, vectors=False) / scipy eigh evd eigvals_only (n={n})",
                    t["ours"].best / t["evd"].best, ("<=", TARGET_EIGH),
                    ratio_detail(t["ours"], t["evd"], "spectrum", "eigh evd")))
    if alternatives:
        rows.append(Row("spectrum(H, vectors=False) / numpy.linalg.eigvalsh", t["ours"].best / t["numpy"].best, None,
                        ratio_detail(t["ours"], t["numpy"], "spectrum", "np eigvalsh")))
    return rows


# ---------------------------------------------------------------------------------------------
# Complexity
# ---------------------------------------------------------------------------------------------
def _profile_solver(H: np.ndarray, repeat: int) -> dict[str, float]:
    """Wall time of each step ``KernelSolver(H)`` takes, timed in sequence as it runs them
    (so that interactions between steps are included), best of ``repeat`` per step.

    This re-traces the steps of ``KernelSolver.__init__`` with default arguments; it is a
    diagnostic, the headline rows time the real ``complexity(H, y)``.
    """
    runs = []
    for _ in range(repeat):
        r = {}
        t0 = time.perf_counter()
        A = check_symmetric_matrix(H)
        r["input checks"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        extreme_eigenvalues(A)
        r["lambda_max est"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        M = A.copy()
        r["copy"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        f = sla.cho_factor(M, lower=True, overwrite_a=True, check_finite=False)
        r["cholesky"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        extreme_eigenvalues(factor=f)
        r["lambda_min est"] = time.perf_counter() - t0
        del M, f
        runs.append(r)
    return {k: min(r[k] for r in runs) for k in runs[0]}


def _fmt_profile(p: dict[str, float], ref: float) -> str:
    return ("in-sequence profile, % of the bare time: "
            + ", ".join(f"{k} {fmt_s(v)} ({100 * v / ref:.0f}%)" for k, v in p.items()))


def _numpy_blas_controller():
    """threadpoolctl controller of numpy's own BLAS when scipy uses a different one, else None.

    numpy and scipy wheels each ship their own OpenBLAS, each with its own thread pool whose
    idle workers spin for a while after a call; code that alternates between the two (numpy
    matmul/QR, then a scipy LAPACK call, then numpy again) can then run its LAPACK call with
    the other library's spinning threads on the same cores.
    """
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return None
    ctl = ThreadpoolController()
    blas = [lib for lib in ctl.lib_controllers if lib.user_api == "blas"]
    if len(blas) < 2:
        return None
    site = os.path.dirname(os.path.dirname(np.__file__))
    mine = [lib.filepath for lib in blas
            if os.path.relpath(lib.filepath, site).split(os.sep)[0].startswith("numpy")]
    return ctl.select(filepath=mine) if len(mine) == 1 else None


def _complexity_rows(label: str, H: np.ndarray, y: np.ndarray, spec, repeat: int, warmup: int = 1) -> list[Row]:
    log(f"spectra: complexity on {label} (best of {repeat})")
    np_blas = _numpy_blas_controller()

    def ours_np1():
        with np_blas.limit(limits=1):
            return complexity(H, y)

    funcs = {"bare": lambda: bare_complexity(H, y), "ours": lambda: complexity(H, y),
             "ours_spec": lambda: complexity(H, y, spectrum=spec)}
    if np_blas is not None:
        funcs["ours_np1"] = ours_np1
    t = compare(funcs, repeat=repeat, warmup=warmup)
    c_ours, c_bare = complexity(H, y).complexity, bare_complexity(H, y)
    prof = _profile_solver(H, repeat)
    bare = t["bare"].best
    est = t["ours"].best - t["ours_spec"].best
    rows = [
        Row(f"complexity(H,y) / cho_factor+cho_solve ({label})", t["ours"].best / bare,
            ("<=", TARGET_COMPLEXITY), ratio_detail(t["ours"], t["bare"], "complexity", "bare")
            + f"; values agree to {abs(c_ours - c_bare) / c_bare:.1e} rel. | " + _fmt_profile(prof, bare)),
        Row(f"complexity(H,y,spectrum=) / cho_factor+cho_solve ({label})", t["ours_spec"].best / bare,
            None, ratio_detail(t["ours_spec"], t["bare"], "complexity(spectrum=)", "bare")
            + f"; so the lambda_min/lambda_max estimation costs {fmt_s(est)} = {est / bare:.2f}x "
              f"the bare Cholesky+solve"),
    ]
    if np_blas is not None:
        rows.append(Row(f"complexity(H,y), numpy's BLAS at 1 thread / bare ({label})", t["ours_np1"].best / bare,
                        None, ratio_detail(t["ours_np1"], t["bare"], "complexity", "bare")
                        + "; diagnostic: numpy and scipy load two OpenBLAS thread pools that "
                          "contend for the cores when calls alternate"))
    return rows


# ---------------------------------------------------------------------------------------------
# Accuracy of the extreme-eigenvalue estimates
# ---------------------------------------------------------------------------------------------
def _accuracy_rows(label: str, H: np.ndarray, w: np.ndarray) -> list[Row]:
    """``w``: exact eigenvalues of H in ascending order."""
    s = KernelSolver(H)
    lo, hi = float(w[0]), float(w[-1])
    e_lo, e_hi = s.lambda_min - lo, s.lambda_max - hi
    cond = hi / lo
    one_sided = s.lambda_min >= lo * (1 - 1e-12) and s.lambda_max <= hi * (1 + 1e-12)
    near = max(float(np.min(np.abs(w - s.lambda_min))) / s.lambda_min_residual if s.lambda_min_residual > 0 else 0.0,
               float(np.min(np.abs(w - s.lambda_max))) / s.lambda_max_residual if s.lambda_max_residual > 0 else 0.0)
    exact = " (exact path)" if s.eigenvalues_exact else ""
    return [
        Row(f"lambda_max estimate rel. error ({label}){exact}", abs(e_hi) / hi, None,
            f"est {s.lambda_max:.6g} vs exact {hi:.6g} (next {w[-2]:.6g}); Ritz residual {s.lambda_max_residual:.3g}",
            unit=""),
        Row(f"lambda_min estimate rel. error ({label}){exact}", abs(e_lo) / lo, None,
            f"est {s.lambda_min:.6g} vs exact {lo:.6g} (next {w[1]:.6g}); Ritz residual {s.lambda_min_residual:.3g}",
            unit=""),
        Row(f"condition number rel. error ({label})", abs(s.condition_number - cond) / cond, None,
            f"est {s.condition_number:.4g} vs exact {cond:.4g}", unit=""),
        Row(f"one-sided estimates ({label})", 1.0 if one_sided else 0.0, (">=", 1.0),
            "1 = est lambda_min >= true and est lambda_max <= true (the documented guarantee: the "
            "estimated condition number is a lower bound)", unit=""),
        Row(f"distance to nearest eigenvalue / Ritz residual ({label})", near, ("<=", 1.0),
            "<= 1: some eigenvalue lies within the reported residual of each estimate", unit=""),
    ]


# ---------------------------------------------------------------------------------------------
def run(quick: bool = False, large: bool = False, repeat: int = 3) -> list[Row]:
    cfg = QUICK if quick else FULL
    d = cfg["d"]
    rows: list[Row] = []

    # -- eigh --------------------------------------------------------------------------------
    rows += _eig_rows(cfg["n_eig"], d, repeat, alternatives=True)
    if large:  # the same code paths were warmed up at n_eig; a warm-up here would cost one more eigh
        rows += _eig_rows(cfg["n_eig_large"], d, repeat, alternatives=False, warmup=0)

    # -- complexity, random unit-norm rows ---------------------------------------------------
    n = cfg["n_chol"]
    H = first_layer_ntk(unit_rows(n, d, seed=20))
    y = _labels(n, seed=21)
    log(f"spectra: exact eigenvalues at n={n} (for spectrum= and the accuracy rows)")
    spec = spectrum(H, vectors=False)
    rows += _complexity_rows(f"n={n}, d={d}", H, y, spec, repeat)
    big_acc = _accuracy_rows(f"n={n}, d={d}", H, spec.eigenvalues[::-1])
    del H, spec

    # -- complexity, digits ------------------------------------------------------------------
    Xd, yd = digits_unit_rows()
    Hd = first_layer_ntk(Xd)
    spec_d = spectrum(Hd, vectors=False)
    rows += _complexity_rows(f"digits n={Xd.shape[0]}, d={Xd.shape[1]}", Hd, yd, spec_d, repeat=max(repeat, 7))

    # -- accuracy of lambda_min / lambda_max estimates ------------------------------------------
    log("spectra: accuracy of the extreme-eigenvalue estimates")
    na = cfg["n_acc"]
    Ha = first_layer_ntk(unit_rows(na, d, seed=30))
    rows += _accuracy_rows(f"n={na}, d={d}", Ha, sla.eigvalsh(Ha))
    rows += _accuracy_rows(f"digits n={Xd.shape[0]}", Hd, spec_d.eigenvalues[::-1])
    rows += big_acc
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help=f"small sizes {QUICK} instead of {FULL}")
    p.add_argument("--large", action="store_true", help="also time eigh at n_eig_large (8,000: several minutes)")
    p.add_argument("--repeat", type=int, default=3, help="timed repetitions per measurement (best is reported; >= 3)")
    a = p.parse_args(argv)
    print_environment()
    rows = run(quick=a.quick, large=a.large, repeat=max(3, a.repeat))
    print_table(rows, "Spectra and complexity (ratios: ours / reference; lower is better)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

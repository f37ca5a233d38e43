"""Krylov instruments against the dense linear algebra they replace, each as a ratio in one run.

Measured (``twolayer.krylov``, ``twolayer.bounds.complexity(method=...)``):

* ``complexity(H, y, method="krylov")`` (CG with a certified Gauss / Gauss–Radau interval,
  tol 1e-6) / ``c = scipy.linalg.cho_factor(H); y @ cho_solve(c, y)`` and / ``complexity(H, y,
  method="dense")``, on random unit rows (d = 784: well conditioned, κ ≈ 10–30) and on
  digits-like rows (κ ≈ 1e5: scikit-learn's digits, all 1,797 rows, and resampled digits with
  pixel jitter to reach n = 5,000), with and without the randomly pivoted Cholesky
  preconditioner of rank 100; the relative error against the dense value and whether it lies
  inside the reported interval;
* the 100-point predicted loss curve by Lanczos quadrature (``krylov.trajectory``) /
  ``spectrum(H).loss_curve(...)`` (a full ``eigh`` with vectors), and its error against that curve;
* the top 10 eigenpairs (``krylov.top_eigenpairs``) / ``scipy.linalg.eigh(H, subset_by_index=…)``,
  with ``max |λ_dense − θ| / residual`` (≤ 1: the residuals bound the errors);
* ``krylov.extreme`` (λ_min, λ_max by Lanczos) / ``scipy.linalg.eigvalsh`` (all eigenvalues);
* the issue's target row: ``complexity`` of a float32-stored operator (``make_operator(X,
  storage="dense32")``: mixed precision, float32 CG iterations certified by float64 residuals) /
  a float64 ``cho_factor`` + ``cho_solve`` of the float64 H∞, at n = 10,000 (random d = 784 and
  digits-like; target ≤ 0.1 for plain CG on the random rows, relative error ≤ 1e-6 and inside the
  interval widened by ``storage_error`` everywhere; PCG and the ill-conditioned rows informational);
* one product of a float32-stored :class:`twolayer.kernels.KernelOperator` (float64
  accumulation) / a bare float32 ``sgemv`` and a bare float64 ``dgemv`` of the same shape (n = 20,000;
  target ≤ 1.5× the sgemv), and its 32-column ``matmat`` per column.

The dense ``eigh`` with vectors at n = 5,000 runs once (no warm-up, repeat 1: about 30 s on 2
cores); everything else is interleaved best-of-``repeat`` after a warm-up (see _common.compare).

Run: ``.venv/bin/python benchmarks/bench_krylov.py [--quick] [--repeat K]``.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np
import scipy.linalg as sla

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import Row, compare, digits_unit_rows, log, print_environment, print_table, ratio_detail  # noqa: E402
from _common import unit_rows  # noqa: E402

from twolayer import krylov  # noqa: E402
from twolayer.bounds import complexity  # noqa: E402
from twolayer.kernels import first_layer_ntk  # noqa: E402
from twolayer.spectra import spectrum  # noqa: E402

FULL = dict(sizes=(2_000, 5_000), d=784)
QUICK = dict(sizes=(1_000, 2_000), d=784)
TOL = 1e-6
RANK = 100


def _labels(n: int, seed: int) -> np.ndarray:
    return np.where(np.random.default_rng(seed).random(n) < 0.5, -1.0, 1.0)


def digits_like(n: int, seed: int = 0, jitter: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """``n`` rows resampled from the unit-norm digits with Gaussian pixel jitter ``jitter/8``, re-normalized.

    Labels ±1 by the parity of the source digit. κ(H∞) ≈ 5e4 at n = 3,000 and ≈ 1e5 at 5,000.
    """
    X0, y0 = digits_unit_rows()
    if n <= X0.shape[0]:
        return X0[:n].copy(), y0[:n].copy()
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, X0.shape[0], n)
    X = X0[idx] + jitter / 8 * rng.standard_normal((n, X0.shape[1]))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    return X, y0[idx]


def bare_yhy(H: np.ndarray, y: np.ndarray) -> float:
    """What a user would write: one Cholesky, one solve."""
    return float(y @ sla.cho_solve(sla.cho_factor(H), y))


def _complexity_rows(label: str, H: np.ndarray, y: np.ndarray, repeat: int, precondition: bool) -> list[Row]:
    log(f"krylov: complexity on {label} (best of {repeat})")
    funcs = {"bare": lambda: bare_yhy(H, y), "dense": lambda: complexity(H, y, method="dense"),
             "krylov": lambda: complexity(H, y, method="krylov", tol=TOL, precondition=0)}
    if precondition:
        funcs["pcg"] = lambda: complexity(H, y, method="krylov", tol=TOL, precondition=RANK)
    t = compare(funcs, repeat=repeat)
    true = bare_yhy(H, y)
    rows = []
    for key, name in (("krylov", "CG"), ("pcg", f"PCG rank {RANK}")):
        if key not in t:
            continue
        c = funcs[key]()
        err = abs(c.yHy - true) / true
        inside = c.yHy_lower <= true * (1 + 1e-12) and true <= c.yHy_upper * (1 + 1e-12)
        info = (f"{c.iterations} it., rel. error {err:.1e}, interval [{(c.yHy_lower - true) / true:+.1e}, "
                f"{(c.yHy_upper - true) / true:+.1e}] rel. {'contains' if inside else 'MISSES'} the dense value, "
                f"upper {'certified' if c.upper_certified else 'estimated'}")
        rows.append(Row(f"complexity {name} / cho_factor+cho_solve ({label})", t[key].best / t["bare"].best, None,
                        ratio_detail(t[key], t["bare"], name, "bare") + "; " + info))
        rows.append(Row(f"complexity {name} / complexity dense ({label})", t[key].best / t["dense"].best, None,
                        ratio_detail(t[key], t["dense"], name, "dense")))
        rows.append(Row(f"complexity {name} rel. error, inside interval ({label})", err, ("<=", TOL), info, unit="",
                        status=None if inside else "FAIL"))
    if "pcg" in t:
        rows.append(Row(f"complexity PCG / CG ({label})", t["pcg"].best / t["krylov"].best, ("<", 1.0),
                        ratio_detail(t["pcg"], t["krylov"], "PCG", "CG")
                        + " (< 1: the preconditioner pays)"))
    return rows


def _trajectory_rows(label: str, H: np.ndarray, y: np.ndarray, repeat: int, dense_once: bool) -> list[Row]:
    lam_max = krylov.extreme(H, maxiter=60).lambda_max
    lr = 1.0 / lam_max
    steps = np.unique(np.round(np.logspace(0, 5, 100)))
    log(f"krylov: 100-step predicted loss on {label}" + (" (dense eigh once)" if dense_once else ""))

    def dense():
        return spectrum(H).loss_curve(y, steps, lr)

    def ours():
        return krylov.trajectory(H, y, steps, lr)

    if dense_once:
        t_ours = compare({"ours": ours}, repeat=repeat)["ours"]
        t_dense = compare({"dense": dense}, repeat=1, warmup=0)["dense"]
    else:
        t = compare({"ours": ours, "dense": dense}, repeat=repeat)
        t_ours, t_dense = t["ours"], t["dense"]
    true, tr = dense(), ours()
    err = np.abs(tr.value - true)
    slack = 1e-9 * true + 1e-3 * tr.atol  # the dense reference's own rounding, amplified by k
    bounded = bool(np.all(err <= tr.error + slack))
    rel = float(np.max(err / np.maximum(true, tr.atol)))
    info = (f"{tr.iterations} Lanczos steps, rule {tr.rule}, upper {'certified' if tr.upper_certified else 'estimated'}; "
            f"max error / (loss or atol) {rel:.1e}; error bound {'holds' if bounded else 'FAILS'} at every step")
    return [Row(f"trajectory (100 steps) / eigh + loss_curve ({label})", t_ours.best / t_dense.best, None,
                ratio_detail(t_ours, t_dense, "lanczos", "eigh") + "; " + info),
            Row(f"trajectory error within its bound ({label})", 1.0 if bounded else 0.0, (">=", 1.0), info, unit="")]


def _eig_rows(label: str, H: np.ndarray, y: np.ndarray, repeat: int) -> list[Row]:
    n, k = H.shape[0], 10
    log(f"krylov: top-{k} eigenpairs and extremes on {label}")
    funcs = {"ours": lambda: krylov.top_eigenpairs(H, k, y=y),
             "subset": lambda: sla.eigh(H, subset_by_index=[n - k, n - 1]),
             "extreme": lambda: krylov.extreme(H),
             "eigvalsh": lambda: sla.eigvalsh(H)}
    t = compare(funcs, repeat=repeat)
    e, x = funcs["ours"](), funcs["extreme"]()
    w = sla.eigvalsh(H)
    top = w[::-1][:k]
    scale = 8 * n * np.finfo(float).eps * w[-1]  # the dense reference's own error
    worst = float(np.max(np.abs(top - e.eigenvalues) / (e.residuals + scale)))
    ext_lo = abs(x.lambda_min - w[0]) / (x.lambda_min_residual + scale)
    ext_hi = abs(x.lambda_max - w[-1]) / (x.lambda_max_residual + scale)
    return [
        Row(f"top-{k} eigenpairs / eigh subset ({label})", t["ours"].best / t["subset"].best, None,
            ratio_detail(t["ours"], t["subset"], "eigsh", "eigh subset") + f"; {e.matvecs} products"),
        Row(f"top-{k}: max |lambda_dense - theta| / (residual + 8 n eps lambda_max) ({label})", worst, ("<=", 1.0),
            f"max residual {float(np.max(e.residuals)):.1e}", unit=""),
        Row(f"extreme (lambda_min, lambda_max) / eigvalsh ({label})", t["extreme"].best / t["eigvalsh"].best, None,
            ratio_detail(t["extreme"], t["eigvalsh"], "lanczos", "eigvalsh")
            + f"; {x.iterations} steps, converged {x.converged}; lambda_min {x.lambda_min:.6g} vs {w[0]:.6g}"),
        Row(f"extreme: |error| / (residual + 8 n eps lambda_max) ({label})", max(ext_lo, ext_hi), ("<=", 1.0),
            f"lambda_min {ext_lo:.2g}, lambda_max {ext_hi:.2g}", unit=""),
    ]


def _operator_rows(n: int, repeat: int) -> list[Row]:
    """One float32-storage product (float64 accumulation) against a bare ``sgemv`` and a bare ``dgemv``."""
    from twolayer.kernels import KernelOperator

    log(f"krylov: one KernelOperator (dense32) product at n={n} (best of {repeat})")
    rng = np.random.default_rng(60)
    S = rng.standard_normal((n, n), dtype=np.float32)
    op = KernelOperator.from_matrix(S)
    v = rng.standard_normal(n)
    v32 = v.astype(np.float32)
    V = rng.standard_normal((n, 32))
    S64 = S.astype(np.float64)
    t = compare({"ours": lambda: op.matvec(v), "sgemv": lambda: S @ v32, "dgemv": lambda: S64 @ v,
                 "ours32": lambda: op.matmat(V)}, repeat=repeat)
    same = bool(np.array_equal(KernelOperator.from_matrix(S, n_jobs=1).matvec(v),
                               KernelOperator.from_matrix(S, n_jobs=3).matvec(v)))
    note = ("float32 rows widened exactly into a cached per-thread float64 buffer, then dgemv: numpy's "
            "float32->float64 cast (~5 GB/s per core) bounds it; bit-identical for n_jobs 1 and 3: "
            f"{same}")
    return [Row(f"KernelOperator dense32 matvec / bare float32 sgemv (n={n})", t["ours"].best / t["sgemv"].best,
                ("<=", 1.5), ratio_detail(t["ours"], t["sgemv"], "ours", "sgemv") + "; " + note),
            Row(f"KernelOperator dense32 matvec / bare float64 dgemv (n={n})", t["ours"].best / t["dgemv"].best,
                None, ratio_detail(t["ours"], t["dgemv"], "ours", "dgemv")),
            Row(f"KernelOperator dense32 matmat 32 columns / 32 matvecs (n={n})",
                t["ours32"].best / (32 * t["ours"].best), None,
                ratio_detail(t["ours32"], t["ours"], "matmat(32)", "matvec") + "; one pass over the storage",
                status=None if same else "FAIL")]


def _target_rows(label: str, X: np.ndarray, y: np.ndarray, repeat: int, target: bool = True) -> list[Row]:
    """The issue's target: Krylov complexity on float32 storage (mixed precision: float32 CG
    iterations, float64 residuals) against a float64 Cholesky + solve of the float64 H∞."""
    from twolayer.kernels.operator import make_operator

    log(f"krylov: float32-storage complexity vs dense Cholesky on {label} (best of {repeat})")
    H = first_layer_ntk(X)
    op = make_operator(X, storage="dense32")
    funcs = {"bare": lambda: bare_yhy(H, y),
             "cg": lambda: complexity(op, y, method="krylov", tol=TOL, precondition=0),
             "pcg": lambda: complexity(op, y, method="krylov", tol=TOL, precondition=RANK)}
    t = compare(funcs, repeat=repeat)
    true = bare_yhy(H, y)
    rows = []
    for key, name in (("cg", "CG"), ("pcg", f"PCG rank {RANK}")):
        c = funcs[key]()
        err = abs(c.yHy - true) / true
        lo, hi = c.yHy_lower - c.storage_error, c.yHy_upper + c.storage_error
        inside = lo <= true * (1 + 1e-12) and true <= hi * (1 + 1e-12)
        info = (f"{c.iterations} float32 it. + {c.refinements} float64 residual(s) ({c.products}); rel. error "
                f"{err:.1e} against the float64 H; interval for the stored S "
                f"[{(c.yHy_lower - true) / true:+.1e}, {(c.yHy_upper - true) / true:+.1e}] rel., widened by the "
                f"storage bound {c.storage_error / true:.1e} rel. for H: {'contains' if inside else 'MISSES'} it")
        rows.append(Row(f"complexity float32 storage, {name} / float64 cho_factor+cho_solve ({label})",
                        t[key].best / t["bare"].best, ("<=", 0.1) if target and key == "cg" else None,
                        ratio_detail(t[key], t["bare"], name, "bare")
                        + "; " + info, status=None if inside and err <= TOL else "FAIL"))
    op.close()
    return rows


def run(quick: bool = False, repeat: int = 3) -> list[Row]:
    cfg = QUICK if quick else FULL
    d = cfg["d"]
    rows: list[Row] = _operator_rows(5_000 if quick else 20_000, max(repeat, 5))
    big = 4_000 if quick else 10_000
    rows += _target_rows(f"random n={big}, d={d}", unit_rows(big, d, seed=70), _labels(big, seed=71), repeat)
    rows += _target_rows(f"digits-like n={big}, d=64", *digits_like(big), repeat, target=False)
    for n in cfg["sizes"]:
        H = first_layer_ntk(unit_rows(n, d, seed=40 + n))
        y = _labels(n, seed=41)
        rows += _complexity_rows(f"random n={n}, d={d}", H, y, repeat, precondition=True)
        del H
    Xd, yd = digits_unit_rows()
    Hd = first_layer_ntk(Xd)
    rows += _complexity_rows(f"digits n={Xd.shape[0]}", Hd, yd, max(repeat, 5), precondition=True)
    for n in cfg["sizes"]:
        X, y = digits_like(n)
        H = first_layer_ntk(X)
        rows += _complexity_rows(f"digits-like n={n}, d=64", H, y, repeat, precondition=True)
        del H
    rows += _trajectory_rows(f"digits n={Xd.shape[0]}", Hd, yd, repeat, dense_once=False)
    for n in cfg["sizes"]:
        H = first_layer_ntk(unit_rows(n, d, seed=50 + n))
        y = _labels(n, seed=51)
        rows += _trajectory_rows(f"random n={n}, d={d}", H, y, repeat, dense_once=n > 3000)
        rows += _eig_rows(f"random n={n}, d={d}", H, y, repeat)
        del H
    rows += _eig_rows(f"digits n={Xd.shape[0]}", Hd, yd, repeat)
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help=f"small sizes {QUICK['sizes']} instead of {FULL['sizes']}")
    p.add_argument("--repeat", type=int, default=3, help="timed repetitions per measurement (best is reported; >= 3)")
    a = p.parse_args(argv)
    print_environment()
    rows = run(quick=a.quick, repeat=max(3, a.repeat))
    print_table(rows, "Krylov instruments (ratios: ours / dense reference; lower is better)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

r"""Shared pieces of the E–Ma–Wu experiments: seeds, the sphere data, the target ``f*`` in
``H_{k₀}``, the kernel ``k₀ = κ₁/d`` (papers.md §2.2), step checks, and the record a point
writes when it diverges.

E, Ma, Wu (2019/2020), arXiv:1904.04326: the two-layer network ``f_m(x) = Σ_k a_k σ(b_kᵀx)``
(both layers trained, ``a_k(0) = ±β``, ``b_k(0)`` uniform on ``S^{d−1}``) and the random-feature
model (``B`` frozen at ``B(0)``), compared under GD with ``η = η₀/m`` at the natural time
``s = m t = k η₀``.
"""

from __future__ import annotations

import functools
import math
import re

import numpy as np

from ..._errors import DivergenceError, InputError
from ..._seeds import sample_sphere
from ..._threads import single_threaded
from .._common import (
    seed_sequence as _ss,  # noqa: F401  (re-exported for the experiment modules)
    rng as _rng,
    check_positive as _check_positive,
    Rows as _Rows,
)

PAPER = ("E, Ma, Wu. A comparative analysis of the optimization and generalization property of two-layer neural "
         "network and random feature models under gradient descent dynamics. Sci. China Math. 63:1235-1258 "
         "(2020); arXiv:1904.04326")

INIT_KEY, DATA_KEY, TARGET_KEY, TEST_KEY, NOISE_KEY, RANDOM_KEY = 21, 22, 23, 24, 25, 26
TARGETS = ("sections", "neurons")
LABEL_SETS = ("true", "random")
_REFERENCE_SAMPLE = 4096


# ------------------------------------------------------------------------------ helpers
def _sorted_unique(name: str, values, kind=float, minimum: int = 1, positive: bool = True) -> tuple:
    vals = tuple(kind(v) for v in values)
    if len(vals) < minimum or len(set(vals)) != len(vals) or (positive and any(v <= 0 for v in vals)):
        raise InputError(f"{name} must be at least {minimum} distinct positive value(s), got {values!r}")
    return tuple(sorted(vals))


def _check_target(target: str, features: int) -> None:
    if target not in TARGETS:
        raise InputError(f"target must be one of {', '.join(TARGETS)}, got {target!r}")
    _check_positive("target_features", features, True)


#: Run a point with one BLAS thread: small matrices gain nothing from more, and the numbers then
#: do not depend on ``--jobs`` (a last point run in-process would otherwise use all cores).
_single_thread = single_threaded


# ------------------------------------------------------------------------------ data
#: ``n`` points uniform on ``S^{d-1}``; the first rows do not depend on ``n`` (nested samples).
_sphere = sample_sphere


def _k0(X, Z=None) -> np.ndarray:
    """``k₀(x, z) = E_{b∼U(S^{d−1})}[σ(bᵀx)σ(bᵀz)] = κ₁(x, z)/d`` (papers.md §2.2)."""
    from ...kernels import random_features_kernel

    return random_features_kernel(X, Z) / np.shape(X)[1]


def _raw_target(kind: str, X: np.ndarray, Bs: np.ndarray, signs: np.ndarray) -> np.ndarray:
    F = _k0(X, Bs) if kind == "sections" else np.maximum(X @ Bs.T, 0.0)
    return F @ signs


@functools.lru_cache(maxsize=16)
def _target(kind: str, d: int, features: int, seed: int) -> tuple:
    """``(B*, s, A, ‖f*‖_H)`` of the target (root seed only: the same function for every point)."""
    Bs = _sphere(_rng(seed, TARGET_KEY), features, d)
    signs = np.where(np.arange(features) % 2 == 0, 1.0, -1.0)
    ref = _sphere(_rng(seed, TARGET_KEY, 1), _REFERENCE_SAMPLE, d)
    A = 1.0 / math.sqrt(float(np.mean(_raw_target(kind, ref, Bs, signs) ** 2)))
    norm = A * math.sqrt(float(signs @ _k0(Bs) @ signs)) if kind == "sections" else float("inf")
    return Bs, signs, A, norm


def _f_star(kind: str, d: int, features: int, seed: int, X: np.ndarray) -> np.ndarray:
    Bs, signs, A, _ = _target(kind, d, features, seed)
    return A * _raw_target(kind, X, Bs, signs)


def _frozen(*arrays):
    for a in arrays:
        a.setflags(write=False)
    return arrays


@functools.lru_cache(maxsize=16)
def _train_sample(d: int, n: int, seed: int, s: int, kind: str, features: int, noise: float) -> tuple:
    """``(X, f*(X), y)`` of replicate ``s``: nested inputs, labels ``f*(x) + noise·ξ``."""
    X = _sphere(_rng(seed, DATA_KEY, s), n, d)
    f = _f_star(kind, d, features, seed, X)
    y = f + noise * _rng(seed, NOISE_KEY, s).standard_normal(n) if noise else f.copy()
    return _frozen(X, f, y)


@functools.lru_cache(maxsize=4)
def _test_sample(d: int, n_test: int, seed: int, kind: str, features: int) -> tuple:
    Xt = _sphere(_rng(seed, TEST_KEY), n_test, d)
    return _frozen(Xt, _f_star(kind, d, features, seed, Xt))


def _provenance(cfg, n_text, extra: dict | None = None) -> dict:
    _, _, A, norm = _target(cfg.target, cfg.d, cfg.target_features, cfg.seed)
    desc = ("f*(x) = A sum_j s_j k0(b*_j, x), k0 = kappa_1/d (finite sum of kernel sections: a*(b) = A sum_j s_j "
            "relu(b*_j.b), in H_k0)" if cfg.target == "sections"
            else "f*(x) = A sum_j s_j relu(b*_j.x) (single neurons; not in H_k0)")
    out = {"source": "sphere", "inputs": f"uniform on the unit sphere S^{cfg.d - 1}", "d": cfg.d, "n": n_text,
           "target": desc, "target_features": cfg.target_features, "target_signs": "alternating +1, -1",
           "target_scale_A": A, "target_normalization": f"E_x f*(x)^2 = 1 on a fixed reference sample of "
                                                        f"{_REFERENCE_SAMPLE} points",
           "target_rkhs_norm": norm if math.isfinite(norm) else "not in H_k0",
           "nested_samples": True,
           "settings": "chosen here to test the theorems (the paper's six figures were not retrieved; papers.md "
                       "section 2.4)",
           "seed_keys": {"init (m, replicate)": INIT_KEY, "train inputs (replicate)": DATA_KEY,
                         "target": TARGET_KEY, "test grid": TEST_KEY, "label noise (replicate)": NOISE_KEY,
                         "random labels (replicate)": RANDOM_KEY}}
    out.update(extra or {})
    return out


def _check_step(eta0: float, X: np.ndarray, beta_max: float, what: str) -> float:
    """Largest stable natural step ``2n/λ_max(k₀ + β²H∞)`` of the network on ``X``; refuse ``eta0``
    above it (the network's tangent kernel per natural step is ``(k₀ + β² H∞)/n``)."""
    from ...dynamics import gd_stable_step
    from ...kernels import first_layer_ntk
    from ...spectra import top_eigenvalue

    n = X.shape[0]
    limit = gd_stable_step(top_eigenvalue(_k0(X) + beta_max**2 * first_layer_ntk(X)) / n)
    if not eta0 < limit:
        raise InputError(f"{what}: the natural step eta0 = {eta0:.4g} is not below 2n/lambda_max(k0 + beta^2 H) = "
                         f"{limit:.4g} (n = {n}, beta = {beta_max:.3g}); raise steps or lower time "
                         f"(eta0 = time/steps)")
    return limit


def _nets(d: int, m: int, seed: np.random.SeedSequence, beta: float, batch: int = 1):
    """The network and the random-feature model from one initialization (same draws)."""
    from ...networks import init_network

    return (init_network("ema-wu", d, m, seed=seed, beta=beta, batch=batch),
            init_network("ema-wu-rf", d, m, seed=seed, beta=beta, batch=batch))


# ------------------------------------------------------------------------------ exact linear paths
def _rf_path(Phi, Phit, a0, y, eta0: float, m: int):
    """GD on ``a`` of ``f = Φa`` with ``lr = η₀/m`` and the loss ``½n⁻¹‖Φa − y‖²`` from ``a0``, in
    closed form (:func:`twolayer.spectra.feature_gd_path`; ``a(∞) = a0 + Φ⁺(y − Φa0)``). Returns
    the :class:`~twolayer.spectra.LinearPath` and ``σ_min(Φ)²/(mn)`` (the smallest eigenvalue of
    ``ΦΦᵀ/(mn)`` or ``ΦᵀΦ/(mn)``; 0 when ``Φ`` is rank deficient). Raises DivergenceError when
    ``η₀`` is not below the model's stable step."""
    from ...spectra import feature_gd_path

    n = Phi.shape[0]
    path = feature_gd_path(Phi, Phit, a0, y, eta0 / m, normalization="mean")
    lam = path.eigenvalues                      # σ², descending
    x_max = path.eta * lam[0]
    if not x_max < 2:
        raise DivergenceError(f"the natural step eta0 = {eta0:.4g} makes GD on the random-feature model of width {m} "
                              f"diverge from the first steps (it needs eta0 < 2/lambda_max(Phi Phi^T/(mn)) = "
                              f"{2 * eta0 / x_max:.4g}); raise steps or lower time (eta0 = time/steps)")
    lam_min = float(lam[-1]) / (m * n) if lam.size == min(Phi.shape) else 0.0
    return path, lam_min


def _kernel_path(X, y, Xt, eta0: float):
    """Kernel GD on ``k₀`` (the ``m → ∞`` limit) from ``f = 0`` with natural step ``η₀`` (loss
    ``½n⁻¹Σ``): :meth:`twolayer.spectra.Spectrum.test_predictor`."""
    from ...spectra import spectrum

    return spectrum(_k0(X)).test_predictor(_k0(Xt, X), y, eta0, normalization="mean")


def _time_grid(eta0: float, t_max: float, count: int = 121) -> np.ndarray:
    """Integer steps log-spaced from 1 to ``t_max/η₀``."""
    return np.unique(np.round(np.logspace(0, math.log10(max(t_max / eta0, 1.0)), count))).astype(float)


# ------------------------------------------------------------------------------ up-front cost counts
#: Most natural times :func:`_time_grid` returns (its ``count``).
TIME_GRID = 121


def check_step_cost(n: int, d: int):
    """:class:`twolayer._cost.Cost` of :func:`_check_step` on ``n`` points: the ``k₀`` and ``H∞`` Grams
    (``2 · 2n²d``) and the top eigenvalue of their sum (one ``eigvalsh`` of ``n``)."""
    from ..._cost import Cost
    from .._common import gram_flops

    return Cost(2 * gram_flops(n, n, d), eigvals=[n])


def rf_path_cost(n: int, n_out: int, d: int, m: int, times: int):
    """:class:`twolayer._cost.Cost` of :func:`_rf_path` with ``n`` training and ``n_out`` output points
    and ``m`` features, evaluated at ``times`` steps: the features (``2(n + n_out)md``), the thin SVD
    of ``Φ`` (:func:`.._common.svd_cost`), ``B = Φ_out W S`` (``2 n_out m r``, ``r = min(n, m)``) and
    the outputs (``2 n_out r`` per time)."""
    from ..._cost import Cost
    from .._common import forward_flops, svd_cost

    r = min(n, m)
    return svd_cost(n, m) + Cost(forward_flops(n + n_out, d, m) + 2.0 * n_out * m * r + 2.0 * n_out * r * times)


def kernel_path_cost(n: int, n_test: int, d: int, times: int):
    """:class:`twolayer._cost.Cost` of :func:`_kernel_path` evaluated at ``times`` steps: the ``k₀`` Grams
    (``2n²d + 2 n_test n d``), one ``eigh`` of ``n``, ``K_test V`` (``2 n_test n²``) and the outputs
    (``2 n_test n`` per time)."""
    from ..._cost import Cost
    from .._common import gram_flops

    return Cost(gram_flops(n, n, d) + gram_flops(n_test, n, d) + 2.0 * n_test * n * (n + times), eigh=[n])


def _risk(F: np.ndarray, ft: np.ndarray) -> np.ndarray:
    return np.mean((F - ft[None, :]) ** 2, axis=1)


_STEP_RE = re.compile(r"at step (\d+)")


def diverged_step(exc: BaseException) -> int:
    """The step a :class:`~twolayer.DivergenceError` names (``"diverged at step k"``); 0 when the
    step was refused before training started."""
    m = _STEP_RE.search(str(exc))
    return int(m.group(1)) if m else 0


def diverged_rows(exc: BaseException, *, step: int | None = None, lr_over_limit: float | None = None,
                  **ids) -> _Rows:
    """The rows a point writes instead of its metrics when GD diverged: ``diverged_at_step``
    (``step``, default the one the error names; 0 = refused before the first step) and
    ``lr_over_finite_width_limit``, the step relative to ``2/λ_max`` of the width-``m`` tangent
    kernel at initialization, where known. The claims that need the point read them."""
    rows = _Rows()
    rows.add("diverged_at_step", diverged_step(exc) if step is None else step, **ids)
    if lr_over_limit is not None and math.isfinite(lr_over_limit):
        rows.add("lr_over_finite_width_limit", lr_over_limit, **ids)
    return rows


def nanmean_rows(A: np.ndarray) -> np.ndarray:
    """Mean of each row of ``A`` over its finite entries (NaN for a row with none), no warnings."""
    A = np.asarray(A, float)
    out = np.full(A.shape[0], np.nan)
    for i, row in enumerate(A):
        v = row[np.isfinite(row)]
        if v.size:
            out[i] = float(np.mean(v))
    return out


__all__ = ["PAPER", "INIT_KEY", "DATA_KEY", "TARGET_KEY", "TEST_KEY", "NOISE_KEY", "RANDOM_KEY", "TARGETS",
           "LABEL_SETS", "DivergenceError", "diverged_rows", "diverged_step", "nanmean_rows"]

r"""The Li, Ma, Zhang (COLT 2020) baselines: kernel and polynomial ridge regression; the Hermite orders recorded.

The mathematics these experiments rest on lives in the core and is re-exported here under its old
names: the Hermite coefficients of ``|z|`` and ``relu``, the kernels ``K_k``, the explicit Hermite
features, the **exact** energies and population loss of ridge sums and the U-statistic
:class:`HermiteProjector` in :mod:`twolayer.kernels.hermite`; the neuron–teacher
:func:`alignment` in :mod:`twolayer.dynamics.probes`. Pure functions, no I/O.
"""

from __future__ import annotations

import numpy as np

from ...dynamics.probes import alignment  # noqa: F401  (its home; re-exported)
from ...kernels.hermite import (KERNEL_ORDERS, VAR_ABS, HermiteProjector, abs_hermite_coefficient,  # noqa: F401
                                abs_hermite_coefficient_sq, abs_hermite_tail, hermite_feature_count, hermite_features,
                                hermite_kernel, hermite_sum_kernel, order_weights, relu_hermite_coefficient,
                                ridge_hermite_energies, ridge_population_mse, teacher_hermite_energies)

#: The Hermite orders every point records (those :func:`hermite_kernel` implements).
HERMITE_ORDERS = KERNEL_ORDERS


def kernel_ridge(K, y, K_test, lam: float) -> np.ndarray:
    r"""Kernel ridge predictions ``K_test (K + λI)⁻¹ y`` (n_test,) for the Gram ``K`` (n, n), the targets
    ``y`` (n,) and ``K_test`` (n_test, n): the package's scikit-learn estimator
    :class:`~twolayer.estimators.KernelRegressor` on the precomputed Gram matrices (Cholesky,
    ``O(n³)``; ``K`` is not modified)."""
    from ...estimators import KernelRegressor

    return KernelRegressor(kernel="precomputed", ridge=float(lam)).fit(K, y).predict(K_test)


def poly_ridge(X, y, X_test, degree: int, lams, *, weights="orders", center: bool = True,
               dual: bool | None = None) -> list[np.ndarray]:
    r"""Polynomial ridge regression of total degree ≤ ``degree``: predictions (n_test,) at ``X_test``
    (n_test, d) for every ``λ`` in ``lams``, from ``X`` (n, d) and ``y`` (n,), minimizing
    ``‖Fβ − (y − ȳ)‖² + λ‖β‖²`` over the Hermite features ``F`` of :func:`hermite_features` (then
    ``ȳ`` added back; ``center=False`` fits ``y`` itself).

    ``weights="orders"`` scales order k by ``1/dim_k`` (:func:`order_weights`): with the plain
    orthonormal features the ``C(d+3, 4)`` degree-4 features would swamp the few low-order ones
    under a common ridge. ``None`` means all 1. Solved in the primal (explicit features,
    ``(FᵀF + λI)β = Fᵀy``) when there are at most as many features as samples, else in the dual
    with the feature kernel (:func:`hermite_sum_kernel`); both give the same predictor, and
    ``dual`` forces one. Cost ``O(n F² + F³)`` in the primal, ``O(n²(d + degree) + n³)`` in the dual,
    ``F`` = :func:`hermite_feature_count` (d, degree)."""
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    d = X.shape[1]
    w = order_weights(d, degree) if isinstance(weights, str) and weights == "orders" else weights
    nf = hermite_feature_count(d, degree)
    if dual is None:
        dual = nf > X.shape[0]
    ybar = float(y.mean()) if center else 0.0
    yc = y - ybar
    if dual:
        K, Kt = hermite_sum_kernel(X, X, degree, w), hermite_sum_kernel(X_test, X, degree, w)
        return [kernel_ridge(K, yc, Kt, lam) + ybar for lam in lams]
    F, Ft = hermite_features(X, degree, w), hermite_features(X_test, degree, w)
    G, b = F.T @ F, F.T @ yc
    out = []
    for lam in lams:
        M = G.copy()
        M[np.diag_indices_from(M)] += lam
        out.append(Ft @ np.linalg.solve(M, b) + ybar)
    return out

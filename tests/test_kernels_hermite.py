"""The Hermite mathematics of :mod:`twolayer.kernels.hermite` that the Li–Ma–Zhang experiments rest on.

Explicit Hermite features (orthonormality, Gram = the reproducing kernels ``K_k``), the exact
energies and population loss of relu/|·| ridge sums (against the projection of a large Gaussian
sample on the explicit features, and against Mehler's series by polarization), the teacher's
closed form, and the U-statistic :class:`~twolayer.kernels.hermite.HermiteProjector` (an exact
identity, unbiasedness on a function of known energies, a calibrated standard error). The
coefficients of ``|z|`` and ``relu`` themselves are checked by quadrature in ``test_kernel_table.py``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from twolayer import InputError
from twolayer.kernels import hermite as H


# ------------------------------------------------------------------------------ |z| constants
def test_abs_constants_are_the_closed_forms():
    assert H.abs_hermite_coefficient_sq(2) == pytest.approx(1 / math.pi, rel=1e-15)
    assert H.abs_hermite_coefficient_sq(4) == pytest.approx(1 / (12 * math.pi), rel=1e-15)
    # Var|z| = E z² − (E|z|)² = 1 − 2/π is the tail beyond order 0
    assert H.VAR_ABS == pytest.approx(H.abs_hermite_tail(0), abs=1e-15)
    assert H.VAR_ABS == pytest.approx(1 - 2 / math.pi, abs=1e-15)


# ------------------------------------------------------------------------------ explicit features
def test_hermite_kernels_equal_the_explicit_feature_gram():
    rng = np.random.default_rng(0)
    X, Z = rng.standard_normal((6, 3)), rng.standard_normal((5, 3))
    for degree in range(5):
        F, G = H.hermite_features(X, degree), H.hermite_features(Z, degree)
        assert F.shape[1] == H.hermite_feature_count(3, degree)
        np.testing.assert_allclose(F @ G.T, H.hermite_sum_kernel(X, Z, degree), rtol=1e-10, atol=1e-10)
    # single orders: the degree-k block of the features
    F4 = H.hermite_features(X, 4)[:, H.hermite_feature_count(3, 3):]
    G4 = H.hermite_features(Z, 4)[:, H.hermite_feature_count(3, 3):]
    S, A, B = X @ Z.T, (X * X).sum(1)[:, None], (Z * Z).sum(1)[None, :]
    np.testing.assert_allclose(F4 @ G4.T, H.hermite_kernel(4, S, A, B, 3), rtol=1e-10, atol=1e-10)
    # weighted features: the Gram is the weighted sum kernel, and order_weights are 1/dim_k
    w = H.order_weights(3, 4)
    np.testing.assert_allclose(w, [1.0 / math.comb(3 + k - 1, k) for k in range(5)], rtol=1e-15)
    np.testing.assert_allclose(H.hermite_features(X, 4, w) @ H.hermite_features(Z, 4, w).T,
                               H.hermite_sum_kernel(X, Z, 4, w), rtol=1e-10, atol=1e-10)


def test_hermite_features_are_orthonormal_under_the_gaussian():
    X = np.random.default_rng(1).standard_normal((200_000, 2))
    F = H.hermite_features(X, 4)
    np.testing.assert_allclose(F.T @ F / X.shape[0], np.eye(F.shape[1]), atol=0.1)


# ------------------------------------------------------------------------------ exact energies
def test_exact_ridge_energies_and_loss_equal_the_feature_projection_of_a_large_sample():
    # g = network - teacher with arbitrary weights: exact energies vs the projection on the explicit
    # orthonormal Hermite features of 400k Gaussian points (Monte Carlo error ~ 1e-2 relative)
    rng = np.random.default_rng(11)
    d = 3
    W, a = rng.standard_normal((5, d)), rng.standard_normal(5)
    Ws, at = np.linalg.qr(rng.standard_normal((d, d)))[0], np.full(d, 1 / d)
    groups = [("relu", a, W), ("abs", -at, Ws)]
    exact, mse = H.ridge_hermite_energies(groups), H.ridge_population_mse(groups)
    X = rng.standard_normal((400_000, d))
    g = np.maximum(X @ W.T, 0) @ a - np.abs(X @ Ws.T) @ at
    coef = H.hermite_features(X, 4).T @ g / X.shape[0]
    lo = 0
    for k in range(5):
        hi = H.hermite_feature_count(d, k)
        assert exact[k] == pytest.approx(np.sum(coef[lo:hi] ** 2), rel=0.03, abs=1e-3), k
        lo = hi
    assert exact[3] == 0.0                      # relu and |.| have no order-3 part
    assert mse == pytest.approx(np.mean(g ** 2), rel=0.01)
    assert sum(exact.values()) < mse
    # the teacher alone: the closed form of teacher_hermite_energies
    t_only = H.ridge_hermite_energies([("abs", at, Ws)])
    for k, v in H.teacher_hermite_energies(at).items():
        assert t_only[k] == pytest.approx(v, rel=1e-9, abs=1e-15)


def test_population_cross_terms_are_mehlers_series():
    # polarization: ‖P_k(g1 + g2)‖² − ‖P_k(g1 − g2)‖² = 4 <P_k g1, P_k g2>, so the Hermite series of the
    # energies sums to the arc-cosine cross moment E[g1 g2] (geometric convergence at |ρ| < 1)
    rng = np.random.default_rng(13)
    u, v = rng.standard_normal(4), rng.standard_normal(4)
    v = v - (v @ u) / (u @ u) * u + 0.4 * u                   # a correlation well inside (-1, 1)
    orders = range(400)
    for acts in (("relu", "abs"), ("relu", "relu"), ("abs", "abs")):
        g1, g2 = (acts[0], [1.3], [u]), (acts[1], [0.7], [v])
        minus = (acts[1], [-0.7], [v])
        plus_e = H.ridge_hermite_energies([g1, g2], orders)
        minus_e = H.ridge_hermite_energies([g1, minus], orders)
        series = sum(plus_e[k] - minus_e[k] for k in orders) / 4
        cross = (H.ridge_population_mse([g1, g2]) - H.ridge_population_mse([g1, minus])) / 4
        assert series == pytest.approx(cross, rel=1e-10, abs=1e-13), acts
    # homogeneity: scaling a direction scales the amplitude
    e1 = H.ridge_hermite_energies([("relu", [2.0], [u])])
    e2 = H.ridge_hermite_energies([("relu", [1.0], [2.0 * u])])
    for k in e1:
        assert e1[k] == pytest.approx(e2[k], rel=1e-14, abs=1e-300)
    with pytest.raises(InputError, match="relu"):
        H.ridge_hermite_energies([("tanh", [1.0], [u])])
    with pytest.raises(InputError, match="relu"):
        H.ridge_population_mse([("tanh", [1.0], [u])])


def test_teacher_hermite_energies_match_a_monte_carlo_estimate():
    from twolayer.data.teacher import TeacherNetwork, random_orthogonal

    rng = np.random.default_rng(3)
    d = 3
    t = TeacherNetwork(np.array([0.5, 0.3, 0.2]), random_orthogonal(d, rng))
    X = rng.standard_normal((4000, d))
    est = H.HermiteProjector(X).energies(t(X))
    exact = H.teacher_hermite_energies(t.a)
    assert exact[1] == exact[3] == 0.0
    assert exact[2] == pytest.approx(float(t.a @ t.a) / math.pi)
    for k in (1, 2, 3, 4):
        assert est[k] == pytest.approx(exact[k], abs=0.006), (k, est[k], exact[k])
    # the order energies add up to E f*^2 minus the tail beyond order 4
    total = float(t.a.sum() ** 2 * 2 / math.pi + (t.a @ t.a) * H.VAR_ABS)
    assert sum(exact.values()) < total
    assert total - sum(exact.values()) == pytest.approx(float(t.a @ t.a) * H.abs_hermite_tail(4))


# ------------------------------------------------------------------------------ the U-statistic
def test_hermite_projector_is_the_u_statistic_of_the_feature_projection():
    # exact identity: sum_{i != j} r_i K_k(x_i, x_j) r_j = ||F_k^T r||^2 - sum_i r_i^2 ||F_k(x_i)||^2
    rng = np.random.default_rng(2)
    X = rng.standard_normal((50, 3))
    r = rng.standard_normal(50) + 2.0
    est = H.HermiteProjector(X, block=16).energies(r)
    for k in range(5):
        lo, hi = (H.hermite_feature_count(3, k - 1) if k else 0), H.hermite_feature_count(3, k)
        F = H.hermite_features(X, k)[:, lo:hi]
        v = r if k == 0 else r - r.mean()
        want = (np.sum((F.T @ v) ** 2) - np.sum(v**2 * np.sum(F**2, axis=1))) / (50 * 49)
        assert est[k] == pytest.approx(want, rel=1e-9, abs=1e-12), k
    with pytest.raises(InputError, match="values"):
        H.HermiteProjector(X).energies(r[:-1])


def test_hermite_projector_recovers_known_energies():
    # r has known Hermite energies {0: 0.25, 1: 1, 2: 1, 3: 0, 4: 0.25}; the estimator is unbiased,
    # so the mean over 8 samples of 1500 points lands within a few standard errors
    est = []
    for seed in range(8):
        X = np.random.default_rng(seed).standard_normal((1500, 4))
        he4 = (X[:, 3] ** 4 - 6 * X[:, 3] ** 2 + 3) / math.sqrt(24)
        r = 0.5 + X[:, 0] + X[:, 1] * X[:, 2] + 0.5 * he4
        e = H.HermiteProjector(X).energies(r)
        est.append([e[k] for k in range(5)])
    mean = np.mean(est, axis=0)
    np.testing.assert_allclose(mean, [0.25, 1.0, 1.0, 0.0, 0.25], atol=0.1)


def test_u_statistic_standard_error_is_calibrated():
    # 200 independent samples: the spread of the order-2/4 estimates matches the mean reported SE
    # (within 25 %), and the estimates are centred on the exact values
    rng = np.random.default_rng(12)
    d, N = 4, 300
    Ws, at = np.linalg.qr(rng.standard_normal((d, d)))[0], np.full(d, 1 / d)
    exact = H.teacher_hermite_energies(at)
    est, ses = [], []
    for _ in range(200):
        X = rng.standard_normal((N, d))
        e, se = H.HermiteProjector(X).energies_se(np.abs(X @ Ws.T) @ at)
        est.append([e[2], e[4]])
        ses.append([se[2], se[4]])
    est, ses = np.array(est), np.array(ses)
    for j, k in enumerate((2, 4)):
        assert np.std(est[:, j]) == pytest.approx(np.mean(ses[:, j]), rel=0.25), k
        assert abs(est[:, j].mean() - exact[k]) < 3 * np.std(est[:, j]) / math.sqrt(200), k


def test_lmz2020_reexports_the_core_functions():
    from twolayer.dynamics import probes
    from twolayer.experiments.lmz2020 import hermite as L

    for name in ("VAR_ABS", "HermiteProjector", "hermite_features", "hermite_feature_count", "order_weights",
                 "ridge_hermite_energies", "ridge_population_mse", "teacher_hermite_energies"):
        assert getattr(L, name) is getattr(H, name), name
    assert L.alignment is probes.alignment
    assert L.HERMITE_ORDERS == H.KERNEL_ORDERS

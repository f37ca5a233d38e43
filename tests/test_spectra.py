"""Spectra and predicted trajectories against explicitly iterated linear dynamics and expm."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg as sla

from twolayer import kernels as K
from twolayer import spectra as S
from twolayer._errors import InputError

from ._helpers import loglog_slope, sphere


@pytest.fixture(scope="module")
def problem():
    X = sphere(60, 5, 1)
    H = K.first_layer_ntk(X)
    rng = np.random.default_rng(2)
    y = np.sign(X[:, 0] + 0.3 * X[:, 1])
    u0 = 0.05 * rng.standard_normal(60)
    return X, H, y, u0, S.spectrum(H)


def test_decomposition_is_exact_and_descending(problem):
    _, H, _, _, sp = problem
    V, lam = sp.eigenvectors, sp.eigenvalues
    assert np.all(np.diff(lam) <= 0)
    assert np.allclose(V @ np.diag(lam) @ V.T, H, atol=1e-13)
    assert np.allclose(V.T @ V, np.eye(60), atol=1e-13)
    assert lam.sum() == pytest.approx(30.0, abs=1e-12)  # tr H = n/2
    assert sp.lambda_max == lam[0] and sp.lambda_min == lam[-1] > 0
    assert sp.condition_number == pytest.approx(lam[0] / lam[-1])
    w = S.spectrum(H, vectors=False)
    assert w.eigenvectors is None and np.allclose(w.eigenvalues, lam, atol=1e-13)


def test_projections_are_an_orthogonal_change_of_basis(problem):
    _, H, y, _, sp = problem
    p = sp.project(y)
    assert np.sum(p**2) == pytest.approx(y @ y)
    assert np.allclose(sp.eigenvectors @ p, y)


@pytest.mark.parametrize("normalization", ["sum", "mean"])
def test_predicted_trajectory_equals_iterated_linear_dynamics(problem, normalization):
    _, H, y, u0, sp = problem
    n = 60
    lr = 0.9 * sp.max_stable_lr(normalization) / 2
    eta = lr / (n if normalization == "mean" else 1)
    steps = [0, 1, 2, 5, 37, 120]
    res = sp.residuals(y, steps, lr, u0=u0, normalization=normalization)
    loss = sp.loss_curve(y, steps, lr, u0=u0, normalization=normalization)
    u = u0.copy()
    for k in range(121):
        if k in steps:
            i = steps.index(k)
            assert np.allclose(res[i], y - u, atol=1e-12)
            ref = 0.5 * np.sum((y - u) ** 2) / (n if normalization == "mean" else 1)
            assert loss[i] == pytest.approx(ref, rel=1e-10, abs=1e-14)
        u = u - eta * H @ (u - y)


def test_paper_form_starts_from_zero_outputs(problem):
    _, _, y, _, sp = problem
    assert sp.loss_curve(y, [0], 0.1)[0] == pytest.approx(0.5 * y @ y)
    assert sp.loss_curve(y, [0], 0.1, normalization="mean")[0] == pytest.approx(0.5)


def test_gradient_flow_equals_matrix_exponential(problem):
    _, H, y, u0, sp = problem
    lr = 0.05
    for k in [0, 3, 40]:
        ref = sla.expm(-lr * k * H) @ (y - u0)
        assert np.allclose(sp.residuals(y, [k], lr, u0=u0, flow=True)[0], ref, atol=1e-12)


def test_discrete_gd_approaches_gradient_flow_at_first_order_in_the_step(problem):
    """At fixed time t = eta k, |loss_GD - loss_flow| shrinks like eta (slope 1 on log-log)."""
    _, _, y, _, sp = problem
    t = 2.0
    etas = [0.02, 0.01, 0.005, 0.0025]
    gaps = [abs(sp.loss_curve(y, [round(t / e)], e)[0] - sp.loss_curve(y, [round(t / e)], e, flow=True)[0])
            for e in etas]
    assert loglog_slope(etas, gaps) == pytest.approx(1.0, abs=0.05)


def test_kernel_predictor_on_test_points_equals_iterated_kernel_gd(problem):
    X, H, y, u0, sp = problem
    Xt = sphere(9, 5, 3)
    Kt = K.first_layer_ntk(Xt, X)
    f0 = np.linspace(-0.1, 0.1, 9)
    lr = 0.5 * sp.max_stable_lr()
    steps = [0, 1, 10, 200]
    pred = sp.predict(Kt, y, steps, lr, u0=u0, f0_test=f0)
    u, f = u0.copy(), f0.copy()
    for k in range(201):
        if k in steps:
            assert np.allclose(pred[steps.index(k)], f, atol=1e-11)
        f = f + lr * Kt @ (y - u)
        u = u - lr * H @ (u - y)
    # the flow limit t -> infinity is kernel regression f = K_t H^{-1} y (from u0 = 0, f0 = 0)
    far = sp.predict(Kt, y, [1e6], 1.0, flow=True)[0]
    assert np.allclose(far, Kt @ np.linalg.solve(H, y), atol=1e-8)


def test_kernel_predictor_handles_zero_eigenvalues():
    """A rank-deficient Gram: directions with lambda = 0 accumulate eta*k times zero, no NaN."""
    rng = np.random.default_rng(4)
    A = rng.standard_normal((8, 3))
    H = A @ A.T
    sp = S.spectrum(H)
    y = rng.standard_normal(8)
    Kt = rng.standard_normal((2, 3)) @ A.T
    pred = sp.predict(Kt, y, [0, 5, 50], 0.01)
    u, f = np.zeros(8), np.zeros(2)
    for k in range(51):
        if k in (5, 50):
            assert np.allclose(pred[[0, 5, 50].index(k)], f, atol=1e-10)
        f = f + 0.01 * Kt @ (y - u)
        u = u - 0.01 * H @ (u - y)
    assert np.all(np.isfinite(pred))


def test_worst_case_labels_are_the_bottom_eigenvector(problem):
    _, H, y, _, sp = problem
    w = S.worst_case_labels(sp)
    assert w @ w == pytest.approx(60)
    assert np.allclose(H @ w, sp.lambda_min * w, atol=1e-12)
    lr = 0.5 * sp.max_stable_lr()
    k = np.array([0, 10, 100, 1000])
    worst = sp.loss_curve(w, k, lr)
    assert np.allclose(worst, 0.5 * 60 * (1 - lr * sp.lambda_min) ** (2 * k))
    # it decays slowest of all label vectors of the same norm
    for labels in (y, np.sign(np.random.default_rng(5).standard_normal(60))):
        assert np.all(sp.loss_curve(labels, k[1:], lr) <= worst[1:] + 1e-12)


def test_extreme_eigenvalue_estimates_bracket_and_approach_the_truth():
    X = sphere(1500, 4, 6)  # low d: well separated top, fast-converging estimates
    H = K.first_layer_ntk(X)
    w = sla.eigh(H, eigvals_only=True)
    fac = sla.cho_factor(H, lower=True)
    est = S.extreme_eigenvalues(H, factor=fac, maxiter=60)
    assert not est["exact"]
    assert est["lambda_max"] <= w[-1] * (1 + 1e-12)          # Ritz values never overshoot
    assert est["lambda_min"] >= w[0] * (1 - 1e-9)
    # some eigenvalue lies within the Ritz residual of each estimate
    assert np.min(np.abs(w - est["lambda_max"])) <= est["lambda_max_residual"] * (1 + 1e-6) + 1e-12
    assert np.min(np.abs(w - est["lambda_min"])) <= est["lambda_min_residual"] * (1 + 1e-6) + 1e-12
    assert est["lambda_max"] == pytest.approx(w[-1], rel=1e-6)
    assert est["lambda_min"] == pytest.approx(w[0], rel=0.05)
    # the default budget (4 block iterations) keeps the one-sidedness
    quick = S.extreme_eigenvalues(H, factor=fac)
    assert quick["lambda_max"] <= w[-1] * (1 + 1e-12) and quick["lambda_min"] >= w[0] * (1 - 1e-9)
    assert S.extreme_eigenvalues(H, exact=True)["lambda_min"] == pytest.approx(w[0], rel=1e-10)
    small = S.extreme_eigenvalues(H[:300, :300])
    assert small["exact"] and small["lambda_min"] == pytest.approx(sla.eigh(H[:300, :300], eigvals_only=True)[0])


def test_bad_inputs(problem):
    _, H, y, _, sp = problem
    with pytest.raises(InputError, match="square"):
        S.spectrum(np.ones((3, 4)))
    with pytest.raises(InputError, match="not symmetric"):
        S.spectrum(np.triu(np.ones((4, 4))))
    with pytest.raises(InputError, match="NaN"):
        S.spectrum(np.full((2, 2), np.nan))
    with pytest.raises(InputError, match="60 rows"):
        sp.project(np.ones(59))
    with pytest.raises(InputError, match="non-negative"):
        sp.loss_curve(y, [-1], 0.1)
    with pytest.raises(InputError, match="positive"):
        sp.loss_curve(y, [1], 0.0)
    with pytest.raises(InputError, match="'sum'"):
        sp.loss_curve(y, [1], 0.1, normalization="avg")
    with pytest.raises(InputError, match="vectors=True"):
        S.spectrum(H, vectors=False).project(y)

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


# ------------------------------------------------------------------------------ t = ∞, LinearPath
@pytest.mark.parametrize("flow", [False, True])
def test_infinite_time_is_kernel_regression_from_the_initial_residual(problem, flow):
    """k = ∞: residuals vanish (H positive definite) and test outputs are f0 + K_t H^{-1}(y − u0)."""
    X, H, y, u0, sp = problem
    Xt = sphere(7, 5, 8)
    Kt = K.first_layer_ntk(Xt, X)
    f0 = np.linspace(-0.2, 0.2, 7)
    lr = 0.9 * sp.max_stable_lr()
    assert np.allclose(sp.residuals(y, [np.inf], lr, u0=u0, flow=flow)[0], 0.0, atol=0)
    assert sp.loss_curve(y, [0, np.inf], lr, u0=u0, flow=flow)[1] == 0.0
    ref = f0 + Kt @ np.linalg.solve(H, y - u0)
    path = sp.test_predictor(Kt, y, lr, u0=u0, f0_test=f0, flow=flow)
    assert isinstance(path, S.LinearPath)
    out = path([0, 10, np.inf])
    assert np.allclose(out[0], f0, atol=1e-15) and np.allclose(out[2], ref, rtol=1e-9, atol=1e-10)
    # a long finite run approaches it
    assert np.allclose(path([1e9])[0], ref, rtol=1e-6, atol=1e-7)


def test_test_outputs_of_the_flow_equal_the_matrix_exponential(problem):
    """f(t) = f0 + K_t H^{-1} (I − e^{−ηtH}) (y − u0), evaluated with expm and a linear solve."""
    X, H, y, u0, sp = problem
    Xt = sphere(5, 5, 9)
    Kt = K.first_layer_ntk(Xt, X)
    lr = 0.3
    path = sp.test_predictor(Kt, y, lr, u0=u0, flow=True)
    for t in (0.5, 7.25, 60.0):
        ref = Kt @ np.linalg.solve(H, (np.eye(60) - sla.expm(-lr * t * H)) @ (y - u0))
        assert np.allclose(path([t])[0], ref, rtol=1e-9, atol=1e-11)
    # the same path evaluated as discrete GD on demand (flow=False) is the iterated recursion
    u, f = u0.copy(), np.zeros(5)
    for _ in range(25):
        f = f + lr * Kt @ (y - u)
        u = u - lr * H @ (u - y)
    assert np.allclose(path([25], flow=False)[0], f, atol=1e-11)


def test_infinite_time_with_a_null_space_keeps_that_part_and_refuses_unstable_modes():
    """Rank-deficient H (and a consistent K_t): at t = ∞ the null-space modes stay (factor 1),
    the test outputs are K_t H⁺ y (pseudo-inverse); an unstable GD step has no limit (NaN)."""
    rng = np.random.default_rng(4)
    A = rng.standard_normal((8, 3))
    H = A @ A.T
    sp = S.spectrum(H)
    y = rng.standard_normal(8)
    Kt = rng.standard_normal((2, 3)) @ A.T
    lr = 0.5 * sp.max_stable_lr()
    r_inf = sp.residuals(y, [np.inf], lr)[0]
    P = A @ np.linalg.pinv(A)                          # projector on range(H)
    assert np.allclose(r_inf, y - P @ y, atol=1e-12)
    pinv = np.linalg.pinv(H, hermitian=True)
    assert np.allclose(sp.predict(Kt, y, [np.inf], lr)[0], Kt @ pinv @ y, rtol=1e-9, atol=1e-10)
    assert np.all(np.isnan(sp.predict(Kt, y, [np.inf], 1.01 * sp.max_stable_lr())[0]))
    assert np.all(np.isnan(sp.residuals(y, [np.inf], 1.01 * sp.max_stable_lr())[0]))


@pytest.mark.parametrize("m", [40, 6])
@pytest.mark.parametrize("normalization", ["mean", "sum"])
def test_feature_gd_path_equals_gd_on_the_parameters(m, normalization):
    """The closed form equals explicitly iterated GD a ← a − lr c Φᵀ(Φa − y) on the test outputs;
    k = ∞ is a0 + Φ⁺(y − Φa0) (numpy lstsq: minimum norm for m ≥ n, least squares for m < n);
    the flow at time t is a0 + Φ⁺ (I − e^{−η t ΦΦᵀ}) (y − Φa0)."""
    rng = np.random.default_rng(11)
    n = 12
    Phi, Phit = rng.standard_normal((n, m)), rng.standard_normal((5, m))
    a0, y = 0.1 * rng.standard_normal(m), rng.standard_normal(n)
    c = 1.0 / n if normalization == "mean" else 1.0
    lam_max = np.linalg.eigvalsh(Phi @ Phi.T)[-1]
    lr = 0.8 * 2 / (c * lam_max)
    path = S.feature_gd_path(Phi, Phit, a0, y, lr, normalization=normalization)
    assert path.eigenvalues.size == min(n, m)
    assert path.eta * path.eigenvalues[0] == pytest.approx(1.6, rel=1e-12)
    steps = [0, 1, 7, 150]
    out = path(steps)
    a = a0.copy()
    for k in range(151):
        if k in steps:
            assert np.allclose(out[steps.index(k)], Phit @ a, rtol=1e-10, atol=1e-12)
        a = a - lr * c * Phi.T @ (Phi @ a - y)
    delta = np.linalg.lstsq(Phi, y - Phi @ a0, rcond=None)[0]
    assert np.allclose(path([np.inf])[0], Phit @ (a0 + delta), rtol=1e-9, atol=1e-10)
    t = 3.0
    r = (np.eye(n) - sla.expm(-lr * c * t * Phi @ Phi.T)) @ (y - Phi @ a0)
    assert np.allclose(path([t], flow=True)[0], Phit @ (a0 + np.linalg.pinv(Phi) @ r), rtol=1e-9, atol=1e-10)


def test_feature_gd_path_drops_numerically_zero_singular_values():
    rng = np.random.default_rng(2)
    B = rng.standard_normal((10, 3))
    Phi = np.hstack([B, B @ rng.standard_normal((3, 5))])          # rank 3, 8 columns
    Phit = rng.standard_normal((4, 3)) @ np.linalg.pinv(B) @ Phi   # test features in the same row space
    path = S.feature_gd_path(Phi, Phit, np.zeros(8), rng.standard_normal(10), 0.01)
    assert path.eigenvalues.size == 3


# ------------------------------------------------------------------------------ λ_max and the stable step
def test_top_eigenvalue_and_the_largest_stable_step_against_eigvalsh(problem):
    from twolayer.dynamics import gd_stable_step

    _, H, y, _, sp = problem
    lam = np.linalg.eigvalsh(H)[-1]
    assert S.top_eigenvalue(H) == pytest.approx(lam, rel=1e-13)
    assert sp.max_stable_lr() == pytest.approx(2 / lam, rel=1e-13) == gd_stable_step(sp.lambda_max)
    assert sp.max_stable_lr("mean") == pytest.approx(2 * 60 / lam, rel=1e-13)
    # the bound is sharp: just below it GD contracts, just above it the top mode grows
    for frac, grows in ((0.99, False), (1.01, True)):
        r = y.copy()
        for _ in range(2000):
            r = r - frac * (2 / lam) * H @ r
        assert bool(np.linalg.norm(r) > np.linalg.norm(y)) is grows


# ------------------------------------------------------------------------------ noisy GD, linearized
def _noisy_recursion_mc(mu, proj, *, alpha, lr, weight_decay, m, steps, paths, seed):
    """Monte Carlo of the linear recursion of noisy_gd_linear_theory: ĉ ← (1 − ηa)ĉ + β(p − F),
    F ← F + sqrt(s) ξ; returns the mean and standard error of the loss and of D at every step."""
    rng = np.random.default_rng(seed)
    n = mu.size
    a = alpha**2 * mu / n + weight_decay
    q, beta = 1 - lr * a, lr * alpha / n
    sd = np.sqrt(2 * lr * weight_decay * alpha**2 * mu / m)
    c, F = np.zeros((paths, n)), np.zeros((paths, n))
    loss, dist = np.empty((steps + 1, 2)), np.empty((steps + 1, 2))
    for k in range(steps + 1):
        L = 0.5 * np.sum((F + alpha * mu * c - proj) ** 2, axis=1) / n
        D = (c * c) @ mu
        loss[k] = L.mean(), L.std() / np.sqrt(paths)
        dist[k] = D.mean(), D.std() / np.sqrt(paths)
        c = q * c + beta * (proj - F)
        F = F + sd * rng.standard_normal((paths, n))
    return loss, dist


def test_noisy_gd_linear_theory_equals_a_monte_carlo_of_its_recursion():
    mu, proj = np.array([2.0, 0.5, 0.1]), np.array([1.0, -0.4, 0.3])
    n, alpha, lam, m = 3, 4.0, 0.02, 20
    lr = 0.5 * 2 * n / (alpha**2 * mu[0])
    th = S.noisy_gd_linear_theory(mu, proj, alpha=alpha, lr=lr, weight_decay=lam, steps=300, m=m)
    loss, dist = _noisy_recursion_mc(mu, proj, alpha=alpha, lr=lr, weight_decay=lam, m=m, steps=300, paths=20_000,
                                     seed=1)
    for k in (0, 5, 40, 300):
        assert abs(th["loss"][k] - loss[k, 0]) <= 5 * loss[k, 1] + 1e-15
        assert abs(th["dist"][k] - dist[k, 0]) <= 5 * dist[k, 1] + 1e-15
    # the noise is visible (so the check above can fail): it adds many standard errors to the bias
    assert th["loss"][300] - th["bias"][300] > 20 * loss[300, 1]
    # without m the noise is left out
    quiet = S.noisy_gd_linear_theory(mu, proj, alpha=alpha, lr=lr, weight_decay=lam, steps=300)
    assert np.array_equal(quiet["loss"], quiet["bias"]) and quiet["floor"] == 0.0
    # the order of the modes does not matter (element-wise; sums in the given order)
    rev = S.noisy_gd_linear_theory(mu[::-1], proj[::-1], alpha=alpha, lr=lr, weight_decay=lam, steps=300, m=m)
    assert np.allclose(rev["loss"], th["loss"], rtol=1e-13) and rev["floor"] == pytest.approx(th["floor"], rel=1e-14)


def test_noise_floor_is_the_stationary_noise_loss_of_the_recursion():
    """λ ≪ α²μ/n: the noise part of the stationary loss is (λ/m) Σ 1/(2 − ηα²μ/n) (Monte Carlo)."""
    mu, proj = np.array([2.0, 0.5, 0.1]), np.array([1.0, -0.4, 0.3])
    n, alpha, lam, m = 3, 4.0, 1e-3, 20
    lr = 0.5 * 2 * n / (alpha**2 * mu[0])
    steps = 1200                                       # ≈ 30 e-folds of the slowest mode's variance
    th = S.noisy_gd_linear_theory(mu, proj, alpha=alpha, lr=lr, weight_decay=lam, steps=steps, m=m)
    loss, _ = _noisy_recursion_mc(mu, proj, alpha=alpha, lr=lr, weight_decay=lam, m=m, steps=steps, paths=20_000,
                                  seed=2)
    noise_mc = loss[-1, 0] - th["bias"][-1]
    assert noise_mc == pytest.approx(th["floor"], rel=5 * loss[-1, 1] / th["floor"] + 0.01)
    assert th["loss"][-1] - th["bias"][-1] == pytest.approx(th["floor"], rel=0.01)
    assert th["floor"] == pytest.approx(n * lam / (2 * m), rel=1.0)
    # the noise-free stationary values are the ridge solution c_i = α p_i / (n (α²μ_i/n + λ))
    c_inf = alpha * proj / (n * (alpha**2 * mu / n + lam))
    assert th["loss_inf"] == pytest.approx(0.5 * np.sum((alpha * mu * c_inf - proj) ** 2) / n, rel=1e-12)
    assert th["bias"][-1] == pytest.approx(th["loss_inf"], rel=1e-6)
    assert th["rate_min"] == pytest.approx(alpha**2 * 0.1 / n + lam) and th["rate_max"] == pytest.approx(
        alpha**2 * 2.0 / n + lam)


@pytest.mark.parametrize("normalization", ["sum", "mean"])
def test_movement_equals_the_distance_travelled_by_gd_on_a_linear_model(normalization):
    """θ ← θ − η c Jᵀ(Jθ − y) with H = JJᵀ: ‖θ(k) − θ(0)‖ is Spectrum.movement; at k = ∞ it is
    sqrt(rᵀH⁺r) (the minimum-norm solution's distance), also for a rank-deficient H."""
    rng = np.random.default_rng(7)
    for n, p in ((10, 25), (10, 4)):
        J = rng.standard_normal((n, p))
        th0, y = 0.3 * rng.standard_normal(p), rng.standard_normal(n)
        sp = S.spectrum(J @ J.T)
        c = 1.0 / n if normalization == "mean" else 1.0
        lr = 0.7 * sp.max_stable_lr(normalization)
        steps = [0, 1, 9, 300]
        mv = sp.movement(y, steps, lr, u0=J @ th0, normalization=normalization)
        th = th0.copy()
        for k in range(301):
            if k in steps:
                assert mv[steps.index(k)] == pytest.approx(np.linalg.norm(th - th0), rel=1e-9, abs=1e-12)
            th = th - lr * c * J.T @ (J @ th - y)
        r = y - J @ th0
        inf = sp.movement(y, [np.inf], lr, u0=J @ th0, normalization=normalization)[0]
        assert inf == pytest.approx(np.sqrt(r @ np.linalg.pinv(J @ J.T, hermitian=True) @ r), rel=1e-8)

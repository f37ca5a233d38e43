"""The kernels package: the arc-cosine table, the Hermite (Mehler) kernels, the finite-width Gram.

Checks the table row by row (exact diagonals, scalar form = blocked builder, aliases), that a
member defined here as one row works through ``gram`` (the arc-cosine kernel of degree 2 of Cho &
Saul, checked against Monte Carlo), the mathematics of the Hermite functions moved into
:mod:`twolayer.kernels.hermite` (Parseval, Mehler's formula by independent quadrature, the ReLU
series = the closed-form arc-cosine kernels, the reproducing kernels ``K_k``), and that
:func:`twolayer.dynamics.empirical_reference` is :func:`twolayer.kernels.empirical_gram`.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from twolayer import InputError
from twolayer import kernels as K
from twolayer.kernels import hermite as H
from twolayer.kernels.arccos import ArccosMember

ROWS = list(K.KERNELS.values())


def _unit(A):
    return A / np.linalg.norm(A, axis=1, keepdims=True)


def _data(seed=0, n=60, d=6):
    """Unit rows, with an exact duplicate, a near-duplicate and an antipodal pair."""
    X = _unit(np.random.default_rng(seed).standard_normal((n, d)))
    X[1] = X[0]
    X[2] = _unit((X[3] + 1e-9 * X[4])[None])[0]
    X[5] = -X[6]
    return X


# ============================================================================ the table
@pytest.mark.parametrize("row", ROWS, ids=[r.name for r in ROWS])
def test_every_row_has_its_declared_exact_diagonal_on_unit_inputs(row):
    X = _data()
    G = K.gram(X, kind=row.name, block_size=7, n_jobs=2)
    assert np.all(np.diag(G) == row.diagonal)
    assert np.array_equal(G, G.T)
    # the formula itself gives the declared diagonal at θ = 0, up to rounding
    assert float(row.value(np.float64(1.0), np.pi, 0.0)) == pytest.approx(row.diagonal, rel=1e-15)
    assert float(row(1.0)) == pytest.approx(row.diagonal, rel=1e-15)
    assert row.description and row.name in K.KERNELS and row.degree >= 0


@pytest.mark.parametrize("row", ROWS, ids=[r.name for r in ROWS])
def test_every_row_scalar_form_matches_the_blocked_builder(row):
    rng = np.random.default_rng(1)
    X, Z = _unit(rng.standard_normal((40, 5))), _unit(rng.standard_normal((23, 5)))
    C = X @ Z.T
    assert np.max(np.abs(C)) < 0.999  # away from the near-parallel correction
    np.testing.assert_allclose(K.arccos_kernel(X, Z, kind=row.name, block_size=6), row(C), rtol=0, atol=1e-14)
    # off the unit sphere the value scales as (‖x‖‖z‖)^degree
    sx, sz = rng.uniform(0.5, 3.0, 40), rng.uniform(0.5, 3.0, 23)
    got = K.arccos_kernel(X * sx[:, None], Z * sz[:, None], kind=row.name)
    np.testing.assert_allclose(got, np.outer(sx, sz) ** row.degree * row(C), rtol=1e-13, atol=1e-15)
    # near-parallel and antipodal pairs: the explicit-angle correction evaluates the same formula
    Xd = _data()
    Gd = K.gram(Xd, kind=row.name)
    np.testing.assert_allclose(Gd, row(Xd @ Xd.T), rtol=0, atol=1e-7)
    assert Gd[0, 1] == row.diagonal and Gd[5, 6] == pytest.approx(float(row.value(-1.0, 0.0, 0.0)), abs=1e-15)


def test_the_named_scalar_forms_are_the_table_rows():
    c = np.linspace(-1.0, 1.0, 201)
    for name, f in [("kappa0", K.kappa0_cos), ("first-layer", K.first_layer_ntk_cos),
                    ("random-features", K.random_features_cos), ("two-layer", K.two_layer_ntk_cos)]:
        assert np.array_equal(f(c), K.KERNELS[name](c)), name


@pytest.mark.parametrize("row", [r for r in ROWS if r.aliases], ids=[r.name for r in ROWS if r.aliases])
def test_aliases_select_their_row(row):
    X = _data(2, n=12)
    for alias in row.aliases:
        assert alias not in K.KERNELS
        assert np.array_equal(K.gram(X, kind=alias), K.gram(X, kind=row.name))


def test_unknown_kind_lists_the_table():
    with pytest.raises(InputError, match="unknown kernel kind 'rbf'; choose one of kappa0, first-layer, "
                                         "random-features, two-layer"):
        K.gram(np.eye(2), kind="rbf")


def test_cli_and_estimators_take_their_kinds_from_the_table():
    from twolayer import cli, estimators

    network = tuple(name for name, row in K.KERNELS.items() if row.network)
    assert network == K.network_kernel_kinds() == ("first-layer", "random-features", "two-layer")
    assert cli.KERNEL_KINDS == (*network, "deep-ntk", "deep-nngp")   # the table's network kinds, then the deep ones
    assert estimators.KERNEL_CHOICES == (*network, "precomputed")


# --------------------------------------------------------------------------- a new member, one row
def _arccos2(c, pmt, s):
    """Cho & Saul's J_2(θ)/(2π): E[relu(wᵀx)² relu(wᵀz)²] on unit x, z (k_2 = 2 E[...] = J_2/π)."""
    return (3.0 * s * c + pmt * (1.0 + 2.0 * c * c)) / (2.0 * np.pi)


ARCCOS2 = ArccosMember("arccos2", _arccos2, 1.5,
                       "arc-cosine kernel of degree 2 (Cho & Saul 2009): E[relu(w.x)^2 relu(w.z)^2]",
                       aliases=("kappa2",), degree=2)


def test_a_new_member_is_one_row_usable_through_gram(monkeypatch):
    rng = np.random.default_rng(3)
    d = 4
    X = rng.standard_normal((6, d)) * rng.uniform(0.5, 2.0, (6, 1))
    monkeypatch.setitem(K.KERNELS, ARCCOS2.name, ARCCOS2)

    G = K.gram(X, kind="arccos2", block_size=2, n_jobs=2)
    norms = np.linalg.norm(X, axis=1)
    assert np.array_equal(G, G.T)
    np.testing.assert_allclose(np.diag(G), 1.5 * norms**4, rtol=1e-15)
    assert np.array_equal(K.gram(X, kind="kappa2", block_size=2, n_jobs=2), G)
    np.testing.assert_allclose(K.arccos_kernel(X, X[:3], kind="arccos2"), G[:, :3], rtol=1e-13)
    # E[relu(wᵀx)² relu(wᵀz)²], w ~ N(0, I_d), by Monte Carlo with 200k draws
    F = np.maximum(rng.standard_normal((200_000, d)) @ X.T, 0.0) ** 2
    for i, j in [(0, 1), (2, 3), (4, 5), (0, 0)]:
        prod = F[:, i] * F[:, j]
        se = prod.std(ddof=1) / math.sqrt(prod.size)
        assert abs(prod.mean() - G[i, j]) < 5 * se, (i, j, prod.mean(), G[i, j], se)

    monkeypatch.undo()
    assert "arccos2" not in K.KERNELS
    with pytest.raises(InputError, match="unknown kernel kind 'arccos2'"):
        K.gram(X, kind="arccos2")


# ============================================================================ Hermite, Mehler
def _gauss_expectation(f):
    """E[f(z)], z ~ N(0, 1), by adaptive quadrature (independent of the Gauss–Hermite rule used)."""
    from scipy.integrate import quad

    return quad(lambda z: f(z) * math.exp(-z * z / 2) / math.sqrt(2 * math.pi), -40.0, 40.0,
                points=[0.0], epsabs=1e-14, epsrel=1e-13, limit=400)[0]


#: The activations written with :mod:`math`, independently of :data:`twolayer.networks.ACTIVATIONS`.
SMOOTH_MATH = {"tanh": math.tanh, "sigmoid": lambda z: 1.0 / (1.0 + math.exp(-z))}


@pytest.mark.parametrize("activation", ["tanh", "sigmoid"])
def test_hermite_coefficients_obey_parseval_and_are_the_projections(activation):
    from scipy.special import eval_hermitenorm

    h = SMOOTH_MATH[activation]
    c = H.hermite_coefficients(activation)
    assert float(np.sum(c**2)) == pytest.approx(_gauss_expectation(lambda z: h(z) ** 2), abs=1e-11)
    for k in range(9):
        ck = _gauss_expectation(lambda z, k=k: h(z) * eval_hermitenorm(k, z) / math.sqrt(math.factorial(k)))
        assert c[k] == pytest.approx(ck, abs=1e-11), k


@pytest.mark.parametrize("activation", ["tanh", "sigmoid"])
def test_generalized_ntk_is_mehlers_expectation(activation):
    """H(x, z) = E[h(a)h(b)] + ρ E[h'(a)h'(b)], (a, b) standard Gaussian with correlation ρ = xᵀz,
    by a 2-D tensor Gauss–Hermite rule (not the Hermite series)."""
    from numpy.polynomial.hermite_e import hermegauss

    from twolayer.networks import ACTIVATIONS

    act = ACTIVATIONS[activation]
    X = _unit(np.random.default_rng(4).standard_normal((5, 3)))
    G = H.generalized_ntk(X, activation=activation)
    z, w = hermegauss(120)
    w = w / math.sqrt(2 * math.pi)
    a = z[:, None]
    W2 = w[:, None] * w[None, :]
    for i in range(5):
        for j in range(5):
            rho = float(np.clip(X[i] @ X[j], -1, 1))
            b = rho * z[:, None] + math.sqrt(max(0.0, 1 - rho * rho)) * z[None, :]
            expect = np.sum(W2 * (act.value(a) * act.value(b) + rho * act.deriv(a) * act.deriv(b)))
            assert G[i, j] == pytest.approx(expect, abs=1e-10), (i, j)
    assert np.array_equal(G, G.T)


def test_relu_hermite_series_are_the_closed_form_arccos_kernels():
    """Mehler with the ReLU coefficients: Σ c_k² ρ^k = κ_1, Σ k c_k² ρ^k = H^∞ (ρ κ_0), so the
    generalized NTK of relu is the two-layer NTK of the table."""
    c = np.array([H.relu_hermite_coefficient(k) for k in range(600)])
    rho = np.linspace(-0.9, 0.9, 37)
    k = np.arange(c.size)
    poly = np.polynomial.polynomial.polyval
    np.testing.assert_allclose(poly(rho, c**2), K.random_features_cos(rho), rtol=0, atol=1e-13)
    np.testing.assert_allclose(poly(rho, k * c**2), K.first_layer_ntk_cos(rho), rtol=0, atol=1e-13)
    np.testing.assert_allclose(H.generalized_ntk_cos(rho, c), K.two_layer_ntk_cos(rho), rtol=0, atol=1e-13)
    # Parseval: E[relu(z)²] = 1/2, E[|z|²] = 1
    assert float(np.sum(c**2)) == pytest.approx(0.5, abs=2e-3)
    assert sum(H.abs_hermite_coefficient_sq(j) for j in range(0, 20001, 2)) == pytest.approx(1.0, abs=1e-4)
    assert H.abs_hermite_tail(2) == pytest.approx(1 - 3 / math.pi, abs=1e-15)


def test_relu_and_abs_coefficients_are_the_projections():
    from scipy.special import eval_hermitenorm

    for k in range(9):
        psi = lambda z, k=k: eval_hermitenorm(k, z) / math.sqrt(math.factorial(k))  # noqa: E731
        assert H.relu_hermite_coefficient(k) == pytest.approx(_gauss_expectation(lambda z, psi=psi: max(z, 0.0) * psi(z)),
                                                             abs=1e-11), k
        assert H.abs_hermite_coefficient(k) == pytest.approx(_gauss_expectation(lambda z, psi=psi: abs(z) * psi(z)),
                                                            abs=1e-11), k
        assert H.abs_hermite_coefficient(k) ** 2 == pytest.approx(H.abs_hermite_coefficient_sq(k), rel=1e-14, abs=1e-300)


def test_hermite_reproducing_kernels():
    from scipy.special import eval_hermitenorm

    rng = np.random.default_rng(5)
    x, xp = rng.standard_normal(7), rng.standard_normal(7)
    for k in range(5):
        # d = 1: one multi-index, K_k(x, x') = He_k(x) He_k(x') / k!
        got = H.hermite_kernel(k, x * xp, x * x, xp * xp, 1)
        np.testing.assert_allclose(got, eval_hermitenorm(k, x) * eval_hermitenorm(k, xp) / math.factorial(k),
                                   rtol=1e-12, atol=1e-12)
    for d in (1, 3, 8):
        for k in range(5):
            # K_k(x, x) is a polynomial of degree k in r = ‖x‖²; E K_k(x, x) = dim of the degree-k space
            r = np.arange(k + 1, dtype=float) + 0.5
            coef = np.polynomial.polynomial.polyfit(r, H.hermite_kernel(k, r, r, r, d), k)
            moments = [math.prod(d + 2 * i for i in range(j)) for j in range(k + 1)]  # E r^j, r ~ χ²_d
            assert float(coef @ moments) == pytest.approx(math.comb(d + k - 1, k), rel=1e-9), (d, k)
    # the sum kernel is the sum of the K_k
    X, Z = rng.standard_normal((4, 3)), rng.standard_normal((5, 3))
    S, A, B = X @ Z.T, np.sum(X**2, 1)[:, None], np.sum(Z**2, 1)[None, :]
    np.testing.assert_allclose(H.hermite_sum_kernel(X, Z, 4), sum(H.hermite_kernel(k, S, A, B, 3) for k in range(5)),
                               rtol=1e-14, atol=1e-13)


def test_the_experiments_use_the_moved_functions():
    from twolayer.experiments import chen2020 as C
    from twolayer.experiments.chen2020 import _core
    from twolayer.experiments.lmz2020 import hermite as L

    assert C.generalized_ntk is _core.generalized_ntk is H.generalized_ntk
    assert C.hermite_coefficients is H.hermite_coefficients and C.SMOOTH is H.SMOOTH
    for name in ("abs_hermite_coefficient_sq", "abs_hermite_coefficient", "relu_hermite_coefficient",
                 "abs_hermite_tail", "hermite_kernel", "hermite_sum_kernel"):
        assert getattr(L, name) is getattr(H, name), name


# ============================================================================ finite width
@pytest.mark.parametrize("param, activation", [("arora", None), ("both", None), ("rf", None), ("ema-wu", None),
                                               ("mean-field", "tanh"), ("both", "sigmoid")])
def test_empirical_reference_is_empirical_gram(param, activation):
    from twolayer import dynamics as D
    from twolayer.networks import ACTIVATIONS, get_parameterization, init_network

    kw = {} if activation is None else {"activation": activation}
    net = init_network(param, 5, 37, seed=6, batch=2, **kw)
    p = get_parameterization(param)
    layers = {frozenset({"W"}): "first", frozenset({"a"}): "second", frozenset({"W", "a"}): "both"}[p.trains]
    scale = net.scale**2 * p.grad_multiplier(net.width)
    rng = np.random.default_rng(7)
    X, Z = rng.standard_normal((9, 5)), rng.standard_normal((4, 5))
    for b in range(2):
        W, a = net.W[b], net.a[b]
        for Zb in (None, Z):
            ref = D.empirical_reference(net, X, Zb, b=b)
            g = K.empirical_gram(X, W, a, layers=layers, Z=Zb, scale=scale, activation=net.activation)
            np.testing.assert_allclose(ref, g, rtol=0, atol=1e-13)
            # and the formula written out unit by unit
            act = ACTIVATIONS[net.activation]
            Zz = X if Zb is None else Zb
            PX, PZ = X @ W.T, Zz @ W.T
            want = np.zeros_like(ref)
            if "W" in p.trains:
                want += np.einsum("ir,jr,r->ij", act.deriv(PX), act.deriv(PZ), a**2) * (X @ Zz.T)
            if "a" in p.trains:
                want += np.einsum("ir,jr->ij", act.value(PX), act.value(PZ))
            np.testing.assert_allclose(ref, scale * want, rtol=1e-12, atol=1e-13)
            if net.activation == "relu":  # the default indicator 1{· ≥ 0} differs only at exact zeros
                np.testing.assert_allclose(K.empirical_gram(X, W, a, layers=layers, Z=Zb, scale=scale), g,
                                           rtol=0, atol=1e-13)


def test_empirical_gram_refuses_an_unknown_activation():
    with pytest.raises(InputError, match="unknown activation 'swish'"):
        K.empirical_gram(np.eye(2), np.eye(2), activation="swish")

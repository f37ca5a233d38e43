"""Synthetic inputs, the Section 6 targets and their series terms, and the Li-Ma-Zhang teacher."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from twolayer._errors import InputError
from twolayer.data import (PolynomialTarget, arctan_target, cos_target, gaussian, linear_target, load,
                           make_target, polynomial_target, power_target, quadratic_target,
                           random_orthogonal, sphere, teacher_network)


def cor62_sum(target) -> float:
    """sum_j p_j |alpha_j| ||beta_j||^p_j (the right-hand side of Cor. 6.2 without the 3)."""
    return math.fsum(t.p * abs(t.alpha) * np.linalg.norm(t.beta) ** t.p for t in target.terms)


def h_infinity(X):
    """Arora et al. eq. (3) on unit-norm rows: x.z (pi - arccos(x.z)) / (2 pi)."""
    G = np.clip(X @ X.T, -1.0, 1.0)
    return G * (np.pi - np.arccos(G)) / (2 * np.pi)


# ----------------------------------------------------------------------------- inputs
def test_sphere_and_gaussian_moments():
    X = sphere(20_000, 5, 0)
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0, atol=1e-14)
    # E x = 0 and E x x^T = I/d on the sphere (Monte Carlo, sd ~ 0.003)
    assert np.abs(X.mean(axis=0)).max() < 0.02
    np.testing.assert_allclose(X.T @ X / X.shape[0], np.eye(5) / 5, atol=0.01)
    G = gaussian(20_000, 3, 1)
    assert np.abs(G.mean(axis=0)).max() < 0.03
    np.testing.assert_allclose(np.cov(G.T), np.eye(3), atol=0.04)
    np.testing.assert_array_equal(sphere(7, 3, 4), sphere(7, 3, np.random.default_rng(4)))
    assert not np.array_equal(sphere(7, 3, 4), sphere(7, 3, 5))
    with pytest.raises(InputError):
        sphere(0, 3, 0)
    with pytest.raises(InputError, match="explicit seed"):
        gaussian(3, 3, None)


# ----------------------------------------------------------------------------- targets
X_UNIT = sphere(500, 6, 123)


def test_linear_and_power_terms():
    b = np.array([0.5, -1.0, 0.0, 2.0, 0.0, 0.1])
    t = linear_target(b, alpha=-1.5)
    assert len(t.terms) == 1 and t.terms[0].p == 1 and t.terms[0].alpha == -1.5
    np.testing.assert_allclose(t(X_UNIT), -1.5 * X_UNIT @ b, atol=1e-14)
    for p in (1, 2, 4, 6):
        t = power_target(p, b, alpha=0.7)
        np.testing.assert_allclose(t(X_UNIT), 0.7 * (X_UNIT @ b) ** p, rtol=1e-13, atol=1e-14)
        assert t.cor62_applicable
    with pytest.raises(InputError, match="1 or an even integer"):
        power_target(3, b)
    r = linear_target(d=6, beta_norm=1.3, seed=2)
    assert np.isclose(np.linalg.norm(r.terms[0].beta), 1.3)
    np.testing.assert_array_equal(r.terms[0].beta, linear_target(d=6, beta_norm=1.3, seed=2).terms[0].beta)


def test_quadratic_eigen_terms():
    rng = np.random.default_rng(0)
    A = rng.normal(size=(6, 6))
    A = A + A.T
    t = quadratic_target(A)
    recon = sum(a * np.outer(b, b) for a, b, p in t.terms)
    np.testing.assert_allclose(recon, A, atol=1e-12)
    assert all(p == 2 for _, _, p in t.terms)
    np.testing.assert_allclose([np.linalg.norm(b) for _, b, _ in t.terms], 1.0, atol=1e-12)
    closed = np.einsum("ij,jk,ik->i", X_UNIT, A, X_UNIT)
    np.testing.assert_allclose(t(X_UNIT), closed, atol=1e-12)
    np.testing.assert_allclose(t.series(X_UNIT), closed, atol=1e-12)
    # Cor 6.2 sum = 2 * nuclear norm
    assert np.isclose(cor62_sum(t), 2 * np.abs(np.linalg.eigvalsh(A)).sum(), rtol=1e-12)
    # a rank-1 matrix gives one term
    v = np.arange(1.0, 7.0)
    assert len(quadratic_target(np.outer(v, v)).terms) == 1
    with pytest.raises(InputError, match="symmetric"):
        quadratic_target(np.triu(A))
    rnd = quadratic_target(d=6, seed=1)
    assert np.isclose(max(abs(a) for a, _, _ in rnd.terms), 1.0)


@pytest.mark.parametrize("norm", [0.3, 1.0, 1.3, 3.0])
def test_cos_series_matches_closed_form(norm):
    t = cos_target(d=6, beta_norm=norm, seed=4)
    b = t.terms[0].beta
    z = X_UNIT @ b
    np.testing.assert_allclose(t(X_UNIT), np.cos(z) - 1.0, atol=1e-15)
    diff = np.max(np.abs(t.series(X_UNIT) - (np.cos(z) - 1)))
    assert diff < 1e-12
    # terms are (-1)^j / (2j)!, p = 2j, j = 1..J
    for j, (a, beta, p) in enumerate(t.terms, start=1):
        assert p == 2 * j and a == (-1) ** j / math.factorial(2 * j)
        assert beta is b or np.array_equal(beta, b)
    # sum_j 2j |alpha_j| r^{2j} = r sinh r (paper, Example 6.3)
    assert np.isclose(cor62_sum(t), norm * math.sinh(norm), rtol=1e-14)
    # the reported truncation error bounds the actual error on the sphere (and is tiny)
    assert t.truncation_error < 1e-16 and not t.exact


@pytest.mark.parametrize("norm", [0.5, 1.0, 1.5, 1.9])
def test_arctan_series_matches_closed_form(norm):
    t = arctan_target(d=6, beta_norm=norm, seed=5)
    z = X_UNIT @ t.terms[0].beta
    closed = z * np.arctan(z / 2)
    np.testing.assert_allclose(t(X_UNIT), closed, atol=1e-15)
    assert np.max(np.abs(t.series(X_UNIT) - closed)) < 1e-12
    for k, (a, _, p) in enumerate(t.terms):
        assert p == 2 * k + 2
        assert np.isclose(a, (-1) ** k / ((2 * k + 1) * 2 ** (2 * k + 1)), rtol=1e-15)
    # sum_k p_k |alpha_k| r^{p_k} = r d/dr [r artanh(r/2)] (closed form of the bound)
    r = norm
    assert np.isclose(cor62_sum(t), r * (math.atanh(r / 2) + r / (2 * (1 - r * r / 4))), rtol=1e-12)
    assert t.cor62_applicable
    # the series at |z| = r on a point where z = r exactly
    x = (t.terms[0].beta / r)[None, :]
    assert abs(t.series(x)[0] - r * math.atan(r / 2)) < 1e-12


def test_arctan_refuses_divergent_series():
    with pytest.raises(InputError, match="diverges"):
        arctan_target(d=3, beta_norm=2.0)


def test_sums_of_targets():
    lin = linear_target(d=6, seed=1, alpha=2.0)
    c = cos_target(d=6, seed=2)
    s = lin + c
    assert len(s.terms) == len(lin.terms) + len(c.terms)
    for got, want in zip(s.terms, lin.terms + c.terms):
        assert got.alpha == want.alpha and got.p == want.p and np.array_equal(got.beta, want.beta)
    np.testing.assert_allclose(s(X_UNIT), lin(X_UNIT) + c(X_UNIT), atol=1e-15)
    assert np.isclose(cor62_sum(s), cor62_sum(lin) + cor62_sum(c))
    m = make_target("linear+quadratic+cos", d=6, seed=3)
    assert m.name == "linear+quadratic+cos"
    m2 = make_target("linear+quadratic+cos", d=6, seed=3)
    np.testing.assert_array_equal(m(X_UNIT), m2(X_UNIT))
    np.testing.assert_allclose(m.series(X_UNIT), m(X_UNIT), atol=1e-12)
    # make_target("linear", seed) is linear_target(seed)
    np.testing.assert_array_equal(make_target("linear", d=6, seed=9).terms[0].beta,
                                  linear_target(d=6, seed=9).terms[0].beta)
    with pytest.raises(InputError, match="unknown target 'sine'"):
        make_target("sine", d=3)
    with pytest.raises(InputError, match="does not accept the option"):
        make_target("quadratic", d=3, beta_norm=2.0)
    poly = polynomial_target(d=6, degrees=(1, 2, 4), alphas=(1.0, -0.5, 0.25), seed=1)
    np.testing.assert_allclose(poly(X_UNIT), sum(a * (X_UNIT @ b) ** p for a, b, p in poly.terms))
    custom = PolynomialTarget([(1.0, np.ones(6), 3)])
    assert not custom.cor62_applicable
    json.dumps(m.describe(), allow_nan=False)


def test_theorem_6_1_holds_for_every_target():
    """sqrt(y^T H^-1 y) <= 3 sum_j p_j |alpha_j| ||beta_j||^p_j on sphere data (Cor. 6.2)."""
    X = sphere(150, 8, 7)
    H = h_infinity(X)
    targets = [linear_target(d=8, beta_norm=1.3, seed=1), power_target(2, d=8, beta_norm=1.3, seed=2),
               power_target(4, d=8, beta_norm=1.3, seed=3), quadratic_target(d=8, seed=4),
               cos_target(d=8, beta_norm=2.0, seed=5), arctan_target(d=8, beta_norm=1.0, seed=6),
               make_target("linear+quadratic", d=8, seed=7)]
    for t in targets:
        y = t(X)
        lhs = math.sqrt(y @ np.linalg.solve(H, y))
        assert 0 < lhs <= 3 * cor62_sum(t) + 1e-9, t.name
    # the sharper p = 1 bound 2|alpha| ||beta||
    t = targets[0]
    y = t(X)
    assert math.sqrt(y @ np.linalg.solve(H, y)) <= 2 * 1.3 + 1e-9


def test_synthetic_load():
    ds = load("sphere", n=40, d=5, target="cos", beta_norm=1.2, seed=3, n_test=15)
    assert (ds.n, ds.d, ds.n_test) == (40, 5, 15) and ds.name == "sphere(d=5)"
    np.testing.assert_allclose(ds.y, ds.target(ds.X))
    np.testing.assert_allclose(ds.y_test, ds.target(ds.X_test))
    np.testing.assert_allclose(np.linalg.norm(ds.X_test, axis=1), 1.0, atol=1e-14)
    prov = ds.provenance
    json.dumps(prov, allow_nan=False)
    assert prov["options"]["target"] == "cos" and prov["target"]["n_terms"] == len(ds.target.terms)
    again = load("sphere", n=40, d=5, target="cos", beta_norm=1.2, seed=3, n_test=15)
    np.testing.assert_array_equal(ds.X, again.X)
    # the training draw does not depend on n_test
    np.testing.assert_array_equal(ds.X, load("sphere", n=40, d=5, target="cos", beta_norm=1.2, seed=3).X)
    g = load("gaussian", n_train=30, d=4, normalize=False, target="quadratic")
    assert not np.allclose(np.linalg.norm(g.X, axis=1), 1.0)
    assert g.provenance["options"]["normalize"] is False
    p = load("poly", d=4, degrees=(2, 4))
    assert p.name == "poly(d=4)" and [t.p for t in p.target.terms] == [2, 4]
    r = load("sphere", n=2000, d=3, target="random", label_noise=0.2, seed=1)
    assert set(np.unique(r.y)) == {-1.0, 1.0} and abs(r.y.mean()) < 0.1
    assert r.provenance["label_noise_applied"]["train"]["n_redrawn"] == 400
    with pytest.raises(InputError, match="±1 labels"):
        load("sphere", n=10, d=3, target="linear", label_noise=0.1)
    with pytest.raises(InputError, match="disagree"):
        load("sphere", n=10, n_train=20)


# ----------------------------------------------------------------------------- teacher
def test_random_orthogonal_is_orthogonal_and_haar_signed():
    Q = random_orthogonal(7, 0)
    np.testing.assert_allclose(Q.T @ Q, np.eye(7), atol=1e-12)
    # Haar: E Q = 0 entrywise (the sign fix removes QR's bias towards +1 on the diagonal)
    diag = np.array([np.diag(random_orthogonal(3, s)) for s in range(600)])
    assert abs(diag.mean()) < 0.06


def test_teacher_network():
    ds = teacher_network(300, 8, seed=2, n_test=50)
    W, a = ds.target.W, ds.target.a
    np.testing.assert_allclose(W @ W.T, np.eye(8), atol=1e-12)
    assert np.all(a >= 0) and np.allclose(a, 1 / 8)
    assert np.all(ds.y >= 0) and np.all(ds.y_test >= 0)
    np.testing.assert_allclose(ds.y, np.abs(ds.X @ W.T) @ a, rtol=1e-14)
    assert ds.provenance["options"]["normalize"] is False
    assert not np.allclose(np.linalg.norm(ds.X, axis=1), 1.0)
    np.testing.assert_allclose(np.array(ds.provenance["teacher"]["W"]), W)
    # x ~ N(0, I): E f* = sqrt(2/pi) sum(a) for orthonormal rows
    big = teacher_network(40_000, 4, seed=1)
    assert abs(big.y.mean() - math.sqrt(2 / math.pi)) < 0.01
    ident = load("teacher", d=5, W="identity", n=20)
    np.testing.assert_allclose(ident.y, np.abs(ident.X).sum(axis=1) / 5, rtol=1e-14)
    assert ident.name == "teacher(d=5)"
    np.testing.assert_array_equal(teacher_network(10, 3, 4).X, teacher_network(10, 3, 4).X)
    with pytest.raises(InputError, match="nonnegative"):
        teacher_network(10, 3, 0, a=[1.0, -1.0, 0.0])
    with pytest.raises(InputError, match="label_noise"):
        load("teacher", label_noise=0.1)

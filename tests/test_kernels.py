"""Kernels: closed forms against Monte Carlo, identities within the family, exactness, blocking."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from twolayer import kernels as K
from twolayer._errors import InputError

from ._helpers import loglog_slope, sphere

KINDS = ["first-layer", "random-features", "two-layer", "kappa0"]
EMPIRICAL = {"first-layer": "first", "random-features": "second", "two-layer": "both"}


# --------------------------------------------------------------------------- Monte Carlo
@pytest.mark.parametrize("kind", ["first-layer", "random-features", "two-layer"])
def test_closed_form_matches_monte_carlo_average_of_finite_networks(kind):
    """E_W[H(W)] = closed form: bias ~ 0, max and mean errors at the 1/sqrt(m) scale."""
    X = sphere(12, 6, seed=1)
    exact = K.arccos_kernel(X, kind=kind)
    m, reps = 20_000, 10
    rng = np.random.default_rng(2)
    draws = np.stack([K.empirical_gram(X, rng.standard_normal((m, 6)), layers=EMPIRICAL[kind])
                      for _ in range(reps)])
    err = draws.mean(axis=0) - exact
    se = draws.std(axis=0, ddof=1).max() / math.sqrt(reps)  # standard error of the average
    assert abs(err.mean()) < 3 * se / math.sqrt(err.size) + 1e-12       # no bias
    assert np.abs(err).max() < 5 * se                                    # max
    assert np.abs(err).mean() < 1.5 * se                                 # mean
    # and the scale itself is the Monte Carlo one: sd of one draw ~ 1/sqrt(m)
    assert 0.05 / math.sqrt(m) < draws.std(axis=0, ddof=1).max() < 2.0 / math.sqrt(m)


@pytest.mark.parametrize("layers,kind", [("first", "first-layer"), ("second", "random-features")])
def test_monte_carlo_error_shrinks_like_inverse_sqrt_width(layers, kind):
    X = sphere(10, 5, seed=3)
    exact = K.arccos_kernel(X, kind=kind)
    widths = [250, 1000, 4000, 16000]
    rng = np.random.default_rng(4)
    rms = []
    for m in widths:
        errs = [np.sqrt(np.mean((K.empirical_gram(X, rng.standard_normal((m, 5)), layers=layers) - exact) ** 2))
                for _ in range(12)]
        rms.append(np.mean(errs))
    assert loglog_slope(widths, rms) == pytest.approx(-0.5, abs=0.08)


def test_sphere_weights_give_random_features_kernel_over_d():
    """E–Ma–Wu: b uniform on S^{d-1} gives kappa_1 / d (2-homogeneity of the kernel in w)."""
    d = 7
    X = sphere(8, d, seed=5)
    B = sphere(400_000, d, seed=6)
    emp = K.empirical_gram(X, B, layers="second", scale=1.0 / B.shape[0])
    assert np.allclose(emp, K.random_features_kernel(X) / d, atol=4e-4)


def test_empirical_gram_equals_jacobian_gram_by_finite_differences():
    """H(W) = J J^T with J the Jacobian of f(x) = m^-1/2 sum_r a_r relu(w_r.x) in W (and a)."""
    rng = np.random.default_rng(7)
    n, d, m = 5, 4, 6
    X, W, a = sphere(n, d, 8), rng.standard_normal((m, d)), rng.choice([-1.0, 1.0], m) * rng.uniform(0.5, 2, m)

    def f(W, a):
        return np.maximum(X @ W.T, 0.0) @ a / math.sqrt(m)

    h = 1e-6
    JW = np.zeros((n, m * d))
    for k in range(m * d):
        E = np.zeros(m * d)
        E[k] = h
        JW[:, k] = (f(W + E.reshape(m, d), a) - f(W - E.reshape(m, d), a)) / (2 * h)
    Ja = np.stack([(f(W, a + h * np.eye(m)[r]) - f(W, a - h * np.eye(m)[r])) / (2 * h) for r in range(m)], 1)
    assert np.allclose(K.empirical_gram(X, W, a, layers="first"), JW @ JW.T, atol=1e-8)
    assert np.allclose(K.empirical_gram(X, W, a, layers="second"), Ja @ Ja.T, atol=1e-8)
    assert np.allclose(K.empirical_gram(X, W, a, layers="both"), JW @ JW.T + Ja @ Ja.T, atol=1e-8)


# --------------------------------------------------------------------------- identities
def test_family_identities_both_directions():
    rng = np.random.default_rng(9)
    X = sphere(40, 6, 10) * rng.uniform(0.3, 3.0, (40, 1))
    Z = sphere(15, 6, 11) * rng.uniform(0.3, 3.0, (15, 1))
    H = K.first_layer_ntk(X, Z)
    R = K.random_features_kernel(X, Z)
    T = K.two_layer_ntk(X, Z)
    k0 = K.arccos_kernel(X, Z, kind="kappa0")
    nx, nz = np.linalg.norm(X, axis=1), np.linalg.norm(Z, axis=1)
    cos = np.clip((X / nx[:, None]) @ (Z / nz[:, None]).T, -1, 1)
    assert np.allclose(T, R + H, atol=1e-14)
    assert np.allclose(T - R, H, atol=1e-14)
    assert np.allclose(H, (X @ Z.T) * k0, atol=1e-14)
    assert np.allclose(R - H, np.outer(nx, nz) * np.sqrt(1 - cos**2) / (2 * np.pi), atol=1e-14)
    assert np.allclose(T, 2 * H + np.outer(nx, nz) * np.sqrt(1 - cos**2) / (2 * np.pi), atol=1e-14)


def test_arcsine_series_form_of_h_infinity():
    """Arora et al. App. E: H = K/4 + K∘arcsin(K)/(2π) = K/4 + (1/2π) Σ_l c_l K^{∘2l}/(2l−1)."""
    X = sphere(30, 8, 12)
    Kmat = X @ X.T
    H = K.first_layer_ntk(X)
    assert np.allclose(H, Kmat / 4 + Kmat * np.arcsin(np.clip(Kmat, -1, 1)) / (2 * np.pi), atol=1e-15)
    off = ~np.eye(30, dtype=bool)
    series = Kmat / 4
    coef = 1.0  # (2l-3)!!/(2l-2)!! for l = 1
    for ll in range(1, 400):
        series = series + coef * Kmat ** (2 * ll) / (2 * ll - 1) / (2 * np.pi)
        coef *= (2 * ll - 1) / (2 * ll)
    assert np.max(np.abs(series - H)[off & (np.abs(Kmat) < 0.9)]) < 1e-12


def test_h_infinity_dominates_linear_and_hadamard_power_kernels():
    """H ⪰ K/4 and H ⪰ K^{∘2l}/(2π(2l−1)²), checked by the smallest eigenvalue of the difference."""
    X = sphere(80, 5, 13)
    Kmat = X @ X.T
    H = K.first_layer_ntk(X)
    assert np.linalg.eigvalsh(H - Kmat / 4).min() > -1e-13
    for ll in range(1, 6):
        assert np.linalg.eigvalsh(H - Kmat ** (2 * ll) / (2 * np.pi * (2 * ll - 1) ** 2)).min() > -1e-13


# --------------------------------------------------------------------------- exactness
@pytest.mark.parametrize("kind,diag", [("first-layer", 0.5), ("random-features", 0.5), ("two-layer", 1.0),
                                       ("kappa0", 0.5)])
def test_diagonal_is_exact_and_trace_is_n_over_two(kind, diag):
    X = sphere(500, 30, 14)
    H = K.arccos_kernel(X, kind=kind)
    assert np.all(np.diag(H) == diag)
    assert np.array_equal(H, H.T)
    if kind == "first-layer":
        assert np.trace(H) == pytest.approx(500 / 2, abs=1e-12)


def _mp_kernel(x, z, kind):
    mpmath.mp.dps = 50
    x = [mpmath.mpf(float(v)) for v in x]
    z = [mpmath.mpf(float(v)) for v in z]
    nx, nz = mpmath.sqrt(sum(v * v for v in x)), mpmath.sqrt(sum(v * v for v in z))
    c = max(min(sum(a * b for a, b in zip(x, z)) / (nx * nz), 1), -1)
    t = mpmath.acos(c)
    h = nx * nz * c * (mpmath.pi - t) / (2 * mpmath.pi)
    r = nx * nz * (mpmath.sin(t) + c * (mpmath.pi - t)) / (2 * mpmath.pi)
    return float({"first-layer": h, "random-features": r, "two-layer": h + r,
                  "kappa0": (mpmath.pi - t) / (2 * mpmath.pi)}[kind])


@pytest.mark.parametrize("kind", KINDS)
def test_entries_match_extended_precision_including_near_parallel_pairs(kind):
    rng = np.random.default_rng(15)
    X = sphere(60, 6, 16)
    X[1] = X[0] * (1 + 1e-12)                       # parallel
    X[3] = -X[2]                                    # anti-parallel
    X[5] = X[4] + 1e-9 * rng.standard_normal(6)     # nearly parallel (cos rounds to 1)
    X[7] = -X[6] + 1e-7 * rng.standard_normal(6)    # nearly anti-parallel
    X[9] = X[8] + 3e-3 * rng.standard_normal(6)     # inside the recomputed band
    X = X * rng.uniform(0.5, 2.0, (60, 1))
    H = K.arccos_kernel(X, kind=kind)
    pairs = [(0, 1), (2, 3), (4, 5), (6, 7), (8, 9), (1, 1)] + [tuple(p) for p in rng.integers(0, 60, (150, 2))]
    err = max(abs(_mp_kernel(X[i], X[j], kind) - H[i, j]) for i, j in pairs)
    assert err <= 1.5e-15


def test_scalar_forms_agree_with_matrix_forms():
    X = sphere(50, 4, 17)
    C = X @ X.T
    for kind, f in [("first-layer", K.first_layer_ntk_cos), ("random-features", K.random_features_cos),
                    ("two-layer", K.two_layer_ntk_cos), ("kappa0", K.kappa0_cos)]:
        off = ~np.eye(50, dtype=bool)
        assert np.allclose(f(C)[off], K.arccos_kernel(X, kind=kind)[off], atol=1e-13)
    assert K.first_layer_ntk_cos(1.0) == 0.5 and K.first_layer_ntk_cos(-1.0) == 0.0
    assert K.kappa0_cos(0.0) == 0.25


# --------------------------------------------------------------------------- blocking
@pytest.mark.parametrize("kind", KINDS)
def test_blocked_equals_unblocked(kind):
    X = sphere(203, 9, 18)
    X[50] = X[10]  # a duplicate exercises the near-parallel path inside blocks
    ref = K.arccos_kernel(X, kind=kind, block_size=203, n_jobs=1)
    for bs, jobs in [(1, 1), (7, 2), (64, 2), (500, 3)]:
        assert np.array_equal(K.arccos_kernel(X, kind=kind, block_size=bs, n_jobs=jobs), ref)
    Z = sphere(31, 9, 19)
    cross = K.arccos_kernel(X, Z, kind=kind, block_size=5, n_jobs=2)
    assert np.allclose(cross, K.arccos_kernel(X, Z, kind=kind, block_size=1000, n_jobs=1), atol=0, rtol=0)
    joint = K.arccos_kernel(np.vstack([X, Z]), kind=kind)
    assert np.allclose(cross, joint[:203, 203:], atol=1e-15)


def test_preallocated_output_and_memory_guard(tmp_path):
    X = sphere(40, 3, 20)
    out = np.lib.format.open_memmap(tmp_path / "H.npy", mode="w+", dtype=np.float64, shape=(40, 40))
    res = K.first_layer_ntk(X, out=out, block_size=8)
    assert res is out
    assert np.array_equal(np.load(tmp_path / "H.npy"), K.first_layer_ntk(X))
    est = K.estimate_kernel_memory(20_000, d=784, block_size=32, n_jobs=2)
    assert est.result == 8 * 20_000**2 and est.workspace == 2 * 2 * 32 * 20_000 * 8
    assert "GiB" in str(est)
    with pytest.raises(InputError, match="needs .* available"):
        K.first_layer_ntk(X, max_memory=1000)


# --------------------------------------------------------------------------- invariances
@settings(max_examples=25, deadline=None)
@given(n=st.integers(2, 25), nz=st.integers(1, 10), d=st.integers(1, 12), seed=st.integers(0, 10_000),
       a=st.floats(0.1, 10.0), b=st.floats(0.1, 10.0))
def test_invariances_property(n, nz, d, seed, a, b):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) + 1e-3
    Z = rng.standard_normal((nz, d)) + 1e-3
    Q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    perm = rng.permutation(n)
    for kind in KINDS:
        Kxz = K.arccos_kernel(X, Z, kind=kind)
        scale = 1.0 if kind == "kappa0" else a * b
        assert np.allclose(K.arccos_kernel(a * X, b * Z, kind=kind), scale * Kxz, rtol=1e-12, atol=1e-12)
        assert np.allclose(K.arccos_kernel(X @ Q, Z @ Q, kind=kind), Kxz, atol=1e-9 * max(1, np.abs(Kxz).max()))
        # equal up to the rounding of the BLAS dot products (their summation order may depend on alignment)
        np.testing.assert_allclose(K.arccos_kernel(X[perm], Z, kind=kind), Kxz[perm], rtol=1e-14, atol=1e-15)
    H = K.two_layer_ntk(X)
    assert np.array_equal(H, H.T)
    assert np.linalg.eigvalsh(H).min() > -1e-10 * np.abs(H).max()


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("bad,msg", [
    (np.array([[1.0, np.nan], [0.0, 1.0]]), "NaN or inf"),
    (np.array([[1.0, 0.0], [0.0, 0.0]]), "all-zero row"),
    (np.ones(3), "2-D array"),
    (np.ones((2, 2, 2)), "2-D array"),
    (np.empty((0, 3)), "empty"),
    (np.array([["a", "b"]]), "numeric"),
])
def test_bad_inputs_raise_one_clear_error(bad, msg):
    with pytest.raises(InputError, match=msg):
        K.first_layer_ntk(bad)


def test_bad_options_raise_clear_errors():
    X = sphere(5, 3, 21)
    with pytest.raises(InputError, match="same d"):
        K.first_layer_ntk(X, sphere(4, 2, 22))
    with pytest.raises(InputError, match="unknown kernel kind"):
        K.arccos_kernel(X, kind="tanh")
    with pytest.raises(InputError, match="block_size"):
        K.first_layer_ntk(X, block_size=0)
    with pytest.raises(InputError, match="one a_r per hidden unit"):
        K.empirical_gram(X, np.ones((4, 3)), a=np.ones(3))
    with pytest.raises(InputError, match="out must be"):
        K.first_layer_ntk(X, out=np.empty((5, 4)))

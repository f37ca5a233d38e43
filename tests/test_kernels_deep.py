"""The deep ReLU NTK / NNGP (:mod:`twolayer.kernels.deep`) against mathematics.

* Monte Carlo: the tangent kernel of random finite networks (hand-written backprop, every
  layer's weights and biases) converges to ``deep_ntk``; the output covariance over random
  initializations is ``deep_nngp`` (directly at depth 1, where it is exact at any width; given
  the hidden layers, Rao–Blackwellized over the readout, at depth 2 and 3). Tolerances come from
  the measured Monte Carlo standard error; negative controls (a wrong depth, no bias, the NNGP in
  place of the NTK) show the statistic rejects a wrong kernel.
* Identities: a 50-digit evaluation of the recursion (near-duplicate, antipodal and zero rows
  included), the plain float64 recursion away from parallel pairs, depth 1 = the project's
  two-layer kernels times ``σ_w⁴/d``, exact symmetry, PSD, the closed-form diagonal.
* Optional: neural-tangents' ``stax.serial(Dense, Relu, ..., Dense)`` kernel_fn.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from twolayer import InputError
from twolayer import kernels as K
from twolayer.kernels.deep import deep_diagonal, deep_kernel, deep_nngp, deep_ntk

from ._helpers import sphere

CASES = [(0, 1.0, 0.0), (1, 1.3, 0.0), (1, 1.3, 0.4), (3, math.sqrt(2.0), 0.0), (3, 1.2, 0.5)]


def _hard_rows(seed=1, n=9, d=4):
    """Rows of mixed norms with a near-duplicate (relative 1e-13), a close pair (1e-11), an
    antipodal pair, a near-antipodal pair and a zero row."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) * rng.uniform(0.3, 3.0, (n, 1))
    X[1] = X[0] * (1 + 1e-13)
    X[2] = X[0] + 1e-11 * rng.standard_normal(d)
    X[3] = -X[0]
    X[4] = -X[5] * (1 + 1e-9) + 1e-12
    X[6] = 0.0
    return X


def _plain(X, Z, depth, w, b, ntk=True):
    """Eqs. (4)-(5) of Arora et al. 2019 written out directly in float64 (arccos of the cosine)."""
    d = X.shape[1]
    S = w * w * X @ Z.T / d + b * b
    qx, qz = w * w * np.sum(X * X, 1) / d + b * b, w * w * np.sum(Z * Z, 1) / d + b * b
    T = S.copy()
    for _ in range(depth):
        R = np.sqrt(np.outer(qx, qz))
        c = np.clip(S / R, -1, 1)
        th = np.arccos(c)
        S = w * w * R * (np.sin(th) + (np.pi - th) * c) / (2 * np.pi) + b * b
        T = T * w * w * (np.pi - th) / (2 * np.pi) + S
        qx, qz = w * w * qx / 2 + b * b, w * w * qz / 2 + b * b
    return T if ntk else S


# ============================================================================ identities
@pytest.mark.parametrize("depth, w, b", CASES)
def test_matches_a_50_digit_evaluation_including_near_parallel_and_zero_rows(depth, w, b):
    mp = pytest.importorskip("mpmath")
    mp.mp.dps = 50

    def ref(x, z, ntk):
        x, z = [mp.mpf(float(t)) for t in x], [mp.mpf(float(t)) for t in z]
        w2, b2, d = mp.mpf(w) ** 2, mp.mpf(b) ** 2, len(x)
        S = w2 * mp.fsum(p * q for p, q in zip(x, z)) / d + b2
        qx, qz = w2 * mp.fsum(p * p for p in x) / d + b2, w2 * mp.fsum(q * q for q in z) / d + b2
        T = S
        for _ in range(depth):
            R = mp.sqrt(qx * qz)
            c = max(min(S / R, 1), -1) if R > 0 else mp.mpf(0)
            th = mp.acos(c)
            S = w2 * R * (mp.sin(th) + (mp.pi - th) * c) / (2 * mp.pi) + b2
            T = T * w2 * (mp.pi - th) / (2 * mp.pi) + S
            qx, qz = w2 * qx / 2 + b2, w2 * qz / 2 + b2
        return T if ntk else S

    X = _hard_rows()
    for kind, ntk in (("deep-ntk", True), ("deep-nngp", False)):
        M = np.array([[float(ref(a, c, ntk)) for c in X] for a in X])
        scale = np.max(np.abs(M))
        G = deep_kernel(X, kind=kind, depth=depth, w_std=w, b_std=b)
        C = deep_kernel(X, X.copy(), kind=kind, depth=depth, w_std=w, b_std=b)  # the cross path, no exact diagonal
        # measured: <= 2.6e-16 of max |K| for both paths; the plain recursion misses by ~1e-8 on duplicates
        assert np.max(np.abs(G - M)) <= 1e-14 * scale, kind
        assert np.max(np.abs(C - M)) <= 1e-14 * scale, kind


@pytest.mark.parametrize("depth, w, b", CASES)
def test_agrees_with_the_plain_recursion_away_from_parallel_pairs(depth, w, b):
    rng = np.random.default_rng(3)
    X, Z = rng.standard_normal((30, 5)), 2.0 * rng.standard_normal((17, 5))
    assert np.max(np.abs(X @ Z.T) / np.outer(np.linalg.norm(X, axis=1), np.linalg.norm(Z, axis=1))) < 0.999
    for ntk in (True, False):
        got = deep_kernel(X, Z, kind="deep-ntk" if ntk else "deep-nngp", depth=depth, w_std=w, b_std=b)
        want = _plain(X, Z, depth, w, b, ntk)
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-13 * np.max(np.abs(want)))


def test_depth_one_is_the_two_layer_kernels_times_w4_over_d():
    """Θ^1 = σ_w⁴/d (κ_1 + H^∞), Σ^1 = σ_w⁴/d κ_1, Θ^1 − Σ^1 = σ_w⁴/d H^∞ (b = 0), any input norms."""
    rng = np.random.default_rng(4)
    d = 7
    X = rng.standard_normal((25, d)) * rng.uniform(0.2, 4.0, (25, 1))
    Z = rng.standard_normal((11, d))
    for w in (1.0, math.sqrt(2.0), 0.7):
        s = w**4 / d
        for A, B in ((X, None), (X, Z)):
            ntk, nngp = deep_ntk(A, B, depth=1, w_std=w), deep_nngp(A, B, depth=1, w_std=w)
            np.testing.assert_allclose(ntk, s * K.two_layer_ntk(A, B), rtol=1e-13, atol=1e-15)
            np.testing.assert_allclose(nngp, s * K.random_features_kernel(A, B), rtol=1e-13, atol=1e-15)
            np.testing.assert_allclose(ntk - nngp, s * K.first_layer_ntk(A, B), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("depth, w, b", CASES)
def test_self_kernel_is_exactly_symmetric_psd_with_the_closed_form_diagonal(depth, w, b):
    X = sphere(40, 6, 5)
    X[7] = X[3]  # a duplicate: singular, still PSD
    d = X.shape[1]
    for kind, which in (("deep-ntk", 1), ("deep-nngp", 0)):
        G = deep_kernel(X, kind=kind, depth=depth, w_std=w, b_std=b, block_size=7, n_jobs=2)
        assert np.array_equal(G, G.T)
        assert np.linalg.eigvalsh(G)[0] >= -1e-12 * np.max(np.abs(G))
        assert np.array_equal(np.diag(G), deep_diagonal(X, depth=depth, w_std=w, b_std=b)[which][:, depth])
        # on unit rows: q_0 = w²/d + b², q_h = w² q_{h-1}/2 + b², Θ_h = Θ_{h-1} w²/2 + q_h
        q, t = w * w / d + b * b, w * w / d + b * b
        for _ in range(depth):
            q = w * w * q / 2 + b * b
            t = t * w * w / 2 + q
        np.testing.assert_allclose(np.diag(G), t if which else q, rtol=1e-14)  # rows unit to rounding
    # the He default w² = 2, b = 0: Σ^L(x, x) = 2/d and Θ^L(x, x) = 2 (L + 1)/d on unit rows
    np.testing.assert_allclose(np.diag(deep_ntk(X, depth=3)), 8.0 / d, rtol=1e-14)
    np.testing.assert_allclose(np.diag(deep_nngp(X, depth=3)), 2.0 / d, rtol=1e-14)


def test_near_duplicates_are_continuous_to_rounding():
    """``K(x, x + t v) → K(x, x)`` at rate ``O(t)``; the plain recursion jumps by ~1e-8 here."""
    rng = np.random.default_rng(6)
    x, V = rng.standard_normal(5), rng.standard_normal((20, 5))
    for depth, w, b in CASES[1:]:
        base = deep_ntk(x[None], depth=depth, w_std=w, b_std=b)[0, 0]
        for t in (1e-14, 1e-12, 1e-10):
            near = deep_ntk(x[None], x + t * V, depth=depth, w_std=w, b_std=b)[0]
            assert np.max(np.abs(near - base)) <= (10 * t + 1e-15) * abs(base), (depth, t)
        # the control: the plain recursion jumps by up to ~1e-8 relative on such pairs (measured 3e-9 to 9e-9)
        plain = _plain(x[None], x + 1e-13 * V, depth, w, b)[0]
        assert np.max(np.abs(plain - base)) > 1e-10 * abs(base)


def test_zero_rows_and_the_bias():
    X = sphere(6, 3, 7)
    X[2] = 0.0
    G = deep_ntk(X, depth=2)
    assert np.all(G[2] == 0.0) and np.all(G[:, 2] == 0.0)
    # with a bias the zero input is an ordinary point: the limit of K(eps v, z) as eps -> 0
    Gb = deep_ntk(X, depth=2, b_std=0.3)
    lim = deep_ntk(1e-9 * sphere(1, 3, 8), X, depth=2, b_std=0.3)[0]
    np.testing.assert_allclose(Gb[2], lim, rtol=1e-7)


def test_block_size_threads_and_float32_storage_change_no_number():
    X = np.random.default_rng(9).standard_normal((70, 4))
    G = deep_ntk(X, depth=2, b_std=0.2)
    assert np.array_equal(G, deep_ntk(X, depth=2, b_std=0.2, block_size=3, n_jobs=2))
    G32 = deep_ntk(X, depth=2, b_std=0.2, dtype=np.float32)
    assert G32.dtype == np.float32 and np.array_equal(G32, G.astype(np.float32))  # float64 rounded once
    out = np.empty((70, 70), dtype=np.float32)
    assert deep_ntk(X, depth=2, b_std=0.2, out=out) is out and np.array_equal(out, G32)
    perm = np.random.default_rng(10).permutation(70)
    C = deep_ntk(X, X[perm], depth=2, b_std=0.2)
    off = ~np.eye(70, dtype=bool)[:, perm]
    np.testing.assert_allclose(C[off], G[:, perm][off], rtol=1e-14)


@pytest.mark.parametrize("kw, match", [
    (dict(depth=-1), "depth must be"), (dict(depth=1.5), "depth must be"), (dict(depth=2, w_std=0.0), "w_std"),
    (dict(depth=2, b_std=-1.0), "b_std"), (dict(depth=2, b_std=float("nan")), "b_std"),
    (dict(depth=2, kind="deep-xyz"), "unknown deep kernel"),
])
def test_bad_options_are_one_clear_error(kw, match):
    with pytest.raises(InputError, match=match):
        deep_kernel(np.ones((3, 2)), **kw)


def test_bad_inputs_are_one_clear_error():
    with pytest.raises(InputError, match="same d"):
        deep_ntk(np.ones((3, 2)), np.ones((3, 4)), depth=1)
    with pytest.raises(InputError, match="overflow"):
        deep_ntk(np.full((2, 2), 1e300), depth=1)
    with pytest.raises(InputError, match="NaN"):
        deep_ntk(np.array([[1.0, np.nan]]), depth=1)


# ============================================================================ Monte Carlo
def _network(X, width, depth, w, b, rng):
    """One random network ``stax.serial(Dense(width, w, b), Relu(), ..., Dense(1, w, b))`` on the rows of X.

    Returns its empirical tangent kernel (sum over every layer's weights and biases of
    ``∂f(x)/∂θ ∂f(z)/∂θ``, by backprop) and its empirical NNGP given the hidden layers
    (``E_readout[f(x) f(z)] = w² ⟨relu(h^L(x)), relu(h^L(z))⟩/n_L + b²``).
    """
    sizes = [X.shape[1]] + [width] * depth + [1]
    acts, pres, Ws = [X], [], []
    a = X
    for k in range(depth + 1):
        W = rng.standard_normal((sizes[k + 1], sizes[k]))
        h = (w / math.sqrt(sizes[k])) * a @ W.T + b * rng.standard_normal(sizes[k + 1])
        Ws.append(W)
        pres.append(h)
        a = np.maximum(h, 0.0)
        if k < depth:
            acts.append(a)
    delta = np.ones((X.shape[0], 1))  # ∂f/∂h^{L+1}
    ntk = np.zeros((X.shape[0], X.shape[0]))
    for k in range(depth, -1, -1):  # layer k+1 maps acts[k] (width sizes[k]) to pres[k]
        ntk += ((w * w / sizes[k]) * acts[k] @ acts[k].T + b * b) * (delta @ delta.T)
        if k:
            delta = (w / math.sqrt(sizes[k])) * (delta @ Ws[k]) * (pres[k - 1] > 0)
    nngp = (w * w / sizes[depth]) * acts[depth] @ acts[depth].T + b * b
    return ntk, nngp


def _z(samples, target):
    """‖mean − target‖_F over the upper triangle in units of the pooled standard error of the mean."""
    iu = np.triu_indices(target.shape[0])
    m = samples.mean(0)[iu]
    se2 = np.sum(samples.var(0, ddof=1)[iu]) / samples.shape[0]
    return float(np.linalg.norm(m - target[iu]) / math.sqrt(se2))


def _mc_inputs():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((4, 3))
    X[1] = -X[0]
    X[2] = X[0] + 0.3 * X[3]
    return X


@pytest.mark.parametrize("depth, w, b", [(2, 1.3, 0.4), (3, math.sqrt(2.0), 0.3)])
def test_tangent_kernel_and_covariance_of_wide_networks_converge(depth, w, b):
    X = _mc_inputs()
    width, seeds = 1000, 10
    draws = [_network(X, width, depth, w, b, np.random.default_rng(100 + s)) for s in range(seeds)]
    ntk_s, nngp_s = np.array([t for t, _ in draws]), np.array([g for _, g in draws])
    theta, sigma = deep_ntk(X, depth=depth, w_std=w, b_std=b), deep_nngp(X, depth=depth, w_std=w, b_std=b)
    # z (error of the mean over 10 networks in pooled standard errors) measured over 8 replicates of
    # 10 seeds each: 0.46-2.15 for the NTK, 0.69-2.12 for the NNGP; the finite-width bias,
    # O(depth/width), is below the standard error at width 1000. Threshold 4.
    assert _z(ntk_s, theta) < 4.0
    assert _z(nngp_s, sigma) < 4.0
    # negative controls, same replicates: the NTK without the biases z >= 8.0, the NNGP in place of
    # the NTK z >= 18.8, one hidden layer fewer z >= 7.7
    assert _z(ntk_s, deep_ntk(X, depth=depth, w_std=w, b_std=0.0)) > 6.0
    assert _z(ntk_s, sigma) > 6.0
    assert _z(ntk_s, deep_ntk(X, depth=depth - 1, w_std=w, b_std=b)) > 6.0


def test_output_covariance_over_random_inits_at_depth_one_is_exact_at_any_width():
    """At depth 1 the pre-activations are exactly Gaussian, so ``E f(x) f(z) = Σ^1`` at width 4."""
    X = _mc_inputs()
    w, b, width, S = 1.3, 0.4, 4, 40000
    rng = np.random.default_rng(11)
    W = rng.standard_normal((S, X.shape[1], width))
    h = (w / math.sqrt(X.shape[1])) * (X @ W) + b * rng.standard_normal((S, 1, width))  # (S, N, width)
    f = (w / math.sqrt(width)) * np.einsum("snk,sk->sn", np.maximum(h, 0.0), rng.standard_normal((S, width)))
    f += b * rng.standard_normal((S, 1))
    prods = f[:, :, None] * f[:, None, :]
    # measured over seeds 11-16: z = 0.68-1.48; no biases z >= 42, no readout bias z >= 23.9
    assert _z(prods, deep_nngp(X, depth=1, w_std=w, b_std=b)) < 4.0
    assert _z(prods, deep_nngp(X, depth=1, w_std=w, b_std=0.0)) > 8.0
    assert _z(prods, deep_nngp(X, depth=1, w_std=w, b_std=b) - b * b) > 8.0


# ============================================================================ neural-tangents (optional)
def test_matches_neural_tangents_stax():
    nt = pytest.importorskip("neural_tangents")
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    stax = nt.stax
    X = np.random.default_rng(12).standard_normal((20, 5))
    for depth, w, b in CASES:
        layers = []
        for _ in range(depth):
            layers += [stax.Dense(512, W_std=w, b_std=b), stax.Relu()]
        _, _, kernel_fn = stax.serial(*layers, stax.Dense(1, W_std=w, b_std=b))
        got = kernel_fn(X, X, ("ntk", "nngp"))
        for ours, theirs in ((deep_ntk(X, depth=depth, w_std=w, b_std=b), got.ntk),
                             (deep_nngp(X, depth=depth, w_std=w, b_std=b), got.nngp)):
            theirs = np.asarray(theirs, dtype=np.float64)
            assert np.max(np.abs(ours - theirs)) <= 1e-10 * np.max(np.abs(theirs))

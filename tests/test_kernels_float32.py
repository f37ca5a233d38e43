"""float32 kernel storage: the documented element error bounds, exact symmetry, memory accounting."""

from __future__ import annotations

import mpmath
import numpy as np
import pytest

from twolayer import kernels as K
from twolayer._errors import InputError
from twolayer.kernels._blocks import tiled_build

from ._helpers import sphere

KINDS = ["first-layer", "random-features", "two-layer", "kappa0"]
U = 2.0**-24  # unit roundoff of float32
#: max |dK/dc| over |c| <= 1 - 1e-4 (unit rows), the documented Lipschitz constants of the float32-compute bound
LIPSCHITZ = {"first-layer": 11.8, "random-features": 0.5, "two-layer": 12.3, "kappa0": 11.3}


def _hostile(n: int, d: int, seed: int) -> np.ndarray:
    """Rows with parallel, anti-parallel and nearly parallel pairs, and norms from 0.5 to 2."""
    rng = np.random.default_rng(seed)
    X = sphere(n, d, seed)
    X[1] = X[0] * (1 + 1e-12)
    X[3] = -X[2]
    X[5] = X[4] + 1e-9 * rng.standard_normal(d)
    X[7] = -X[6] + 1e-7 * rng.standard_normal(d)
    X[9] = X[8] + 3e-3 * rng.standard_normal(d)
    return X * rng.uniform(0.5, 2.0, (n, 1))


def _mp_kernel(x, z, kind):
    mpmath.mp.dps = 40
    x = [mpmath.mpf(float(v)) for v in x]
    z = [mpmath.mpf(float(v)) for v in z]
    nx = mpmath.sqrt(sum(v * v for v in x))
    nz = mpmath.sqrt(sum(v * v for v in z))
    c = max(-1, min(1, sum(a * b for a, b in zip(x, z)) / (nx * nz)))
    t = mpmath.acos(c)
    s = mpmath.sin(t)
    unit = {"first-layer": c * (mpmath.pi - t), "random-features": s + c * (mpmath.pi - t),
            "two-layer": s + 2 * c * (mpmath.pi - t), "kappa0": mpmath.pi - t}[kind] / (2 * mpmath.pi)
    return float(unit * (1 if kind == "kappa0" else nx * nz))


@pytest.mark.parametrize("kind", KINDS)
def test_float64_compute_is_the_float64_kernel_rounded_once(kind):
    """|K32 - K| <= u |K| + 2e-15 entrywise (self and cross kernels, hostile pairs), exact diagonal."""
    X = _hostile(80, 7, 1)
    Z = _hostile(23, 7, 2)
    for A, B in [(X, None), (X, Z)]:
        K64 = K.arccos_kernel(A, B, kind=kind)
        K32 = K.arccos_kernel(A, B, kind=kind, dtype=np.float32)
        assert K32.dtype == np.float32 and K32.shape == K64.shape
        err = np.abs(K32.astype(np.float64) - K64)
        assert np.all(err <= U * np.abs(K64) + 2e-15)
        assert err.max() > 0  # float32 really is stored (not a float64 copy)
    K32 = K.arccos_kernel(X, kind=kind, dtype=np.float32)
    assert np.array_equal(K32, K32.T)
    assert np.array_equal(np.diag(K32), np.diag(K.arccos_kernel(X, kind=kind)).astype(np.float32))


@pytest.mark.parametrize("kind", KINDS)
def test_float64_compute_against_extended_precision(kind):
    """The bound holds against the exact value (mpmath), near-parallel pairs included."""
    X = _hostile(40, 6, 3)
    K32 = K.arccos_kernel(X, kind=kind, dtype=np.float32)
    rng = np.random.default_rng(4)
    pairs = [(0, 1), (2, 3), (4, 5), (6, 7), (8, 9)] + [tuple(p) for p in rng.integers(0, 40, (60, 2))]
    for i, j in pairs:
        exact = _mp_kernel(X[i], X[j], kind)
        assert abs(float(K32[i, j]) - exact) <= U * abs(exact) + 2e-15, (i, j)


@pytest.mark.parametrize("kind", KINDS)
def test_float32_compute_within_its_documented_bound(kind):
    """compute_dtype=float32: |dK| <= (L (d + 3) u + 8 u |K|) (||x|| ||z||)^degree; near-parallel pairs accurate."""
    d = 40
    X = _hostile(120, d, 5)
    K64 = K.arccos_kernel(X, kind=kind)
    K32 = K.arccos_kernel(X, kind=kind, dtype=np.float32, compute_dtype=np.float32)
    norms = np.linalg.norm(X, axis=1)
    scale = np.ones_like(K64) if kind == "kappa0" else np.outer(norms, norms)
    bound = LIPSCHITZ[kind] * (d + 3) * U * scale + 8 * U * np.abs(K64)
    err = np.abs(K32.astype(np.float64) - K64)
    assert np.all(err <= bound)
    assert np.array_equal(K32, K32.T)
    # the recomputed near-parallel pairs carry only the final rounding
    for i, j in [(0, 1), (2, 3), (4, 5), (6, 7)]:
        assert err[i, j] <= U * abs(K64[i, j]) + 2e-15


def test_lipschitz_constants_of_the_bound():
    """The documented L = max |dK/dc| over |c| <= 1 - 1e-4 (finite differences on a fine grid)."""
    c = np.linspace(-1 + 1e-4, 1 - 1e-4, 400_001)
    for kind, L in LIPSCHITZ.items():
        f = K.KERNELS[kind](c)
        slope = np.max(np.abs(np.diff(f) / np.diff(c)))
        assert slope <= L and slope >= 0.95 * L, (kind, slope)


def test_float32_results_do_not_depend_on_blocks_threads_or_tiles():
    X = sphere(1100, 5, 6)   # two row tiles of the 1024-tile build
    X[1050] = X[3]           # a duplicate in an off-diagonal tile
    X[700] = -X[2]
    Z = sphere(40, 5, 7)
    for comp in (None, np.float32):
        ref = K.first_layer_ntk(X, dtype=np.float32, compute_dtype=comp, n_jobs=1)
        for bs, jobs in [(1000, 2), (37, 3)]:
            assert np.array_equal(K.first_layer_ntk(X, dtype=np.float32, compute_dtype=comp, block_size=bs,
                                                    n_jobs=jobs), ref)
        assert ref[3, 1050] == ref[1050, 3] == 0.5   # exactly parallel: recomputed from differences
        assert abs(float(ref[2, 700])) <= 2e-15
        cross = K.first_layer_ntk(X, Z, dtype=np.float32, compute_dtype=comp, block_size=9, n_jobs=2)
        assert np.array_equal(cross, K.first_layer_ntk(X, Z, dtype=np.float32, compute_dtype=comp, n_jobs=1))


@pytest.mark.parametrize("tile", [1, 7, 64])
def test_tiled_build_is_the_exact_symmetric_gram(tile):
    rng = np.random.default_rng(8)
    A = rng.standard_normal((50, 4))
    out = np.empty((50, 50), np.float32)
    seen = np.zeros((50, 50), int)

    def mark(T, r0, c0):
        seen[r0:r0 + T.shape[0], c0:c0 + T.shape[1]] += 1

    tiled_build(A, A, out, mark, self_kernel=True, tile=tile, block_size=3, n_jobs=2)
    np.testing.assert_allclose(out, A @ A.T, rtol=U, atol=1e-12)
    assert np.array_equal(out, out.T)
    upper = np.triu(np.ones((50, 50), bool))
    assert np.all(seen[upper] == 1)  # each upper entry transformed exactly once (lower ones only in diagonal tiles)
    B = rng.standard_normal((13, 4))
    cross = np.empty((50, 13), np.float32)
    tiled_build(A, B, cross, lambda T, r0, c0: None, self_kernel=False, tile=tile, n_jobs=1)
    np.testing.assert_allclose(cross, A @ B.T, rtol=U, atol=1e-12)


def test_memory_estimate_and_refusal_use_the_dtype():
    e64 = K.estimate_kernel_memory(60_000, d=784)
    e32 = K.estimate_kernel_memory(60_000, d=784, dtype=np.float32)
    assert e64.result == 8 * 60_000**2 and e32.result == 4 * 60_000**2
    assert e32.result / 2**30 == pytest.approx(13.41, abs=0.01)
    assert e32.total < 14 * 2**30 < 26 * 2**30 < e64.total
    e32f = K.estimate_kernel_memory(60_000, d=784, dtype=np.float32, compute_dtype=np.float32)
    assert e32f.inputs == e32.inputs + 4 * 60_000 * 784
    # n = 60,000 at a 20 GiB budget: refused in float64 before any allocation (float32 fits the estimate)
    X = sphere(60_000, 2, 9)
    with pytest.raises(InputError, match="needs .* available"):
        K.first_layer_ntk(X, max_memory=20 * 2**30)
    assert e32.total <= 20 * 2**30
    # a small build between the two needs: float32 goes through, float64 is refused
    Xs = sphere(3000, 3, 10)
    need32 = K.estimate_kernel_memory(3000, d=3, dtype=np.float32).total
    need64 = K.estimate_kernel_memory(3000, d=3).total
    assert need32 < need64
    limit = (need32 + need64) // 2
    assert K.first_layer_ntk(Xs, dtype=np.float32, max_memory=limit).dtype == np.float32
    with pytest.raises(InputError, match="needs .* available"):
        K.first_layer_ntk(Xs, max_memory=limit)
    with pytest.raises(InputError, match="float32 kernel needs"):
        K.first_layer_ntk(Xs, dtype=np.float32, max_memory=need32 - 1)


def test_default_stays_float64_and_out_sets_the_dtype(tmp_path):
    X = sphere(30, 4, 11)
    assert K.first_layer_ntk(X).dtype == np.float64
    mm = np.lib.format.open_memmap(tmp_path / "H.npy", mode="w+", dtype=np.float32, shape=(30, 30))
    assert K.first_layer_ntk(X, out=mm) is mm
    assert np.array_equal(np.load(tmp_path / "H.npy"), K.first_layer_ntk(X, dtype=np.float32))
    with pytest.raises(InputError, match="out must be"):
        K.first_layer_ntk(X, out=np.empty((30, 30)), dtype=np.float32)
    with pytest.raises(InputError, match="compute_dtype=float32 needs dtype=float32"):
        K.first_layer_ntk(X, compute_dtype=np.float32)
    with pytest.raises(InputError, match="dtype must be float64 or float32"):
        K.first_layer_ntk(X, dtype=np.float16)


def test_float32_range_is_checked():
    X = sphere(4, 3, 12) * 1e20   # ||x||^2 = 1e40 overflows float32 (not float64)
    assert np.isfinite(K.first_layer_ntk(X)).all()
    with pytest.raises(InputError, match="overflow float32"):
        K.first_layer_ntk(X, dtype=np.float32)
    assert np.isfinite(K.kappa0_cos(0.3))
    assert K.arccos_kernel(X, kind="kappa0", dtype=np.float32).dtype == np.float32  # scale invariant

"""Peak memory of the dense paths (issue 12): ``complexity`` and ``spectrum`` in units of ``8n²`` bytes.

Peaks are measured by tracemalloc (numpy reports its data buffers to it, also those allocated in
worker threads; the LAPACK workspace of :func:`twolayer._linalg.syevd_inplace` is a numpy array, so
it is seen). The allowance for fixed overhead is :data:`TILES`: the symmetry check and the in-place
mirror/transpose work on 512 × 512 tiles (two at a time, 4 MiB), plus ``O(n)`` vectors: 0.21 × 8n² at
n = 1,600. Every
result is compared bit for bit with the computation it replaces (numpy's ``eigh``/``eigvalsh``,
the non-overwriting Cholesky) and, where it is mathematics, with an identity to tolerance.
"""

from __future__ import annotations

import gc
import threading
import time
import tracemalloc

import numpy as np
import pytest

from twolayer import InputError
from twolayer import _linalg
from twolayer import spectra as spectra_mod
from twolayer._linalg import mirror_lower, syevd_inplace, transpose_inplace
from twolayer.bounds import KernelSolver, complexity
from twolayer.kernels import first_layer_ntk
from twolayer.spectra import spectrum


def _numpy_and_scipy_share_lapack() -> bool:
    """Whether numpy's and scipy's LAPACK give bit-identical results (the same OpenBLAS build, as
    in the wheels CI installs). Where they do not (numpy 1.26 from the ``mnist`` extra bundles an
    older OpenBLAS), "the same numbers as numpy" can only mean equal to rounding."""
    import scipy.linalg as sla

    A = np.random.default_rng(0).standard_normal((64, 64))
    A = A @ A.T
    return np.array_equal(np.linalg.eigvalsh(A), sla.eigh(A, eigvals_only=True, driver="evd"))


def _same_numbers(a, b):
    """Bit for bit where numpy and scipy share LAPACK, else to 1e-10 of the largest entry (for a
    matrix of eigenvectors, each column up to its sign, which another LAPACK build may flip)."""
    if SAME_LAPACK:
        np.testing.assert_array_equal(a, b)
        return
    a, b = np.asarray(a), np.asarray(b)
    if a.ndim == 2:
        b = b * np.where(np.sum(a * b, axis=0) < 0, -1.0, 1.0)
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-10 * float(np.max(np.abs(b))))


SAME_LAPACK = _numpy_and_scipy_share_lapack()

N = 1600
UNIT = 8 * N * N
TILES = 4 * 2**20 + 32 * 8 * N   # two 512 x 512 tiles, and O(n) vectors (eigenvalues, dsyevd's 6n + 1)


def _peak(f):
    """(result, peak bytes allocated during ``f()`` above the start)."""
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        r = f()
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    return r, peak


@pytest.fixture(scope="module")
def gram():
    rng = np.random.default_rng(12)
    X = rng.standard_normal((N, 30))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    H = first_layer_ntk(X)
    y = np.where(rng.standard_normal(N) > 0, 1.0, -1.0)
    return H, y


@pytest.fixture(scope="module")
def reference(gram):
    H, _ = gram
    w, V = np.linalg.eigh(H)  # what spectrum() called before (numpy's syevd)
    return w, V


def test_spectrum_memory_and_numbers(gram, reference):
    H, _ = gram
    w, V = reference
    H0 = H.copy()
    sp, peak = _peak(lambda: spectrum(H))
    np.testing.assert_array_equal(H, H0)                         # H untouched
    _same_numbers(sp.eigenvalues, w[::-1])
    _same_numbers(sp.eigenvectors, V[:, ::-1])   # bit for bit (one LAPACK build), and the same layout
    assert sp.eigenvectors.strides == V[:, ::-1].strides
    assert peak <= 3 * UNIT + TILES, peak / UNIT                  # the copy + dsyevd's 2n² workspace

    B = H.copy()
    sp, peak = _peak(lambda: spectrum(B, overwrite=True))
    assert np.shares_memory(sp.eigenvectors, B)                   # the eigenvectors live in H's memory
    _same_numbers(sp.eigenvalues, w[::-1])
    _same_numbers(sp.eigenvectors, V[:, ::-1])
    assert peak <= 2 * UNIT + TILES <= 2.3 * UNIT, peak / UNIT     # issue 12's target
    # mathematics: H V = V diag(w), VᵀV = I
    Vd = sp.eigenvectors
    assert np.abs(H @ Vd - Vd * sp.eigenvalues).max() <= 1e-10 * sp.lambda_max
    assert np.abs(Vd.T @ Vd - np.eye(N)).max() <= 1e-11


def test_spectrum_eigenvalues_only(gram, reference):
    H, _ = gram
    wv = np.linalg.eigvalsh(H)
    sp, peak = _peak(lambda: spectrum(H, vectors=False))
    _same_numbers(sp.eigenvalues, wv[::-1])
    assert peak <= UNIT + TILES
    B = H.copy()
    sp, peak = _peak(lambda: spectrum(B, vectors=False, overwrite=True))
    _same_numbers(sp.eigenvalues, wv[::-1])
    assert peak <= TILES
    np.testing.assert_allclose(sp.eigenvalues, reference[0][::-1], rtol=0, atol=1e-12 * sp.lambda_max)


def test_spectrum_evr_is_lean_and_agrees_to_rounding(gram, reference):
    H, _ = gram
    w, V = reference
    sp, peak = _peak(lambda: spectrum(H, driver="evr"))
    assert peak <= 2 * UNIT + TILES
    B = H.copy()
    sp2, peak2 = _peak(lambda: spectrum(B, driver="evr", overwrite=True))
    assert peak2 <= UNIT + TILES
    np.testing.assert_array_equal(sp.eigenvalues, sp2.eigenvalues)
    np.testing.assert_allclose(sp.eigenvalues, w[::-1], rtol=0, atol=1e-12 * w[-1])
    Vd = sp.eigenvectors
    assert np.abs(H @ Vd - Vd * sp.eigenvalues).max() <= 1e-10 * sp.lambda_max
    assert np.abs(Vd.T @ Vd - np.eye(N)).max() <= 1e-11
    with pytest.raises(InputError, match="driver"):
        spectrum(H, driver="ev")


def test_spectrum_uses_the_lower_triangle_like_numpy():
    """An inexactly symmetric input (within the symmetry check's tolerance) gives numpy's numbers: both
    read the lower triangle, even though dsyevd runs on the transposed (Fortran) view."""
    rng = np.random.default_rng(3)
    A = rng.standard_normal((300, 8))
    H = A @ A.T + np.eye(300)
    H[4, 250] += 1e-13        # upper triangle only
    H[251, 5] -= 2e-13        # lower triangle only
    w, V = np.linalg.eigh(H)
    for ow in (False, True):
        sp = spectrum(H.copy(), overwrite=ow)
        _same_numbers(sp.eigenvalues, w[::-1])
        if SAME_LAPACK:
            _same_numbers(sp.eigenvectors, V[:, ::-1])
        else:  # eigenvalue 1 has multiplicity 292: its eigenvectors are any basis; compare the matrix they make
            Vs = sp.eigenvectors
            np.testing.assert_allclose((Vs * sp.eigenvalues) @ Vs.T, (V * w) @ V.T, rtol=0, atol=1e-10 * w[-1])
    # a float32 or list input is converted once, and that private copy is factored in place
    H32 = H.astype(np.float32)
    _same_numbers(spectrum(H32).eigenvalues, np.linalg.eigh(H32.astype(np.float64))[0][::-1])


def test_complexity_memory_and_numbers(gram):
    H, y = gram
    H0 = H.copy()
    ref, peak = _peak(lambda: complexity(H, y, method="dense"))
    np.testing.assert_array_equal(H, H0)
    assert peak <= UNIT + TILES <= 1.3 * UNIT, peak / UNIT        # the copy that becomes the factor
    B = H.copy()
    c, peak = _peak(lambda: complexity(B, y, method="dense", overwrite=True))
    assert peak <= TILES, peak / UNIT                             # in place on the Fortran view
    assert c == ref                                               # every field, bit for bit
    # mathematics: yᵀH⁻¹y against a solve by LU
    q = float(y @ np.linalg.solve(H, y))
    assert abs(c.yHy - q) <= 1e-8 * q
    c_r = complexity(H.copy(), y, method="dense", overwrite=True, ridge=1e-3)
    assert c_r == complexity(H, y, method="dense", ridge=1e-3)
    # the Krylov path never touches H, with or without overwrite
    ck = complexity(H, y, method="krylov", overwrite=True)
    np.testing.assert_array_equal(H, H0)
    assert ck.yHy_lower <= q * (1 + 1e-9) and q <= ck.yHy_upper * (1 + 1e-9)


def test_overwritten_singular_kernel_still_raises_cleanly():
    from twolayer import SingularKernelError

    X = np.random.default_rng(0).standard_normal((50, 4))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    X[7] = X[3]
    H = first_layer_ntk(X)
    with pytest.raises(SingularKernelError, match="3 and 7"):
        KernelSolver(H)
    with pytest.raises(SingularKernelError):      # H destroyed: no rows named, still a clear error
        KernelSolver(H.copy(), overwrite=True)


def test_syevd_refuses_where_the_32_bit_workspace_would_overflow(monkeypatch):
    """Above :data:`SYEVD_MAX_N` (n = 32,766: ``1 + 6n + 2n²`` doubles ≤ 2³¹ − 1) dsyevd with vectors is refused;
    tested with the threshold lowered, no large allocation."""
    n = 32_766
    assert 1 + 6 * n + 2 * n * n <= 2**31 - 1 < 1 + 6 * (n + 1) + 2 * (n + 1) ** 2
    assert _linalg.SYEVD_MAX_N == n
    A = np.random.default_rng(1).standard_normal((40, 40))
    H = A @ A.T + np.eye(40)
    monkeypatch.setattr(_linalg, "SYEVD_MAX_N", 39)
    with pytest.raises(OverflowError, match="32-bit"):
        syevd_inplace(H.copy())
    _same_numbers(syevd_inplace(H.copy(), vectors=False), np.linalg.eigvalsh(H))
    monkeypatch.setattr(spectra_mod, "_numpy_lapack_ilp64", lambda: False)
    with pytest.raises(InputError, match="top_eigenpairs"):
        spectrum(H)
    _same_numbers(spectrum(H, vectors=False).eigenvalues, np.linalg.eigvalsh(H)[::-1])
    monkeypatch.setattr(spectra_mod, "_numpy_lapack_ilp64", lambda: True)   # numpy's 64-bit LAPACK takes over
    w, V = np.linalg.eigh(H)
    sp = spectrum(H)
    _same_numbers(sp.eigenvalues, w[::-1])
    _same_numbers(sp.eigenvectors, V[:, ::-1])


def test_syevd_releases_the_interpreter():
    """The ctypes call lets another Python thread run meanwhile (what makes Ctrl-C act at once)."""
    A = np.random.default_rng(2).standard_normal((1000, 1000))
    B = A @ A.T
    ticks, stop = [0], threading.Event()

    def spin():
        while not stop.is_set():
            ticks[0] += 1
            time.sleep(0.001)

    t = threading.Thread(target=spin)
    t.start()
    try:
        time.sleep(0.01)
        before = ticks[0]
        syevd_inplace(B)
        during = ticks[0] - before
    finally:
        stop.set()
        t.join()
    assert during >= 3


@pytest.mark.parametrize("n,tile", [(1, 4), (23, 7), (64, 16), (37, 512)])
def test_tile_helpers(n, tile):
    A = np.random.default_rng(n).standard_normal((n, n))
    B = A.copy()
    transpose_inplace(B, tile=tile)
    np.testing.assert_array_equal(B, A.T)
    B = A.copy()
    mirror_lower(B, tile=tile)
    L = np.tril(A)
    np.testing.assert_array_equal(B, L + np.tril(A, -1).T)
    with pytest.raises(ValueError):
        syevd_inplace(np.asfortranarray(A) if n > 1 else A[:, :0])

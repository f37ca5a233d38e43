"""Kernel operators (twolayer.kernels.operator): products within the documented bound, bounded memory,
Krylov instruments through every storage, a user's own operator."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from twolayer import InputError, krylov
from twolayer.bounds import complexity
from twolayer.kernels import KernelOperator, first_layer_ntk, make_operator, two_layer_ntk

from ._helpers import sphere

STORAGES = ("dense64", "dense32", "memmap", "matrix-free")


def _data(n=600, d=12, seed=0, scale=None):
    X = sphere(n, d, seed=seed)
    if scale is not None:
        X = X * scale[:, None]
    y = np.where(X[:, 0] + 0.3 * X[:, 1] >= 0, 1.0, -1.0)
    return X, y


@pytest.mark.parametrize("storage", STORAGES)
@pytest.mark.parametrize("kind", ["first-layer", "two-layer"])
def test_products_agree_with_the_float64_matrix_within_the_documented_bound(storage, kind, tmp_path):
    n = 1500 if kind == "first-layer" else 700
    rng = np.random.default_rng(3)
    scale = rng.uniform(0.5, 2.0, n) if kind == "two-layer" else None  # non-unit rows: the scaled path
    X, _ = _data(n, 10, scale=scale)
    H = (first_layer_ntk if kind == "first-layer" else two_layer_ntk)(X)
    op = make_operator(X, kind, storage, directory=str(tmp_path), block_size=97, n_jobs=2)
    assert op.shape == (n, n) and op.dtype == np.float64 and op.storage == storage
    V = rng.standard_normal((n, 3))
    exact = (H.astype(np.longdouble) @ V.astype(np.longdouble)).astype(np.float64)  # ~exact product of Ĥ
    got = op.matmat(V)
    # |fl(SV) − HV| ≤ bound; Ĥ (the float64 build) is itself within build_error of H
    tol = op.product_error_bound(V) + op.build_error * np.abs(V).sum(axis=0)
    assert np.all(np.abs(got - exact) <= tol)
    assert np.allclose(op.matvec(V[:, 0]), got[:, 0], rtol=0, atol=1e-14 * np.abs(got).max())
    assert np.all(np.abs(op.diagonal() - np.diag(H)) <= op.unit_error * np.abs(np.diag(H)))
    assert np.allclose(op.rows([0, 5, n - 1]), H[[0, 5, n - 1]], rtol=2**-23, atol=10 * op.build_error)
    if storage == "dense32" or storage == "memmap":
        assert op.unit_error == 2.0**-24
        assert np.abs(got - exact).max() > 1e-12  # the float32 storage is really used (the bound is not vacuous)
    op.close()


def test_the_bound_is_not_loose_by_orders_of_magnitude_for_float32():
    X, _ = _data(800, 10)
    H = first_layer_ntk(X)
    op = make_operator(X, storage="dense32")
    v = np.random.default_rng(0).standard_normal(800)
    err = np.abs(op.matvec(v) - H @ v)
    bound = op.product_error_bound(v)
    assert np.all(err <= bound)
    assert err.max() > 1e-3 * bound.max()


def test_memmap_file_is_removed_and_disk_is_checked(tmp_path):
    X, _ = _data(200, 5)
    op = make_operator(X, storage="memmap", directory=str(tmp_path))
    assert op.path is not None and (tmp_path / op.path.split("/")[-1]).exists()
    op.close()
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("storage", ["memmap", "matrix-free"])
def test_memmap_and_matrix_free_use_bounded_memory(storage, tmp_path):
    n = 3000
    X, _ = _data(n, 6)
    v = np.random.default_rng(0).standard_normal(n)
    tracemalloc.start()
    try:
        op = make_operator(X, storage=storage, directory=str(tmp_path), block_size=64, n_jobs=1)
        build_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        op.matvec(v)
        product_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert build_peak < 0.3 * 8 * n * n
    assert product_peak < 0.1 * 8 * n * n
    op.close()


def test_auto_chooses_from_the_memory_estimate_and_records_it(tmp_path):
    X, _ = _data(400, 5)
    big = make_operator(X)
    assert big.storage == "dense64" and big.choice["requested"] == "auto"
    est = big.choice["estimates"]
    ws = 8 * 400 * 1002
    # room for float32 but not float64
    mid = make_operator(X, memory=est["dense32"] + ws, directory=str(tmp_path))
    if est["dense32"] < est["dense64"]:
        assert mid.storage == "dense32"
    tiny = make_operator(X, memory=1000, directory=str(tmp_path))
    assert tiny.storage == "memmap" and "room" in tiny.choice["reason"]
    tiny.close()
    with pytest.raises(InputError, match="storage must be one of"):
        make_operator(X, storage="float16")


def test_auto_picks_float32_when_only_it_fits():
    n = 5000  # float32 estimate below float64 here
    X, _ = _data(n, 4)
    from twolayer.kernels import estimate_operator_memory

    lim = estimate_operator_memory(n, 4, "dense32") + 8 * n * 1002
    assert lim < estimate_operator_memory(n, 4, "dense64") + 8 * n * 1002
    op = make_operator(X, memory=lim)
    assert op.storage == "dense32" and "float32 fits" in op.choice["reason"]


@pytest.mark.parametrize("storage", STORAGES)
def test_complexity_trajectory_and_top_k_agree_with_dense_within_their_intervals(storage, tmp_path):
    X, y = _data(1200, 12, seed=1)
    H = first_layer_ntk(X)
    op = make_operator(X, storage=storage, directory=str(tmp_path), block_size=128)
    # exact reference (dense): y^T H^-1 y and the eigendecomposition
    w, V = np.linalg.eigh(H)
    yHy = float(((V.T @ y) ** 2 / w).sum())
    c = complexity(op, y, method="krylov", tol=1e-8)
    assert c.method == "krylov" and c.converged
    # Weyl/perturbation slack of the stored matrix: |y^T S^-1 y − y^T H^-1 y| <= ||E|| ||S^-1 y|| ||H^-1 y||
    E = op.unit_error * float(np.abs(H).sum(axis=1).max()) + 1200 * 2 * op.build_error
    x = np.linalg.solve(H, y)
    slack = 1.01 * E * float(x @ x) / (1 - E / w[0])
    assert c.yHy_lower - slack <= yHy <= c.yHy_upper + slack
    auto = complexity(op, y)  # auto with an operator: the Krylov path
    assert auto.method == "krylov"
    with pytest.raises(InputError, match="operator"):
        complexity(op, y, method="dense")

    ks = np.array([0, 1, 10, 100, 1000, 10000])
    lr = 1.0 / op.gershgorin_upper()
    t = krylov.trajectory(op, y, ks, lr, lambda_max_upper=op.gershgorin_upper(), tol=1e-8)
    p = V.T @ y
    true = 0.5 * ((1 - lr * w[None, :]) ** (2 * ks[:, None]) * p**2).sum(axis=1)
    tslack = 2 * lr * E * ks * true + 1e-12 * float(y @ y)  # d/dS of (1 − ηλ)^{2k}: 2kη per unit of ||E||
    assert t.converged and t.upper_certified
    assert np.all(t.lower - tslack <= true) and np.all(true <= t.upper + tslack)

    e = krylov.top_eigenpairs(op, 5, y=y)
    top = w[::-1][:5]
    assert np.all(np.abs(e.eigenvalues - top) <= e.residuals + E)
    op.close()


def test_quadratic_form_error_covers_the_storage_change_and_is_nearly_attained():
    """|yᵀS⁻¹y − yᵀH⁻¹y| ≤ quadratic_form_error for the float32-rounded kernel (dense check), and
    for the worst entrywise perturbation allowed, E_ij = u|H_ij| sign(w_i z_j), the bound is
    attained to first order: claiming half the unit error then fails to cover it (negative control)."""
    X, y = _data(300, 8, seed=3)
    H = first_layer_ntk(X)
    qH = float(y @ np.linalg.solve(H, y))
    lam = float(np.linalg.eigvalsh(H)[0])
    S32 = H.astype(np.float32)
    op = KernelOperator.from_matrix(S32)
    S = S32.astype(np.float64)
    z = np.linalg.solve(S, y)
    delta = op.quadratic_form_error(z, 0.0, 0.99 * lam)
    assert abs(float(y @ z) - qH) <= delta < 1e-3 * qH
    # through complexity(): the widened interval holds yᵀH⁻¹y
    c = complexity(op, y, method="krylov", tol=1e-9)
    assert c.storage_error > 0 and c.yHy_lower - c.storage_error <= qH <= c.yHy_upper + c.storage_error
    # the worst case: S = H + E with |E_ij| = u|H_ij| signed to align with w = H⁻¹y, z = S⁻¹y
    u = 1e-6
    w = np.linalg.solve(H, y)
    E = u * np.abs(H) * np.sign(np.outer(w, w))
    Sw = H + E
    zw = np.linalg.solve(Sw, y)
    change = abs(float(y @ zw) - qH)
    worst = KernelOperator(n=300, storage="dense64", matrix=Sw, unit_error=u / (1 + u))
    bound = worst.quadratic_form_error(zw, 0.0, 0.99 * lam)
    assert change <= bound <= 1.5 * change
    half = KernelOperator(n=300, storage="dense64", matrix=Sw, unit_error=u / 2)
    assert half.quadratic_form_error(zw, 0.0, 0.99 * lam) < change
    # exact float64 storage without a build error: no change to bound
    assert KernelOperator.from_matrix(H).quadratic_form_error(w, 0.0, lam) == 0.0


class RBF:
    """A user's own kernel: exp(-|x - z|^2 / (2 s^2)), recomputed on the fly (shape + matvec only)."""

    def __init__(self, X, s=1.0):
        self.X, self.s = X, s
        self.shape = (X.shape[0], X.shape[0])
        self.calls = 0

    def matvec(self, v):
        self.calls += 1
        sq = (self.X**2).sum(axis=1)
        D = sq[:, None] + sq[None, :] - 2 * self.X @ self.X.T
        return np.exp(-np.maximum(D, 0) / (2 * self.s**2)) @ v


def test_a_user_defined_operator_works_in_complexity_trajectory_and_top_k():
    X, y = _data(300, 3, seed=2)
    K = RBF(X, 0.5)
    Kd = K.matvec(np.eye(300))
    ridge = 1e-3
    exact = float(y @ np.linalg.solve(Kd + ridge * np.eye(300), y))
    c = complexity(K, y, ridge=ridge, tol=1e-9)
    assert c.method == "krylov" and c.preconditioner == "none" and K.calls > 0
    assert c.upper_certified and c.yHy_lower <= exact * (1 + 1e-10) and exact <= c.yHy_upper * (1 + 1e-10)
    with pytest.raises(InputError, match="rows of H"):
        complexity(K, y, ridge=ridge, precondition=10)
    w, V = np.linalg.eigh(Kd)
    t = krylov.trajectory(K, y, [0, 5, 50], 0.5 / w[-1], lambda_max_upper=float(np.abs(Kd).sum(1).max()))
    true = 0.5 * ((1 - 0.5 / w[-1] * w[None, :]) ** (2 * np.array([0, 5, 50])[:, None]) * (V.T @ y) ** 2).sum(1)
    assert np.all(t.lower <= true * (1 + 1e-9)) and np.all(true <= t.upper * (1 + 1e-9))
    e = krylov.top_eigenpairs(K, 3)
    assert np.all(np.abs(e.eigenvalues - w[::-1][:3]) <= e.residuals + 1e-10)


def test_from_matrix_and_aslinearoperator():
    X, y = _data(300, 5)
    H = first_layer_ntk(X)
    op = KernelOperator.from_matrix(H.astype(np.float32))
    assert op.storage == "dense32"
    L = op.aslinearoperator()
    v = np.ones(300)
    assert np.allclose(L @ v, H @ v, rtol=1e-6)
    assert np.all(np.abs(L.matvec(v) - H @ v) <= op.product_error_bound(v) + 1e-15)
    with pytest.raises(InputError):
        KernelOperator.from_matrix(np.zeros((3, 4)))
    op64 = KernelOperator.from_matrix(H)
    assert np.array_equal(op64.matvec(v), H @ v) and np.array_equal(op64.todense(), H @ np.eye(300))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_products_are_bit_identical_across_thread_counts_and_exact_in_float64(dtype):
    """Fixed row blocks: ``n_jobs`` = 1, 2, 3 give the same bits; a float32 block widened into the
    reused buffer gives exactly ``S.astype(float64) @ V`` computed block by block (no stale rows)."""
    n = 301
    rng = np.random.default_rng(7)
    S = rng.standard_normal((n, n)).astype(dtype)
    S = (S + S.T) / 2
    V = rng.standard_normal((n, 5))
    out = {}
    for jobs in (1, 2, 3):
        op = KernelOperator(n=n, storage="dense32", matrix=S, n_jobs=jobs, block_bytes=8 * n * 16)  # 16-row blocks
        out[jobs] = (op.matvec(V[:, 0]), op.matmat(V), op.abs_matmat(V))
    for jobs in (2, 3):
        for a, b in zip(out[1], out[jobs]):
            assert np.array_equal(a, b)
    S64 = S.astype(np.float64)
    ref = np.vstack([S64[r:r + 16] @ V for r in range(0, n, 16)])
    assert np.allclose(out[1][1], ref, rtol=0, atol=1e-12)
    assert np.allclose(out[1][2], np.abs(S64) @ V, rtol=0, atol=1e-12)

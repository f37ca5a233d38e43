"""Krylov instruments against dense linear algebra and against the quadrature theorems they rest on.

References are independent of the code under test: ``numpy``/``scipy`` ``eigh`` and
``cho_solve``, a plain Lanczos written here, and closed forms (``½‖(I − ηH)^k r‖²`` by repeated
products for small ``k``). The theorems checked at every iteration: Gauss ≤ ``yᵀH⁻¹y`` ≤
Gauss–Radau for a node ``a ≤ λ_min`` (Golub & Meurant 2010, Thm 6.4 / §12.3).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.linalg as sla
from scipy.sparse.linalg import aslinearoperator

from twolayer import bounds as B
from twolayer import krylov as KR
from twolayer._errors import InputError, SingularKernelError
from twolayer.cli import main
from twolayer.data import load
from twolayer.kernels import first_layer_ntk
from twolayer.spectra import spectrum

EPS = np.finfo(float).eps


def _spd(n: int, kappa: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Random SPD matrix with eigenvalues log-spaced in [1, kappa], and its eigenvalues (ascending)."""
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    w = np.logspace(0, np.log10(kappa), n)
    H = (Q * w) @ Q.T
    return (H + H.T) / 2, w


def _labels(n: int, seed: int) -> np.ndarray:
    return np.where(np.random.default_rng(seed).random(n) < 0.5, -1.0, 1.0)


@pytest.fixture(scope="module")
def digits_ntk():
    """H∞ of all 1,797 unit-norm digits (κ ≈ 3.5e4), parity labels, and its dense eigendecomposition."""
    ds = load("digits", classes=tuple(range(10)), n_test=0)
    H = first_layer_ntk(ds.X)
    y = np.where(np.arange(ds.n) % 2 == 0, 1.0, -1.0)
    w, V = np.linalg.eigh(H)
    return H, y, w, V


def _true_quad(H, y, ridge=0.0):
    A = H + ridge * np.eye(H.shape[0]) if ridge else H
    return float(y @ sla.cho_solve(sla.cho_factor(A), y))


# --------------------------------------------------------------------------- quadratic_form
@pytest.mark.parametrize("kappa", [10.0, 1e4])
@pytest.mark.parametrize("certified", [False, True])
def test_quadratic_form_interval_contains_the_dense_value_and_meets_tol(kappa, certified):
    H, w = _spd(200, kappa, seed=1)
    y = _labels(200, seed=2)
    true = _true_quad(H, y)
    q = KR.quadratic_form(H, y, tol=1e-8, lambda_min_lower=w[0] * (1 - 1e-9) if certified else None)
    assert q.converged and q.upper_certified is certified
    assert q.lower <= true * (1 + 1e-12) and true <= q.upper * (1 + 1e-12)
    assert (q.upper - q.lower) / q.lower <= 1e-8
    assert abs(q.value - true) <= 0.5 * (q.upper - q.lower) * (1 + 1e-6) + 1e-13 * true
    assert q.lambda_min >= w[0] * (1 - 1e-10) and q.lambda_max <= w[-1] * (1 + 1e-10)  # Ritz values: one-sided


@pytest.mark.parametrize("kappa", [30.0, 1e5])
def test_gauss_lower_and_radau_upper_bound_the_value_at_every_iteration(kappa):
    """The theorem, not just the final interval: with a node a <= lambda_min every iterate brackets the value."""
    H, w = _spd(150, kappa, seed=3)
    y = np.random.default_rng(4).standard_normal(150)
    true = _true_quad(H, y)
    for a in (w[0], 0.5 * w[0], 1e-3 * w[0]):
        q = KR.quadratic_form(H, y, tol=1e-10, lambda_min_lower=a)
        assert q.upper_certified and q.iterations >= 3
        assert np.all(q.lower_history <= true * (1 + 1e-12))
        assert np.all(q.upper_history >= true * (1 - 1e-12))
        assert np.all(np.diff(q.lower_history) >= -1e-14 * true)  # Gauss bounds increase
        assert np.all(np.diff(q.upper_history) <= 1e-12 * true)  # Radau bounds (fixed node) decrease


def _plain_lanczos(H, r, m):
    """Lanczos with full reorthogonalization, written independently: (alpha, beta) of T_m and beta_{m+1}."""
    Q = [r / np.linalg.norm(r)]
    alpha, beta = [], []
    for j in range(m):
        v = H @ Q[j]
        alpha.append(Q[j] @ v)
        for q in Q:
            v = v - (q @ v) * q
        for q in Q:
            v = v - (q @ v) * q
        beta.append(np.linalg.norm(v))
        Q.append(v / beta[-1])
    return np.array(alpha), np.array(beta)


def test_the_cg_radau_recurrence_is_the_radau_rule_of_the_bordered_jacobi_matrix():
    """upper_k = ‖y‖² e₁ᵀ T̃⁻¹ e₁ with T̃ the Jacobi matrix bordered so that a is an eigenvalue (definition)."""
    H, w = _spd(80, 1e3, seed=5)
    y = np.random.default_rng(6).standard_normal(80)
    a = 0.7 * w[0]
    q = KR.quadratic_form(H, y, tol=1e-12, lambda_min_lower=a, maxiter=12)
    al, be = _plain_lanczos(H, y, 12)
    for k in range(1, 12):
        T = np.diag(al[:k]) + np.diag(be[:k - 1], 1) + np.diag(be[:k - 1], -1)
        e = np.zeros(k)
        e[-1] = 1.0
        delta = np.linalg.solve(T - a * np.eye(k), be[k - 1] ** 2 * e)
        Tt = np.zeros((k + 1, k + 1))
        Tt[:k, :k] = T
        Tt[k, k - 1] = Tt[k - 1, k] = be[k - 1]
        Tt[k, k] = a + delta[-1]
        assert np.min(np.linalg.eigvalsh(Tt)) == pytest.approx(a, rel=1e-8)
        radau = float(y @ y) * np.linalg.inv(Tt)[0, 0]
        gauss = float(y @ y) * np.linalg.inv(T)[0, 0]
        assert q.upper_history[k - 1] == pytest.approx(radau, rel=1e-8)
        assert q.lower_history[k - 1] == pytest.approx(gauss, rel=1e-10)


def test_quadratic_form_on_the_digits_ntk_gram(digits_ntk):
    H, y, w, _ = digits_ntk
    true = _true_quad(H, y)
    for kw in ({}, {"precondition": 100}, {"lambda_min_lower": w[0] * (1 - 1e-9)},
               {"precondition": 60, "lambda_min_lower": w[0] * (1 - 1e-9)}):
        q = KR.quadratic_form(H, y, tol=1e-6, **kw)
        assert q.converged and q.lower <= true * (1 + 1e-12) <= q.upper * (1 + 2e-12), kw
        assert abs(q.value - true) / true <= 1e-6
        assert q.upper_certified is ("lambda_min_lower" in kw)
        if "precondition" in kw:
            assert q.preconditioner.startswith("rpcholesky") and q.iterations < 60
        if q.upper_certified:  # the theorem on a real NTK Gram: every iterate brackets the value
            assert np.all(q.lower_history <= true * (1 + 1e-12)) and np.all(q.upper_history >= true * (1 - 1e-12))
        assert q.lambda_min >= w[0] * (1 - 1e-9) and q.lambda_max <= w[-1] * (1 + 1e-12)


def test_preconditioned_certified_node_is_below_lambda_min_of_the_preconditioned_operator(digits_ntk):
    """a/(a + σ) ≤ λ_min(P⁻¹H) for P = FFᵀ + σI with FFᵀ ⪯ H (the module's derivation), checked densely."""
    H, y, w, _ = digits_ntk
    F, d = KR.rpcholesky(H, 80, seed=3)
    sigma = d.sum() / H.shape[0]
    assert np.linalg.eigvalsh(H - F @ F.T)[0] >= -1e-10 * w[-1]  # Nyström residual is PSD
    lam = sla.eigh(H, F @ F.T + sigma * np.eye(H.shape[0]), eigvals_only=True)[0]
    assert w[0] / (w[0] + sigma) <= lam
    true = _true_quad(H, y)
    q = KR.quadratic_form(H, y, tol=1e-8, lambda_min_lower=w[0], precondition=80, seed=3)
    assert q.upper_certified and np.all(q.lower_history <= true * (1 + 1e-12))
    assert np.all(q.upper_history >= true * (1 - 1e-12))


def test_negative_control_a_wrong_lambda_min_bound_is_refuted_and_not_certified(digits_ntk):
    H, y, w, _ = digits_ntk
    true = _true_quad(H, y)
    for wrong in (2.0 * w[0], 10.0 * w[0], 2.0 * w[-1]):
        q = KR.quadratic_form(H, y, lambda_min_lower=wrong)
        assert not q.upper_certified and "refuted" in q.lambda_source
        assert q.lower <= true <= q.upper * (1 + 1e-12)  # the fallback estimate still brackets it here
    # the certified path with the right bound, for contrast
    assert KR.quadratic_form(H, y, lambda_min_lower=w[0] * (1 - 1e-9)).upper_certified


class _TwoProducts:
    """``H`` with an exact float64 ``matvec`` and a separate "fast" product ``matvec_float32``
    (here any function), to show what the mixed path trusts: only the float64 residuals."""

    symmetric = True

    def __init__(self, H, fast):
        self.H, self.shape, self._fast = H, H.shape, fast
        self.fast_calls = 0

    def matvec(self, v):
        return self.H @ v

    def matvec_float32(self, v):
        self.fast_calls += 1
        return self._fast(v)


def _float32_product(S32):
    return lambda v: (S32 @ np.asarray(v, dtype=np.float32)).astype(np.float64)


@pytest.mark.parametrize("pc", [None, 60])
def test_mixed_precision_interval_contains_the_value_of_the_stored_matrix(digits_ntk, pc):
    """float32 storage, float32 iterations, float64 residuals: the interval holds yᵀS⁻¹y of the
    stored (float32-rounded) S on the ill-conditioned digits Gram (κ ≈ 3.5e4 ≈ 1/(500 u₃₂)) and
    meets tol; the float64 iteration on the same operator gives an overlapping interval."""
    from twolayer.kernels import KernelOperator

    H, y, w, _ = digits_ntk
    S32 = H.astype(np.float32)
    true = _true_quad(S32.astype(np.float64), y)
    op = KernelOperator.from_matrix(S32)
    for tol in (1e-6, 1e-9):
        q = KR.quadratic_form(op, y, tol=tol, precondition=pc)
        assert q.products == "mixed" and q.refinements >= 1 and q.converged
        assert q.lower <= true * (1 + 1e-12) and true <= q.upper * (1 + 1e-12), tol
        assert (q.upper - q.lower) <= tol * q.lower
        q64 = KR.quadratic_form(op, y, tol=tol, precondition=pc, mixed=False)
        assert q64.products == "float64" and q64.refinements == 0
        assert max(q.lower, q64.lower) <= min(q.upper, q64.upper) * (1 + 1e-12)
    # a proven lambda_min bound certifies the mixed interval as it does the float64 one
    q = KR.quadratic_form(op, y, lambda_min_lower=np.linalg.eigvalsh(S32.astype(np.float64))[0] * (1 - 1e-9))
    assert q.products == "mixed" and q.upper_certified and q.lower <= true * (1 + 1e-12) <= q.upper * (1 + 2e-12)


def test_mixed_precision_bounds_rest_on_the_float64_residual_not_on_the_fast_product():
    """Negative controls for the fast product. A product 1e-3 off (a perturbed symmetric matrix)
    still yields an interval containing the true value (more refinement passes); one that is
    not even positive (-Hv) is detected and the float64 iteration takes over."""
    H, _ = _spd(300, 50.0, seed=21)
    y = _labels(300, seed=22)
    true = _true_quad(H, y)
    E = np.random.default_rng(23).standard_normal((300, 300))
    off = H + 1e-3 * np.linalg.norm(H, 2) * (E + E.T) / np.linalg.norm(E + E.T, 2)
    op = _TwoProducts(H, lambda v: off @ v)
    q = KR.quadratic_form(op, y, tol=1e-10)
    assert q.products == "mixed" and q.converged and q.refinements >= 2 and op.fast_calls > 0
    assert q.lower <= true * (1 + 1e-12) <= q.upper * (1 + 1e-12)
    hostile = _TwoProducts(H, lambda v: -(H @ v))
    q = KR.quadratic_form(hostile, y, tol=1e-8)
    assert q.products == "float64" and q.converged and q.lower <= true * (1 + 1e-12) <= q.upper * (1 + 1e-12)
    # the exact product through the fast path: one pass suffices and the bounds are tight
    exact = _TwoProducts(H, _float32_product(H.astype(np.float32)))
    q = KR.quadratic_form(exact, y, tol=1e-8)
    assert q.products == "mixed" and abs(q.value - true) <= 1e-8 * true
    with pytest.raises(InputError, match="mixed=True needs an operator with a matvec_float32"):
        KR.quadratic_form(H, y, mixed=True)


def test_complexity_of_a_float32_operator_is_mixed_and_recorded():
    from twolayer.kernels.operator import make_operator

    rng = np.random.default_rng(5)
    X = rng.standard_normal((1200, 30))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    y = np.sign(X[:, 0])
    op = make_operator(X, storage="dense32")
    c = B.complexity(op, y, method="krylov", tol=1e-7)
    ref = B.complexity(first_layer_ntk(X), y, method="dense")
    assert c.products == "mixed" and c.refinements >= 1 and c.converged
    assert c.complexity_lower * (1 - 1e-6) <= ref.complexity <= c.complexity_upper * (1 + 1e-6)
    assert B.complexity(op, y, method="krylov", mixed=False).products == "float64"
    assert make_operator(X, storage="dense64").matvec_float32 is None


def test_a_ridge_is_a_certified_lambda_min_bound():
    H, w = _spd(120, 1e3, seed=7)
    H = H - (w[0] - 1e-6) * np.eye(120)  # lambda_min = 1e-6: nearly singular
    y = _labels(120, seed=8)
    q = KR.quadratic_form(H, y, ridge=0.05, tol=1e-8)
    true = _true_quad(H, y, ridge=0.05)
    assert q.upper_certified and "ridge" in q.lambda_source and q.lambda_min_bound == 0.05
    assert q.lower <= true * (1 + 1e-12) and true <= q.upper * (1 + 1e-12)


def test_a_linear_operator_gives_the_array_result():
    H, _ = _spd(100, 100.0, seed=9)
    y = _labels(100, seed=10)
    qa = KR.quadratic_form(H, y, tol=1e-9)
    qo = KR.quadratic_form(aslinearoperator(H), y, tol=1e-9)
    assert qo.iterations == qa.iterations and qo.value == pytest.approx(qa.value, rel=1e-12)
    with pytest.raises(InputError, match="explicit array"):
        KR.quadratic_form(aslinearoperator(H), y, precondition=10)


def test_quadratic_form_input_errors():
    H, _ = _spd(20, 10.0, seed=11)
    y = np.ones(20)
    with pytest.raises(InputError, match="square"):
        KR.quadratic_form(H[:, :5], y)
    A = H.copy()
    A[0, 1] += 1.0
    with pytest.raises(InputError, match="not symmetric"):
        KR.quadratic_form(A, y)
    with pytest.raises(InputError, match="all zeros"):
        KR.quadratic_form(H, np.zeros(20))
    with pytest.raises(InputError, match="tol"):
        KR.quadratic_form(H, y, tol=0)
    with pytest.raises(InputError, match="lambda_min_lower"):
        KR.quadratic_form(H, y, lambda_min_lower=-1.0)
    X = np.vstack([np.eye(5)[:4], np.eye(5)[:1]])  # a duplicate row: H∞ singular
    with pytest.raises(SingularKernelError, match="ridge"):
        KR.quadratic_form(X @ X.T, np.arange(1.0, 6.0))


def test_no_eigendecomposition_or_factorization_of_h_is_made(monkeypatch, digits_ntk):
    H, y, w, _ = digits_ntk
    n = H.shape[0]

    def refuse(name, f):
        def g(a, *args, **kw):
            if np.ndim(a) == 2 and np.shape(a)[0] >= n:
                raise AssertionError(f"{name} called on the n x n matrix")
            return f(a, *args, **kw)
        return g

    for mod, names in ((np.linalg, ("eigh", "eigvalsh", "cholesky")), (sla, ("eigh", "eigvalsh", "cho_factor"))):
        for name in names:
            monkeypatch.setattr(mod, name, refuse(name, getattr(mod, name)))
    KR.quadratic_form(H, y)
    KR.trajectory(H, y, [1, 10, 100], 1.0 / w[-1])
    KR.extreme(H, maxiter=30)


# --------------------------------------------------------------------------- trajectory
def _dense_loss(w, V, r, steps, eta, flow=False, normalization="sum"):
    n = len(w)
    e = eta / n if normalization == "mean" else eta
    p2 = (V.T @ r) ** 2
    k = np.asarray(steps, float)[:, None]
    f = np.exp(-2 * e * k * w[None, :]) if flow else ((1 - e * w[None, :]) ** 2) ** k
    loss = 0.5 * f @ p2
    return loss / n if normalization == "mean" else loss


@pytest.mark.parametrize("case", ["radau", "lobatto", "near-unstable", "flow", "mean", "init"])
def test_trajectory_interval_contains_the_dense_loss_curve(case, digits_ntk):
    H, y, w, V = digits_ntk
    n = H.shape[0]
    steps = np.unique(np.round(np.logspace(0, 6, 60)))
    u0 = 0.3 * np.random.default_rng(12).standard_normal(n) if case == "init" else None
    lr = {"radau": 0.5 / KR.gershgorin_upper(H), "near-unstable": 1.9 / w[-1], "flow": 1.9 / w[-1],
          "mean": 0.5 * n / w[-1]}.get(case, 1.0 / w[-1])
    kw = {"flow": case == "flow", "normalization": "mean" if case == "mean" else "sum"}
    tr = KR.trajectory(H, y, steps, lr, u0=u0, **kw)
    true = _dense_loss(w, V, y - (0 if u0 is None else u0), steps, lr, **kw)
    slack = 1e-9 * true + 1e-3 * tr.atol  # the dense reference's rounding, amplified by k
    assert tr.converged
    assert np.all(tr.lower <= true + slack) and np.all(true <= tr.upper + slack)
    assert np.all(np.abs(tr.value - true) <= tr.error + slack)  # the error estimate bounds the true error
    assert np.all(tr.upper - tr.lower <= tr.tol * tr.upper + tr.atol)
    expect = {"radau": "gauss-radau", "flow": "gauss-radau", "lobatto": "gauss-lobatto",
              "near-unstable": "gauss-lobatto"}
    if case in expect:
        assert tr.rule == expect[case]
    assert tr.upper_certified is (case != "near-unstable")  # there η·Gershgorin > 2: b is the Ritz estimate


def test_trajectory_is_exact_for_few_steps_by_repeated_products():
    """Gauss with m nodes is exact for polynomials of degree < 2m: compare with ½‖(I − ηH)^k r‖² directly."""
    H, w = _spd(60, 50.0, seed=13)
    r = np.random.default_rng(14).standard_normal(60)
    eta = 1.0 / w[-1]
    tr = KR.trajectory(H, r, [0, 1, 2, 3, 5], eta, tol=1e-12)
    v, direct = r.copy(), []
    for k in range(6):
        if k in (0, 1, 2, 3, 5):
            direct.append(0.5 * v @ v)
        v = v - eta * (H @ v)
    assert np.allclose(tr.value, direct, rtol=1e-11)
    assert np.all(tr.lower <= np.array(direct) * (1 + 1e-11)) and np.all(tr.upper >= np.array(direct) * (1 - 1e-11))


def test_trajectory_wrong_lambda_min_is_refuted():
    H, w = _spd(80, 100.0, seed=15)
    tr = KR.trajectory(H, np.ones(80), [1, 100], 0.5 / w[-1], lambda_min_lower=3 * w[0])
    assert not tr.upper_certified and "refuted" in tr.lambda_source


# --------------------------------------------------------------------------- eigenpairs
@pytest.mark.parametrize("source", ["spd", "ntk"])
def test_top_eigenpair_residuals_bound_the_eigenvalue_errors(source, digits_ntk):
    if source == "spd":
        H, w = _spd(300, 1e3, seed=16)
        V = None
        y = _labels(300, seed=17)
        w, V = np.linalg.eigh(H)
    else:
        H, y, w, V = digits_ntk
    n, k = H.shape[0], 8
    e = KR.top_eigenpairs(H, k, y=y)
    lam = w[::-1][:k]
    slack = 8 * n * EPS * w[-1]
    assert np.all(np.abs(lam - e.eigenvalues) <= e.residuals + slack)
    assert np.all(np.diff(e.eigenvalues) <= 0)
    assert np.allclose(e.eigenvectors.T @ e.eigenvectors, np.eye(k), atol=1e-10)
    dense_proj = np.abs(V[:, ::-1][:, :k].T @ y)
    ok = np.isfinite(e.projection_errors)
    assert ok[:-1].all()
    assert np.all(np.abs(np.abs(e.projections) - dense_proj)[ok] <= e.projection_errors[ok] + 1e-9)


@pytest.mark.parametrize("n, k, block_size, d", [(400, 30, None, 50), (1200, 100, None, 50), (300, 8, 3, 50),
                                                 (600, 100, None, 784)])
def test_block_top_eigenpairs_agree_with_dense_within_their_residuals(n, k, block_size, d):
    """The block method (``method="block"``) on a float32 NTK operator of random unit rows
    (clustered spectrum; d = 784 > n: the basis cap reaches n) against ``eigh`` of the same stored matrix: every eigenvalue within its
    residual, all ``k`` found (the top ``k`` of the dense spectrum, not others), orthonormal vectors,
    and far fewer passes over the matrix than ARPACK makes products."""
    from twolayer.kernels import KernelOperator

    rng = np.random.default_rng(40 + n)
    X = rng.standard_normal((n, d))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    op = KernelOperator.from_matrix(first_layer_ntk(X).astype(np.float32), n_jobs=1)
    S = op.todense()
    w, V = np.linalg.eigh(S)
    y = _labels(n, seed=41)
    e = KR.top_eigenpairs(op, k, y=y, method="block", block_size=block_size)
    a = KR.top_eigenpairs(op, k, y=y)
    lam = w[::-1][:k]
    slack = 8 * n * EPS * w[-1]
    assert e.method == "block" and a.method == "arpack"
    assert np.all(np.abs(lam - e.eigenvalues) <= e.residuals + slack)
    assert np.all(e.residuals <= 1e-8 * w[-1])
    assert np.all(np.diff(e.eigenvalues) <= 0)
    assert np.allclose(e.eigenvectors.T @ e.eigenvectors, np.eye(k), atol=1e-10)
    assert np.allclose(e.eigenvalues, a.eigenvalues, rtol=0, atol=1e-8 * w[-1])
    ok = np.isfinite(e.projection_errors)
    dense_proj = np.abs(V[:, ::-1][:, :k].T @ y)
    assert np.all(np.abs(np.abs(e.projections) - dense_proj)[ok] <= e.projection_errors[ok] + 1e-9)
    if block_size is None:
        assert e.passes < a.matvecs / 3


def test_block_top_eigenpairs_input_errors():
    H, _ = _spd(20, 5.0, seed=18)
    with pytest.raises(InputError, match="method"):
        KR.top_eigenpairs(H, 3, method="lobpcg")
    with pytest.raises(InputError, match="block_size"):
        KR.top_eigenpairs(H, 3, method="block", block_size=0)


def test_extreme_eigenvalues_are_one_sided_within_their_residuals(digits_ntk):
    H, _, w, _ = digits_ntk
    x = KR.extreme(H)
    slack = 8 * H.shape[0] * EPS * w[-1]
    assert x.lambda_max <= w[-1] + slack and x.lambda_min >= w[0] - slack
    assert abs(x.lambda_max - w[-1]) <= x.lambda_max_residual + slack
    assert abs(x.lambda_min - w[0]) <= x.lambda_min_residual + slack
    assert x.condition_number <= w[-1] / w[0] * (1 + 1e-9)


def test_top_eigenpairs_input_errors():
    H, _ = _spd(10, 5.0, seed=18)
    with pytest.raises(InputError, match="n - 2"):
        KR.top_eigenpairs(H, 9)


# --------------------------------------------------------------------------- complexity and the CLI
def test_complexity_dense_path_is_unchanged_below_the_threshold():
    H, _ = _spd(300, 100.0, seed=19)
    y = _labels(300, seed=20)
    c_auto, c_dense = B.complexity(H, y), B.complexity(H, y, method="dense")
    s = B.KernelSolver(H)
    assert c_auto == c_dense and c_auto.method == "dense" and c_auto.iterations == 0
    assert c_auto.yHy == s.quad(y)  # bit-identical to the factorization
    assert c_auto.complexity_lower == c_auto.complexity == c_auto.complexity_upper
    assert 300 < B.KRYLOV_FROM


def test_complexity_krylov_agrees_with_dense_within_its_interval(digits_ntk, monkeypatch):
    H, y, w, _ = digits_ntk
    d = B.complexity(H, y, method="dense")
    for kw in ({}, {"precondition": 0}):
        c = B.complexity(H, y, method="krylov", tol=1e-7, **kw)
        assert c.preconditioner.startswith("rpcholesky") == (not kw)
        assert c.method == "krylov" and c.iterations > 0 and c.converged and not c.eigenvalues_exact
        assert c.complexity_lower <= d.complexity * (1 + 1e-12) and d.complexity <= c.complexity_upper * (1 + 1e-12)
        assert c.yHy == pytest.approx(d.yHy, rel=1e-7)
        assert c.lambda_min >= w[0] * (1 - 1e-9) and c.lambda_max <= w[-1] * (1 + 1e-12)
        B.generalization_bound(c)
    sp = spectrum(H, vectors=False)
    c = B.complexity(H, y, method="krylov", spectrum=sp)
    assert c.upper_certified and c.eigenvalues_exact and c.lambda_min == sp.lambda_min
    monkeypatch.setattr(B, "KRYLOV_FROM", 1000)
    assert B.complexity(H, y).method == "krylov"  # auto above the threshold
    with pytest.raises(InputError, match="dense"):
        B.complexity(H, y, method="krylov", solver=B.KernelSolver(H))
    with pytest.raises(InputError, match="method"):
        B.complexity(H, y, method="lanczos")


def test_complexity_krylov_refuses_a_singular_gram():
    X = np.vstack([np.eye(6)[:5], np.eye(6)[:1]])
    H = first_layer_ntk(X)
    with pytest.raises(SingularKernelError, match="0 and 5"):
        B.complexity(H, np.arange(1.0, 7.0), method="krylov")
    c = B.complexity(H, np.arange(1.0, 7.0), method="krylov", ridge=1e-3)
    assert c.upper_certified and np.isfinite(c.complexity)


def _cli(capsys, *argv):
    code = main(list(argv) + ["--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


def test_cli_complexity_method_krylov_json(capsys):
    k = _cli(capsys, "complexity", "digits", "--method", "krylov", "--tol", "1e-8")
    d = _cli(capsys, "complexity", "digits", "--method", "dense")
    assert k["method"] == "krylov" and d["method"] == "dense" and k["iterations"] > 0 and d["iterations"] == 0
    assert k["complexity_lower"] <= d["complexity"] * (1 + 1e-12) <= k["complexity_upper"] * (1 + 2e-12)
    assert abs(k["complexity"] - d["complexity"]) <= 1e-8 * d["complexity"]
    assert k["converged"] is True and isinstance(k["upper_certified"], bool) and k["lambda_source"]
    assert d["complexity_lower"] == d["complexity"] == d["complexity_upper"]
    a = _cli(capsys, "complexity", "digits", "--method", "krylov", "--lambda-min-lower", "1e-4")
    assert a["upper_certified"] is True and "given" in a["lambda_source"]


def test_cli_spectrum_top_k_krylov_json(capsys):
    k = _cli(capsys, "spectrum", "digits", "--top", "5", "--method", "krylov")
    d = _cli(capsys, "spectrum", "digits", "--top", "5", "--method", "dense")
    assert k["method"] == "krylov" and d["method"] == "dense" and len(k["eigenvalues"]) == 5
    slack = 1e-12 * d["lambda_max"]
    assert np.all(np.abs(np.subtract(k["eigenvalues"], d["eigenvalues"])) <= np.add(k["residuals"], slack))
    assert np.all(np.abs(np.abs(k["projections"]) - np.abs(d["projections"])) <= np.add(k["projection_errors"], 1e-9))
    assert k["lambda_min"] >= d["lambda_min"] * (1 - 1e-9)
    assert k["trace"] == pytest.approx(d["trace"])
    code = main(["spectrum", "digits", "--method", "krylov"])
    assert code == 2 and "--top" in capsys.readouterr().err

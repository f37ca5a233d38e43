"""Complexity measure, Theorem 5.1 / 6.1 bounds, movement and concentration bounds, robust solves."""

from __future__ import annotations

import math

import numpy as np
import pytest

from twolayer import bounds as B
from twolayer import kernels as K
from twolayer import spectra as S
from twolayer._errors import InputError, SingularKernelError

from ._helpers import sphere


@pytest.fixture(scope="module")
def sphere_problem():
    X = sphere(200, 10, 1)
    return X, K.first_layer_ntk(X)


def test_complexity_matches_eigen_expansion_and_direct_solve(sphere_problem):
    X, H = sphere_problem
    y = np.sign(X[:, 0])
    c = B.complexity(H, y)
    sp = S.spectrum(H)
    via_eig = np.sum(sp.project(y) ** 2 / sp.eigenvalues)
    assert c.yHy == pytest.approx(via_eig, rel=1e-10)
    assert c.yHy == pytest.approx(y @ np.linalg.solve(H, y), rel=1e-10)
    assert c.complexity == pytest.approx(math.sqrt(2 * via_eig / 200), rel=1e-10)
    assert c.lambda_min == pytest.approx(sp.lambda_min, rel=1e-10)
    assert c.lambda_max == pytest.approx(sp.lambda_max, rel=1e-10)
    assert c.condition_number == pytest.approx(sp.condition_number, rel=1e-9)
    assert c.eigenvalues_exact and c.label_norm2 == 200


def test_random_label_complexity_concentrates_at_trace_of_inverse(sphere_problem):
    """For i.i.d. uniform ±1 labels E[y^T H^-1 y] = tr(H^-1) (papers.md §1.5)."""
    _, H = sphere_problem
    solver = B.KernelSolver(H)
    rng = np.random.default_rng(2)
    q = np.array([solver.quad(rng.choice([-1.0, 1.0], 200)) for _ in range(1500)])
    tr = np.trace(np.linalg.inv(H))
    assert abs(q.mean() - tr) < 4 * q.std(ddof=1) / math.sqrt(q.size)


def test_true_labels_are_simpler_than_random_labels(sphere_problem):
    X, H = sphere_problem
    solver = B.KernelSolver(H)
    smooth = B.complexity(None, np.sign(X[:, 0]), solver=solver).complexity
    rnd = B.complexity(None, np.random.default_rng(3).choice([-1.0, 1.0], 200), solver=solver).complexity
    assert smooth < 0.6 * rnd
    assert rnd > 1.0  # vacuous for random labels, as in Arora et al. Fig. 2


def _random_beta(d, norm, seed):
    b = np.random.default_rng(seed).standard_normal(d)
    return norm * b / np.linalg.norm(b)


@pytest.mark.parametrize("p", [1, 2, 4, 6])
def test_theorem_6_1_inequality_for_powers(sphere_problem, p):
    X, H = sphere_problem
    solver = B.KernelSolver(H)
    for seed, alpha in [(4, 1.0), (5, -0.7)]:
        beta = _random_beta(10, 1.3, seed)
        y = alpha * (X @ beta) ** p
        measured = math.sqrt(solver.quad(y))
        sharp = B.polynomial_target_bound([(alpha, beta, p)], sharp=True)
        paper = B.polynomial_target_bound([(alpha, beta, p)])
        assert measured <= sharp <= paper
        assert paper == pytest.approx(3 * p * abs(alpha) * 1.3**p)


def test_corollary_6_2_for_sums_quadratic_and_cosine_targets(sphere_problem):
    X, H = sphere_problem
    solver = B.KernelSolver(H)
    # sum of powers
    terms = [(0.5, _random_beta(10, 1.0, 6), 1), (-0.3, _random_beta(10, 0.8, 7), 2), (0.2, _random_beta(10, 1.1, 4), 4)]
    y = sum(a * (X @ b) ** p for a, b, p in terms)
    assert math.sqrt(solver.quad(y)) <= B.polynomial_target_bound(terms, sharp=True) <= B.polynomial_target_bound(terms)
    # quadratic x^T A x = sum_j lambda_j (v_j^T x)^2
    rng = np.random.default_rng(8)
    M = rng.standard_normal((10, 10))
    A = (M + M.T) / 8
    lam, V = np.linalg.eigh(A)
    q_terms = [(lam[j], V[:, j], 2) for j in range(10)]
    yq = np.einsum("ij,jk,ik->i", X, A, X)
    assert np.allclose(yq, sum(a * (X @ b) ** 2 for a, b, _ in q_terms))
    assert math.sqrt(solver.quad(yq)) <= B.polynomial_target_bound(q_terms)
    assert B.polynomial_target_bound(q_terms) == pytest.approx(6 * np.abs(lam).sum())  # 6 ||A||_*
    # cos(beta^T x) - 1 = sum_j (-1)^j (beta^T x)^{2j} / (2j)!
    beta = _random_beta(10, 1.5, 9)
    c_terms = [((-1) ** j / math.factorial(2 * j), beta, 2 * j) for j in range(1, 15)]
    yc = np.cos(X @ beta) - 1
    assert math.sqrt(solver.quad(yc)) <= B.polynomial_target_bound(c_terms)
    assert B.polynomial_target_bound(c_terms) <= 3 * 1.5 * math.sinh(1.5) + 1e-12  # paper's 3||b|| sinh||b||


def test_generalization_bound_terms_are_the_proofs_constants(sphere_problem):
    X, H = sphere_problem
    c = B.complexity(H, np.sign(X[:, 0]))
    g = B.generalization_bound(c, delta=0.1)
    n = 200
    nb = math.ceil(math.sqrt(n / c.lambda_min))
    assert g.train_term == pytest.approx(1 / math.sqrt(n))
    assert g.rademacher_slack == pytest.approx(4 / math.sqrt(n))
    assert g.union_size == nb
    assert g.concentration == pytest.approx(3 * math.sqrt(math.log(6 * nb / 0.1) / (2 * n)))
    assert g.total == pytest.approx(c.complexity + 5 / math.sqrt(n) + g.concentration)
    assert "m^(1/4)" in g.hidden_terms
    assert B.generalization_bound(c, delta=0.01).total > g.total  # smaller delta, larger bound
    assert B.generalization_bound(c, train_loss=0.0).total == pytest.approx(g.total - 1 / math.sqrt(n) - g.concentration
                                                                            + B.generalization_bound(c).concentration)
    with pytest.raises(InputError, match="delta"):
        B.generalization_bound(c, delta=1.5)


def test_gram_concentration_lemma_c3_holds_for_random_initializations():
    X = sphere(20, 6, 10)
    Hinf = K.first_layer_ntk(X)
    rng = np.random.default_rng(11)
    for m in (100, 1000):
        bound = B.gram_concentration_bound(20, m, delta=0.05)
        errs = [np.linalg.norm(K.empirical_gram(X, rng.standard_normal((m, 6))) - Hinf) for _ in range(20)]
        assert max(errs) <= bound
    assert B.gram_concentration_bound(20, 400) == pytest.approx(B.gram_concentration_bound(20, 100) / 2)


def test_movement_bound_formula_and_width_scaling():
    b1 = B.movement_bound(n=100, m=1000, residual_norm=10.0, lambda_min=0.1)
    assert b1 == pytest.approx(4 * 10 * 10 / (math.sqrt(1000) * 0.1))
    assert B.movement_bound(100, 4000, 10.0, 0.1) == pytest.approx(b1 / 2)
    with pytest.raises(InputError):
        B.movement_bound(100, 10, 1.0, 0.0)


# --------------------------------------------------------------------------- singular systems
def test_duplicate_rows_raise_one_clear_error_naming_them():
    X = sphere(50, 4, 12)
    X[7] = X[3]
    X[40] = 2.5 * X[20]  # parallel (not unit norm): same direction, singular too
    H = K.first_layer_ntk(X)
    with pytest.raises(SingularKernelError, match=r"rows 3 and 7; 20 and 40 .*ridge") as ei:
        B.complexity(H, np.ones(50))
    assert ei.value.rows == [(3, 7), (20, 40)]
    c = B.complexity(H, np.ones(50), ridge=1e-6)
    assert np.isfinite(c.complexity) and c.ridge == 1e-6
    assert c.lambda_min == pytest.approx(np.linalg.eigvalsh(H)[0] + 1e-6, rel=1e-6)


def test_numerically_singular_matrix_is_refused_not_nan():
    X = sphere(40, 3, 13)
    X[5] = X[4] + 1e-13 * np.random.default_rng(14).standard_normal(3)
    H = K.first_layer_ntk(X)
    with pytest.raises(SingularKernelError, match="cannot be inverted"):
        B.complexity(H, np.ones(40))


def test_solver_solves_and_validates(sphere_problem):
    X, H = sphere_problem
    s = B.KernelSolver(H)
    rhs = np.random.default_rng(15).standard_normal((200, 3))
    assert np.allclose(H @ s.solve(rhs), rhs, atol=1e-9)
    with pytest.raises(InputError, match="200 rows"):
        s.solve(np.ones(5))
    with pytest.raises(InputError, match="ridge"):
        B.KernelSolver(H, ridge=-1)
    with pytest.raises(InputError, match="p = 3"):
        B.polynomial_target_bound([(1.0, np.ones(3), 3)])
    with pytest.raises(InputError, match="labels|entries"):
        B.complexity(H, np.ones(10))


def test_large_solver_path_reports_estimates_with_error_bars():
    X = sphere(1200, 3, 16)
    H = K.first_layer_ntk(X)
    s = B.KernelSolver(H)
    w = np.linalg.eigvalsh(H)
    assert not s.eigenvalues_exact
    assert s.lambda_max <= w[-1] * (1 + 1e-12) and s.lambda_min >= w[0] * (1 - 1e-9)  # one-sided
    assert s.condition_number <= w[-1] / w[0] * (1 + 1e-9)                             # a lower bound
    assert np.min(np.abs(w - s.lambda_min)) <= s.lambda_min_residual * (1 + 1e-6) + 1e-12
    exact = B.KernelSolver(H, exact_eigenvalues=True)
    assert exact.eigenvalues_exact and exact.lambda_min == pytest.approx(w[0], rel=1e-10)


def test_find_parallel_rows_ignores_rows_without_direction():
    """A zero row (diagonal 0) is parallel to nothing; before, dividing by sqrt(tiny) overflowed."""
    from twolayer.bounds import find_parallel_rows

    H = np.array([[0.5, 0.5, 0.0, 0.1], [0.5, 0.5, 0.0, 0.1], [0.0, 0.0, 0.0, 0.0], [0.1, 0.1, 0.0, 0.5]])
    assert find_parallel_rows(H) == [(0, 1)]
    H[2, 3] = H[3, 2] = 1e-200  # a tiny entry against a zero diagonal must not count either
    assert find_parallel_rows(H) == [(0, 1)]


def test_zero_one_labels_are_refused_with_the_fix(sphere_problem):
    """Eq. 10 is defined for ±1 labels; the 0/1 coding b = (t + 1)/2 of the same classes gives
    bᵀH⁻¹b = ¼(tᵀH⁻¹t + 2·1ᵀH⁻¹t + 1ᵀH⁻¹1), another number (checked here), so it is refused on
    both paths, also for booleans; everything else is measured unchanged."""
    X, H = sphere_problem
    t = np.sign(X[:, 0])
    b = (t + 1) / 2
    one = np.ones_like(t)
    quarter = 0.25 * (t @ np.linalg.solve(H, t) + 2 * one @ np.linalg.solve(H, t) + one @ np.linalg.solve(H, one))
    assert b @ np.linalg.solve(H, b) == pytest.approx(quarter, rel=1e-10)
    assert abs(quarter - t @ np.linalg.solve(H, t)) > 0.1 * quarter  # a different number, not noise
    for labels in (b, b.astype(int), b.astype(bool), list(b)):
        for method in ("dense", "krylov"):
            with pytest.raises(InputError, match=r"y takes only the values 0 and 1.*\+1/-1 labels.*y = 2\*y - 1"):
                B.complexity(H, labels, method=method)
    assert B.complexity(H, 2 * b - 1).yHy == pytest.approx(t @ np.linalg.solve(H, t), rel=1e-10)
    # ±1, a single value, and real targets that merely contain 0 and 1 are measured as before
    real = b.copy()
    real[0] = 0.5
    for y in (t, one, np.zeros_like(t), real, 3.0 * b, b - 1):
        if y.any():
            assert B.complexity(H, y).yHy == pytest.approx(y @ np.linalg.solve(H, y), rel=1e-10)
        else:
            assert B.complexity(H, y).yHy == 0.0

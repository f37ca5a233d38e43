"""Shared pieces of :mod:`twolayer.krylov`: the counted operator, input checks, Jacobi-matrix quadrature, Lanczos."""

from __future__ import annotations

import math

import numpy as np
import scipy.linalg as sla

from .._errors import InputError
from .._validation import as_labels

#: Default relative tolerance of the certified intervals.
DEFAULT_TOL = 1e-6
#: Default iteration cap (also capped at ``2n`` for CG and ``n`` for Lanczos).
DEFAULT_MAXITER = 1000


# --------------------------------------------------------------------------- the operator
class _Op:
    """Products with ``H + shift·I`` for an array or a ``matvec`` object, counted; symmetry probed once."""

    def __init__(self, op, shift: float = 0.0, *, check: bool = True, name: str = "H"):
        if not (np.isfinite(shift) and shift >= 0):
            raise InputError(f"ridge must be a finite number >= 0, got {shift}")
        self.shift = float(shift)
        self.count = 0
        self.source = op
        if hasattr(op, "matvec") and hasattr(op, "shape") and not isinstance(op, np.ndarray):
            shape = tuple(op.shape)
            self.dense = None
            self._mv = op.matvec
            self._mm = getattr(op, "matmat", None)
        else:
            A = np.asarray(op, dtype=np.float64)
            shape = A.shape
            if A.ndim == 2 and A.shape[0] == A.shape[1] and A.shape[0] > 0:
                if not np.isfinite(A.sum()):
                    raise InputError(f"{name} has NaN or inf entries; rebuild it from finite, non-zero inputs")
            self.dense = A
            self._mv = A.dot
            self._mm = A.dot
        if len(shape) != 2 or shape[0] != shape[1] or shape[0] == 0:
            raise InputError(f"{name} must be a non-empty square (n, n) matrix or operator, got shape {shape}")
        self.n = int(shape[0])
        if check and getattr(op, "symmetric", False) is not True:  # a KernelOperator is symmetric by construction
            self._probe_symmetry(name)

    def matvec(self, v: np.ndarray) -> np.ndarray:
        self.count += 1
        w = np.asarray(self._mv(v), dtype=np.float64).reshape(-1)
        if w.shape[0] != self.n:
            raise InputError(f"the operator returned {w.shape[0]} entries for a vector of {self.n}")
        return w + self.shift * v if self.shift else w

    def matmat(self, V: np.ndarray) -> np.ndarray:
        self.count += V.shape[1]
        if self._mm is not None:
            W = np.asarray(self._mm(V), dtype=np.float64).reshape(self.n, V.shape[1])
        else:
            W = np.column_stack([np.asarray(self._mv(V[:, j]), dtype=np.float64).reshape(-1)
                                 for j in range(V.shape[1])])
        return W + self.shift * V if self.shift else W

    def _probe_symmetry(self, name: str) -> None:
        """``|uᵀHv − vᵀHu|`` for two seeded random vectors (one block product): catches a non-symmetric ``H``."""
        U = np.random.default_rng(12345).standard_normal((self.n, 2))
        W = self.matmat(U)
        self.count -= 2  # not part of the method's iterations
        if not np.all(np.isfinite(W)):
            raise InputError(f"{name} @ v has NaN or inf entries; rebuild {name} from finite, non-zero inputs")
        a, b = float(U[:, 0] @ W[:, 1]), float(U[:, 1] @ W[:, 0])
        scale = float(np.linalg.norm(U[:, 0]) * np.linalg.norm(W[:, 1]) + np.linalg.norm(U[:, 1])
                      * np.linalg.norm(W[:, 0])) + np.finfo(np.float64).tiny
        if abs(a - b) > 1e-9 * scale:
            raise InputError(f"{name} is not symmetric (u^T H v - v^T H u = {a - b:.3g} for random u, v); "
                             f"pass a Gram matrix, e.g. (H + H.T) / 2")


def _start(y, n: int, name: str = "y") -> np.ndarray:
    r = as_labels(y, n, name)
    if not np.any(r):
        raise InputError(f"{name} is all zeros: the quadratic form / loss is 0; pass a non-zero vector")
    return r


def _tol(tol: float) -> float:
    if not (np.isfinite(tol) and 0 < tol < 1):
        raise InputError(f"tol must be a relative tolerance in (0, 1), got {tol}")
    return float(tol)


def _maxiter(maxiter: int | None, cap: int) -> int:
    if maxiter is None:
        return max(1, min(cap, DEFAULT_MAXITER))
    if int(maxiter) != maxiter or maxiter < 1:
        raise InputError(f"maxiter must be a positive integer, got {maxiter}")
    return int(maxiter)


def _lower_bound(value, what: str) -> float | None:
    if value is None:
        return None
    v = float(value)
    if not (np.isfinite(v) and v > 0):
        raise InputError(f"{what} must be a positive finite number (a lower bound on lambda_min), got {value}")
    return v


def gershgorin_upper(H) -> float:
    r"""Certified upper bound on ``λ_max`` of a symmetric matrix: ``max_i Σ_j |H_ij|`` (Gershgorin).

    ``H`` (n, n) array; one pass in row blocks of 2,048 (no ``n × n`` temporary). Cost ``O(n²)``.
    """
    A = np.asarray(H, dtype=np.float64)
    return float(max(np.abs(A[i:i + 2048]).sum(axis=1).max() for i in range(0, A.shape[0], 2048)))


# --------------------------------------------------------------------------- tridiagonal helpers
def _ritz_ends(diag: np.ndarray, off: np.ndarray, beta_next: float) -> tuple[float, float, float, float]:
    """Smallest and largest eigenvalue of the Jacobi matrix and their Ritz residuals ``β_next |e_mᵀ s|``."""
    m = diag.shape[0]
    if m == 1:
        return float(diag[0]), abs(beta_next), float(diag[0]), abs(beta_next)
    w, S = sla.eigh_tridiagonal(diag, off, select="i", select_range=(0, 0), check_finite=False)
    w2, S2 = sla.eigh_tridiagonal(diag, off, select="i", select_range=(m - 1, m - 1), check_finite=False)
    return float(w[0]), float(abs(beta_next * S[-1, 0])), float(w2[0]), float(abs(beta_next * S2[-1, 0]))


def _solve_shifted(diag: np.ndarray, off: np.ndarray, shift: float, rhs_last: float) -> float:
    """Last entry of ``(T − shift·I)⁻¹ (rhs_last e_m)`` for the tridiagonal ``T`` (``O(m)``)."""
    m = diag.shape[0]
    if m == 1:
        return rhs_last / (diag[0] - shift)
    ab = np.zeros((3, m))
    ab[0, 1:] = off
    ab[1] = diag - shift
    ab[2, :-1] = off
    rhs = np.zeros(m)
    rhs[-1] = rhs_last
    return float(sla.solve_banded((1, 1), ab, rhs, check_finite=False)[-1])


def _rule(diag, off, beta_next: float, a: float | None = None, b: float | None = None):
    """Nodes and weights (``Σ w = 1``) of the Gauss (no node), Gauss–Radau (``a``) or Gauss–Lobatto (``a, b``) rule."""
    if a is not None:
        if b is None:  # Radau: bordered row keeps β_next, diagonal φ = a + β² e_mᵀ(T − aI)⁻¹e_m
            phi = a + _solve_shifted(diag, off, a, beta_next**2)
            diag, off = np.append(diag, phi), np.append(off, beta_next)
        else:  # Lobatto: φ − δ_m β̃² = a, φ − μ_m β̃² = b
            dm, mm = _solve_shifted(diag, off, a, 1.0), _solve_shifted(diag, off, b, 1.0)
            b2 = (b - a) / (dm - mm)
            diag, off = np.append(diag, a + b2 * dm), np.append(off, math.sqrt(max(b2, 0.0)))
    if diag.shape[0] == 1:
        return diag.copy(), np.ones(1)
    theta, S = sla.eigh_tridiagonal(diag, off, check_finite=False)
    return theta, S[0] ** 2


# --------------------------------------------------------------------------- Lanczos
class _Lanczos:
    """Lanczos with full reorthogonalization (two classical Gram–Schmidt passes per step).

    After ``m`` steps: ``alpha`` (m,), ``beta`` (m,) with ``beta[j]`` coupling ``q_j`` and ``q_{j+1}``,
    basis rows ``Q[:m+1]``. ``invariant`` once ``β_m`` vanishes (the Krylov space is invariant: the
    Gauss rule is then exact). Memory ``(maxiter + 1) n`` floats; cost per step one product + ``4nm``.
    """

    def __init__(self, op: _Op, q0: np.ndarray, maxiter: int):
        self.op = op
        self.Q = np.empty((maxiter + 1, op.n))
        self.Q[0] = q0 / np.linalg.norm(q0)
        self.alpha: list[float] = []
        self.beta: list[float] = []
        self.invariant = False

    @property
    def m(self) -> int:
        return len(self.alpha)

    def step(self) -> None:
        j = self.m
        w = self.op.matvec(self.Q[j])
        a = float(self.Q[j] @ w)
        w -= a * self.Q[j]
        if j:
            w -= self.beta[-1] * self.Q[j - 1]
        B = self.Q[:j + 1]
        for _ in range(2):
            w -= B.T @ (B @ w)
        b = float(np.linalg.norm(w))
        self.alpha.append(a)
        scale = max(abs(x) for x in self.alpha) + (max(self.beta) if self.beta else 0.0)
        if b <= 1e-12 * scale or j + 1 >= self.op.n or j + 1 >= self.Q.shape[0]:
            self.beta.append(b if b > 1e-12 * scale else 0.0)
            self.invariant = b <= 1e-12 * scale or j + 1 >= self.op.n
            return
        self.beta.append(b)
        self.Q[j + 1] = w / b

    def tridiagonal(self) -> tuple[np.ndarray, np.ndarray, float]:
        """``(diag, off, β_next)`` of ``T_m``."""
        return np.asarray(self.alpha), np.asarray(self.beta[:-1]), float(self.beta[-1])


def _lambda_args(lambda_min_lower, lambda_max_upper):
    a = None if lambda_min_lower is None else float(lambda_min_lower)
    if a is not None and not (np.isfinite(a) and a >= 0):
        raise InputError(f"lambda_min_lower must be a finite number >= 0, got {lambda_min_lower}")
    b = None if lambda_max_upper is None else float(lambda_max_upper)
    if b is not None and not (np.isfinite(b) and b > 0):
        raise InputError(f"lambda_max_upper must be a positive finite number, got {lambda_max_upper}")
    return a, b

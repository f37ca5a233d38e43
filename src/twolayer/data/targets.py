r"""Target functions of Arora et al. (2019), Theorem 6.1 / Corollary 6.2 and Examples 6.1-6.4.

Corollary 6.2: if :math:`y_i = \sum_j \alpha_j (\beta_j^\top x_i)^{p_j}` with
:math:`p_j \in \{1, 2, 4, 6, \dots\}` and unit-norm :math:`x_i`, then

.. math:: \sqrt{y^\top (H^\infty)^{-1} y} \le 3 \sum_j p_j |\alpha_j| \, \|\beta_j\|_2^{p_j}.

Every target here is a :class:`PolynomialTarget` whose ``terms`` list the
:math:`(\alpha_j, \beta_j, p_j)` of such a sum, so ``twolayer.bounds`` can evaluate the
right-hand side. Targets that are not polynomials (``cos``, ``arctan``) carry their Taylor
series, truncated where the neglected tail is below ``1e-17`` relative to the bound, and
report the truncation error; calling them evaluates the closed form.
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass, field
from typing import Callable, NamedTuple

import numpy as np

from .._errors import InputError
from .._validation import as_data_matrix
from ._common import as_generator, check_seed, jsonable, sha256_bytes

__all__ = ["Term", "PolynomialTarget", "linear_target", "power_target", "quadratic_target",
           "cos_target", "arctan_target", "polynomial_target", "make_target", "TARGETS"]

_REL_TAIL = 1e-17  # truncate a series once the neglected bound mass is below this (relative)
_MAX_TERMS = 10_000


class Term(NamedTuple):
    """One monomial ``alpha * (beta . x) ** p`` of a :class:`PolynomialTarget`."""

    alpha: float
    beta: np.ndarray  # shape (d,)
    p: int


@dataclass(frozen=True, eq=False)
class PolynomialTarget:
    r"""A target :math:`g(x) = \sum_j \alpha_j (\beta_j^\top x)^{p_j}` (possibly via a closed form).

    Parameters
    ----------
    terms : sequence of (alpha, beta, p)
        ``alpha`` float, ``beta`` array of shape (d,), ``p`` integer >= 1. Stored as a tuple of
        :class:`Term`.
    name : str
        E.g. ``"linear"``, ``"cos"``, ``"linear+quadratic"``.
    closed_form : callable, optional
        ``X (n, d) -> y (n,)``. When given, ``__call__`` uses it (e.g. ``cos(beta.x) - 1``) and
        ``terms`` is its series expansion; otherwise ``__call__`` sums the terms.
    truncation_error : float, default 0
        A bound on ``sup_{||x|| <= 1} |closed_form(x) - series(x)|``: zero when ``terms`` is
        exact (polynomials), the neglected Taylor tail for ``cos`` and ``arctan``.
    params : dict
        JSON-serializable description of how the target was made (recorded in provenance).
    note : str
        Free text, e.g. where a series converges.

    Notes
    -----
    ``terms`` is what Corollary 6.2 needs; ``cor62_applicable`` says whether every ``p_j`` is 1
    or even (the corollary's hypothesis). Targets can be added: ``linear_target(...) +
    cos_target(...)`` concatenates the terms and adds the closed forms.
    """

    terms: tuple
    name: str = "polynomial"
    closed_form: Callable | None = None
    truncation_error: float = 0.0
    params: dict = field(default_factory=dict)
    note: str = ""

    def __post_init__(self):
        clean = []
        d = None
        for t in self.terms:
            try:
                alpha, beta, p = t
            except (TypeError, ValueError):
                raise InputError(f"each term must be (alpha, beta, p), got {t!r}") from None
            beta = np.array(beta, dtype=np.float64).reshape(-1)
            if isinstance(p, bool) or not float(p).is_integer() or int(p) < 1:
                raise InputError(f"term exponent p must be an integer >= 1, got {p!r}")
            if not np.isfinite(float(alpha)) or not np.all(np.isfinite(beta)):
                raise InputError("term coefficients must be finite; check alpha and beta")
            if d is not None and beta.shape[0] != d:
                raise InputError(f"all beta vectors must have the same length d, got {d} and "
                                 f"{beta.shape[0]}")
            d = beta.shape[0]
            beta.setflags(write=False)
            clean.append(Term(float(alpha), beta, int(p)))
        if not clean:
            raise InputError("a PolynomialTarget needs at least one term (alpha, beta, p)")
        object.__setattr__(self, "terms", tuple(clean))
        object.__setattr__(self, "truncation_error", float(self.truncation_error))
        object.__setattr__(self, "params", jsonable(self.params, "params"))

    @property
    def d(self) -> int:
        """Input dimension."""
        return int(self.terms[0].beta.shape[0])

    @property
    def exact(self) -> bool:
        """Whether ``terms`` represents the target exactly (no truncated series)."""
        return self.truncation_error == 0.0

    @property
    def cor62_applicable(self) -> bool:
        """Whether every exponent is 1 or even, as Theorem 6.1 / Corollary 6.2 require."""
        return all(t.p == 1 or t.p % 2 == 0 for t in self.terms)

    def _check(self, X) -> np.ndarray:
        A = as_data_matrix(X, "X", allow_zero_rows=True)
        if A.shape[1] != self.d:
            raise InputError(f"X has {A.shape[1]} columns but the target {self.name!r} is defined "
                             f"on d = {self.d}; pass inputs of matching dimension")
        return A

    def series(self, X) -> np.ndarray:
        """Evaluate the sum of the terms, ``sum_j alpha_j (X beta_j) ** p_j``; shape (n,)."""
        A = self._check(X)
        y = np.zeros(A.shape[0])
        for alpha, beta, p in self.terms:
            y += alpha * (A @ beta) ** p
        return y

    def __call__(self, X) -> np.ndarray:
        """Evaluate the target on the rows of ``X`` (n, d); returns shape (n,)."""
        if self.closed_form is None:
            return self.series(X)
        return np.asarray(self.closed_form(self._check(X)), dtype=np.float64)

    def __add__(self, other: "PolynomialTarget") -> "PolynomialTarget":
        if not isinstance(other, PolynomialTarget):
            return NotImplemented
        if other.d != self.d:
            raise InputError(f"cannot add targets on d = {self.d} and d = {other.d}")
        left, right = self, other

        def closed(X):
            return left(X) + right(X)

        return PolynomialTarget(self.terms + other.terms, name=f"{self.name}+{other.name}",
                                closed_form=closed if (self.closed_form or other.closed_form) else None,
                                truncation_error=self.truncation_error + other.truncation_error,
                                params={"sum_of": [self.describe(), other.describe()]},
                                note="; ".join(n for n in (self.note, other.note) if n))

    def describe(self, max_numbers: int = 5000) -> dict:
        """JSON-serializable summary (terms listed in full when they hold <= ``max_numbers`` numbers)."""
        out = {"name": self.name, "d": self.d, "n_terms": len(self.terms),
               "truncation_error": self.truncation_error, "exact": self.exact,
               "cor62_applicable": self.cor62_applicable, "params": self.params}
        if self.note:
            out["note"] = self.note
        if len(self.terms) * (self.d + 2) <= max_numbers:
            out["terms"] = [{"alpha": t.alpha, "beta": t.beta.tolist(), "p": t.p} for t in self.terms]
        else:
            blob = b"".join(np.array([t.alpha, t.p], dtype=np.float64).tobytes() + t.beta.tobytes()
                            for t in self.terms)
            out["terms_sha256"] = sha256_bytes(blob)
        return out

    def __repr__(self) -> str:
        return (f"PolynomialTarget({self.name!r}, d={self.d}, {len(self.terms)} term(s)"
                + ("" if self.exact else f", truncation_error={self.truncation_error:.1e}") + ")")


# --------------------------------------------------------------------------- constructors
def _direction(beta, d, beta_norm, seed, who: str) -> np.ndarray:
    if beta is not None:
        b = np.array(beta, dtype=np.float64).reshape(-1)
        if b.size == 0 or not np.all(np.isfinite(b)):
            raise InputError(f"{who}: beta must be a finite vector of length d")
        if d is not None and b.size != d:
            raise InputError(f"{who}: beta has length {b.size} but d = {d}")
        return b
    if d is None:
        raise InputError(f"{who}: pass either beta (a vector) or d (to draw a random beta)")
    if isinstance(d, bool) or not float(d).is_integer() or int(d) < 1:
        raise InputError(f"{who}: d must be a positive integer, got {d!r}")
    g = as_generator(seed, "seed").standard_normal(int(d))
    return float(beta_norm) * g / np.linalg.norm(g)


def _beta_params(beta, beta_norm, seed, b):
    return {"beta": "given" if beta is not None else f"random direction ({_seed_text(seed)})",
            "beta_norm": float(np.linalg.norm(b)),
            **({} if beta is not None else {"requested_beta_norm": float(beta_norm)})}


def linear_target(beta=None, *, d=None, alpha=1.0, beta_norm=1.0, seed=0) -> PolynomialTarget:
    r"""Example 6.1: :math:`g(x) = \alpha\, \beta^\top x`; one term ``(alpha, beta, 1)``.

    Parameters
    ----------
    beta : array_like of shape (d,), optional
        Default: a direction drawn from ``seed``, scaled to ``beta_norm``.
    d : int, optional
        Needed when ``beta`` is not given.
    alpha : float, default 1
    beta_norm : float, default 1
    seed : int or numpy.random.Generator, default 0
    """
    b = _direction(beta, d, beta_norm, seed, "linear_target")
    return PolynomialTarget([(alpha, b, 1)], name="linear",
                            params={"alpha": float(alpha), **_beta_params(beta, beta_norm, seed, b)})


def power_target(p=2, beta=None, *, d=None, alpha=1.0, beta_norm=1.0, seed=0) -> PolynomialTarget:
    r"""Theorem 6.1: :math:`g(x) = \alpha (\beta^\top x)^p` with ``p = 1`` or ``p`` even.

    One term ``(alpha, beta, p)``. Other parameters as in :func:`linear_target`.
    """
    if isinstance(p, bool) or not float(p).is_integer() or not (int(p) == 1 or (int(p) >= 2 and int(p) % 2 == 0)):
        raise InputError(f"power_target: p must be 1 or an even integer (Theorem 6.1), got {p!r}; "
                         f"for other exponents build PolynomialTarget([(alpha, beta, p)]) directly")
    b = _direction(beta, d, beta_norm, seed, "power_target")
    return PolynomialTarget([(alpha, b, int(p))], name=f"power{int(p)}",
                            params={"alpha": float(alpha), "p": int(p), **_beta_params(beta, beta_norm, seed, b)})


def quadratic_target(A=None, *, d=None, seed=0, tol=1e-13) -> PolynomialTarget:
    r"""Example 6.2: :math:`g(x) = x^\top A x` with ``A`` symmetric.

    ``terms`` is the eigen-decomposition :math:`A = \sum_j \lambda_j v_j v_j^\top`, i.e. the sum
    of :math:`\lambda_j (v_j^\top x)^2` with unit :math:`v_j` (eigenvalues with
    :math:`|\lambda_j| \le` ``tol`` :math:`\max|\lambda|` are dropped). The Corollary 6.2 bound is
    then :math:`6 \sum_j |\lambda_j| = 6\|A\|_*`. Calling the target evaluates :math:`x^\top A x`
    directly.

    Parameters
    ----------
    A : array_like of shape (d, d), optional
        Symmetric matrix. Default: ``(G + G^T) / 2`` for a seeded Gaussian ``G``, scaled to
        spectral norm 1 (so ``|g(x)| <= 1`` on the sphere).
    d : int, optional
        Needed when ``A`` is not given.
    seed : int or numpy.random.Generator, default 0
    tol : float, default 1e-13
    """
    if A is None:
        if d is None or isinstance(d, bool) or not float(d).is_integer() or int(d) < 1:
            raise InputError("quadratic_target: pass A (a symmetric matrix) or a positive integer d")
        G = as_generator(seed, "seed").standard_normal((int(d), int(d)))
        M = (G + G.T) / 2.0
        M /= np.max(np.abs(np.linalg.eigvalsh(M)))
        origin = f"random symmetric ({_seed_text(seed)}), spectral norm 1"
    else:
        M = np.array(A, dtype=np.float64)
        if M.ndim != 2 or M.shape[0] != M.shape[1] or not np.all(np.isfinite(M)):
            raise InputError(f"quadratic_target: A must be a finite square matrix, got shape {M.shape}")
        if not np.allclose(M, M.T, rtol=1e-12, atol=1e-12 * max(1.0, np.abs(M).max())):
            raise InputError("quadratic_target: A must be symmetric; pass (A + A.T) / 2 (x^T A x is "
                             "unchanged)")
        M = (M + M.T) / 2.0
        origin = "given"
    lam, V = np.linalg.eigh(M)
    scale = np.max(np.abs(lam)) if lam.size else 0.0
    keep = np.abs(lam) > tol * scale
    if not np.any(keep):
        raise InputError("quadratic_target: A is zero; pass a non-zero matrix")
    terms = [(float(lam[j]), V[:, j], 2) for j in np.flatnonzero(keep)]
    M.setflags(write=False)

    def closed(X):
        return np.einsum("ij,jk,ik->i", X, M, X)

    return PolynomialTarget(terms, name="quadratic", closed_form=closed,
                            params={"A": origin, "d": int(M.shape[0]),
                                    "nuclear_norm": float(np.abs(lam[keep]).sum()),
                                    "eigenvalues": lam[keep].tolist() if lam.size <= 5000 else "omitted"})


def _series_length(tail_bound: Callable[[int], float], total: float, who: str) -> int:
    """Smallest K >= 1 whose tail bound (the Corollary 6.2 mass after term K) is negligible."""
    for K in range(1, _MAX_TERMS):
        if tail_bound(K) <= _REL_TAIL * max(1.0, total):
            return K
    raise InputError(f"{who}: the Taylor series needs more than {_MAX_TERMS} terms at this "
                     f"||beta||; pass a smaller beta_norm")


def _seed_text(seed) -> str:
    return f"seed {int(seed)}" if isinstance(seed, (int, np.integer)) else "seeded generator"


def cos_target(beta=None, *, d=None, beta_norm=1.0, seed=0) -> PolynomialTarget:
    r"""Example 6.3: :math:`g(x) = \cos(\beta^\top x) - 1`.

    ``terms`` is the Taylor series :math:`\sum_{j \ge 1} (-1)^j (\beta^\top x)^{2j} / (2j)!`
    (absolutely convergent for every :math:`x`), truncated at the first :math:`J` where the
    neglected part of :math:`\sum_j 2j\,\|\beta\|^{2j}/(2j)! = \|\beta\| \sinh\|\beta\|` (the
    Corollary 6.2 sum) is below ``1e-17`` of the total; ``truncation_error`` bounds
    :math:`\sum_{j > J} \|\beta\|^{2j}/(2j)!`. Calling the target evaluates the closed form.
    For large :math:`\|\beta\|` (beyond ~20) the series suffers cancellation in floating point;
    the bound terms are unaffected.

    Parameters as in :func:`linear_target` (no ``alpha``).
    """
    b = _direction(beta, d, beta_norm, seed, "cos_target")
    r = float(np.linalg.norm(b))

    def mag(j):  # |alpha_j| r^{2j} = r^{2j} / (2j)!
        return 0.0 if r == 0 else math.exp(2 * j * math.log(r) - math.lgamma(2 * j + 1))

    def geometric(first, rho):  # first / (1 - rho), or inf if the ratio bound is useless
        return first / (1.0 - rho) if rho < 1.0 else math.inf

    # ratio of consecutive terms for j > J is at most r^2 / ((2J+2)(2J+3))
    J = _series_length(lambda J: geometric(2 * (J + 1) * mag(J + 1), r * r / ((2 * J + 2) * (2 * J + 3))),
                       r * math.sinh(r), "cos_target")
    terms = [((-1) ** j / math.factorial(2 * j), b, 2 * j) for j in range(1, J + 1)]
    tail = geometric(mag(J + 1), r * r / ((2 * J + 3) * (2 * J + 4)))
    bb = b.copy()

    def closed(X):
        return np.cos(X @ bb) - 1.0

    return PolynomialTarget(terms, name="cos", closed_form=closed, truncation_error=tail,
                            params=_beta_params(beta, beta_norm, seed, b),
                            note=f"Taylor series of cos(z) - 1 truncated after z^{2 * J}")


def arctan_target(beta=None, *, d=None, beta_norm=1.0, seed=0) -> PolynomialTarget:
    r"""Example 6.4: :math:`g(x) = z \arctan(z/2)` with :math:`z = \beta^\top x`.

    This is not a polynomial. Its Taylor series
    :math:`z \arctan(z/2) = \sum_{k \ge 0} (-1)^k z^{2k+2} / ((2k+1)\, 2^{2k+1})` converges
    absolutely only for :math:`|z| < 2`; on unit-norm inputs :math:`|z| \le \|\beta\|`, so the
    series (and hence ``terms``) is only offered for :math:`\|\beta\| < 2` (the paper's example
    takes :math:`\|\beta\| \le 1`). It is truncated where the neglected part of the Corollary 6.2
    sum is below ``1e-17`` of the total; ``truncation_error`` bounds the neglected series tail
    on the unit ball. Calling the target evaluates the closed form.

    Raises
    ------
    InputError
        If :math:`\|\beta\| \ge 2` (no convergent series representation on the sphere).
    """
    b = _direction(beta, d, beta_norm, seed, "arctan_target")
    r = float(np.linalg.norm(b))
    if r >= 2.0 - 1e-9:
        raise InputError(f"arctan_target: ||beta|| = {r:.4g} >= 2, where the Taylor series of "
                         f"z*arctan(z/2) diverges on the sphere, so no Corollary 6.2 terms exist; "
                         f"pass ||beta|| < 2 (the paper's Example 6.4 assumes ||beta|| <= 1)")

    def mag(k):  # |alpha_k| r^{2k+2}
        return 0.0 if r == 0 else math.exp((2 * k + 2) * math.log(r) - math.log(2 * k + 1)
                                           - (2 * k + 1) * math.log(2.0))

    total = r * (math.atanh(r / 2) + r / (2 * (1 - r * r / 4)))  # sum_k p_k |alpha_k| r^{p_k}
    q = (r / 2) ** 2  # ratios of consecutive (bound) terms are at most q < 1
    K = _series_length(lambda K: (2 * K + 4) * mag(K + 1) / (1 - q), total, "arctan_target")
    terms = [((-1) ** k / ((2 * k + 1) * 2 ** (2 * k + 1)), b, 2 * k + 2) for k in range(K + 1)]
    tail = mag(K + 1) / (1 - q)  # geometric majorant of the neglected terms
    bb = b.copy()

    def closed(X):
        z = X @ bb
        return z * np.arctan(z / 2.0)

    return PolynomialTarget(terms, name="arctan", closed_form=closed, truncation_error=tail,
                            params=_beta_params(beta, beta_norm, seed, b),
                            note=f"Taylor series of z*arctan(z/2), valid for |z| < 2, truncated "
                                 f"after z^{2 * K + 2}")


def polynomial_target(terms=None, *, d=None, degrees=(1, 2, 4), alphas=None, beta_norm=1.0,
                      seed=0) -> PolynomialTarget:
    r"""Corollary 6.2: :math:`g(x) = \sum_j \alpha_j (\beta_j^\top x)^{p_j}`.

    Parameters
    ----------
    terms : sequence of (alpha, beta, p), optional
        Explicit terms. Otherwise one term per entry of ``degrees`` with a random unit
        direction (scaled to ``beta_norm``) drawn from ``seed`` and ``alphas`` (default 1 each).
    d : int, optional
        Needed when ``terms`` is not given.
    degrees : sequence of int, default (1, 2, 4)
    alphas : sequence of float, optional
    beta_norm : float, default 1
    seed : int or numpy.random.Generator, default 0
    """
    if terms is not None:
        return PolynomialTarget(list(terms), name="polynomial", params={"terms": "given"})
    degrees = [degrees] if np.isscalar(degrees) else list(degrees)   # `--opt degrees=2` gives one int
    if alphas is not None and np.isscalar(alphas):
        alphas = [alphas]
    if not all(isinstance(p, (int, np.integer)) and not isinstance(p, bool) and p >= 1 for p in degrees):
        raise InputError(f"polynomial_target: degrees must be positive integers, got {degrees!r}; "
                         f"e.g. --opt degrees=1,2,4")
    alphas = [1.0] * len(degrees) if alphas is None else [float(a) for a in alphas]
    if len(alphas) != len(degrees) or not degrees:
        raise InputError(f"polynomial_target: need one alpha per degree, got {len(alphas)} alphas "
                         f"for {len(degrees)} degrees")
    gen = as_generator(seed, "seed")
    out = [(a, _direction(None, d, beta_norm, gen, "polynomial_target"), int(p))
           for a, p in zip(alphas, degrees)]
    return PolynomialTarget(out, name="polynomial",
                            params={"degrees": degrees, "alphas": alphas, "beta_norm": float(beta_norm),
                                    "beta": f"random directions ({_seed_text(seed)})"})


#: Named targets accepted by :func:`make_target` and ``load("sphere", target=...)``.
TARGETS = {
    "linear": linear_target,
    "power": power_target,
    "quadratic": quadratic_target,
    "cos": cos_target,
    "arctan": arctan_target,
    "polynomial": polynomial_target,
}


def make_target(target, *, d: int, seed=0, **params) -> PolynomialTarget:
    """Build a target from a name (``"linear"``, ``"cos"``, ``"linear+quadratic"``, ...) or pass one through.

    Parameters
    ----------
    target : str or PolynomialTarget
        A name from :data:`TARGETS`, several joined with ``+`` (their sum; ``params`` go to every
        component, whose random parts use independent streams derived from ``seed``), or a
        ready :class:`PolynomialTarget` (``d`` must match; ``params`` must be empty).
    d : int
        Input dimension.
    seed : int or numpy.random.SeedSequence, default 0
    **params
        Keyword options of the named constructor(s), e.g. ``alpha``, ``beta_norm``, ``p``.
    """
    if isinstance(target, PolynomialTarget):
        if params:
            raise InputError(f"options {sorted(params)} cannot modify a ready PolynomialTarget")
        if target.d != d:
            raise InputError(f"the target is defined on d = {target.d} but the data have d = {d}")
        return target
    if not isinstance(target, str) or not target:
        raise InputError(f"target must be a name ({', '.join(TARGETS)}, or a sum like "
                         f"'linear+cos') or a PolynomialTarget, got {target!r}")
    names = [t.strip() for t in target.split("+")]
    unknown = [t for t in names if t not in TARGETS]
    if unknown:
        raise InputError(f"unknown target {unknown[0]!r}; choose from {', '.join(TARGETS)} or a sum "
                         f"like 'linear+cos'")
    ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(check_seed(seed))
    children = ss.spawn(len(names)) if len(names) > 1 else [ss]
    parts = []
    for nm, child in zip(names, children):
        fn = TARGETS[nm]
        accepted = [k for k in inspect.signature(fn).parameters if k not in ("d", "seed")]
        bad = [k for k in params if k not in accepted]
        if bad:
            raise InputError(f"target {nm!r} does not accept the option(s) {', '.join(bad)}; it "
                             f"accepts {', '.join(accepted)}")
        parts.append(fn(d=d, seed=np.random.default_rng(child), **params))
    out = parts[0]
    for p in parts[1:]:
        out = out + p
    return out

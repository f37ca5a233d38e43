"""Input checks shared by every module: one clear error per problem, naming the fix."""

from __future__ import annotations

import numpy as np

from ._errors import InputError

__all__ = ["as_data_matrix", "check_unit_norm", "as_labels", "check_sign_coding", "unit_normalize", "row_norms", "UNIT_NORM_TOL"]

#: Rows whose norm differs from 1 by more than this are "not unit norm".
UNIT_NORM_TOL = 1e-6


def as_data_matrix(X, name: str = "X", dtype=np.float64, allow_zero_rows: bool = False) -> np.ndarray:
    """Return ``X`` as a C-contiguous ``(n, d)`` array of ``dtype`` after checking it.

    Raises :class:`InputError` for a wrong number of dimensions, an empty array, NaN/inf entries
    or (unless ``allow_zero_rows``) all-zero rows.
    """
    try:
        A = np.asarray(X)
    except Exception as exc:  # pragma: no cover - exotic inputs
        raise InputError(f"{name} could not be read as an array ({exc}); pass an (n, d) float array") from None
    if A.dtype == object or not (np.issubdtype(A.dtype, np.number) or A.dtype == bool):
        raise InputError(f"{name} has dtype {A.dtype}; pass a numeric (n, d) array")
    if np.iscomplexobj(A):
        raise InputError(f"{name} is complex; pass a real (n, d) array")
    if A.ndim != 2:
        raise InputError(f"{name} must be a 2-D array of shape (n, d), got shape {A.shape}; "
                         f"reshape it with X.reshape(n, -1)")
    if A.shape[0] == 0 or A.shape[1] == 0:
        raise InputError(f"{name} is empty (shape {A.shape}); pass at least one row and one column")
    A = np.ascontiguousarray(A, dtype=dtype)
    bad = ~np.isfinite(A)
    if bad.any():
        rows = np.unique(np.nonzero(bad)[0])
        raise InputError(f"{name} has NaN or inf in {rows.size} row(s) (first: {_few(rows)}); "
                         f"remove or impute those rows")
    if not allow_zero_rows:
        zero = np.nonzero(~A.any(axis=1))[0]
        if zero.size:
            raise InputError(f"{name} has {zero.size} all-zero row(s) (first: {_few(zero)}); a zero "
                             f"input has no direction, so it cannot be put on the unit sphere: drop those rows")
    return A


def row_norms(X: np.ndarray) -> np.ndarray:
    """Euclidean norms of the rows of ``X`` (n, d), free of under- and overflow.

    Each row is divided by its largest absolute entry before squaring (the LAPACK ``dnrm2``
    idea), so rows of norm 1e-300 or 1e300 get their true norm instead of 0 or inf. Rows already
    within 4 ulp of unit norm by the plain formula are reported as computed by it, so unit-norm
    data keep exact norms. Cost ``O(n d)``.
    """
    A = np.asarray(X, dtype=np.float64)
    plain = np.sqrt(np.einsum("ij,ij->i", A, A))
    ok = np.isfinite(plain) & (plain > 1e-150) & (plain < 1e150)
    if np.all(ok):
        return plain
    out = plain.copy()
    bad = np.nonzero(~ok)[0]
    big = np.max(np.abs(A[bad]), axis=1)
    safe = np.where(big > 0, big, 1.0)
    B = A[bad] / safe[:, None]
    out[bad] = np.where(big > 0, safe * np.sqrt(np.einsum("ij,ij->i", B, B)), 0.0)
    return out


def check_unit_norm(X: np.ndarray, name: str = "X", tol: float = UNIT_NORM_TOL) -> None:
    """Raise :class:`InputError` unless every row of ``X`` has Euclidean norm 1 (within ``tol``)."""
    norms = row_norms(X)
    off = np.nonzero(np.abs(norms - 1.0) > tol)[0]
    if off.size:
        i = off[0]
        raise InputError(f"{name} rows must have unit norm (the theory assumes ||x|| = 1), but "
                         f"{off.size} row(s) do not (row {i} has norm {norms[i]:.6g}); normalize them "
                         f"with twolayer.data.unit_normalize(X) or pass normalize=True / --normalize")


def unit_normalize(X, *, allow_zero_rows: bool = False) -> np.ndarray:
    """Return a copy of ``X`` (n, d) with every row scaled to unit Euclidean norm.

    Scale-safe (rows of norm 1e-300 or 1e300 included, see :func:`row_norms`); each row is
    divided by its largest entry first, then by the norm of the result. All-zero rows are
    refused, or kept zero with ``allow_zero_rows``.
    """
    A = as_data_matrix(X, allow_zero_rows=allow_zero_rows)
    big = np.max(np.abs(A), axis=1, keepdims=True)
    B = A / np.where(big > 0, big, 1.0)
    norms = np.sqrt(np.einsum("ij,ij->i", B, B))[:, None]
    B /= np.where(norms > 0, norms, 1.0)
    return B


def as_labels(y, n: int | None = None, name: str = "y") -> np.ndarray:
    """Return ``y`` as a float64 vector of length ``n``; a ``(n, 1)`` column is accepted."""
    a = np.asarray(y)
    if a.ndim == 2 and a.shape[1] == 1:
        a = a[:, 0]
    if a.ndim != 1:
        raise InputError(f"{name} must be a vector of shape (n,), got shape {a.shape}; "
                         f"for several label sets call once per column")
    if not (np.issubdtype(a.dtype, np.number) or a.dtype == bool) or np.iscomplexobj(a):
        raise InputError(f"{name} has dtype {a.dtype}; pass real numeric labels (e.g. +1/-1)")
    a = a.astype(np.float64)
    if n is not None and a.shape[0] != n:
        raise InputError(f"{name} has {a.shape[0]} entries but the data have {n} rows; "
                         f"pass one label per row of X")
    if not np.all(np.isfinite(a)):
        raise InputError(f"{name} has NaN or inf entries; remove those samples")
    return a


def _zero_one_coded(y) -> bool:
    """Whether the numeric (or boolean) array ``y`` takes exactly the two values 0 and 1. Cost ``O(n)``."""
    a = np.asarray(y)
    if a.dtype.kind not in "biuf" or a.size < 2:
        return False
    zero = a == 0
    return bool(zero.any() and not zero.all() and np.all(zero | (a == 1)))


def check_sign_coding(y, name: str = "y", fix: str | None = None) -> None:
    r"""Refuse labels ``y`` (n,) that take exactly the values 0 and 1: a 0/1 class coding.

    The complexity ``sqrt(2 yᵀ(H^∞)⁻¹y / n)`` of Arora et al. (2019, eq. 10) and its bound
    (Thm 5.1) are stated for labels ``y_i ∈ {−1, +1}``. The 0/1 coding of the same two classes,
    ``b = (t + 1)/2`` with ``t`` the ±1 labels, gives ``bᵀH⁻¹b = ¼ (tᵀH⁻¹t + 2·1ᵀH⁻¹t + 1ᵀH⁻¹1)``:
    another number, not a rescaling. Such labels are refused (``InputError`` naming the fix
    ``y = 2*y - 1``, or ``fix``) rather than converted with a warning, because a measuring
    instrument must not change the quantity it reports behind the caller's back, and the
    conversion is one explicit line for the caller. Everything else passes unchanged: ±1 labels,
    a single value, any real-valued regression target (also one with values 0, 1 and others).
    The classifiers of :mod:`twolayer.estimators` take any labels, since they apply the ±1
    coding themselves. Cost ``O(n)``.
    """
    if _zero_one_coded(y):
        raise InputError(f"{name} takes only the values 0 and 1, but the complexity of Arora et al. (2019) "
                         f"assumes +1/-1 labels (a 0/1 coding measures a different number); "
                         f"{fix or f'pass {name} = 2*{name} - 1 (1 -> +1, 0 -> -1)'}")


def _few(idx, k: int = 5) -> str:
    head = ", ".join(str(int(i)) for i in idx[:k])
    return head + (", ..." if len(idx) > k else "")

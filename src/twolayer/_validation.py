"""Input checks shared by every module: one clear error per problem, naming the fix."""

from __future__ import annotations

import numpy as np

from ._errors import InputError

__all__ = ["as_data_matrix", "check_unit_norm", "as_labels", "unit_normalize", "UNIT_NORM_TOL"]

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


def check_unit_norm(X: np.ndarray, name: str = "X", tol: float = UNIT_NORM_TOL) -> None:
    """Raise :class:`InputError` unless every row of ``X`` has Euclidean norm 1 (within ``tol``)."""
    norms = np.sqrt(np.einsum("ij,ij->i", X, X))
    off = np.nonzero(np.abs(norms - 1.0) > tol)[0]
    if off.size:
        i = off[0]
        raise InputError(f"{name} rows must have unit norm (the theory assumes ||x|| = 1), but "
                         f"{off.size} row(s) do not (row {i} has norm {norms[i]:.6g}); normalize them "
                         f"with twolayer.data.unit_normalize(X) or pass normalize=True / --normalize")


def unit_normalize(X) -> np.ndarray:
    """Return a copy of ``X`` (n, d) with every row scaled to unit Euclidean norm."""
    A = as_data_matrix(X)
    return A / np.sqrt(np.einsum("ij,ij->i", A, A))[:, None]


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


def _few(idx, k: int = 5) -> str:
    head = ", ".join(str(int(i)) for i in idx[:k])
    return head + (", ..." if len(idx) > k else "")

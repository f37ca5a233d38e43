"""Small shared helpers for the tests (independent of the package's own data module)."""

from __future__ import annotations

import numpy as np

#: Tolerances by dtype for comparisons against exact/extended-precision references.
TOL = {np.float64: 1e-15, np.float32: 1e-6}


def sphere(n: int, d: int, seed: int) -> np.ndarray:
    """``n`` points uniform on the unit sphere in R^d, shape (n, d)."""
    X = np.random.default_rng(seed).standard_normal((n, d))
    return X / np.linalg.norm(X, axis=1, keepdims=True)


def loglog_slope(x, y) -> float:
    """Least-squares slope of log y against log x."""
    return float(np.polyfit(np.log(np.asarray(x, float)), np.log(np.asarray(y, float)), 1)[0])

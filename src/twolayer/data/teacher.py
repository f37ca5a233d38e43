r"""The teacher network of Li, Ma and Zhang (COLT 2020): :math:`f^*(x) = a^\top |W^* x|`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._errors import InputError
from .._validation import as_data_matrix, unit_normalize
from ._common import as_generator, check_count, check_seed, child_rng
from ._dataset import Dataset

__all__ = ["TeacherNetwork", "random_orthogonal", "teacher_network"]


def random_orthogonal(d: int, rng) -> np.ndarray:
    """A Haar-distributed random orthogonal matrix of shape (d, d).

    QR of a standard Gaussian matrix, with the columns of Q multiplied by the signs of the
    diagonal of R (Mezzadri 2007), which makes the distribution exactly Haar.
    """
    d = check_count(d, "d")
    G = as_generator(rng).standard_normal((d, d))
    Q, R = np.linalg.qr(G)
    signs = np.sign(np.diag(R))
    signs[signs == 0] = 1.0
    return Q * signs


@dataclass(frozen=True, eq=False)
class TeacherNetwork:
    r"""The target :math:`f^*(x) = \sum_i a_i |w_i^{*\top} x|` (absolute-value activation).

    Attributes
    ----------
    a : ndarray of shape (k,)
        Nonnegative output weights (default ``1/d`` each).
    W : ndarray of shape (k, d)
        First-layer weights, rows ``w_i^*`` (orthonormal in the paper's setting).
    """

    a: np.ndarray
    W: np.ndarray

    @property
    def d(self) -> int:
        return int(self.W.shape[1])

    @property
    def orthonormal_rows(self) -> bool:
        """Whether ``W W^T = I`` (to 1e-10), as Li, Ma and Zhang assume."""
        k = self.W.shape[0]
        return bool(np.allclose(self.W @ self.W.T, np.eye(k), atol=1e-10))

    def __call__(self, X) -> np.ndarray:
        """Evaluate :math:`|X W^{*\top}| a`; ``X`` (n, d) -> (n,)."""
        A = as_data_matrix(X, "X", allow_zero_rows=True)
        if A.shape[1] != self.d:
            raise InputError(f"X has {A.shape[1]} columns but the teacher expects d = {self.d}")
        return np.abs(A @ self.W.T) @ self.a

    def describe(self, max_numbers: int = 5000) -> dict:
        out = {"name": "teacher", "k": int(self.W.shape[0]), "d": self.d,
               "orthonormal_rows": self.orthonormal_rows, "a_sum": float(self.a.sum()),
               "a_sq_sum": float(self.a @ self.a)}
        if self.W.size + self.a.size <= max_numbers:
            out["a"] = self.a.tolist()
            out["W"] = self.W.tolist()
        return out


def teacher_network(n=200, d=10, seed=0, a=None, W=None, *, n_test=None, normalize=False) -> Dataset:
    r"""Samples from the Li-Ma-Zhang teacher: :math:`x \sim N(0, I_d)`, :math:`y = a^\top |W^* x|`.

    Li, Ma and Zhang (2020) show that a two-layer ReLU network trained by GD reaches population
    loss :math:`o(1/d)` on this target while every kernel method (NTK included) with poly(d)
    samples is stuck at :math:`\Omega(1/d)`.

    Parameters
    ----------
    n : int, default 200
        Number of training samples.
    d : int, default 10
        Input dimension.
    seed : int, default 0
        Seeds the teacher (``W``), the training inputs and the test inputs through independent
        streams (``SeedSequence(seed, spawn_key=(k,))``).
    a : array_like of shape (k,), optional
        Nonnegative output weights; default ``1/d`` each (so ``Var f* = Θ(1/d)``).
    W : array_like of shape (k, d) or {"random", "identity"}, optional
        First-layer weights; default (``None`` or ``"random"``): a Haar-random orthogonal d x d
        matrix (:func:`random_orthogonal`); ``"identity"``: ``I_d``.
    n_test : int, optional
        Size of an independent test sample.
    normalize : bool, default False
        The paper's inputs are Gaussian, so rows are *not* unit-normalized. With ``True`` the rows
        are normalized first and ``y`` is computed on the normalized inputs (recorded).

    Returns
    -------
    Dataset
        ``X`` (n, d), ``y`` (n,) >= 0, optional test set, ``target`` = the :class:`TeacherNetwork`
        (its ``a`` and ``W`` are also in ``provenance["teacher"]`` when small).
    """
    n = check_count(n, "n")
    d = check_count(d, "d")
    seed = check_seed(seed)
    if W is None or (isinstance(W, str) and W == "random"):
        Wm, w_kind = random_orthogonal(d, child_rng(seed, "teacher")), "random orthogonal (Haar, QR with sign fix)"
    elif isinstance(W, str) and W == "identity":
        Wm, w_kind = np.eye(d), "identity"
    elif isinstance(W, str):
        raise InputError(f"W must be 'random', 'identity' or a (k, d) array, got {W!r}")
    else:
        Wm = as_data_matrix(W, "W", allow_zero_rows=True)
        if Wm.shape[1] != d:
            raise InputError(f"W has shape {Wm.shape} but d = {d}; pass a (k, d) matrix")
        w_kind = "given"
    k = Wm.shape[0]
    if a is None:
        av = np.full(k, 1.0 / d)
    else:
        av = np.array(a, dtype=np.float64).reshape(-1)
        if av.shape[0] != k or not np.all(np.isfinite(av)):
            raise InputError(f"a must be a finite vector of length {k} (one weight per row of W), "
                             f"got shape {av.shape}")
        if np.any(av < 0):
            raise InputError("a must be nonnegative (Li, Ma and Zhang's setting); pass |a|")
    teacher = TeacherNetwork(av, Wm)
    X = child_rng(seed, "X_train").standard_normal((n, d))
    X_test = None
    if n_test is not None and n_test != 0:
        X_test = child_rng(seed, "X_test").standard_normal((check_count(n_test, "n_test"), d))
    if normalize:
        X = unit_normalize(X)
        X_test = None if X_test is None else unit_normalize(X_test)
    y = teacher(X)
    y_test = None if X_test is None else teacher(X_test)
    prov = {"source": "teacher", "paper": "Li, Ma and Zhang, COLT 2020 (arXiv 2007.04596)",
            "formula": "y = a^T |W x|, x ~ N(0, I_d)",
            "options": {"n": n, "d": d, "seed": seed, "n_test": n_test, "normalize": bool(normalize),
                        "W": w_kind, "a": "1/d each" if a is None else "given"},
            "teacher": teacher.describe(),
            "rng": "SeedSequence(seed, spawn_key=(9,)) for W, (6,) for X, (7,) for X_test",
            "counts": {"n_train": n, "n_test": 0 if X_test is None else int(X_test.shape[0]), "d": d}}
    return Dataset(X, y, X_test, y_test, name=f"teacher(d={d})", provenance=prov, target=teacher)

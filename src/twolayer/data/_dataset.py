"""The :class:`Dataset` container every loader returns."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._errors import InputError
from .._validation import as_data_matrix, as_labels
from ._common import jsonable, sha256_bytes

__all__ = ["Dataset"]


@dataclass(frozen=True, eq=False)
class Dataset:
    """A training set, an optional test set, and a record of where they came from.

    Parameters
    ----------
    X : ndarray of shape (n, d)
        Training inputs, float64. Rows have unit Euclidean norm unless the loader was called
        with ``normalize=False`` (``provenance["options"]["normalize"]`` says which).
    y : ndarray of shape (n,)
        Training labels or targets, float64 (``+1``/``-1`` for binary tasks).
    X_test : ndarray of shape (n_test, d) or None
        Test inputs, preprocessed exactly like ``X``.
    y_test : ndarray of shape (n_test,) or None
        Test labels; present exactly when ``X_test`` is.
    name : str
        Short human-readable name, e.g. ``"digits[0v1]"``, ``"mnist[0v1]"``, ``"sphere(d=10)"``.
    provenance : dict
        JSON-serializable record: source, files read with their SHA-256, layout detected, every
        option applied (classes, n_train, n_test, seed, label_noise, normalize, scaling, ...) and
        the sample counts. Written into a run's ``meta.json``.
    target : object or None
        For synthetic data, the object that produced ``y`` from ``X``: a
        :class:`~twolayer.data.PolynomialTarget` (with ``terms`` for the Corollary 6.2 bound) or a
        :class:`~twolayer.data.TeacherNetwork` (with ``a`` and ``W``). ``None`` for real data and
        after :meth:`with_labels`.

    Notes
    -----
    The arrays are validated (shapes, finiteness) and converted to C-contiguous float64 on
    construction. Treat them as read-only: change labels through :meth:`with_labels`, which keeps
    the provenance honest.
    """

    X: np.ndarray
    y: np.ndarray
    X_test: np.ndarray | None = None
    y_test: np.ndarray | None = None
    name: str = "dataset"
    provenance: dict = field(default_factory=dict)
    target: Any = None

    def __post_init__(self):
        X = as_data_matrix(self.X, "X", allow_zero_rows=True)
        y = as_labels(self.y, X.shape[0], "y")
        if (self.X_test is None) != (self.y_test is None):
            raise InputError("X_test and y_test must be given together (or both left out); "
                             "pass both arrays or neither")
        X_test = y_test = None
        if self.X_test is not None:
            X_test = as_data_matrix(self.X_test, "X_test", allow_zero_rows=True)
            if X_test.shape[1] != X.shape[1]:
                raise InputError(f"X_test has {X_test.shape[1]} columns but X has {X.shape[1]}; "
                                 f"train and test inputs must have the same dimension d")
            y_test = as_labels(self.y_test, X_test.shape[0], "y_test")
        if not isinstance(self.provenance, dict):
            raise InputError(f"provenance must be a dict, got {type(self.provenance).__name__}")
        object.__setattr__(self, "X", X)
        object.__setattr__(self, "y", y)
        object.__setattr__(self, "X_test", X_test)
        object.__setattr__(self, "y_test", y_test)
        object.__setattr__(self, "name", str(self.name))
        object.__setattr__(self, "provenance", jsonable(self.provenance))

    # ------------------------------------------------------------------ shape helpers
    @property
    def n(self) -> int:
        """Number of training samples."""
        return int(self.X.shape[0])

    @property
    def d(self) -> int:
        """Input dimension."""
        return int(self.X.shape[1])

    @property
    def n_test(self) -> int:
        """Number of test samples (0 when there is no test set)."""
        return 0 if self.X_test is None else int(self.X_test.shape[0])

    @property
    def has_test(self) -> bool:
        """Whether a test set is present."""
        return self.X_test is not None

    def __repr__(self) -> str:
        test = f", n_test={self.n_test}" if self.has_test else ""
        return f"Dataset({self.name!r}, n={self.n}, d={self.d}{test})"

    # ------------------------------------------------------------------ derived datasets
    def with_labels(self, y, y_test=None, note: str = "labels replaced") -> "Dataset":
        """Return a copy with new training (and optionally test) labels.

        Parameters
        ----------
        y : array_like of shape (n,)
            New training labels.
        y_test : array_like of shape (n_test,), optional
            New test labels; by default the current test labels are kept.
        note : str
            Why the labels changed (e.g. ``"worst-case eigenvector labels"``); recorded in
            ``provenance["label_changes"]`` together with checksums of the new label vectors.

        Returns
        -------
        Dataset
            Same inputs and name, new labels, ``target=None``.
        """
        y_new = as_labels(y, self.n, "y")
        if y_test is not None:
            if not self.has_test:
                raise InputError("y_test was given but this dataset has no test set; "
                                 "pass only y")
            y_test_new = as_labels(y_test, self.n_test, "y_test")
        else:
            y_test_new = self.y_test
        prov = copy.deepcopy(self.provenance)
        change = {"note": str(note),
                  "train": {"n": self.n, "sha256": sha256_bytes(y_new.tobytes())},
                  "test_replaced": y_test is not None}
        if y_test is not None:
            change["test"] = {"n": self.n_test, "sha256": sha256_bytes(y_test_new.tobytes())}
        prov.setdefault("label_changes", []).append(change)
        return Dataset(self.X, y_new, self.X_test, y_test_new, name=self.name, provenance=prov,
                       target=None)

    def save_npz(self, path) -> None:
        """Write the arrays (``X``, ``y``, optionally ``X_test``, ``y_test``) to a ``.npz``.

        The file is written atomically and is readable by :func:`~twolayer.data.load_npz` and
        every ``DATA`` argument of the CLI; the provenance is stored as a JSON string under
        the key ``provenance``.
        """
        from .._io import atomic_save_npz, to_json

        arrays = {"X": self.X, "y": self.y}
        if self.has_test:
            arrays.update(X_test=self.X_test, y_test=self.y_test)
        arrays["provenance"] = np.array(to_json({"name": self.name, **self.provenance}))
        atomic_save_npz(path, **arrays)

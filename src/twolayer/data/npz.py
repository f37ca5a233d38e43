"""A user's own data set in a ``.npz``: ``X`` (n, d), ``y`` (n,), optionally ``X_test``, ``y_test``."""

from __future__ import annotations

import io
import numbers
import zipfile
import zlib
from pathlib import Path

import numpy as np

from .._errors import DataError, InputError
from .._validation import UNIT_NORM_TOL, as_data_matrix, as_labels, row_norms, unit_normalize
from ._common import check_zip_sizes, check_fraction, check_seed, child_rng, file_record, read_raw
from ._dataset import Dataset
from .preprocess import _noise_both, _sha, _subsample, format_classes, pair_indices

__all__ = ["load_npz", "read_npz_arrays", "NPZ_KEYS"]

#: Keys a data ``.npz`` must / may hold.
NPZ_KEYS = {"required": ("X", "y"), "optional": ("X_test", "y_test")}

_MAX_STRATA = 50


def read_npz_arrays(path) -> tuple[dict, dict]:
    """Read and validate the arrays of a data ``.npz`` (never unpickling: ``allow_pickle=False``).

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    arrays : dict
        ``X`` (n, d) float64, ``y`` (n,) float64 and, if present, ``X_test`` (n_test, d) and
        ``y_test`` (n_test,).
    record : dict
        Path, size and SHA-256 of the file, and the keys found.
    """
    p = Path(path).expanduser()
    if not p.is_file():
        raise DataError(f"data file {p} not found; pass the path of a .npz holding X (n, d) and y (n,)")
    raw = read_raw(p)
    record = file_record(p, raw)
    if raw[:4] not in (b"PK\x03\x04", b"PK\x05\x06"):
        raise DataError(f"{p} is not a .npz (zip) file (it starts with {raw[:4]!r}); save your data "
                        f"with np.savez(path, X=X, y=y)")
    check_zip_sizes(raw, str(p))
    try:
        with np.load(io.BytesIO(raw), allow_pickle=False) as z:
            keys = list(z.files)
            missing = [k for k in NPZ_KEYS["required"] if k not in keys]
            if missing:
                raise DataError(f"{p} lacks key(s) {', '.join(missing)}: found {', '.join(keys) or 'no keys'}, "
                                f"required X (n, d) and y (n,) (optional X_test, y_test); save with "
                                f"np.savez(path, X=X, y=y)")
            if ("X_test" in keys) != ("y_test" in keys):
                have = "X_test" if "X_test" in keys else "y_test"
                raise DataError(f"{p} has {have} but not its partner (found: {', '.join(keys)}); "
                                f"store both X_test and y_test, or neither")
            arrays = {k: z[k] for k in (*NPZ_KEYS["required"], *NPZ_KEYS["optional"]) if k in keys}
    except DataError:
        raise
    except ValueError as exc:
        if "pickle" in str(exc):
            raise DataError(f"{p} stores object arrays, which need pickle (refused for safety); save "
                            f"numeric arrays only") from None
        raise DataError(f"{p} is not a valid .npz file ({exc}); re-create it with np.savez") from None
    except (zipfile.BadZipFile, OSError, EOFError, KeyError, zlib.error, NotImplementedError, RuntimeError) as exc:
        raise DataError(f"{p} is not a readable .npz (zip) file or is truncated ({type(exc).__name__}: "
                        f"{exc}); re-create it with np.savez(path, X=X, y=y)") from None
    record["keys"] = keys
    try:
        X = as_data_matrix(arrays["X"], "X")
        y = as_labels(arrays["y"], X.shape[0], "y")
        out = {"X": X, "y": y}
        if "X_test" in arrays:
            Xt = as_data_matrix(arrays["X_test"], "X_test")
            if Xt.shape[1] != X.shape[1]:
                raise InputError(f"X_test has {Xt.shape[1]} columns but X has {X.shape[1]}; train "
                                 f"and test inputs must have the same dimension d")
            out["X_test"] = Xt
            out["y_test"] = as_labels(arrays["y_test"], Xt.shape[0], "y_test")
    except InputError as exc:
        raise InputError(f"{p.name}: {exc}") from None
    return out, record


def _stratifiable(y: np.ndarray) -> bool:
    u = np.unique(y)
    return u.size <= _MAX_STRATA and np.all(u == np.round(u))


def load_npz(path, *, classes=None, n_train=None, n_test=None, seed=0, label_noise=0.0,
             normalize=True) -> Dataset:
    """Load a user's ``.npz`` data set (``X``, ``y``, optional ``X_test``, ``y_test``).

    Parameters
    ----------
    path : str or Path
        A ``.npz`` written with ``np.savez(path, X=X, y=y[, X_test=..., y_test=...])``. Loaded
        with ``allow_pickle=False``. ``X`` must be (n, d) with finite entries and no all-zero
        rows; ``y`` must have n entries.
    classes : sequence of labels, optional
        If given, keep only these classes and map ``classes[0]`` to ``+1``, the others to
        ``-1`` (as for the image data). Default: labels are used as they are.
    n_train, n_test : int, optional
        Seeded subsample sizes of the training and test sets (stratified when the labels are
        integer-valued with at most 50 distinct values, uniform otherwise). Default: all.
    seed : int, default 0
    label_noise : float in [0, 1], default 0
        Redraw this portion of the (±1) labels of both sets; see
        :func:`~twolayer.data.apply_label_noise`.
    normalize : bool, default True
        Scale every row to unit norm (recorded). With ``False`` the inputs are left unchanged;
        the record then says whether they already have unit norm.

    Returns
    -------
    Dataset
        Named after the file (e.g. ``"my.npz"``).
    """
    seed = check_seed(seed)
    label_noise = check_fraction(label_noise, "label_noise")
    p = Path(path).expanduser()
    arrays, record = read_npz_arrays(p)
    X, y = arrays["X"], arrays["y"]
    X_test, y_test = arrays.get("X_test"), arrays.get("y_test")
    options = {"classes": None if classes is None else list(classes), "n_train": n_train,
               "n_test": n_test, "seed": seed, "label_noise": label_noise,
               "normalize": bool(normalize)}
    name = p.name
    counts = {"file_train": int(X.shape[0]), "file_test": 0 if X_test is None else int(X_test.shape[0])}
    if classes is not None:
        idx, y = pair_indices(y, classes)
        X = X[idx]
        if X_test is not None:
            idx_t, y_test = pair_indices(y_test, classes)
            X_test = X_test[idx_t]
        name += f"[{format_classes(classes)}]"
    sub = {}
    for nm, key, purpose in (("n_train", "train", "train_subsample"), ("n_test", "test", "test_subsample")):
        val = options[nm]
        labels = y if key == "train" else y_test
        if val is None:
            continue
        if labels is None:
            raise InputError(f"n_test={val} but {p.name} has no test set (X_test, y_test); "
                             f"leave n_test unset")
        if isinstance(val, bool) or not isinstance(val, numbers.Integral) or not 1 <= val <= labels.shape[0]:
            raise InputError(f"{nm}={val!r} but {p.name} has {labels.shape[0]} {key} samples; pass "
                             f"an integer between 1 and {labels.shape[0]}")
        strat = _stratifiable(labels)
        rows = _subsample(labels, val, child_rng(seed, purpose), strat)
        sub[key] = {"stratified": bool(strat), "rows_sha256": _sha(rows)}
        if key == "train":
            X, y = X[rows], y[rows]
        else:
            X_test, y_test = X_test[rows], y_test[rows]
    norms = row_norms(X)
    already = bool(np.all(np.abs(norms - 1.0) <= UNIT_NORM_TOL))
    if normalize:
        X = unit_normalize(X)
        if X_test is not None:
            X_test = unit_normalize(X_test)
    y, y_test, noise = _noise_both(y, y_test, label_noise, seed)
    prov = {"source": "npz", "path": str(p.resolve()), "files": [record], "layout": "npz",
            "options": options, "subsample": sub, "inputs_were_unit_norm": already,
            "counts": {**counts, "n_train": int(X.shape[0]),
                       "n_test": 0 if X_test is None else int(X_test.shape[0]), "d": int(X.shape[1])}}
    if noise is not None:
        prov["label_noise_applied"] = noise
    return Dataset(X, y, X_test, y_test, name=name, provenance=prov)

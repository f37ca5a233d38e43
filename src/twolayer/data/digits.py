"""The bundled scikit-learn digits: an offline stand-in for MNIST in tests, CI and the demo."""

from __future__ import annotations

import numpy as np

from .._errors import InputError
from .._validation import unit_normalize
from ._common import check_count, check_fraction, check_seed, child_rng, file_record
from ._dataset import Dataset
from .preprocess import (SCALINGS, _noise_both, _scale_rows, _sha, format_classes, pair_indices,
                         stratified_subsample)

__all__ = ["load_digits_pair"]

_PIXEL_MAX = 16.0


def _digits_file_record():
    """Provenance of the file scikit-learn reads (``sklearn/datasets/data/digits.csv.gz``)."""
    try:
        from importlib import resources

        path = resources.files("sklearn.datasets.data") / "digits.csv.gz"
        return [file_record(str(path))]
    except Exception:  # pragma: no cover - unusual scikit-learn installs
        return []


def load_digits_pair(classes=(0, 1), *, n_train=None, n_test=None, test_fraction=0.2, seed=0,
                     label_noise=0.0, normalize=True, scale="unit_interval") -> Dataset:
    """Two classes of the bundled 8x8 digits, with a seeded stratified train/test split.

    ``sklearn.datasets.load_digits`` ships 1,797 images of 8x8 pixels with integer values 0-16,
    ten classes of about 180 each; it needs no network. Classes 0 vs 1 give 360 samples, the
    offline stand-in for the MNIST pair of Arora et al. (2019, Appendix A).

    Protocol: keep ``classes`` (first -> ``+1``, others -> ``-1``); draw a test set of
    ``n_test`` samples (default ``round(test_fraction * N)``) stratified by class; the training
    set is the rest, or a stratified subsample of ``n_train`` of it; scale pixels to [0, 1]
    (divide by 16); normalize rows to unit norm; optionally redraw a portion ``label_noise`` of
    both sets' labels (:func:`~twolayer.data.apply_label_noise`).

    Parameters
    ----------
    classes : sequence of at least two digits, default (0, 1)
    n_train : int, optional
        Training-set size (default: every sample not in the test set).
    n_test : int, optional
        Test-set size (default ``round(test_fraction * N)``; 0 gives no test set).
    test_fraction : float, default 0.2
        Used only when ``n_test`` is None.
    seed : int, default 0
        Seeds the split, the subsample and the label noise (independent streams).
    label_noise : float in [0, 1], default 0
    normalize : bool, default True
        Unit-norm rows (the theory assumes ``||x|| = 1``).
    scale : {"unit_interval", "none", "standardize"}, default "unit_interval"

    Returns
    -------
    Dataset
        ``X`` of shape (n, 64), ``y`` of shape (n,) in ``{-1, +1}``, and a test set; named e.g.
        ``"digits[0v1]"``.

    Examples
    --------
    >>> ds = load_digits_pair()
    >>> ds.n + ds.n_test, ds.d
    (360, 64)
    """
    from sklearn.datasets import load_digits
    import sklearn

    seed = check_seed(seed)
    label_noise = check_fraction(label_noise, "label_noise")
    if scale not in SCALINGS:
        raise InputError(f"scale must be one of {', '.join(SCALINGS)}, got {scale!r}")
    images, labels = load_digits(return_X_y=True)
    idx, ypm = pair_indices(labels, classes)
    N = idx.size
    if n_test is None:
        n_test = int(round(check_fraction(test_fraction, "test_fraction") * N))
    else:
        n_test = check_count(n_test, "n_test", minimum=0)
    if n_test >= N:
        raise InputError(f"n_test={n_test} leaves no training data: classes {tuple(classes)} have "
                         f"{N} digits; pass n_test < {N}")
    pool = np.arange(N)
    if n_test:
        te = stratified_subsample(labels[idx], n_test, child_rng(seed, "split"))
        pool = np.setdiff1d(pool, te)
    else:
        te = np.zeros(0, dtype=np.int64)
    if n_train is not None:
        n_train = check_count(n_train, "n_train")
        if n_train > pool.size:
            raise InputError(f"n_train={n_train} but only {pool.size} digits of classes "
                             f"{tuple(classes)} remain after the {n_test}-sample test split; pass "
                             f"n_train <= {pool.size} or a smaller n_test")
        tr = pool[stratified_subsample(labels[idx][pool], n_train, child_rng(seed, "train_subsample"))]
    else:
        tr = pool
    X, stats = _scale_rows(images[idx[tr]], scale, _PIXEL_MAX)
    y = ypm[tr]
    has_test = te.size > 0
    X_test = _scale_rows(images[idx[te]], scale, _PIXEL_MAX, stats)[0] if has_test else None
    y_test = ypm[te] if has_test else None
    if normalize:
        X = unit_normalize(X)
        X_test = unit_normalize(X_test) if has_test else None
    y, y_test, noise = _noise_both(y, y_test, label_noise, seed)
    name = f"digits[{format_classes(classes)}]"
    prov = {
        "source": "digits",
        "description": "sklearn.datasets.load_digits (bundled, 1797 images 8x8, values 0-16)",
        "sklearn_version": sklearn.__version__,
        "files": _digits_file_record(),
        "layout": "bundled",
        "options": {"classes": list(classes), "n_train": n_train, "n_test": n_test,
                    "test_fraction": test_fraction, "seed": seed, "label_noise": label_noise,
                    "normalize": bool(normalize),
                    "scale": scale if scale != "unit_interval" else "unit_interval (divide by 16)"},
        "split": "no official split: test set drawn stratified by class with "
                 "SeedSequence(seed, spawn_key=(3,)), training set = the rest (or a stratified "
                 "subsample with spawn_key=(1,))",
        "counts": {"available": int(N), "n_train": int(tr.size), "n_test": int(te.size), "d": 64,
                   "train_positive": int(np.sum(y > 0))},
        "rows_sha256": {"train": _sha(idx[tr]), "test": _sha(idx[te])},
    }
    if noise is not None:
        prov["label_noise_applied"] = noise
    return Dataset(X, y, X_test, y_test, name=name, provenance=prov)

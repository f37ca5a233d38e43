"""Binary class pairs, stratified subsamples, label noise and the papers' preprocessing.

The preprocessing of Arora et al. (ICML 2019, Appendix A) is: keep two classes, label the first
``+1`` and the other ``-1``, flatten, normalize each input to unit Euclidean norm, and use 10,000
training and 2,000 test images. Their Figure 2 replaces the labels of a portion ``p`` of *both*
training and test examples by draws from ``unif{-1, +1}``. :func:`paper_protocol` implements
this pipeline on raw arrays, with every choice recorded.
"""

from __future__ import annotations

import math

import numpy as np

from .._errors import InputError
from .._validation import as_labels, unit_normalize
from ._common import as_generator, check_count, check_fraction, check_seed, child_rng
from ._dataset import Dataset

__all__ = ["binary_pair", "pair_indices", "stratified_subsample", "apply_label_noise",
           "label_noise_count", "paper_protocol", "SCALINGS", "format_classes"]

#: Accepted values of the ``scale`` option of the image loaders.
SCALINGS = ("unit_interval", "none", "standardize")


# --------------------------------------------------------------------------- class selection
def _check_classes(classes) -> tuple:
    try:
        cls = tuple(classes)
    except TypeError:
        raise InputError(f"classes must be a sequence of at least two labels such as (0, 1), "
                         f"got {classes!r}") from None
    if len(cls) < 2:
        raise InputError(f"classes must name at least two labels (first -> +1, others -> -1), "
                         f"got {classes!r}; pass e.g. classes=(0, 1)")
    if len(set(cls)) != len(cls):
        raise InputError(f"classes must be distinct, got {classes!r}")
    for c in cls:
        if isinstance(c, (bool, str, bytes)) or not np.isscalar(c) or not np.isreal(c):
            raise InputError(f"classes must be numeric labels such as (0, 1), got {classes!r}")
    return cls


def format_classes(classes) -> str:
    """``(0, 1)`` -> ``"0v1"``; ``(3, 5, 8)`` -> ``"3v5,8"`` (first class against the rest)."""
    cls = _check_classes(classes)
    return f"{_fmt(cls[0])}v" + ",".join(_fmt(c) for c in cls[1:])


def _fmt(c) -> str:
    f = float(c)
    return str(int(f)) if f.is_integer() else repr(f)


def pair_indices(labels, classes=(0, 1)) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the samples whose label is in ``classes``, and their ``±1`` labels.

    Parameters
    ----------
    labels : array_like of shape (N,)
        Original (multi-class) labels.
    classes : sequence of at least two distinct labels
        ``classes[0]`` is mapped to ``+1`` and every other listed class to ``-1`` (Arora et al.:
        "+1 for the first class, -1 otherwise").

    Returns
    -------
    idx : ndarray of shape (n,), int64
        Sorted positions of the selected samples.
    y : ndarray of shape (n,), float64
        ``+1.0`` / ``-1.0`` labels of the selected samples.
    """
    cls = _check_classes(classes)
    lab = np.asarray(labels)
    if lab.ndim != 1:
        raise InputError(f"labels must be a vector of shape (N,), got shape {lab.shape}")
    present = np.unique(lab)
    missing = [c for c in cls if not np.any(present == c)]
    if missing:
        shown = ", ".join(_fmt(v) for v in present[:20]) + (", ..." if present.size > 20 else "")
        raise InputError(f"class(es) {', '.join(_fmt(c) for c in missing)} not found in the labels "
                         f"(labels present: {shown}); choose classes among those")
    mask = np.isin(lab, np.asarray(cls))
    idx = np.flatnonzero(mask)
    y = np.where(lab[idx] == cls[0], 1.0, -1.0)
    return idx, y


def binary_pair(X, y, classes=(0, 1)) -> tuple[np.ndarray, np.ndarray]:
    """Keep the samples of ``classes`` and relabel them ``+1`` (first class) / ``-1`` (others).

    Parameters
    ----------
    X : array_like of shape (N, ...)
        Inputs (any trailing shape; rows are kept as they are, not flattened).
    y : array_like of shape (N,)
        Multi-class labels.
    classes : sequence of at least two distinct labels, default (0, 1)

    Returns
    -------
    X_pair : ndarray of shape (n, ...)
        The selected rows, in their original order.
    y_pair : ndarray of shape (n,), float64
        ``+1`` for ``classes[0]``, ``-1`` for the others.

    Examples
    --------
    >>> import numpy as np
    >>> Xp, yp = binary_pair(np.eye(4), [0, 1, 2, 0], classes=(0, 1))
    >>> yp.tolist()
    [1.0, -1.0, 1.0]
    """
    X = np.asarray(X)
    lab = np.asarray(y)
    if X.shape[0] != lab.shape[0]:
        raise InputError(f"X has {X.shape[0]} rows but y has {lab.shape[0]} labels; pass one "
                         f"label per row")
    idx, ypm = pair_indices(lab, classes)
    return X[idx], ypm


# --------------------------------------------------------------------------- subsampling
def stratified_subsample(y, n, rng) -> np.ndarray:
    """Indices of a seeded subsample of size ``n`` that keeps the class proportions of ``y``.

    Class ``c`` with ``N_c`` of the ``N`` samples receives ``floor(n N_c / N)`` draws, and the
    remaining draws go to the classes with the largest fractional parts (ties: larger class
    first, then smaller label), so the counts differ from the exact proportions by less than
    one. Within each class the draws are uniform without replacement.

    Parameters
    ----------
    y : array_like of shape (N,)
        Class labels (any discrete values: ``±1`` or the original classes).
    n : int
        Subsample size, ``1 <= n <= N``.
    rng : int, numpy.random.SeedSequence or numpy.random.Generator
        Explicit randomness; the same seed gives the same indices.

    Returns
    -------
    idx : ndarray of shape (n,), int64
        Sorted indices into ``y`` (so the subsample keeps the original order).
    """
    lab = np.asarray(y)
    if lab.ndim != 1:
        raise InputError(f"y must be a vector of shape (N,), got shape {lab.shape}")
    N = lab.shape[0]
    n = check_count(n, "n")
    if n > N:
        raise InputError(f"cannot draw a subsample of {n} from {N} samples; pass n <= {N}")
    gen = as_generator(rng)
    classes, inverse, counts = np.unique(lab, return_inverse=True, return_counts=True)
    quota = n * counts / N
    base = np.floor(quota).astype(np.int64)
    extra = n - int(base.sum())
    if extra:
        frac = quota - base
        # largest fractional part first; ties: larger class, then smaller label (stable order)
        order = np.lexsort((np.arange(classes.size), -counts, -frac))
        base[order[:extra]] += 1
    picks = []
    for k in range(classes.size):
        members = np.flatnonzero(inverse == k)
        if base[k]:
            picks.append(gen.choice(members, size=int(base[k]), replace=False))
    return np.sort(np.concatenate(picks)).astype(np.int64)


def _subsample(labels, n, rng, stratify: bool) -> np.ndarray:
    N = len(labels)
    if n is None or n == N:
        return np.arange(N, dtype=np.int64)
    if stratify:
        return stratified_subsample(labels, n, rng)
    gen = as_generator(rng)
    return np.sort(gen.choice(N, size=check_count(n, "n"), replace=False)).astype(np.int64)


# --------------------------------------------------------------------------- label noise
def label_noise_count(p: float, n: int) -> int:
    """``round(p n)`` with halves rounded up: the number of labels :func:`apply_label_noise` redraws."""
    return int(math.floor(check_fraction(p, "p") * n + 0.5))


def apply_label_noise(y, p, rng) -> tuple[np.ndarray, np.ndarray]:
    """Replace the labels of a portion ``p`` of the samples by uniform ``±1`` draws.

    This is the corruption of Arora et al. (2019), Figure 2: exactly ``k = round(p n)`` positions
    (halves rounded up), chosen uniformly without replacement, get a fresh label drawn from
    ``unif{-1, +1}``, independently of the old one. About half of them therefore keep their
    label; with ``p = 1`` the labels are independent of the originals.

    Parameters
    ----------
    y : array_like of shape (n,)
        Labels in ``{-1, +1}``.
    p : float in [0, 1]
        Portion of samples whose label is redrawn.
    rng : int, numpy.random.SeedSequence or numpy.random.Generator
        Explicit randomness. The positions are drawn first, then the ``k`` new labels.

    Returns
    -------
    y_noisy : ndarray of shape (n,), float64
        A new array; ``y`` is not modified.
    idx : ndarray of shape (k,), int64
        Sorted positions whose label was redrawn (whether or not the draw changed it).
    """
    y0 = as_labels(y, name="y")
    bad = ~np.isin(y0, (-1.0, 1.0))
    if bad.any():
        raise InputError(f"label noise redraws labels from {{-1, +1}}, so y must be ±1 labels, but "
                         f"{int(bad.sum())} entries are not (e.g. {y0[bad][0]!r}); map your classes to "
                         f"±1 first (binary_pair) or leave label_noise at 0 for real-valued targets")
    k = label_noise_count(p, y0.shape[0])
    gen = as_generator(rng)
    idx = np.sort(gen.choice(y0.shape[0], size=k, replace=False)).astype(np.int64)
    y_new = y0.copy()
    y_new[idx] = gen.choice(np.array([-1.0, 1.0]), size=k)
    return y_new, idx


def noise_record(y_old, y_new, idx, p, seed, purpose) -> dict:
    return {"p": float(p), "seed": int(seed), "stream": purpose,
            "n_redrawn": int(idx.size), "n_changed": int(np.count_nonzero(y_old != y_new))}


# --------------------------------------------------------------------------- paper protocol
def _scale_rows(A: np.ndarray, scale: str, pixel_max: float, stats=None):
    if scale == "unit_interval":
        return A / float(pixel_max), None
    if scale == "none":
        return A, None
    # standardize: per-feature mean/std of the training rows (constant features: std 1)
    if stats is None:
        mu = A.mean(axis=0)
        sd = A.std(axis=0)
        sd[sd == 0] = 1.0
        stats = (mu, sd)
    mu, sd = stats
    return (A - mu) / sd, stats


def paper_protocol(images_train, labels_train, images_test, labels_test, *, classes=(0, 1),
                   n_train=None, n_test=None, seed=0, label_noise=0.0, normalize=True,
                   scale="unit_interval", pixel_max=255.0) -> tuple[dict, dict]:
    """Arora et al.'s preprocessing of an official train/test split of images.

    Steps, in order (each recorded):

    1. keep the samples of ``classes``; label ``classes[0]`` as ``+1``, the others ``-1``;
    2. draw a seeded subsample of ``n_train`` training and ``n_test`` test samples, stratified by
       the original class, from the official train and test splits respectively (``None``:
       keep all);
    3. flatten each image to a vector of ``d`` entries, convert to float64;
    4. scale: ``"unit_interval"`` divides by ``pixel_max`` (values in [0, 1]), ``"standardize"``
       subtracts the per-feature training mean and divides by the training std, ``"none"``
       leaves the values;
    5. if ``normalize``, scale each row to unit Euclidean norm;
    6. if ``label_noise > 0``, redraw a portion of the labels of *both* sets (Figure 2).

    Parameters
    ----------
    images_train : ndarray of shape (N, ...)
        Raw training images (e.g. ``uint8`` of shape (60000, 28, 28)).
    labels_train : ndarray of shape (N,)
    images_test : ndarray of shape (N_test, ...)
    labels_test : ndarray of shape (N_test,)
    classes, n_train, n_test, seed, label_noise, normalize, scale, pixel_max
        See :func:`twolayer.data.load`.

    Returns
    -------
    arrays : dict
        ``X`` (n, d), ``y`` (n,), ``X_test`` (n_test, d), ``y_test`` (n_test,), float64.
    record : dict
        JSON-serializable provenance of the steps above (options and counts).
    """
    seed = check_seed(seed)
    label_noise = check_fraction(label_noise, "label_noise")
    if scale not in SCALINGS:
        raise InputError(f"scale must be one of {', '.join(SCALINGS)}, got {scale!r}")
    idx_tr, y_tr = pair_indices(labels_train, classes)
    idx_te, y_te = pair_indices(labels_test, classes)
    avail_tr, avail_te = idx_tr.size, idx_te.size
    for nm, val, avail, split in (("n_train", n_train, avail_tr, "training"),
                                  ("n_test", n_test, avail_te, "test")):
        if val is not None:
            check_count(val, nm)
            if val > avail:
                raise InputError(f"{nm}={val} but the {split} split has only {avail} samples of "
                                 f"classes {tuple(classes)}; pass {nm} <= {avail} (or None for all)")
    sub_tr = _subsample(np.asarray(labels_train)[idx_tr], n_train, child_rng(seed, "train_subsample"), True)
    sub_te = _subsample(np.asarray(labels_test)[idx_te], n_test, child_rng(seed, "test_subsample"), True)
    rows_tr, rows_te = idx_tr[sub_tr], idx_te[sub_te]
    y_tr, y_te = y_tr[sub_tr], y_te[sub_te]

    imgs_tr, imgs_te = np.asarray(images_train), np.asarray(images_test)
    X = imgs_tr[rows_tr].reshape(rows_tr.size, -1).astype(np.float64)
    X_test = imgs_te[rows_te].reshape(rows_te.size, -1).astype(np.float64)
    if X.shape[1] != X_test.shape[1]:
        raise InputError(f"training images have {X.shape[1]} pixels but test images have "
                         f"{X_test.shape[1]}; both splits must come from the same data set")
    X, stats = _scale_rows(X, scale, pixel_max)
    X_test, _ = _scale_rows(X_test, scale, pixel_max, stats)
    if normalize:
        X = unit_normalize(X)
        X_test = unit_normalize(X_test)

    record = {
        "classes": list(_check_classes(classes)),
        "label_map": {"+1": _fmt(classes[0]), "-1": [_fmt(c) for c in tuple(classes)[1:]]},
        "n_train": n_train, "n_test": n_test, "seed": seed,
        "subsample": "stratified by original class, without replacement; rng = numpy "
                     "SeedSequence(seed, spawn_key=(1,)) for train, (2,) for test",
        "flatten": True,
        "scale": scale if scale != "unit_interval" else f"unit_interval (divide by {pixel_max:g})",
        "normalize": bool(normalize),
        "dtype": "float64",
        "label_noise": label_noise,
        "counts": {"available_train": int(avail_tr), "available_test": int(avail_te),
                   "n_train": int(rows_tr.size), "n_test": int(rows_te.size), "d": int(X.shape[1]),
                   "train_positive": int(np.sum(y_tr > 0)), "test_positive": int(np.sum(y_te > 0))},
        "rows_sha256": {"train": _sha(rows_tr), "test": _sha(rows_te)},
    }
    y_tr, y_te, noise = _noise_both(y_tr, y_te, label_noise, seed)
    if noise is not None:
        record["label_noise_applied"] = noise
    return {"X": X, "y": y_tr, "X_test": X_test, "y_test": y_te}, record


def _sha(a: np.ndarray) -> str:
    from ._common import sha256_bytes
    return sha256_bytes(np.ascontiguousarray(a, dtype=np.int64).tobytes())


def _noise_both(y, y_test, p, seed):
    """Label noise on train and (if present) test labels, independent seeded streams."""
    if p == 0:
        return y, y_test, None
    rec = {}
    y_new, idx = apply_label_noise(y, p, child_rng(seed, "train_noise"))
    rec["train"] = noise_record(y, y_new, idx, p, seed, "SeedSequence(seed, spawn_key=(4,))")
    yt_new = y_test
    if y_test is not None and len(y_test):
        yt_new, idx_t = apply_label_noise(y_test, p, child_rng(seed, "test_noise"))
        rec["test"] = noise_record(y_test, yt_new, idx_t, p, seed, "SeedSequence(seed, spawn_key=(5,))")
    return y_new, yt_new, rec


def protocol_dataset(arrays: dict, info: dict, *, source: str, path, classes=(0, 1), **options) -> Dataset:
    """Apply :func:`paper_protocol` to the official split of an image data set and wrap it.

    ``arrays`` holds ``train_images``, ``train_labels``, ``test_images``, ``test_labels`` (pixel
    values 0–255); ``info`` is the reader's record of the files (layout, SHA-256). The provenance
    names the source, the resolved path, the files, every option applied and the counts.
    """
    from pathlib import Path

    data, record = paper_protocol(arrays["train_images"], arrays["train_labels"], arrays["test_images"],
                                  arrays["test_labels"], classes=classes, pixel_max=255.0, **options)
    counts = record.pop("counts")
    noise = record.pop("label_noise_applied", None)
    prov = {"source": source, "path": str(Path(path).expanduser().resolve()), **info,
            "protocol": "Arora et al. 2019, Appendix A", "options": record, "counts": counts}
    if noise is not None:
        prov["label_noise_applied"] = noise
    return Dataset(data["X"], data["y"], data["X_test"], data["y_test"],
                   name=f"{source}[{format_classes(classes)}]", provenance=prov)

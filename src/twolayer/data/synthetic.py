"""Synthetic inputs (uniform on the sphere, Gaussian) labelled by the targets of Section 6."""

from __future__ import annotations

import numpy as np

from .._errors import InputError
from .._validation import unit_normalize
from .._seeds import seed_sequence
from ._common import PURPOSES, as_generator, check_count, check_fraction, check_seed, child_rng
from ._dataset import Dataset
from .preprocess import _noise_both
from .targets import make_target

__all__ = ["sphere", "gaussian", "synthetic_dataset", "LABELINGS"]

#: Labellings that are not functions of x.
LABELINGS = ("random",)


def sphere(n, d, seed=0) -> np.ndarray:
    r"""``n`` points drawn uniformly from the unit sphere :math:`S^{d-1} \subset R^d`.

    Normalized standard Gaussian vectors (rotation invariance makes them uniform).

    Parameters
    ----------
    n, d : int
    seed : int, numpy.random.SeedSequence or numpy.random.Generator, default 0

    Returns
    -------
    ndarray of shape (n, d), float64, rows of unit norm
    """
    G = gaussian(n, d, seed)
    return G / np.sqrt(np.einsum("ij,ij->i", G, G))[:, None]


def gaussian(n, d, seed=0) -> np.ndarray:
    """``n`` i.i.d. standard Gaussian vectors, :math:`N(0, I_d)`.

    Parameters
    ----------
    n, d : int
    seed : int, numpy.random.SeedSequence or numpy.random.Generator, default 0

    Returns
    -------
    ndarray of shape (n, d), float64
    """
    n, d = check_count(n, "n"), check_count(d, "d")
    return as_generator(seed, "seed").standard_normal((n, d))


def synthetic_dataset(kind="sphere", *, n=200, d=10, target="linear", seed=0, n_test=None,
                      label_noise=0.0, normalize=True, **target_options) -> Dataset:
    """A synthetic data set: inputs on the sphere (or Gaussian) and labels from a target.

    Parameters
    ----------
    kind : {"sphere", "gaussian"}
        Input distribution.
    n, d : int, default 200, 10
        Training-set size and dimension.
    target : str or PolynomialTarget, default "linear"
        A name accepted by :func:`~twolayer.data.make_target` (``"linear"``, ``"power"``,
        ``"quadratic"``, ``"cos"``, ``"arctan"``, ``"polynomial"``, sums such as
        ``"linear+cos"``), a ready :class:`~twolayer.data.PolynomialTarget`, or ``"random"``
        (labels uniform in ``{-1, +1}``, independent of x: the random labels of Figure 1).
    seed : int, default 0
        Independent streams for the training inputs, test inputs, the target's random
        directions and the label noise.
    n_test : int, optional
        Size of an independent test sample from the same distribution.
    label_noise : float in [0, 1], default 0
        Portion of labels redrawn from ``unif{-1, +1}`` (needs ±1 labels).
    normalize : bool, default True
        Unit-normalize the rows (no-op for the sphere). Targets are evaluated on the inputs
        *after* this step; Section 6 assumes ``||x|| = 1``.
    **target_options
        Passed to the target constructor (``alpha``, ``beta_norm``, ``p``, ``degrees``, ...).

    Returns
    -------
    Dataset
        ``X`` (n, d), ``y`` (n,), optional test set; ``target`` is the
        :class:`~twolayer.data.PolynomialTarget` (``None`` for random labels).
    """
    if kind not in ("sphere", "gaussian"):
        raise InputError(f"kind must be 'sphere' or 'gaussian', got {kind!r}")
    n, d, seed = check_count(n, "n"), check_count(d, "d"), check_seed(seed)
    label_noise = check_fraction(label_noise, "label_noise")
    draw = sphere if kind == "sphere" else gaussian
    X = draw(n, d, child_rng(seed, "X_train"))
    X_test = None
    if n_test is not None and n_test != 0:
        X_test = draw(check_count(n_test, "n_test"), d, child_rng(seed, "X_test"))
    if normalize and kind == "gaussian":
        X = unit_normalize(X)
        X_test = None if X_test is None else unit_normalize(X_test)
    tgt = None
    if isinstance(target, str) and target in LABELINGS:
        if target_options:
            raise InputError(f"target 'random' takes no options, got {sorted(target_options)}")
        rng = child_rng(seed, "target")
        y = rng.choice(np.array([-1.0, 1.0]), size=n)
        y_test = None if X_test is None else rng.choice(np.array([-1.0, 1.0]), size=X_test.shape[0])
        target_record = {"name": "random", "labels": "uniform on {-1, +1}, independent of x"}
    else:
        tgt = make_target(target, d=d, seed=seed_sequence(seed, PURPOSES["target"]),
                          **target_options)
        y = tgt(X)
        y_test = None if X_test is None else tgt(X_test)
        target_record = tgt.describe()
    y, y_test, noise = _noise_both(y, y_test, label_noise, seed)
    tname = target if isinstance(target, str) else getattr(target, "name", "custom")
    prov = {"source": kind,
            "inputs": "uniform on the unit sphere S^{d-1}" if kind == "sphere" else "N(0, I_d)",
            "options": {"n": n, "d": d, "seed": seed, "n_test": n_test, "target": tname,
                        "target_options": dict(target_options), "label_noise": label_noise,
                        "normalize": bool(normalize or kind == "sphere")},
            "target": target_record,
            "rng": "SeedSequence(seed, spawn_key=(6,)) for X, (7,) for X_test, (8,) for the target, "
                   "(4,)/(5,) for label noise",
            "counts": {"n_train": n, "n_test": 0 if X_test is None else int(X_test.shape[0]), "d": d}}
    if noise is not None:
        prov["label_noise_applied"] = noise
    return Dataset(X, y, X_test, y_test, name=f"{kind}(d={d})", provenance=prov, target=tgt)

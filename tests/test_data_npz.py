"""User ``.npz`` data: round trips, recorded normalization and one clear error per problem."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from twolayer._errors import DataError, InputError
from twolayer.data import Dataset, load, load_npz


def _data(n=30, d=4, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)) * 3, np.where(np.arange(n) % 3 == 0, 1.0, -1.0)


def test_round_trip_normalized_and_raw(tmp_path):
    X, y = _data()
    Xt, yt = _data(10, seed=1)
    f = tmp_path / "my.npz"
    np.savez(f, X=X, y=y, X_test=Xt, y_test=yt)
    ds = load(str(f))
    assert ds.name == "my.npz"
    np.testing.assert_allclose(ds.X, X / np.linalg.norm(X, axis=1, keepdims=True), atol=1e-15)
    np.testing.assert_allclose(ds.X_test, Xt / np.linalg.norm(Xt, axis=1, keepdims=True), atol=1e-15)
    np.testing.assert_array_equal(ds.y, y)
    np.testing.assert_array_equal(ds.y_test, yt)
    prov = ds.provenance
    json.dumps(prov, allow_nan=False)
    assert prov["options"]["normalize"] is True and prov["inputs_were_unit_norm"] is False
    assert prov["files"][0]["sha256"] == hashlib.sha256(f.read_bytes()).hexdigest()

    raw = load_npz(f, normalize=False)
    np.testing.assert_array_equal(raw.X, X)
    assert raw.provenance["options"]["normalize"] is False
    assert raw.X.dtype == np.float64


def test_integer_inputs_and_column_labels(tmp_path):
    X = np.array([[1, 2], [3, 4], [0, 5]], dtype=np.int32)
    np.savez(tmp_path / "a.npz", X=X, y=np.array([[1], [-1], [1]]))
    ds = load_npz(tmp_path / "a.npz", normalize=False)
    assert ds.X.dtype == np.float64 and ds.y.shape == (3,)
    assert not ds.has_test and ds.n_test == 0


def test_classes_and_subsample(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(90, 3))
    y = np.repeat([0, 1, 2], 30)
    np.savez(tmp_path / "m.npz", X=X, y=y)
    ds = load(tmp_path / "m.npz", classes=(2, 0), n_train=20, seed=1)
    assert ds.n == 20 and int(np.sum(ds.y > 0)) == 10
    assert ds.name == "m.npz[2v0]"
    # the kept rows are genuine rows of classes 0 and 2
    Xn = X / np.linalg.norm(X, axis=1, keepdims=True)
    pos = [int(np.flatnonzero(np.all(np.isclose(Xn, r), axis=1))[0]) for r in ds.X]
    np.testing.assert_array_equal(np.where(y[pos] == 2, 1.0, -1.0), ds.y)
    again = load(tmp_path / "m.npz", classes=(2, 0), n_train=20, seed=1)
    np.testing.assert_array_equal(ds.X, again.X)
    with pytest.raises(InputError, match="no test set"):
        load(tmp_path / "m.npz", n_test=5)


def test_label_noise_on_npz(tmp_path):
    X, y = _data(200)
    np.savez(tmp_path / "n.npz", X=X, y=y)
    ds = load(tmp_path / "n.npz", label_noise=0.3, seed=2)
    rec = ds.provenance["label_noise_applied"]["train"]
    assert rec["n_redrawn"] == 60
    assert rec["n_changed"] == int(np.sum(ds.y != y))
    assert 0 < rec["n_changed"] <= 60


@pytest.mark.parametrize("arrays,exc,pattern", [
    ({"X": np.array([[1.0, np.nan], [1.0, 2.0]]), "y": np.ones(2)}, InputError, "NaN or inf"),
    ({"X": np.array([[1.0, np.inf], [1.0, 2.0]]), "y": np.ones(2)}, InputError, "NaN or inf"),
    ({"X": np.array([[0.0, 0.0], [1.0, 2.0]]), "y": np.ones(2)}, InputError, "all-zero row"),
    ({"X": np.ones(3), "y": np.ones(3)}, InputError, "2-D array"),
    ({"X": np.ones((3, 2)), "y": np.ones(4)}, InputError, "4 entries but the data have 3 rows"),
    ({"X": np.ones((3, 2)), "y": np.ones(3), "X_test": np.ones((2, 5)), "y_test": np.ones(2)},
     InputError, "X_test has 5 columns but X has 2"),
    ({"X": np.ones((3, 2)), "y": np.ones(3), "X_test": np.ones((2, 2)), "y_test": np.ones(3)},
     InputError, "y_test has 3 entries"),
    ({"X": np.ones((3, 2))}, DataError, "lacks key\\(s\\) y: found X, required X"),
    ({"data": np.ones((3, 2)), "labels": np.ones(3)}, DataError, "lacks key\\(s\\) X, y: found data, labels"),
    ({"X": np.ones((3, 2)), "y": np.ones(3), "X_test": np.ones((2, 2))}, DataError, "X_test but not its partner"),
])
def test_bad_contents(tmp_path, arrays, exc, pattern):
    f = tmp_path / "bad.npz"
    np.savez(f, **arrays)
    with pytest.raises(exc, match=pattern) as err:
        load(str(f))
    assert "\n" not in str(err.value)


def test_bad_files(tmp_path):
    with pytest.raises(DataError, match="not found"):
        load(str(tmp_path / "absent.npz"))
    (tmp_path / "text.npz").write_text("hello, not a zip")
    with pytest.raises(DataError, match="not a .npz \\(zip\\) file"):
        load_npz(tmp_path / "text.npz")
    X, y = _data()
    np.savez(tmp_path / "ok.npz", X=X, y=y)
    raw = (tmp_path / "ok.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(DataError, match="truncated"):
        load_npz(tmp_path / "cut.npz")
    np.savez(tmp_path / "obj.npz", X=np.array([[1.0, 2.0]], dtype=object), y=np.ones(1))
    with pytest.raises(DataError, match="pickle"):
        load_npz(tmp_path / "obj.npz")


def test_dataset_save_npz_round_trip(tmp_path):
    ds = load("sphere", n=20, d=3, n_test=5, seed=3)
    ds.save_npz(tmp_path / "out.npz")
    back = load(tmp_path / "out.npz")
    np.testing.assert_allclose(back.X, ds.X, atol=1e-15)
    np.testing.assert_array_equal(back.y, ds.y)
    np.testing.assert_array_equal(back.y_test, ds.y_test)
    assert back.provenance["inputs_were_unit_norm"] is True
    with np.load(tmp_path / "out.npz", allow_pickle=False) as z:
        assert json.loads(str(z["provenance"]))["name"] == "sphere(d=3)"
    assert isinstance(back, Dataset)

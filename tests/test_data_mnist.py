"""MNIST / Fashion-MNIST readers on tiny IDX and Keras fixtures written by the tests."""

from __future__ import annotations

import gzip
import hashlib
import json
import struct

import numpy as np
import pytest

from twolayer._errors import DataError, InputError
from twolayer.data import load, load_mnist, read_idx, read_mnist_arrays

STEMS = {"train_images": ("train-images", 3), "train_labels": ("train-labels", 1),
         "test_images": ("t10k-images", 3), "test_labels": ("t10k-labels", 1)}


def idx_bytes(arr: np.ndarray) -> bytes:
    arr = np.ascontiguousarray(arr, dtype=np.uint8)
    return bytes([0, 0, 0x08, arr.ndim]) + struct.pack(">" + "i" * arr.ndim, *arr.shape) + arr.tobytes()


def make_arrays(n_train=40, n_test=20, h=4, w=3, seed=0):
    rng = np.random.default_rng(seed)
    return {
        "train_images": rng.integers(1, 256, size=(n_train, h, w), dtype=np.uint8),
        "train_labels": (np.arange(n_train) % 10).astype(np.uint8),
        "test_images": rng.integers(1, 256, size=(n_test, h, w), dtype=np.uint8),
        "test_labels": ((np.arange(n_test) * 7) % 10).astype(np.uint8),
    }


def write_idx_folder(folder, arrays, gz=False, dot=False):
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for role, (stem, nd) in STEMS.items():
        name = f"{stem}.idx{nd}-ubyte" if dot else f"{stem}-idx{nd}-ubyte"
        data = idx_bytes(arrays[role])
        if gz:
            name += ".gz"
            data = gzip.compress(data)
        (folder / name).write_bytes(data)
        paths[role] = folder / name
    return paths


def assert_same(arrays, got):
    for role in STEMS:
        np.testing.assert_array_equal(got[role], arrays[role])


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("dot", [False, True])
def test_idx_folder_round_trip(tmp_path, gz, dot):
    arrays = make_arrays()
    paths = write_idx_folder(tmp_path / "m", arrays, gz=gz, dot=dot)
    got, info = read_mnist_arrays(tmp_path / "m")
    assert_same(arrays, got)
    assert info["layout"].startswith("idx-folder")
    assert ("gzip" in info["layout"]) == gz
    # checksums are those of the files on disk
    recorded = {r["path"]: r["sha256"] for r in info["files"]}
    for p in paths.values():
        assert recorded[str(p.resolve())] == hashlib.sha256(p.read_bytes()).hexdigest()
    assert info["official_counts"] == {"train": 60000, "test": 10000}
    assert info["matches_official_counts"] is False
    assert info["file_counts"] == {"train": 40, "test": 20}


def test_torchvision_layouts_and_single_file(tmp_path):
    arrays = make_arrays(seed=1)
    write_idx_folder(tmp_path / "root" / "MNIST" / "raw", arrays, gz=True)
    got, info = read_mnist_arrays(tmp_path / "root")
    assert_same(arrays, got)
    assert info["layout"].startswith("torchvision (MNIST/raw)")

    fashion = make_arrays(seed=2)
    write_idx_folder(tmp_path / "root" / "FashionMNIST" / "raw", fashion)
    got, info = read_mnist_arrays(tmp_path / "root", kind="fashion-mnist")
    assert_same(fashion, got)
    assert "FashionMNIST" in info["layout"]

    # a path to one of the IDX files uses its folder
    paths = write_idx_folder(tmp_path / "flat", arrays)
    got, _ = read_mnist_arrays(paths["test_labels"])
    assert_same(arrays, got)


def test_keras_npz(tmp_path):
    arrays = make_arrays(seed=3)
    f = tmp_path / "mnist.npz"
    np.savez(f, x_train=arrays["train_images"], y_train=arrays["train_labels"],
             x_test=arrays["test_images"], y_test=arrays["test_labels"])
    for where in (f, tmp_path):
        got, info = read_mnist_arrays(where)
        assert_same(arrays, got)
        assert info["layout"] == "keras-npz"
    np.savez(tmp_path / "bad.npz", x_train=arrays["train_images"])
    with pytest.raises(DataError, match="y_train"):
        read_mnist_arrays(tmp_path / "bad.npz")


def test_read_idx_single_file(tmp_path):
    a = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    (tmp_path / "x").write_bytes(idx_bytes(a))
    got, rec = read_idx(tmp_path / "x", "images")
    np.testing.assert_array_equal(got, a)
    assert rec["dims"] == [2, 3, 4]
    with pytest.raises(DataError, match=r"magic number 0x00000803 \(2051\).*labels.*2049"):
        read_idx(tmp_path / "x", "labels")


def test_load_mnist_protocol(tmp_path):
    arrays = make_arrays(n_train=60, n_test=30)
    write_idx_folder(tmp_path, arrays)
    ds = load_mnist(tmp_path, classes=(0, 1))
    # expected: rows of classes 0/1, in order, flattened, /255, unit norm; +1 for class 0
    lab = arrays["train_labels"]
    keep = np.flatnonzero((lab == 0) | (lab == 1))
    raw = arrays["train_images"][keep].reshape(keep.size, -1).astype(float) / 255
    expect = raw / np.linalg.norm(raw, axis=1, keepdims=True)
    np.testing.assert_allclose(ds.X, expect, rtol=0, atol=1e-15)
    np.testing.assert_array_equal(ds.y, np.where(lab[keep] == 0, 1.0, -1.0))
    assert ds.name == "mnist[0v1]" and ds.d == 12
    assert ds.X.dtype == np.float64
    np.testing.assert_allclose(np.linalg.norm(ds.X_test, axis=1), 1.0, atol=1e-14)
    assert set(np.unique(ds.y_test)) == {-1.0, 1.0}
    prov = ds.provenance
    json.dumps(prov, allow_nan=False)
    assert prov["options"]["normalize"] is True
    assert prov["options"]["scale"].startswith("unit_interval")
    assert prov["counts"]["n_train"] == keep.size
    assert len(prov["files"]) == 4 and all(len(r["sha256"]) == 64 for r in prov["files"])

    # any pair, first class -> +1, unnormalized raw values in [0, 1]
    ds = load_mnist(tmp_path, classes=(7, 3), normalize=False)
    keep = np.flatnonzero((lab == 7) | (lab == 3))
    np.testing.assert_array_equal(ds.y, np.where(lab[keep] == 7, 1.0, -1.0))
    np.testing.assert_allclose(ds.X, arrays["train_images"][keep].reshape(keep.size, -1) / 255.0)
    assert ds.name == "mnist[7v3]"
    assert ds.provenance["options"]["normalize"] is False


def test_subsample_sizes_stratification_and_determinism(tmp_path):
    arrays = make_arrays(n_train=200, n_test=100)
    write_idx_folder(tmp_path, arrays)
    a = load(f"mnist:{tmp_path}", n_train=20, n_test=10, seed=5)
    b = load(f"mnist:{tmp_path}", n_train=20, n_test=10, seed=5)
    c = load(f"mnist:{tmp_path}", n_train=20, n_test=10, seed=6)
    assert (a.n, a.n_test) == (20, 10)
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.X_test, b.X_test)
    assert not np.array_equal(a.X, c.X)
    # classes 0 and 1 are equally frequent (20 each of 40): a stratified draw of 20 is 10 + 10
    assert int(np.sum(a.y > 0)) == 10
    # the test set has 10 + 10 of classes 0/1: 5 + 5
    assert int(np.sum(a.y_test > 0)) == 5
    # rows are genuine rows of the data set (no duplicates)
    assert np.unique(a.X, axis=0).shape[0] == 20
    with pytest.raises(InputError, match="n_train=41"):
        load(f"mnist:{tmp_path}", n_train=41)


def test_fashion_spec(tmp_path):
    arrays = make_arrays(seed=4)
    write_idx_folder(tmp_path / "FashionMNIST" / "raw", arrays, gz=True)
    ds = load(f"fashion-mnist:{tmp_path}")
    assert ds.name == "fashion-mnist[0v1]"
    assert ds.provenance["source"] == "fashion-mnist"
    assert ds.provenance["spec"] == f"fashion-mnist:{tmp_path}"


# ----------------------------------------------------------------------------- errors
def test_wrong_magic_swapped_files(tmp_path):
    arrays = make_arrays()
    paths = write_idx_folder(tmp_path, arrays)
    img = paths["train_images"].read_bytes()
    paths["train_images"].write_bytes(paths["train_labels"].read_bytes())
    paths["train_labels"].write_bytes(img)
    with pytest.raises(DataError, match="train-images-idx3-ubyte has magic number 0x00000801"):
        read_mnist_arrays(tmp_path)


def test_truncated_file_names_sizes(tmp_path):
    arrays = make_arrays()
    paths = write_idx_folder(tmp_path, arrays)
    data = paths["test_images"].read_bytes()
    paths["test_images"].write_bytes(data[:-5])
    expected = 16 + 20 * 4 * 3
    with pytest.raises(DataError) as err:
        read_mnist_arrays(tmp_path)
    msg = str(err.value)
    assert "t10k-images-idx3-ubyte is truncated" in msg
    assert f"expected {expected} bytes" in msg and f"found {expected - 5}" in msg
    assert "\n" not in msg
    # a file cut inside its header
    paths["test_images"].write_bytes(data[:6])
    with pytest.raises(DataError, match="truncated"):
        read_mnist_arrays(tmp_path)
    paths["test_images"].write_bytes(data + b"xx")
    with pytest.raises(DataError, match="longer than its header"):
        read_mnist_arrays(tmp_path)


def test_count_mismatch(tmp_path):
    arrays = make_arrays()
    arrays["train_labels"] = arrays["train_labels"][:-1]
    write_idx_folder(tmp_path, arrays)
    with pytest.raises(DataError, match="count mismatch.*40 images.*39 labels"):
        read_mnist_arrays(tmp_path)


def test_missing_files_lists_names_and_folders(tmp_path):
    arrays = make_arrays()
    paths = write_idx_folder(tmp_path, arrays)
    paths["test_labels"].unlink()
    with pytest.raises(DataError) as err:
        load(f"mnist:{tmp_path}")
    msg = str(err.value)
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                 "t10k-labels-idx1-ubyte", "mnist.npz"):
        assert name in msg
    for folder in (tmp_path, tmp_path / "raw", tmp_path / "MNIST" / "raw"):
        assert str(folder) in msg
    assert "missing: t10k-labels" in msg
    with pytest.raises(DataError, match="does not exist"):
        load(f"mnist:{tmp_path / 'nowhere'}")


def test_corrupt_gzip(tmp_path):
    arrays = make_arrays()
    paths = write_idx_folder(tmp_path, arrays, gz=True)
    data = paths["train_labels"].read_bytes()
    paths["train_labels"].write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="train-labels-idx1-ubyte.gz is not a valid gzip file"):
        read_mnist_arrays(tmp_path)
    paths["train_labels"].write_bytes(b"\x1f\x8bgarbage-not-deflate")
    with pytest.raises(DataError, match="not a valid gzip"):
        read_mnist_arrays(tmp_path)


def test_unsupported_dtype_code(tmp_path):
    bad = bytes([0, 0, 0x0D, 1]) + struct.pack(">i", 2) + b"\x00" * 8
    (tmp_path / "f").write_bytes(bad)
    with pytest.raises(DataError, match="dtype code 0x0d"):
        read_idx(tmp_path / "f")

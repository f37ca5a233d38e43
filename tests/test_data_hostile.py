"""Hostile data files: decompression and allocation bombs, header lies, duplicate members, float
labels; fuzzed truncations and bit flips. Every outcome is a valid array or one clean DataError /
InputError, and the memory a bomb costs is bounded (measured with tracemalloc)."""

from __future__ import annotations

import gzip
import io
import pickle
import struct
import tracemalloc
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from twolayer._errors import DataError, InputError
from twolayer.data import read_idx
from twolayer.data._common import EXPANSION_FLOOR
from twolayer.data.cifar import read_cifar10_arrays, safe_unpickle
from twolayer.data.npz import read_npz_arrays

from .test_data_cifar import make_batches, py_bytes, write_tar
from .test_data_mnist import idx_bytes

MiB = 2**20


def _peak(func):
    """``(exception or None, peak traced bytes)`` of ``func()``."""
    tracemalloc.start()
    try:
        func()
        exc = None
    except (DataError, InputError) as e:
        exc = e
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return exc, peak


# ------------------------------------------------------------------------------ MNIST IDX
def test_gz_header_claiming_2_31_images_is_refused_before_decompressing(tmp_path):
    head = bytes([0, 0, 8, 3]) + struct.pack(">iii", 2**31 - 1, 28, 28)
    body = gzip.compress(head + bytes(2 * MiB), compresslevel=9)   # ~2 KB on disk, data of 2 MiB
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(body)
    exc, peak = _peak(lambda: read_idx(path, "images"))
    assert isinstance(exc, DataError) and "declares" in str(exc) and "TWOLAYER_MAX_DATA_BYTES" in str(exc)
    assert peak < 4 * MiB, peak          # the 1.7e12-byte claim costs nothing (was: full 4.2 GB decompression)


def test_gz_whose_expansion_ratio_is_a_bomb_is_refused_unless_allowed(tmp_path, monkeypatch):
    head = bytes([0, 0, 8, 1]) + struct.pack(">i", 100 * MiB)
    path = tmp_path / "train-labels-idx1-ubyte.gz"
    with gzip.open(path, "wb", compresslevel=9) as fh:   # 100 MiB of zeros deflate ~1000x
        fh.write(head)
        for _ in range(100):
            fh.write(bytes(MiB))
    exc, peak = _peak(lambda: read_idx(path, "labels"))
    assert isinstance(exc, DataError) and "decompression bomb" in str(exc) and peak < 2 * MiB
    monkeypatch.setenv("TWOLAYER_MAX_DATA_BYTES", str(200 * MiB))    # the override for a legitimate file
    arr, rec = read_idx(path, "labels")
    assert arr.shape == (100 * MiB,) and not arr.any() and rec["gzip"]
    monkeypatch.setenv("TWOLAYER_MAX_DATA_BYTES", "lots")
    with pytest.raises(InputError, match="TWOLAYER_MAX_DATA_BYTES"):
        read_idx(path, "labels")


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("dims, what", [((-5, 2, 2), "negative dimension"), ((2**31 - 1,) * 3, "declares|truncated"),
                                        ((10, 2, 2), "truncated")])
def test_header_lies_are_one_clean_error(tmp_path, gz, dims, what):
    data = bytes([0, 0, 8, 3]) + struct.pack(">iii", *dims) + bytes(16)
    path = tmp_path / ("x-idx3-ubyte" + (".gz" if gz else ""))
    path.write_bytes(gzip.compress(data) if gz else data)
    with pytest.raises(DataError, match=what):
        read_idx(path, "images")


# ------------------------------------------------------------------------------ npz
def test_deflated_npz_bomb_is_refused_from_its_zip_directory(tmp_path):
    path = tmp_path / "bomb.npz"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        with zf.open("X.npy", "w", force_zip64=True) as fh:
            np.lib.format.write_array_header_1_0(fh, {"descr": "<f8", "fortran_order": False,
                                                      "shape": (12_800, 2048)})
            for _ in range(200):
                fh.write(bytes(MiB))
        zf.writestr("y.npy", b"")
    assert path.stat().st_size < 1 * MiB
    exc, peak = _peak(lambda: read_npz_arrays(path))
    assert isinstance(exc, DataError) and "decompression bomb" in str(exc) and peak < 3 * MiB


def test_npz_with_a_duplicate_member_is_refused(tmp_path):
    path = tmp_path / "dup.npz"
    buf = io.BytesIO()
    np.save(buf, np.ones((3, 2)))
    with pytest.warns(UserWarning, match="Duplicate name"):
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr("X.npy", buf.getvalue())
            zf.writestr("X.npy", buf.getvalue())
            zf.writestr("y.npy", buf.getvalue())
    with pytest.raises(DataError, match="X.npy more than once"):
        read_npz_arrays(path)


# ------------------------------------------------------------------------------ CIFAR
class _Bomb:
    def __init__(self, shape):
        self.shape = shape

    def __reduce__(self):
        return (np.ndarray, (self.shape, np.dtype(np.float64)))


@pytest.mark.parametrize("protocol", [2, 4])
def test_pickle_allocating_through_numpy_ndarray_is_capped(protocol):
    blob = pickle.dumps({b"data": _Bomb((2**26,)), b"labels": [0]}, protocol=protocol)
    assert len(blob) < 400
    exc, peak = _peak(lambda: safe_unpickle(blob, "batch"))
    assert isinstance(exc, DataError) and "larger than the file itself" in str(exc)
    assert peak < MiB   # was: 512 MiB per pickle (six of them: 3 GB)
    with pytest.raises(DataError, match="shape"):
        safe_unpickle(pickle.dumps(_Bomb((-1,)), protocol=protocol), "batch")


@pytest.mark.parametrize("labels", [[0.9, 1.0], [2**70, 1], ["3", 1]])
def test_float_overflowing_or_text_labels_are_refused_not_truncated(labels):
    from twolayer.data.cifar import _parse_py_batch

    data = np.zeros((2, 3072), np.uint8)
    with pytest.raises(DataError, match="not a list of integers"):
        _parse_py_batch(py_bytes(data, labels), "batch")


def test_tarball_with_duplicate_batch_names_is_refused(tmp_path):
    b = make_batches()
    members = {f"cifar-10-batches-py/{n}": py_bytes(*b[n]) for n in b}
    members["other/data_batch_1"] = py_bytes(*b["data_batch_2"])   # a second data_batch_1 in another folder
    path = tmp_path / "cifar-10-python.tar.gz"
    write_tar(path, "", members)
    with pytest.raises(DataError, match="data_batch_1 more than once"):
        read_cifar10_arrays(path)


# ------------------------------------------------------------------------------ fuzz
def _mutations():
    return st.tuples(st.sampled_from(["truncate", "flip", "both"]), st.integers(0, 10**6), st.integers(0, 7))


def _mutate(blob: bytes, how, pos, bit) -> bytes:
    b = bytearray(blob)
    if how in ("flip", "both") and b:
        b[pos % len(b)] ^= 1 << bit
    if how in ("truncate", "both"):
        b = b[: pos % (len(b) + 1)]
    return bytes(b)


FUZZ = settings(max_examples=int(__import__("os").environ.get("TWOLAYER_FUZZ_EXAMPLES", "60")), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _clean(func):
    try:
        func()
    except (DataError, InputError):
        pass


@FUZZ
@given(_mutations(), st.booleans())
def test_fuzz_idx_reader(tmp_path, mutation, gz):
    blob = idx_bytes(np.arange(60, dtype=np.uint8).reshape(5, 4, 3))
    path = tmp_path / ("f-idx3-ubyte" + (".gz" if gz else ""))
    path.write_bytes(_mutate(gzip.compress(blob) if gz else blob, *mutation))
    _, peak = _peak(lambda: _clean(lambda: read_idx(path, "images")))
    # a flipped header may declare up to the expansion floor before the data run out: that is the bound
    assert peak < EXPANSION_FLOOR + 2 * MiB


@FUZZ
@given(_mutations())
def test_fuzz_npz_reader(tmp_path, mutation):
    buf = io.BytesIO()
    np.savez_compressed(buf, X=np.eye(4), y=np.array([1.0, -1, 1, -1]))
    path = tmp_path / "f.npz"
    path.write_bytes(_mutate(buf.getvalue(), *mutation))
    _, peak = _peak(lambda: _clean(lambda: read_npz_arrays(path)))
    assert peak < 2 * MiB


@FUZZ
@given(_mutations(), st.sampled_from([0, 2, 4]))
def test_fuzz_cifar_pickle(mutation, protocol):
    blob = py_bytes(np.arange(2 * 3072, dtype=np.uint8).reshape(2, 3072) % 251, [3, 7], protocol)
    bad = _mutate(blob, *mutation)
    _, peak = _peak(lambda: _clean(lambda: safe_unpickle(bad, "batch")))
    assert peak < 2 * MiB


@FUZZ
@given(_mutations())
def test_fuzz_cifar_tarball(tmp_path, mutation):
    b = make_batches(n_per_batch=2, n_test=2)
    path = tmp_path / "cifar-10-python.tar.gz"
    write_tar(path, "", {f"cifar-10-batches-py/{n}": py_bytes(*b[n]) for n in b})
    path.write_bytes(_mutate(path.read_bytes(), *mutation))
    _, peak = _peak(lambda: _clean(lambda: read_cifar10_arrays(path)))
    assert peak < 8 * MiB

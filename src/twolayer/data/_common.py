"""Small helpers shared by the data loaders: seeds, checksums, gzip, JSON-safe provenance.

Nothing here is public; the loaders re-export what users need.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import math
import numbers
import zlib
from pathlib import Path

import numpy as np

from .._errors import DataError, InputError

__all__ = [
    "as_generator", "check_seed", "child_rng", "sha256_bytes", "sha256_file", "file_record",
    "read_bytes", "read_raw", "jsonable", "check_count", "check_fraction", "PURPOSES",
]

#: Fixed spawn keys: each random purpose draws from ``SeedSequence(seed, spawn_key=(k,))``,
#: so the numbers for one purpose never depend on which other purposes ran, nor in what order.
PURPOSES = {
    "train_subsample": 1,
    "test_subsample": 2,
    "split": 3,
    "train_noise": 4,
    "test_noise": 5,
    "X_train": 6,
    "X_test": 7,
    "target": 8,
    "teacher": 9,
}

_GZIP_MAGIC = b"\x1f\x8b"


def check_seed(seed, name: str = "seed") -> int:
    """Return ``seed`` as a non-negative Python int, or raise :class:`InputError`."""
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or int(seed) < 0:
        raise InputError(f"{name} must be a non-negative integer, got {seed!r}; pass e.g. {name}=0")
    return int(seed)


def child_rng(seed: int, purpose: str) -> np.random.Generator:
    """The generator for one named ``purpose`` (see :data:`PURPOSES`) derived from ``seed``."""
    ss = np.random.SeedSequence(check_seed(seed), spawn_key=(PURPOSES[purpose],))
    return np.random.default_rng(ss)


def as_generator(rng, name: str = "rng") -> np.random.Generator:
    """Turn an int seed, a ``SeedSequence`` or a ``Generator`` into a ``Generator``.

    ``None`` is refused: every random function of the package takes explicit randomness.
    """
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, np.random.SeedSequence):
        return np.random.default_rng(rng)
    if rng is None:
        raise InputError(f"{name} is None; pass an explicit seed (an int) or a numpy Generator "
                         f"(np.random.default_rng(seed)) so results are reproducible")
    if isinstance(rng, np.random.RandomState):
        raise InputError(f"{name} is a legacy numpy RandomState; pass an int seed or "
                         f"np.random.default_rng(seed)")
    return np.random.default_rng(check_seed(rng, name))


def check_count(value, name: str, *, minimum: int = 1) -> int:
    """Return ``value`` as an int >= ``minimum`` or raise :class:`InputError`."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or int(value) < minimum:
        raise InputError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_fraction(p, name: str) -> float:
    """Return ``p`` as a float in [0, 1] or raise :class:`InputError`."""
    try:
        q = float(p)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a number in [0, 1], got {p!r}") from None
    if not (0.0 <= q <= 1.0) or math.isnan(q):
        raise InputError(f"{name} must be in [0, 1] (a portion of the samples), got {p!r}")
    return q


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path) -> str:
    """SHA-256 of a file's bytes, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def file_record(path, raw: bytes | None = None) -> dict:
    """Provenance entry of one file read: absolute path, size and SHA-256 of the bytes on disk.

    ``raw`` may pass the file's bytes when they were already read, to avoid reading it twice.
    """
    p = Path(path)
    if raw is not None:
        digest, size = sha256_bytes(raw), len(raw)
    else:
        digest, size = sha256_file(p), p.stat().st_size
    return {"path": str(p.resolve()), "bytes": int(size), "sha256": digest}


def read_raw(path) -> bytes:
    """A file's bytes; an unreadable file raises :class:`DataError` naming it."""
    p = Path(path)
    try:
        return p.read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read {p}: {exc.strerror or exc}; check the path and permissions") from None


def read_bytes(path) -> tuple[bytes, dict]:
    """Read a file, transparently gunzipping it; return ``(payload, provenance record)``.

    A file is treated as gzip when its name ends in ``.gz`` or its first two bytes are the gzip
    magic ``1f 8b``. The record's checksum is that of the file on disk (compressed bytes).
    """
    p = Path(path)
    raw = read_raw(p)
    record = file_record(p, raw)
    if p.name.endswith(".gz") or raw[:2] == _GZIP_MAGIC:
        try:
            payload = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise DataError(f"{p} is not a valid gzip file ({exc}); the download is corrupt or "
                            f"truncated: download it again or decompress it yourself") from None
        record["gzip"] = True
        return payload, record
    return raw, record


def jsonable(obj, where: str = "provenance"):
    """Deep-copy ``obj`` into plain JSON types (dict/list/str/float/int/bool/None).

    numpy scalars and arrays become Python numbers and lists, tuples become lists and paths become
    strings. Anything else raises :class:`InputError`.
    """
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, numbers.Integral):
        return int(obj)
    if isinstance(obj, numbers.Real):
        x = float(obj)
        return x if math.isfinite(x) else str(x)
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist(), where)
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, dict):
        return {str(k): jsonable(v, where) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v, where) for v in obj]
    raise InputError(f"{where} must be JSON-serializable but contains a {type(obj).__name__}; "
                     f"store plain numbers, strings, lists and dicts there")


def check_json(obj) -> None:
    """Assert ``obj`` round-trips through ``json.dumps`` (used by tests and Dataset)."""
    json.dumps(obj, allow_nan=False)

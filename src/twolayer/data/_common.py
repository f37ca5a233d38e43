"""Small helpers shared by the data loaders: seeds, checksums, gzip, JSON-safe provenance.

Nothing here is public; the loaders re-export what users need.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import math
import numbers
from pathlib import Path

import numpy as np

from .._errors import DataError, InputError
from .._seeds import rng as _rng

__all__ = [
    "as_generator", "check_seed", "child_rng", "sha256_bytes", "sha256_file", "file_record",
    "read_raw", "jsonable", "check_count", "check_fraction", "PURPOSES",
    "check_expansion", "max_data_bytes", "gunzip_stream", "check_zip_sizes", "GZIP_MAGIC",
]

#: Default cap on what one data file may expand to in memory (bytes); ``TWOLAYER_MAX_DATA_BYTES``
#: overrides it (e.g. ``TWOLAYER_MAX_DATA_BYTES=64e9`` for a legitimately huge file).
DEFAULT_MAX_DATA_BYTES = 8 * 2**30
#: Expansion beyond this ratio of the stored bytes (and above :data:`EXPANSION_FLOOR`) is refused
#: unless ``TWOLAYER_MAX_DATA_BYTES`` is set: real image data deflates 2-10x; a 1000x ratio is a bomb.
MAX_EXPANSION_RATIO = 200
EXPANSION_FLOOR = 64 * 2**20

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

GZIP_MAGIC = b"\x1f\x8b"  # the first two bytes of every gzip stream


def check_seed(seed, name: str = "seed") -> int:
    """Return ``seed`` as a non-negative Python int, or raise :class:`InputError`."""
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or int(seed) < 0:
        raise InputError(f"{name} must be a non-negative integer, got {seed!r}; pass e.g. {name}=0")
    return int(seed)


def child_rng(seed: int, purpose: str) -> np.random.Generator:
    """The generator for one named ``purpose`` (see :data:`PURPOSES`) derived from ``seed``."""
    return _rng(check_seed(seed), PURPOSES[purpose])


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


def max_data_bytes() -> tuple[int, bool]:
    """``(cap, explicit)``: the expansion cap in bytes and whether ``TWOLAYER_MAX_DATA_BYTES`` set it."""
    import os

    env = os.environ.get("TWOLAYER_MAX_DATA_BYTES")
    if env is None or not env.strip():
        return DEFAULT_MAX_DATA_BYTES, False
    try:
        cap = float(env)
    except ValueError:
        raise InputError(f"TWOLAYER_MAX_DATA_BYTES={env!r} is not a number of bytes; set e.g. "
                         f"TWOLAYER_MAX_DATA_BYTES=32e9") from None
    if not (math.isfinite(cap) and cap > 0):
        raise InputError(f"TWOLAYER_MAX_DATA_BYTES={env!r} must be a positive number of bytes")
    return int(cap), True


def check_expansion(declared: int, stored: int, source: str, what: str = "its header") -> None:
    """Refuse, before anything is allocated, a file whose ``declared`` in-memory size (from its
    header / directory) exceeds the cap, or a compressed file that would expand more than
    :data:`MAX_EXPANSION_RATIO` times its ``stored`` bytes (above :data:`EXPANSION_FLOOR`)."""
    cap, explicit = max_data_bytes()
    gib = declared / 2**30
    fix = ("set TWOLAYER_MAX_DATA_BYTES to a larger number of bytes if the file is legitimate" if explicit else
           "if the file is legitimate, set TWOLAYER_MAX_DATA_BYTES (bytes) above that size")
    if declared > cap:
        raise DataError(f"{source}: {what} declares {declared} bytes ({gib:.3g} GiB) of data, above the "
                        f"{cap / 2**30:.3g} GiB limit for one file; the file is corrupt or hostile ({fix})")
    if not explicit and declared > EXPANSION_FLOOR and declared > MAX_EXPANSION_RATIO * max(stored, 1):
        raise DataError(f"{source}: {what} declares {declared} bytes ({gib:.3g} GiB) from {stored} stored bytes, "
                        f"a {declared / max(stored, 1):.0f}x expansion (real data deflates < "
                        f"{MAX_EXPANSION_RATIO}x); the file is corrupt or a decompression bomb ({fix})")


def gunzip_stream(raw: bytes):
    """A file object decompressing the gzip bytes ``raw`` lazily (read only what is asked for)."""
    import io

    return gzip.GzipFile(fileobj=io.BytesIO(raw), mode="rb")


def check_zip_sizes(raw: bytes, source: str) -> list[str]:
    """Check the uncompressed sizes a zip (``.npz``) declares for its members against
    :func:`check_expansion` before any member is decompressed; return the member names. Duplicate
    member names are refused (a reader would silently take one of them)."""
    import io
    import zipfile

    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError, RuntimeError) as exc:
        raise DataError(f"{source} is not a readable .npz (zip) file or is truncated ({type(exc).__name__}: "
                        f"{exc}); re-create it with np.savez") from None
    odd = [i.filename for i in infos if i.flag_bits & 0x1 or i.compress_type not in (zipfile.ZIP_STORED,
                                                                                     zipfile.ZIP_DEFLATED)]
    if odd:
        raise DataError(f"{source}: member(s) {', '.join(odd)} are encrypted or use a compression np.savez never "
                        f"writes; the file is corrupt: re-create it with np.savez")
    names = [i.filename for i in infos]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise DataError(f"{source} holds the member(s) {', '.join(dup)} more than once; a reader would "
                        f"silently take one of them: re-create the file with np.savez")
    check_expansion(sum(int(i.file_size) for i in infos), len(raw), source, "its zip directory")
    return names


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

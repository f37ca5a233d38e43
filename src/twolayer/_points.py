"""Sweep points as data: parameter normalization, the grid, stable point keys and per-point seeds.

A point is a mapping of JSON scalars. Its key (:func:`point_key`) is a readable, file-name-safe
summary plus 64 bits of the SHA-256 of its canonical JSON, so it does not depend on the order of
the parameters or on the process; its seed (:func:`point_seed`) is a child of the root seed keyed
by the same digest, so a point's numbers do not depend on which other points a sweep has or on
the order they run in. :mod:`twolayer.sweep` re-exports the public names.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import numbers
import re
from collections.abc import Mapping, Sequence

import numpy as np

from ._errors import InputError

__all__ = ["grid", "point_key", "point_seed"]

_KEY_HASH_CHARS = 16                      # 64 bits of sha256 in a point key
_KEY_READABLE_MAX = 120                   # cap on the human-readable part of a key (file names ≤ 255 bytes)


def _scalar(value, where: str):
    """``value`` as a plain Python JSON scalar (numpy scalars converted); InputError otherwise."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or type(value) in (bool, int, float, str):
        return value
    if isinstance(value, numbers.Integral):      # IntEnum and the like
        return int(value)
    if isinstance(value, (float, str)):          # subclasses
        return float(value) if isinstance(value, float) else str(value)
    raise InputError(f"{where} is {value!r} of type {type(value).__name__}; sweep parameters must be JSON "
                     f"scalars (int, float, str, bool or None)")


def _normalize_params(params) -> dict:
    """A point's params as a dict of plain Python JSON scalars, keys as given (order kept)."""
    if hasattr(params, "params") and hasattr(params, "rows"):   # a sweep.PointResult
        params = params.params
    if not isinstance(params, Mapping):
        raise InputError(f"a sweep point must be a mapping of parameter names to values, got {params!r}")
    out = {}
    for name, value in params.items():
        if not isinstance(name, str) or not name:
            raise InputError(f"sweep parameter names must be non-empty strings, got {name!r} in {dict(params)!r}")
        out[name] = _scalar(value, f"parameter {name!r} of point {dict(params)!r}")
    return out


def _canonical(obj) -> str:
    """Canonical JSON: sorted keys, no spaces, ASCII, floats by ``repr`` (NaN/Infinity allowed)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=True)


def _digest(params: dict) -> bytes:
    return hashlib.sha256(_canonical(params).encode("ascii")).digest()


def grid(**axes) -> list[dict]:
    """Cartesian product of the axes, in the given axis order, last axis fastest.

    >>> grid(noise=[0, .5], seed=[0, 1])
    [{'noise': 0, 'seed': 0}, {'noise': 0, 'seed': 1}, {'noise': 0.5, 'seed': 0}, {'noise': 0.5, 'seed': 1}]

    Each axis is a non-empty list, tuple, range or 1-D array of distinct JSON scalars (int, float,
    str, bool or None; numpy scalars become Python scalars). ``grid()`` is ``[{}]``, one point
    without parameters.
    """
    values = {}
    for name, axis in axes.items():
        if isinstance(axis, np.ndarray):
            if axis.ndim != 1:
                raise InputError(f"grid axis {name!r} must be 1-D, got an array of shape {axis.shape}")
            axis = axis.tolist()
        if isinstance(axis, (str, bytes)) or not isinstance(axis, (Sequence, range)):
            raise InputError(f"grid axis {name!r} must be a list, tuple, range or 1-D array of values, "
                             f"got {type(axis).__name__} {axis!r}")
        if len(axis) == 0:
            raise InputError(f"grid axis {name!r} is empty; give it at least one value")
        vals = [_scalar(v, f"value {v!r} of grid axis {name!r}") for v in axis]
        seen = set()
        for v in vals:
            c = _canonical(v)
            if c in seen:
                raise InputError(f"grid axis {name!r} lists the value {v!r} twice; list each value once")
            seen.add(c)
        values[name] = vals
    names = list(values)
    return [dict(zip(names, combo)) for combo in itertools.product(*values.values())]


def _key_text(value) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        return repr(value)
    return json.dumps(value)  # int, bool -> true/false, None -> null


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.+-]+", "~", text)


def point_key(params: Mapping) -> str:
    """Canonical, file-name-safe, readable and unique name of a point.

    ``name-value`` pairs in sorted name order joined by ``_`` (characters other than letters,
    digits and ``_.+-`` replaced by ``~``, cut at 120 characters), then ``_`` and the first 16 hex
    digits of ``sha256`` of the params' canonical JSON (sorted keys, floats by ``repr``). The
    same params give the same key on every run and machine, whatever the dict order; distinct
    params (including ``1`` vs ``1.0`` vs ``True``) give distinct keys, and a store also checks the
    full params inside each file.

    >>> point_key({"seed": 1, "noise": 0.5})
    'noise-0.5_seed-1_6bd6a679e6290472'
    """
    params = _normalize_params(params)
    readable = "_".join(f"{_safe(k)}-{_safe(_key_text(v))}" for k, v in sorted(params.items()))
    readable = readable[:_KEY_READABLE_MAX] or "point"
    if readable[0] in ".-~":
        readable = "p" + readable
    return f"{readable}_{_digest(params).hex()[:_KEY_HASH_CHARS]}"


def _check_root(root) -> int:
    if isinstance(root, (bool, np.bool_)) or not isinstance(root, numbers.Integral) or int(root) < 0:
        raise InputError(f"root seed must be a non-negative integer, got {root!r}")
    return int(root)


def point_seed(root: int, params: Mapping) -> np.random.SeedSequence:
    """``SeedSequence(root, spawn_key=K)``, ``K`` = the first four little-endian 32-bit words of
    ``sha256`` of the canonical JSON of ``params``.

    Depends only on ``(root, params)``: not on grid order, the other points, ``jobs`` or the executor.

    >>> point_seed(0, {"noise": 0.5, "seed": 1}).generate_state(2)
    array([3594897964, 3719243135], dtype=uint32)
    """
    root = _check_root(root)
    words = np.frombuffer(_digest(_normalize_params(params))[:16], dtype="<u4")
    return np.random.SeedSequence(root, spawn_key=tuple(int(w) for w in words))

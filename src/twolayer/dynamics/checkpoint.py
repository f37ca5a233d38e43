r"""Generic checkpoints of training state: any tree of arrays, numbers, strings and Generators.

A *tree* is built from tuples, lists, NamedTuples, dataclasses and dicts with string keys; its
leaves are numpy arrays, Python/numpy scalars, strings, ``None`` and ``numpy.random.Generator``
objects. :func:`flatten` turns a tree into ``(arrays, leaves)`` — arrays by path for an ``.npz``,
everything else as JSON — and :func:`restore` puts them back into a *template* of the same
structure (a freshly initialized state), returning a tree of the template's types. A structure
that differs from the template, or a leaf type that cannot be saved, is an error, never a silent
partial resume. This is how every update rule, including one defined outside the package, is
checkpointed (in the manner of ``flax.serialization.to_state_dict`` / ``from_state_dict``).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import InputError
from .._io import atomic_save_npz

__all__ = ["flatten", "restore", "save", "load", "FORMAT", "FREE"]

#: A template that takes its structure from the file: plain dicts, lists, tuples, arrays, scalars
#: and Generators (for observer states whose keys grow during a run, e.g. recorded metrics).
FREE = object()

#: Version of the checkpoint layout; a file of another version is refused with a clear message.
FORMAT = 2


def _is_namedtuple(x) -> bool:
    return isinstance(x, tuple) and hasattr(type(x), "_fields")


def _children(tree):
    """``(kind, [(key, child), ...])`` of a container, or None for a leaf."""
    if _is_namedtuple(tree):
        return type(tree).__name__, list(zip(tree._fields, tree))
    if isinstance(tree, (tuple, list)):
        return type(tree).__name__, [(str(i), c) for i, c in enumerate(tree)]
    if isinstance(tree, dict):
        for k in tree:
            if not isinstance(k, str):
                raise InputError(f"cannot checkpoint a dict with a {type(k).__name__} key ({k!r}); use string keys")
        return "dict", sorted(tree.items())
    if dataclasses.is_dataclass(tree) and not isinstance(tree, type):
        return type(tree).__name__, [(f.name, getattr(tree, f.name)) for f in dataclasses.fields(tree)]
    return None


def flatten(tree, prefix: str = "") -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """``(arrays, leaves)``: ndarray leaves by path; every other leaf, and the structure, as JSON values.

    Paths are ``/``-joined keys (``"1/m/W"``). ``leaves`` maps each path to ``{"kind": …}`` for
    containers, ``{"array": dtype}`` for arrays, ``{"generator": state}`` for Generators and
    ``{"value": v}`` for scalars, strings and None.
    """
    arrays: dict[str, np.ndarray] = {}
    leaves: dict[str, Any] = {}

    def walk(t, path):
        ch = _children(t)
        if ch is not None:
            kind, items = ch
            leaves[path] = {"kind": kind, "keys": [k for k, _ in items]}
            for k, c in items:
                walk(c, f"{path}/{k}" if path else k)
        elif isinstance(t, np.ndarray):
            arrays[path] = t
            leaves[path] = {"array": str(t.dtype), "shape": list(t.shape)}
        elif isinstance(t, np.random.Generator):
            leaves[path] = {"generator": t.bit_generator.state}
        elif t is None or isinstance(t, (bool, int, float, str, np.integer, np.floating, np.bool_)):
            leaves[path] = {"value": t.item() if isinstance(t, np.generic) else t}
        else:
            raise InputError(f"cannot checkpoint a state leaf of type {type(t).__name__} at {path or '<root>'!r}; "
                             f"build rule states from arrays, numbers, strings, Generators, tuples, dicts, "
                             f"NamedTuples or dataclasses")

    walk(tree, prefix)
    return arrays, leaves


def restore(template, arrays: dict[str, np.ndarray], leaves: dict[str, Any], prefix: str = ""):
    """The tree saved by :func:`flatten`, rebuilt in the types of ``template``.

    Arrays are copied into fresh arrays of the template's dtype and shape; Generators of the
    template get the saved state (and are returned, so identity is kept). Raises
    :class:`~twolayer.InputError` where the saved structure differs from the template's."""

    def mismatch(path, what):
        return InputError(f"checkpoint state does not match this run's state at {path or '<root>'!r} ({what}); "
                          f"it was written by another update rule or configuration: delete it to start afresh")

    def build_free(path):
        rec = leaves.get(path)
        if rec is None:
            raise mismatch(path, "missing")
        kind = rec.get("kind")
        if kind is not None:
            vals = [build_free(f"{path}/{k}" if path else k) for k in rec["keys"]]
            if kind == "dict":
                return dict(zip(rec["keys"], vals))
            if kind in ("list", "tuple"):
                return list(vals) if kind == "list" else tuple(vals)
            raise mismatch(path, f"a {kind} needs a template")
        if "array" in rec:
            if path not in arrays:
                raise mismatch(path, "array missing")
            return np.array(arrays[path], copy=True)
        if "generator" in rec:
            g = np.random.Generator(getattr(np.random, rec["generator"]["bit_generator"])())
            g.bit_generator.state = rec["generator"]
            return g
        return rec["value"]

    def build(t, path):
        if t is FREE:
            return build_free(path)
        rec = leaves.get(path)
        if rec is None:
            raise mismatch(path, "missing")
        ch = _children(t)
        if ch is not None:
            kind, items = ch
            if rec.get("kind") != kind or rec.get("keys") != [k for k, _ in items]:
                raise mismatch(path, f"saved {rec.get('kind')} {rec.get('keys')}, expected {kind} {[k for k, _ in items]}")
            vals = {k: build(c, f"{path}/{k}" if path else k) for k, c in items}
            if _is_namedtuple(t):
                return type(t)(**vals)
            if isinstance(t, (tuple, list)):
                return type(t)(vals[str(i)] for i in range(len(items)))
            if isinstance(t, dict):
                return vals
            return dataclasses.replace(t, **vals)
        if isinstance(t, np.ndarray):
            if "array" not in rec or path not in arrays or tuple(arrays[path].shape) != t.shape:
                raise mismatch(path, f"expected an array of shape {t.shape}")
            return np.array(arrays[path], dtype=t.dtype, copy=True)
        if isinstance(t, np.random.Generator):
            if "generator" not in rec:
                raise mismatch(path, "expected a Generator")
            try:
                t.bit_generator.state = rec["generator"]
            except (TypeError, ValueError, KeyError) as exc:
                raise mismatch(path, f"generator state: {exc}") from None
            return t
        if "value" not in rec:
            raise mismatch(path, "expected a scalar")
        v = rec["value"]
        return type(t)(v) if isinstance(t, (bool, int, float, np.integer, np.floating)) and v is not None else v

    return build(template, prefix)


def save(path, trees: dict[str, Any], meta: dict) -> None:
    """Write the named ``trees`` and the JSON ``meta`` to one ``.npz``, atomically."""
    arrays: dict[str, np.ndarray] = {}
    leaves: dict[str, Any] = {}
    for name, tree in trees.items():
        a, lv = flatten(tree)
        arrays.update({f"{name}/{k}" if k else name: v for k, v in a.items()})
        leaves[name] = lv
    header = {"format": FORMAT, "meta": meta, "leaves": leaves}
    files = {f"a{i}": arr for i, arr in enumerate(arrays.values())}
    header["array_names"] = list(arrays)
    files["header"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    atomic_save_npz(path, **files)


def load(path) -> tuple[dict, dict[str, tuple[dict, dict]]]:
    """``(meta, {name: (arrays, leaves)})`` of a file written by :func:`save`; pass each pair to
    :func:`restore` with its template. An unreadable or foreign file raises :class:`~twolayer.InputError`."""
    try:
        with np.load(Path(path), allow_pickle=False) as z:
            header = json.loads(z["header"].tobytes().decode())
            if header.get("format") != FORMAT:
                raise InputError(f"checkpoint {path} has format {header.get('format')!r}, this version reads "
                                 f"{FORMAT}; delete it to start afresh")
            flat = {name: z[f"a{i}"] for i, name in enumerate(header["array_names"])}
    except InputError:
        raise
    except (OSError, ValueError, KeyError, TypeError, json.JSONDecodeError) as exc:
        raise InputError(f"checkpoint {path} is unreadable ({exc}); delete it to start afresh") from None
    out = {}
    for name, lv in header["leaves"].items():
        pre = name + "/"
        arrs = {k[len(pre):]: v for k, v in flat.items() if k.startswith(pre)}
        if name in flat:
            arrs[""] = flat[name]
        out[name] = (arrs, lv)
    return header["meta"], out

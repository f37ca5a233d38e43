"""Helpers shared by the ``twolayer`` verbs (:mod:`twolayer.cli`): parsing of ``KEY=VALUE`` options
and class lists, loading the data of an analysis verb, the kernel operator of the Krylov verbs,
and the one-JSON-object / human output."""

from __future__ import annotations

import math
import sys

import numpy as np

from ._errors import InputError

#: Builds whose result exceeds this many bytes announce their memory estimate on stderr first.
ANNOUNCE_BYTES = 64 * 2**20


def _parse_kv(items) -> dict:
    out = {}
    for item in items or []:
        key, sep, val = item.partition("=")
        if not sep or not key:
            raise InputError(f"--opt expects key=value, got {item!r}")
        out[key.strip().replace("-", "_")] = _parse_value(val.strip())
    return out


def _parse_value(text: str):
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    if "," in text:
        return [_parse_value(t) for t in text.split(",") if t]
    return text


def _parse_classes(text):
    if text is None:
        return None
    parts = [p for p in text.replace("v", ",").split(",") if p.strip()]
    if len(parts) < 2:
        raise InputError(f"--classes needs at least two classes such as 0,1 (got {text!r})")
    return tuple(_parse_value(p.strip()) for p in parts)


def _load_data(args, labels: bool = True):
    """The data set of an analysis verb. ``labels``: the verb reads ``y``, so labels that take exactly the
    values 0 and 1 are refused (Arora et al.'s quantities assume +1/-1; the fix is ``--classes 1,0``)."""
    from ._validation import check_sign_coding
    from .data import load

    ds = load(args.data, classes=_parse_classes(args.classes), n_train=args.n_train, n_test=args.n_test,
              seed=args.seed, label_noise=args.label_noise, normalize=False if args.no_normalize else None,
              **_parse_kv(args.opt))
    if labels:
        fix = "pass --classes 1,0 (1 -> +1, 0 -> -1) or store the labels as 2*y - 1"
        check_sign_coding(ds.y, f"y of {ds.name}", fix)
        if ds.has_test:
            check_sign_coding(ds.y_test, f"y_test of {ds.name}", fix)
    return ds


def _announce(n: int, n_z: int, d: int, kind: str, quiet: bool, dtype=np.float64) -> None:
    from .kernels import estimate_kernel_memory

    est = estimate_kernel_memory(n, n_z, d, dtype=dtype)
    if est.result >= ANNOUNCE_BYTES and not quiet:
        print(f"twolayer: building the {n}x{n_z} {kind} kernel needs {est}", file=sys.stderr)


STORAGE_CHOICES = ("auto", "dense64", "dense32", "memmap", "matrix-free")


def _storage_requested(args) -> bool:
    return getattr(args, "storage", None) is not None or bool(getattr(args, "dask", None))


def _resolve_kernel_args(args) -> None:
    """Check ``--kind`` / ``--kernel`` / ``--depth --w-std --b-std`` together and set ``args.kernel_fn``
    (a :class:`~twolayer.kernels.KernelFunction`) and ``args.kind`` (the kernel's name in the output)."""
    from .kernels import DEEP_KERNELS, resolve_kernel

    deep = {"depth": args.depth, "w_std": args.w_std, "b_std": args.b_std}
    named = [f"--{k.replace('_', '-')}" for k, v in deep.items() if v is not None]
    given = ", ".join(named) + (" apply" if len(named) > 1 else " applies")
    if args.kernel is not None:
        if args.kind is not None:
            raise InputError(f"--kernel and --kind both choose the kernel; pass one of --kind {args.kind} or "
                             f"--kernel {args.kernel}")
        if named:
            raise InputError(f"{given} to --kind deep-ntk / deep-nngp, not to a user kernel (--kernel)")
        args.kernel_fn, args.kind = resolve_kernel(args.kernel), args.kernel
        return
    args.kind = args.kind or "first-layer"
    if args.kind in DEEP_KERNELS:
        if args.depth is None:
            raise InputError(f"--kind {args.kind} needs --depth L, the number of hidden layers (e.g. --depth 3)")
        args.kernel_fn = resolve_kernel(args.kind, **deep)
        return
    if named:
        raise InputError(f"{given} to --kind deep-ntk / deep-nngp only; drop it or pass --kind deep-ntk")
    args.kernel_fn = resolve_kernel(args.kind)


def _kernel_payload(args) -> dict:
    """``{"kernel_options": {...}}`` of a deep kernel (its depth, w_std, b_std), else nothing."""
    fn = getattr(args, "kernel_fn", None)
    return {"kernel_options": fn.options} if fn is not None and fn.family == "deep" else {}


def _operator(args, ds, storage: str):
    """The kernel of ``ds`` as a :class:`~twolayer.kernels.KernelOperator` in ``storage`` (announced on stderr);
    with ``--dask ADDRESS`` its row blocks live on that cluster's workers (:mod:`twolayer.dask_operator`).
    A deep or user kernel is built here as a dense float64 / float32 matrix."""
    fn = getattr(args, "kernel_fn", None)
    if fn is not None and fn.family != "arccos":
        op = _dense_operator(args, ds, storage, fn)
    elif getattr(args, "dask", None):
        from .dask_operator import make_dask_operator

        op = make_dask_operator(ds.X, kind=args.kind, storage=storage, address=args.dask)
    else:
        from .kernels import make_operator

        op = make_operator(ds.X, kind=args.kind, storage=storage)
    if not args.json and op.choice["storage"] != "dense64" or (not args.json and ds.n * ds.n * 8 >= ANNOUNCE_BYTES):
        print(f"twolayer: {args.kind} kernel {ds.n}x{ds.n} as a {op.choice['storage']} operator "
              f"({op.choice['reason']})", file=sys.stderr)
    return op


def _dense_operator(args, ds, storage: str, fn):
    from .kernels import KernelOperator

    what = "a user kernel (--kernel)" if fn.family == "user" else f"--kind {args.kind}"
    if getattr(args, "dask", None):
        raise InputError(f"--dask builds the arc-cosine kernels on the cluster; {what} is built here: drop --dask")
    if storage in ("memmap", "matrix-free"):
        raise InputError(f"--storage {storage} needs an arc-cosine --kind; {what} is built as a dense matrix: use "
                         f"--storage dense64 or dense32 (or auto)")
    _announce(ds.n, ds.n, ds.d, args.kind, args.json)
    H = fn(ds.X)
    if storage == "dense32":
        H = H.astype(np.float32)
    op = KernelOperator.from_matrix(H)
    op.symmetric, op.kind = True, args.kind  # exactly symmetric: built so, or checked and symmetrized
    op.choice = {"storage": op.storage, "requested": storage, "memory_limit": None, "estimates": {},
                 "reason": f"{what} is built as a dense matrix"}
    return op


def _storage_payload(op) -> dict:
    ch = op.choice
    return {"storage": ch["storage"], "storage_requested": ch["requested"], "storage_reason": ch["reason"],
            "memory_limit": ch["memory_limit"], "memory_estimates": ch["estimates"],
            **({"dask_workers": ch["workers"], "dask_block": ch["block"]} if "workers" in ch else {})}


def _emit(args, payload: dict, human: str) -> None:
    if args.json:
        from ._io import to_json

        sys.stdout.write(to_json(_finite(payload)) + "\n")
    else:
        sys.stdout.write(human.rstrip() + "\n")


def _finite(obj):
    """JSON has no inf/NaN: map them to None so every consumer can parse the output."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    if isinstance(obj, np.ndarray) and obj.dtype.kind == "f":
        return [_finite(float(v)) for v in obj.ravel()] if obj.ndim else _finite(float(obj))
    return obj


def _data_summary(ds) -> dict:
    return {"name": ds.name, "n": ds.n, "d": ds.d, "n_test": ds.n_test, "provenance": ds.provenance}

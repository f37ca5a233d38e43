r"""One name for every kernel: the arc-cosine members, the deep ReLU kernels and a user's own function.

:func:`resolve_kernel` turns a kernel *spec* into a :class:`KernelFunction`, a callable
``K(X, Z=None) -> (n, n_z)`` array:

* a name of :data:`~twolayer.kernels.KERNELS` (``"first-layer"``, ``"two-layer"``, …, aliases
  too): :func:`~twolayer.kernels.arccos_kernel`;
* ``"deep-ntk"`` / ``"deep-nngp"`` with the options ``depth``, ``w_std``, ``b_std``:
  :func:`~twolayer.kernels.deep.deep_kernel`;
* ``"module:function"`` (a dotted module importable from ``sys.path``) or
  ``"path/to/file.py:function"``: the user's ``function(X, Z=None)``;
* a callable with that signature.

A user's function receives float64 ``(n, d)`` (and ``(n_z, d)``) arrays and must return the
``(n, n_z)`` matrix ``k(x_i, z_j)``; for ``Z = None`` it is called as ``function(X)``. Its
result is checked — a numeric 2-D array, the right shape, finite, symmetric (for ``Z = None``,
to ``1e-10`` of its largest entry; then symmetrized exactly) — and every failure is one
:class:`~twolayer.InputError` naming the problem and the fix (the CLI's ``--kernel``, exit 2).
The matrix then goes wherever an explicit kernel matrix is accepted
(:func:`twolayer.bounds.complexity`, :func:`twolayer.spectra.spectrum`,
:meth:`~twolayer.kernels.KernelOperator.from_matrix` for the Krylov instruments).

Example
-------
>>> import numpy as np
>>> rbf = resolve_kernel(lambda X, Z=None: np.exp(-((X[:, None] - (X if Z is None else Z)[None]) ** 2).sum(-1)))
>>> rbf(np.eye(2)).round(4)
array([[1.    , 0.1353],
       [0.1353, 1.    ]])
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from pathlib import Path
from typing import Callable

import numpy as np

from .._errors import InputError
from .._validation import as_data_matrix
from .arccos import KERNELS, arccos_kernel
from .deep import _DEFAULT_W_STD, DEEP_KERNELS, deep_kernel

__all__ = ["KernelFunction", "resolve_kernel", "load_user_kernel", "check_kernel_matrix", "kernel_kinds",
           "kernel_identity"]

#: Relative asymmetry ``max |K − Kᵀ| / max |K|`` of a user's self kernel still taken as rounding.
SYMMETRY_RTOL = 1e-10


class KernelFunction:
    """A resolved kernel: call it as ``K(X, Z=None, **build)`` → ``(n, n_z)`` float64 (or the
    builder's dtype) array.

    Attributes
    ----------
    name : str
        The spec it came from (``"two-layer"``, ``"deep-ntk"``, ``"mymod:rbf"``, ``"<lambda>"``).
    family : {"arccos", "deep", "user"}
        Which builder: the arc-cosine table, the deep ReLU kernels, or a user's function (whose
        result is checked).
    options : dict
        The deep kernels' ``depth``, ``w_std``, ``b_std`` (empty otherwise).

    Notes
    -----
    ``build`` keywords (``out``, ``block_size``, ``dtype``, …) go to the arc-cosine and deep
    builders; a user kernel accepts only ``out`` (the checked matrix is copied into it). Cost:
    the builder's; the checks of a user kernel ``O(n n_z)``.
    """

    def __init__(self, name: str, family: str, func: Callable, options: dict | None = None):
        self.name, self.family, self._func = name, family, func
        self.options = dict(options or {})

    def __call__(self, X, Z=None, **build) -> np.ndarray:
        if self.family == "arccos":
            return arccos_kernel(X, Z, kind=self.name, **build)
        if self.family == "deep":
            return deep_kernel(X, Z, kind=self.name, **self.options, **build)
        out = build.pop("out", None)
        build.pop("block_size", None)  # a user's function blocks (or not) on its own
        if build:
            raise InputError(f"a user kernel takes no build options, got {', '.join(sorted(build))}")
        K = self._checked(X, Z)
        if out is None:
            return K
        if out.shape != K.shape:
            raise InputError(f"out must have shape {K.shape}, got {out.shape}")
        out[...] = K
        return out

    def _checked(self, X, Z) -> np.ndarray:
        Xa = as_data_matrix(X, "X", allow_zero_rows=True)
        Za = None if Z is None else as_data_matrix(Z, "Z", allow_zero_rows=True)
        if Za is not None and Za.shape[1] != Xa.shape[1]:
            raise InputError(f"X has {Xa.shape[1]} features but Z has {Za.shape[1]}; both must have the same d")
        try:
            raw = self._func(Xa) if Za is None else self._func(Xa, Za)
        except InputError:
            raise
        except Exception as exc:  # the user's code: its failure is the user's, said in one line
            raise InputError(f"user kernel {self.name} raised {type(exc).__name__}: {_first_line(exc)}; fix the "
                             f"function (it is called as function(X) and function(X, Z) with float64 (n, d) "
                             f"arrays)") from exc
        return check_kernel_matrix(raw, Xa.shape[0], Xa.shape[0] if Za is None else Za.shape[0], self_kernel=Za is None,
                                   name=self.name)

    def __repr__(self) -> str:
        opts = "".join(f", {k}={v!r}" for k, v in self.options.items())
        return f"KernelFunction({self.name!r}, family={self.family!r}{opts})"


def _first_line(exc: BaseException) -> str:
    text = str(exc)
    return text.splitlines()[0] if text else type(exc).__name__


def check_kernel_matrix(raw, n: int, n_z: int, *, self_kernel: bool, name: str = "kernel") -> np.ndarray:
    """``raw`` as a float64 ``(n, n_z)`` array after checking it is numeric, of that shape, finite
    and (``self_kernel``) symmetric to :data:`SYMMETRY_RTOL` of its largest entry; a symmetric
    one is returned exactly symmetric (``(K + Kᵀ)/2``). One :class:`~twolayer.InputError` per
    problem, naming the fix. Cost ``O(n n_z)``."""
    fix = "fix the function so that it returns the (n, m) matrix k(X[i], Z[j]) (Z = X when called as function(X))"
    try:
        K = np.asarray(raw)
    except (TypeError, ValueError) as exc:
        raise InputError(f"user kernel {name} returned {type(raw).__name__}, not an array ({exc}); {fix}") from None
    if K.dtype == object or not (np.issubdtype(K.dtype, np.number) or K.dtype == bool) or np.iscomplexobj(K):
        raise InputError(f"user kernel {name} returned a {type(raw).__name__} of dtype {K.dtype}, not a real numeric "
                         f"array; {fix}")
    if K.shape != (n, n_z):
        raise InputError(f"user kernel {name} returned shape {K.shape}, expected {(n, n_z)} for {n} x {n_z} inputs; "
                         f"{fix}")
    K = np.array(K, dtype=np.float64, order="C")
    bad = ~np.isfinite(K)
    if bad.any():
        i, j = (int(t[0]) for t in np.nonzero(bad))
        raise InputError(f"user kernel {name} returned {int(bad.sum())} NaN or inf entries (first at [{i}, {j}]: "
                         f"{K[i, j]}); fix the function (e.g. guard a division, a log or an overflowing exp)")
    if self_kernel:
        scale = float(np.max(np.abs(K))) if K.size else 0.0
        gap = float(np.max(np.abs(K - K.T))) if K.size else 0.0
        if gap > SYMMETRY_RTOL * scale:
            i, j = (int(t) for t in np.unravel_index(int(np.argmax(np.abs(K - K.T))), K.shape))
            raise InputError(f"user kernel {name} is not symmetric: K[{i}, {j}] = {K[i, j]:.6g} but K[{j}, {i}] = "
                             f"{K[j, i]:.6g} (max |K - K^T| = {gap:.3g}, {gap / scale:.2g} of max |K|); a kernel must "
                             f"satisfy k(x, z) = k(z, x): fix the function")
        K += K.T
        K *= 0.5
    return K


def load_user_kernel(spec: str) -> Callable:
    """The function named by ``"module:function"`` or ``"path/to/file.py:function"`` (a dotted
    attribute path after the colon is allowed). Raises :class:`~twolayer.InputError` for a spec
    without a colon, a module that cannot be found or fails to import, a missing attribute and a
    non-callable one. The file form imports the file under a private module name. Cost: the import."""
    if not isinstance(spec, str) or ":" not in spec:
        raise InputError(f"a user kernel is MODULE:FUNCTION or PATH.py:FUNCTION (e.g. mykernels:rbf or "
                         f"./kernels.py:rbf), got {spec!r}")
    where, _, attr = spec.rpartition(":")
    if not where or not attr:
        raise InputError(f"a user kernel is MODULE:FUNCTION or PATH.py:FUNCTION, got {spec!r}: name both parts")
    module = _import_file(where) if where.endswith(".py") or "/" in where or "\\" in where else _import_module(where)
    obj = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            found = sorted(k for k, v in vars(module).items() if callable(v) and not k.startswith("_")
                           and getattr(v, "__module__", None) == module.__name__)
            hint = f"it defines {', '.join(found[:8])}" if found else "it defines no public function"
            raise InputError(f"{where} has no function {attr!r} ({hint}); check the name after the colon")
        obj = getattr(obj, part)
    if not callable(obj):
        raise InputError(f"{spec} is a {type(obj).__name__}, not a function; name a function(X, Z=None)")
    return obj


def _import_module(name: str):
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and (name == exc.name or name.startswith(exc.name + ".")):
            raise InputError(f"cannot import module {name!r} ({exc}); put its folder on PYTHONPATH, or pass the file: "
                             f"--kernel path/to/{name.split('.')[-1]}.py:FUNCTION") from None
        raise InputError(f"importing module {name!r} failed: {exc}; install what it needs") from exc
    except Exception as exc:  # the user's module: its failure on import is the user's
        raise InputError(f"importing module {name!r} failed ({type(exc).__name__}: {_first_line(exc)}); fix the "
                         f"module") from exc


def _import_file(path_text: str):
    path = Path(path_text).expanduser()
    if not path.is_file():
        raise InputError(f"no such kernel file {path_text!r}; check the path (a file path needs the .py ending, a "
                         f"module name no slashes)")
    resolved = path.resolve()
    name = "_twolayer_user_" + hashlib.sha1(str(resolved).encode()).hexdigest()[:12] + "_" + \
        "".join(c if c.isalnum() else "_" for c in resolved.stem)
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, resolved)
    if spec is None or spec.loader is None:
        raise InputError(f"{path_text} cannot be imported as a Python file; pass a .py file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # the user's file: its failure on import is the user's
        del sys.modules[name]
        raise InputError(f"importing {path_text} failed ({type(exc).__name__}: {_first_line(exc)}); fix the "
                         f"file") from exc
    return module


def resolve_kernel(spec, **options) -> KernelFunction:
    r"""The kernel named by ``spec`` as a :class:`KernelFunction` ``K(X, Z=None) -> (n, n_z)``.

    Parameters
    ----------
    spec : str or callable
        A :data:`~twolayer.kernels.KERNELS` name or alias; ``"deep-ntk"`` / ``"deep-nngp"``
        (:func:`~twolayer.kernels.deep.deep_kernel`); ``"module:function"`` or
        ``"path/to/file.py:function"``; or a callable ``function(X, Z=None)``. A user's
        function's result is checked (module docstring).
    **options
        For the deep kernels only: ``depth`` (required), ``w_std``, ``b_std``.

    Returns
    -------
    KernelFunction

    Notes
    -----
    Cost: an import for a ``module:function`` spec; nothing is computed until the call.
    """
    if callable(spec) and not isinstance(spec, str):
        _no_options(getattr(spec, "__name__", "the callable"), options)
        return KernelFunction(getattr(spec, "__qualname__", repr(spec)), "user", spec)
    if not isinstance(spec, str) or not spec:
        raise InputError(f"a kernel is a name ({', '.join(list(KERNELS) + list(DEEP_KERNELS))}), MODULE:FUNCTION or a "
                         f"callable, got {spec!r}")
    row = KERNELS.get(spec) or next((r for r in KERNELS.values() if spec in r.aliases), None)
    if row is not None:
        _no_options(spec, options)
        return KernelFunction(row.name, "arccos", arccos_kernel)
    if spec in DEEP_KERNELS:
        unknown = set(options) - {"depth", "w_std", "b_std"}
        if unknown:
            raise InputError(f"{spec} takes the options depth, w_std, b_std, not {', '.join(sorted(unknown))}")
        if options.get("depth") is None:
            raise InputError(f"{spec} needs depth, the number of hidden layers (e.g. depth=3; --depth 3)")
        opts = {"depth": options["depth"], "w_std": options.get("w_std"), "b_std": options.get("b_std")}
        opts["w_std"] = _DEFAULT_W_STD if opts["w_std"] is None else opts["w_std"]
        opts["b_std"] = 0.0 if opts["b_std"] is None else opts["b_std"]
        deep_kernel(np.ones((1, 1)), kind=spec, **opts)  # checks the options now, not at the first call
        return KernelFunction(spec, "deep", deep_kernel, opts)
    if ":" not in spec:
        raise InputError(f"unknown kernel {spec!r}; choose one of {', '.join(list(KERNELS) + list(DEEP_KERNELS))}, "
                         f"or name your own as MODULE:FUNCTION or PATH.py:FUNCTION")
    _no_options(spec, options)
    return KernelFunction(spec, "user", load_user_kernel(spec))


def kernel_identity(spec: str) -> str:
    """What a kernel spec's matrices depend on, for cache keys and results fingerprints: the
    canonical name of a built-in kernel (an alias gives the same identity), and for a user's
    ``module:function`` / ``file.py:function`` the spec plus the SHA-256 of the source file that
    defines the function — so editing the function invalidates stored results, while moving
    nothing else does. Raises :class:`~twolayer.InputError` as :func:`resolve_kernel` does.
    Cost: the import, and reading the source file once."""
    fn = resolve_kernel(spec)
    if fn.family != "user":
        return fn.name
    import inspect

    try:
        source = inspect.getsourcefile(fn._func)
    except TypeError:  # a builtin or C function: nothing to hash
        source = None
    if source is None or not Path(source).is_file():
        return f"{spec}@unhashed"
    return f"{spec}@sha256:{hashlib.sha256(Path(source).read_bytes()).hexdigest()[:16]}"


def kernel_kinds() -> tuple[str, ...]:
    """The named kernels a network has (the CLI's ``--kind`` choices): the arc-cosine members with a
    network (:func:`~twolayer.kernels.network_kernel_kinds`), then ``deep-ntk``, ``deep-nngp``."""
    from .arccos import network_kernel_kinds

    return network_kernel_kinds() + DEEP_KERNELS


def _no_options(name: str, options: dict) -> None:
    given = sorted(k for k, v in options.items() if v is not None)
    if given:
        raise InputError(f"{', '.join(given)} apply to the deep kernels (deep-ntk, deep-nngp) only, not to {name}")

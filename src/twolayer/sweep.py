r"""Resumable parameter sweeps: grids of independent points, each stored on disk as soon as it is done.

An experiment such as Arora et al.'s Figure 2 (label-noise portion × seeds) is a list of
*points*, each a flat mapping of JSON scalars (``{"noise": 0.5, "seed": 1}``). A top-level
function computes one point, ``func(params, seed) -> (rows, arrays)`` or, if it draws from seeds
of its own (see Seeds), ``func(params) -> (rows, arrays)``; :func:`run_sweep` runs the
missing points (serially, on a local process pool, or on any :class:`concurrent.futures.Executor`
such as a Dask ``Client.get_executor()``) and a :class:`ResultStore` keeps their results.

What is stored where
--------------------
A store is one flat folder::

    DIR/
      fingerprint.json      what the results depend on besides the point params (written first)
      KEY.npz               one file per finished point, KEY = point_key(params)
      .sweep.lock           lock file: one sweep at a time writes to DIR (its pid and host inside)

``KEY.npz`` is an ordinary ``.npz`` zip that ``np.load(path, allow_pickle=False)`` reads: the
point's arrays under their own names (stored uncompressed), and the entry ``_sweep_meta``, a
deflated ``uint8`` array holding UTF-8 JSON with the params, the tidy ``rows``, the wall time
``seconds``, the sha256 of the fingerprint and the seed the point was given (``{"root": ...,
"spawn_key": [...]}``). Nothing is pickled. Every file is written to a
temporary file next to its target, fsynced and renamed over it (:mod:`twolayer._io`), so a
point file is either absent or complete. Reading it checks every entry's CRC-32; a file that fails
(truncated, damaged, of another point or another fingerprint) is reported with a
:class:`SweepWarning` naming it and treated as missing, so the next sweep recomputes it.

Seeds
-----
Point ``params`` gets ``point_seed(root_seed, params) = SeedSequence(root_seed, spawn_key=K)``
where ``K`` is four 32-bit words of ``sha256`` of the canonical JSON of ``params`` (sorted keys).
The numbers a point draws therefore depend only on ``(root_seed, params)``: not on the order of
the grid, on which other points exist, on ``jobs`` or on the executor. Extending a grid keeps the
stored points valid.

A point function with a single positional parameter, ``func(params)`` (checked once with
:func:`takes_seed`), is not handed that seed. This is how the experiments are written: a point
derives its streams from the root seed of its config and *purpose keys* naming what it draws and
for which replicate (``SeedSequence(cfg.seed, spawn_key=(INIT_KEY, m, s))``,
:mod:`twolayer._seeds`), not from a hash of all its parameters. Its numbers then also depend only
on the root seed and its own ids (so, again, not on the sweep order, ``jobs`` or the other points),
and, unlike the per-point seed, points that differ only in a setting under comparison (β, α, the
label noise, network vs random-feature model) share their draws: common random numbers. The
point's seed is still recorded in its file, so a resume with another root seed is refused either way.

Resume guarantee
----------------
Each result is written by the parent process as soon as its point finishes. If the sweep stops
for any reason (an exception, Ctrl-C, ``kill -9``, a crash, a power cut after the fsync), every
point finished before the stop is on disk and complete, and running the same sweep again loads
those and computes only the others: nothing finished is lost or computed twice (points running
at the moment of the stop are lost and recomputed). The rerun must use the same fingerprint
(else :class:`~twolayer.InputError`) and the same root seed (else :class:`~twolayer.InputError`).
Temporary files left by a killed run are removed when the next sweep takes the folder's lock.

Cost
----
Per point: one file write and fsync by the parent (measured on a local disk: about 4 ms for a
small point, arrays at about 400 MB/s), and, for ``jobs > 1``, pickling ``func``, the params and
the result between processes. A local pool starts ``jobs`` processes (about 10 ms each with
``fork``; with ``spawn``/``forkserver`` each worker re-imports numpy and ``func``'s module,
about 0.35 s). Resuming reads every stored point file in full (to check it and to return it:
about 0.3 ms for a small point), so it costs about as much I/O as the results themselves. A
point should therefore do at least tens of milliseconds of work; batch smaller units inside
one point.

Example
-------
>>> import shutil, tempfile
>>> calls = []
>>> def noisy_mean(params, seed):
...     calls.append(point_key(params))
...     x = np.random.default_rng(seed).normal(params["noise"], 1.0, size=100)
...     return [{"metric": "mean", "value": float(x.mean()), **params}], {"x": x}
>>> folder = tempfile.mkdtemp()
>>> store = ResultStore(folder, {"experiment": "demo", "size": 100})
>>> points = grid(noise=[0.0, 0.5], seed=[0, 1])
>>> points[1]
{'noise': 0.0, 'seed': 1}
>>> results = run_sweep(noisy_mean, points, store=store, root_seed=0, progress=False)
>>> [r.params for r in results] == points, len(calls)
(True, 4)
>>> again = run_sweep(noisy_mean, points + grid(noise=[1.0], seed=[0]), store=store, root_seed=0,
...                   progress=False)
>>> calls[4:]                               # only the new point was computed
['noise-1.0_seed-0_755aafd2fe610c4e']
>>> bool(np.array_equal(again[0].arrays["x"], results[0].arrays["x"]))
True
>>> shutil.rmtree(folder)
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import inspect
import json
import numbers
import os
import pickle
import re
import sys
import time
import warnings
import zipfile
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ._errors import InputError
from ._io import atomic_open, atomic_write_json, remove_stale_temporaries, to_json
from ._points import _canonical, _check_root, _normalize_params, grid, point_key, point_seed  # noqa: F401
from ._progress import inner_progress, progress_bar, ticking
from ._threads import blas_threads, init_worker  # blas_threads re-exported (its home is twolayer._threads)

__all__ = ["grid", "point_key", "point_seed", "PointResult", "ResultStore", "run_sweep", "SweepWarning", "takes_seed",
           "point_checkpoint"]

FINGERPRINT_FILE = "fingerprint.json"
LOCK_FILE = ".sweep.lock"
_META = "_sweep_meta"                    # name of the JSON entry inside each point file
_FORMAT = "twolayer.sweep/1"
_TMP_RE = re.compile(r"^\..+\.(?:npz|json)\.[^.]+\.tmp$")   # temporaries made by twolayer._io.atomic_path


class SweepWarning(UserWarning):
    """A stored point file was unreadable or did not belong to the point; it is treated as missing."""


# ------------------------------------------------------------------------------ results
@dataclass(eq=False)
class PointResult:
    """The result of one point.

    Attributes
    ----------
    params : dict
        The point's parameters (JSON scalars).
    rows : list of dict
        Tidy metric rows, e.g. ``{"metric": "test_error", "value": 0.1, "noise": 0.5, "seed": 1,
        "step": 10}``, in their JSON form (numpy scalars become Python numbers, tuples lists).
    arrays : dict of str to ndarray
        Numeric (or fixed-width string) arrays of any shape; object arrays are refused.
    seconds : float
        Wall time of ``func`` for this point when it was computed (reloaded unchanged).

    ``==`` is identity (arrays have no single truth value); compare fields explicitly.
    """

    params: dict
    rows: list = field(default_factory=list)
    arrays: dict = field(default_factory=dict)
    seconds: float = 0.0


def _normalize_rows(rows, params) -> list:
    if isinstance(rows, Mapping) or not isinstance(rows, (list, tuple)):
        raise InputError(f"point {params!r}: rows must be a list of dicts, got {type(rows).__name__}")
    for row in rows:
        if not isinstance(row, Mapping):
            raise InputError(f"point {params!r}: every row must be a dict, got {row!r}")
    try:
        return json.loads(to_json(list(rows)))
    except (TypeError, ValueError) as exc:
        raise InputError(f"point {params!r}: rows are not JSON-serializable ({exc}); use numbers, strings, "
                         f"booleans or None in rows and put arrays in the arrays dict") from None


def _normalize_arrays(arrays, params) -> dict:
    if not isinstance(arrays, Mapping):
        raise InputError(f"point {params!r}: arrays must be a dict of name -> array, got {type(arrays).__name__}")
    out = {}
    for name, value in arrays.items():
        if not isinstance(name, str) or not name or name == _META:
            raise InputError(f"point {params!r}: array names must be non-empty strings other than {_META!r}, "
                             f"got {name!r}")
        arr = np.asarray(value)
        if arr.dtype.hasobject:
            raise InputError(f"point {params!r}: array {name!r} has dtype object, which cannot be stored without "
                             f"pickle; return numeric or fixed-width string arrays")
        out[name] = arr
    return out


def _write_npz(fh, arrays: dict, compressed=()) -> None:
    """An ``.npz`` zip of ``arrays`` (member ``NAME.npy`` each), never pickling; any names allowed.

    Members named in ``compressed`` are deflated, the others stored as they are (float data
    hardly compresses, and deflating it runs at only ~40 MB/s).
    """
    now = time.localtime()[:6]
    with zipfile.ZipFile(fh, "w", allowZip64=True) as zf:
        for name, arr in arrays.items():
            info = zipfile.ZipInfo(name + ".npy", date_time=now)
            info.compress_type = zipfile.ZIP_DEFLATED if name in compressed else zipfile.ZIP_STORED
            with zf.open(info, "w", force_zip64=True) as member:
                np.lib.format.write_array(member, arr, allow_pickle=False)


def _read_npz(path: Path) -> tuple[dict, dict]:
    """Arrays and metadata of a point file, reading every member to its end (CRC-32 checked)."""
    arrays, meta = {}, None
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            if not info.filename.endswith(".npy"):
                raise ValueError(f"unexpected entry {info.filename!r}")
            with zf.open(info) as member:
                arr = np.lib.format.read_array(member, allow_pickle=False)
                if member.read(1):  # reach the end, where zipfile verifies the CRC-32 (if read_array did not)
                    raise ValueError(f"trailing bytes in entry {info.filename!r}")
            name = info.filename[:-4]
            if name == _META:
                meta = json.loads(arr.tobytes().decode("utf-8"))
            else:
                arrays[name] = arr
    if not isinstance(meta, dict) or meta.get("format") != _FORMAT:
        raise ValueError(f"no {_META!r} entry of format {_FORMAT!r}")
    if not isinstance(meta.get("params"), dict) or not isinstance(meta.get("rows"), list):
        raise ValueError("metadata lacks params or rows")
    return arrays, meta


def _fingerprint_diff(old, new, path: str = "") -> list[str]:
    """Human-readable differences between two JSON values, outermost keys first."""
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for k in list(old) + [k for k in new if k not in old]:
            where = f"{path}.{k}" if path else str(k)
            if k not in new:
                out.append(f"{where} (stored {_short(old[k])}, now absent)")
            elif k not in old:
                out.append(f"{where} (not in the stored configuration, now {_short(new[k])})")
            else:
                out.extend(_fingerprint_diff(old[k], new[k], where))
        return out
    if _canonical(old) != _canonical(new):
        return [f"{path or 'the fingerprint'} (stored {_short(old)}, now {_short(new)})"]
    return []


def _short(value, limit: int = 60) -> str:
    text = to_json(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


class ResultStore:
    """A folder of point results made under one fingerprint (see the module docstring for the layout).

    Parameters
    ----------
    directory : path
        The folder (created with its parents).
    fingerprint : mapping
        JSON-able description of everything that determines the results except the point params
        (experiment name, resolved configuration minus the grid, package version, ...). Written
        to ``fingerprint.json`` on first use; a folder holding another fingerprint raises
        :class:`~twolayer.InputError` naming the first differing keys.

    ``has``, ``load`` and ``completed`` read the point files in full and check them; an unreadable
    file gives a :class:`SweepWarning` and counts as missing.
    """

    def __init__(self, directory, fingerprint: Mapping):
        self.directory = Path(directory)
        if self.directory.exists() and not self.directory.is_dir():
            raise InputError(f"result folder {self.directory} is an existing file; pass a folder path (--out)")
        if not isinstance(fingerprint, Mapping):
            raise InputError(f"fingerprint must be a mapping (JSON object), got {type(fingerprint).__name__}")
        try:
            self.fingerprint = json.loads(to_json(dict(fingerprint)))
        except (TypeError, ValueError) as exc:
            raise InputError(f"fingerprint is not JSON-serializable ({exc}); describe the configuration with "
                             f"numbers, strings, booleans, None, lists and dicts") from None
        self._fingerprint_sha = hashlib.sha256(_canonical(self.fingerprint).encode("ascii")).hexdigest()
        self.directory.mkdir(parents=True, exist_ok=True)
        #: ``(reused, total)`` points of the latest :func:`run_sweep` on this store (stored ones are reused).
        self.reused = (0, 0)
        fp_path = self.directory / FINGERPRINT_FILE
        if fp_path.exists():
            try:
                stored = json.loads(fp_path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise InputError(f"{fp_path} is unreadable ({exc}), so the results in {self.directory} cannot be "
                                 f"matched to a configuration; use another --out, or delete the folder "
                                 f"{self.directory} to start afresh") from None
            if _canonical(stored) != _canonical(self.fingerprint):
                diffs = _fingerprint_diff(stored, self.fingerprint)
                more = f" and {len(diffs) - 3} more" if len(diffs) > 3 else ""
                raise InputError(
                    f"the folder {self.directory} holds results of a different configuration: "
                    f"{'; '.join(diffs[:3])}{more} (see {fp_path}); use another --out for this configuration, "
                    f"or delete the folder {self.directory} to start afresh")
        else:
            if any(self.directory.glob("*.npz")):
                raise InputError(f"the folder {self.directory} holds point files but no {FINGERPRINT_FILE}, so "
                                 f"their configuration is unknown; use another --out, or delete the folder to "
                                 f"start afresh")
            atomic_write_json(fp_path, self.fingerprint)

    def __repr__(self) -> str:
        return f"ResultStore({str(self.directory)!r})"

    def path(self, params) -> Path:
        """Where the point ``params`` is (or would be) stored: ``directory / (point_key(params) + ".npz")``."""
        return self.directory / f"{point_key(params)}.npz"

    # -- reading
    def _read_path(self, path: Path, expected: dict | None):
        """``(PointResult, meta)`` of a point file, or None (with a SweepWarning) if it cannot be trusted."""
        def reject(reason):
            warnings.warn(f"ignoring point file {path}: {reason}; it counts as missing and a sweep recomputes it",
                          SweepWarning, stacklevel=4)

        try:
            arrays, meta = _read_npz(path)
            params = _normalize_params(meta["params"])
            result = PointResult(params=params, rows=meta["rows"], arrays=arrays, seconds=float(meta["seconds"]))
            key = point_key(params)
        except FileNotFoundError:
            return None
        except Exception as exc:  # noqa: BLE001 - any failure to read means: do not trust it
            reject(f"unreadable ({type(exc).__name__}: {exc})")
            return None
        if path.name != f"{key}.npz" or (expected is not None and _canonical(params) != _canonical(expected)):
            reject(f"it holds the point {params!r}, not the one its name says")
            return None
        if meta.get("fingerprint") != self._fingerprint_sha:
            reject("it was made under a different fingerprint")
            return None
        return result, meta

    def _read(self, params: dict):
        path = self.path(params)
        return self._read_path(path, params) if path.exists() else None

    def has(self, params) -> bool:
        """Whether a valid result of point ``params`` is stored (reads and checks the file)."""
        return self._read(_normalize_params(params)) is not None

    def load(self, params) -> PointResult:
        """The stored result of point ``params``; KeyError if it is missing or unreadable."""
        params = _normalize_params(params)
        found = self._read(params)
        if found is None:
            raise KeyError(f"no stored result of point {params!r} in {self.directory}")
        return found[0]

    def completed(self) -> list[dict]:
        """Params of the valid stored points, in file-name order (reads and checks every file)."""
        out = []
        for path in sorted(self.directory.glob("*.npz")):
            found = self._read_path(path, None)
            if found is not None:
                out.append(found[0].params)
        return out

    # -- writing
    def save(self, result: PointResult) -> Path:
        """Write ``result`` atomically to its point file (replacing any previous one); returns the path."""
        if not isinstance(result, PointResult):
            raise InputError(f"save expects a PointResult, got {type(result).__name__}")
        params = _normalize_params(result.params)
        result = PointResult(params, _normalize_rows(result.rows, params), _normalize_arrays(result.arrays, params),
                             float(result.seconds))
        return self._save(result, None)

    def _save(self, result: PointResult, seed: np.random.SeedSequence | None) -> Path:
        """Write an already-normalized ``result``, recording the seed it was computed with."""
        meta = {
            "format": _FORMAT,
            "key": point_key(result.params),
            "params": result.params,
            "rows": result.rows,
            "seconds": result.seconds,
            "fingerprint": self._fingerprint_sha,
            "twolayer": _package_version(),
            "seed": None if seed is None else {"root": int(seed.entropy), "spawn_key": list(seed.spawn_key)},
        }
        blob = np.frombuffer(to_json(meta).encode("utf-8"), dtype=np.uint8)
        path = self.path(result.params)
        with atomic_open(path, "wb") as fh:
            _write_npz(fh, {_META: blob, **result.arrays}, compressed=(_META,))
        return path

    # -- locking (used by run_sweep)
    @contextlib.contextmanager
    def _lock(self):
        """Hold the folder's lock: one sweep writes here at a time; stale temporaries are removed."""
        from ._lock import hold

        with hold(self.directory / LOCK_FILE, f"the sweep folder {self.directory}"):
            remove_stale_temporaries(self.directory, _TMP_RE)
            yield


# ------------------------------------------------------------------------------ running


def _package_version() -> str:
    from . import __version__

    return __version__


def takes_seed(func) -> bool:
    """Whether the point function ``func`` takes the sweep's per-point seed: ``func(params, seed)``
    (two or more positional parameters, or ``*args``) does, ``func(params)`` (one) does not.

    Read from ``inspect.signature`` (a ``functools.partial`` shows its remaining parameters; a
    callable object its ``__call__``'s); a callable without a readable signature is assumed to take
    the seed.

    >>> import functools
    >>> def point(params, *, cfg): ...
    >>> takes_seed(functools.partial(point, cfg=None)), takes_seed(lambda params, seed: None)
    (False, True)
    """
    try:
        sig = inspect.signature(func)
    except (TypeError, ValueError):
        return True
    positional = 0
    for p in sig.parameters.values():
        if p.kind is p.VAR_POSITIONAL:
            return True
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            positional += 1
    if positional == 0:
        raise InputError(f"the point function {func!r} takes no positional parameter; it must be "
                         f"func(params) or func(params, seed)")
    return positional >= 2


#: The checkpoint file of the point running in this thread (see :func:`point_checkpoint`).
_POINT_CHECKPOINT: contextvars.ContextVar[Path | None] = contextvars.ContextVar("twolayer_point_checkpoint",
                                                                                default=None)
#: Folder of the in-point checkpoints, inside the store's folder.
CHECKPOINT_DIR = ".checkpoints"


def point_checkpoint() -> Path | None:
    """Where the point running now may keep a checkpoint of its own long computation, or None
    outside a sweep.

    A point function passes it to :func:`twolayer.dynamics.train` (``checkpoint=``): a point killed
    after an hour continues from its last checkpoint when the sweep is rerun, instead of from
    scratch. The file lies in the store's folder (``.checkpoints/<point key>.npz``, so a Dask worker
    needs the folder on a shared file system to use it) and is deleted once the point's result is
    saved. Resumed points give the same numbers (the engine's checkpoints are exact).
    """
    return _POINT_CHECKPOINT.get()


def _run_point(func, params: dict, seed: np.random.SeedSequence, threads: int | None = None, seeded: bool = True,
               checkpoint: Path | None = None):
    """Run one point (in a worker, in-process or on a cluster) with ``threads`` BLAS/OpenMP threads;
    returns ``(output, seconds)``. ``seeded``: hand it ``seed`` (see :func:`takes_seed`); ``checkpoint``:
    what :func:`point_checkpoint` returns meanwhile. The same thread count wherever a point runs
    keeps the BLAS reduction order, so serial, pooled, resumed and Dask runs give bit-identical numbers."""
    t0 = time.perf_counter()
    token = _POINT_CHECKPOINT.set(checkpoint)
    try:
        with blas_threads(threads):
            out = func(dict(params), seed) if seeded else func(dict(params))
    finally:
        _POINT_CHECKPOINT.reset(token)
    return out, time.perf_counter() - t0


def _make_result(params: dict, out, seconds: float) -> PointResult:
    if not (isinstance(out, (tuple, list)) and len(out) == 2):
        raise InputError(f"point {params!r}: the point function returned {type(out).__name__}; it must return "
                         f"(rows, arrays), a list of dicts and a dict of arrays")
    rows, arrays = out
    return PointResult(dict(params), _normalize_rows(rows, params), _normalize_arrays(arrays, params), float(seconds))


def _add_note(exc: BaseException, params: dict, store: ResultStore) -> None:
    if isinstance(exc, Exception) and hasattr(exc, "add_note"):
        exc.add_note(f"while computing sweep point {params!r} (key {point_key(params)}); finished points are "
                     f"saved in {store.directory} and a rerun computes only the missing ones")
        if isinstance(exc, BrokenProcessPool):
            exc.add_note("a worker process died (out of memory?); try fewer --jobs")


def _abort_pool(ex: ProcessPoolExecutor) -> None:
    """Shut our own pool down at once: drop queued points and stop the running ones."""
    procs = list((getattr(ex, "_processes", None) or {}).values())
    ex.shutdown(wait=False, cancel_futures=True)
    for proc in procs:  # otherwise the interpreter would wait for them at exit
        with contextlib.suppress(Exception):
            if proc.is_alive():
                proc.terminate()


def _check_positive_int(value, name: str) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) or value < 1:
        raise InputError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def run_sweep(func, points, *, store: ResultStore, root_seed: int, jobs: int = 1, executor=None,
              progress: bool | None = None, desc: str = "points", threads_per_point: int | None = 1
              ) -> list[PointResult]:
    """Compute the points of ``points`` missing from ``store``; return all results in the order of ``points``.

    Parameters
    ----------
    func : callable ``(params: dict, seed: SeedSequence) -> (rows, arrays)`` or ``(params: dict) -> ...``
        Computes one point: ``rows`` a list of dicts (tidy metric rows), ``arrays`` a dict of
        arrays. A function with one positional parameter is not given the seed (:func:`takes_seed`;
        the module docstring, Seeds, says when that is the better contract). Must be picklable
        for ``jobs > 1`` or a process executor: a top-level function or a ``functools.partial``
        of one (workers look it up by module and name, so ``fork``,
        ``spawn`` and ``forkserver`` all work; the pool uses the platform's default start method).
    points : sequence of mappings
        Point params (JSON scalars), e.g. from :func:`grid`; no point twice.
    store : ResultStore
        Where results are read from and written to.
    root_seed : int
        Point ``p`` gets ``point_seed(root_seed, p)``: the same numbers serially, in parallel and
        in any order. A store's points record their seed; resuming with another root seed raises.
    jobs : int
        1 (default): run in this process, in order. More: a local ``ProcessPoolExecutor`` with
        ``min(jobs, points left)`` workers; a single point left runs in this process.
    threads_per_point : int or None
        BLAS/OpenMP threads every point runs with, wherever it runs (this process, a pool worker,
        a Dask worker), through threadpoolctl (and ``OMP_NUM_THREADS`` etc. in pool workers).
        Default 1: the results are bit-identical across ``jobs``, executors and resumes, and
        parallelism comes from ``jobs``. ``None`` leaves the thread pools as they are (fastest
        for one big point, but the last digits may then depend on where it ran).
    executor : concurrent.futures.Executor, optional
        Run the points here instead (e.g. a Dask ``Client.get_executor()``); ``jobs`` is then
        ignored and the executor is not shut down.
    progress : bool or None
        A progress bar over points on a terminal (stored points count as done); False silences it.
    desc : str
        Label of the progress bar.

    Each finished point is saved by this process as soon as it completes, before the next result
    is awaited. If a point raises, the finished points stay saved, queued points are cancelled,
    our own pool is shut down (its running points are stopped) and the exception propagates:
    an ordinary exception with a note naming the point, KeyboardInterrupt unchanged. Running the
    same sweep again computes only the missing points (see the module docstring).
    """
    if not callable(func):
        raise InputError(f"func must be callable, got {func!r}")
    seeded = takes_seed(func)
    if not isinstance(store, ResultStore):
        raise InputError(f"store must be a ResultStore, got {type(store).__name__}")
    root_seed = _check_root(root_seed)
    jobs = _check_positive_int(jobs, "jobs")
    if threads_per_point is not None:
        threads_per_point = _check_positive_int(threads_per_point, "threads_per_point")
    if isinstance(points, Mapping) or isinstance(points, (str, bytes)):
        raise InputError("points must be a list of mappings (one per point), e.g. grid(noise=[0, 0.5], seed=[0, 1])")
    points = [_normalize_params(p) for p in points]
    keys = [point_key(p) for p in points]
    first = {}
    for key, params in zip(keys, points):
        if key in first:
            raise InputError(f"the point {params!r} appears twice in the sweep; list each point once")
        first[key] = params
    if executor is None and jobs > 1:
        try:
            pickle.dumps(func)
        except Exception as exc:  # noqa: BLE001
            raise InputError(f"func cannot be sent to worker processes ({type(exc).__name__}: {exc}); with "
                             f"jobs > 1 use a top-level function or a functools.partial of one") from None

    results: dict[str, PointResult] = {}
    with store._lock():
        todo = []
        for key, params in zip(keys, points):
            found = store._read(params)
            if found is None:
                todo.append((key, params))
                continue
            result, meta = found
            recorded = meta.get("seed")
            if recorded is not None:
                expected = point_seed(root_seed, params)
                if recorded.get("root") != root_seed or recorded.get("spawn_key") != list(expected.spawn_key):
                    raise InputError(
                        f"the folder {store.directory} holds point {params!r} computed with root seed "
                        f"{recorded.get('root')!r} (spawn key {recorded.get('spawn_key')}), but this sweep uses root "
                        f"seed {root_seed}; resume with the same seed, use another --out, or delete the folder "
                        f"to start afresh")
            results[key] = result

        total = len(points)
        store.reused = (len(results), total)
        if results and progress is not False:
            print(f"{desc}: {len(results)} of {total} points reused from {store.directory}", file=sys.stderr)
        bar = progress_bar(total, desc, enabled=progress is not False, reused=len(results))
        try:
            bar(len(results), total)
            # one point left (or jobs == 1): run it here with every core, no pool to start
            if todo and executor is None and min(jobs, len(todo)) == 1:
                with inner_progress(progress is not False), ticking(bar, _POLL_S):
                    _run_serial(func, todo, store, root_seed, results, bar, total, threads_per_point, seeded)
            elif todo:
                _run_parallel(func, todo, store, root_seed, results, bar, total, jobs, executor, threads_per_point,
                              seeded)
        finally:
            bar.close()
        _drop_checkpoint_folder(store)  # every point is stored and none is running
    return [results[key] for key in keys]


def _collect(get, key, params, seed, store, results, bar, total) -> None:
    """Store the point's ``(out, seconds) = get()`` atomically, or re-raise its error with a note."""
    try:
        out, seconds = get()
    except Exception as exc:
        _add_note(exc, params, store)
        raise
    result = _make_result(params, out, seconds)
    store._save(result, seed)
    _drop_checkpoint(store, key)  # the result is safe: its checkpoint is not needed
    results[key] = result
    bar(len(results), total)


def _checkpoint_path(store: ResultStore, key: str) -> Path:
    return store.directory / CHECKPOINT_DIR / f"{key}.npz"


def _checkpoint_for(store: ResultStore, key: str) -> Path:
    """The point's checkpoint path; its folder is made only when a checkpoint is written."""
    return _checkpoint_path(store, key)


def _drop_checkpoint(store: ResultStore, key: str) -> None:
    """Delete one point's checkpoint. The folder stays: another point may be about to write into it
    (removing it here raced with a worker's write and failed that point); :func:`_drop_checkpoint_folder`
    removes it once no point of the sweep is running."""
    _checkpoint_path(store, key).unlink(missing_ok=True)


def _drop_checkpoint_folder(store: ResultStore) -> None:
    """Remove the checkpoint folder after a sweep whose every point finished: first what a killed
    writer left there (a half-written ``.…tmp``; no point runs, and the store's lock is ours), then
    the folder if that leaves it empty."""
    from ._io import remove_stale_temporaries

    folder = store.directory / CHECKPOINT_DIR
    remove_stale_temporaries(folder)
    with contextlib.suppress(OSError):  # not empty (a foreign file) or already gone: leave it
        folder.rmdir()


def _run_serial(func, todo, store, root_seed, results, bar, total, threads, seeded=True) -> None:
    for key, params in todo:
        seed = point_seed(root_seed, params)
        ck = _checkpoint_for(store, key)
        _collect(lambda params=params, seed=seed, ck=ck: _run_point(func, params, seed, threads, seeded, ck), key,
                 params, seed, store, results, bar, total)


#: A cluster executor reporting no live workers for this long ends the sweep with a message.
DEAD_CLUSTER_S = 60.0
_POLL_S = 2.0


def _completed(futures, executor, tick=None):
    """Futures as they complete; ``tick()`` (a progress bar's refresh) is called at least every
    :data:`_POLL_S` seconds while waiting, so the bar's clock runs between points. An executor
    with a ``twolayer_alive()`` probe (our Dask wrapper) that reports no workers for
    :data:`DEAD_CLUSTER_S` seconds raises instead of waiting forever."""
    from concurrent.futures import FIRST_COMPLETED, wait

    alive = getattr(executor, "twolayer_alive", None)
    pending, dead_since = set(futures), None
    while pending:
        done, pending = wait(pending, timeout=_POLL_S, return_when=FIRST_COMPLETED)
        yield from done
        if tick is not None:
            tick()
        if alive is None:
            continue
        if done or not pending:
            dead_since = None
            continue
        if alive():
            dead_since = None
        elif dead_since is None:
            dead_since = time.monotonic()
        elif time.monotonic() - dead_since > DEAD_CLUSTER_S:
            raise InputError(f"the cluster has had no live workers for {DEAD_CLUSTER_S:.0f} s with "
                             f"{len(pending)} point(s) still to run; the finished points are stored: start "
                             f"workers (or drop --dask) and run the same command again")


def _run_parallel(func, todo, store, root_seed, results, bar, total, jobs, executor, threads, seeded=True) -> None:
    own = executor is None
    if own:
        workers = min(jobs, len(todo))
        per_worker = threads or max(1, (os.cpu_count() or 1) // workers)
        executor = ProcessPoolExecutor(max_workers=workers, initializer=init_worker, initargs=(per_worker,))
    futures = {}
    try:
        for key, params in todo:
            seed = point_seed(root_seed, params)
            futures[executor.submit(_run_point, func, params, seed, threads, seeded,
                                    _checkpoint_for(store, key))] = (key, params, seed)
        for fut in _completed(futures, executor, getattr(bar, "tick", None)):
            key, params, seed = futures[fut]
            _collect(fut.result, key, params, seed, store, results, bar, total)
    except BaseException:
        for fut in futures:
            fut.cancel()
        if own:
            _abort_pool(executor)
        raise
    if own:
        executor.shutdown(wait=True)

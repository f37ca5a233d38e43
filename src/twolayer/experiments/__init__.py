r"""The papers' experiments as commands: frozen config → sweep of points → tidy results → figures → report.

An :class:`Experiment` bundles

* a frozen config dataclass (every knob, with the paper's value or a laptop-sized one),
* named presets (``laptop``, the default: minutes on 2 cores on the bundled digits; ``paper``:
  the paper's exact settings, hours on a GPU-class machine),
* a ``run(cfg, ctx)`` function that loads the data, runs its grid of independent points through
  :func:`twolayer.sweep.run_sweep` (parallel, resumable), and writes ``metrics.csv`` (tidy),
  ``arrays.npz`` and figures into the run folder ``ctx.rf``.

:func:`reproduce` resolves the config (preset, then ``--data``/``--seeds``, then
``--set key=value``), opens the run folder, stores per-point results under ``OUT/points/``
(so rerunning an interrupted command continues where it stopped), runs the experiment and
builds ``report.html``. ``twolayer reproduce --list`` prints :func:`list_experiments`.

Point results are keyed by the point's parameters and fingerprinted by the rest of the
config: extending a grid (more seeds, more noise levels) reuses the stored points, while any
other change of the config in the same folder is refused with a message naming the key.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import difflib
import math
import os
import shutil
import sys
import time
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._errors import DataError, DivergenceError, InputError, TwolayerError
from .._io import remove_stale_temporaries
from .._lock import hold
from ..runfolder import RunFolder

#: Failures of a whole run that end it with every claim marked unjudged instead of a traceback.
_RUN_FAILURES = (DivergenceError, FloatingPointError)

__all__ = ["Experiment", "RunContext", "EXPERIMENTS", "register", "get_experiment", "list_experiments",
           "resolve_config", "reproduce", "parse_sets", "summarize", "dask_executor", "judge_run"]

#: Registered experiments by name, in registration order.
EXPERIMENTS: dict[str, "Experiment"] = {}

#: Presets every experiment defines.
PRESETS = ("laptop", "paper")


@dataclass(frozen=True)
class Experiment:
    """One experiment of a paper.

    Parameters
    ----------
    name : str
        Command name, e.g. ``"arora2019-fig1"``.
    summary : str
        One line for ``twolayer reproduce --list``.
    config : type
        Frozen dataclass of the settings; its defaults are the laptop preset. Fields named
        ``data``, ``seed`` and ``seeds`` are set by ``--data``, the root seed and ``--seeds``.
    run : callable ``(cfg, ctx: RunContext) -> None``
        Writes ``metrics.csv``, ``arrays.npz`` and figures through ``ctx.rf``.
    presets : mapping
        Preset name → field overrides (``laptop`` and ``paper`` at least).
    grid_fields : tuple of str
        Fields that list sweep axes: left out of the results fingerprint, so extending them
        reuses stored points.
    paper : str
        Citation shown in the report.
    claims : tuple of :class:`twolayer.claims.Claim`
        What the experiment judges. After ``run`` they are evaluated on the written
        ``metrics.csv`` and ``config.toml`` and stored in ``claims.json``; the report, the
        captions' verdicts and ``reproduce --json`` read them from there.
    cost : callable ``(cfg, n) -> twolayer._cost.Cost``, optional
        The run's arithmetic (``n`` the training-set size, or None when not known before loading),
        for the estimate ``reproduce`` prints before it starts and records in ``meta.json``.
    """

    name: str
    summary: str
    config: type
    run: Callable
    presets: Mapping[str, Mapping] = field(default_factory=dict)
    grid_fields: tuple = ()
    paper: str = ""
    claims: tuple = ()
    cost: Callable | None = None

    def __post_init__(self):
        ids = [c.id for c in self.claims]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"experiment {self.name}: duplicate claim ids {dup}")


@dataclass
class RunContext:
    """What an experiment's ``run`` gets besides its config: the run folder and the sweep runner."""

    rf: RunFolder
    store: object
    jobs: int = 1
    progress: bool = True
    formats: tuple = ("png", "pdf")
    config: dict = field(default_factory=dict)
    executor: object = None
    threads: int | None = 1
    style: str = "default"

    def resolve(self, **values) -> None:
        """Record values the run derived (e.g. the learning rate from ``lr_fraction``) in a
        ``[resolved]`` table of ``config.toml``."""
        self.config.setdefault("resolved", {}).update(_plain(values))
        self.rf.write_config(self.config)

    def sweep(self, func, points: Sequence[Mapping], *, seed: int, desc: str = "points"):
        """Run ``func(params) -> (rows, arrays)`` (or ``func(params, seed_sequence)``, which is handed
        the sweep's per-point seed) over ``points`` (see :func:`twolayer.sweep.run_sweep` and its
        Seeds section); stored points are loaded, not recomputed."""
        from ..sweep import run_sweep

        with self.rf.stage(f"sweep:{desc}"):
            out = run_sweep(func, list(points), store=self.store, root_seed=seed, jobs=self.jobs,
                            executor=self.executor, progress=self.progress, desc=desc,
                            threads_per_point=self.threads)
        reused, total = getattr(self.store, "reused", (0, len(out)))
        self.rf.meta.setdefault("sweeps", {})[desc] = {"points": total, "reused": reused, "computed": total - reused,
                                                       "from": "points"}
        return out

    def save_figure(self, fig, name: str, caption: str | None = None) -> None:
        """Save a :class:`matplotlib.figure.Figure` (built without pyplot, so nothing to close)."""
        with self.rf.stage("figures"):
            self.rf.save_figure(fig, name, caption=caption, formats=self.formats, style=self.style)


def register(exp: Experiment) -> Experiment:
    """Add ``exp`` to :data:`EXPERIMENTS` (names are unique)."""
    missing = [p for p in PRESETS if p not in exp.presets]
    if missing:
        raise ValueError(f"experiment {exp.name} lacks the presets {missing}")
    EXPERIMENTS[exp.name] = exp
    return exp


#: Experiment modules, one per paper; importing one registers its experiments and captions.
MODULES = ("arora2019", "emawu2019", "chen2020", "lmz2020")


def _load_all() -> None:
    import importlib

    for mod in MODULES:
        name = f"{__name__}.{mod}"
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:  # a paper module not written yet; any other missing import is an error
            if exc.name != name:
                raise


def get_experiment(name: str) -> Experiment:
    """The experiment called ``name``; an unknown name is an :class:`InputError` listing the known ones."""
    _load_all()
    if name not in EXPERIMENTS:
        close = difflib.get_close_matches(name, list(EXPERIMENTS), n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise InputError(f"unknown experiment {name!r}{hint}; `twolayer reproduce --list` shows the "
                         f"{len(EXPERIMENTS)} experiments: {', '.join(EXPERIMENTS)}")
    return EXPERIMENTS[name]


def list_experiments() -> list[dict]:
    """``[{"name", "summary", "paper", "presets"}]`` of every registered experiment."""
    _load_all()
    return [{"name": e.name, "summary": e.summary, "paper": e.paper, "presets": list(e.presets),
             "claims": [c.id for c in e.claims]} for e in _ordered()]


def _ordered() -> list[Experiment]:
    """Experiments paper by paper in the order of :data:`MODULES` (whatever order they were imported in)."""
    def key(item):
        i, exp = item
        mod = exp.run.__module__[len(__name__) + 1:].split(".")[0]
        return (MODULES.index(mod) if mod in MODULES else len(MODULES), i)

    return [e for _, e in sorted(enumerate(EXPERIMENTS.values()), key=key)]


# ------------------------------------------------------------------------------ configs
def _coerce(value, tp, key: str):
    """Convert ``value`` (str from ``--set``, or a Python value from a preset) to the field type ``tp``."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None or (isinstance(value, str) and value.lower() in ("none", "")):
            if type(None) in args:
                return None
        inner = [a for a in args if a is not type(None)]
        errors = []
        for a in inner:
            try:
                return _coerce(value, a, key)
            except InputError as exc:
                errors.append(str(exc))
        raise InputError(errors[0] if errors else f"--set {key}: cannot read {value!r}")
    if origin is tuple:
        items = value.split(",") if isinstance(value, str) else list(value)
        items = [v.strip() if isinstance(v, str) else v for v in items]
        items = [v for v in items if v != ""]
        elem = args[0] if args else str
        return tuple(_coerce(v, elem, key) for v in items)
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "yes", "1", "false", "no", "0"):
            return value.lower() in ("true", "yes", "1")
        raise InputError(f"--set {key}={value!r}: expected true or false")
    if tp is int:
        try:
            f = float(value)
        except (TypeError, ValueError):
            raise InputError(f"--set {key}={value!r}: expected an integer") from None
        if not (math.isfinite(f) and f == int(f)):
            raise InputError(f"--set {key}={value!r}: expected an integer")
        return int(f)
    if tp is float:
        try:
            f = float(value)
        except (TypeError, ValueError):
            raise InputError(f"--set {key}={value!r}: expected a number") from None
        if not math.isfinite(f):
            raise InputError(f"--set {key}={value!r}: expected a finite number (inf and nan are not settings)")
        return f
    if tp is str:
        return str(value)
    return value


def parse_sets(items: Sequence[str] | Mapping | None, config_cls: type) -> dict:
    """``["key=value", …]`` (or a dict) → typed overrides for ``config_cls``; unknown keys are refused."""
    if not items:
        return {}
    hints = typing.get_type_hints(config_cls)
    names = [f.name for f in dataclasses.fields(config_cls)]
    pairs = items.items() if isinstance(items, Mapping) else []
    if not isinstance(items, Mapping):
        pairs = []
        for item in items:
            key, sep, val = str(item).partition("=")
            if not sep or not key.strip():
                raise InputError(f"--set expects key=value, got {item!r}")
            pairs.append((key.strip().replace("-", "_"), val.strip()))
    out = {}
    for key, val in pairs:
        if key not in names:
            close = difflib.get_close_matches(key, names, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise InputError(f"--set {key}: no such setting{hint}; settings of this experiment: {', '.join(names)}")
        out[key] = _coerce(val, hints[key], key)
    return out


def resolve_config(exp: Experiment, *, preset: str = "laptop", data: str | None = None, seeds: int | None = None,
                   seed: int | None = None, sets=None):
    """The config of ``exp``: defaults ← preset ← ``data``/``seeds``/``seed`` ← ``sets``."""
    if preset not in exp.presets:
        raise InputError(f"unknown preset {preset!r} for {exp.name}; choose one of {', '.join(exp.presets)}")
    values = parse_sets(dict(exp.presets[preset]), exp.config)
    names = {f.name for f in dataclasses.fields(exp.config)}
    for key, v in (("data", data), ("seeds", seeds), ("seed", seed)):
        if v is not None and key in names:
            values[key] = parse_sets({key: v}, exp.config)[key]
    values.update(parse_sets(sets, exp.config))
    try:
        return exp.config(**values)
    except InputError:
        raise
    except (TypeError, ValueError) as exc:
        raise InputError(f"{exp.name}: invalid settings ({exc})") from None


def config_record(exp: Experiment, cfg, preset: str) -> dict:
    """The ``config.toml`` content: experiment, preset and every resolved field (``None`` fields omitted)."""
    return {"experiment": exp.name, "preset": preset, "paper": exp.paper, **_plain(dataclasses.asdict(cfg))}


def _plain(obj):
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def fingerprint(exp: Experiment, cfg, threads: int | None = 1) -> dict:
    """What determines every point's result besides its parameters (grid fields left out): the
    config, the BLAS threads per point (they fix the last digits) and the package version (points
    from another version are refused, naming ``twolayer_version``)."""
    from .. import __version__

    d = _plain(dataclasses.asdict(cfg))
    for key in exp.grid_fields:
        d.pop(key, None)
    if isinstance(d.get("kernel"), str):  # a user's kernel: its source file's hash, so an edit is not reused
        from ..kernels.user import kernel_identity

        d["kernel"] = kernel_identity(d["kernel"])
    return {"experiment": exp.name, "config": d, "threads_per_point": threads, "twolayer_version": __version__}


# ------------------------------------------------------------------------------ running
def reproduce(name: str, *, out=None, preset: str = "laptop", data: str | None = None, seeds: int | None = None,
              seed: int | None = None, sets=None, jobs: int = 1, quiet: bool = False,
              formats: Sequence[str] = ("png", "pdf"), executor=None, threads: int | None = 1,
              style: str = "default") -> Path:
    """Run experiment ``name`` into the run folder ``out`` (default ``runs/NAME``) and build its report.

    Rerunning the same command after an interruption continues from the stored points; the
    report is rebuilt at the end. ``executor`` (any :class:`concurrent.futures.Executor`, e.g.
    a Dask ``Client.get_executor()``; see :func:`dask_executor`) runs the sweep points instead
    of the local pool of ``jobs`` processes. The whole run, and every point wherever it runs,
    uses ``threads`` BLAS threads (default 1; part of the results' fingerprint), so the numbers
    are bit-identical across ``jobs``, executors and resumes. ``style="paper"`` saves column-width
    figures (3.3 in / 6.8 in) with print fonts and adds the vector formats PDF and SVG
    (:func:`twolayer._figstyle.apply_style`); the numbers do not depend on it. Returns the run folder.
    """
    from .._figstyle import check_style, style_formats

    formats = style_formats(check_style(style), formats)
    exp = get_experiment(name)
    cfg = resolve_config(exp, preset=preset, data=data, seeds=seeds, seed=seed, sets=sets)
    if not (isinstance(jobs, int) and jobs >= 1):
        raise InputError(f"--jobs must be a positive integer, got {jobs!r}")
    if threads is not None and not (isinstance(threads, int) and threads >= 1):
        raise InputError(f"--threads must be a positive integer, got {threads!r}")
    if "png" not in tuple(formats):
        raise InputError(f"formats must include 'png' (the report embeds PNGs), got {formats!r}")
    out = Path(out) if out is not None else Path("runs") / name
    fresh = not out.exists()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create the run folder {out} ({exc.strerror or exc}); choose a writable --out") from None
    # one owner per folder, taken before anything in it is written or removed: a refused command touches nothing
    with hold(out / RUN_LOCK, f"the run folder {out}"), _signals_interrupt():
        return _reproduce_owned(exp, cfg, out, fresh, preset=preset, data=data, jobs=jobs, quiet=quiet,
                                formats=formats, executor=executor, threads=threads, style=style)


#: Lock file of a run folder (see :mod:`twolayer._lock`): the owner's pid, host and start time.
RUN_LOCK = ".run.lock"


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP during :func:`reproduce`: handled like Ctrl-C (status "interrupted")."""


@contextlib.contextmanager
def _signals_interrupt():
    """Turn SIGTERM/SIGHUP into :class:`Terminated` while a run is in progress (main thread only),
    so ``meta.json`` says "interrupted" instead of "running" forever."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise Terminated(f"received {signal.Signals(signum).name}")

    sigs = [s for s in (getattr(signal, "SIGTERM", None), getattr(signal, "SIGHUP", None)) if s is not None]
    old = {s: signal.signal(s, handler) for s in sigs}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


@contextlib.contextmanager
def _run_cache(folder: Path):
    """Large derived arrays of this run are cached in ``folder`` (see :mod:`twolayer._cache`)."""
    from .._cache import ENV

    old = os.environ.get(ENV)
    os.environ[ENV] = str(folder)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(ENV, None)
        else:
            os.environ[ENV] = old


def _announce_cost(exp, cfg, rf, quiet: bool) -> None:
    """Print (unless quiet) and record the up-front estimate of the run's arithmetic."""
    from .._cost import describe, estimate

    cost = exp.cost(cfg, getattr(cfg, "n_train", None))
    here, gpu = estimate(cost)
    rf.meta["cost_estimate"] = {"seconds_here": here, "seconds_gpu": gpu, "gemm_flops": cost.gemm_flops,
                                "eigh": [int(n) for n in cost.eigh], "eigvals": [int(n) for n in cost.eigvals]}
    rf.write_meta()
    if not quiet:
        print(f"{exp.name}: {describe(cost)}", file=sys.stderr)


def _reproduce_owned(exp, cfg, out: Path, fresh: bool, *, preset, data, jobs, quiet, formats, executor,
                     threads, style="default") -> Path:
    """The body of :func:`reproduce` once this process owns ``out``."""
    from .. import report as _report
    from .._progress import notices
    from ..sweep import ResultStore, blas_threads

    name = exp.name
    for folder in (out, out / "figures"):  # what a killed run left; we own the folder now
        remove_stale_temporaries(folder)
    store = ResultStore(out / "points", fingerprint(exp, cfg, threads))
    rf = RunFolder(out, experiment=name)
    record = config_record(exp, cfg, preset)
    record["threads_per_point"] = threads if threads is not None else "unlimited"
    rf.write_config(record)
    ctx = RunContext(rf=rf, store=store, jobs=jobs, progress=not quiet, formats=tuple(formats), config=record,
                     executor=executor, threads=threads, style=style)
    if exp.cost is not None:
        _announce_cost(exp, cfg, rf, quiet)
    t = time.perf_counter()
    failure = None
    try:
        with blas_threads(threads), _run_cache(out / "cache"), notices(not quiet):  # the set-up too: a cached kernel or spectrum is the same in every process
            exp.run(cfg, ctx)
    except _RUN_FAILURES as exc:  # diverged / numerically failed: a result, recorded with every claim unjudged
        failure = exc
    except TwolayerError as exc:
        if fresh and not store.completed():  # nothing computed: leave no half-made folder behind
            shutil.rmtree(out, ignore_errors=True)
        else:
            rf.finish("failed")
        if preset != "laptop" and data is None and "data" in record and isinstance(exc, (InputError, DataError)):
            raise type(exc)(f"{exc} (the {preset} preset reads data = {record['data']!r}; pass --data "
                            f"mnist:PATH, cifar10:PATH or FILE.npz)") from None
        raise
    except OSError as exc:  # disk full, read-only file system, ...: say so, and record it where possible
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""  # the file, when the OS named it
        reason = f"cannot write in {out} ({where}{exc.strerror or exc})"
        _fail(rf, reason)
        raise InputError(f"{reason}; free space or choose another --out, then run the same command to continue "
                         f"from the stored points") from None
    except Exception as exc:  # a worker that died, a cluster that failed, a bug: "failed", with what happened
        _fail(rf, f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
        raise
    except BaseException:  # Ctrl-C, SIGTERM, SIGHUP
        rf.finish("interrupted")
        raise
    rf.meta["timings_s"]["run"] = round(time.perf_counter() - t, 6)
    try:  # "complete" only once the claims and the report are written
        rf.write_claims(_judge(exp, rf.path, record, failure))
        rf.finish("complete" if failure is None else "failed")
        _report.build_report(rf.path)
    except OSError as exc:
        reason = f"cannot write the claims or the report in {out} ({exc.strerror or exc})"
        _fail(rf, reason)
        raise InputError(f"{reason}; free space or choose another --out, then run the same command again "
                         f"(the stored points are reused)") from None
    if not quiet:
        print(f"{name}: report {rf.path / 'report.html'}")
    return rf.path


def _fail(rf: RunFolder, reason: str) -> None:
    """Record ``reason`` and the status "failed" in ``meta.json``, as far as the disk still allows."""
    rf.meta["error"] = reason
    with contextlib.suppress(OSError):
        rf.finish("failed")


def _judge(exp: Experiment, run: Path, config: Mapping, failure: BaseException | None = None) -> list[dict]:
    """Claim records of ``exp`` on the run folder's metrics (as :func:`~twolayer.runfolder.load_metrics`
    reads them back) and ``config``; after a ``failure`` of the whole run, every claim is
    ``inconclusive`` with the failure as its reason."""
    from ..claims import INCONCLUSIVE, Outcome, evaluate
    from ..runfolder import METRICS_FILE, load_metrics

    if failure is not None:
        msg = str(failure).splitlines()[0] if str(failure) else type(failure).__name__
        stub = [dataclasses.replace(c, judge=lambda res, m=msg: Outcome(INCONCLUSIVE, reason=f"not evaluated: the "
                                                                                         f"run failed ({m})"))
                for c in exp.claims]
        return evaluate(stub, [], config)
    metrics = load_metrics(run) if (run / METRICS_FILE).is_file() else []
    return evaluate(exp.claims, metrics, config)


def judge_run(run_dir) -> list[dict]:
    """Re-judge the claims of the experiment that wrote ``run_dir`` from the folder's
    ``metrics.csv`` and ``config.toml`` alone (same records as its ``claims.json``)."""
    from ..runfolder import load_config

    run = Path(run_dir)
    config = load_config(run)
    exp = get_experiment(str(config.get("experiment")))
    return _judge(exp, run, config)


def dask_executor(address: str):
    """A :class:`concurrent.futures.Executor` on the Dask cluster at ``address`` (e.g.
    ``tcp://scheduler:8786``); needs the optional ``dask[distributed]`` package."""
    try:
        from dask.distributed import Client
    except ImportError:
        raise InputError("--dask needs the optional package dask[distributed]: pip install 'dask[distributed]'") from None
    try:
        client = Client(address, timeout=DASK_CONNECT_TIMEOUT_S)
    except (OSError, TimeoutError, ValueError, TypeError) as exc:
        raise InputError(f"cannot reach the Dask scheduler at {address!r} within {DASK_CONNECT_TIMEOUT_S} s "
                         f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}); check the address "
                         f"(e.g. tcp://host:8786) and that the scheduler runs") from None
    return DaskExecutor(client)


class DaskExecutor(concurrent.futures.Executor):
    """A Dask ``Client``'s executor with a liveness probe: a sweep on it stops with a message
    (instead of waiting forever) once the cluster has had no workers for a while
    (:data:`twolayer.sweep.DEAD_CLUSTER_S`)."""

    def __init__(self, client):
        self.client = client
        self._executor = client.get_executor()

    def submit(self, fn, /, *args, **kwargs):
        return self._executor.submit(fn, *args, **kwargs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._executor.shutdown(wait=wait)

    def twolayer_alive(self) -> bool:
        """Whether the scheduler answers and has at least one worker."""
        try:
            return bool(self.client.scheduler_info().get("workers"))
        except Exception:  # noqa: BLE001 - a dead scheduler fails in many ways; each means "not alive"
            return False


#: Seconds to wait for a Dask scheduler before giving up with a message.
DASK_CONNECT_TIMEOUT_S = 10


def summarize(values: np.ndarray, axis: int = -1) -> tuple[np.ndarray, np.ndarray]:
    """Mean and sample standard deviation (0 for a single replicate) along ``axis``."""
    values = np.asarray(values, dtype=float)
    k = values.shape[axis]
    return np.mean(values, axis=axis), (np.std(values, axis=axis, ddof=1) if k > 1 else np.zeros(np.delete(values.shape, axis)))

r"""The run-folder contract: one directory per run, every file written atomically.

A run folder holds everything needed to read, check and re-render a run without the code or
the data that produced it::

    RUN/
      config.toml     resolved configuration, seeds included (TOML; read back with tomllib)
      meta.json       versions (package, Python, numpy, scipy, scikit-learn, matplotlib), BLAS,
                      host, start/end time, per-stage timings, data provenance, status, figures
      metrics.csv     tidy long format: one row per number (columns below)
      arrays.npz      named arrays (eigenvalues, projections, curves, ...)
      figures/NAME.png and figures/NAME.pdf
      report.html     self-contained report (:func:`twolayer.report.build_report`)

``metrics.csv`` columns: ``metric, value`` then the identifying columns, the union of the keys of
all rows, in the order ``labels, noise, seed, step, index`` followed by any others in order of
first appearance. A cell is empty when the row has no such key. ``value`` is written with
``repr`` of a Python float, so it reads back bit-for-bit (``nan``/``inf`` included).

Every file goes through :mod:`twolayer._io`: written to a temporary file next to the target,
fsynced, then renamed over it; a failing write (an exception half-way through) leaves the
previous file untouched and no temporary file behind.

:class:`RunFolder` is a thin stateful wrapper (start time, stage timings, figure list) over the
pure helpers :func:`toml_dumps`, :func:`write_config`, :func:`write_metrics`,
:func:`write_arrays`, :func:`write_meta` and their readers :func:`load_config`,
:func:`load_metrics`, :func:`load_meta`, :func:`load_arrays`.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as _dt
import json
import math
import numbers
import os
import platform
import re
import socket
import sys
import time
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np

from ._errors import DataError, InputError
from ._io import atomic_open, atomic_save_npz, atomic_write_json, atomic_write_text

__all__ = [
    "RunFolder",
    "CONFIG_FILE", "META_FILE", "METRICS_FILE", "ARRAYS_FILE", "FIGURES_DIR", "REPORT_FILE", "CLAIMS_FILE",
    "write_claims", "load_claims",
    "ID_COLUMNS",
    "toml_dumps", "write_config", "load_config",
    "write_metrics", "load_metrics", "select_metrics", "metric_value",
    "write_arrays", "load_arrays",
    "environment_info", "write_meta", "load_meta", "utc_now",
]

CONFIG_FILE = "config.toml"
META_FILE = "meta.json"
METRICS_FILE = "metrics.csv"
ARRAYS_FILE = "arrays.npz"
FIGURES_DIR = "figures"
REPORT_FILE = "report.html"
CLAIMS_FILE = "claims.json"

#: Canonical order of the identifying columns of ``metrics.csv`` (others follow, first-seen order).
ID_COLUMNS = ("labels", "noise", "seed", "step", "index")


def _folder(path) -> Path:
    """A run folder given as a path or a :class:`RunFolder`."""
    return path.path if isinstance(path, RunFolder) else Path(path)


def utc_now() -> str:
    """Current UTC time, ISO 8601 with seconds, e.g. ``2024-05-01T12:00:00+00:00``."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


# ----------------------------------------------------------------------------------- TOML
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}
_INT64 = 2 ** 63


def _toml_string(s: str) -> str:
    out = []
    for ch in s:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _toml_key(k) -> str:
    if not isinstance(k, str):
        raise InputError(f"config keys must be strings, got {k!r} ({type(k).__name__}); convert it with str()")
    return k if _BARE_KEY.fullmatch(k) else _toml_string(k)


def _toml_value(v, where: str) -> str:
    if isinstance(v, (bool, np.bool_)):
        return "true" if v else "false"
    if isinstance(v, numbers.Integral):
        i = int(v)
        if not -_INT64 <= i < _INT64:
            raise InputError(f"config value {where} = {i} does not fit TOML's 64-bit integers; store it as a string")
        return str(i)
    if isinstance(v, numbers.Real):
        f = float(v)
        if math.isnan(f):
            return "nan"
        if math.isinf(f):
            return "inf" if f > 0 else "-inf"
        return repr(f)
    if isinstance(v, str):
        return _toml_string(v)
    if isinstance(v, os.PathLike):
        return _toml_string(os.fspath(v))
    if isinstance(v, (_dt.datetime, _dt.date)):
        return _toml_string(v.isoformat())
    if isinstance(v, Mapping):
        items = [f"{_toml_key(k)} = {_toml_value(x, f'{where}.{k}')}" for k, x in v.items() if x is not None]
        return "{ " + ", ".join(items) + " }" if items else "{}"
    if isinstance(v, np.ndarray):
        v = v.tolist()
    if isinstance(v, (list, tuple)):
        if any(x is None for x in v):
            raise InputError(f"config value {where} is a list containing None, which TOML cannot store; "
                             f"remove the None entries or use a sentinel such as \"none\"")
        return "[" + ", ".join(_toml_value(x, f"{where}[{i}]") for i, x in enumerate(v)) + "]"
    raise InputError(f"config value {where} has type {type(v).__name__}, which TOML cannot store; "
                     f"use str, int, float, bool, lists or nested dicts")


def toml_dumps(config: Mapping) -> str:
    """Serialize a nested dict to TOML that :func:`tomllib.loads` reads back to the same dict.

    Supported values: ``str``, ``int``, ``float`` (``nan``/``inf`` included), ``bool``, lists and
    tuples (written as arrays; tuples read back as lists), numpy scalars and arrays, paths
    (as strings), dates (ISO strings), nested dicts (tables; dicts inside lists become inline
    tables). ``None`` has no TOML form: keys whose value is ``None`` are **omitted** (read ``None``
    back as "absent"). Floats are written with ``repr``, so they round-trip exactly.

    Raises
    ------
    InputError
        For non-string keys, unsupported value types, ``None`` inside lists or integers outside
        the 64-bit range.
    """
    if not isinstance(config, Mapping):
        raise InputError(f"a config must be a dict, got {type(config).__name__}")
    lines: list[str] = []
    _emit_table(lines, config, ())
    return "\n".join(lines).strip("\n") + "\n"


def _emit_table(lines: list[str], table: Mapping, prefix: tuple) -> None:
    scalars = [(k, v) for k, v in table.items() if v is not None and not isinstance(v, Mapping)]
    tables = [(k, v) for k, v in table.items() if isinstance(v, Mapping)]
    if prefix and (scalars or not tables):
        if lines:
            lines.append("")
        lines.append("[" + ".".join(_toml_key(k) for k in prefix) + "]")
    for k, v in scalars:
        where = ".".join(map(str, prefix + (k,)))
        lines.append(f"{_toml_key(k)} = {_toml_value(v, where)}")
    for k, v in tables:
        _emit_table(lines, v, prefix + (k,))


def write_config(path, config: Mapping) -> Path:
    """Write ``config`` as ``config.toml`` in the run folder ``path`` (atomically); return the file."""
    text = "# resolved configuration of this run (seeds included); read with tomllib\n" + toml_dumps(config)
    return atomic_write_text(_folder(path) / CONFIG_FILE, text)


def load_config(path) -> dict:
    """Read ``config.toml`` of a run folder (or the file itself) with :mod:`tomllib`."""
    f = _file(path, CONFIG_FILE)
    try:
        with open(f, "rb") as fh:
            return tomllib.load(fh)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{f} is not valid TOML ({exc}); re-run the experiment to rewrite it") from None


def _file(path, name: str) -> Path:
    p = _folder(path)
    f = p / name if p.is_dir() else p
    if not f.is_file():
        raise DataError(f"{f} not found; is {p} a run folder (it should hold {name})?")
    return f


# -------------------------------------------------------------------------------- metrics
def _metric_value(v, i: int) -> str:
    if isinstance(v, (bool, np.bool_)):
        return "1.0" if v else "0.0"
    if isinstance(v, numbers.Real):
        return repr(float(v))
    raise InputError(f"metrics row {i}: value {v!r} is not a number; metrics.csv holds one number per row "
                     f"(put text in config.toml or meta.json)")


def _id_cell(v, key: str, i: int) -> str:
    if v is None:
        return ""
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, numbers.Integral):
        return str(int(v))
    if isinstance(v, numbers.Real):
        return repr(float(v))
    if isinstance(v, str):
        if v == "":
            raise InputError(f"metrics row {i}: column {key!r} is the empty string, which reads back as "
                             f"'absent'; leave the key out instead")
        return v
    raise InputError(f"metrics row {i}: column {key!r} = {v!r} ({type(v).__name__}) is not a str or number")


def _columns(rows: list[Mapping]) -> list[str]:
    seen: dict[str, None] = {}
    for r in rows:
        for k in r:
            if k not in ("metric", "value"):
                seen.setdefault(k, None)
    ordered = [c for c in ID_COLUMNS if c in seen] + [c for c in seen if c not in ID_COLUMNS]
    return ["metric", "value"] + ordered


def write_metrics(path, rows: Iterable[Mapping]) -> Path:
    """Write tidy metrics (one row per value) as ``metrics.csv`` in the run folder ``path``.

    Parameters
    ----------
    rows : iterable of dict
        Each has ``metric`` (str) and ``value`` (a real number) and any identifying keys
        (``labels``, ``noise``, ``seed``, ``step``, ``index``, ...; values str, int, float or
        ``None`` for "absent").

    Returns
    -------
    Path of the written file. Rows are validated while they are written; an invalid row raises
    :class:`InputError` and the previous ``metrics.csv`` stays as it was.
    """
    rows = list(rows)
    cols = _columns(rows)
    with atomic_open(_folder(path) / METRICS_FILE, "w") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(cols)
        for i, r in enumerate(rows):
            if not isinstance(r, Mapping) or "metric" not in r or "value" not in r:
                raise InputError(f"metrics row {i} must be a dict with 'metric' and 'value' keys, got {r!r}")
            name = r["metric"]
            if not isinstance(name, str) or not name:
                raise InputError(f"metrics row {i}: metric name must be a non-empty string, got {name!r}")
            w.writerow([name, _metric_value(r["value"], i)] + [_id_cell(r.get(c), c, i) for c in cols[2:]])
    return _folder(path) / METRICS_FILE


_INT_RE = re.compile(r"[+-]?[0-9]+")


def _parse_id(s: str):
    if _INT_RE.fullmatch(s):
        return int(s)
    try:
        return float(s)
    except ValueError:
        return s


def load_metrics(path) -> list[dict]:
    """Read ``metrics.csv`` back as a list of dicts.

    ``metric`` is a str, ``value`` a float; identifying cells that are empty are left out of the
    row; the others are parsed as int, else float, else kept as str (so ``write_metrics`` then
    ``load_metrics`` returns the rows it was given, up to bools becoming ``"True"``/``"False"`` and
    tuples of ids being unsupported).
    """
    f = _file(path, METRICS_FILE)
    with open(f, newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if not header or header[:2] != ["metric", "value"]:
            raise DataError(f"{f} does not start with the columns 'metric,value'; it is not a twolayer metrics file")
        out = []
        for lineno, cells in enumerate(reader, start=2):
            if len(cells) != len(header):
                raise DataError(f"{f} line {lineno} has {len(cells)} cells, expected {len(header)}; the file is corrupt")
            try:
                row = {"metric": cells[0], "value": float(cells[1])}
            except ValueError:
                raise DataError(f"{f} line {lineno}: value {cells[1]!r} is not a number") from None
            for k, c in zip(header[2:], cells[2:]):
                if c != "":
                    row[k] = _parse_id(c)
            out.append(row)
    return out


def _match(row: Mapping, ids: Mapping) -> bool:
    for k, v in ids.items():
        if v is None:
            if k in row:
                return False
        elif row.get(k) != v:
            return False
    return True


def select_metrics(rows: Iterable[Mapping], metric: str | None = None, **ids) -> list[dict]:
    """Rows with this ``metric`` (any if ``None``) whose ids equal ``ids`` (``key=None``: key absent)."""
    return [dict(r) for r in rows if (metric is None or r["metric"] == metric) and _match(r, ids)]


def metric_value(rows: Iterable[Mapping], metric: str, **ids) -> float:
    """The value of the one row with this ``metric`` and **exactly** these identifying keys.

    Raises ``KeyError`` when no row or more than one row matches.
    """
    want = {k: v for k, v in ids.items() if v is not None}
    hits = [r for r in rows if r["metric"] == metric
            and {k: v for k, v in r.items() if k not in ("metric", "value")} == want]
    if len(hits) != 1:
        raise KeyError(f"{len(hits)} rows of metric {metric!r} with ids {want}")
    return float(hits[0]["value"])


# --------------------------------------------------------------------------------- arrays
def write_arrays(path, **arrays) -> Path:
    """Write named arrays to ``arrays.npz`` (compressed, no pickles) in the run folder ``path``."""
    clean = {}
    for k, v in arrays.items():
        a = np.asarray(v)
        if a.dtype == object:
            raise InputError(f"array {k!r} has dtype object; arrays.npz holds numeric or string arrays only")
        clean[k] = a
    return atomic_save_npz(_folder(path) / ARRAYS_FILE, **clean)


def load_arrays(path) -> dict[str, np.ndarray]:
    """Read ``arrays.npz`` of a run folder into a dict (fully loaded; file closed; no pickles)."""
    f = _file(path, ARRAYS_FILE)
    try:
        with np.load(f, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (OSError, ValueError) as exc:
        raise DataError(f"{f} could not be read as .npz ({exc}); the file is corrupt") from None


# ----------------------------------------------------------------------------------- meta
def _version(mod: str) -> str | None:
    try:
        m = __import__(mod)
    except ImportError:
        return None
    return getattr(m, "__version__", None)


def _blas_info() -> list[dict] | dict | None:
    try:
        import threadpoolctl  # optional
    except ImportError:
        threadpoolctl = None
    if threadpoolctl is not None:
        keep = ("user_api", "internal_api", "prefix", "version", "num_threads", "threading_layer", "architecture")
        return [{k: d.get(k) for k in keep if k in d} for d in threadpoolctl.threadpool_info()]
    try:
        cfg = np.show_config(mode="dicts")
        deps = cfg.get("Build Dependencies", {})
        return {k: deps.get(k) for k in ("blas", "lapack") if k in deps}
    except Exception:  # pragma: no cover - numpy without mode="dicts"
        return None


def environment_info() -> dict:
    """Versions, BLAS and host information for ``meta.json``.

    Keys: ``twolayer``, ``python``, ``implementation``, ``platform``, ``numpy``, ``scipy``,
    ``sklearn``, ``matplotlib``, ``blas`` (``threadpoolctl.threadpool_info()`` when that optional
    package is installed, else numpy's build configuration), ``hostname``, ``cpu_count``,
    ``threads_env`` (``OMP_NUM_THREADS`` and friends when set).
    """
    from . import __version__

    threads = {k: os.environ[k] for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
               if k in os.environ}
    return {
        "twolayer": __version__,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "numpy": np.__version__,
        "scipy": _version("scipy"),
        "sklearn": _version("sklearn"),
        "matplotlib": _version("matplotlib"),
        "blas": _blas_info(),
        "hostname": socket.gethostname(),
        "cpu_count": os.cpu_count(),
        "threads_env": threads,
    }


def write_claims(path, records: list[Mapping]) -> Path:
    """Write ``claims.json`` (a JSON list of claim records, see :mod:`twolayer.claims`) atomically."""
    return atomic_write_json(_folder(path) / CLAIMS_FILE, list(records))


def load_claims(path) -> list[dict]:
    """The claim records of ``claims.json``; a file that is not a JSON list of objects is a :class:`DataError`."""
    f = _file(path, CLAIMS_FILE)
    try:
        data = json.loads(f.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{f}: not a readable claims.json ({exc}); rerun the experiment to rewrite it") from None
    if not isinstance(data, list) or not all(isinstance(r, dict) and "verdict" in r for r in data):
        raise DataError(f"{f}: expected a JSON list of claim objects with a 'verdict'; rerun the experiment")
    return data


def write_meta(path, meta: Mapping) -> Path:
    """Write ``meta.json`` (indented JSON; numpy values converted) in the run folder ``path``."""
    return atomic_write_json(_folder(path) / META_FILE, dict(meta))


def load_meta(path) -> dict:
    """Read ``meta.json`` of a run folder (or the file itself)."""
    f = _file(path, META_FILE)
    try:
        meta = json.loads(f.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{f} is not valid JSON ({exc}); the file is corrupt") from None
    if not isinstance(meta, dict):
        raise DataError(f"{f} holds a JSON {type(meta).__name__}, not the object a run writes; the file is corrupt")
    return meta


# ------------------------------------------------------------------------------ RunFolder
class RunFolder:
    """A run folder being written: creates ``path/`` and ``path/figures/`` and tracks metadata.

    Parameters
    ----------
    path : path-like
        The folder (created with parents if missing; existing files are overwritten one by one).
    experiment : str, optional
        Name of the experiment (stored in ``meta.json``; the report uses it to pick captions).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> tmp = pathlib.Path(tempfile.mkdtemp())
    >>> rf = RunFolder(tmp / "run", experiment="demo")
    >>> _ = rf.write_config({"seed": 0, "data": {"spec": "digits"}})
    >>> with rf.stage("kernel"):
    ...     pass
    >>> _ = rf.write_metrics([{"metric": "lambda_min", "value": 0.01}])
    >>> _ = rf.finish()
    >>> sorted(p.name for p in (tmp / "run").iterdir())
    ['config.toml', 'figures', 'meta.json', 'metrics.csv']

    ``meta.json`` is written at creation (``status = "running"``) and again by :meth:`finish`
    (``"complete"``), so a crashed run is recognisable.
    """

    def __init__(self, path, *, experiment: str | None = None):
        self.path = Path(path)
        self.figures_dir = self.path / FIGURES_DIR
        try:
            self.figures_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(f"cannot create the run folder {self.path} ({exc.strerror}); choose a writable --out") from None
        self._t0 = time.perf_counter()
        self.meta: dict = {
            "experiment": experiment,
            "status": "running",
            "started": utc_now(),
            "finished": None,
            "wall_time_s": None,
            "command": " ".join(sys.argv) if sys.argv and sys.argv[0] else None,
            "environment": environment_info(),
            "timings_s": {},
            "data": None,
            "figures": {},
        }
        self.write_meta()

    def __repr__(self) -> str:
        return f"RunFolder({str(self.path)!r})"

    def file(self, name: str) -> Path:
        """Path of ``name`` inside the folder."""
        return self.path / name

    @contextlib.contextmanager
    def stage(self, name: str):
        """Time a block; the seconds are added to ``meta["timings_s"][name]``."""
        t = time.perf_counter()
        try:
            yield
        finally:
            self.meta["timings_s"][name] = round(self.meta["timings_s"].get(name, 0.0) + time.perf_counter() - t, 6)

    def write_config(self, config: Mapping) -> Path:
        return write_config(self.path, config)

    def write_metrics(self, rows: Iterable[Mapping]) -> Path:
        return write_metrics(self.path, rows)

    def write_arrays(self, **arrays) -> Path:
        return write_arrays(self.path, **arrays)

    def set_data(self, provenance: Mapping) -> None:
        """Record the data provenance (``Dataset.provenance``) in ``meta["data"]``."""
        self.meta["data"] = json.loads(json.dumps(provenance, default=_jsonable))

    def save_figure(self, fig, name: str, *, caption: str | None = None, **kw) -> list[Path]:
        """Save ``fig`` as ``figures/NAME.png`` and ``.pdf`` and list it in ``meta["figures"]``.

        ``caption`` (optional) is stored in ``meta["figures"][name]["caption"]``; the report uses it
        when no caption function is registered for ``name`` (see :mod:`twolayer.report`).
        """
        from .plotting import save_figure

        paths = save_figure(fig, self.figures_dir, name, **kw)
        entry = {"files": [f"{FIGURES_DIR}/{p.name}" for p in paths]}
        if caption is not None:
            entry["caption"] = str(caption)
        self.meta["figures"][name] = entry
        return paths

    def write_meta(self) -> Path:
        return write_meta(self.path, self.meta)

    def write_claims(self, records: list[Mapping]) -> Path:
        return write_claims(self.path, records)

    def finish(self, status: str = "complete") -> Path:
        """Stamp end time, wall time and ``status``; write ``meta.json``."""
        self.meta["finished"] = utc_now()
        self.meta["wall_time_s"] = round(time.perf_counter() - self._t0, 6)
        self.meta["status"] = status
        return self.write_meta()


def _jsonable(obj):
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, (Path, os.PathLike)):
        return os.fspath(obj)
    raise TypeError(f"not JSON serializable: {type(obj).__name__}")


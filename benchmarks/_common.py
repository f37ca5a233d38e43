"""Shared helpers for the benchmarks: timing, memory, environment header, result table.

Not part of the package and not part of the test suite. Every headline number is a RATIO
measured in one run (ours / the machine's own limit, or ours / what a user would otherwise
write); absolute times only appear in the detail column.
"""

from __future__ import annotations

import gc
import os
import platform
import statistics
import sys
import time
import tracemalloc
from dataclasses import dataclass
from typing import Callable

import numpy as np

# ---------------------------------------------------------------------------------------------
# Result rows
# ---------------------------------------------------------------------------------------------


@dataclass
class Row:
    """One line of the result table.

    ``value`` is a ratio (time or memory) or, for accuracy rows, an absolute error; ``unit``
    says which (``"x"`` for ratios, ``""`` for plain numbers). ``target`` is ``(op, limit)``
    with ``op`` one of ``"<="``, ``"<"``, ``">="`` or ``None`` for an informational row.
    """

    name: str
    value: float
    target: tuple[str, float] | None = None
    detail: str = ""
    unit: str = "x"
    status: str | None = None  # overrides the computed status ("skip", ...)

    @property
    def verdict(self) -> str:
        """``PASS``/``FAIL`` against the target (``info`` without one); a ``?`` is appended when
        the row's timings were taken under foreign load (``NOISY`` in the detail, see
        :func:`ratio_detail`): such a verdict is not to be trusted before a quiet re-run."""
        if self.status is not None:
            return self.status
        if self.target is None or self.value is None or not np.isfinite(self.value):
            return "info"
        op, lim = self.target
        ok = {"<=": self.value <= lim, "<": self.value < lim, ">=": self.value >= lim}[op]
        return ("PASS" if ok else "FAIL") + ("?" if "NOISY" in self.detail else "")

    def fmt_value(self) -> str:
        if self.value is None or (isinstance(self.value, float) and np.isnan(self.value)):
            return "-"
        if self.unit == "x":
            return f"{self.value:.2f}x"
        return f"{self.value:.2g}"

    def fmt_target(self) -> str:
        if self.target is None:
            return "-"
        op, lim = self.target
        return f"{op} {lim:g}{'x' if self.unit == 'x' else ''}"


def print_table(rows: list[Row], title: str = "", file=None) -> None:
    file = file or sys.stdout
    head = ("benchmark", "ratio", "target", "result", "detail")
    cells = [(r.name, r.fmt_value(), r.fmt_target(), r.verdict, r.detail) for r in rows]
    w = [max(len(head[i]), *(len(c[i]) for c in cells)) if cells else len(head[i]) for i in range(4)]
    if title:
        print(f"\n{title}", file=file)
    line = "  ".join(h.ljust(w[i]) for i, h in enumerate(head[:4])) + "  " + head[4]
    print(line, file=file)
    print("-" * min(len(line) + 60, 160), file=file)
    for c in cells:
        print("  ".join(c[i].ljust(w[i]) if i != 1 else c[i].rjust(w[i]) for i in range(4)) + "  " + c[4],
              file=file)
    file.flush()


def log(msg: str) -> None:
    """Progress line on stderr (the table goes to stdout)."""
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# Environment
# ---------------------------------------------------------------------------------------------


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _total_mem_gib() -> float | None:
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**30
    except (ValueError, OSError, AttributeError):
        return None


def environment_lines() -> list[str]:
    """Python / numpy / scipy versions, BLAS libraries and their thread counts, CPU, env vars."""
    import scipy

    lines = [f"python {platform.python_version()}  numpy {np.__version__}  scipy {scipy.__version__}  "
             f"platform {platform.platform()}"]
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - non-Linux
        affinity = os.cpu_count()
    mem = _total_mem_gib()
    lines.append(f"CPU {_cpu_model()}; os.cpu_count()={os.cpu_count()}, usable cores={affinity}"
                 + (f", RAM {mem:.1f} GiB" if mem else ""))
    try:
        from threadpoolctl import threadpool_info

        for info in threadpool_info():
            lines.append(
                f"threadpool: {info.get('user_api')}/{info.get('internal_api')} "
                f"{info.get('version') or ''} arch={info.get('architecture', '-')} "
                f"threads={info.get('num_threads')} layer={info.get('threading_layer', '-')} "
                f"({os.path.basename(info.get('filepath', ''))})")
    except ImportError:
        lines.append("threadpoolctl not installed: BLAS thread count unknown")
    env = {k: v for k, v in os.environ.items()
           if k.startswith(("OPENBLAS", "OMP_", "MKL_", "BLIS_", "GOTO", "VECLIB"))}
    lines.append("env: " + (", ".join(f"{k}={v}" for k, v in sorted(env.items())) or "(no BLAS/OpenMP variables set)"))
    return lines


def print_environment(file=None) -> None:
    file = file or sys.stdout
    for line in environment_lines():
        print(line, file=file)
    file.flush()


# ---------------------------------------------------------------------------------------------
# Timing
# ---------------------------------------------------------------------------------------------


class SelfTimed:
    """Wrap a callable that measures itself and returns its own time in seconds (e.g. the loop
    time a training run reports, without its set-up); :func:`compare` then uses that figure
    instead of the wall time of the call, keeping the interleaving and the load measurement."""

    def __init__(self, f: Callable[[], float]):
        self.f = f

    def __call__(self) -> float:
        return float(self.f())


def _time_once(f: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    r = f()
    t1 = time.perf_counter()
    if isinstance(f, SelfTimed):
        return float(r)
    del r  # free the (possibly large) result before the next call
    return t1 - t0


def _cpu_ticks() -> tuple[int, int] | None:
    """(user + nice, total) jiffies of the whole machine from /proc/stat, or None."""
    try:
        with open("/proc/stat") as fh:
            f = [int(x) for x in fh.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    return f[0] + f[1], sum(f[:8])  # guest time is already counted in user


class ForeignLoad:
    """Share of the machine's CPU time spent in user code of OTHER processes between start()
    and stop() (kernel work such as page zeroing is not counted: it is partly ours).

    The benchmarks compete with whatever else runs on the machine (on a shared 2-core VM,
    other sessions' test runs); a high value means the ratios of that block are noisy.
    """

    def __init__(self):
        self._t0 = self._own0 = None

    @staticmethod
    def _own() -> float:
        t = os.times()
        return t.user + t.children_user

    def start(self) -> "ForeignLoad":
        self._t0, self._own0 = _cpu_ticks(), self._own()
        return self

    def stop(self) -> float | None:
        t1, own1 = _cpu_ticks(), self._own()
        if self._t0 is None or t1 is None:
            return None
        hz = os.sysconf("SC_CLK_TCK")
        user, total = t1[0] - self._t0[0], t1[1] - self._t0[1]
        if total <= 0:
            return None
        return max(0.0, (user - (own1 - self._own0) * hz) / total)


@dataclass
class Timing:
    times: list[float]
    foreign_load: float | None = None

    @property
    def best(self) -> float:
        return min(self.times)

    @property
    def median(self) -> float:
        return statistics.median(self.times)


def compare(funcs: dict[str, Callable[[], object]], repeat: int = 3, warmup: int = 1) -> dict[str, Timing]:
    """Time several callables, interleaved (A B C, C B A, A B C, ...) so that drift in the
    machine's speed hits all of them alike. ``warmup`` untimed calls of each first."""
    names = list(funcs)
    for _ in range(warmup):
        for name in names:
            _time_once(funcs[name])
    gc.collect()
    out = {name: [] for name in names}
    load = ForeignLoad().start()
    for k in range(repeat):
        order = names if k % 2 == 0 else names[::-1]
        for name in order:
            gc.collect()
            out[name].append(_time_once(funcs[name]))
    foreign = load.stop()
    return {name: Timing(t, foreign) for name, t in out.items()}


def ratio_detail(ours: Timing, ref: Timing, ours_label: str = "ours", ref_label: str = "ref") -> str:
    """``ours 1.23 s / ref 0.98 s (best of k); median ratio 1.27``."""
    txt = (f"{ours_label} {fmt_s(ours.best)} / {ref_label} {fmt_s(ref.best)} "
           f"(best of {len(ours.times)}); median ratio {ours.median / ref.median:.2f}")
    if ours.foreign_load is not None and ours.foreign_load >= 0.05:
        txt += f"; NOISY: other processes used {100 * ours.foreign_load:.0f}% of the CPUs meanwhile"
    return txt


def fmt_s(t: float) -> str:
    if t >= 1:
        return f"{t:.2f} s"
    if t >= 1e-3:
        return f"{t * 1e3:.1f} ms"
    return f"{t * 1e6:.0f} us"


# ---------------------------------------------------------------------------------------------
# Memory
# ---------------------------------------------------------------------------------------------


def peak_allocation(f: Callable[[], object]) -> int:
    """Peak bytes allocated (and tracked by tracemalloc) while ``f()`` runs, above the start.

    numpy reports its data buffers to tracemalloc, so this sees every array ``f`` creates,
    including those in worker threads; it does not see BLAS's internal buffers (see the RSS
    cross-check in bench_kernels.py for those).
    """
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        r = f()
        peak = tracemalloc.get_traced_memory()[1]
        del r
    finally:
        tracemalloc.stop()
    return peak - base


# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------


def unit_rows(n: int, d: int, seed: int) -> np.ndarray:
    """``n`` random unit-norm rows in R^d (uniform on the sphere), C-contiguous float64."""
    X = np.random.default_rng(seed).standard_normal((n, d))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    return X


def digits_unit_rows() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 8x8 digits (all 1,797 rows), unit-normalized and deduplicated.

    Returns ``(X, y)`` with ``y = +1`` for even digits and ``-1`` for odd ones.
    """
    from sklearn.datasets import load_digits

    d = load_digits()
    X = d.data.astype(np.float64)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    X, idx = np.unique(X, axis=0, return_index=True)
    y = np.where(d.target[idx] % 2 == 0, 1.0, -1.0)
    return np.ascontiguousarray(X), y

"""Progress reporting: a no-op by default, tqdm when installed, else a plain text bar on stderr.

Progress is shown only when asked for and stderr is a terminal (never in pipes, CI or tests).
"""

from __future__ import annotations

import contextlib
import sys
import time

__all__ = ["progress_bar", "inner_progress", "step_progress"]

#: Whether work running inside the current sweep point may show its own bar (set by the sweep
#: runner for points it runs in this process; pool workers never show one).
_INNER = False


class _NoProgress:
    def __call__(self, step, total, loss=None):
        pass

    def close(self):
        pass


class _TextProgress:
    def __init__(self, total: int, desc: str, stream):
        self.total, self.desc, self.stream = max(1, total), desc, stream
        self.last = 0.0
        self.t0 = time.perf_counter()

    def __call__(self, step, total=None, loss=None):
        now = time.perf_counter()
        if now - self.last < 0.2 and step < self.total:
            return
        self.last = now
        frac = min(1.0, step / self.total)
        bar = "#" * int(30 * frac)
        extra = f" loss {loss:.4g}" if loss is not None else ""
        self.stream.write(f"\r{self.desc} [{bar:<30}] {step}/{self.total}{extra} {now - self.t0:.0f}s")
        self.stream.flush()

    def close(self):
        self.stream.write("\n")
        self.stream.flush()


class _TqdmProgress:
    def __init__(self, total: int, desc: str, tqdm):
        self.bar = tqdm(total=total, desc=desc, leave=True, dynamic_ncols=True)
        self.n = 0

    def __call__(self, step, total=None, loss=None):
        self.bar.update(step - self.n)
        self.n = step
        if loss is not None:
            self.bar.set_postfix(loss=f"{loss:.4g}", refresh=False)

    def close(self):
        self.bar.close()


def progress_bar(total: int, desc: str = "", enabled: bool = True, stream=None):
    """A callable ``(step, total, loss)`` with ``close()``; a no-op unless enabled on a terminal."""
    stream = stream or sys.stderr
    if not enabled or not getattr(stream, "isatty", lambda: False)():
        return _NoProgress()
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return _TextProgress(total, desc, stream)
    return _TqdmProgress(total, desc, tqdm)


@contextlib.contextmanager
def inner_progress(enabled: bool):
    """Within this block, :func:`step_progress` bars are shown (on a terminal) when ``enabled``."""
    global _INNER
    old, _INNER = _INNER, bool(enabled)
    try:
        yield
    finally:
        _INNER = old


def step_progress(total: int, desc: str = ""):
    """A bar for the steps of one long computation inside a sweep point (e.g. ``train(progress=)``):
    shown only for points the sweep runs in this process with progress on, and only on a terminal."""
    return progress_bar(total, desc, enabled=_INNER)

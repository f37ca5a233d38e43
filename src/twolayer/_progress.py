"""Progress reporting: tqdm on a terminal when installed, else a text bar with an ETA; plain lines
without a terminal.

Progress is shown only when asked for. On a terminal it is a bar; written to a log or a pipe it
is one plain line every :data:`PLAIN_EVERY_S` seconds (``TWOLAYER_PROGRESS_SECONDS`` overrides),
the first only after that long, so short commands (and the tests) print nothing.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time

__all__ = ["progress_bar", "inner_progress", "step_progress", "notices", "long_call_notice", "ticking"]

#: Whether work running inside the current sweep point may show its own bar (set by the sweep
#: runner for points it runs in this process; pool workers never show one).
_INNER = False


class _NoProgress:
    def __call__(self, step, total, loss=None):
        pass

    def tick(self):
        pass

    def close(self):
        pass


#: Seconds between the plain progress lines written when stderr is not a terminal.
PLAIN_EVERY_S = 30.0


def _duration(seconds: float) -> str:
    """``75`` → ``"1m15s"``; ``4000`` → ``"1h06m"``."""
    s = int(round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{(s % 3600) // 60:02d}m"


def _eta(done: float, total: float, elapsed: float) -> str:
    if done <= 0 or done >= total:
        return ""
    return f", ETA {_duration(elapsed * (total - done) / done)}"


class _PlainProgress:
    """One line every ``every`` seconds (and a last one if any was written): for logs and pipes."""

    def __init__(self, total: int, desc: str, stream, every: float, reused: int = 0):
        self.total, self.desc, self.stream, self.every = max(1, total), desc, stream, every
        self.t0 = self.last = time.perf_counter()
        self.step, self.wrote, self.reused = 0, False, reused
        self._lock = threading.Lock()

    def _line(self, loss=None) -> None:
        el = time.perf_counter() - self.t0
        extra = f", loss {loss:.4g}" if loss is not None else ""
        reused = f", {self.reused} reused" if self.reused else ""
        self.stream.write(f"{self.desc}: {self.step}/{self.total} ({100 * self.step / self.total:.0f}%{reused}), "
                          f"{_duration(el)} elapsed{_eta(self.step - self.reused, self.total - self.reused, el)}"
                          f"{extra}\n")
        self.stream.flush()
        self.wrote = True

    def __call__(self, step, total=None, loss=None):
        with self._lock:  # a ticking thread may call in too
            self.step = step
            now = time.perf_counter()
            if now - self.last >= self.every:
                self.last = now
                self._line(loss)

    def tick(self):
        """A line if one is due, with no new step (the clock runs while a point computes)."""
        self(self.step)

    def close(self):
        if self.wrote:
            self._line()


class _TextProgress:
    def __init__(self, total: int, desc: str, stream, reused: int = 0):
        self.total, self.desc, self.stream = max(1, total), desc, stream
        self.last, self.step, self.reused = 0.0, 0, reused
        self.t0 = time.perf_counter()

    def tick(self):
        self(self.step)

    def __call__(self, step, total=None, loss=None):
        self.step = step
        now = time.perf_counter()
        if now - self.last < 0.2 and step < self.total:
            return
        self.last = now
        frac = min(1.0, step / self.total)
        bar = "#" * int(30 * frac)
        extra = f" loss {loss:.4g}" if loss is not None else ""
        el = now - self.t0
        self.stream.write(f"\r{self.desc} [{bar:<30}] {step}/{self.total}{extra} {_duration(el)}"
                          f"{_eta(step - self.reused, self.total - self.reused, el)}   ")
        self.stream.flush()

    def close(self):
        self.stream.write("\n")
        self.stream.flush()


class _TqdmProgress:
    def __init__(self, total: int, desc: str, tqdm, reused: int = 0):
        self.bar = tqdm(total=total, desc=desc, leave=True, dynamic_ncols=True, initial=reused)
        self.n = reused

    def tick(self):
        self.bar.refresh()

    def __call__(self, step, total=None, loss=None):
        self.bar.update(step - self.n)
        self.n = step
        if loss is not None:
            self.bar.set_postfix(loss=f"{loss:.4g}", refresh=False)

    def close(self):
        self.bar.close()


def progress_bar(total: int, desc: str = "", enabled: bool = True, stream=None, reused: int = 0):
    """A callable ``(step, total, loss)`` with ``tick()`` (redraw the clock without a new step) and
    ``close()``: a bar on a terminal, periodic plain lines elsewhere (see the module docstring), a
    no-op unless ``enabled``. ``reused``: steps already done before this run (stored sweep points);
    they count as done but not into the ETA, which is the rate of this run's own steps."""
    stream = stream or sys.stderr
    if not enabled:
        return _NoProgress()
    if not getattr(stream, "isatty", lambda: False)():
        try:
            every = float(os.environ.get("TWOLAYER_PROGRESS_SECONDS", PLAIN_EVERY_S))
        except ValueError:
            every = PLAIN_EVERY_S
        return _PlainProgress(total, desc, stream, max(every, 0.0), reused)
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return _TextProgress(total, desc, stream, reused)
    return _TqdmProgress(total, desc, tqdm, reused)


@contextlib.contextmanager
def ticking(bar, every: float = 2.0):
    """Within this block a daemon thread calls ``bar.tick()`` every ``every`` seconds, so a
    plain-line bar keeps writing its elapsed time while one long point computes in this process.
    Only plain-line bars tick (a terminal bar would draw over the point's own step bar)."""
    if not isinstance(bar, _PlainProgress):
        yield
        return
    stop = threading.Event()

    def loop():
        while not stop.wait(every):
            bar.tick()
    t = threading.Thread(target=loop, name="twolayer-progress", daemon=True)
    t.start()
    try:
        yield
    finally:
        stop.set()
        t.join()


@contextlib.contextmanager
def _switch(name: str, enabled: bool):
    """Set the module flag ``name`` to ``enabled`` within the block, restoring it afterwards."""
    old = globals()[name]
    globals()[name] = bool(enabled)
    try:
        yield
    finally:
        globals()[name] = old


def inner_progress(enabled: bool):
    """Within this block, :func:`step_progress` bars are shown (on a terminal) when ``enabled``."""
    return _switch("_INNER", enabled)


def step_progress(total: int, desc: str = ""):
    """A bar for the steps of one long computation inside a sweep point (e.g. ``train(progress=)``):
    shown only for points the sweep runs in this process with progress on."""
    return progress_bar(total, desc, enabled=_INNER)


# --------------------------------------------------------------------------- long, uninterruptible calls
#: Whether :func:`long_call_notice` prints (set by the CLI and by ``reproduce`` unless quiet).
_NOTICES = False
#: Dense calls expected to take at least this long are announced.
NOTICE_FROM_S = 10.0
#: Below this many rows nothing is estimated (the calls take well under a second).
NOTICE_FROM_N = 3000


def notices(enabled: bool):
    """Within this block, :func:`long_call_notice` announces long dense calls on stderr."""
    return _switch("_NOTICES", enabled)


def long_call_notice(call: str, n: int, *, vectors: bool = True, stream=None) -> None:
    """Before a LAPACK call that Python cannot interrupt (``eigh``, ``cholesky`` of ``n × n``): one
    line with its expected duration when that is at least :data:`NOTICE_FROM_S` and notices are on.
    Ctrl-C during such a call is handled when the call returns; the line says so up front."""
    if not _NOTICES or n < NOTICE_FROM_N:
        return
    from ._linalg import expected_seconds

    seconds = expected_seconds(call, n, vectors=vectors)
    if seconds < NOTICE_FROM_S:
        return
    what = {"eigh": "eigendecomposition" + ("" if vectors else " (eigenvalues only)"),
            "cholesky": "Cholesky factorization"}.get(call, call)
    print(f"twolayer: {what} of a {n:,} x {n:,} matrix, about {_duration(seconds)} on this machine "
          f"(one LAPACK call: Ctrl-C takes effect when it returns)", file=stream or sys.stderr, flush=True)

"""Peak memory of the dense paths (issue 12), in units of ``8n²`` bytes, and their time against bare LAPACK.

* ``complexity(H, y, method="dense")`` (default: the copy that becomes the factor) and with
  ``overwrite=True`` (the factor in H's memory): peak tracemalloc allocation / 8n², target ≤ 1.3;
  time against ``cho_factor`` + ``cho_solve`` (what a user would write).
* ``spectrum(H)`` (the copy + dsyevd's ``2n²`` workspace), ``spectrum(H, overwrite=True)`` (the
  workspace only; target ≤ 2.3) and the lean ``driver="evr"``: peak / 8n²; time against
  ``numpy.linalg.eigh`` (the same dsyevd; numpy's own buffers are invisible to tracemalloc, so its
  memory is given by the RSS cross-check only).
* Cross-check: the peak-RSS increase (``VmHWM`` after resetting it through ``/proc/self/clear_refs``)
  of one call in a fresh subprocess, which also sees LAPACK's and numpy's malloc'd buffers.

n = 4,000 (1,500 with ``--quick``), d = 784 unit-norm random rows. Overwriting calls are timed with
the copy of ``H`` they consume (``H.copy()``, ``O(n²)``) inside the timed call.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

import numpy as np
import scipy.linalg as sla

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import (Row, compare, log, peak_allocation, print_environment, print_table,  # noqa: E402
                     ratio_detail, unit_rows)

from twolayer.bounds import complexity  # noqa: E402
from twolayer.kernels import first_layer_ntk  # noqa: E402
from twolayer.spectra import spectrum  # noqa: E402

TARGET_COMPLEXITY_MEM = 1.3
TARGET_SPECTRUM_MEM = 2.3


def _problem(n: int, d: int = 784):
    X = unit_rows(n, d, seed=12)
    H = first_layer_ntk(X)
    y = np.where(np.random.default_rng(13).random(n) < 0.5, -1.0, 1.0)
    return H, y


def _calls(H, y):
    return {
        "complexity": lambda: complexity(H, y, method="dense"),
        "complexity_overwrite": lambda: complexity(H.copy(), y, method="dense", overwrite=True),
        "bare_cholesky": lambda: sla.cho_solve(sla.cho_factor(H), y),
        "spectrum": lambda: spectrum(H),
        "spectrum_overwrite": lambda: spectrum(H.copy(), overwrite=True),
        "spectrum_evr": lambda: spectrum(H, driver="evr"),
        "numpy_eigh": lambda: np.linalg.eigh(H),
    }


def _rss_probe(what: str, n: int) -> None:
    H, y = _problem(n)
    if what.endswith("_overwrite"):  # the copy is made before the measurement: only the call counts
        B = H.copy()
        f = {"complexity_overwrite": lambda: complexity(B, y, method="dense", overwrite=True),
             "spectrum_overwrite": lambda: spectrum(B, overwrite=True)}[what]
    else:
        f = _calls(H, y)[what]

    def kib(key):
        with open("/proc/self/status") as fh:
            return next(int(line.split()[1]) for line in fh if line.startswith(key))

    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")
    rss0 = kib("VmRSS")
    r = f()
    print((kib("VmHWM") - rss0) * 1024)
    del r


def rss_delta(what: str, n: int) -> float | None:
    """Peak-RSS increase (bytes) of one call in a fresh subprocess, or None where /proc is missing."""
    if not os.path.exists("/proc/self/clear_refs"):
        return None
    try:
        res = subprocess.run([sys.executable, os.path.abspath(__file__), "--rss-probe", what, str(n)],
                             capture_output=True, text=True, timeout=1800, check=True)
        return float(res.stdout.strip().splitlines()[-1])
    except (subprocess.SubprocessError, OSError, ValueError, IndexError):
        return None


def run(quick: bool = False, repeat: int = 3, rss: bool = True) -> list[Row]:
    n = 1_500 if quick else 4_000
    unit = 8.0 * n * n
    H, y = _problem(n)
    calls = _calls(H, y)
    rows: list[Row] = []
    log(f"memory: peak allocations at n={n} (tracemalloc" + (", RSS subprocesses)" if rss else ")"))
    rss_of = {w: rss_delta(w, n) for w in calls} if rss else {}

    def detail(w: str) -> str:
        r = rss_of.get(w)
        return "" if r is None else f"RSS cross-check {r / unit:.2f} x 8n^2"

    for w, target in (("complexity", TARGET_COMPLEXITY_MEM), ("complexity_overwrite", TARGET_COMPLEXITY_MEM),
                      ("bare_cholesky", None), ("spectrum", None), ("spectrum_overwrite", TARGET_SPECTRUM_MEM),
                      ("spectrum_evr", None), ("numpy_eigh", None)):
        if w.endswith("_overwrite"):
            B = H.copy()
            f = (lambda B=B: complexity(B, y, method="dense", overwrite=True)) if w.startswith("complexity") \
                else (lambda B=B: spectrum(B, overwrite=True))
        else:
            f = calls[w]
        peak = peak_allocation(f)
        extra = "; numpy's buffers are not traced" if w == "numpy_eigh" else ""
        rows.append(Row(f"peak memory {w} (n={n}) / 8n^2", peak / unit, ("<=", target) if target else None,
                        detail(w) + extra))

    log(f"memory: times at n={n} (best of {repeat})")
    t = compare({k: calls[k] for k in ("complexity", "complexity_overwrite", "bare_cholesky")}, repeat=repeat)
    for k in ("complexity", "complexity_overwrite"):
        rows.append(Row(f"{k} dense / cho_factor+cho_solve (n={n})", t[k].best / t["bare_cholesky"].best, None,
                        ratio_detail(t[k], t["bare_cholesky"], k, "bare")))
    t = compare({k: calls[k] for k in ("spectrum", "spectrum_overwrite", "spectrum_evr", "numpy_eigh")},
                repeat=repeat)
    for k in ("spectrum", "spectrum_overwrite", "spectrum_evr"):
        rows.append(Row(f"{k} / numpy.linalg.eigh (n={n}, vectors)", t[k].best / t["numpy_eigh"].best, None,
                        ratio_detail(t[k], t["numpy_eigh"], k, "np eigh")))
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--no-rss", action="store_true")
    p.add_argument("--rss-probe", nargs=2, metavar=("WHAT", "N"), help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.rss_probe:
        _rss_probe(a.rss_probe[0], int(a.rss_probe[1]))
        return 0
    print_environment()
    print_table(run(quick=a.quick, repeat=max(3, a.repeat), rss=not a.no_rss), "dense-path memory")
    return 0


if __name__ == "__main__":
    sys.exit(main())

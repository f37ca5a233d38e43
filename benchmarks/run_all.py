"""Run every twolayer benchmark and print one table of ratios.

    .venv/bin/python benchmarks/run_all.py            # default (target) sizes, ~10 minutes on 2 cores
    .venv/bin/python benchmarks/run_all.py --quick    # small sizes, < 1 minute
    .venv/bin/python benchmarks/run_all.py --large    # also eigh at n = 8,000 (several minutes more)

It also runs bench_dynamics.py (the GD engine's benchmarks, kept by its own module) when present,
and bench_torch.py (the torch backend: its CPU step against two torch GEMMs, the CUDA rows where a
GPU is present; skip rows without torch).

Every headline number is a ratio measured in this run: ours / the machine's own limit (bare
SYRK/GEMM, bare LAPACK) or ours / what a user would otherwise write. Times appear only in the
detail column. Not part of the test suite; the exit status is 0 even when a target is missed
(``--strict`` makes a missed target exit 1).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import bench_kernels  # noqa: E402
import bench_krylov  # noqa: E402
import bench_memory  # noqa: E402
import bench_spectra  # noqa: E402
import bench_sweep  # noqa: E402
import bench_torch  # noqa: E402
from _common import ForeignLoad, Row, log, print_environment, print_table  # noqa: E402


def _dynamics_rows(quick: bool, repeat: int) -> list[Row]:
    """Rows of bench_dynamics.py (the GD engine, on the same harness: ``run(quick, repeat) -> list[Row]``).
    Optional: a missing or failing module gives one skip/error row instead of stopping the run."""
    try:
        import bench_dynamics
    except ImportError as exc:
        return [Row("GD engine benchmarks (bench_dynamics.py)", float("nan"), None,
                    f"not run: {type(exc).__name__}: {exc}"[:200], status="skip")]
    try:
        return bench_dynamics.run(quick=quick, repeat=repeat)
    except Exception as exc:  # another module's benchmark must not stop this run
        return [Row("GD engine benchmarks (bench_dynamics.py)", float("nan"), None,
                    f"failed: {type(exc).__name__}: {exc}"[:200], status="error")]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="small sizes (finishes in under a minute)")
    p.add_argument("--large", action="store_true", help="also time eigh at n = 8,000")
    p.add_argument("--repeat", type=int, default=3, help="timed repetitions per measurement (best is reported; >= 3)")
    p.add_argument("--no-rss", action="store_true", help="skip the RSS subprocess cross-check of the kernel memory")
    p.add_argument("--only", choices=("kernels", "spectra", "memory", "krylov", "dynamics", "sweep", "torch"), help="run one group only")
    p.add_argument("--strict", action="store_true", help="exit 1 if any target is missed")
    a = p.parse_args(argv)
    repeat = max(3, a.repeat)

    print_environment()
    print(f"mode: {'quick' if a.quick else 'default'} sizes{', large eigh' if a.large else ''}; "
          f"best of {repeat} timed runs after 1 warm-up, interleaved with the reference", flush=True)
    t0 = time.perf_counter()
    load = ForeignLoad().start()
    rows = []
    if a.only in (None, "kernels"):
        rows += bench_kernels.run(quick=a.quick, repeat=repeat, rss=not a.no_rss)
    if a.only in (None, "spectra"):
        rows += bench_spectra.run(quick=a.quick, large=a.large, repeat=repeat)
    if a.only in (None, "memory"):
        rows += bench_memory.run(quick=a.quick, repeat=repeat, rss=not a.no_rss)
    if a.only in (None, "krylov"):
        rows += bench_krylov.run(quick=a.quick, repeat=repeat)
    if a.only in (None, "dynamics"):
        rows += _dynamics_rows(a.quick, repeat)
    if a.only in (None, "sweep"):
        rows += bench_sweep.run(quick=a.quick)
    if a.only in (None, "torch"):
        rows += bench_torch.run(quick=a.quick, repeat=repeat)
    foreign = load.stop()
    log(f"done in {time.perf_counter() - t0:.0f} s")
    if foreign is not None:
        print(f"other processes used {100 * foreign:.0f}% of the machine's CPU time during the run"
              + (" (NOISY: re-run on a quiet machine before trusting small differences)" if foreign >= 0.05 else ""))

    print_table(rows, "twolayer benchmarks (ratio = ours / reference; lower is better unless the target says >=)")
    failed = [r.name for r in rows if r.verdict.startswith("FAIL")]
    noisy = sum(r.verdict.endswith("?") for r in rows)
    print(f"\n{sum(r.verdict.startswith('PASS') for r in rows)} passed, {len(failed)} missed"
          + (": " + "; ".join(failed) if failed else "")
          + (f"; {noisy} verdict(s) marked ? were timed under foreign load (NOISY): re-run before trusting them"
             if noisy else ""))
    return 1 if (a.strict and failed) else 0


if __name__ == "__main__":
    sys.exit(main())

"""Run every twolayer benchmark and print one table of ratios.

    .venv/bin/python benchmarks/run_all.py            # default (target) sizes, ~10 minutes on 2 cores
    .venv/bin/python benchmarks/run_all.py --quick    # small sizes, < 1 minute
    .venv/bin/python benchmarks/run_all.py --large    # also eigh at n = 8,000 (several minutes more)

It also runs bench_dynamics.py (the GD engine's benchmarks, kept by its own module) when present.

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
import bench_spectra  # noqa: E402
import bench_sweep  # noqa: E402
from _common import ForeignLoad, Row, log, print_environment, print_table  # noqa: E402


def _dynamics_rows(quick: bool) -> list[Row]:
    """Rows of bench_dynamics.py (another module's benchmark, ``run(quick) -> list[dict]`` with
    keys name, ratio, target like "<= 1.15", ok, detail), converted to this table. Optional:
    a missing or failing module gives one skip/error row instead of stopping the run."""
    try:
        import bench_dynamics
    except ImportError as exc:
        return [Row("GD engine benchmarks (bench_dynamics.py)", float("nan"), None,
                    f"not run: {type(exc).__name__}: {exc}"[:200], status="skip")]
    try:
        log("dynamics: bench_dynamics.run")
        raw = bench_dynamics.run(quick=quick)
    except Exception as exc:  # another module's benchmark must not stop this run
        return [Row("GD engine benchmarks (bench_dynamics.py)", float("nan"), None,
                    f"failed: {type(exc).__name__}: {exc}"[:200], status="error")]
    rows = []
    for r in raw:
        target = None
        try:
            op, lim = str(r.get("target", "")).split()
            if op in ("<=", "<", ">="):
                target = (op, float(lim))
        except ValueError:
            pass
        row = Row(str(r.get("name", "?")), float(r.get("ratio", float("nan"))), target, str(r.get("detail", "")))
        if r.get("ok") is None and target is not None and row.value != row.value:  # NaN: not measured
            row.status = "skip"
        rows.append(row)
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="small sizes (finishes in under a minute)")
    p.add_argument("--large", action="store_true", help="also time eigh at n = 8,000")
    p.add_argument("--repeat", type=int, default=3, help="timed repetitions per measurement (best is reported; >= 3)")
    p.add_argument("--no-rss", action="store_true", help="skip the RSS subprocess cross-check of the kernel memory")
    p.add_argument("--only", choices=("kernels", "spectra", "krylov", "dynamics", "sweep"), help="run one group only")
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
    if a.only in (None, "krylov"):
        rows += bench_krylov.run(quick=a.quick, repeat=repeat)
    if a.only in (None, "dynamics"):
        rows += _dynamics_rows(a.quick)
    if a.only in (None, "sweep"):
        rows += bench_sweep.run(quick=a.quick)
    foreign = load.stop()
    log(f"done in {time.perf_counter() - t0:.0f} s")
    if foreign is not None:
        print(f"other processes used {100 * foreign:.0f}% of the machine's CPU time during the run"
              + (" (NOISY: re-run on a quiet machine before trusting small differences)" if foreign >= 0.05 else ""))

    print_table(rows, "twolayer benchmarks (ratio = ours / reference; lower is better unless the target says >=)")
    failed = [r.name for r in rows if r.verdict == "FAIL"]
    print(f"\n{sum(r.verdict == 'PASS' for r in rows)} passed, {len(failed)} missed"
          + (": " + "; ".join(failed) if failed else ""))
    return 1 if (a.strict and failed) else 0


if __name__ == "__main__":
    sys.exit(main())

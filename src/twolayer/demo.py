r"""The main job: Arora et al. (2019) Figure 1, Figure 2 and Theorem 6.1 on the bundled digits.

:func:`run_demo` runs the experiments ``arora2019-fig1``, ``arora2019-fig2`` and
``arora2019-thm6`` (see :mod:`twolayer.experiments.arora2019`) with their laptop presets into
``OUT/<experiment>/`` (each a complete run folder with its own report) and writes
``OUT/report.html``, one page with every figure, its computed verdict and links to the three
reports. About 2–4 minutes on 2 cores; rerunning after an interruption continues from the
stored sweep points.

Run it as ``make demo`` or ``twolayer demo [--out DIR] [--jobs J]``.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["DEMO_EXPERIMENTS", "run_demo"]

#: The experiments of the main job, in the order of the index page.
DEMO_EXPERIMENTS = ("arora2019-fig1", "arora2019-fig2", "arora2019-thm6")


def run_demo(out="runs/demo", *, experiments=DEMO_EXPERIMENTS, jobs: int = 2, seed: int | None = None,
             sets: dict | None = None, quiet: bool = False, formats=("png", "pdf")) -> Path:
    """Run ``experiments`` (laptop presets) into ``out/<name>`` and write the index ``out/report.html``.

    ``sets`` maps an experiment name to its ``key=value`` overrides (the tests use it to shrink
    the runs). Returns the path of the index page.
    """
    from .experiments import reproduce
    from .report import build_index

    out = Path(out)
    runs = []
    for name in experiments:
        if not quiet:
            print(f"running {name} ...", flush=True)
        runs.append(reproduce(name, out=out / name, seed=seed, jobs=jobs, quiet=True,
                              sets=(sets or {}).get(name), formats=formats))
    index = build_index(out, runs, title="twolayer demo — Arora et al. (ICML 2019) on the bundled digits")
    if not quiet:
        print(f"report: {index.resolve()}")
    return index

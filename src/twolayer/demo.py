r"""The main job: Arora et al. (2019) Figure 1, Figure 2 and Theorem 6.1 on the bundled digits.

:func:`run_demo` runs the experiments ``arora2019-fig1``, ``arora2019-fig2`` and
``arora2019-thm6`` (see :mod:`twolayer.experiments.arora2019`) with their laptop presets into
``OUT/<experiment>/`` (each a complete run folder with its own report) and writes
``OUT/report.html``, one page with every figure, its computed verdict and links to the three
reports. About 2–4 minutes on 2 cores; rerunning after an interruption continues from the
stored sweep points.

Run it as ``make demo`` or ``twolayer demo [--out DIR] [--jobs J]``. ``make demo-all`` (``twolayer
demo --all``) runs every registered experiment of the four papers the same way into
``runs/demo-all/`` with one index page.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["DEMO_EXPERIMENTS", "run_demo", "all_experiments"]

#: The experiments of the main job, in the order of the index page.
DEMO_EXPERIMENTS = ("arora2019-fig1", "arora2019-fig2", "arora2019-thm6")


def all_experiments() -> tuple[str, ...]:
    """Names of every registered experiment, in registration order (paper by paper)."""
    from .experiments import list_experiments

    return tuple(e["name"] for e in list_experiments())


def run_demo(out="runs/demo", *, experiments=DEMO_EXPERIMENTS, jobs: int = 2, seed: int | None = None,
             sets: dict | None = None, quiet: bool = False, formats=("png", "pdf"), title: str | None = None) -> Path:
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
    index = build_index(out, runs, title=title or "twolayer demo — Arora et al. (ICML 2019) on the bundled digits")
    if not quiet:
        print(f"report: {index.resolve()}")
    return index

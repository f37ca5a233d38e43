"""Write the golden files of the before/after refactoring guard ``tests/test_golden.py``.

    python tests/golden/make_golden.py            # every case of tests/golden/configs.py
    python tests/golden/make_golden.py CASE ...   # only these cases

Run it only when a change of numbers is intended and explained (say so in the commit message):
the files record what the code at the time produced, nothing more. For each experiment case it
runs ``reproduce`` into a scratch folder and writes ``<case>.csv`` (every row of the run's
``metrics.csv``, values as ``repr`` of the float) and ``<case>.claims.json`` (verdict,
``assumptions_met``, statistic and threshold of every claim); for each CLI case it writes
``<case>.json``, the ``--json`` output less the keys in :data:`IGNORED_KEYS` (timings, paths,
prose). The code under test is ``src/`` of the checkout this file is in.

The functions here are also what the test calls to produce the "after" side, so both sides are
read the same way.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]

if __package__ in (None, ""):  # run as a script: this checkout's code and the tests package
    sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from tests.golden.configs import CASES  # noqa: E402

#: Keys dropped from the CLI's JSON (at any depth): wall time, file paths and machine-dependent
#: provenance (paths, library versions), and prose.
IGNORED_KEYS = frozenset({"seconds", "out", "provenance", "description", "hidden_terms"})
#: Claim fields kept in ``<case>.claims.json``.
CLAIM_FIELDS = ("verdict", "assumptions_met", "statistic", "threshold")


# ------------------------------------------------------------------------------ producing
def produce(case: str, tmp: Path) -> dict:
    """Run ``CASES[case]`` in the scratch folder ``tmp``; ``{"metrics": [...], "claims": {...}}``
    for an experiment (see :func:`read_metrics_csv`), ``{"json": payload}`` for a CLI case."""
    spec = CASES[case]
    tmp = Path(tmp)
    if "cli" in spec:
        return {"json": _run_cli(spec["cli"], tmp)}
    from twolayer.experiments import reproduce

    run = reproduce(spec["experiment"], out=tmp / "run", sets=list(spec["sets"]), seeds=spec["seeds"],
                    quiet=True, formats=("png",), threads=1)
    claims = json.loads((run / "claims.json").read_text(encoding="utf-8"))
    return {"metrics": read_metrics_csv(run / "metrics.csv"), "columns": _header(run / "metrics.csv"),
            "claims": {c["claim"]: {k: c.get(k) for k in CLAIM_FIELDS} for c in claims}}


def _run_cli(argv, tmp: Path) -> dict:
    import numpy as np
    from threadpoolctl import threadpool_limits

    from twolayer.cli import main

    argv = [a.replace("{tmp}", str(tmp)) for a in argv] + ["--json"]
    out, err = io.StringIO(), io.StringIO()
    with threadpool_limits(limits=1), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(argv)
    if rc != 0:
        raise RuntimeError(f"twolayer {' '.join(argv)} exited with {rc}: {err.getvalue().strip()}")
    payload = _strip(json.loads(out.getvalue()))
    if argv[0] == "kernel":  # the matrix it wrote, too
        payload["matrix"] = np.load(argv[argv.index("--out") + 1]).tolist()
    return payload


def _strip(obj):
    if isinstance(obj, dict):
        return {k: _strip(v) for k, v in obj.items() if k not in IGNORED_KEYS}
    if isinstance(obj, list):
        return [_strip(v) for v in obj]
    return obj


def read_metrics_csv(path) -> list[dict]:
    """Rows of a ``metrics.csv`` (or of a golden ``.csv``) as ``{"metric", "value", "ids"}``:
    ``value`` a float (``nan``/``inf`` kept), ``ids`` the non-empty id columns as strings."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return [{"metric": r["metric"], "value": float(r["value"]),
             "ids": {k: v for k, v in r.items() if k not in ("metric", "value") and v not in ("", None)}}
            for r in rows]


def _header(path) -> list[str]:
    with open(path, newline="", encoding="utf-8") as f:
        return next(csv.reader(f))


def row_key(row: dict) -> tuple:
    """``(metric, ((id, value), ...))`` with numeric id values canonical (``4`` and ``4.0`` alike)."""
    def canon(v: str) -> str:
        try:
            return repr(float(v))
        except ValueError:
            return v
    return (row["metric"], tuple(sorted((k, canon(v)) for k, v in row["ids"].items())))


# ------------------------------------------------------------------------------ golden files
def golden_paths(case: str, folder: Path = HERE) -> list[Path]:
    if "cli" in CASES[case]:
        return [folder / f"{case}.json"]
    return [folder / f"{case}.csv", folder / f"{case}.claims.json"]


def write_golden(case: str, record: dict, commit: str, folder: Path = HERE) -> None:
    spec = CASES[case]
    if "json" in record:
        doc = {"case": case, "generated_at": commit, "cli": spec["cli"], "output": record["json"]}
        (folder / f"{case}.json").write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        return
    keys = [row_key(r) for r in record["metrics"]]
    dup = sorted({k for k in keys if keys.count(k) > 1})
    if dup:
        raise RuntimeError(f"{case}: metrics.csv repeats the rows {dup[:3]}; the comparison needs unique keys")
    columns = [c for c in record["columns"] if c not in ("metric", "value")]
    with open(folder / f"{case}.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["metric", "value", *columns])
        for r in record["metrics"]:
            w.writerow([r["metric"], repr(r["value"]), *(r["ids"].get(c, "") for c in columns)])
    doc = {"case": case, "generated_at": commit, "experiment": spec["experiment"], "sets": spec["sets"],
           "seeds": spec["seeds"], "claims": record["claims"]}
    (folder / f"{case}.claims.json").write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n",
                                                encoding="utf-8")


def load_golden(case: str, folder: Path = HERE) -> dict:
    """What :func:`write_golden` wrote, in the form :func:`produce` returns (plus ``"doc"``)."""
    if "cli" in CASES[case]:
        doc = json.loads((folder / f"{case}.json").read_text(encoding="utf-8"))
        return {"json": doc["output"], "doc": doc}
    doc = json.loads((folder / f"{case}.claims.json").read_text(encoding="utf-8"))
    return {"metrics": read_metrics_csv(folder / f"{case}.csv"), "claims": doc["claims"], "doc": doc}


def current_commit() -> str:
    """``git rev-parse HEAD`` of this checkout, ``+dirty`` when ``src/`` has uncommitted changes."""
    def git(*args):
        return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=True).stdout
    try:
        head = git("rev-parse", "HEAD").strip()
        dirty = git("status", "--porcelain", "--", "src").strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def main(argv=None) -> int:
    import time

    names = list(argv if argv is not None else sys.argv[1:]) or list(CASES)
    unknown = [n for n in names if n not in CASES]
    if unknown:
        print(f"unknown cases {unknown}; known: {', '.join(CASES)}", file=sys.stderr)
        return 2
    commit = current_commit()
    for name in names:
        t = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix=f"golden-{name}-") as tmp:
            rec = produce(name, Path(tmp))
        write_golden(name, rec, commit)
        size = sum(p.stat().st_size for p in golden_paths(name))
        print(f"{name}: {time.perf_counter() - t:.1f} s, {size / 1024:.1f} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())

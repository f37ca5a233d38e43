"""Before/after refactoring guard: every experiment (at a tiny size) and a few CLI verbs must
reproduce the numbers that OUR OWN EARLIER CODE produced.

This is NOT a correctness test. The golden files under ``tests/golden/`` were generated at
commit d155d0ac5fec1f2e07d74029228e6c852dfa5ef5 (each file's ``generated_at`` names the commit
it came from) and record whatever that code computed, right or wrong; correctness is checked
against mathematics in the other test files. What this test catches is an unintended change of
numbers by a refactoring: for each case of ``tests/golden/configs.py`` it reruns the same
fixed-seed configuration into ``tmp_path`` and requires

* experiments: the same set of ``(metric, ids)`` rows in ``metrics.csv``, every value equal to
  rtol = 1e-9, atol = 1e-12 (NaN equals NaN, infinities exactly), and for every claim of
  ``claims.json`` the same verdict and ``assumptions_met`` and the same statistic and threshold
  (to the same tolerance);
* CLI cases (``twolayer VERB ... --json``, one BLAS thread): every golden key present with an
  equal value (numbers to the tolerance above, strings, booleans and nulls exactly); timings,
  paths, provenance and prose are left out (``IGNORED_KEYS`` in ``make_golden.py``); keys the
  output gained are allowed.

When a change of numbers is intended (a fixed bug, a changed default, a different but equally
valid order of floating-point operations), explain it in the commit message and regenerate:

    PYTHONPATH=src python tests/golden/make_golden.py          # all cases
    PYTHONPATH=src python tests/golden/make_golden.py CASE ...  # only some

then review ``git diff tests/golden`` (the numbers that moved) before committing it.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from .golden.configs import CASES
from .golden.make_golden import HERE, golden_paths, load_golden, produce, row_key

RTOL, ATOL = 1e-9, 1e-12
MAX_REPORTED = 15


def _is_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def numbers_equal(got, want) -> bool:
    """``|got - want| <= ATOL + RTOL |want|``; NaN equals NaN, an infinity only itself."""
    got, want = float(got), float(want)
    if math.isnan(want) or math.isnan(got):
        return math.isnan(want) and math.isnan(got)
    if math.isinf(want) or math.isinf(got):
        return got == want
    return abs(got - want) <= ATOL + RTOL * abs(want)


def json_diffs(got, want, path: str = "", *, extra_keys_ok: bool = False) -> list[str]:
    """Where ``got`` differs from the golden ``want`` (nested dicts/lists of JSON values)."""
    if _is_number(want) and _is_number(got):
        return [] if numbers_equal(got, want) else [f"{path}: {got!r} != golden {want!r}"]
    if isinstance(want, dict) and isinstance(got, dict):
        out = [f"{path}/{k}: missing (golden {want[k]!r})" for k in want if k not in got]
        if not extra_keys_ok:
            out += [f"{path}/{k}: not in the golden output ({got[k]!r})" for k in got if k not in want]
        for k in want:
            if k in got:
                out += json_diffs(got[k], want[k], f"{path}/{k}", extra_keys_ok=extra_keys_ok)
        return out
    if isinstance(want, list) and isinstance(got, list):
        if len(got) != len(want):
            return [f"{path}: {len(got)} items != golden {len(want)}"]
        return [d for i, (g, w) in enumerate(zip(got, want)) for d in
                json_diffs(g, w, f"{path}[{i}]", extra_keys_ok=extra_keys_ok)]
    if type(got) is not type(want) or got != want:
        return [f"{path}: {got!r} != golden {want!r}"]
    return []


def metric_diffs(got_rows: list[dict], want_rows: list[dict]) -> list[str]:
    """Missing, extra, repeated or changed ``(metric, ids)`` rows."""
    got, out = {}, []
    for r in got_rows:
        k = row_key(r)
        if k in got:
            out.append(f"row {k} repeated")
        got[k] = r["value"]
    want = {row_key(r): r["value"] for r in want_rows}
    out += [f"row {k}: missing (golden {want[k]!r})" for k in want if k not in got]
    out += [f"row {k}: not in the golden file ({got[k]!r})" for k in got if k not in want]
    out += [f"row {k}: {got[k]!r} != golden {want[k]!r}" for k in want
            if k in got and not numbers_equal(got[k], want[k])]
    return out


def case_diffs(case: str, got: dict, golden: dict) -> list[str]:
    if "json" in golden:
        return json_diffs(got["json"], golden["json"], extra_keys_ok=True)
    out = metric_diffs(got["metrics"], golden["metrics"])
    out += [f"claim {d}" for d in json_diffs(got["claims"], golden["claims"])]
    return out


def _param(case: str):
    return pytest.param(case, marks=[pytest.mark.slow] if CASES[case].get("slow") else [], id=case)


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_case_reproduces_its_golden_numbers(case, tmp_path):
    golden = load_golden(case)
    spec = {k: v for k, v in CASES[case].items() if k != "slow"}
    recorded = {k: golden["doc"].get(k) for k in spec}
    assert recorded == spec, (f"tests/golden/configs.py changed the case {case} since its golden files were "
                              f"written; regenerate them: python tests/golden/make_golden.py {case}")
    diffs = case_diffs(case, produce(case, tmp_path), golden)
    more = f"\n... and {len(diffs) - MAX_REPORTED} more" if len(diffs) > MAX_REPORTED else ""
    assert not diffs, (f"{case}: {len(diffs)} differences from the golden output of commit "
                       f"{golden['doc']['generated_at']}:\n" + "\n".join(diffs[:MAX_REPORTED]) + more)


# ------------------------------------------------------------------------------ the guard itself
def test_golden_folder_holds_exactly_the_cases_files():
    expected = {p.name for c in CASES for p in golden_paths(c)}
    present = {p.name for p in Path(HERE).iterdir() if p.suffix in (".csv", ".json")}
    assert present == expected
    assert sum((HERE / n).stat().st_size for n in present) < 400_000  # small enough to review a diff of


def test_comparison_catches_changed_missing_and_extra_numbers():
    rows = [{"metric": "loss", "value": 0.25, "ids": {"step": "3", "labels": "true"}},
            {"metric": "lr", "value": math.nan, "ids": {}}]
    same = [{"metric": "loss", "value": 0.25 * (1 + 1e-12), "ids": {"labels": "true", "step": "3.0"}},
            {"metric": "lr", "value": math.nan, "ids": {}}]
    assert metric_diffs(same, rows) == []
    moved = [dict(rows[0], value=0.25 * (1 + 1e-8)), rows[1]]
    assert len(metric_diffs(moved, rows)) == 1
    assert len(metric_diffs(rows[:1], rows)) == 1                         # a row lost
    assert len(metric_diffs(rows + [dict(rows[0], ids={})], rows)) == 1   # a row gained
    assert not numbers_equal(1e-11, 0.0) and numbers_equal(1e-13, 0.0)
    want = {"claim": {"verdict": "agrees", "statistic": {"a": 1.0}, "threshold": None}}
    assert json_diffs({"claim": {"verdict": "agrees", "statistic": {"a": 1.0}, "threshold": None}}, want) == []
    assert len(json_diffs({"claim": {"verdict": "disagrees", "statistic": {"a": 1.0}, "threshold": None}}, want)) == 1
    assert len(json_diffs({"claim": {"verdict": "agrees", "statistic": {"a": 1.0}, "threshold": 0.0}}, want)) == 1
    assert len(json_diffs({"x": [1, 2]}, {"x": [1, 2, 3]})) == 1
    assert json_diffs({"x": 1, "new": 2}, {"x": 1.0}, extra_keys_ok=True) == []
    assert len(json_diffs({"x": True}, {"x": 1})) == 1                   # a boolean is not a number

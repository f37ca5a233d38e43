"""The claims framework: decision rules that can fail, missing statistics never pass, claims.json,
report tables and badges from the same records, ``reproduce --json`` / ``--strict``."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import numpy as np
import pytest
from matplotlib.figure import Figure

from twolayer import claims as C
from twolayer.cli import main
from twolayer.experiments import EXPERIMENTS, Experiment, judge_run, register, reproduce
from twolayer.report import build_index, build_report
from twolayer.runfolder import load_claims, load_meta


# ------------------------------------------------------------------------------ decisions
def test_decide_above_uses_the_standard_error_both_ways():
    assert C.decide_above(1.0, 0.5, 0.1) == C.AGREES            # 1 − 2·0.1 > 0.5
    assert C.decide_above(0.6, 0.5, 0.1) == C.INCONCLUSIVE      # band straddles
    assert C.decide_above(0.2, 0.5, 0.1) == C.DISAGREES          # 0.2 + 0.2 < 0.5
    assert C.decide_above(0.6, 0.5, 0.1, factor=0.5) == C.AGREES
    assert C.decide_above(0.6, 0.5, float("nan")) == C.INCONCLUSIVE   # one seed: unknown spread
    assert C.decide_above(float("nan"), 0.5) == C.INCONCLUSIVE
    assert C.decide_above(0.6, 0.5) == C.AGREES                   # exact statistic
    assert C.decide_below(0.2, 0.5, 0.1) == C.AGREES and C.decide_below(1.0, 0.5, 0.1) == C.DISAGREES
    assert C.decide_within(1.02, 1.0, 0.1, 0.01) == C.AGREES
    assert C.decide_within(1.3, 1.0, 0.1, 0.01) == C.DISAGREES
    assert C.decide_within(1.09, 1.0, 0.1, 0.01) == C.INCONCLUSIVE


def test_mean_se_matches_its_definition():
    m, se, k = C.mean_se([1.0, 2.0, 4.0, float("nan")])
    assert k == 3 and m == pytest.approx(7 / 3)
    assert se == pytest.approx(np.std([1, 2, 4], ddof=1) / math.sqrt(3))
    assert math.isnan(C.mean_se([3.0])[1]) and C.mean_se([])[2] == 0


def test_slope_fit_recovers_a_power_law_and_its_standard_error():
    rng = np.random.default_rng(0)
    x = np.geomspace(10, 1e4, 12)
    slopes = []
    for _ in range(400):
        y = 3.0 * x ** -0.5 * np.exp(0.05 * rng.standard_normal(x.size))
        slopes.append(C.slope_fit(x, y))
    est = np.array([s for s, _, _ in slopes])
    ses = np.array([se for _, se, _ in slopes])
    assert abs(est.mean() + 0.5) < 0.005
    # the OLS standard error matches the Monte Carlo spread of the estimate to ~10 %
    assert np.std(est) == pytest.approx(np.mean(ses), rel=0.15)
    s, se, k = C.slope_fit([1, 10], [1, 0.1])
    assert s == pytest.approx(-1) and math.isnan(se) and k == 2       # two points: no uncertainty
    assert math.isnan(C.slope_fit([1], [1])[0])


def test_correlations():
    x = np.arange(6.0)
    assert C.spearman(x, x ** 3) == pytest.approx(1) and C.pearson(x, -2 * x) == pytest.approx(-1)
    assert math.isnan(C.spearman(x, np.ones(6)))


# ------------------------------------------------------------------------------ evaluation
def _claim(judge, cid="c1", figure="fig"):
    return C.Claim(id=cid, figure=figure, statement="x is large", source="Paper, Thm 1", rule="x > 1",
                   threshold_reason="theory", judge=judge, assumptions="m large")


def test_missing_statistics_are_inconclusive_never_agree():
    rec, = C.evaluate([_claim(lambda r: C.Outcome(C.AGREES, r.value("x"), 1))], [{"metric": "y", "value": 2.0}])
    assert rec["verdict"] == C.INCONCLUSIVE and "lack x" in rec["reason"]
    rec, = C.evaluate([_claim(lambda r: C.Outcome(C.decide_above(r.value("x"), 1), r.value("x"), 1))],
                      [{"metric": "x", "value": 0.5}])
    assert rec["verdict"] == C.DISAGREES and rec["statistic"] == 0.5
    assert set(rec) >= {"figure", "claim", "statement", "source", "verdict", "statistic", "threshold", "reason",
                        "assumptions_met"}
    # a numerical failure inside the judge is inconclusive with the reason, not a traceback
    rec, = C.evaluate([_claim(lambda r: C.Outcome(C.AGREES, np.log(np.float64(0.0)) * 0))], [])
    assert rec["verdict"] == C.INCONCLUSIVE and "numerical failure" in rec["reason"]
    # a judge bug propagates
    with pytest.raises(ZeroDivisionError):
        C.evaluate([_claim(lambda r: 1 / 0)], [])
    with pytest.raises(ValueError, match="verdict must be"):
        C.Outcome("maybe")


def test_an_agrees_whose_assumptions_fail_is_never_reported_as_agrees():
    ok = C.Outcome(C.AGREES, 1.0, 0.5, reason="x passes.", assumptions_met=False)
    rec, = C.evaluate([_claim(lambda r: ok)], [])
    assert rec["verdict"] == C.INCONCLUSIVE and rec["assumptions_met"] is False
    assert "assumptions are not met" in rec["reason"] and "m large" in rec["reason"]
    bad = C.Outcome(C.DISAGREES, 0.1, 0.5, assumptions_met=False)
    assert C.evaluate([_claim(lambda r: bad)], [])[0]["verdict"] == C.DISAGREES   # a refutation stays one


def test_results_accessors():
    rows = [{"metric": "a", "value": 1.0, "seed": 0}, {"metric": "a", "value": 3.0, "seed": 1},
            {"metric": "a", "value": 10.0}, {"metric": "b", "value": 2.0, "width": 100, "kappa": 1.0}]
    res = C.Results(rows, {"resolved": {"lr": 0.5}})
    assert res.value("a", seed=None) == 10.0 and list(res.by_seed("a")) == [1.0, 3.0]
    assert res.value("b", width=100.0) == 2.0 and res.keys("b", "kappa") == [1.0]
    assert res.get("resolved.lr") == 0.5 and res.get("resolved.nope", 7) == 7
    with pytest.raises(C.Missing, match="b .*width=3"):
        res.value("b", width=3)


# ------------------------------------------------------------------------------ end to end
@dataclass(frozen=True)
class _UnitConfig:
    seed: int = 0
    x: float = 2.0
    diverge: bool = False


def _unit_run(cfg, ctx):
    from twolayer._errors import DivergenceError

    if cfg.diverge:
        raise DivergenceError("training diverged at step 3 (loss 1e9)")
    ctx.rf.write_metrics([{"metric": "x", "value": cfg.x}])
    fig = Figure(figsize=(2, 2))
    fig.subplots().plot([0, 1], [1, 0])
    ctx.save_figure(fig, "fig", caption="x against nothing.")


def _judge_x(res):
    x = res.value("x")
    return C.Outcome(C.decide_above(x, 1.0), x, 1.0, reason=f"x = {x:g}", assumptions_met=True)


@pytest.fixture
def unit_experiment():
    exp = register(Experiment(name="unit-claims", summary="unit", config=_UnitConfig, run=_unit_run,
                              presets={"laptop": {}, "paper": {}},
                              claims=(_claim(_judge_x), _claim(lambda r: C.Outcome(C.AGREES), cid="orphan",
                                                                figure="nowhere"))))
    yield exp
    EXPERIMENTS.pop("unit-claims")


def test_claims_json_report_badges_and_strict(unit_experiment, tmp_path, capsys):
    run = reproduce("unit-claims", out=tmp_path / "good", quiet=True, formats=("png",))
    recs = load_claims(run)
    assert [r["verdict"] for r in recs] == ["agrees", "agrees"] and recs == judge_run(run)
    page = (run / "report.html").read_text(encoding="utf-8")
    assert "badge ok" in page and "badge bad" not in page and "x against nothing." in page
    assert "2 agrees, 0 disagrees, 0 inconclusive" in page

    bad = tmp_path / "bad"
    assert main(["reproduce", "unit-claims", "--set", "x=0.5", "--out", str(bad), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["verdicts"] == {"agrees": 1, "disagrees": 1, "inconclusive": 0}
    assert out["claims"][0]["verdict"] == "disagrees" and out["claims"][0]["statistic"] == 0.5
    page = (bad / "report.html").read_text(encoding="utf-8")
    assert "badge bad" in page and "Verdict: disagrees" in page   # caption sentence and badge: same record
    assert main(["reproduce", "unit-claims", "--set", "x=0.5", "--out", str(tmp_path / "bad2"), "--strict",
                 "--quiet"]) == 3
    assert "1 claim(s) disagree" in capsys.readouterr().err
    assert main(["reproduce", "unit-claims", "--out", str(tmp_path / "ok2"), "--strict", "--quiet"]) == 0

    index = build_index(tmp_path, [run, bad]).read_text(encoding="utf-8")
    assert "4 claims: 3 agrees, 1 disagrees, 0 inconclusive" in index
    assert "Claims without a figure" in index


def test_a_diverged_run_finishes_with_every_claim_inconclusive(unit_experiment, tmp_path):
    out = tmp_path / "div"
    run = reproduce("unit-claims", out=out, sets=["diverge=true"], quiet=True, formats=("png",))
    recs = load_claims(run)
    assert {r["verdict"] for r in recs} == {"inconclusive"}
    assert all("diverged at step 3" in r["reason"] for r in recs)
    assert load_meta(run)["status"] == "failed"
    assert "diverged at step 3" in build_report(run).read_text(encoding="utf-8")


def test_report_says_when_claims_are_missing_or_corrupt(unit_experiment, tmp_path):
    run = reproduce("unit-claims", out=tmp_path / "r", quiet=True, formats=("png",))
    (run / "claims.json").write_text("{not json", encoding="utf-8")
    page = build_report(run).read_text(encoding="utf-8")
    assert "not a readable claims.json" in page and "badge ok" not in page
    (run / "claims.json").unlink()
    assert "claims.json is missing" in build_report(run).read_text(encoding="utf-8")

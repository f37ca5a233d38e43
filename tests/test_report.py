"""The HTML report: rebuilt from a copied run folder alone, escaped, verdicts read from claims.json."""

from __future__ import annotations

import base64
import re
import shutil

import pytest
from matplotlib.figure import Figure

from twolayer._errors import DataError
from twolayer.experiments import reproduce
from twolayer.report import build_report, figure_caption
from twolayer.runfolder import RunFolder, load_claims, load_metrics, metric_value, write_claims

IMG_RE = re.compile(r"data:image/png;base64,([A-Za-z0-9+/=]+)")


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    return reproduce("arora2019-fig1", out=tmp_path_factory.mktemp("orig") / "original_run", quiet=True,
                     sets=["n_train=60", "width=300", "steps=400", "records=12", "widths=100,300", "kappas=0.01",
                           "gram_draws=8"], formats=("png",))


def test_rebuilds_from_copied_folder(demo_run, tmp_path):
    copy = tmp_path / "elsewhere" / "copied"
    shutil.copytree(demo_run, copy)
    (copy / "report.html").unlink()
    out = build_report(copy)
    assert out == copy / "report.html" and out.is_file()
    page = out.read_text(encoding="utf-8")
    # every figure embedded, byte for byte
    pngs = sorted((copy / "figures").glob("*.png"))
    embedded = IMG_RE.findall(page)
    assert len(embedded) == len(pngs) >= 2
    assert {base64.b64decode(e) for e in embedded} == {p.read_bytes() for p in pngs}
    # no reference to where the run was made, nor to the copy's parent folders
    assert str(demo_run) not in page and demo_run.name not in page
    assert str(copy.parent) not in page
    # key numbers from the metrics
    m = load_metrics(copy)
    for name, labels in [("complexity", "true"), ("complexity", "random"), ("lambda_min", None)]:
        v = metric_value(m, name, labels=labels)
        assert f"{v:.4g}" in page or f"{v:.6g}" in page, name
    # the config and the data provenance are shown
    assert "experiment = &quot;arora2019-fig1&quot;" in page and "lr_fraction = 0.5" in page and "sha256" in page
    # every figure is shown, and every judged claim appears once in the table and once in a caption
    for name in ("loss_curves", "spectrum_projections"):
        assert f"id='fig-{name}'" in page
    for rec in load_claims(copy):
        assert page.count(f"Verdict: {rec['verdict']}.") >= 1 and f"<b>{rec['claim']}</b>" in page
    assert not list(copy.rglob("*.tmp"))


def test_report_identical_when_rebuilt(demo_run, tmp_path):
    copy = tmp_path / "c"
    shutil.copytree(demo_run, copy)
    first = build_report(copy).read_text(encoding="utf-8")
    assert build_report(copy).read_text(encoding="utf-8") == first


def _tiny_run(path, rows, config, caption=None, experiment="unit"):
    rf = RunFolder(path, experiment=experiment)
    rf.write_config(config)
    rf.write_metrics(rows)
    fig = Figure(figsize=(2, 2))
    fig.subplots().plot([0, 1], [1, 0])
    rf.save_figure(fig, "loss_curves", caption=caption, formats=("png",))
    rf.save_figure(fig, "other", caption=caption, formats=("png",))
    rf.finish()
    return rf.path


def _record(verdict, figure="loss_curves", claim="c", statement="s"):
    return {"figure": figure, "claim": claim, "statement": statement, "source": "src", "verdict": verdict,
            "statistic": 1.5, "threshold": 1.0, "reason": "because", "assumptions_met": None, "rule": "r",
            "threshold_reason": "t", "assumptions": ""}


def test_badges_and_captions_come_from_the_same_claim_records(tmp_path):
    run = _tiny_run(tmp_path / "r", [{"metric": "n", "value": 3}], {"experiment": "unit"}, caption="What is plotted.")
    write_claims(run, [_record("agrees"), _record("disagrees", claim="c2"), _record("inconclusive", figure="other")])
    page = build_report(run).read_text(encoding="utf-8")
    meta = __import__("twolayer.runfolder", fromlist=["load_meta"]).load_meta(run)
    text, verdict = figure_caption("loss_curves", meta, load_claims(run))
    assert verdict == "disagrees" and text.startswith("What is plotted.") and text.count("Verdict:") == 2
    assert figure_caption("other", meta, load_claims(run))[1] == "inconclusive"
    assert figure_caption("nothing", {}, []) == ("Figure nothing.", None)
    # badges: each claim in the top table and under its figure, plus one per figure (worst of its claims)
    assert page.count("badge bad") == 3 and page.count("badge unsure") == 3 and page.count("badge ok") == 2
    assert "1 agrees, 1 disagrees, 1 inconclusive" in page


def test_escaping_and_fallbacks(tmp_path):
    evil = "<script>alert('x')</script> & \"q\""
    run = _tiny_run(tmp_path / "e", [{"metric": "n", "value": 3, "labels": evil}],
                    {"experiment": "unit", "note": evil}, caption=evil, experiment="unit")
    write_claims(run, [_record("agrees", statement=evil)])
    page = build_report(run).read_text(encoding="utf-8")
    assert "<script>" not in page and "&lt;script&gt;alert(" in page
    assert page.count("&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &quot;q&quot;") >= 4


def test_report_of_incomplete_folder(tmp_path):
    rf = RunFolder(tmp_path / "crashed", experiment="unit")   # meta.json only, status "running"
    page = build_report(rf.path).read_text(encoding="utf-8")
    assert "Missing from this folder: config.toml, metrics.csv" in page
    assert "status is <b>running</b>" in page and "No figures" in page and "claims.json is missing" in page
    with pytest.raises(DataError, match="not a directory"):
        build_report(tmp_path / "nope")



def test_tables_meanings_vacuous_marks_and_scrolling(tmp_path):
    rows = [{"metric": "bound_total", "value": 2.96}, {"metric": "width", "value": 1000},
            {"metric": "final_loss", "value": 0.01},
            {"metric": "mystery", "value": 1.0, "noise": 0.5},                      # no meaning anywhere
            *[{"metric": m, "value": v, "noise": p, "width": 10} for p in (0.0, 0.5)
              for m, v in (("bound_total_mean", 0.8 + 4 * p), ("test_error_mean", 0.1), ("test_error_std", 0.01))]]
    run = _tiny_run(tmp_path / "t", rows, {"experiment": "unit", "width": 1000})
    page = build_report(run).read_text(encoding="utf-8")
    # a measured loss is not described as predicted; meanings from METRIC_DOCS and from the config
    assert "measured training loss at the last iteration" in page and "predicted loss at the last" not in page
    assert "width m (hidden units)" in page
    # a bound above its loss's range is marked vacuous (cell and note); one below is not
    assert "2.96 (vacuous: &gt; 1)" in page and "2.8 (vacuous: &gt; 1)" in page
    assert "0.8 (vacuous" not in page and "in 1 of 2 row(s): vacuous there" in page
    # the table whose only metric has no meaning has no "meaning" column
    by_noise = page.split("<h3>By noise</h3>")[1].split("</table>")[0]
    assert "mystery" in by_noise and "meaning" not in by_noise
    # wide tables scroll; their columns' meanings are listed, a mean/sd pair in one entry
    assert page.count("<div class='scroll'>") >= 3
    assert "<code>test_error_mean</code> / <code>test_error_std</code>: mean / sd over seeds of test classification" in page
    # each figure shown at its physical size (2 in at 100 dpi -> 192 CSS px)
    assert page.count("width='192'") == 2


def test_vacuous_mark_absent_when_every_bound_is_in_range(tmp_path):
    run = _tiny_run(tmp_path / "v", [{"metric": "bound_total", "value": 0.9}], {"experiment": "unit"})
    page = build_report(run).read_text(encoding="utf-8")
    assert "vacuous:" not in page and "vacuous there" not in page


def test_claim_text_once_per_figure_section(tmp_path):
    """Regression: under each figure the claim's reason was printed twice (caption and a table)."""
    run = _tiny_run(tmp_path / "c", [{"metric": "n", "value": 3}], {"experiment": "unit"}, caption="Plotted.")
    write_claims(run, [_record("agrees", claim="c1") | {"reason": "the unique reason text"}])
    page = build_report(run).read_text(encoding="utf-8")
    section = page.split("id='fig-loss_curves'")[1].split("</figure>")[0]
    assert section.count("the unique reason text") == 1 and "href='#claim-c1'" in section
    assert "id='claim-c1'" in page

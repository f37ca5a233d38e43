r"""Self-contained HTML report of a run folder, rebuilt from the folder's files alone.

:func:`build_report` reads ``config.toml``, ``meta.json``, ``metrics.csv`` and
``figures/*.png`` of a run folder and writes ``report.html`` (atomically): one page with the
figures embedded as base64 PNG, a caption under each figure, tables of the key numbers, the
configuration, the data provenance, versions and timings. It never reads the data, the arrays
or anything outside the folder, so it works on a copied or archived folder, and the page holds
no absolute path of the folder.

Claims and captions
-------------------
The verdicts come from ``claims.json``, written by :func:`twolayer.experiments.reproduce` from
the experiment's declared claims (:mod:`twolayer.claims`); this module imports no experiment and
evaluates nothing. Each figure's caption is its stored description (what is plotted, given when
the figure was saved) followed by one sentence per claim judged on it, and its badge is the most
severe of those verdicts (``disagrees`` > ``inconclusive`` > ``agrees``). A table of every claim
(statement, source, statistic vs threshold, verdict, reason) heads the page; claims whose figure
is missing are listed there too, so nothing judged is left unshown.
"""

from __future__ import annotations

import base64
import html
import json
import math
import numbers
from pathlib import Path

from ._errors import DataError
from ._loss_ranges import BOUND_LOSS, VACUOUS, is_vacuous, loss_range
from ._io import atomic_write_text
from .claims import caption_sentence, count_verdicts, fmt as _claim_fmt, worst_verdict
from .runfolder import (CLAIMS_FILE, CONFIG_FILE, FIGURES_DIR, ID_COLUMNS, META_FILE, METRICS_FILE, REPORT_FILE,
                        load_claims, load_config, load_meta, load_metrics)

__all__ = ["figure_caption", "render_report", "build_report", "build_index", "METRIC_DOCS", "metric_doc"]

#: One-line descriptions of known scalar metrics, shown in the key-number tables.
METRIC_DOCS = {
    "n": "training samples n",
    "d": "input dimension d",
    "n_test": "test samples",
    "lambda_min": "smallest eigenvalue λ_min of H∞",
    "lambda_max": "largest eigenvalue λ_max of H∞",
    "condition_number": "condition number λ_max/λ_min",
    "trace_H": "tr H∞",
    "trace_H_expected": "n/2 (tr H∞ on unit-norm inputs)",
    "trace_rel_error": "|tr H∞ − n/2| / (n/2)",
    "mean_eigenvalue": "mean eigenvalue tr(H∞)/n",
    "max_stable_lr": "largest stable learning rate 2n/λ_max (½n⁻¹Σ loss)",
    "lr": "learning rate η (½n⁻¹Σ loss)",
    "lr_fraction": "η as a fraction of the largest stable step",
    "eta_eff": "effective kernel step η/n",
    "k_max": "last GD iteration predicted",
    "delta": "failure probability δ of the bound",
    "random_complexity_expected": "√(2 tr(H⁻¹)/n): expected complexity of random ±1 labels",
    "complexity": "complexity √(2yᵀH⁻¹y/n) (Arora et al. eq. 10)",
    "yHy": "yᵀ(H∞)⁻¹y",
    "label_norm2": "‖y‖²",
    "bound_total": "Theorem 5.1 bound, explicit terms (on a loss in [0, 1]: above 1 it is vacuous)",
    "bound_complexity": "… complexity term",
    "bound_train_term": "… training term 1/√n",
    "bound_rademacher_slack": "… Rademacher slack 4/√n",
    "bound_concentration": "… concentration term",
    "bound_union_size": "… union size N_B",
    "initial_loss": "measured training loss at the first iteration",
    "final_loss": "measured training loss at the last iteration",
    "final_predicted_loss": "kernel-predicted loss (eq. 8) at the last iteration",
    "width": "width m (hidden units)",
    "kappa": "initialization scale κ",
    "steps": "GD iterations (budget)",
    "seeds": "seeds (independent repetitions)",
    "converge_fraction": "GD stops once the training loss is below this fraction of its start",
    "train_loss": "measured training loss at the end of training",
    "train_loss_ratio": "final / initial training loss",
    "test_l1_clipped": "test loss E min(|f(x) − y|, 1) (the loss Theorem 5.1 bounds)",
    "steps_run": "GD iterations actually run",
    "steps_to_half_loss": "first recorded k with loss ≤ ½ initial",
    "steps_to_tenth_loss": "first recorded k with loss ≤ 1/10 initial",
    "steps_to_hundredth_loss": "first recorded k with loss ≤ 1/100 initial",
    "test_error": "test classification error",
    "test_l1": "test ℓ1 loss E|f(x) − y|",
    "kernel_test_error": "test classification error of the kernel predictor",
}

_LABEL_TEXT = {"true": "true labels", "random": "random labels", "worst_case": "worst-case labels",
               "noisy": "noisy labels"}


# ------------------------------------------------------------------------------- helpers
def _fmt(v, digits: int = 4) -> str:
    """Compact number: integers as such, others with ``digits`` significant digits."""
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        return str(v)
    x = float(v)
    if math.isnan(x):
        return "–"
    if math.isinf(x):
        return "∞" if x > 0 else "−∞"
    if x == int(x) and abs(x) < 1e15:
        return str(int(x))
    if 1e3 <= abs(x) < 1e6:
        return f"{x:.0f}"
    return f"{x:.{digits}g}"


# ------------------------------------------------------------------------------ captions
def figure_caption(name: str, meta: dict, claims: list[dict]) -> tuple[str, str | None]:
    """Caption of figure ``name`` and its badge verdict.

    The text is the figure's description stored in ``meta["figures"][NAME]["caption"]`` when it
    was saved (what is plotted; no verdict), followed by one sentence per claim of ``claims.json``
    judged on this figure (:func:`twolayer.claims.caption_sentence`). The badge is the most
    severe verdict of those claims (None without claims), so caption and badge come from the
    same records and cannot disagree.
    """
    stored = ((meta or {}).get("figures") or {}).get(name, {})
    text = str(stored["caption"]) if isinstance(stored, dict) and stored.get("caption") else f"Figure {name}."
    mine = [r for r in claims if r.get("figure") == name]
    if mine:
        text = text.rstrip() + " " + " ".join(caption_sentence(r) for r in mine)
    return text, worst_verdict(r["verdict"] for r in mine)


def _badge(verdict: str | None) -> str:
    if verdict is None:
        return ""
    cls = {"agrees": "ok", "disagrees": "bad"}.get(verdict, "unsure")
    return f"<span class='badge {cls}'>{_e(verdict)}</span>"


def _claims_table(records: list[dict], *, with_figure: bool = False) -> str:
    """A table of claim records: claim (source), statistic vs threshold, verdict, reason."""
    if not records:
        return ""
    head = ("<th>figure</th>" if with_figure else "") + ("<th>claim</th><th>statistic</th><th>threshold</th>"
                                                         "<th>verdict</th><th>reason</th>")
    body = ""
    for r in records:
        assume = {True: "assumptions met", False: "assumptions NOT met", None: ""}.get(r.get("assumptions_met"), "")
        fig = f"<td><a href='#fig-{_e(r.get('figure', ''))}'>{_e(r.get('figure', ''))}</a></td>" if with_figure else ""
        body += (f"<tr id='claim-{_e(r.get('claim', ''))}'>{fig}<td class='claim'><b>{_e(r.get('claim', ''))}</b>: {_e(r.get('statement', ''))} "
                 f"<span class='note'>({_e(r.get('source', ''))}; rule: {_e(r.get('rule', ''))}; threshold: "
                 f"{_e(r.get('threshold_reason', ''))})</span></td>"
                 f"<td class='num'>{_e(_claim_fmt(r.get('statistic')))}</td>"
                 f"<td class='num'>{_e(_claim_fmt(r.get('threshold')))}</td>"
                 f"<td>{_badge(r.get('verdict'))}</td><td>{_e(r.get('reason', ''))}"
                 f"{'<br><span class=note>' + _e(assume) + (': ' + _e(r['assumptions']) if r.get('assumptions') else '') + '</span>' if assume else ''}"
                 f"</td></tr>")
    return f"<div class='scroll'><table class='claims'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"


def _counts_text(counts: dict) -> str:
    return ", ".join(f"{counts.get(v, 0)} {v}" for v in ("agrees", "disagrees", "inconclusive"))


def _read_claims(run: Path) -> tuple[list[dict], str | None]:
    """``(records, problem)``: the claims of ``run`` and a note if the file is missing or unreadable."""
    if not (run / CLAIMS_FILE).is_file():
        return [], f"{CLAIMS_FILE} is missing: nothing in this folder was judged"
    try:
        return load_claims(run), None
    except DataError as exc:
        return [], str(exc)


# ------------------------------------------------------------------------------- tables
_SUFFIX_DOCS = (("_mean", "mean over seeds of"), ("_std", "sd over seeds of"), ("_sd", "sd over seeds of"),
                ("_se", "standard error of"))


def metric_doc(metric: str, config: dict | None = None) -> str:
    """What ``metric`` means: :data:`METRIC_DOCS`, else from its suffix (``X_mean``: "mean over seeds
    of" X's meaning), else "setting (config.toml)" for a metric that echoes a config key, else ``""``."""
    if metric in METRIC_DOCS:
        return METRIC_DOCS[metric]
    for suffix, text in _SUFFIX_DOCS:
        if metric.endswith(suffix) and len(metric) > len(suffix):
            base = metric[: -len(suffix)]
            return f"{text} {METRIC_DOCS.get(base, base)}"
    cfg = (config or {}).get("config", config or {})
    if isinstance(cfg, dict) and metric in cfg:
        return f"setting {metric} (config.toml)"
    return ""


def _bound_loss(metric: str) -> str | None:
    """The loss ``metric`` bounds (:data:`~twolayer._loss_ranges.BOUND_LOSS`; also its ``_mean`` over seeds)."""
    return BOUND_LOSS.get(metric.removesuffix("_mean"))


def _vacuous(metric: str, value) -> bool:
    loss = _bound_loss(metric)
    return (loss is not None and isinstance(value, numbers.Real) and not isinstance(value, bool)
            and is_vacuous(value, loss))


def _cell(metric: str, value, digits: int = 4) -> str:
    """A table cell's text: the number, marked ``(vacuous: > hi)`` for a bound above its loss's range."""
    text = _fmt(value, digits)
    if _vacuous(metric, value):
        text += f" ({VACUOUS}: > {_fmt(loss_range(_bound_loss(metric))[1])})"
    return text


def _vacuous_note(rows: list[dict]) -> str:
    """A sentence under a table naming the bounds in it that are above their loss's range."""
    hits: dict[str, list[int]] = {}
    for r in rows:
        loss = _bound_loss(r["metric"])
        if loss is not None:
            hits.setdefault(r["metric"], [0, 0])
            hits[r["metric"]][0] += _vacuous(r["metric"], r["value"])
            hits[r["metric"]][1] += 1
    text = [f"<code>{_e(m)}</code> is above {_e(_fmt(loss_range(_bound_loss(m))[1]))}, the range of the loss it "
            f"bounds, in {k} of {n} row(s): {VACUOUS} there" for m, (k, n) in hits.items() if k]
    return f"<p class='warn'>{'; '.join(text)}.</p>" if text else ""


def _columns_note(docs: dict) -> str:
    """The meanings of a wide table's columns, a ``X_mean``/``X_std`` pair in one entry; columns
    whose meaning is only their name are left out."""
    items, seen = [], set()
    for m in docs:
        base = m.removesuffix("_mean").removesuffix("_std")
        if base in seen or m in seen:
            continue
        pair = [c for c in (f"{base}_mean", f"{base}_std") if c in docs]
        if base != m and len(pair) == 2 and base in METRIC_DOCS:
            items.append(f"<code>{_e(pair[0])}</code> / <code>{_e(pair[1])}</code>: mean / sd over seeds of "
                         f"{_e(METRIC_DOCS[base])}")
            seen.add(base)
        elif m in METRIC_DOCS or (base != m and base in METRIC_DOCS):
            items.append(f"<code>{_e(m)}</code>: {_e(docs[m])}")
            seen.add(m)
    return f"<p class='note'>Columns — {'; '.join(items)}.</p>" if items else ""


def _id_order(k: str) -> tuple:
    return (ID_COLUMNS.index(k), "") if k in ID_COLUMNS else (len(ID_COLUMNS), k)


def _summary_tables(metrics: list[dict], max_rows: int = 60, config: dict | None = None) -> list[str]:
    """Tables of every metric not indexed by seed, step or index, grouped by identifying keys; the
    "meaning" column (:func:`metric_doc`) only where some metric of the table has one, wide tables in
    a horizontally scrolling box with the columns' meanings listed under them."""
    groups: dict[tuple, list[dict]] = {}
    for r in metrics:
        ids = tuple(sorted((k for k in r if k not in ("metric", "value")), key=_id_order))
        if any(k in ("seed", "step", "index") for k in ids):
            continue
        groups.setdefault(ids, []).append(r)
    out = []
    for ids, rows in sorted(groups.items(), key=lambda kv: (len(kv[0]), kv[0])):
        metrics_order = list(dict.fromkeys(r["metric"] for r in rows))
        docs = {m: metric_doc(m, config) for m in metrics_order}
        with_doc = any(docs.values())
        def doc_td(m, docs=docs, with_doc=with_doc):
            return f"<td class='doc'>{_e(docs[m]) or '–'}</td>" if with_doc else ""

        doc_th = "<th>meaning</th>" if with_doc else ""
        if not ids:
            body = "".join(f"<tr><th scope='row'><code>{_e(r['metric'])}</code></th><td class='num'>"
                           f"{_e(_cell(r['metric'], r['value'], 6))}</td>{doc_td(r['metric'])}</tr>" for r in rows[:max_rows])
            out.append(f"<h3>Run</h3><div class='scroll'><table><thead><tr><th>metric</th><th>value</th>{doc_th}</tr>"
                       f"</thead><tbody>{body}</tbody></table></div>{_vacuous_note(rows)}")
            continue
        keys = list(dict.fromkeys(tuple(r.get(k) for k in ids) for r in rows))
        cell = {(tuple(r.get(k) for k in ids), r["metric"]): r["value"] for r in rows}
        title = "By " + ", ".join(ids)
        if len(ids) == 1 and len(keys) <= 8:  # metrics as rows, the id values as columns
            head = "".join(f"<th>{_e(_LABEL_TEXT.get(k[0], _fmt(k[0])))}</th>" for k in keys)
            body = ""
            for m in metrics_order[:max_rows]:
                tds = "".join(f"<td class='num'>{_e(_cell(m, cell.get((k, m), float('nan'))))}</td>" for k in keys)
                body += f"<tr><th scope='row'><code>{_e(m)}</code></th>{tds}{doc_td(m)}</tr>"
            out.append(f"<h3>{_e(title)}</h3><div class='scroll'><table><thead><tr><th>metric</th>{head}{doc_th}</tr>"
                       f"</thead><tbody>{body}</tbody></table></div>{_vacuous_note(rows)}")
        else:  # one row per id combination
            head = "".join(f"<th>{_e(k)}</th>" for k in ids) + "".join(f"<th><code>{_e(m)}</code></th>" for m in metrics_order)
            body = ""
            for key in keys[:max_rows]:
                tds = "".join(f"<td>{_e(_fmt(v))}</td>" for v in key)
                tds += "".join(f"<td class='num'>{_e(_cell(m, cell.get((key, m), float('nan'))))}</td>" for m in metrics_order)
                body += f"<tr>{tds}</tr>"
            more = f"<p class='note'>{len(keys) - max_rows} more rows in metrics.csv</p>" if len(keys) > max_rows else ""
            out.append(f"<h3>{_e(title)}</h3><div class='scroll'><table><thead><tr>{head}</tr></thead>"
                       f"<tbody>{body}</tbody></table></div>{_columns_note(docs)}{_vacuous_note(rows)}{more}")
    return out


def _kv_table(d: dict) -> str:
    rows = "".join(f"<tr><th scope='row'>{_e(k)}</th><td>{_e(v if isinstance(v, str) else json.dumps(v))}</td></tr>"
                   for k, v in d.items())
    return f"<table class='kv'><tbody>{rows}</tbody></table>"


def _e(x) -> str:
    return html.escape(str(x), quote=True)


_CSS = """
:root { --fg:#1d1d1f; --muted:#5f6368; --line:#e2e4e8; --bg:#ffffff; --band:#f6f7f9; --ok:#0072B2; --bad:#D55E00; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--fg);
       font: 16px/1.55 -apple-system, BlinkMacSystemFont, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1120px; margin: 0 auto; padding: 28px 24px 64px; }
h1 { font-size: 1.7rem; margin: 0 0 4px; }
h2 { font-size: 1.3rem; margin: 40px 0 12px; padding-bottom: 6px; border-bottom: 1px solid var(--line); }
h3 { font-size: 1.05rem; margin: 22px 0 8px; color: #333; }
.sub { color: var(--muted); margin: 0 0 8px; }
nav a { margin-right: 14px; color: var(--ok); text-decoration: none; font-size: .95rem; }
figure { margin: 22px 0 34px; padding: 14px; border: 1px solid var(--line); border-radius: 8px; background: #fff; }
figure img { display: block; max-width: 100%; height: auto; margin: 0 auto; }
figcaption { margin-top: 10px; font-size: .95rem; color: #333; }
figcaption .name { font-weight: 600; font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: .8rem; font-weight: 600;
         margin-left: 6px; vertical-align: 1px; }
.badge.ok { background: #e3f0f9; color: var(--ok); }
.badge.bad { background: #fbe9df; color: var(--bad); }
.badge.unsure { background: #f3f0d9; color: #7a6500; }
table.claims { font-size: .85rem; }
table.claims td { max-width: 520px; }
table.claims td.claim { min-width: 20em; }
table.claims td.num { white-space: normal; min-width: 8em; max-width: 16em; overflow-wrap: anywhere; text-align: left; }
table { border-collapse: collapse; margin: 6px 0 14px; font-size: .9rem; }
th, td { padding: 4px 10px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
thead th { background: var(--band); font-weight: 600; }
td.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
td.doc { color: var(--muted); }
table.kv th { font-weight: 600; white-space: nowrap; }
.scroll { overflow-x: auto; }
pre { background: var(--band); border: 1px solid var(--line); border-radius: 6px; padding: 12px; overflow-x: auto;
      font-size: .82rem; line-height: 1.45; }
.note { color: var(--muted); font-size: .9rem; }
.warn { border-left: 4px solid var(--bad); background: #fdf3ee; padding: 8px 12px; }
footer { margin-top: 48px; color: var(--muted); font-size: .85rem; }
"""


def _inside(run: Path, p: Path) -> bool:
    """A regular file (not a link) whose real path lies inside the run folder: the only kind embedded."""
    try:
        return p.is_file() and not p.is_symlink() and p.resolve().is_relative_to(run.resolve())
    except OSError:
        return False


def _figure_names(run: Path, meta: dict) -> list[str]:
    fig_dir = run / FIGURES_DIR
    if fig_dir.is_symlink():
        return []
    present = {p.stem for p in fig_dir.glob("*.png") if _inside(run, p)} if fig_dir.is_dir() else set()
    listed = [n for n in ((meta or {}).get("figures") or {}) if n in present]
    return listed + sorted(present - set(listed))


#: CSS pixels per inch: a figure is shown at its physical size (its fonts at their point sizes), at most the page width.
CSS_DPI = 96


def png_display_width(png: bytes) -> int | None:
    """CSS width (px) that shows a PNG at its physical size: pixel width × :data:`CSS_DPI` / its dpi,
    the dpi read from the ``pHYs`` chunk matplotlib writes (150 if there is none). None if the bytes
    are not a PNG. Cost: a scan of the chunk headers."""
    if png[:8] != b"\x89PNG\r\n\x1a\n" or png[12:16] != b"IHDR":
        return None
    width, dpi, i = int.from_bytes(png[16:20], "big"), 150.0, 8
    while i + 8 <= len(png):
        size, kind = int.from_bytes(png[i:i + 4], "big"), png[i + 4:i + 8]
        if kind == b"pHYs" and size >= 9 and png[i + 16] == 1:  # unit: metre
            dpi = int.from_bytes(png[i + 8:i + 12], "big") * 0.0254
            break
        if kind in (b"IDAT", b"IEND"):
            break
        i += 12 + size
    return max(1, round(width * CSS_DPI / dpi)) if dpi > 0 else None


def _figure_html(run: Path, name: str, meta: dict, claims: list[dict], *, table: bool = True) -> str:
    """One ``<figure>``: the embedded PNG at its physical size, its caption (what is drawn, then one
    sentence per claim judged on it) with the badge, and (``table``) links to those claims' rows in
    the claims table (their full text is in the caption already, so it is not repeated)."""
    png = (run / FIGURES_DIR / f"{name}.png").read_bytes()
    text, verdict = figure_caption(name, meta, claims)
    vector = [f"{FIGURES_DIR}/{name}.{ext}" for ext in ("pdf", "svg") if (run / FIGURES_DIR / f"{name}.{ext}").is_file()]
    pdf_note = f" <span class='note'>(vector version: {_e(', '.join(vector))})</span>" if vector else ""
    mine = [r for r in claims if r.get("figure") == name]
    links = ("<p class='note'>Claims judged on this figure: " + ", ".join(
        f"<a href='#claim-{_e(r.get('claim', ''))}'>{_e(r.get('claim', ''))}</a>{_badge(r.get('verdict'))}"
        for r in mine) + "</p>") if table and mine else ""
    w = png_display_width(png)
    size = f" width='{w}'" if w else ""
    return (f"<figure id='fig-{_e(name)}'><img alt='{_e(name)}'{size} src='data:image/png;base64,"
            f"{base64.b64encode(png).decode('ascii')}'><figcaption><span class='name'>{_e(name)}</span>"
            f"{_badge(verdict)} — {_e(text)}{pdf_note}</figcaption>{links}</figure>")


#: Types of the ``meta.json`` entries the report reads; entries of another type are left out.
_META_TYPES = {"figures": dict, "environment": dict, "timings_s": dict, "data": dict, "experiment": str,
               "status": str, "started": str, "finished": str, "wall_time_s": (int, float)}


def _read_meta(run: Path) -> tuple[dict, list[str]]:
    """``meta.json`` with the entries of a wrong type left out, and the names of those entries."""
    meta = load_meta(run)
    bad = [k for k, t in _META_TYPES.items() if k in meta and meta[k] is not None and not isinstance(meta[k], t)]
    for k in bad:
        meta.pop(k)
    return meta, bad


def render_report(run_dir) -> str:
    """The HTML text of the report of ``run_dir`` (see :func:`build_report`)."""
    run = Path(run_dir)
    if not run.is_dir():
        raise DataError(f"{run} is not a directory; pass a run folder (holding config.toml, meta.json, metrics.csv)")
    missing, config, meta, metrics = [], {}, {}, []
    config_text = ""
    if (run / CONFIG_FILE).is_file():
        config = load_config(run)
        config_text = (run / CONFIG_FILE).read_text(encoding="utf-8")
    else:
        missing.append(CONFIG_FILE)
    if (run / META_FILE).is_file():
        meta, bad = _read_meta(run)
        if bad:
            missing.append(f"(malformed entries of {META_FILE}: {', '.join(bad)})")
    else:
        missing.append(META_FILE)
    if (run / METRICS_FILE).is_file():
        metrics = load_metrics(run)
    else:
        missing.append(METRICS_FILE)

    exp = meta.get("experiment") or config.get("experiment") or "run"
    env = meta.get("environment") or {}
    head = [f"folder <code>{_e(run.name)}</code>", f"status {_e(meta.get('status', 'unknown'))}"]
    if meta.get("started"):
        head.append(f"started {_e(meta['started'])}")
    if meta.get("wall_time_s") is not None:
        head.append(f"wall time {_e(_fmt(meta['wall_time_s'], 3))} s")
    if env.get("twolayer"):
        head.append(f"twolayer {_e(env['twolayer'])}")
    data = meta.get("data") or {}
    dname = data.get("spec") or data.get("source")
    if dname:
        head.append(f"data <code>{_e(dname)}</code>")

    parts = [f"<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
             f"<meta name='viewport' content='width=device-width, initial-scale=1'>"
             f"<title>twolayer · {_e(exp)} · {_e(run.name)}</title><style>{_CSS}</style></head><body><main>",
             f"<h1>twolayer — {_e(exp)} run</h1><p class='sub'>{' · '.join(head)}</p>",
             "<nav><a href='#claims'>Claims</a><a href='#figures'>Figures</a><a href='#numbers'>Key numbers</a><a href='#config'>Configuration</a>"
             "<a href='#data'>Data</a><a href='#environment'>Environment</a></nav>"]
    if missing:
        parts.append(f"<p class='warn'>Missing from this folder: {_e(', '.join(missing))}. The report shows what "
                     f"is there.</p>")
    if meta.get("status") not in (None, "complete"):
        parts.append(f"<p class='warn'>This run's status is <b>{_e(meta.get('status'))}</b>: it may not have "
                     f"finished.</p>")

    given = config.get("kernel") if isinstance(config, dict) else None
    if isinstance(given, str) and given not in ("first-layer",):
        parts.append(f"<p class='warn'>The predictions of this run use the kernel <code>{_e(given)}</code> in place "
                     f"of the paper's H∞ (<code>kernel</code> in the configuration): the network is the paper's, and "
                     f"the verdicts say whether <i>this</i> kernel describes it.</p>")

    # claims, then figures
    claims, problem = _read_claims(run)
    parts.append("<h2 id='claims'>Claims</h2>")
    if problem:
        parts.append(f"<p class='warn'>{_e(problem)}.</p>")
    if claims:
        counts = count_verdicts(claims)
        parts.append(f"<p class='sub'>{len(claims)} claim(s) judged from {METRICS_FILE}: {_e(_counts_text(counts))}. "
                     f"A verdict is <i>inconclusive</i> when the statistic's uncertainty across seeds straddles "
                     f"the threshold or it could not be computed.</p>")
        parts.append(_claims_table(claims, with_figure=True))
    elif not problem:
        parts.append("<p class='note'>This experiment declares no claims.</p>")
    parts.append("<h2 id='figures'>Figures</h2>")
    names = _figure_names(run, meta)
    if not names:
        parts.append("<p class='note'>No figures in this folder.</p>")
    for name in names:
        parts.append(_figure_html(run, name, meta, claims))

    # key numbers
    parts.append("<h2 id='numbers'>Key numbers</h2>")
    if metrics:
        parts.append(f"<p class='note'>From {METRICS_FILE} ({len(metrics)} rows, tidy: one value per row). Rows per "
                     f"seed, step or eigen-index are left out here.</p>")
        parts.extend(_summary_tables(metrics, config=config))
    else:
        parts.append("<p class='note'>No metrics.</p>")

    # configuration, data, environment
    parts.append(f"<h2 id='config'>Configuration</h2><p class='note'>{CONFIG_FILE}, as written by the run "
                 f"(resolved, seeds included):</p><pre>{_e(config_text or '(missing)')}</pre>")
    parts.append("<h2 id='data'>Data provenance</h2>")
    parts.append(f"<pre>{_e(json.dumps(data, indent=2, ensure_ascii=False)) if data else '(not recorded)'}</pre>")
    parts.append("<h2 id='environment'>Environment and timings</h2>")
    if env:
        parts.append(_kv_table({k: v for k, v in env.items() if k != "blas"}))
        if env.get("blas") is not None:
            parts.append(f"<h3>BLAS / thread pools</h3><pre>{_e(json.dumps(env['blas'], indent=2))}</pre>")
    timings = meta.get("timings_s") or {}
    if timings:
        parts.append("<h3>Timings (s)</h3>" + _kv_table({k: _fmt(v, 3) for k, v in timings.items()}))
    run_info = {k: meta[k] for k in ("started", "finished", "wall_time_s") if meta.get(k) is not None}
    if run_info:
        parts.append("<h3>Run</h3>" + _kv_table(run_info))
    parts.append("<footer>Built by <code>twolayer.report.build_report</code> from the files of this folder alone "
                 "(config.toml, meta.json, metrics.csv, claims.json, figures/*.png). Verdicts are read from claims.json."
                 "</footer></main></body></html>\n")
    return "\n".join(parts)


def build_report(run_dir) -> Path:
    """(Re)build ``report.html`` of a run folder from the folder's files alone; return its path.

    Reads ``config.toml``, ``meta.json``, ``metrics.csv`` and ``figures/*.png`` (any of them may
    be missing: the report says so), embeds the figures as base64 PNG, writes atomically.
    """
    run = Path(run_dir)
    return atomic_write_text(run / REPORT_FILE, render_report(run))


def build_index(folder, run_dirs, *, title: str = "twolayer runs", name: str = REPORT_FILE) -> Path:
    """One page linking the reports of several run folders (written atomically to ``folder/name``).

    For each run: the experiment, its status and wall time, every figure (embedded PNG) with its
    computed caption and agree/disagree badge, and a relative link to the run's own report. Like
    :func:`render_report` it reads only the run folders' files.
    """
    folder = Path(folder)
    runs = [Path(r) for r in run_dirs]
    parts = [f"<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
             f"<meta name='viewport' content='width=device-width, initial-scale=1'><title>{_e(title)}</title>"
             f"<style>{_CSS}</style></head><body><main><h1>{_e(title)}</h1>"]
    summary, total = [], {"agrees": 0, "disagrees": 0, "inconclusive": 0}
    for run in runs:
        meta = _read_meta(run)[0] if (run / META_FILE).is_file() else {}
        config = load_config(run) if (run / CONFIG_FILE).is_file() else {}
        claims, problem = _read_claims(run)
        counts = count_verdicts(claims)
        for k in total:
            total[k] += counts.get(k, 0)
        exp = meta.get("experiment") or run.name
        summary.append(f"<tr><td><a href='#{_e(exp)}'>{_e(exp)}</a></td><td>{_e(meta.get('status', 'missing'))}</td>"
                       f"<td class='num'>{_e(_fmt(meta.get('wall_time_s', float('nan')), 3))}</td>"
                       + "".join(f"<td class='num'>{counts.get(k, 0)}</td>" for k in total) + "</tr>")
        try:
            link = (run / REPORT_FILE).relative_to(folder).as_posix()
        except ValueError:
            link = (run / REPORT_FILE).as_posix()
        parts.append(f"<h2 id='{_e(exp)}'>{_e(exp)}</h2><p class='sub'>{_e(config.get('paper', ''))} · "
                     f"<a href='{_e(link)}'>full report</a> · folder <code>{_e(run.name)}</code> · claims: "
                     f"{_e(_counts_text(counts))}</p>")
        if problem:
            parts.append(f"<p class='warn'>{_e(problem)}.</p>")
        for fig_name in _figure_names(run, meta):
            parts.append(_figure_html(run, fig_name, meta, claims))
        shown = set(_figure_names(run, meta))
        orphans = [r for r in claims if r.get("figure") not in shown]
        if orphans:
            parts.append("<h3>Claims without a figure in this folder</h3>" + _claims_table(orphans, with_figure=True))
    table = ("<table><thead><tr><th>experiment</th><th>status</th><th>wall time (s)</th><th>claims agreeing</th>"
             "<th>disagreeing</th><th>inconclusive</th></tr></thead><tbody>" + "".join(summary) + "</tbody></table>")
    parts.insert(1, f"<p class='sub'>{len(runs)} run(s), {sum(total.values())} claims: {_e(_counts_text(total))}. "
                    f"Each section repeats the run's figures with their claims and verdicts and links to its full "
                    f"report.</p>{table}")
    parts.append("<footer>Built by <code>twolayer.report.build_index</code> from the run folders' files alone."
                 "</footer></main></body></html>\n")
    return atomic_write_text(folder / name, "\n".join(parts))

r"""Self-contained HTML report of a run folder, rebuilt from the folder's files alone.

:func:`build_report` reads ``config.toml``, ``meta.json``, ``metrics.csv`` and
``figures/*.png`` of a run folder and writes ``report.html`` (atomically): one page with the
figures embedded as base64 PNG, a caption under each figure, tables of the key numbers, the
configuration, the data provenance, versions and timings. It never reads the data, the arrays
or anything outside the folder, so it works on a copied or archived folder, and the page holds
no absolute path of the folder.

Captions
--------
Each figure's caption states what the paper predicts and whether this run agrees, **computed
from the metrics** by a function registered in :data:`CAPTIONS`::

    @register_caption("myexperiment/loss_curves")       # or a bare figure name
    def _caption(metrics: list[dict], config: dict) -> str | tuple[str, bool | None]:
        ...

``metrics`` are the rows of :func:`twolayer.runfolder.load_metrics`, ``config`` the parsed
``config.toml``. Return the text, or ``(text, agrees)`` with ``agrees`` True/False (shown as a
badge) or None. For a figure ``NAME`` of an experiment ``EXP`` (``meta["experiment"]``), the
report uses, in order: ``CAPTIONS["EXP/NAME"]``, ``CAPTIONS["NAME"]``, the static caption stored
in ``meta["figures"][NAME]["caption"]`` when the figure was saved
(:meth:`twolayer.runfolder.RunFolder.save_figure`), and finally just the figure name. A caption
function that finds the metrics it needs missing raises ``KeyError``/``ValueError``; the report
then falls back to the next source.

The captions for the figure names written by :func:`twolayer.demo.run_demo` (``loss_curves``,
``spectrum_projections``, ``complexity_vs_noise``, ``eigenvalues``, ``bound_terms``) are
registered here under their bare names and read the metric names used there
(``predicted_loss``, ``label_energy``, ``complexity_mean``, ...), so experiments that record the
same metrics get them for free.
"""

from __future__ import annotations

import base64
import html
import json
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ._errors import DataError
from ._io import atomic_write_text
from .runfolder import (CONFIG_FILE, FIGURES_DIR, ID_COLUMNS, META_FILE, METRICS_FILE, REPORT_FILE,
                        load_config, load_meta, load_metrics, metric_value, select_metrics)

__all__ = ["CAPTIONS", "register_caption", "figure_caption", "render_report", "build_report", "build_index",
           "METRIC_DOCS"]

#: Caption functions keyed by figure name (or ``"experiment/name"``); see the module docstring.
CAPTIONS: dict[str, Callable] = {}

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
    "bound_total": "Theorem 5.1 bound, explicit terms",
    "bound_complexity": "… complexity term",
    "bound_train_term": "… training term 1/√n",
    "bound_rademacher_slack": "… Rademacher slack 4/√n",
    "bound_concentration": "… concentration term",
    "bound_union_size": "… union size N_B",
    "initial_loss": "predicted loss at k = 0",
    "final_loss": "predicted loss at the last iteration",
    "steps_to_half_loss": "first recorded k with loss ≤ ½ initial",
    "steps_to_tenth_loss": "first recorded k with loss ≤ 1/10 initial",
    "steps_to_hundredth_loss": "first recorded k with loss ≤ 1/100 initial",
    "test_error": "test classification error (kernel predictor)",
    "test_l1": "test ℓ1 loss E|f(x) − y| (kernel predictor)",
}

_LABEL_TEXT = {"true": "true labels", "random": "random labels", "worst_case": "worst-case labels",
               "noisy": "noisy labels"}


def register_caption(name: str):
    """Decorator: register ``func(metrics, config)`` as the caption of figure ``name``."""
    def deco(func):
        CAPTIONS[name] = func
        return func
    return deco


# ------------------------------------------------------------------------------- helpers
def _fmt(v, digits: int = 4) -> str:
    """Compact number: integers as such, others with ``digits`` significant digits."""
    try:
        x = float(v)
    except (TypeError, ValueError):
        return str(v)
    if math.isnan(x):
        return "–"
    if math.isinf(x):
        return "∞" if x > 0 else "−∞"
    if x == int(x) and abs(x) < 1e15:
        return str(int(x))
    if 1e3 <= abs(x) < 1e6:
        return f"{x:.0f}"
    return f"{x:.{digits}g}"


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _curve(metrics, metric: str, **ids) -> tuple[np.ndarray, np.ndarray]:
    """``(steps, values)`` of ``metric`` over ``step``; rows of single seeds are left out unless
    ``seed`` is given (a run with seeds records their mean without a seed column)."""
    ids.setdefault("seed", None)
    rows = [r for r in select_metrics(metrics, metric, **ids) if "step" in r]
    if not rows:
        raise KeyError(f"no {metric} rows for {ids}")
    rows.sort(key=lambda r: r["step"])
    return np.array([r["step"] for r in rows], float), np.array([r["value"] for r in rows], float)


def _by_noise(metrics, metric: str, labels: str = "noisy") -> tuple[np.ndarray, np.ndarray]:
    rows = [r for r in select_metrics(metrics, metric, labels=labels, seed=None) if "noise" in r]
    if not rows:
        raise KeyError(f"no {metric} rows by noise")
    rows.sort(key=lambda r: r["noise"])
    return np.array([r["noise"] for r in rows], float), np.array([r["value"] for r in rows], float)


def _spearman(x: np.ndarray, y: np.ndarray) -> float:
    from scipy.stats import rankdata

    rx, ry = rankdata(x), rankdata(y)
    if np.std(rx) == 0 or np.std(ry) == 0:
        return float("nan")
    return float(np.corrcoef(rx, ry)[0, 1])


def _verdict(ok: bool) -> str:
    return "this run agrees" if ok else "this run does NOT agree"


# ------------------------------------------------------------------ captions of the demo
@register_caption("loss_curves")
def _caption_loss_curves(metrics, config):
    curves = {lab: _curve(metrics, "predicted_loss", labels=lab) for lab in ("true", "random", "worst_case")
              if select_metrics(metrics, "predicted_loss", labels=lab)}
    if "true" not in curves or len(curves) < 2:
        raise KeyError("need predicted_loss for true labels and another label set")
    steps, true = curves["true"]
    hit = np.nonzero(true <= 0.01 * true[0])[0]
    j = int(hit[0]) if hit.size else len(steps) - 1
    k = steps[j]
    at = {lab: float(np.interp(k, s, v)) for lab, (s, v) in curves.items()}
    order = [lab for lab in ("true", "random", "worst_case") if lab in curves]
    ok = True
    for a, b in zip(order, order[1:]):
        sa, va = curves[a]
        sb, vb = curves[b]
        if not np.array_equal(sa, sb) or np.any(va[sa > 0] > vb[sb > 0] * (1 + 1e-9) + 1e-300):
            ok = False
    parts = [f"{_fmt(at[lab], 3)} for {_LABEL_TEXT[lab]}" for lab in order]
    try:
        frac = metric_value(metrics, "lr_fraction")
        lr_txt = f" (½n⁻¹Σ loss, η = {_fmt(frac, 3)} × the largest stable step)"
    except KeyError:
        lr_txt = ""
    text = (f"Arora et al. (Fig. 1a, §4) predict that GD converges fastest on true labels, more slowly on random "
            f"labels and slowest on worst-case labels. Predicted loss{lr_txt} after k = {_fmt(k)} iterations: "
            + " vs ".join(parts) + ". "
            + (f"The ordering {' < '.join(_LABEL_TEXT[o].split()[0] for o in order)} holds at all "
               f"{int(np.sum(steps > 0))} recorded iterations: {_verdict(True)}." if ok else
               f"The ordering {' < '.join(order)} is violated at some recorded iterations: {_verdict(False)}."))
    measured = [lab for lab in order if select_metrics(metrics, "loss", labels=lab)]
    if measured:
        devs = []
        for lab in measured:
            s, v = _curve(metrics, "loss", labels=lab)
            ps, pv = curves[lab]
            common = np.intersect1d(s, ps)
            if common.size:
                dm = v[np.searchsorted(s, common)] - pv[np.searchsorted(ps, common)]
                devs.append(float(np.max(np.abs(dm))) / max(float(pv[0]), 1e-300))
        if devs:
            text += f" Measured GD stays within {_pct(max(devs))} of the initial loss from the prediction."
    return text, ok


@register_caption("spectrum_projections")
def _caption_spectrum_projections(metrics, config):
    n = int(metric_value(metrics, "n"))
    k = math.ceil(n / 10)
    share = {lab: metric_value(metrics, "label_energy", labels=lab, index=k)
             for lab in ("true", "random", "worst_case")
             if select_metrics(metrics, "label_energy", labels=lab, index=k)}
    if "true" not in share:
        raise KeyError("need label_energy of true labels")
    uniform = k / n
    ok = share["true"] > max(share.get("random", 0.0), uniform)
    parts = [f"{_pct(share['true'])} of ‖y‖² for true labels"]
    if "random" in share:
        parts.append(f"{_pct(share['random'])} for random labels")
    if "worst_case" in share:
        parts.append(f"{_pct(share['worst_case'])} for the worst case")
    return (f"Arora et al. (Fig. 1b, §4) predict that the projections vᵢᵀy of true labels concentrate on the top "
            f"eigenvectors of H∞, those of random labels spread evenly and the worst case sits on the last one. "
            f"Here the top 10% of eigenvectors (i ≤ {k}) carry " + " vs ".join(parts)
            + f" ({_pct(uniform)} under an even spread): {_verdict(ok)}."), ok


@register_caption("complexity_vs_noise")
def _caption_complexity_vs_noise(metrics, config):
    p, c = _by_noise(metrics, "complexity_mean")
    try:
        _, sd = _by_noise(metrics, "complexity_std")
    except KeyError:
        sd = np.zeros_like(c)
    seeds = {r["seed"] for r in select_metrics(metrics, "complexity", labels="noisy") if "seed" in r}
    se = sd / math.sqrt(max(len(seeds), 1))
    rho = _spearman(p, c)
    dc = np.diff(c)
    dips = np.nonzero(dc <= 0)[0]
    # a dip of the mean counts against the claim only if it exceeds 2 standard errors of the difference
    real = [j for j in dips if -dc[j] > 2.0 * math.hypot(se[j], se[j + 1])]
    ok = bool(c[-1] > c[0] and not real and rho > 0.8)
    if not dips.size:
        mono = "increasing at every step"
    else:
        where = ", ".join(f"p = {_fmt(p[j + 1])}" for j in dips)
        mono = (f"{dips.size} dip(s) of the mean (at {where}), "
                + ("all within 2 standard errors of seed noise" if not real else f"{len(real)} beyond seed noise"))
    text = (f"Arora et al. (Fig. 2, §5) predict that the complexity √(2yᵀH⁻¹y/n) grows with the portion of noisy "
            f"labels and separates true from random labels. Here it rises from {_fmt(c[0], 3)} ± {_fmt(sd[0], 2)} at "
            f"p = {_fmt(p[0])} to {_fmt(c[-1], 3)} ± {_fmt(sd[-1], 2)} at p = {_fmt(p[-1])} (mean ± sd over "
            f"{len(seeds)} seeds; Spearman ρ = {_fmt(rho, 3)}; {mono}): {_verdict(ok)}.")
    try:
        _, ex = _by_noise(metrics, "complexity_expected")
        if ex.shape == c.shape:
            text += (f" The exact expectation √E[C²] (dotted) is within {_pct(float(np.max(np.abs(c - ex) / ex)))} "
                     f"of the seed mean at every p.")
    except KeyError:
        pass
    try:
        ref = metric_value(metrics, "random_complexity_expected")
        text += f" For random ±1 labels theory expects √(2 tr(H⁻¹)/n) ≈ {_fmt(ref, 3)}."
    except KeyError:
        pass
    try:
        _, e = _by_noise(metrics, "test_error_mean")
        rho_e = _spearman(c, e)
        text += (f" The kernel predictor's test error goes from {_fmt(e[0], 3)} to {_fmt(e[-1], 3)} and tracks the "
                 f"complexity (Spearman ρ = {_fmt(rho_e, 3)}).")
    except KeyError:
        pass
    return text, ok


@register_caption("eigenvalues")
def _caption_eigenvalues(metrics, config):
    lo, hi = metric_value(metrics, "lambda_min"), metric_value(metrics, "lambda_max")
    tr, half = metric_value(metrics, "trace_H"), metric_value(metrics, "trace_H_expected")
    rel = abs(tr - half) / half
    ok = lo > 0 and rel < 1e-10
    return (f"For unit-norm inputs H∞ has diagonal ½, so tr H∞ = n/2 (§3), and it is positive definite when no two "
            f"inputs are parallel (Remark 5.1). Here tr H∞ = {tr:.10g} vs n/2 = {_fmt(half)} (relative error "
            f"{rel:.1e}); λ_min = {_fmt(lo, 3)} > 0, λ_max = {_fmt(hi, 3)}, condition number {_fmt(hi / lo, 3)}: "
            f"{_verdict(ok)}."), ok


@register_caption("bound_terms")
def _caption_bound_terms(metrics, config):
    tot = {lab: metric_value(metrics, "bound_total", labels=lab) for lab in ("true", "random", "worst_case")
           if select_metrics(metrics, "bound_total", labels=lab, seed=None)}
    if "true" not in tot:
        raise KeyError("need bound_total of true labels")
    n = int(metric_value(metrics, "n"))
    ok = all(tot["true"] < v for lab, v in tot.items() if lab != "true")
    parts = [f"{_fmt(v, 3)} for {_LABEL_TEXT[lab]}" for lab, v in tot.items()]
    text = (f"Theorem 5.1 bounds the test error by the complexity plus O(√(log(n/λ₀δ)/n)) terms, so it should be "
            f"smaller for true than for random labels. Here (n = {n}) the explicit terms sum to " + ", ".join(parts)
            + f"; {'all above 1 (vacuous at this n)' if min(tot.values()) > 1 else 'the true-label bound is non-trivial'}.")
    try:
        _, b = _by_noise(metrics, "bound_total_mean")
        _, e = _by_noise(metrics, "test_error_mean")
        above = bool(np.all(b >= e))
        ok = ok and above
        text += (f" The bound is {'above' if above else 'NOT above'} the kernel predictor's test error at every "
                 f"noise level")
    except KeyError:
        text += f" The ordering true < other label sets {'holds' if ok else 'fails'}"
    return text + f": {_verdict(ok)}.", ok


# ------------------------------------------------------------------------------ captions
def figure_caption(name: str, metrics: list[dict], config: dict, meta: dict) -> tuple[str, bool | None]:
    """Caption of figure ``name``: registry (``EXP/NAME``, ``NAME``), then ``meta``, then the name."""
    exp = (meta or {}).get("experiment") or (config or {}).get("experiment")
    if exp and f"{exp}/{name}" not in CAPTIONS:
        from . import experiments

        experiments._load_all()  # experiment modules register their captions on import
    keys = ([f"{exp}/{name}"] if exp else []) + [name]
    for key in keys:
        func = CAPTIONS.get(key)
        if func is None:
            continue
        try:
            out = func(metrics, config)
        except (KeyError, ValueError, IndexError, ZeroDivisionError, TypeError):
            continue
        return (out if isinstance(out, tuple) else (str(out), None))
    stored = ((meta or {}).get("figures") or {}).get(name, {})
    if isinstance(stored, dict) and stored.get("caption"):
        return str(stored["caption"]), None
    return f"Figure {name}.", None


# ------------------------------------------------------------------------------- tables
def _id_order(k: str) -> tuple:
    return (ID_COLUMNS.index(k), "") if k in ID_COLUMNS else (len(ID_COLUMNS), k)


def _summary_tables(metrics: list[dict], max_rows: int = 60) -> list[str]:
    """Tables of every metric not indexed by seed, step or index, grouped by identifying keys."""
    groups: dict[tuple, list[dict]] = {}
    for r in metrics:
        ids = tuple(sorted((k for k in r if k not in ("metric", "value")), key=_id_order))
        if any(k in ("seed", "step", "index") for k in ids):
            continue
        groups.setdefault(ids, []).append(r)
    out = []
    for ids, rows in sorted(groups.items(), key=lambda kv: (len(kv[0]), kv[0])):
        metrics_order = list(dict.fromkeys(r["metric"] for r in rows))
        if not ids:
            body = "".join(f"<tr><th scope='row'><code>{_e(r['metric'])}</code></th><td class='num'>{_e(_fmt(r['value'], 6))}"
                           f"</td><td class='doc'>{_e(METRIC_DOCS.get(r['metric'], ''))}</td></tr>" for r in rows[:max_rows])
            out.append("<h3>Run</h3><table><thead><tr><th>metric</th><th>value</th><th>meaning</th></tr></thead>"
                       f"<tbody>{body}</tbody></table>")
            continue
        keys = list(dict.fromkeys(tuple(r.get(k) for k in ids) for r in rows))
        cell = {(tuple(r.get(k) for k in ids), r["metric"]): r["value"] for r in rows}
        title = "By " + ", ".join(ids)
        if len(ids) == 1 and len(keys) <= 8:  # metrics as rows, the id values as columns
            head = "".join(f"<th>{_e(_LABEL_TEXT.get(k[0], _fmt(k[0])))}</th>" for k in keys)
            body = ""
            for m in metrics_order[:max_rows]:
                tds = "".join(f"<td class='num'>{_e(_fmt(cell.get((k, m), float('nan'))))}</td>" for k in keys)
                body += (f"<tr><th scope='row'><code>{_e(m)}</code></th>{tds}"
                         f"<td class='doc'>{_e(METRIC_DOCS.get(m, ''))}</td></tr>")
            out.append(f"<h3>{_e(title)}</h3><table><thead><tr><th>metric</th>{head}<th>meaning</th></tr></thead>"
                       f"<tbody>{body}</tbody></table>")
        else:  # one row per id combination
            head = "".join(f"<th>{_e(k)}</th>" for k in ids) + "".join(f"<th><code>{_e(m)}</code></th>" for m in metrics_order)
            body = ""
            for key in keys[:max_rows]:
                tds = "".join(f"<td>{_e(_fmt(v))}</td>" for v in key)
                tds += "".join(f"<td class='num'>{_e(_fmt(cell.get((key, m), float('nan'))))}</td>" for m in metrics_order)
                body += f"<tr>{tds}</tr>"
            more = f"<p class='note'>{len(keys) - max_rows} more rows in metrics.csv</p>" if len(keys) > max_rows else ""
            out.append(f"<h3>{_e(title)}</h3><div class='scroll'><table><thead><tr>{head}</tr></thead>"
                       f"<tbody>{body}</tbody></table></div>{more}")
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
table { border-collapse: collapse; margin: 6px 0 14px; font-size: .9rem; }
th, td { padding: 4px 10px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
thead th { background: var(--band); font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
td.doc { color: var(--muted); }
table.kv th { font-weight: 600; white-space: nowrap; }
.scroll { overflow-x: auto; }
pre { background: var(--band); border: 1px solid var(--line); border-radius: 6px; padding: 12px; overflow-x: auto;
      font-size: .82rem; line-height: 1.45; }
.note { color: var(--muted); font-size: .9rem; }
.warn { border-left: 4px solid var(--bad); background: #fdf3ee; padding: 8px 12px; }
footer { margin-top: 48px; color: var(--muted); font-size: .85rem; }
"""


def _figure_names(run: Path, meta: dict) -> list[str]:
    fig_dir = run / FIGURES_DIR
    present = {p.stem for p in fig_dir.glob("*.png")} if fig_dir.is_dir() else set()
    listed = [n for n in ((meta or {}).get("figures") or {}) if n in present]
    return listed + sorted(present - set(listed))


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
        meta = load_meta(run)
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
             "<nav><a href='#figures'>Figures</a><a href='#numbers'>Key numbers</a><a href='#config'>Configuration</a>"
             "<a href='#data'>Data</a><a href='#environment'>Environment</a></nav>"]
    if missing:
        parts.append(f"<p class='warn'>Missing from this folder: {_e(', '.join(missing))}. The report shows what "
                     f"is there.</p>")
    if meta.get("status") not in (None, "complete"):
        parts.append(f"<p class='warn'>This run's status is <b>{_e(meta.get('status'))}</b>: it may not have "
                     f"finished.</p>")

    # figures
    parts.append("<h2 id='figures'>Figures</h2>")
    names = _figure_names(run, meta)
    if not names:
        parts.append("<p class='note'>No figures in this folder.</p>")
    for name in names:
        png = (run / FIGURES_DIR / f"{name}.png").read_bytes()
        text, ok = figure_caption(name, metrics, config, meta)
        badge = "" if ok is None else ("<span class='badge ok'>agrees</span>" if ok
                                       else "<span class='badge bad'>disagrees</span>")
        pdf = (run / FIGURES_DIR / f"{name}.pdf").is_file()
        pdf_note = f" <span class='note'>(vector version: {FIGURES_DIR}/{_e(name)}.pdf)</span>" if pdf else ""
        parts.append(f"<figure id='fig-{_e(name)}'><img alt='{_e(name)}' src='data:image/png;base64,"
                     f"{base64.b64encode(png).decode('ascii')}'><figcaption><span class='name'>{_e(name)}</span>"
                     f"{badge} — {_e(text)}{pdf_note}</figcaption></figure>")

    # key numbers
    parts.append("<h2 id='numbers'>Key numbers</h2>")
    if metrics:
        parts.append(f"<p class='note'>From {METRICS_FILE} ({len(metrics)} rows, tidy: one value per row). Rows per "
                     f"seed, step or eigen-index are left out here.</p>")
        parts.extend(_summary_tables(metrics))
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
                 "(config.toml, meta.json, metrics.csv, figures/*.png). Captions are computed from metrics.csv."
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
    summary = []
    for run in runs:
        meta = load_meta(run) if (run / META_FILE).is_file() else {}
        config = load_config(run) if (run / CONFIG_FILE).is_file() else {}
        metrics = load_metrics(run) if (run / METRICS_FILE).is_file() else []
        exp = meta.get("experiment") or run.name
        verdicts = [figure_caption(n, metrics, config, meta) for n in _figure_names(run, meta)]
        n_ok = sum(1 for _, ok in verdicts if ok)
        n_bad = sum(1 for _, ok in verdicts if ok is False)
        summary.append(f"<tr><td><a href='#{_e(exp)}'>{_e(exp)}</a></td><td>{_e(meta.get('status', 'missing'))}</td>"
                       f"<td class='num'>{_e(_fmt(meta.get('wall_time_s', float('nan')), 3))}</td>"
                       f"<td class='num'>{n_ok}</td><td class='num'>{n_bad}</td></tr>")
        try:
            link = (run / REPORT_FILE).relative_to(folder).as_posix()
        except ValueError:
            link = (run / REPORT_FILE).as_posix()
        parts.append(f"<h2 id='{_e(exp)}'>{_e(exp)}</h2><p class='sub'>{_e(config.get('paper', ''))} · "
                     f"<a href='{_e(link)}'>full report</a> · folder <code>{_e(run.name)}</code></p>")
        for fig_name, (text, ok) in zip(_figure_names(run, meta), verdicts):
            png = (run / FIGURES_DIR / f"{fig_name}.png").read_bytes()
            badge = "" if ok is None else ("<span class='badge ok'>agrees</span>" if ok
                                           else "<span class='badge bad'>disagrees</span>")
            parts.append(f"<figure><img alt='{_e(fig_name)}' src='data:image/png;base64,"
                         f"{base64.b64encode(png).decode('ascii')}'><figcaption><span class='name'>{_e(fig_name)}"
                         f"</span>{badge} — {_e(text)}</figcaption></figure>")
    table = ("<table><thead><tr><th>experiment</th><th>status</th><th>wall time (s)</th><th>figures agreeing</th>"
             "<th>disagreeing</th></tr></thead><tbody>" + "".join(summary) + "</tbody></table>")
    parts.insert(1, f"<p class='sub'>{len(runs)} run(s); each section repeats the run's figures with their "
                    f"computed verdicts and links to its full report.</p>{table}")
    parts.append("<footer>Built by <code>twolayer.report.build_index</code> from the run folders' files alone."
                 "</footer></main></body></html>\n")
    return atomic_write_text(folder / name, "\n".join(parts))

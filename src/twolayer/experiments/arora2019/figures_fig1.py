r"""Figure builders of ``arora2019-fig1`` and ``arora2019-movement`` (no pyplot; package style).

Pure functions of arrays; the experiment modules pass them what they computed. Legends sit
outside the data panels (below the axes), so no curve is hidden behind one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from ... import plotting as P
from ...claims import slope_fit

_CYCLE = P._CYCLE
_GREY = P._GREY


def _kappa_label(kappa: float) -> str:
    return rf"$\kappa = {P._fmt(kappa)}$"


def _below(fig: Figure, ax, ncol: int) -> None:
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        ax.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncols=ncol, fontsize=9)


# ------------------------------------------------------------------------------ tables
def sweep_table(results, kappas: Sequence[float], labels: Sequence[str]) -> dict:
    r"""Theorem 4.1 sweep per κ: ``{kappa: {"widths": (W,), "dev": {label: (W, S)}, "flips": {label: (W, S)}}}``
    from the point results (labels plus ``"all"``, the maximum over them); NaN where a point is missing."""
    names = [*labels, "all"]
    out = {}
    kap = sorted({float(r.params["kappa"]) for r in results} | set(map(float, kappas)))
    for k in kap:
        rs = [r for r in results if float(r.params["kappa"]) == k]
        if not rs:
            continue
        widths = sorted({int(r.params["width"]) for r in rs})
        seeds = sorted({int(r.params["seed"]) for r in rs})
        wi, si = {w: i for i, w in enumerate(widths)}, {s: i for i, s in enumerate(seeds)}
        dev = {lab: np.full((len(widths), len(seeds)), np.nan) for lab in names}
        drift = {lab: np.full((len(widths), len(seeds)), np.nan) for lab in labels}
        budget = {lab: np.full((len(widths), len(seeds)), np.nan) for lab in labels}
        for r in rs:
            i, j = wi[int(r.params["width"])], si[int(r.params["seed"])]
            for row in r.rows:
                if row["metric"] == "kernel_deviation":
                    dev[row["labels"]][i, j] = row["value"]
                elif row["metric"] == "kernel_drift":
                    drift[row["labels"]][i, j] = row["value"]
                elif row["metric"] == "kernel_budget":
                    budget[row["labels"]][i, j] = row["value"]
        ratio = {lab: drift[lab] / budget[lab] for lab in labels}
        ratio["all"] = np.max(np.stack([ratio[lab] for lab in labels]), axis=0)
        out[k] = {"widths": np.array(widths, float), "dev": dev, "drift_ratio": ratio}
    return out


def _mean_se(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard error along the last axis (SE 0 for one replicate)."""
    k = np.sum(np.isfinite(a), axis=-1)
    mean = np.nanmean(a, axis=-1)
    se = np.where(k > 1, np.nanstd(a, axis=-1, ddof=1) / np.sqrt(np.maximum(k, 1)), 0.0) if a.shape[-1] > 1 \
        else np.zeros_like(mean)
    return mean, se


# ------------------------------------------------------------------------------ Figure 1
def plot_fig1_loss(steps, predicted: Mapping[str, np.ndarray], measured: Mapping[str, np.ndarray], title: str):
    """Arora et al. Fig. 1a/c: :func:`twolayer.plotting.plot_loss_curves` over the full run (linear and log–log)."""
    return P.plot_loss_curves(steps, predicted, measured, title=title, linear_xmax=float(np.asarray(steps)[-1]))


@P._styled
def plot_fig1_spectrum(eigenvalues, projections: Mapping[str, np.ndarray], k_top: int, null_mean: float,
                       null_sd: float) -> Figure:
    """Arora et al. Fig. 1b/d (:func:`twolayer.plotting.plot_spectrum_projections`) with the top-``k_top``
    energy share of i.i.d. ±1 labels (mean ± 2 sd) marked in the cumulative-energy panel; that
    panel's legend is moved to the right of the axes, off the curves."""
    fig = P.plot_spectrum_projections(eigenvalues, projections)
    ax_e = fig.axes[1]
    ax_e.errorbar([k_top], [null_mean], yerr=[[2 * null_sd], [2 * null_sd]], fmt="s", color="k", ms=5, capsize=4,
                  label=rf"i.i.d. $\pm1$ labels at $k={k_top}$: $k/n \pm 2$ sd")
    ax_e.axvline(k_top, color=_GREY, lw=0.8, ls="-.")
    ax_e.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9)
    return fig


@P._styled
def plot_width_sweep(sweep: Mapping[float, Mapping], tol: float, *, title: str) -> Figure:
    r"""Theorem 4.1 across widths: (a) ``max_k |L − L̂|/L(0)`` (all label sets: solid with ±SE and the
    fitted power law, dashed; true labels: dotted) against ``m``, log–log, one colour per κ, and the
    tolerance; (b) the kernel-regime check ``max_k ‖H(k) − H∞‖_F / (λ_y/4)`` (≤ 1 passes)."""
    fig = Figure(figsize=(11.5, 5.0), layout="constrained")
    a1, a2 = fig.subplots(1, 2)
    for j, (kappa, tab) in enumerate(sorted(sweep.items())):
        c = _CYCLE[j % len(_CYCLE)]
        w = tab["widths"]
        mean, se = _mean_se(tab["dev"]["all"])
        a1.errorbar(w, P._positive(mean), yerr=se, fmt="-o", color=c, capsize=3,
                    label=_kappa_label(kappa) + ": all label sets")
        slope, sse, npts = slope_fit(w, mean)
        if np.isfinite(slope):
            ok = np.isfinite(mean) & (mean > 0)
            b = np.mean(np.log(mean[ok])) - slope * np.mean(np.log(w[ok]))
            xs = np.geomspace(w.min(), w.max(), 20)
            a1.plot(xs, np.exp(b) * xs**slope, "--", color=c, lw=1.2,
                    label=_kappa_label(kappa) + rf": fit $\propto m^{{{slope:.2f}}}$")
        tmean, _ = _mean_se(tab["dev"]["true"])
        a1.plot(w, P._positive(tmean), ":", marker="^", color=c, lw=1.4, label=_kappa_label(kappa) + ": true labels")
        fmean, fse = _mean_se(tab["drift_ratio"]["all"])
        a2.errorbar(w, fmean, yerr=fse, fmt="-o", color=c, capsize=3, label=_kappa_label(kappa) + ": all label sets")
        ft, _ = _mean_se(tab["drift_ratio"]["true"])
        a2.plot(w, ft, ":", marker="^", color=c, lw=1.4, label=_kappa_label(kappa) + ": true labels")
    a1.axhline(tol, color="k", lw=1.1, ls="-.", label=f"tolerance {tol:g}")
    a2.axhline(1.0, color="k", lw=1.1, ls="-.", label="kernel-regime check passes below 1")
    for ax in (a1, a2):
        ax.set_xscale("log")
        P.plain_log_ticks(ax, w)
        ax.set_xlabel("width $m$ (log scale)")
    a1.set_yscale("log")
    a1.set_ylabel(r"$\max_k |L(k)-\hat L(k)|\,/\,L(0)$ (log scale)")
    a1.set_title("(a) gap between GD and the kernel prediction")
    a2.set_yscale("log")
    a2.set_ylabel(r"$\max_k \|H(k)-H^\infty\|_F \,/\, (\lambda_y/4)$ (log scale)")
    a2.set_title("(b) kernel movement against the labels' eigenvalue")
    _below(fig, a1, 2)
    _below(fig, a2, 2)
    fig.suptitle(title, fontsize=12, fontweight="bold")
    return fig


@P._styled
def plot_gram_concentration(widths, gram: np.ndarray, bound: Sequence[float], *, title: str) -> Figure:
    r"""Lemma C.3: ``‖H(0) − H∞‖_F`` and ``‖H(0) − H∞‖₂`` (``gram`` shape (W, S, 2): per width and
    seed) against ``m``, log–log, with the bound and an ``m^{-1/2}`` guide."""
    w = np.asarray(widths, float)
    fig = Figure(figsize=(7.0, 5.2), layout="constrained")
    ax = fig.subplots()
    for idx, (name, c) in enumerate(((r"$\|H(0)-H^\infty\|_F$", _CYCLE[0]), (r"$\|H(0)-H^\infty\|_2$", _CYCLE[1]))):
        vals = gram[:, :, idx]
        for s in range(vals.shape[1]):
            ax.plot(w, P._positive(vals[:, s]), "o", color=c, alpha=0.5, ms=4)
        mean = np.nanmean(vals, axis=1)
        ax.plot(w, P._positive(mean), "-", color=c, label=name + " (mean over seeds; points: seeds)")
    ax.plot(w, P._positive(np.asarray(bound, float)), "--", color="k", lw=1.3,
            label=r"Lemma C.3: $\sqrt{n^2\log(2n^2/\delta)/(2m)}$")
    first = np.nanmean(gram[0, :, 0])
    ax.plot(w, first * np.sqrt(w[0] / w), ":", color=_GREY, lw=1.3, label=r"$\propto m^{-1/2}$")
    ax.set_xscale("log")
    ax.set_yscale("log")
    P.plain_log_ticks(ax, w)
    ax.set_xlabel("width $m$ (log scale)")
    ax.set_ylabel("distance at initialization (log scale)")
    _below(fig, ax, 2)
    fig.suptitle(title, fontsize=12, fontweight="bold")
    return fig


# ------------------------------------------------------------------------------ movement
@P._styled
def plot_movement(widths, curves: Mapping[float, Mapping[str, tuple]], *, tol: float, flip_limit: float | None = None,
                  title: str | None = None) -> Figure:
    r"""Movement of the first layer against the width, one colour per init scale κ (every κ of the run).

    ``curves[kappa][metric] = (mean (W,), se (W,))`` for ``dist_ratio`` (``‖W(T)−W(0)‖_F`` over the
    kernel prediction at the same step), ``max_neuron_move``, ``lemma_c1_bound`` and
    ``activation_flips``. Panels: (a) the ratio with the band ``1 ± tol``; (b) the largest
    per-neuron movement and the Lemma C.1 bound (dashed), log–log, with an ``m^{-1/2}`` guide;
    (c) the flip fraction with the kernel-regime line.
    """
    w = np.asarray(widths, float)
    fig = Figure(figsize=(14.0, 5.2), layout="constrained")
    a1, a2, a3 = fig.subplots(1, 3)
    for j, (kappa, tab) in enumerate(curves.items()):
        c = _CYCLE[j % len(_CYCLE)]
        lab = _kappa_label(kappa)
        for ax, metric in ((a1, "dist_ratio"), (a2, "max_neuron_move"), (a3, "activation_flips")):
            mean, se = (np.asarray(v, float) for v in tab[metric])
            ax.errorbar(w, P._positive(mean) if ax is not a1 else mean, yerr=se, fmt="-o", color=c, capsize=3,
                        label=lab)
        a2.plot(w, P._positive(np.asarray(tab["lemma_c1_bound"][0], float)), "--", color=c, lw=1.2,
                label=f"Lemma C.1 bound, {lab}")
        first = np.asarray(tab["max_neuron_move"][0], float)[0]
        a2.plot(w, first * np.sqrt(w[0] / w), ":", color=c, lw=1.1, label=rf"$\propto m^{{-1/2}}$, {lab}")
    a1.axhspan(1 - tol, 1 + tol, color=_GREY, alpha=0.15, lw=0, label=f"1 ± {tol:g}")
    a1.axhline(1.0, color=_GREY, ls="--", lw=1.1)
    if flip_limit is not None:
        a3.axhline(flip_limit, color="k", lw=1.1, ls="-.", label=f"{flip_limit:.0%}")
    for ax in (a1, a2, a3):
        ax.set_xscale("log")
        P.plain_log_ticks(ax, w)
        ax.set_xlabel("width $m$ (log scale)")
    a2.set_yscale("log")
    a3.set_yscale("log")
    a1.set_ylabel(r"$\|W(T)-W(0)\|_F$ / kernel prediction")
    a1.set_title("(a) total movement vs. kernel prediction")
    a2.set_ylabel(r"$\max_r \|w_r(T)-w_r(0)\|$ (log scale)")
    a2.set_title("(b) largest per-neuron movement")
    a3.set_ylabel("fraction of activation patterns flipped (log scale)")
    a3.set_title("(c) activation flips since init")
    for ax in (a1, a2, a3):
        _below(fig, ax, 1 if ax is a2 else 2)
    if title:
        fig.suptitle(title, fontsize=12, fontweight="bold")
    return fig

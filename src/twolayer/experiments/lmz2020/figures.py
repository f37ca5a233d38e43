r"""Figures of the Li–Ma–Zhang (COLT 2020) experiments, built without pyplot (``matplotlib.figure.Figure``)."""

from __future__ import annotations

import functools

import numpy as np

from .hermite import HERMITE_ORDERS, VAR_ABS, abs_hermite_tail
from .points import EVEN_ORDERS, FIT_FRACTION, KERNEL_MODELS

MODEL_NAMES = {"ntk": r"NTK regression ($\kappa_1 + H^\infty$)", "rf": r"random-feature kernel ($\kappa_1$)",
               "poly2": "polynomial regression, degree 2", "poly4": "polynomial regression, degree 4",
               "poly1": "linear regression", "poly3": "polynomial regression, degree 3"}


def floors() -> dict:
    """Analytic reference levels of ``d × loss`` (``d Σ a_i² = 1``; papers.md §4.2)."""
    return {r"best constant $1-2/\pi$": VAR_ABS, r"best degree-$\leq 2$ polynomial": abs_hermite_tail(2),
            r"best degree-$\leq 4$ polynomial": abs_hermite_tail(4)}


def _plot_mod():
    from ... import plotting as P

    return P


def _styled(func):
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        return _plot_mod()._styled(func)(*args, **kwargs)
    return wrapper


@_styled
def plot_separation(dims, curves: dict, floors: dict, *, title: str | None = None):
    """``d × test loss`` against ``d`` (log–log), one line per model (mean ± sd), the analytic
    polynomial floors dashed."""
    from matplotlib.figure import Figure

    P = _plot_mod()
    fig = Figure(figsize=(8.2, 6.0), layout="constrained")
    ax = fig.subplots(1, 1)
    markers = ["o", "s", "^", "D", "v", "P"]
    for j, (name, (mean, sd)) in enumerate(curves.items()):
        c = P._CYCLE[j % len(P._CYCLE)]
        mu = np.asarray(mean, float)
        ax.plot(dims, P._positive(mu), "-", marker=markers[j % len(markers)], color=c, lw=2.4 if j == 0 else 1.8,
                ms=6, label=name, zorder=3 if j == 0 else 2)
        s = np.asarray(sd, float)
        if np.any(s > 0):
            ax.fill_between(dims, np.maximum(mu - s, mu * 0.05), mu + s, color=c, alpha=0.15, lw=0)
    for j, (name, v) in enumerate(floors.items()):
        ax.axhline(v, color=P._GREY, ls=["--", ":", "-."][j % 3], lw=1.2, label=name, zorder=1)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xticks(dims)
    ax.set_xticklabels([str(int(v)) for v in dims])
    ax.minorticks_off()
    ax.set_xlabel("input dimension $d$")
    ax.set_ylabel(r"$d\,\times$ test loss $\;d\,E(f-f^*)^2$")
    fig.suptitle(title or "network vs. kernels beyond the NTK", fontsize=11.5, fontweight="bold")
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncol=3)
    return fig


#: Decades below the largest value the stage-wise panels show.
STAGE_DECADES = 8


@_styled
def plot_stagewise(hist: dict, *, title: str | None = None):
    """One panel per ``d``: ``d × ‖P_k(f − f*)‖²`` (exact population energies, replicate mean) for
    orders k = 0..4 and ``d × test loss`` against the training step (log–log; step 0 shown at 1);
    stars: each replicate's first record where an even order is at most ``FIT_FRACTION`` of its
    step-0 energy, drawn at that level. The shared y axis spans :data:`STAGE_DECADES` decades below
    the largest value; zeros, negatives and values below the axis are counted on each panel."""
    from matplotlib.figure import Figure

    P = _plot_mod()
    dims = list(hist)
    fig = Figure(figsize=(4.3 * len(dims) + 1.2, 4.4), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(dims), sharey=True))
    colors = [P.OKABE_ITO[c] for c in ("black", "blue", "vermillion", "sky_blue", "green")]
    styles = ["-", ":", "-", ":", "-"]
    handles = []
    top = P._finite_max([a for d in dims for a in (hist[d]["hermite"], d * np.asarray(hist[d]["test_mse"], float))], 1.0)
    floor = top * 10.0 ** -STAGE_DECADES
    for ax, d in zip(axes, dims):
        h = hist[d]
        x = h["steps"] + 1.0
        ln = ax.plot(x, P._positive(d * h["test_mse"]), color=P.OKABE_ITO["orange"], lw=3, alpha=0.6,
                     label=r"total $d\,E(f-f^*)^2$")
        hs = [ln[0]]
        for o, order in enumerate(HERMITE_ORDERS):
            hs.append(ax.plot(x, P._positive(h["hermite"][:, o]), styles[o], color=colors[o], marker="o", ms=3,
                              label=f"order {order}" + (" (odd: none in $f^*$)" if order % 2 else ""))[0])
            fit = np.asarray(h.get("fitted_steps", {}).get(order, []), float)
            fit = fit[np.isfinite(fit)]
            if order in EVEN_ORDERS and fit.size and np.isfinite(h["hermite"][0, o]) and h["hermite"][0, o] > 0:
                # the replicates' first records at or below FIT_FRACTION of the step-0 energy
                ax.plot(fit + 1.0, np.full(fit.size, FIT_FRACTION * h["hermite"][0, o]), "*", color=colors[o],
                        ms=11, mec="white", mew=0.6, zorder=5)
        ax.set_xscale("log")
        ax.set_yscale("log")
        # the axis spans STAGE_DECADES below the panel's largest value (an odd order's exact 0 at step 0
        # comes out as ~1e-37 round-off); what it does not show is counted on the panel, never dropped silently
        ax.set_ylim(floor, top * 2.0)
        P.note_hidden(ax, h["hermite"], d * np.asarray(h["test_mse"], float), floor=floor)
        ax.set_xlabel("training step + 1")
        ax.set_title(f"$d = {d}$")
        handles = hs
    axes[0].set_ylabel(r"$d\times\|P_k(f-f^*)\|^2$")
    fig.legend(handles=handles, loc="outside right upper")
    if title:
        fig.suptitle(title, fontsize=11.5, fontweight="bold")
    return fig


@_styled
def plot_alignment(hist: dict, *, title: str | None = None):
    """``mean_i max_j |cos∠(w_j, w*_i)|`` against the training step, one line per d."""
    from matplotlib.figure import Figure

    P = _plot_mod()
    fig = Figure(figsize=(8.2, 5.4), layout="constrained")
    ax = fig.subplots(1, 1)
    for j, (d, h) in enumerate(hist.items()):
        c = P._CYCLE[j % len(P._CYCLE)]
        x = h["steps"] + 1.0
        ax.plot(x, h["alignment_mean"], "-o", color=c, ms=3, label=f"$d={d}$: mean over $i$")
        ax.plot(x, h["alignment_min"], ":", color=c, lw=1.4, label=f"$d={d}$: worst $i$")
    ax.axhline(1.0, color=P._GREY, ls="--", lw=1.0)
    ax.set_xscale("log")
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("training step + 1")
    ax.set_ylabel(r"$\max_j |\cos\angle(w_j, w^*_i)|$")
    fig.suptitle(title or "alignment", fontsize=11.5, fontweight="bold")
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncol=3)
    return fig


@_styled
def plot_width(dims, factors, table, sds, baselines: dict, floors: dict, *, title: str | None = None):
    """``d × test loss`` against ``m/d`` (log x), one colour per ``d``; the kernel baselines of
    the same ``d`` as dashed horizontal segments, the analytic floors in grey."""
    from matplotlib.figure import Figure

    P = _plot_mod()
    fig = Figure(figsize=(8.4, 6.2), layout="constrained")
    ax = fig.subplots(1, 1)
    for i, d in enumerate(dims):
        c = P._CYCLE[i % len(P._CYCLE)]
        mu, s = table[i], sds[i]
        ax.plot(factors, P._positive(mu), "-o", color=c, lw=2.2, ms=6, label=f"network, $d={int(d)}$")
        if np.any(s > 0):
            ax.fill_between(factors, np.maximum(mu - s, mu * 0.05), mu + s, color=c, alpha=0.15, lw=0)
        for b, v in baselines.items():
            ax.hlines(v[i], factors[0], factors[-1], colors=c, linestyles="--", lw=1.3,
                      label=f"{b.upper() if b in KERNEL_MODELS else b} regression, $d={int(d)}$")
    ax.axhline(floors[r"best constant $1-2/\pi$"], color=P._GREY, ls="-.", lw=1.2, label=r"best constant $1-2/\pi$")
    ax.axhline(floors[r"best degree-$\leq 2$ polynomial"], color=P._GREY, ls=":", lw=1.2,
               label=r"best degree-$\leq 2$ polynomial")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xticks(factors)
    ax.set_xticklabels([f"{f:g}" for f in factors])
    ax.minorticks_off()
    P.note_hidden(ax, np.asarray(table, float), *[np.asarray(v, float) for v in baselines.values()])
    ax.set_xlabel(r"width / input dimension  $m/d$")
    ax.set_ylabel(r"$d\,\times$ test loss")
    fig.suptitle(title or "width", fontsize=11.5, fontweight="bold")
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncol=3)
    return fig


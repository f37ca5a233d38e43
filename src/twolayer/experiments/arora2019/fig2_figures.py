r"""Figures of ``arora2019-fig2`` (Arora et al. ICML 2019, Fig. 2, Thm 5.1, §5), built without pyplot.

:func:`fig2_figures` returns ``(name, Figure, caption)`` for every figure of a run; captions say
what is drawn (numbers allowed) and never a verdict — verdicts come from the claims.

* ``complexity_vs_noise`` — complexity vs p (per seed, mean ± sd, expected value) and the test losses.
* ``paper_fig2`` — the same numbers in the paper's one-panel, two-axis layout.
* ``error_vs_complexity`` — per-seed scatter of test error (and test ℓ1) against the complexity.
* ``bound_vs_loss`` — the explicit Theorem 5.1 bound against the truncated test ℓ1 loss per p.
* ``error_vs_width`` — test error and complexity against the width m (width sweep).
"""

from __future__ import annotations

import numpy as np
import matplotlib
from matplotlib.figure import Figure

from ... import plotting as P
from ..._loss_ranges import VACUOUS, is_vacuous, loss_range
from .. import summarize


def _legend_below(ax, ncol: int = 2) -> None:
    """Legend under the axes (outside the data); constrained layout makes room for it."""
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=ncol, borderaxespad=0.0)


@P._styled
def plot_error_vs_complexity(levels, C, E, L1, *, title: str | None = None) -> Figure:
    """Per-seed test error (left) and test ℓ1 loss (right) against the complexity.

    ``C, E, L1``: arrays (P, S) over noise levels × seeds; one colour per noise level, one marker per seed,
    the per-level means joined by a line."""
    C, E, L1 = (np.asarray(a, float) for a in (C, E, L1))
    fig = Figure(figsize=(10.5, 4.8), layout="constrained")
    axes = fig.subplots(1, 2)
    markers = "osD^vP*X"
    cmap = matplotlib.colormaps["viridis"]
    for ax, Y, ylab in ((axes[0], E, "test classification error"), (axes[1], L1, r"test $\ell_1$ loss $E|f(x)-y|$")):
        for i, p in enumerate(levels):
            col = cmap(i / max(1, len(levels) - 1))
            for j in range(C.shape[1]):
                ax.plot(C[i, j], Y[i, j], markers[j % len(markers)], color=col, ms=6, alpha=0.85,
                        label=f"$p = {p:g}$" if j == 0 else None)
        ax.plot(np.nanmean(C, axis=1), np.nanmean(Y, axis=1), "-", color=P._GREY, lw=1.2, label="mean over seeds")
        ax.set_xlabel(r"complexity $\sqrt{2\,y^\top (H^\infty)^{-1} y / n}$ (train labels)")
        ax.set_ylabel(ylab)
        ax.set_ylim(bottom=0)
        _legend_below(ax, ncol=3)
    axes[0].axhline(0.5, ls=":", color=P._GREY, lw=1.0)
    axes[0].set_title("(a) test error vs complexity")
    axes[1].set_title(r"(b) test $\ell_1$ loss vs complexity")
    if title:
        fig.suptitle(title, fontsize=12, fontweight="bold")
    return fig


@P._styled
def plot_bound_vs_loss(levels, bound, loss, error, complexity, *, title: str | None = None) -> Figure:
    """Theorem 5.1 bound against the test loss per noise level (each argument: (mean (P,), sd (P,)))."""
    p = np.asarray(levels, float)
    fig = Figure(figsize=(7.4, 5.2), layout="constrained")
    ax = fig.subplots(1, 1)
    series = ((bound, "-s", P.OKABE_ITO["black"], "explicit Thm 5.1 bound (eq. 9, App. D.3 constants)"),
              (complexity, "--", P.OKABE_ITO["green"], r"leading term $\sqrt{2y^\top (H^\infty)^{-1}y/n}$"),
              (loss, "-o", P.OKABE_ITO["blue"], r"test loss $E\min(|f(x)-y|,1)$"),
              (error, "-^", P.OKABE_ITO["orange"], "test classification error"))
    hi = loss_range("l1_truncated")[1]
    vac = [i for i, b in enumerate(np.asarray(bound[0], float)) if is_vacuous(b)]
    for k, ((mean, sd), style, col, lab) in enumerate(series):  # log axis: non-positive values (an error of 0) are left out
        mu, s = np.asarray(mean, float), np.asarray(sd, float)
        if k == 0 and vac:
            lab += f": {VACUOUS} (> {hi:g}) at {len(vac)} of {p.size} levels"
        ax.plot(p, P._positive(mu), style, color=col, label=lab)
        lo = np.where(mu - s > 0, mu - s, mu)
        ax.fill_between(p, P._positive(lo), P._positive(mu + s), color=col, alpha=0.15, lw=0)
    ax.axhline(hi, ls=":", color=P.OKABE_ITO["vermillion"], lw=1.3, label=f"{hi:g} = range of the loss")
    if vac:  # the region where a bound says nothing, named on the figure (just above the line, at the right)
        ax.axhspan(hi, ax.get_ylim()[1] * 10, color=P.OKABE_ITO["vermillion"], alpha=0.06, lw=0, zorder=0)
        ax.text(0.99, hi * 1.06, f"{VACUOUS} region (bound > {hi:g})", transform=ax.get_yaxis_transform(),
                ha="right", va="bottom", color=P.OKABE_ITO["vermillion"])
    ax.set_yscale("log")
    top = max(hi, P._finite_max([np.asarray(bound[0], float) + np.asarray(bound[1], float)], hi))
    ax.set_ylim(top=top * 1.6)
    ax.set_xlabel("portion of label noise $p$")
    ax.set_ylabel("bound and test loss (log scale)")
    ax.set_title("Theorem 5.1 bound vs measured test loss")
    _legend_below(ax, ncol=1)
    if title:
        fig.suptitle(title, fontsize=12, fontweight="bold")
    return fig


@P._styled
def plot_error_vs_width(by_width: dict, *, title: str | None = None) -> Figure:
    """Test error (left) and complexity (right) against the width; ``by_width[(p, m)][metric]`` = values (S,)."""
    fig = Figure(figsize=(10.5, 4.6), layout="constrained")
    a1, a2 = fig.subplots(1, 2)
    noise = sorted({p for p, _ in by_width})
    for j, p in enumerate(noise):
        col = P._CYCLE[j % len(P._CYCLE)]
        ws = sorted(w for q, w in by_width if q == p)
        for ax, metric in ((a1, "test_error"), (a2, "complexity")):
            V = np.array([by_width[(p, w)][metric] for w in ws])  # (W, S)
            for s in range(V.shape[1]):  # one thin line per seed: the same labels at every width
                ax.plot(ws, V[:, s], "o-", color=col, ms=3.5, lw=0.8, alpha=0.45, mec="none",
                        label="individual seeds" if s == 0 and j == 0 else None)
            mu, sd = summarize(V)
            ax.plot(ws, mu, "-o", color=col, label=f"$p = {p:g}$, mean over {V.shape[1]} seed(s)")
            ax.fill_between(ws, mu - sd, mu + sd, color=col, alpha=0.15, lw=0)
    widths = sorted({w for _, w in by_width})
    for ax in (a1, a2):
        ax.set_xscale("log")
        ax.set_xticks(widths, [str(w) for w in widths])
        ax.minorticks_off()
        ax.set_xlabel("width $m$")
        _legend_below(ax)
    a1.set_ylabel("test classification error")
    a1.set_ylim(bottom=0)
    a1.set_title("(a) trained network's test error vs width")
    a2.set_ylabel(r"complexity $\sqrt{2\,y^\top (H^\infty)^{-1} y / n}$")
    a2.set_title("(b) complexity of the same labels vs width")
    if title:
        fig.suptitle(title, fontsize=12, fontweight="bold")
    return fig


def fig2_figures(cfg, ds, levels, tabs, expected, random_ref, by_width):
    """``[(name, Figure, caption)]`` of a run: ``tabs[metric]`` are (P, S) arrays over noise × seeds."""
    C = tabs["complexity"]
    cm, cs = summarize(C)
    te, tl = summarize(tabs["test_error"]), summarize(tabs["test_l1"])
    ke = summarize(tabs["kernel_test_error"])
    S = cfg.seeds
    setting = (f"{ds.name}, n = {ds.n} training and {ds.n_test} test images, m = {cfg.width}, κ = {cfg.kappa:g}, "
               f"labels = {cfg.base_labels} before noise, {S} seed(s); GD stops when the training loss is below "
               f"the fraction {1.0 / ds.n if cfg.converge_fraction is None else cfg.converge_fraction:.3g} of its "
               f"initial value or after {cfg.steps} steps.")
    out = []
    fig = P.plot_complexity_vs_noise(
        levels, cm, spread=cs, per_seed=C,
        reference={r"random $\pm1$ labels, $\sqrt{2\,\mathrm{tr}(H^{-1})/n}$": random_ref,
                   r"expected $\sqrt{E[C^2]}$ under noise $p$": expected},
        test_losses={"test classification error (network)": te, r"test $\ell_1$ loss $E|f(x)-y|$ (network)": tl,
                     "test error of the kernel predictor": ke},
        title=rf"{ds.name}: $m={cfg.width}$, $\kappa={cfg.kappa:g}$; mean $\pm$ sd over {S} seed(s)")
    out.append(("complexity_vs_noise", fig,
                "Left: complexity sqrt(2yᵀ(H∞)⁻¹y/n) of the noisy training labels against the noise portion p "
                "(per seed, mean ± sd), with its exact expectation under the noise and the random-label value "
                f"{random_ref:.3g}. Right: the trained network's test classification error and test ℓ1 loss, and "
                "the kernel predictor's test error, on equally noised test labels. " + setting))
    fig = P.plot_noise_twin_axes(levels, {r"test $\ell_1$ loss": tl, "test classification error": te}, (cm, cs),
                                 title=rf"{ds.name}, as in Arora et al. Fig. 2")
    out.append(("paper_fig2", fig,
                "The same numbers in the paper's layout: test ℓ1 loss and test error (left axis) and the complexity "
                "(right axis) against the noise portion, mean ± sd over seeds. " + setting))
    fig = plot_error_vs_complexity(levels, C, tabs["test_error"], tabs["test_l1"],
                                   title=f"{ds.name}: one point per noise level and seed")
    out.append(("error_vs_complexity", fig,
                "Each marker is one (noise level, seed): the trained network's test error (left) and test ℓ1 loss "
                "(right) against the complexity of its training labels; colour = noise portion, marker = seed, "
                "grey line = means over seeds. " + setting))
    bound, loss = summarize(tabs["bound_total"]), summarize(tabs["test_l1_clipped"])
    fig = plot_bound_vs_loss(levels, bound, loss, te, (cm, cs), title=f"{ds.name}: δ = {cfg.delta:g}")
    out.append(("bound_vs_loss", fig,
                f"Explicit Theorem 5.1 bound (complexity + 5/√n + 3·sqrt(log(6N_B/δ)/(2n)), δ = {cfg.delta:g}), its "
                "leading term alone, the trained network's truncated test ℓ1 loss E min(|f − y|, 1) and its test "
                "error against the noise portion (mean ± sd over seeds, log scale); the dotted line marks 1, the "
                f"range of the loss. Bound mean {np.nanmin(bound[0]):.3g}–{np.nanmax(bound[0]):.3g}"
                + (f" ({VACUOUS}: above 1 at {sum(is_vacuous(b) for b in bound[0])} of {len(levels)} noise levels)"
                   if any(is_vacuous(b) for b in bound[0]) else " (below 1, non-vacuous, at every level)")
                + ". " + setting))
    if by_width and len(cfg.widths) > 1:
        fig = plot_error_vs_width(by_width, title=f"{ds.name}: width sweep")
        out.append(("error_vs_width", fig,
                    f"Width sweep m ∈ {{{', '.join(str(w) for w in cfg.widths)}}} at noise p ∈ "
                    f"{{{', '.join(f'{p:g}' for p in cfg.width_noise)}}}: the trained network's test error (left) "
                    "and the complexity of the same training labels (right) against m, per seed and mean ± sd. "
                    + setting))
    return out

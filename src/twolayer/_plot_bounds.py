r"""The bound figures of :mod:`twolayer.plotting`: a bound's terms stacked against the label noise
(Arora et al. Theorem 5.1) and the Theorem 6.1 small multiples. Imported by, and re-exported from,
:mod:`twolayer.plotting` (same style, helpers and conventions; see its docstring).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
from matplotlib.figure import Figure

from ._errors import InputError
from ._loss_ranges import VACUOUS, loss_range
from ._plotbase import OKABE_ITO, _CYCLE, _GREY, _finite_max, _log_limits, _nonempty, _positive, _set_xspan, _styled, _vec

__all__ = ["plot_bound_terms", "plot_target_complexity", "MARKERS", "LINESTYLES"]


# ----------------------------------------------------------------------------- bound terms
@_styled
def plot_bound_terms(noise, terms: Mapping[str, np.ndarray], *, compare: Mapping[str, np.ndarray] | None = None,
                     threshold: float | None = loss_range("l1_truncated")[1], title: str | None = None) -> Figure:
    r"""Terms of a generalization bound stacked against the label-noise portion.

    Parameters
    ----------
    noise : array_like, shape (P,)
    terms : dict[str, array (P,)]
        Non-negative terms, stacked bottom-up in the given order (their sum is the bound).
    compare : dict[str, array (P,)], optional
        Lines to compare the bound with (e.g. a measured test error).
    threshold : float, optional
        Horizontal line (default 1, the top of the truncated ℓ1 loss's range in
        :data:`twolayer._loss_ranges.LOSS_RANGES`: a bound above it says nothing); where the bound
        exceeds it, the panel says ``vacuous`` and at how many noise levels.

    The y range ``[0, 1.08 × max]`` contains the bound, every ``compare`` line and the threshold.
    Empty ``noise``: :class:`~twolayer.InputError`.
    """
    p = _nonempty(_vec(noise, "noise"), "noise")
    if not terms:
        raise InputError("terms is empty; pass at least one {name: array}")
    T = {k: _vec(v, f"terms[{k!r}]", p.size) for k, v in terms.items()}
    fig = Figure(figsize=(9.6, 4.4), layout="constrained")
    ax = fig.subplots(1, 1)
    fills = [OKABE_ITO["green"], OKABE_ITO["sky_blue"], OKABE_ITO["orange"], OKABE_ITO["yellow"], OKABE_ITO["purple"]]
    ax.stackplot(p, *T.values(), labels=list(T), colors=fills[:len(T)], alpha=0.85, edgecolor="white", lw=0.6)
    total = np.sum(list(T.values()), axis=0)
    ax.plot(p, total, "-", color=OKABE_ITO["black"], lw=1.6, label="bound (sum)")
    cmp = {name: _vec(v, f"compare[{name!r}]", p.size) for name, v in (compare or {}).items()}
    for j, (name, v) in enumerate(cmp.items()):
        ax.plot(p, v, "-o", ms=4, lw=2.0, color=[OKABE_ITO["blue"], OKABE_ITO["vermillion"]][j % 2], label=name)
    if threshold is not None:
        ax.axhline(threshold, ls="--", color=_GREY, lw=1.3, label=f"{threshold:g} (trivial for a [0,1] loss)")
        above = int(np.sum(np.isfinite(total) & (total > threshold)))
        if above:
            ax.text(0.01, 0.98, f"{VACUOUS}: the bound is above {threshold:g} at {above} of {p.size} noise levels",
                    transform=ax.transAxes, ha="left", va="top", color=OKABE_ITO["vermillion"])
    _set_xspan(ax, p)
    top = max(_finite_max([total, *cmp.values()], 0.0), threshold or 0)
    ax.set_ylim(0, top * 1.08 if top > 0 else 1)
    ax.set_xlabel("portion of label noise $p$")
    ax.set_ylabel("bound on test error")
    ax.set_title("Theorem 5.1 bound, explicit terms")
    h, lab = ax.get_legend_handles_labels()
    ax.legend(h[::-1], lab[::-1], loc="upper left", bbox_to_anchor=(1.02, 1.0), labelspacing=0.9,
              borderaxespad=0.0)
    if title:
        fig.suptitle(title, fontsize=12, fontweight="bold")
    return fig


# ------------------------------------------------------------------------- Theorem 6.1
#: Markers and line styles that tell curves apart where they coincide (one per curve, cycling).
MARKERS = ("o", "s", "^", "D", "v", "P", "X")
LINESTYLES = ("-", "--", "-.", ":", (0, (5, 1.5)), (0, (3, 1, 1, 1, 1, 1)), (0, (1, 1)))


@_styled
def plot_target_complexity(n_values, measured: Mapping[str, tuple], bounds: Mapping[str, float],
                           sharp: Mapping[str, float] | None = None, *, title: str | None = None) -> Figure:
    r"""``sqrt(yᵀH⁻¹y)`` of each target against the sample size, with its Corollary 6.2 bound,
    as small multiples: one panel per target, then one panel of the ratios.

    Parameters
    ----------
    n_values : array_like, shape (N,)
        Sample sizes (log-scaled x axis).
    measured : dict[target, (mean (N,), sd (N,) or None)]
        Mean over samples and its spread (shaded band ``mean ± sd``).
    bounds : dict[target, float]
        Corollary 6.2 bound ``3 Σ p_j|α_j|‖β_j‖^{p_j}`` (dashed line in the target's panel).
    sharp : dict[target, float], optional
        The proof's sharper constants (dotted line).

    Panel ``(a·k)`` shows target ``k`` alone: its mean ``± sd`` band and its two bound lines, y on
    a log axis containing all of them (non-positive means masked); a target without a bound says
    so in its panel. The last panel shows ``measured / bound`` of every target with a bound, each
    with its own marker and line style (curves that coincide stay distinguishable), against a
    line at 1 (≤ 1 is what the theorem asserts); its axis is ``[0, 1.1]``, extended to contain
    every finite ratio. Empty or non-positive ``n_values``: :class:`~twolayer.InputError`.
    """
    n = _nonempty(_vec(n_values, "n_values"), "n_values")
    if not np.all(np.isfinite(n) & (n > 0)):
        raise InputError(f"n_values must be positive sample sizes (log axis), got {n.tolist()}")
    if not measured:
        raise InputError("measured is empty; pass at least one {target: (mean, sd)}")
    from matplotlib.lines import Line2D

    cells = len(measured) + 1
    ncol = min(cells, 3)
    nrow = math.ceil(cells / ncol)
    fig = Figure(figsize=(3.9 * ncol, 3.3 * nrow + 0.7), layout="constrained")
    grid = np.atleast_1d(fig.subplots(nrow, ncol, squeeze=False)).ravel()
    panels, ax2 = grid[:len(measured)], grid[cells - 1]
    for extra in grid[cells:]:
        extra.remove()
    ratios, drew = [], set()
    for j, (ax, (name, (mean, sd))) in enumerate(zip(panels, measured.items())):
        c, mk, ls = _CYCLE[j % len(_CYCLE)], MARKERS[j % len(MARKERS)], LINESTYLES[j % len(LINESTYLES)]
        mu = _vec(mean, f"measured[{name!r}]", n.size)
        ax.plot(n, _positive(mu), "-", marker=mk, color=c, label=name)
        shown = [_positive(mu)]
        if sd is not None:
            s = _vec(sd, f"sd[{name!r}]", n.size)
            ax.fill_between(n, _positive(mu - s), _positive(mu + s), color=c, alpha=0.2, lw=0)
            drew.add("band")
        for key, table, style, lw in (("bound", bounds, "--", 1.3), ("sharp", sharp or {}, ":", 1.6)):
            if name in table:
                ax.axhline(table[name], ls=style, color=_GREY, lw=lw)
                shown.append(np.array([float(table[name])]))
                drew.add(key)
        if name in bounds:
            ratios.append(ax2.plot(n, _positive(mu) / bounds[name], color=c, ls=ls, marker=mk, label=name)[0])
        else:
            ax.text(0.97, 0.05, "no Cor. 6.2 bound", transform=ax.transAxes, ha="right", va="bottom",
                    color=_GREY)
        ax.set_xscale("log")
        ax.set_yscale("log")
        lim = _log_limits(shown)
        if lim is not None:
            ax.set_ylim(lim[0], lim[1])
        ax.set_title(f"(a{j + 1}) " + (name.replace("+", "+\n", 1) if len(name) > 16 else name))
        ax.set_xlabel("sample size $n$")
        ax.set_ylabel(r"$\sqrt{y^\top (H^\infty)^{-1} y}$")
    ax2.axhline(1.0, color=_GREY, ls="--", lw=1.2)
    ax2.set_xscale("log")
    ax2.set_ylim(0, max(1.1, 1.05 * _finite_max([r.get_ydata() for r in ratios], 0.0)))
    ax2.set_xlabel("sample size $n$")
    ax2.set_ylabel("measured / Cor. 6.2 bound")
    ax2.set_title("(b) ratio; the theorem asserts < 1")
    if ratios:
        ax2.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, handlelength=2.6)
    handles = [Line2D([], [], color=_GREY, marker="o", label="measured (mean over samples)")]
    if "band" in drew:
        from matplotlib.patches import Patch
        handles.append(Patch(color=_GREY, alpha=0.25, lw=0, label="± 1 sd over samples"))
    if "bound" in drew:
        handles.append(Line2D([], [], color=_GREY, ls="--", lw=1.3,
                              label=r"Cor. 6.2 bound $3\sum_j p_j|\alpha_j|\,\|\beta_j\|^{p_j}$"))
    if "sharp" in drew:
        handles.append(Line2D([], [], color=_GREY, ls=":", lw=1.6, label="proof constants (sharper)"))
    fig.legend(handles=handles, loc="outside lower center", ncol=min(len(handles), 2))
    if title:
        fig.suptitle(title, fontsize=12, fontweight="bold")
    return fig

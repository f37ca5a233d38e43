r"""Figure builders of the E–Ma–Wu experiments (``matplotlib.figure.Figure``, no pyplot).

Each takes the summaries the experiment modules computed (means and sds over replicates, NaN
where every replicate of a setting diverged) and draws them; none reads a run folder or
judges anything (the verdicts are the claims', ``claims.py``).
"""

from __future__ import annotations

import math

import numpy as np

from ._shared import LABEL_SETS

#: Shaded band around 1 in the rate-ratio panel (the convergence claim's tolerance).
from .claims import RATE_TOLERANCE


def _beta_label(rule: str, c: float) -> str:
    if rule == "c/m":
        return r"$\beta = 1/m$" if c == 1 else rf"$\beta = {c:g}/m$"
    return rf"$\beta = {c:g}$"


def _plotting():
    from ... import plotting as P

    return P


def plot_gap(widths, curves, *, fit_from: float, stops=None, title: str | None = None):
    """NN–RF gap (sup and RMS over the test grid) against the width, one colour per β setting,
    with the bound's ``m^{-1/2}`` and an ``m^{-2}`` guide (log–log); ``stops`` (β setting →
    width, from :func:`.gap.stop_width` on the sup gap) are ringed in panel (a): from there on every
    local log–log slope is above ``−1/2`` (the gap may still fall, only slower than the bound's rate)."""
    return _plot_gap_panels(widths, curves, ("gap_sup_t", "gap_rms_t"),
                            (r"$\max_t \sup_x |f_{NN}(x,t) - f_{RF}(x,t)|$",
                             r"$\max_t$ RMS$_x\, |f_{NN}(x,t) - f_{RF}(x,t)|$"),
                            ("(a) network vs. random features, sup", "(b) network vs. random features, RMS"),
                            fit_from, title, guides=(-0.5, -2.0), stops=stops or {})


def plot_kernel_gap(widths, curves, *, fit_from: float, title: str | None = None):
    """The theorem's quantity ``|f_NN(x,t) − f_NN(x,0) − f^ker(x, mt)|`` (sup and RMS) against the width."""
    return _plot_gap_panels(widths, curves, ("kernel_gap_sup_t", "kernel_gap_rms_t"),
                            (r"$\max_t \sup_x |f_{NN}(x,t) - f_{NN}(x,0) - f^{ker}(x,mt)|$",
                             r"$\max_t$ RMS$_x\, |f_{NN}(x,t) - f_{NN}(x,0) - f^{ker}(x,mt)|$"),
                            ("(a) network vs. kernel limit, sup", "(b) network vs. kernel limit, RMS"),
                            fit_from, title, guides=(-0.5,), stops={})


def _plot_gap_panels(widths, curves, metrics, ylabels, titles, fit_from, title, guides, stops):
    P = _plotting()

    @P._styled
    def draw():
        from matplotlib.figure import Figure

        w = np.asarray(widths, float)
        fig = Figure(figsize=(12.0, 5.0), layout="constrained")
        axes = fig.subplots(1, 2)
        handles = []
        for j, ((rule, c), tab) in enumerate(curves.items()):
            color = P._CYCLE[j % len(P._CYCLE)]
            for ax, metric in zip(axes, metrics):
                mean, sd = tab[metric]
                mu = P._positive(mean)
                line = ax.plot(w, mu, "-o" if rule == "c/m" else "--s", color=color, label=_beta_label(rule, c),
                               lw=2.2 if rule == "c/m" else 1.6, ms=5)[0]
                lo = P._positive(np.maximum(mean - sd, mean * 0.05))
                ax.fill_between(w, lo, P._positive(mean + sd), color=color, alpha=0.15, lw=0)
                if ax is axes[0]:
                    handles.append(line)
        ringed = False
        for key, stop in stops.items():
            if stop is None:
                continue
            i = int(np.flatnonzero(w == stop)[0])
            # only on panel (a): the rule is applied to the sup gap's mean curve (gap.stop_width)
            h = axes[0].plot([w[i]], [curves[key][metrics[0]][0][i]], "o", ms=15, mfc="none", mec="black", mew=1.3,
                             label=r"from here every local slope $> -1/2$ (falls slower than $m^{-1/2}$)",
                             zorder=5)[0]
            if not ringed:
                handles.append(h)
                ringed = True
        ref = next(iter(curves.values()))
        styles = {-0.5: (":", r"$\propto m^{-1/2}$ (Case 1 bound's rate)"), -2.0: ("-.", r"$\propto m^{-2}$")}
        for ax, metric in zip(axes, metrics):
            mean = np.asarray(ref[metric][0], float)
            i0 = int(np.searchsorted(w, fit_from))
            for g in guides:
                ls, lab = styles[g]
                gl = ax.plot(w[i0:], mean[i0] * (w[i0:] / w[i0]) ** g, ls, color=P._GREY, lw=1.4, label=lab)[0]
                if ax is axes[0]:
                    handles.append(gl)
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel("width $m$")
        for ax, yl, t in zip(axes, ylabels, titles):
            ax.set_ylabel(yl)
            ax.set_title(t)
        fig.legend(handles=handles, loc="outside lower center", ncol=min(len(handles), 4))
        if title:
            fig.suptitle(title, fontsize=11)
        return fig

    return draw()


def plot_convergence(curves, lambda_n: float, widths, tabs, *, title: str | None = None):
    """(a, b) training risk against natural time ``m t`` for true and random labels, one colour
    per width, with the kernel prediction (dashed) and the slope ``exp(−2 λ_n m t)`` (grey);
    (c) fitted late rate / ``2 m λ_n`` against the width."""
    P = _plotting()

    @P._styled
    def draw():
        from matplotlib.figure import Figure

        fig = Figure(figsize=(14.0, 5.2), layout="constrained")
        axes = fig.subplots(1, 3)
        handles = []
        for b, lab in enumerate(LABEL_SETS):
            ax = axes[b]
            lows = []
            for j, (m, (s, loss, _pred)) in enumerate(curves.items()):
                color = P._CYCLE[j % len(P._CYCLE)]
                h = ax.plot(s, P._positive(loss[b]), "-", color=color, label=f"network, $m = {m}$")[0]
                lows.append(loss[b])
                if b == 0:
                    handles.append(h)
            ax.set_title(f"({'ab'[b]}) {P.label_name(lab)}")
            ax.set_xlabel(r"natural time $s = m\,t$")
            ax.set_ylabel(r"training risk $\hat R_n$")
            if not curves:                      # GD diverged at every width: nothing to draw
                ax.text(0.5, 0.5, "GD diverged at every width", ha="center", va="center", transform=ax.transAxes)
                continue
            s, loss, pred = curves[max(curves)]
            h = ax.plot(s, P._positive(pred[b]), "--", color="black", lw=1.2,
                        label=rf"kernel prediction ($m = {max(curves)}$)")[0]
            if b == 0:
                handles.append(h)
            mid = len(s) // 2
            anchor = float(pred[b][mid]) if pred[b][mid] > 0 else float(np.max(pred[b]))
            h = ax.plot(s, anchor * 3.0 * np.exp(-2 * lambda_n * (s - s[mid])), ":", color=P._GREY, lw=1.8,
                        label=r"slope of $e^{-2 m \lambda_n t}$")[0]
            if b == 0:
                handles.append(h)
            lim = P._log_limits([np.concatenate(lows)], floor_ratio=1e-30)
            if lim:
                ax.set_ylim(*lim)
            ax.set_yscale("log")
            ax.ticklabel_format(axis="x", style="sci", scilimits=(0, 0))
            ax.set_xlabel(r"natural time $s = m\,t$")
            ax.set_ylabel(r"training risk $\hat R_n$")
            ax.set_title(f"({'ab'[b]}) {P.label_name(lab)}")
        if handles:
            fig.legend(handles=handles, loc="outside lower center", ncol=len(handles))
        ax = axes[2]
        for lab in LABEL_SETS:
            mean, sd = tabs[(lab, "rate_ratio")]
            ax.errorbar(widths, mean, yerr=sd, fmt="-o", color=P.label_color(lab), capsize=3,
                        label=f"{P.label_name(lab)}: fit / $2m\\lambda_n$")
            mean, _ = tabs[(lab, "rate_ratio_empirical")]
            ax.plot(widths, mean, ":^", color=P.label_color(lab), ms=5,
                    label=f"{P.label_name(lab)}: fit / $2m\\lambda_{{\\min}}(K^{{(m)}}(0))$")
        ax.axhspan(1 - RATE_TOLERANCE, 1 + RATE_TOLERANCE, color=P._GREY, alpha=0.1, lw=0)
        ax.axhline(1.0, color=P._GREY, ls="--", lw=1.2)
        if any(np.isfinite(tabs[(lab, "rate_ratio")][0]).any() for lab in LABEL_SETS):
            ax.set_xscale("log")
            ax.set_yscale("log")
        else:                                   # GD diverged at every width: no fitted rate
            ax.text(0.5, 0.5, "GD diverged at every width", ha="center", va="center", transform=ax.transAxes)
        ax.set_xlabel("width $m$")
        ax.set_ylabel("late-time rate / prediction")
        ax.set_title("(c) fitted rate vs. $2m\\lambda_n$")
        ax.legend(loc="upper right", fontsize=10)
        if title:
            fig.suptitle(title, fontsize=11)
        return fig

    return draw()


def plot_test_risk(curves, widths, n_values, *, title: str | None = None):
    """Test risk against natural time, one panel per width, one colour per ``n``: the network
    (solid, GD records), the random-feature model from the same init (dashed, exact), the
    network's minimum (dot) and the rule's time ``s = √n`` (triangle on the time axis)."""
    P = _plotting()

    @P._styled
    def draw():
        from matplotlib.figure import Figure

        fig = Figure(figsize=(6.2 * len(widths) + 0.6, 5.2), layout="constrained")
        axes = np.atleast_1d(fig.subplots(1, len(widths), sharey=True))
        for ax, m in zip(axes, widths):
            for j, n in enumerate(n_values):
                arr = curves.get((m, n))
                if arr is None:
                    continue
                color = P._CYCLE[j % len(P._CYCLE)]
                s, r = arr["s_nn"][1:], arr["risk_nn"][1:]
                ax.plot(s, r, "-", color=color, lw=2.0, label=f"$n = {n}$")
                ax.plot(arr["s_rf"], arr["risk_rf"], "--", color=color, lw=1.1)
                i = int(np.argmin(r))
                ax.plot(s[i], r[i], "o", color=color, ms=7, mec="white")
                ax.plot([math.sqrt(n)], [0.0], "v", color=color, ms=9, transform=ax.get_xaxis_transform(),
                        clip_on=False)
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel(r"natural time $s = m\,t$")
            ax.set_title(f"width $m = {m}$")
        axes[0].set_ylabel(r"test risk $\|f - f^*\|^2$")
        axes[0].legend(loc="lower left", fontsize=10)
        if title:
            fig.suptitle(title, fontsize=11)
        return fig

    return draw()


def plot_early_stopping_scaling(ns, scaling, kernel, f_norm: float, *, title: str | None = None):
    """(a) the optimal natural time ``s*`` against ``n`` with ``√n`` and ``‖f*‖²_H √n/2``;
    (b) the minimal test risk against ``n`` with an ``n^{-1/2}`` guide and the kernel limit."""
    P = _plotting()

    @P._styled
    def draw():
        from matplotlib.figure import Figure

        fig = Figure(figsize=(12.0, 5.0), layout="constrained")
        a1, a2 = fig.subplots(1, 2)
        for j, (m, sc) in enumerate(scaling.items()):
            color = P._CYCLE[j % len(P._CYCLE)]
            a1.plot(ns, sc["s_star"], "-o", color=color, label=f"network, $m = {m}$")
            mean, sd = sc["risk_min"]
            a2.errorbar(ns, mean, yerr=sd, fmt="-o", color=color, capsize=3, label=f"network, $m = {m}$ (best $t$)")
        ks = np.array([np.exp(np.mean(np.log([r["kernel_s_star"] for r in kernel[n]]))) for n in kernel])
        kr = np.array([np.mean([r["kernel_risk_min"] for r in kernel[n]]) for n in kernel])
        a1.plot(ns, ks, "--d", color="black", lw=1.2, label=r"kernel limit $m=\infty$")
        a2.plot(ns, kr, "--d", color="black", lw=1.2, label=r"kernel limit $m=\infty$ (best $t$)")
        ki = np.array([np.mean([r["kernel_risk_inf"] for r in kernel[n]]) for n in kernel])
        a2.plot(ns, ki, "-.", color=P._GREY, lw=1.2, label=r"kernel limit, $t = \infty$ (interpolant)")
        a1.plot(ns, np.sqrt(ns), ":", color=P._GREY, lw=1.6, label=r"rule $s = \sqrt{n}$ ($t = \sqrt{n}/m$)")
        if math.isfinite(f_norm):
            a1.plot(ns, 0.5 * f_norm**2 * np.sqrt(ns), "-.", color=P._GREY, lw=1.6,
                    label=r"$s = \frac{1}{2}\|f^*\|_{H}^2\sqrt{n}$")
        a2.plot(ns, kr[0] * np.sqrt(ns[0] / ns), ":", color=P._GREY, lw=1.6, label=r"$\propto n^{-1/2}$")
        for ax in (a1, a2):
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel("training samples $n$")
            P.plain_log_ticks(ax, ns)
        a1.set_ylabel(r"natural time of the minimum, $s^* = m\,t^*$")
        a1.set_title("(a) where the test risk is smallest")
        a2.set_ylabel(r"test risk $\|f - f^*\|^2$")
        a2.set_title("(b) best early-stopped risk")
        a1.legend(loc="center right", fontsize=10)
        a2.legend(loc="upper right", fontsize=10)
        if title:
            fig.suptitle(title, fontsize=11)
        return fig

    return draw()


def plot_long_time_rf(ratios, itab, kernel_refs, *, title: str | None = None):
    """(a) the random-feature model's long-time (minimum-norm / least-squares) test risk and its
    best early-stopped risk against ``m/n``; (b) ``λ_min`` of its Gram matrix."""
    P = _plotting()

    @P._styled
    def draw():
        from matplotlib.figure import Figure

        fig = Figure(figsize=(12.0, 5.0), layout="constrained")
        a1, a2 = fig.subplots(1, 2)
        for key, color, lab in (("interp_risk_inf", P.OKABE_ITO["vermillion"], r"long-time limit $t = \infty$"),
                                ("interp_risk_min", P.OKABE_ITO["blue"], r"early-stopped (best $t$)")):
            A = itab[key]
            med, lo, hi = np.median(A, axis=1), np.quantile(A, 0.25, axis=1), np.quantile(A, 0.75, axis=1)
            a1.plot(ratios, med, "-o", color=color, label=lab)
            a1.fill_between(ratios, lo, hi, color=color, alpha=0.18, lw=0)
        k_inf = float(np.mean([r["kernel_risk_inf"] for r in kernel_refs]))
        k_min = float(np.mean([r["kernel_risk_min"] for r in kernel_refs]))
        a1.axhline(k_inf, color=P.OKABE_ITO["vermillion"], ls="--", lw=1.1, label=r"kernel $m=\infty$, $t=\infty$")
        a1.axhline(k_min, color=P.OKABE_ITO["blue"], ls="--", lw=1.1, label=r"kernel $m=\infty$, best $t$")
        A = itab["interp_lambda_min"]
        a2.plot(ratios, P._positive(np.median(A, axis=1)), "-o", color=P.OKABE_ITO["green"])
        for ax in (a1, a2):
            ax.axvline(1.0, color=P._GREY, ls=":", lw=1.2)
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel("width / samples, $m/n$")
            P.plain_log_ticks(ax, [q for q in (0.25, 0.5, 1, 2, 4, 8, 16, 32) if ratios[0] <= q <= ratios[-1]])
        a1.set_ylabel(r"test risk $\|f - f^*\|^2$")
        a1.set_title("(a) random features: long time vs. early stopping")
        a2.set_ylabel(r"$\lambda_{\min}$ of $\Phi\Phi^\top/(mn)$ or $\Phi^\top\Phi/(mn)$")
        a2.set_title("(b) smallest eigenvalue of the feature Gram matrix")
        a1.legend(loc="upper right", fontsize=10)
        if title:
            fig.suptitle(title, fontsize=11)
        return fig

    return draw()

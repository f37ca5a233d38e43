r"""Figures of the Chen, Cao, Gu, Zhang (2020) experiments (built without pyplot) and their captions.

Captions say what is drawn (settings and numbers), never whether a claim holds: verdicts come
from :mod:`.claims` only.
"""

from __future__ import annotations

import numpy as np

def _style():
    from ... import plotting as P

    return P


def _alpha_colors(alphas):
    P = _style()
    return {a: P._CYCLE[i % len(P._CYCLE)] for i, a in enumerate(alphas)}


def plot_rate(rec, loss_curves, theory, base, rate, prate, lam0, lam0_tab, top, *, title):
    """(a) loss vs α²t per α with the linearized curves; (b) the decay rate vs α²λ₀ over the α sweep;
    (c) rate/α² vs λ₀ over the near-duplicate sweep at α = ``top`` (``lam0_tab``: ε → λ₀, per-seed
    rates, linearized rate)."""
    P = _style()
    from matplotlib.figure import Figure

    @P._styled
    def build():
        fig = Figure(figsize=(17, 4.6), layout="constrained")
        a1, a2, a3 = fig.subplots(1, 3, width_ratios=(1.25, 1, 1))
        cols = _alpha_colors([k[0] for k in base])
        for k in base:
            a = k[0]
            th = theory[k]
            t = th["lr"] * rec * a**2
            L = loss_curves[a]
            a1.plot(t[1:], L.mean(0)[1:], "-", color=cols[a], label=rf"$\alpha={a:g}$")
            a1.plot((th["lr"] * th["dense"] * a**2)[1:], _positive(th["loss"][1:]), "--", color=cols[a], lw=1.1)
        a1.set_xscale("log")
        a1.set_yscale("log")
        a1.set_xlabel(r"rescaled time $\alpha^2 t = \alpha^2\eta k$")
        a1.set_ylabel(r"training loss $\frac{1}{2n}\sum_i (f(x_i)-y_i)^2$")
        a1.set_title("(a) loss; dashed: linearized dynamics with the noise")
        a1.legend(loc="lower left", ncol=2)
        x = np.array([k[0] ** 2 * lam0 for k in base])
        a2.plot(x, rate, "o-", color=P.OKABE_ITO["blue"], label="measured (time to 1/10 of the excess loss)")
        a2.plot(x, _positive(prate), "s--", color=P.OKABE_ITO["vermillion"], lw=1.2, label="linearized prediction")
        a2.plot(x, prate[-1] * x / x[-1], ":", color="#555555", lw=1.3, label=r"slope 1: rate $\propto\alpha^2\lambda_0$")
        a2.set_xscale("log")
        a2.set_yscale("log")
        a2.set_xlabel(r"$\alpha^2\lambda_0$  ($\lambda_0=\lambda_{\min}(H)$)")
        a2.set_ylabel(r"decay rate per unit time $t=\eta k$")
        a2.set_title("(b) decay rate vs. $\\alpha^2\\lambda_0$ over the $\\alpha$ sweep")
        a2.legend(loc="upper left")
        l0 = np.array([v["lambda_0"] for v in lam0_tab.values()])
        for j, v in enumerate(lam0_tab.values()):
            r = np.asarray(v["rate"], float) / top**2
            a3.plot(np.full(r.size, v["lambda_0"]), r, "o", color=P.OKABE_ITO["blue"], alpha=0.6,
                    label="measured, one point per seed" if j == 0 else None)
        pr = np.array([v["predicted"] for v in lam0_tab.values()]) / top**2
        a3.plot(l0, pr, "s--", color=P.OKABE_ITO["vermillion"], lw=1.2, label="linearized prediction")
        a3.plot(l0, pr[0] * l0 / l0[0], ":", color="#555555", lw=1.3, label=r"slope 1: rate $\propto\lambda_0$")
        a3.set_xscale("log")
        a3.set_yscale("log")
        a3.set_xlabel(r"$\lambda_0$ (near-duplicate pair at distance $\varepsilon$)")
        a3.set_ylabel(r"rate $/\alpha^2$, worst-case labels $y\propto v_{\min}$")
        a3.set_title(rf"(c) rate vs. $\lambda_0$ at $\alpha={top:g}$, one $\eta$")
        a3.legend(loc="upper left")
        fig.suptitle(title, fontsize=11, fontweight="bold")
        return fig

    return build()


def plot_plateau(cfg, summary, theory, top, *, title):
    P = _style()
    from matplotlib.figure import Figure
    from matplotlib.ticker import NullFormatter

    @P._styled
    def build():
        fig = Figure(figsize=(13.5, 4.4), layout="constrained")
        axes = fig.subplots(1, 3)
        blue, red, grey = P.OKABE_ITO["blue"], P.OKABE_ITO["vermillion"], "#555555"
        panels = [
            ("alpha", cfg.alphas, [(a, cfg.weight_decay, cfg.width) for a in cfg.alphas], r"scaling $\alpha$",
             rf"(a) plateau vs. $\alpha$ ($\lambda={cfg.weight_decay:g}$, $m={cfg.width}$)"),
            ("lambda", cfg.lambdas, [(top, lam, cfg.width) for lam in cfg.lambdas], r"weight decay $\lambda$",
             rf"(b) vs. $\lambda$ ($\alpha={top:g}$, $m={cfg.width}$)"),
            ("width", cfg.floor_widths, [(top, cfg.weight_decay, m) for m in cfg.floor_widths], r"width $m$",
             rf"(c) vs. $m$ ($\alpha={top:g}$, $\lambda={cfg.weight_decay:g}$)"),
        ]
        for ax, (_, xs, keys, xlabel, ttl) in zip(axes, panels):
            xs = np.array(xs, float)
            mean = np.array([summary[k]["plateau"][0] for k in keys])
            sd = np.array([summary[k]["plateau"][1] for k in keys])
            ax.errorbar(xs, mean, yerr=sd, fmt="o-", color=blue, capsize=3, label="measured plateau")
            ax.plot(xs, _positive([theory[k]["plateau"] for k in keys]), "s--", color=red, lw=1.2,
                    label="predicted: ridge bias + noise floor")
            ax.plot(xs, _positive([theory[k]["floor"] for k in keys]), ":", color=grey, lw=1.3,
                    label=r"noise floor $\approx n\lambda/(2m)$")
            shown = _positive(np.concatenate([mean, [theory[k]["plateau"] for k in keys]]))
            shown = shown[np.isfinite(shown)]
            if ax is axes[0]:
                ax.plot(xs, _positive([theory[k]["loss_inf"] for k in keys]), "-.", color=P.OKABE_ITO["green"],
                        lw=1.2, label=r"ridge bias (ridge $n\lambda/\alpha^2$)")
            ax.set_xscale("log")
            ax.set_yscale("log")
            if shown.size:
                ax.set_ylim(float(shown.min()) / 3, float(shown.max()) * 2)
            ax.set_xticks(xs)
            ax.set_xticklabels([f"{v:g}" for v in xs])
            ax.xaxis.set_minor_formatter(NullFormatter())
            ax.set_xlabel(xlabel)
            ax.set_title(ttl)
        axes[0].set_ylabel("training loss on the plateau (last 30% of steps)")
        h, lab = axes[0].get_legend_handles_labels()
        fig.legend(h, lab, loc="outside lower center", ncol=4)
        fig.suptitle(title, fontsize=11, fontweight="bold")
        return fig

    return build()


def _positive(values):
    """``values`` with the entries a log axis cannot show (≤ 0, non-finite, > 1e100: a diverged
    prediction) replaced by NaN."""
    v = np.array(values, float)
    v[~(np.isfinite(v) & (v > 0) & (v < 1e100))] = np.nan
    return v


def plot_distance(alphas, dist, sd, pdist, raw, twin_raw, rec, dist_curves, *, title):
    P = _style()
    from matplotlib.figure import Figure

    @P._styled
    def build():
        fig = Figure(figsize=(12.5, 4.6), layout="constrained")
        a1, a2 = fig.subplots(1, 2)
        blue, red, grey = P.OKABE_ITO["blue"], P.OKABE_ITO["vermillion"], "#555555"
        a1.errorbar(alphas, dist, yerr=sd, fmt="o-", color=blue, capsize=3,
                    label=r"$D=\frac{1}{m}\sum_j\|z_j-\tilde z_j\|^2$ (vs. twin)")
        a1.plot(alphas, _positive(pdist), "s--", color=red, lw=1.2, label="linearized prediction")
        a1.plot(alphas, raw, "^-", color=P.OKABE_ITO["orange"], label=r"raw $\frac{1}{m}\sum_j\|z_j-z_j(0)\|^2$")
        a1.plot(alphas, twin_raw, "v:", color=P.OKABE_ITO["purple"], label="raw movement of the twin (noise only)")
        a1.plot(alphas, dist[-1] * (alphas / alphas[-1]) ** -2.0, ":", color=grey, lw=1.3, label=r"slope $-2$")
        a1.set_xscale("log")
        a1.set_yscale("log")
        a1.set_xlabel(r"scaling $\alpha$")
        a1.set_ylabel("mean squared movement at the last step")
        a1.set_title(r"(a) distance from $p_0$ vs. $\alpha$")
        a1.legend(loc="lower left")
        cols = _alpha_colors(list(dist_curves))
        frac = rec / rec[-1]
        for a, D in dist_curves.items():
            a2.plot(frac[1:], (a**2 * D.mean(0))[1:], "-", color=cols[a], label=rf"$\alpha={a:g}$")
        a2.set_xscale("log")
        a2.set_yscale("log")
        a2.set_xlabel("fraction of the run $k/K$")
        a2.set_ylabel(r"$\alpha^2 D(t)$")
        a2.set_title(r"(b) $\alpha^2 D(t)$ over the run")
        a2.legend(loc="lower right", ncol=2)
        fig.suptitle(title, fontsize=11, fontweight="bold")
        return fig

    return build()


def plot_width(t, loss, spread, ws, smax, pmax, *, title):
    """(a) loss trajectories per m; (b) across-seed output spread over time; (c) its maximum and
    the twin-pair maxima ``pmax`` (m → array over pairs) against m."""
    P = _style()
    from matplotlib.figure import Figure

    @P._styled
    def build():
        fig = Figure(figsize=(13.5, 4.5), layout="constrained")
        a1, a2, a3 = fig.subplots(1, 3)
        for j, (m, L) in enumerate(loss.items()):
            c = P._CYCLE[j % len(P._CYCLE)]
            mean, sd = L.mean(0), L.std(0, ddof=1)
            a1.plot(t[1:], mean[1:], "-", color=c, label=f"$m={m}$")
            a1.fill_between(t[1:], _positive(mean - sd)[1:], (mean + sd)[1:], color=c, alpha=0.2, lw=0)
            a2.plot(t[1:], _positive(spread[m])[1:], "-", color=c, label=f"$m={m}$")
        for ax in (a1, a2):
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel(r"time $t=\eta k$")
        a1.set_ylabel("training loss (mean $\\pm$ sd over seeds)")
        a1.set_title("(a) loss trajectories")
        a1.legend(loc="lower left")
        a2.set_ylabel(r"spread of $f(x_i,t)$ across seeds (RMS$_i$ sd)")
        a2.set_title("(b) seed-to-seed spread of the outputs")
        top = max(float(np.nanmax(v)) for v in spread.values())
        a2.set_ylim(top=top * 4)
        a2.legend(loc="upper right", ncol=2)
        a3.plot(ws, smax, "o-", color=P.OKABE_ITO["blue"], label=r"max$_t$ spread (all seeds)")
        for j, m in enumerate(ws):
            pm = np.asarray(pmax[int(m)], float)
            a3.plot(np.full(pm.size, m), pm, "x", color=P.OKABE_ITO["vermillion"],
                    label=r"max$_t$ twin-pair spread" if j == 0 else None)
        a3.plot(ws, smax[0] * np.sqrt(ws[0] / ws), ":", color="#555555", lw=1.3, label=r"$\propto m^{-1/2}$")
        a3.set_xscale("log")
        a3.set_yscale("log")
        a3.set_xticks(ws)
        a3.set_xticklabels([f"{int(v)}" for v in ws])
        a3.set_xlabel("width $m$")
        a3.set_ylabel("largest spread over time")
        a3.set_title("(c) spread vs. width $m$")
        a3.legend(loc="upper right")
        fig.suptitle(title, fontsize=11, fontweight="bold")
        return fig

    return build()


def plot_generalization(levels, tabs, *, title):
    P = _style()
    from matplotlib.figure import Figure

    @P._styled
    def build():
        fig = Figure(figsize=(12.5, 4.6), layout="constrained")
        a1, a2 = fig.subplots(1, 2)
        blue, red, green, orange = (P.OKABE_ITO[k] for k in ("blue", "vermillion", "green", "orange"))
        for A, c, lab, mk in ((tabs["complexity"], green, r"$\sqrt{2y^\top H^{-1}y/n}$, $H$ = two-layer NTK (tanh)", "s"),
                              (tabs["complexity_relu_ntk"], orange, "same with the ReLU two-layer NTK", "D")):
            mean, sd = A.mean(1), (A.std(1, ddof=1) if A.shape[1] > 1 else np.zeros(len(levels)))
            a1.errorbar(levels, mean, yerr=sd, fmt=mk + "-", color=c, capsize=3, label=lab)
        a1.set_xlabel("portion of label noise $p$")
        a1.set_ylabel("complexity measure")
        a1.set_title("(a) complexity of the training labels")
        a1.legend(loc="upper left")
        for A, c, lab in ((tabs["test_error"], blue, "test classification error"),
                          (tabs["train_error"], red, "training classification error")):
            mean, sd = A.mean(1), (A.std(1, ddof=1) if A.shape[1] > 1 else np.zeros(len(levels)))
            a2.errorbar(levels, mean, yerr=sd, fmt="o-", color=c, capsize=3, label=lab)
        a2.set_xlabel("portion of label noise $p$")
        a2.set_ylabel("error")
        a2.set_ylim(-0.02, max(0.7, float(np.nanmax(tabs["test_error"])) + 0.08))
        right = a2.twinx()
        right.plot(levels, tabs["complexity"].mean(1), "s--", color=green, lw=1.3, label="complexity (right axis)")
        right.set_ylabel("complexity (tanh NTK)")
        right.spines["right"].set_visible(True)
        right.grid(False)
        h1, l1 = a2.get_legend_handles_labels()
        h2, l2 = right.get_legend_handles_labels()
        a2.legend(h1 + h2, l1 + l2, loc="upper left")
        a2.set_title("(b) trained network: errors vs. noise")
        fig.suptitle(title, fontsize=11, fontweight="bold")
        return fig

    return build()




# ============================================================================== captions
def rate_caption(cfg, lam0: float, lam0_tab) -> str:
    """What the ``rate`` figure draws (no verdict)."""
    l0 = ", ".join(f"ε = {e:g}: λ₀ = {v['lambda_0']:.3g}" for e, v in lam0_tab.items())
    return (f"Noisy GD with weight decay (Algorithm 1), n = {cfg.n_train} {cfg.data} points, {cfg.activation}, "
            f"m = {cfg.width}, λ = {cfg.weight_decay:g}, {cfg.steps} steps of η = {cfg.lr_fraction:g}·2n/(α²λ_max), "
            f"{cfg.seeds} seed(s). (a) Training loss against the rescaled time α²ηk for α = "
            f"{', '.join(f'{a:g}' for a in cfg.alphas)}, dashed: the linearized dynamics with the noise. "
            f"(b) Decay rate per unit time (ln 10 over the time for the excess loss to fall 10×) against α²λ₀ "
            f"(λ₀ = {lam0:.3g}), with the linearized rate and a slope-1 line. (c) At α = {cfg.alphas[-1]:g}: the same "
            f"data with a near-duplicate pair ({l0}) and worst-case labels y ∝ v_min(H); rate/α² (ln 2 over the time "
            f"for the excess loss to halve) against λ₀, one point per seed, with the linearized rate.")


def plateau_caption(cfg) -> str:
    return (f"Training loss averaged over the last 30 % of {cfg.steps} steps (the plateau), mean ± sd over "
            f"{cfg.seeds} seed(s): (a) against α at λ = {cfg.weight_decay:g}, m = {cfg.width}; (b) against λ ∈ "
            f"{{{', '.join(f'{v:g}' for v in cfg.lambdas)}}} and (c) against m ∈ "
            f"{{{', '.join(str(v) for v in cfg.floor_widths)}}} at α = {cfg.alphas[-1]:g}. Dashed: the linearized "
            f"prediction (ridge bias with ridge nλ/α² plus the finite-width noise floor ≈ nλ/(2m), dotted).")


def distance_caption(cfg) -> str:
    return (f"(a) At the last of {cfg.steps} steps: D = (1/m)Σ‖z_j − z̃_j‖², the mean squared distance of each "
            f"particle from its twin driven by the same noise without the data term (a proxy of the distance of "
            f"p_t from p₀), mean ± sd over {cfg.seeds} seed(s), against α, with the linearized prediction, the raw "
            f"movement from z(0), the twin's own movement and a slope −2 line. (b) α²D(t) against the fraction of "
            f"the run, one curve per α.")


def width_caption(cfg) -> str:
    return (f"Noisy GD at α = {cfg.alpha:g}, λ = {cfg.weight_decay:g}, {cfg.steps} steps, n = {cfg.n_train} "
            f"{cfg.data} points, widths m ∈ {{{', '.join(str(v) for v in cfg.widths)}}}, {cfg.seeds} independent "
            f"seeds per width (initial particles and noise). (a) Loss, mean ± sd over seeds. (b) RMS over the "
            f"training inputs of the across-seed sd of f(x_i, t). (c) Its maximum over t against m, the maxima of "
            f"the twin pairs (seeds 2j, 2j+1: RMS_i|f_2j − f_2j+1|/√2) and an m^-1/2 line.")


def generalization_caption(cfg, ds) -> str:
    return (f"{ds.name}, n = {ds.n} training and {ds.n_test} test points, label noise p on both, {cfg.seeds} seed(s) "
            f"per p; Algorithm 1 with m = {cfg.width}, α = {cfg.alpha:g}, λ = {cfg.weight_decay:g}, {cfg.steps} "
            f"steps. (a) The complexity sqrt(2yᵀH⁻¹y/n) of the training labels with H the generalized two-layer "
            f"NTK Gram matrix of {cfg.activation} (and, for comparison, the ReLU two-layer NTK). (b) Test and "
            f"training 0-1 errors of the trained network against p, with the complexity on the right axis.")

r"""Declared claims of the Chen, Cao, Gu, Zhang (NeurIPS 2020) experiments (Thm 4.4, Lemma 5.3, Thm 4.5,
and the mean-field limit), judged on the tidy metrics of a run (:mod:`twolayer.claims`).

Every slope is a pooled least-squares fit over the (setting, seed) points, so its standard
error contains the seed-to-seed scatter; a rule ``|slope − target| ≤ tol`` is decided with two
standard errors (:func:`twolayer.claims.decide_within`). A point that diverged has a
``diverged_at_step`` row and no statistics: a claim that needs it says ``disagrees`` (its
setting lies outside the theorem's α condition, which is what a divergence shows) and names the
step. Thresholds are the ones of the former captions (fixed before these claims were judged) or
come from theory, as stated in each ``threshold_reason``.
"""

from __future__ import annotations

import math

import numpy as np

from ...claims import (AGREES, DISAGREES, INCONCLUSIVE, Claim, Missing, Outcome, decide_above, decide_below,
                       decide_within, fmt, mean_se, pearson, slope_fit)

SRC = "Chen, Cao, Gu, Zhang 2020"
RATE_SLOPE_TOL = 0.15          # former caption criterion |slope − 1| < 0.15
LAMBDA0_SLOPE_TOL = 0.15
DIST_SLOPE_TOL = 0.3           # former caption criterion |slope + 2| < 0.3
PLATEAU_SLOPE_TOL = 0.25       # former caption criterion, against the linearized slope
RIDGE_MARGIN = 10.0            # α²λ₀/n ≥ 10 λ: the ridge moves the slowest rate by ≤ 10 %
CHAOS_TARGET, CHAOS_TOL = -0.5, 0.2
PEARSON_MIN = 0.9              # former caption criterion
CONVERGED_FRACTION = 0.5       # Thm 4.5 is about the trained network: final loss ≤ half the initial one


# ------------------------------------------------------------------------------ helpers
def _diverged(res, **ids) -> list[str]:
    """``"α = 0.05 (seed 0) diverged at step 12"`` for every diverged point matching ``ids``."""
    out = []
    for r in res.rows("diverged_at_step", **ids):
        where = ", ".join(f"{k} = {fmt(r[k])}" for k in ("alpha", "weight_decay", "width", "dup_eps", "noise")
                          if k in r)
        text = f"{where or 'a point'} (seed {fmt(r.get('seed'))}) diverged at step {fmt(r['value'])}"
        lr = [q for q in res.rows("lr", **{k: r[k] for k in r if k not in ("metric", "value")})]
        lam = r.get("weight_decay", res.get("weight_decay"))
        if lr and lam is not None:
            eta = float(lr[0]["value"])
            text += (f" (η = {fmt(eta)}, ηλ = {fmt(eta * float(lam))}: the weight-decay contraction 1 − ηλ needs "
                     f"ηλ < 2, and the nonlinear dynamics at this α are not those of the kernel that set η)")
        out.append(text)
    return out


def _per_seed(res, metric, by, keys, **ids):
    """Pooled ``(x, y)`` over the rows of ``metric`` whose id ``by`` is in ``keys`` (one per seed)."""
    x, y = [], []
    for k in keys:
        for r in res.rows(metric, **{by: k}, **ids):
            x.append(float(k))
            y.append(float(r["value"]))
    if not x:
        raise Missing(f"{metric} by {by}")
    return np.array(x), np.array(y)


def _base(res) -> dict:
    lam, m = res.get("weight_decay"), res.get("width")
    if lam is None or m is None:
        raise Missing("weight_decay / width in config.toml")
    return dict(weight_decay=float(lam), width=int(m), dup_eps=None)


def _alphas(res) -> list[float]:
    a = res.get("alphas")
    if not a:
        raise Missing("alphas in config.toml")
    return sorted(float(v) for v in a)


def _upper(alphas):
    med = float(np.median(alphas))
    return [a for a in alphas if a >= med]


def _slope_outcome(x, y, target, tol, what, *, assumptions_met=None, extra=""):
    ok = np.isfinite(y) & (y > 0)
    if not np.all(ok):
        return Outcome(INCONCLUSIVE, reason=f"{int(np.sum(~ok))} of {y.size} {what} not measurable (NaN or ≤ 0: the "
                                            f"loss did not fall far enough within the steps){extra}",
                       assumptions_met=assumptions_met)
    slope, se, k = slope_fit(x, y)
    v = decide_within(slope, target, tol, se)
    if v == AGREES and assumptions_met is False:
        v = INCONCLUSIVE
    why = f"fitted slope {fmt(slope)} ± {fmt(se)} (SE) over {k} points, target {fmt(target)} ± {fmt(tol)}"
    if math.isnan(se):
        why += "; fewer than 3 points, no standard error"
    return Outcome(v, slope, target, why + extra, assumptions_met)


# ------------------------------------------------------------------------------ chen2020-alpha
def _rate_alpha(res):
    b = _base(res)
    up = _upper(_alphas(res))
    div = _diverged(res, **b)
    div_up = [d for a in up for d in _diverged(res, alpha=a, **b)]
    if div_up:
        return Outcome(DISAGREES, reason="; ".join(div_up) + ": the kernel-stable step η = frac·2n/(α²λ_max) is not "
                       "stable there, so that α is outside the regime where the rate scales like α²",
                       assumptions_met=False)
    x, y = _per_seed(res, "decay_rate", "alpha", up, **b)
    extra = f" (α ∈ {fmt(up)}; also diverged: {'; '.join(div)})" if div else f" (α ∈ {fmt(up)})"
    return _slope_outcome(x**2, y, 1.0, RATE_SLOPE_TOL, "decay rates", extra=extra)


def _rate_lambda0(res):
    lam = float(res.get("weight_decay"))
    n = res.value("n")
    top = _alphas(res)[-1]
    eps = res.keys("lambda_0", "dup_eps")
    if not eps:
        raise Missing("lambda_0 by dup_eps")
    div = [d for e in eps for d in _diverged(res, dup_eps=e)]
    if div:
        return Outcome(DISAGREES, reason="; ".join(div), assumptions_met=False)
    l0 = {e: res.value("lambda_0", dup_eps=e) for e in eps}
    ridge = min(top**2 * v / n for v in l0.values()) / lam
    met = ridge >= RIDGE_MARGIN
    x, y = [], []
    for e in eps:
        for r in res.rows("rate_lambda0", dup_eps=e, alpha=top):
            x.append(l0[e])
            y.append(float(r["value"]) / top**2)
    if not x:
        raise Missing("rate_lambda0")
    extra = (f" (λ₀ from {fmt(min(l0.values()))} to {fmt(max(l0.values()))} at α = {fmt(top)}; smallest α²λ₀/n is "
             f"{fmt(ridge)}·λ, needed ≥ {fmt(RIDGE_MARGIN)}·λ)")
    if len(eps) < 2:
        return Outcome(INCONCLUSIVE, reason="one λ₀ setting (dup_eps has one value): no exponent to fit" + extra,
                       assumptions_met=met)
    return _slope_outcome(np.array(x), np.array(y), 1.0, LAMBDA0_SLOPE_TOL, "rates", assumptions_met=met, extra=extra)


def _plateau_alpha(res):
    b = _base(res)
    alphas = _alphas(res)
    ok = [a for a in alphas if not _diverged(res, alpha=a, **b)]
    div = [d for a in alphas for d in _diverged(res, alpha=a, **b)]
    note = f" (left out: {'; '.join(div)})" if div else ""
    if len(ok) < 2 or ok[-1] != alphas[-1]:
        return Outcome(INCONCLUSIVE if len(ok) < 2 else DISAGREES,
                       reason="fewer than two α finished" + note if len(ok) < 2 else "the largest α diverged" + note)
    lo, hi = ok[0], ok[-1]
    a_lo = {int(r["seed"]): r["value"] for r in res.rows("plateau", alpha=lo, **b)}
    a_hi = {int(r["seed"]): r["value"] for r in res.rows("plateau", alpha=hi, **b)}
    seeds = sorted(set(a_lo) & set(a_hi))
    if not seeds:
        raise Missing("plateau at the smallest and largest α")
    d = [math.log(a_lo[s] / a_hi[s]) for s in seeds]
    mean, se, k = mean_se(d)
    v = decide_above(mean, 0.0, se if k > 1 else float("nan"))
    return Outcome(v, mean, 0.0, f"ln(plateau(α = {fmt(lo)}) / plateau(α = {fmt(hi)})) = {fmt(mean)} ± {fmt(se)} "
                   f"(SE over {k} seed(s)); the plateau is {fmt(math.exp(mean))}× lower at the largest α" + note)


def _plateau_sweep(res, axis, values_key, fixed):
    b = _base(res)
    top = _alphas(res)[-1]
    vals = sorted(float(v) for v in (res.get(values_key) or []))
    ids = {**b, "alpha": top}
    ids.pop(fixed[0])
    if len(vals) < 2:
        return Outcome(INCONCLUSIVE, reason=f"{values_key} has {len(vals)} value(s): the sweep over {axis} needs "
                                            f"at least two (three for a standard error)")
    div = [d for v in vals for d in _diverged(res, **{fixed[0]: v}, **ids)]
    if div:
        return Outcome(DISAGREES, reason="; ".join(div))
    x, y = _per_seed(res, "plateau", fixed[0], vals, **ids)
    pred = np.array([res.value("predicted_plateau", **{fixed[0]: v}, **{k: w for k, w in ids.items() if w is not None})
                     for v in vals])
    target = slope_fit(vals, pred)[0]
    return _slope_outcome(x, y, target, PLATEAU_SLOPE_TOL, "plateaus",
                          extra=f" (linearized prediction: slope {fmt(target)}; {values_key} = {fmt(vals)})")


def _plateau_lambda(res):
    return _plateau_sweep(res, "λ", "lambdas", ("weight_decay",))


def _plateau_width(res):
    return _plateau_sweep(res, "m", "floor_widths", ("width",))


def _distance(res):
    b = _base(res)
    up = _upper(_alphas(res))
    div = [d for a in up for d in _diverged(res, alpha=a, **b)]
    if div:
        return Outcome(DISAGREES, reason="; ".join(div), assumptions_met=False)
    x, y = _per_seed(res, "dist_final", "alpha", up, **b)
    return _slope_outcome(x, y, -2.0, DIST_SLOPE_TOL, "distances", extra=f" (α ∈ {fmt(up)})")


ALPHA_CLAIMS = (
    Claim(id="thm4.4-rate-alpha2", figure="rate",
          statement="On the kernel side (α at or above the median of the sweep) the loss decay rate per unit time "
                    "scales like α²; with η·α² fixed this is the statement that the loss curves collapse in α²t",
          source=f"{SRC}, Thm 4.4 (rate exp(−cα²λ₀t)), its α part",
          rule=f"agrees if the pooled log–log slope of rate vs α² is within {RATE_SLOPE_TOL} of 1 by 2 SE; "
               "disagrees if a kernel-side α diverged or the slope is off by more than 2 SE",
          threshold_reason="exponent 1 is the theorem's; the tolerance 0.15 is the former caption criterion (fixed "
                           "before the claim was judged). Because η ∝ α⁻², a slope 1 is implied by (and only by) "
                           "per-step rates that do not depend on α, i.e. by the kernel regime; the λ₀ part is "
                           "judged separately in thm4.4-rate-lambda0",
          judge=_rate_alpha,
          assumptions="α above the threshold (4.1); here: no divergence at the judged α"),
    Claim(id="thm4.4-rate-lambda0", figure="rate",
          statement="At fixed α and fixed step η, the decay rate of the worst-case labels y ∝ v_min(H) is "
                    "proportional to λ₀ across data sets that differ only by a near-duplicate pair",
          source=f"{SRC}, Thm 4.4 (rate exp(−cα²λ₀t)), its λ₀ part",
          rule=f"agrees if the pooled log–log slope of rate/α² vs λ₀ is within {LAMBDA0_SLOPE_TOL} of 1 by 2 SE and "
               f"α²λ₀/n ≥ {RIDGE_MARGIN:g}λ at every λ₀; inconclusive with one λ₀ or when that condition fails",
          threshold_reason="exponent 1 from the theorem (linearized: rate = 2(α²λ₀/n + λ), exponent ≥ 0.9 when "
                           "α²λ₀/n ≥ 10λ). η = frac·2n/(α²λ_max) is the same for all λ₀ (λ_max moves < 0.1 %), so "
                           "no λ₀ dependence is built into the step; tolerance 0.15 as for the α part",
          judge=_rate_lambda0,
          assumptions=f"kernel side: α²λ₀/n ≥ {RIDGE_MARGIN:g}λ (the weight decay does not set the slowest rate)"),
    Claim(id="thm4.4-plateau-falls-with-alpha", figure="plateau",
          statement="The loss converges up to an accuracy that falls as α grows",
          source=f"{SRC}, Thm 4.4 (the floor vanishes as α → ∞)",
          rule="agrees if ln(plateau at the smallest finished α / plateau at the largest α) > 0 by 2 SE over seeds",
          threshold_reason="the theorem's direction; the noise of the comparison is the seed-to-seed scatter",
          judge=_plateau_alpha),
    Claim(id="thm4.4-plateau-lambda", figure="plateau",
          statement="At the largest α the plateau grows with the weight decay λ as the linearized floor nλ/(2m) "
                    "(plus ridge bias) predicts",
          source=f"{SRC}, Thm 4.4 (the floor vanishes as λ → 0)",
          rule=f"agrees if the pooled slope of the plateau vs λ is within {PLATEAU_SLOPE_TOL} of the linearized "
               "slope by 2 SE; inconclusive with one λ",
          threshold_reason="target from the linearized theory of this run (stationary OU floor); tolerance 0.25 is "
                           "the former caption criterion",
          judge=_plateau_lambda, assumptions="kernel side (largest α)"),
    Claim(id="thm4.4-plateau-width", figure="plateau",
          statement="At the largest α the plateau falls with the width like the finite-width noise floor ∝ 1/m",
          source=f"{SRC}, Thm 4.4 (accuracy floor) at finite m",
          rule=f"agrees if the pooled slope of the plateau vs m is within {PLATEAU_SLOPE_TOL} of the linearized "
               "slope by 2 SE; inconclusive with one width",
          threshold_reason="target from the linearized theory; tolerance 0.25 is the former caption criterion",
          judge=_plateau_width, assumptions="kernel side (largest α)"),
    Claim(id="lemma5.3-distance-alpha-2", figure="distance",
          statement="The distance of p_t from p₀ (coupling proxy D to the data-free twin) falls like α⁻²",
          source=f"{SRC}, Thm 4.4 / Lemma 5.3 (KL(p_t‖p₀) = O(α⁻²λ₀⁻⁴))",
          rule=f"agrees if the pooled log–log slope of D vs α (α ≥ median) is within {DIST_SLOPE_TOL} of −2 by 2 SE",
          threshold_reason="−2 from the theorem (W₂² ≤ 2KL); once the modes converged D → yᵀH⁻¹y/α² whatever η, "
                           "so the step rule does not build the slope in; tolerance 0.3 is the former caption "
                           "criterion (the finite-width term 2λt·n/m flattens the slope at finite m)",
          judge=_distance, assumptions="kernel side; no divergence at the judged α"),
)


# ------------------------------------------------------------------------------ chen2020-width
def _twin_points(res):
    ws = res.keys("twin_spread_max", "width")
    if not ws:
        raise Missing("twin_spread_max by width")
    div = _diverged(res)
    x, y = _per_seed(res, "twin_spread_max", "width", ws)
    return ws, x, y, div


def _chaos_converges(res):
    ws, x, y, div = _twin_points(res)
    if div:
        return Outcome(DISAGREES, reason="; ".join(div))
    slope, se, k = slope_fit(x, y)
    v = decide_below(slope, 0.0, se)
    return Outcome(v, slope, 0.0, f"slope of the twin-pair spread vs m: {fmt(slope)} ± {fmt(se)} (SE) over {k} "
                   f"points (m ∈ {fmt(ws)})" + ("; fewer than 3 points, no standard error" if math.isnan(se) else ""))


def _chaos_rate(res):
    ws, x, y, div = _twin_points(res)
    if div:
        return Outcome(DISAGREES, reason="; ".join(div))
    return _slope_outcome(x, y, CHAOS_TARGET, CHAOS_TOL, "spreads", extra=f" (m ∈ {fmt(ws)})")


WIDTH_CLAIMS = (
    Claim(id="chaos-twins-converge", figure="width",
          statement="As m grows, the trajectories of independent replicas (twins) converge to one another",
          source=f"{SRC}, mean-field limit (propagation of chaos), papers.md §3.2 item 2",
          rule="agrees if the pooled log–log slope of the twin-pair spread max_t RMS_i|f−f'|/√2 vs m is < 0 by 2 SE",
          threshold_reason="convergence means a decreasing spread; significance from the pair-to-pair scatter",
          judge=_chaos_converges, assumptions="fixed (α, λ, η), same time window for every m"),
    Claim(id="chaos-spread-m-1/2", figure="width",
          statement="The spread between twins falls like m^-1/2",
          source=f"{SRC}, mean-field limit; CLT for the empirical measure of m i.i.d. particles",
          rule=f"agrees if the pooled log–log slope is within {CHAOS_TOL} of −1/2 by 2 SE",
          threshold_reason="−1/2 is the CLT exponent; 0.2 keeps the former caption bound (slope < −0.3) and "
                           "allows the O(1/m) corrections at the smallest width symmetrically",
          judge=_chaos_rate, assumptions="m large enough for the CLT (here m ≥ the smallest width)"),
)


# ------------------------------------------------------------------------------ chen2020-generalization
def _gen_tables(res):
    levels = res.keys("complexity", "noise", labels="noisy")
    seeds = res.keys("complexity", "seed", labels="noisy")
    if len(levels) < 2:
        raise Missing("complexity at two noise levels")
    return levels, seeds


def _converged(res, levels, seeds):
    worst = 0.0
    for p in levels:
        for s in seeds:
            if res.has("train_loss", noise=p, seed=s):
                worst = max(worst, res.value("train_loss", noise=p, seed=s) / res.value("initial_loss", noise=p, seed=s))
    return worst


def _tracks(res):
    levels, seeds = _gen_tables(res)
    div = _diverged(res)
    if div:
        return Outcome(DISAGREES, reason="; ".join(div))
    r = []
    for s in seeds:
        c = [res.value("complexity", noise=p, seed=s) for p in levels]
        e = [res.value("test_error", noise=p, seed=s) for p in levels]
        r.append(pearson(c, e))
    mean, se, k = mean_se(r)
    if k < len(r):
        return Outcome(INCONCLUSIVE, reason=f"the test error is constant across noise levels for {len(r) - k} seed(s): "
                                            f"no correlation defined")
    v = decide_above(mean, PEARSON_MIN, se)
    return Outcome(v, mean, PEARSON_MIN, f"Pearson r(complexity, test error) across p ∈ {fmt(levels)}: {fmt(mean)} ± "
                   f"{fmt(se)} (SE over {k} seed(s); per seed {fmt(r)})")


def _bound(res):
    levels, seeds = _gen_tables(res)
    div = _diverged(res)
    if div:
        return Outcome(DISAGREES, reason="; ".join(div))
    worst = _converged(res, levels, seeds)
    met = worst <= CONVERGED_FRACTION
    margins = {}
    for p in levels:
        m, se, k = mean_se(res.by_seed("bound_margin", noise=p))
        margins[p] = (m, se)
    p_min = min(margins, key=lambda p: margins[p][0] - 2 * (margins[p][1] if math.isfinite(margins[p][1]) else 0))
    m, se = margins[p_min]
    v = decide_above(m, 0.0, se)
    if v == AGREES and not met:
        v = INCONCLUSIVE
    return Outcome(v, m, 0.0, f"smallest margin complexity − test error is {fmt(m)} ± {fmt(se)} (SE over seeds) at "
                   f"p = {fmt(p_min)}; training reached final/initial loss ≤ {fmt(worst)} (needed ≤ "
                   f"{fmt(CONVERGED_FRACTION)})", met)


GENERALIZATION_CLAIMS = (
    Claim(id="thm4.5-complexity-tracks-test-error", figure="complexity_vs_test_error",
          statement="Across label-noise levels the test error of the trained network rises with the complexity "
                    "sqrt(2yᵀH⁻¹y/n) of the training labels (H the generalized two-layer NTK)",
          source=f"{SRC}, Thm 4.5",
          rule=f"agrees if the per-seed Pearson correlation across noise levels, averaged over seeds, exceeds "
               f"{PEARSON_MIN} by 2 SE",
          threshold_reason="0.9 is the former caption criterion (fixed before the claim was judged); seeds give "
                           "the standard error",
          judge=_tracks, assumptions="α ≳ sqrt(nλ) (Thm 4.5); network trained to its plateau"),
    Claim(id="thm4.5-bound-above-test-error", figure="complexity_vs_test_error",
          statement="The label-dependent term of the bound, sqrt(2yᵀH⁻¹y/n) with constant 1, lies above the "
                    "measured test error at every noise level",
          source=f"{SRC}, Thm 4.5 (constants not retrieved; the leading term with Arora et al.'s constant)",
          rule="agrees if at every noise level mean(complexity − test error) > 0 by 2 SE over seeds and the "
               f"training converged (final loss ≤ {CONVERGED_FRACTION}× initial at every point); inconclusive if "
               "it did not",
          threshold_reason="the bound itself; leaving out the positive sqrt(log(1/δ)/n) and λ-, α-terms makes the "
                           "test stricter, not looser. Significance from the seed-to-seed scatter",
          judge=_bound, assumptions="the network is trained (Thm 4.5 bounds the network after training)"),
)

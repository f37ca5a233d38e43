r"""Declared claims of ``arora2019-thm6`` (Arora et al. ICML 2019, Theorem 6.1 / Corollary 6.2).

Judged on the tidy rows ``sqrt_yHy`` and ``bound`` (per target, n, seed) and ``in_class`` (per
target). The bound is an exact inequality (no seeds needed); the levelling off is a growth
exponent decided with its across-seed standard error.

Levelling-off threshold 0.25: a bounded ``sqrt(yᵀH⁻¹y)`` has a log–log growth exponent → 0, while
for uniform ±1 labels ``E[yᵀH⁻¹y] = tr(H⁻¹) ≥ n²/tr(H) = 2n`` (``tr H∞ = n/2``; the harmonic–
arithmetic mean inequality), so the value grows at least like ``n^{1/2}``. The cut-off 0.25 is the
midpoint of the two exponents; fitted over the upper half of the ``n`` grid (at least 2 sizes), where
a bounded increasing sequence has flattened most.
"""

from __future__ import annotations

import numpy as np

from ...claims import AGREES, DISAGREES, Claim, Missing, Outcome, decide_below, fmt, mean_se, \
    slope_fit, worst_verdict

SRC = "Arora et al. 2019"
#: Growth exponent below which a value counts as levelled off (see the module docstring).
LEVEL_OFF_SLOPE = 0.25
#: Relative slack for the exact bound comparison: the rounding of a Cholesky solve, not a tolerance on the theorem.
ROUNDING = 1e-9


def _targets(res) -> list[str]:
    ts = res.get("targets")
    if not ts:
        raise Missing("config targets")
    return [str(t) for t in ts]


def _in_class(res, t: str) -> bool:
    return bool(res.value("in_class", target=t))


def _class_note(res, targets) -> tuple[bool, str]:
    outside = [t for t in targets if not _in_class(res, t)]
    if outside:
        return False, f" Outside Theorem 6.1's class (p_j ∉ {{1, 2, 4, …}} or no polynomial): {', '.join(outside)}."
    return True, ""


def _judge_bound(res) -> Outcome:
    targets = _targets(res)
    judged = [t for t in targets if res.has("bound", target=t)]
    if not judged:
        raise Missing("bound (no target with a Corollary 6.2 value)")
    verdicts, ratios, parts = [], {}, []
    for t in judged:
        val = {(r["n"], r["seed"]): float(r["value"]) for r in res.rows("sqrt_yHy", target=t)}
        bnd = {(r["n"], r["seed"]): float(r["value"]) for r in res.rows("bound", target=t)}
        r = max(val[k] / bnd[k] for k in val if k in bnd)
        ratios[t] = r
        verdicts.append(AGREES if r <= 1 + ROUNDING else DISAGREES)
        over = sorted({int(k[0]) for k in val if k in bnd and val[k] > bnd[k] * (1 + ROUNDING)})
        parts.append(f"{t} max value/bound {fmt(r)}" + (f" (above the bound at n ∈ {{{', '.join(map(str, over))}}})"
                                                        if over else ""))
    skipped = [t for t in targets if t not in judged]
    met, note = _class_note(res, judged)
    reason = ("Largest sqrt(yᵀH⁻¹y) / Cor. 6.2 value over every n and sample: " + "; ".join(parts) + "." + note
              + (f" No bound for {', '.join(skipped)} (not judged here)." if skipped else ""))
    return Outcome(worst_verdict(verdicts), max(ratios.values()), 1.0, reason, met)


def _judge_levels_off(res) -> Outcome:
    targets = _targets(res)
    verdicts, stats, parts = [], {}, []
    for t in targets:
        ns = res.keys("sqrt_yHy", "n", target=t)
        if len(ns) < 2:
            raise Missing(f"sqrt_yHy at two sizes n (target={t})")
        k = max(2, (len(ns) + 1) // 2)
        upper = ns[-k:]
        seeds = res.keys("sqrt_yHy", "seed", target=t)
        fits = []
        for s in seeds:
            x, y = res.series("sqrt_yHy", "n", target=t, seed=s)
            keep = np.isin(x, upper)
            fits.append(slope_fit(x[keep], y[keep]))
        if len(fits) >= 2:
            slope, se, m = mean_se([f[0] for f in fits])
            how = f"mean ± SE over {m} samples"
        else:
            slope, se, _ = fits[0]
            how = "one sample, OLS SE" if np.isfinite(se) else "one sample and 2 sizes: no SE"
        v = decide_below(slope, LEVEL_OFF_SLOPE, se)
        verdicts.append(v)
        stats[t] = slope
        parts.append(f"{t} {fmt(slope)} ± {fmt(se)} ({how})")
    met, note = _class_note(res, targets)
    reason = (f"Growth exponent of sqrt(yᵀH⁻¹y) over the largest sizes n ∈ [{fmt(upper[0])}, {fmt(upper[-1])}]: "
              + "; ".join(parts) + f" (levelled off below {LEVEL_OFF_SLOPE}; random labels ≥ 0.5)." + note)
    return Outcome(worst_verdict(verdicts), stats, LEVEL_OFF_SLOPE, reason, met)


_CLASS = ("y_i = Σ_j α_j(β_jᵀx_i)^{p_j} with every p_j ∈ {1, 2, 4, 6, …} and ‖x_i‖ = 1 (checked per target: "
          "assumptions_met is False when the run includes random labels or an odd power p ≥ 3)")

THM6_CLAIMS = (
    Claim(id="thm6-below-bound", figure="target_complexity",
          statement="sqrt(yᵀ(H∞)⁻¹y) stays below 3 Σ_j p_j|α_j|‖β_j‖^{p_j} at every sample size n",
          source=f"{SRC}, Thm 6.1 and Cor. 6.2, eq. (13)",
          rule=f"agrees if max over targets, n and samples of value/bound ≤ 1 (+{ROUNDING:g} rounding); disagrees "
               "otherwise (exact, no seeds needed); targets without a bound (random labels) are not judged",
          threshold_reason="the theorem's inequality itself; the slack is the floating-point rounding of the solve",
          judge=_judge_bound, assumptions=_CLASS),
    Claim(id="thm6-levels-off", figure="target_complexity",
          statement="sqrt(yᵀ(H∞)⁻¹y) levels off as n grows (it is bounded independently of n)",
          source=f"{SRC}, Thm 6.1 (the bound does not depend on n) and §6 (sample complexity O(M_g/ε²))",
          rule=f"per target, the log–log slope of the value on n over the upper half of the n grid, mean ± SE over "
               f"samples (OLS SE with one sample); agrees if slope + 2 SE < {LEVEL_OFF_SLOPE}, disagrees if slope − "
               f"2 SE > {LEVEL_OFF_SLOPE}; worst over targets",
          threshold_reason=f"{LEVEL_OFF_SLOPE} is the midpoint between a bounded value (exponent → 0) and random ±1 "
                           "labels, which grow at least like n^0.5 (E[yᵀH⁻¹y] = tr H⁻¹ ≥ n²/tr H = 2n)",
          judge=_judge_levels_off, assumptions=_CLASS),
)

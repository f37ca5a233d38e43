r"""Declared claims of the Li–Ma–Zhang (COLT 2020) experiments, judged on the tidy metrics alone.

Each judge reads the rows the points wrote (ids ``model, d, seed``, networks also ``width``,
records ``step``, Hermite orders ``order``) and ``config.toml``; noisy comparisons decide with
the across-replicate standard error (:func:`twolayer.claims.mean_se`, factor 2). A network point
that diverged carries a ``diverged_at_step`` row: every claim that needs it is ``inconclusive``
with that step in its reason (the theorem assumes a stable step size).

Paper facts used (papers.md §4): the network's population loss is ``o(1/d)`` (GD, over-
parameterized, poly(d) samples and time) while any kernel method with poly(d) samples has
``Ω(1/d)``; the proof has a stage 1 fitting the Hermite orders 0 and 2 and a stage 2 in which the
order ≥ 4 terms drive neurons to the teacher directions; the simulations show that sufficient
over-parameterization is needed.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import norm

from ...claims import AGREES, DISAGREES, INCONCLUSIVE, Claim, Missing, Outcome, decide_above, fmt, mean_se, slope_fit
from .points import EVEN_ORDERS, FIT_FRACTION, first_fitted_step, width_of

SOURCE = "Li, Ma, Zhang, COLT 2020"
#: Final mean alignment ``mean_i max_j |cos∠(w_j, w*_i)|`` that counts as recovering the teacher.
ALIGNMENT_LEVEL = 0.9
#: Family-wise error of the Hermite Monte Carlo check (Bonferroni over all estimates of a run).
FAMILY_ALPHA = 0.05


# ------------------------------------------------------------------------------ helpers
def _dims(res) -> list:
    dims = res.get("dims")
    if not dims:
        raise Missing("dims in config.toml")
    return [int(d) for d in dims]


def _diverged(res, **ids) -> list[str]:
    """``["d = 8, m = 80, seed 1: step 12", …]`` for the network points matching ``ids`` that diverged."""
    out = []
    for r in res.rows("diverged_at_step", model="network", **ids):
        out.append(f"d = {fmt(r['d'])}, m = {fmt(r['width'])}, seed {fmt(r['seed'])}: step {fmt(r['value'])}")
    return out


def _diverged_outcome(res, bad: list[str]) -> Outcome:
    return Outcome(INCONCLUSIVE, reason=f"the network diverged ({'; '.join(bad[:4])}) with {res.get('algorithm')} at "
                                        f"lr = {fmt(res.get('resolved.lr'))}: the theorem assumes a stable step; "
                                        f"use a smaller --set lr=…", assumptions_met=False)


def _per_seed(res, metric: str, **ids) -> dict[int, float]:
    """``{seed: value}`` of the per-point ``metric`` rows matching ``ids`` (no step/order rows)."""
    out = {}
    for r in res.rows(metric, step=None, order=None, **ids):
        if "seed" in r:
            out[int(r["seed"])] = float(r["value"])
    if not out:
        raise Missing(f"{metric} ({', '.join(f'{k}={v}' for k, v in ids.items())})")
    return out


def _combine(verdicts: dict) -> str:
    """Every d agrees → agrees; any disagrees → disagrees; else inconclusive."""
    vs = list(verdicts.values())
    if vs and all(v == AGREES for v in vs):
        return AGREES
    return DISAGREES if DISAGREES in vs else INCONCLUSIVE


def _algorithm_ok(res) -> bool:
    return res.get("algorithm") == "gd"


def _algo_note(res) -> str:
    return "" if _algorithm_ok(res) else (f" Trained with {res.get('algorithm')} (a variant), not the paper's plain GD: "
                                          f"the assumptions are not met; `--preset gd` runs plain GD.")


# ------------------------------------------------------------------------------ separation
def judge_beats_kernels(res) -> Outcome:
    """Paired per replicate: ``Δ_s(d) = min_b d·L_b − d·L_net`` (test loss, best ridge for each baseline)."""
    dims = _dims(res)
    m_fac = float(res.get("width_factor"))
    bad = _diverged(res)
    if bad:
        return _diverged_outcome(res, bad)
    baselines = sorted({r["model"] for r in res.rows("final_d_test_mse") if r["model"] != "network"})
    if not baselines:
        raise Missing("baseline rows (set kernels= or poly_degrees=)")
    stat, verdicts, parts = {}, {}, []
    for d in dims:
        net = _per_seed(res, "final_d_test_mse", model="network", d=d, width=width_of(m_fac, d))
        base = {b: _per_seed(res, "final_d_test_mse", model=b, d=d) for b in baselines}
        seeds = sorted(set(net).intersection(*[set(v) for v in base.values()]))
        diff = [min(base[b][s] for b in baselines) - net[s] for s in seeds]
        mu, se, k = mean_se(diff)
        stat[str(d)] = mu
        verdicts[d] = decide_above(mu, 0.0, se)
        parts.append(f"d = {d}: {fmt(mu)} ± {fmt(se)} ({k} seeds, network {fmt(np.mean([net[s] for s in seeds]))})")
    return Outcome(_combine(verdicts), stat, 0.0,
                   reason="best baseline minus network d × test loss, mean ± se over replicates: " + "; ".join(parts)
                          + "." + _algo_note(res),
                   assumptions_met=_algorithm_ok(res) and m_fac >= 4)


def judge_o_one_over_d(res) -> Outcome:
    """Slope of ``log(d · population loss)`` of the network on ``log d`` over all (d, replicate)."""
    dims = _dims(res)
    m_fac = float(res.get("width_factor"))
    bad = _diverged(res)
    if bad:
        return _diverged_outcome(res, bad)
    xs, ys = [], []
    for d in dims:
        for v in _per_seed(res, "final_d_population_mse", model="network", d=d, width=width_of(m_fac, d)).values():
            xs.append(d)
            ys.append(v)
    slope, se, k = slope_fit(xs, ys)
    expo = float(res.get("steps_exponent", 0.0) or 0.0)
    if expo <= 0:
        return Outcome(INCONCLUSIVE, slope, 0.0,
                       reason=f"fitted slope {fmt(slope)} ± {fmt(se)} ({k} points), but every d had the same step "
                              f"budget ({fmt(res.get('steps'))}): the o(1/d) rate is reached in poly(d) time, so a "
                              f"fixed budget cannot test it; set steps_exponent > 0 (budget ∝ d^p)." + _algo_note(res),
                       assumptions_met=False)
    if len(dims) < 2:
        return Outcome(INCONCLUSIVE, slope, 0.0, reason="one dimension: no slope", assumptions_met=None)
    v = decide_above(-slope, 0.0, se)
    return Outcome(v, slope, 0.0,
                   reason=f"slope of log(d × population loss) on log d: {fmt(slope)} ± {fmt(se)} ({k} points, "
                          f"budget steps·(d/{dims[0]})^{fmt(expo)})." + _algo_note(res),
                   assumptions_met=_algorithm_ok(res) and m_fac >= 4)


# ------------------------------------------------------------------------------ stage-wise
def _fit_times(res, d: int, m: int) -> dict[int, dict[int, float]]:
    """``{seed: {order: first fitted step}}`` from the exact ``hermite_residual`` records."""
    out = {}
    rows = res.rows("hermite_residual", model="network", d=d, width=m)
    if not rows:
        raise Missing(f"hermite_residual (d={d}, width={m})")
    for s in sorted({int(r["seed"]) for r in rows}):
        out[s] = {}
        for k in EVEN_ORDERS:
            rr = sorted((r for r in rows if int(r["seed"]) == s and int(r["order"]) == k), key=lambda r: r["step"])
            out[s][k] = first_fitted_step([r["step"] for r in rr], [r["value"] for r in rr])
    return out


def judge_stagewise(res) -> Outcome:
    r"""Per replicate ``g_s = log((t_4 + 1)/(max(t_0, t_2) + 1))`` with ``t_k`` the first record
    where order k's residual is ≤ FIT_FRACTION of its step-0 energy."""
    dims = _dims(res)
    m_fac = float(res.get("width_factor"))
    bad = _diverged(res)
    if bad:
        return _diverged_outcome(res, bad)
    stat, verdicts, parts = {}, {}, []
    for d in dims:
        t = _fit_times(res, d, width_of(m_fac, d))
        unfit = sorted({k for s in t for k in EVEN_ORDERS if not math.isfinite(t[s][k])})
        med = {k: float(np.median([t[s][k] for s in t])) for k in EVEN_ORDERS}
        if unfit:
            verdicts[d] = INCONCLUSIVE
            stat[str(d)] = float("nan")
            parts.append(f"d = {d}: order(s) {', '.join(map(str, unfit))} not fitted to {fmt(FIT_FRACTION)} of "
                         f"their energy within the budget")
            continue
        gaps = [math.log((t[s][4] + 1.0) / (max(t[s][0], t[s][2]) + 1.0)) for s in t]
        mu, se, k = mean_se(gaps)
        stat[str(d)] = mu
        verdicts[d] = decide_above(mu, 0.0, se)
        parts.append(f"d = {d}: fitted at steps (median) order 0 {fmt(med[0])}, 2 {fmt(med[2])}, 4 {fmt(med[4])}; "
                     f"log gap {fmt(mu)} ± {fmt(se)} ({k} seeds)")
    return Outcome(_combine(verdicts), stat, 0.0, reason="; ".join(parts) + "." + _algo_note(res),
                   assumptions_met=_algorithm_ok(res) and bool(res.get("symmetric")))


def judge_alignment(res) -> Outcome:
    """Final ``mean_i max_j |cos∠(w_j, w*_i)|`` above ALIGNMENT_LEVEL and above its step-0 value."""
    dims = _dims(res)
    m_fac = float(res.get("width_factor"))
    bad = _diverged(res)
    if bad:
        return _diverged_outcome(res, bad)
    stat, verdicts, parts = {}, {}, []
    for d in dims:
        m = width_of(m_fac, d)
        final = _per_seed(res, "final_alignment_mean", model="network", d=d, width=m)
        init = {int(r["seed"]): float(r["value"]) for r in res.rows("alignment_mean", model="network", d=d, width=m,
                                                                      step=0)}
        if not init:
            raise Missing(f"alignment_mean at step 0 (d={d})")
        seeds = sorted(set(final) & set(init))
        mu, se, k = mean_se([final[s] for s in seeds])
        gain, gse, _ = mean_se([final[s] - init[s] for s in seeds])
        level, rise = decide_above(mu, ALIGNMENT_LEVEL, se), decide_above(gain, 0.0, gse)
        verdicts[d] = AGREES if level == rise == AGREES else (DISAGREES if DISAGREES in (level, rise) else INCONCLUSIVE)
        stat[str(d)] = mu
        parts.append(f"d = {d}: {fmt(float(np.mean([init[s] for s in seeds])))} at step 0 → {fmt(mu)} ± {fmt(se)} "
                     f"({k} seeds)")
    return Outcome(_combine(verdicts), stat, ALIGNMENT_LEVEL, reason="; ".join(parts) + "." + _algo_note(res),
                   assumptions_met=_algorithm_ok(res) and m_fac >= 4)


# ------------------------------------------------------------------------------ Hermite check
def judge_hermite_valid(res) -> Outcome:
    r"""Every Monte Carlo energy ``ê`` with standard error ``σ̂``: ``ê ≥ −z σ̂`` and, where the exact
    value ``e`` is known (teacher; network residual at the last record), ``|ê − e| ≤ z σ̂``, with
    ``z = Φ⁻¹(1 − α/(2N))`` (Bonferroni over the N tests, family-wise α = 0.05)."""
    tests = []   # (label, estimate, se, exact or None)
    exact_t = {(int(r["d"]), int(r["order"])): float(r["value"]) for r in res.rows("teacher_hermite_energy_exact")}
    for r in res.rows("teacher_hermite_energy"):
        se = res.rows("teacher_hermite_energy_se", d=r["d"], order=r["order"], seed=r["seed"])
        if not se:
            raise Missing(f"teacher_hermite_energy_se (d={r['d']}, order={r['order']})")
        tests.append((f"teacher d={fmt(r['d'])} order {fmt(r['order'])} seed {fmt(r['seed'])}", float(r["value"]),
                      float(se[0]["value"]), exact_t.get((int(r["d"]), int(r["order"])))))
    for r in res.rows("final_hermite_residual_mc"):
        ids = {k: r[k] for k in ("model", "d", "seed", "order", "width") if k in r}
        se = res.rows("final_hermite_residual_mc_se", **ids)
        if not se:
            raise Missing(f"final_hermite_residual_mc_se ({ids})")
        ex = res.rows("final_hermite_residual", **ids)
        label = f"{r['model']} d={fmt(r['d'])}" + (f" m={fmt(r['width'])}" if "width" in r else "") + \
            f" seed {fmt(r['seed'])} order {fmt(r['order'])}"
        tests.append((label, float(r["value"]), float(se[0]["value"]), float(ex[0]["value"]) if ex else None))
    if not tests:
        raise Missing("Monte Carlo Hermite energies")
    z = float(norm.isf(FAMILY_ALPHA / (2 * len(tests))))
    neg = min((est / se if se > 0 else (0.0 if est >= 0 else -math.inf), lab) for lab, est, se, _ in tests)
    devs = [(abs(est - ex) / se if se > 0 else (0.0 if est == ex else math.inf), lab)
            for lab, est, se, ex in tests if ex is not None]
    dev = max(devs) if devs else (0.0, "")
    ok = neg[0] >= -z and dev[0] <= z
    n_exact = len(devs)
    reason = (f"{len(tests)} Monte Carlo estimates ({n_exact} with an exact value); most negative ê/σ̂ = "
              f"{fmt(neg[0])} ({neg[1]}), largest |ê − e|/σ̂ = {fmt(dev[0])} ({dev[1]}); z = {fmt(z)}.")
    return Outcome(AGREES if ok else DISAGREES, {"min_z": neg[0], "max_dev_z": dev[0]}, z, reason=reason,
                   assumptions_met=None)


# ------------------------------------------------------------------------------ width
def judge_narrow_worse(res) -> Outcome:
    """Paired per replicate: ``d·L(m = f_min d) − d·L(m = f_max d)`` (test loss) at every d."""
    dims = _dims(res)
    facs = sorted(float(f) for f in res.get("width_factors") or [])
    if len(facs) < 2:
        raise Missing("two width_factors")
    lo, hi = facs[0], facs[-1]
    bad = _diverged(res)
    if bad:
        return _diverged_outcome(res, bad)
    stat, verdicts, parts = {}, {}, []
    for d in dims:
        nar = _per_seed(res, "final_d_test_mse", model="network", d=d, width=width_of(lo, d))
        wide = _per_seed(res, "final_d_test_mse", model="network", d=d, width=width_of(hi, d))
        seeds = sorted(set(nar) & set(wide))
        mu, se, k = mean_se([nar[s] - wide[s] for s in seeds])
        stat[str(d)] = mu
        verdicts[d] = decide_above(mu, 0.0, se)
        parts.append(f"d = {d}: m = {width_of(lo, d)} minus m = {width_of(hi, d)}: {fmt(mu)} ± {fmt(se)} ({k} seeds; "
                     f"narrow {fmt(float(np.mean([nar[s] for s in seeds])))}, wide "
                     f"{fmt(float(np.mean([wide[s] for s in seeds])))})")
    met = _algorithm_ok(res) and lo <= 2 and hi >= 10
    note = "" if lo <= 2 and hi >= 10 else f" The widths compared (m/d = {fmt(lo)}, {fmt(hi)}) are not m ~ d vs m ≥ 10d."
    return Outcome(_combine(verdicts), stat, 0.0, reason="narrow minus wide d × test loss: " + "; ".join(parts) + "."
                   + note + _algo_note(res), assumptions_met=met)


# ------------------------------------------------------------------------------ declarations
_HERMITE = dict(
    id="hermite-energies-valid",
    statement="Hermite-order energies are non-negative and the Monte Carlo estimates match the exact values "
              "within their error",
    source="papers.md §4.2 (Hermite expansion of |z|, Mehler's formula)",
    rule="agrees if every Monte Carlo estimate ê ≥ −z·σ̂ and |ê − e| ≤ z·σ̂ where the exact e is known "
         "(teacher; network residual at the last record), z = Φ⁻¹(1 − 0.05/(2N)) over the N estimates",
    threshold_reason="σ̂ is the U-statistic's standard error (Hoeffding decomposition); Bonferroni keeps the "
                     "family-wise false alarm at 5 %. A true energy is ≥ 0, so an estimate below −z·σ̂ is a defect",
    judge=judge_hermite_valid,
    assumptions="x ~ N(0, I_d) test sample independent of training; the networks' trajectories use exact energies")

SEPARATION_CLAIMS = (
    Claim(id="separation-beats-kernels", figure="separation",
          statement="GD on the over-parameterized ReLU network reaches a lower loss than the NTK, the random-feature "
                    "kernel and polynomial regression on the same samples, at every d",
          source=f"{SOURCE}, main results (NN o(1/d) vs any kernel method Ω(1/d) with poly(d) samples)",
          rule="per d: Δ = best baseline − network d × test loss, paired over replicates; agrees if mean Δ − 2·se > 0 "
               "at every d, disagrees if mean Δ + 2·se < 0 at some d",
          threshold_reason="0: the paper's separation; 2 across-replicate standard errors (the replicates draw "
                           "teacher, samples and init afresh); each baseline gets its best ridge on the test set",
          judge=judge_beats_kernels,
          assumptions="plain GD from small random init, m ≫ d (m/d ≥ 4 here), n = poly(d) (n = 8d²)"),
    Claim(id="separation-network-o-1-over-d", figure="separation",
          statement="the network's d × population loss decreases as d grows (loss o(1/d))",
          source=f"{SOURCE}, main NN theorem (loss O(1/d^(1+Q)))",
          rule="slope of log(d × population loss) on log d over all (d, replicate): agrees if slope + 2·se < 0, "
               "disagrees if slope − 2·se > 0; inconclusive with a step budget that does not grow with d",
          threshold_reason="o(1/d) means d × loss → 0, i.e. a negative slope; 2 OLS standard errors; the loss is "
                           "the exact population loss (arc-cosine formulas), so only replicates add noise",
          judge=judge_o_one_over_d,
          assumptions="poly(d) steps (steps_exponent > 0) and samples, plain GD, m ≫ d"),
    Claim(id="stagewise-orders-0-2-before-4", figure="stagewise",
          statement="the Hermite orders 0 and 2 of the error are fitted before order 4 (stage 1, then stage 2)",
          source=f"{SOURCE}, proof structure (stage 1: orders 0 and 2; stage 2: orders ≥ 4)",
          rule=f"t_k = first record where order k's exact residual energy ≤ {FIT_FRACTION:g} × its step-0 value; "
               "per d: g = log((t₄+1)/(max(t₀,t₂)+1)) over replicates; agrees if mean g − 2·se > 0 at every d, "
               "disagrees if mean g + 2·se < 0 at some d, inconclusive if an order is never fitted",
          threshold_reason=f"'fitted' = 90 % of the order's energy removed ({FIT_FRACTION:g}), fixed before any run; "
                           "0 = the proof's ordering; 2 across-replicate standard errors",
          judge=judge_stagewise,
          assumptions="symmetric init (f ≡ 0 at step 0, so the step-0 energies are the teacher's), plain GD"),
    Claim(id="alignment-recovers-teacher", figure="alignment",
          statement="every teacher direction is recovered by some neuron: mean_i max_j |cos∠(w_j, w*_i)| → 1",
          source=f"{SOURCE}, stage 2 of the proof",
          rule=f"per d: final mean alignment − 2·se > {ALIGNMENT_LEVEL:g} and (final − step 0) − 2·se > 0; "
               f"disagrees if either is below by 2·se at some d",
          threshold_reason=f"{ALIGNMENT_LEVEL:g} = cos 26°: a neuron within 26° of w*_i, far above random "
                           "directions (the step-0 value, ≈ √(2 ln m / d)); 2 across-replicate standard errors",
          judge=judge_alignment, assumptions="plain GD, m ≫ d, enough steps for stage 2"),
    Claim(figure="stagewise", **_HERMITE),
)

WIDTH_CLAIMS = (
    Claim(id="width-narrow-worse", figure="width",
          statement="a too-narrow network (m ~ d) reaches a higher loss than a wide one (m = 10d)",
          source=f"{SOURCE}, simulations (sufficient over-parameterization is needed)",
          rule="per d: Δ = d × test loss at the smallest m/d − at the largest, paired over replicates; agrees if "
               "mean Δ − 2·se > 0 at every d, disagrees if mean Δ + 2·se < 0 at some d",
          threshold_reason="0: the claimed ordering; 2 across-replicate standard errors (≥ 3 replicates in presets)",
          judge=judge_narrow_worse,
          assumptions="smallest m/d ≤ 2 (m ~ d), largest ≥ 10, plain GD, same samples and steps for every width"),
    Claim(figure="width", **_HERMITE),
)

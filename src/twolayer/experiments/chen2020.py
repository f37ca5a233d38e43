r"""Chen, Cao, Gu, Zhang (NeurIPS 2020): noisy GD with weight decay from the mean-field to the NTK regime.

The paper is purely theoretical (papers.md §3: no experiments, constants not retrieved), so these
experiments test its *claims* on settings chosen here. Network (papers.md §3.1, [MEM]):
``f(x) = (α/m) Σ_j u_j h(θ_jᵀx)`` with a smooth ``h`` (``tanh``), ``(θ_j, u_j) ~ p₀ = N(0, I_{d+1})``,
both layers trained by Algorithm 1 (noisy GD with weight decay λ at temperature λ), loss
``½n⁻¹Σ(f(x_i) − y_i)²``, drift ``m·∇L̂ = α E_S[…]`` (the mean-field time scale):

    z_j ← z_j − η (m ∇_{z_j} L̂ + λ z_j) + sqrt(2λη) ξ_j,        z_j = (θ_j, u_j),  ξ_j ~ N(0, I).

Each neuron is paired with a sign-flipped copy (``u_{j+m/2} = −u_j``, same ``θ``) so ``f ≡ 0`` at
initialization; otherwise the random initial output ``O(α/√m)`` dominates the residual at large α.

Three experiments:

``chen2020-alpha``
    α sweep (mean-field α = O(1) → NTK α ≫ 1) at fixed (λ, m), plus a λ sweep at the largest α:
    (a) the training loss against time for every α with the linearized (kernel) prediction;
    (b) the measured decay rate against ``α²λ₀`` (λ₀ = λ_min of the generalized NTK Gram ``H``),
    log–log slope 1 predicted (Thm 4.4: ``exp(−c α²λ₀ t)``); (c) the plateau against α and λ with
    the prediction ``ridge bias(α, λ) + finite-width noise floor ≈ nλ/(2m)``; (d) the distance of
    the parameter distribution from ``p₀`` against α, log–log slope −2 predicted (Thm 4.4 /
    Lemma 5.3: ``KL(p_t‖p₀) = O(α⁻²)``).
``chen2020-width``
    Fixed (α, λ), growing m: the loss trajectories of independent seeds converge (propagation of
    chaos): their spread across seeds shrinks like ``m^{-1/2}``.
``chen2020-generalization``
    Label-noise portion × seeds on digits 0 vs 1: the test error of the trained network against
    the complexity ``sqrt(2 yᵀH⁻¹y/n)`` with ``H`` the two-layer (generalized) NTK Gram matrix
    (Thm 4.5), both must rise together (Arora et al. Fig. 2 with Chen et al.'s kernel).

The distance from initialization (what approximates the KL)
-----------------------------------------------------------
The injected noise moves every particle by ``O(1)`` even without data (the Ornstein–Uhlenbeck
part ``dz = −λz dt + sqrt(2λ) dW`` leaves ``p₀`` invariant but not the particles), so the raw mean
squared movement ``(1/m)Σ‖z_j(t) − z_j(0)‖²`` measures the noise, not the distance of ``p_t`` from
``p₀``. We run a *twin*: the same initial particles driven by the *same* noise ``ξ`` without the
data term, ``z̃ ← (1 − ηλ) z̃ + sqrt(2ηλ) ξ`` (the closed-form OU recursion; its law stays ``p₀`` up to
the discrete-time variance ``2/(2 − ηλ)``), and measure

    D(t) = (1/m) Σ_j ‖z_j(t) − z̃_j(t)‖²,

the cost of the synchronous coupling of the empirical measures ``p̂_t`` and ``p̃_t`` (≈ ``p₀``).
``D ≥ W₂²(p̂_t, p̃_t)``, and by Talagrand's inequality for the Gaussian ``p₀``,
``W₂²(p_t, p₀) ≤ 2 KL(p_t‖p₀)``. ``D`` is therefore neither an upper nor a lower bound on the KL
itself; it is the squared transport distance the data term causes, and Theorem 4.4's
``KL = O(α⁻²)`` implies the same order for it (through W₂). In the kernel regime the coupling is
optimal to leading order and, linearized, ``D → yᵀH⁻¹y / α²`` (λ ≪ α²λ₀/n) plus the part that
tracks the twin's finite-width output fluctuation, ``≈ 2λt·n/m`` (also computed, see
:func:`linear_theory`). Its log–log slope against α is what is compared with −2. The raw
movement from ``z(0)`` and the twin's own movement are recorded too (they are ~50× larger).

Linearized theory (used for every dashed curve)
-----------------------------------------------
``H(x, x') = E_{p₀}[h(θᵀx)h(θᵀx') + u² h'(θᵀx)h'(θᵀx') xᵀx']`` on unit-norm inputs is the power
series ``Σ_k (1 + k) c_k² ρ^k`` in ``ρ = xᵀx'`` with ``c_k`` the normalized Hermite coefficients of
``h`` (:func:`generalized_ntk`; ``E[h'(a)h'(b)] = Σ_k (k+1) c_{k+1}² ρ^k``). The tangent kernel of
the network is ``α²H``. Writing the movement as ``δ_j = Σ_i c_i ∇_{z_j}[u h(θᵀx_i)]`` and
``μ_i, v_i`` the eigenpairs of ``H``, ``p_i = v_iᵀy``, ``a_i = α²μ_i/n + λ``, each mode follows
``ĉ_i(k) = (α p_i/(n a_i)) (1 − (1 − η a_i)^k)``; the loss is ``(1/2n)Σ(αμ_iĉ_i − p_i)²`` and
``D = Σ μ_i ĉ_i²``. The noise adds the stationary floor ``(λ/m) Σ_i 1/(2 − η α²μ_i/n)``
(≈ ``nλ/(2m)``, the OU process of the residual with drift ``α²H/n`` and diffusion ``2λα²H/m``).

Step size: ``η = lr_fraction · 2n / (α² λ_max(H))`` for every α (stable for the kernel dynamics),
so a fixed number of steps covers the same kernel "progress" for every α and the physical time
``T = η·steps`` scales like ``α⁻²``; rates are reported per unit of physical time. (A comparison
at one fixed physical time would need ``α²``-times more steps at large α, and would add to ``D``
the α-independent finite-width term ``2λT·n/m``, which vanishes as m → ∞ but flattens the
slope at finite m.)

Settings chosen here (the paper has no experiments and its constants were not retrieved):
sphere data with a smooth target (|y| ≤ 1), tanh, m = 10³, λ = 10⁻³, α from 0.5 to 32. Which
claim each figure tests: ``rate`` — linear convergence at rate ∝ α²λ₀; ``plateau`` — the
accuracy floor falls with α and λ (and, at finite m, is the noise floor ∝ λ/m); ``distance`` —
``KL(p_t‖p₀) = O(α⁻²)`` through the coupling proxy ``D``; ``width`` — convergence of the
finite-m dynamics to the mean-field limit; ``complexity_vs_test_error`` — Thm 4.5's
complexity term tracks the test error.

Seeds: a replicate ``s`` uses ``SeedSequence(seed, spawn_key=(KEY, s))`` (``KEY`` = 21 init,
22 noise of Algorithm 1, 23 train-label noise, 24 test-label noise), so every α, λ, m and noise
level of a replicate shares its draws (common random numbers), and ``jobs`` does not matter.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from .._errors import InputError
from . import Experiment, RunContext, register, summarize
from ._common import (
    loglog_slope as _slope,
    seed_sequence as _ss,
    rng as _rng,
    check_positive as _check_positive,
    Rows as _Rows,
    gather as _gather,
    value as _value,
)

PAPER = ("Chen, Cao, Gu, Zhang. A generalized neural tangent kernel analysis for two-layer neural networks. "
         "NeurIPS 2020 (arXiv 2002.04026)")

INIT_KEY, NOISE_KEY, NOISE_TRAIN_KEY, NOISE_TEST_KEY = 21, 22, 23, 24
SMOOTH = ("tanh", "sigmoid")


def _check_values(name: str, values, minimum: int = 1, integer: bool = False) -> tuple:
    vals = tuple(int(v) if integer else float(v) for v in values)
    if len(vals) < minimum or len(set(vals)) != len(vals) or any(not (v > 0) for v in vals):
        raise InputError(f"{name} must be at least {minimum} distinct positive values, got {values!r}")
    return tuple(sorted(vals))


# ============================================================================ the generalized NTK
@functools.lru_cache(maxsize=8)
def hermite_coefficients(activation: str = "tanh", terms: int = 140, nodes: int = 250) -> np.ndarray:
    r"""Normalized Hermite coefficients ``c_k = E[h(z) He_k(z)] / sqrt(k!)``, ``z ~ N(0, 1)``, ``k < terms``.

    Computed by Gauss–Hermite quadrature with ``nodes`` points (exact to rounding for the smooth
    activations here: ``Σ c_k² = E[h²]`` is checked to 1e-12).

    >>> c = hermite_coefficients("tanh")
    >>> bool(abs(c[0]) < 1e-15 and abs(c[2]) < 1e-15)      # tanh is odd
    True
    """
    from numpy.polynomial.hermite_e import hermegauss

    from ..networks import ACTIVATIONS

    if activation not in SMOOTH:
        raise InputError(f"activation must be smooth (one of {', '.join(SMOOTH)}) for Chen et al.'s analysis, "
                         f"got {activation!r}")
    z, w = hermegauss(nodes)
    w = w / math.sqrt(2 * math.pi)
    hz = ACTIVATIONS[activation].value(z)
    out = np.empty(terms)
    prev, cur = np.zeros_like(z), np.ones_like(z)          # ψ_{-1}, ψ_0 (ψ_k = He_k / sqrt(k!))
    for k in range(terms):
        out[k] = float(np.sum(w * hz * cur))
        prev, cur = cur, (z * cur - math.sqrt(k) * prev) / math.sqrt(k + 1)
    second = float(np.sum(w * hz * hz))
    if abs(float(np.sum(out**2)) - second) > 1e-10 * max(second, 1e-300):
        raise RuntimeError(f"Hermite series of {activation} not converged ({np.sum(out**2)} vs E[h^2] = {second})")
    return out


def generalized_ntk(X, Z=None, *, activation: str = "tanh") -> np.ndarray:
    r"""Chen et al.'s two-layer (generalized) NTK Gram matrix on unit-norm inputs.

    .. math:: H(x, z) = E_{(θ,u)∼N(0,I)}[h(θ^Tx)h(θ^Tz) + u^2 h'(θ^Tx)h'(θ^Tz)\,x^Tz]
                      = \sum_k (1 + k)\, c_k^2\, ρ^k,\qquad ρ = x^Tz,

    with ``c_k`` from :func:`hermite_coefficients` (Mehler's formula). The tangent kernel of
    ``f = (α/m)Σ u_j h(θ_jᵀx)`` in mean-field time is ``α²H`` as ``m → ∞``. Shapes: ``X`` (n, d),
    ``Z`` (n_z, d) → (n, n_z).

    >>> X = np.eye(3)
    >>> H = generalized_ntk(X)
    >>> bool(np.allclose(H, H[0, 0] * np.eye(3)))   # orthogonal inputs: E[h]^2 = 0 for tanh
    True
    """
    Xa = np.asarray(X, dtype=np.float64)
    Za = Xa if Z is None else np.asarray(Z, dtype=np.float64)
    for name, A in (("X", Xa), ("Z", Za)):
        if A.ndim != 2 or not np.all(np.isfinite(A)):
            raise InputError(f"{name} must be a finite 2-D array")
        if not np.allclose(np.linalg.norm(A, axis=1), 1.0, atol=1e-8):
            raise InputError(f"{name} must have unit-norm rows (the Hermite form of the kernel assumes ‖x‖ = 1); "
                             f"normalize the inputs first")
    c = hermite_coefficients(activation)
    coef = (1.0 + np.arange(c.size)) * c**2
    rho = np.clip(Za @ Xa.T, -1.0, 1.0).T if Z is not None else np.clip(Xa @ Xa.T, -1.0, 1.0)
    K = np.polynomial.polynomial.polyval(rho, coef)
    if Z is None:
        np.fill_diagonal(K, float(np.sum(coef)))
        K = 0.5 * (K + K.T)
    return K


# ============================================================================ Algorithm 1 and its twin
def ou_twin(net0, *, lr: float, weight_decay: float, steps: int, noise_seed, temperature: float | None = None):
    r"""Closed-form twin: ``z̃(k+1) = (1 − ηλ) z̃(k) + sqrt(2ητ) ξ(k)`` from ``z̃(0) = z(0)``, with the
    noise ``ξ`` drawn exactly as :func:`twolayer.dynamics.add_noise` draws it (network ``b`` uses
    child ``b`` of the noise seed; per step ``W`` then ``a``). Returns ``(W, a)`` after ``steps``."""
    from ..dynamics import noise_seed_sequence
    from ..networks import child_seeds

    tau = weight_decay if temperature is None else temperature
    std = math.sqrt(2 * tau * lr)
    W, a = net0.W.astype(np.float64).copy(), net0.a.astype(np.float64).copy()
    rngs = [np.random.default_rng(s) for s in child_seeds(noise_seed_sequence(noise_seed), net0.batch)]
    for _ in range(steps):
        for b, g in enumerate(rngs):
            W[b] = (1 - lr * weight_decay) * W[b] + std * g.standard_normal(W.shape[1:])
        for b, g in enumerate(rngs):
            a[b] = (1 - lr * weight_decay) * a[b] + std * g.standard_normal(a.shape[1:])
    return W, a


def noisy_gd(net, X, y, *, lr: float, steps: int, weight_decay: float, noise_seed, record_steps,
             twin: bool = True, X_test=None, y_test=None) -> dict:
    r"""Algorithm 1 on a mean-field network, with its data-free twin run in lock-step.

    The update is :data:`twolayer.dynamics.ALGORITHMS` ``["noisy-gd"]`` (weight decay λ, temperature
    λ, noise stream ``noise_seed``), applied by the same sequence of operations as
    :func:`twolayer.dynamics.train` (so the final network is identical to ``train``'s). The twin
    applies the same rule, with the same noise stream, to zero data gradients.

    Returns arrays over the recorded steps (network 0 of the batch): ``steps``, ``loss``,
    ``twin_dist`` (``D = (1/m)Σ‖z_j − z̃_j‖²``), ``raw_dist`` (``(1/m)Σ‖z_j − z_j(0)‖²``),
    ``twin_raw_dist``, ``test_error`` / ``test_loss`` when test data are given, ``outputs``
    (R, n) on ``X``; and ``network`` / ``twin``, the final parameters.
    """
    from ..dynamics import make_rule
    from ..networks import Workspace, forward, get_parameterization, loss_and_grads

    p = get_parameterization(net.param)
    Xa = np.ascontiguousarray(np.asarray(X, dtype=net.dtype))
    n, m = Xa.shape[0], net.width
    Y = np.ascontiguousarray(np.broadcast_to(np.asarray(y, dtype=net.dtype), (net.batch, n)))
    rec = set(int(k) for k in record_steps)
    cur, net0 = net.copy(), net.copy()
    params = {k: getattr(cur, k) for k in sorted(p.trains)}
    rule = make_rule("noisy-gd", lr=lr, weight_decay=weight_decay, temperature=None, seed=noise_seed)
    state = rule.init(params)
    tw = net.copy() if twin else None
    tparams = {k: getattr(tw, k) for k in sorted(p.trains)} if twin else None
    tstate = make_rule("noisy-gd", lr=lr, weight_decay=weight_decay, temperature=None,
                       seed=noise_seed).init(tparams) if twin else None
    trule = make_rule("noisy-gd", lr=lr, weight_decay=weight_decay, temperature=None, seed=noise_seed) if twin else None
    ws = Workspace(n, cur)
    out_steps, cols = [], {k: [] for k in ("loss", "twin_dist", "raw_dist", "twin_raw_dist", "test_error",
                                           "test_loss", "outputs")}
    gm = p.grad_multiplier(m)

    def msq(A, B):
        dW = (A.W[0] - B.W[0]).astype(np.float64)
        da = (A.a[0] - B.a[0]).astype(np.float64)
        return float((np.einsum("md,md->", dW, dW) + da @ da) / m)

    with np.errstate(over="ignore", invalid="ignore"):
        for k in range(steps + 1):
            out = loss_and_grads(cur, Xa, Y, normalization="mean", trains=p.trains, grad_multiplier=gm, ws=ws)
            loss = float(out["loss"][0])
            if not math.isfinite(loss):
                raise InputError(f"noisy GD diverged at step {k} (lr = {lr:g}); lower lr_fraction")
            if k in rec:
                out_steps.append(k)
                cols["loss"].append(loss)
                cols["raw_dist"].append(msq(cur, net0))
                if twin:
                    cols["twin_dist"].append(msq(cur, tw))
                    cols["twin_raw_dist"].append(msq(tw, net0))
                if X_test is not None:
                    ft = forward(cur, X_test)[0].astype(np.float64)
                    cols["test_error"].append(float(np.mean(np.sign(ft) != np.sign(y_test))))
                    cols["test_loss"].append(float(0.5 * np.mean((ft - y_test) ** 2)))
                cols["outputs"].append(out["u"][0].astype(np.float64).copy())
            if k == steps:
                break
            grads = {"W": out["gW"], "a": out["ga"]}
            updates, state = rule.update(grads, state, params)
            for key, upd in updates.items():
                params[key] += upd
            if twin:
                zero = {key: np.zeros_like(v) for key, v in tparams.items()}
                tupd, tstate = trule.update(zero, tstate, tparams)
                for key, upd in tupd.items():
                    tparams[key] += upd
    res = {"steps": np.array(out_steps), **{k: np.array(v) for k, v in cols.items() if v}}
    res["network"], res["twin"] = cur, tw
    return res


# ============================================================================ linearized theory
def linear_theory(mu, proj, *, alpha: float, lr: float, weight_decay: float, steps: int, m: int | None = None) -> dict:
    r"""Kernel-regime (linearized) prediction of Algorithm 1 from ``f ≡ 0``, at every step ``0..steps``.

    Parameters: eigenvalues ``mu`` of ``H`` (n×n Gram, no 1/n) and label projections ``proj = Vᵀy``.
    In the eigenbasis, with ``a_i = α²μ_i/n + λ`` and ``β = ηα/n``, the coefficients of the
    movement follow ``ĉ_i(k+1) = (1 − ηa_i) ĉ_i(k) + β (p_i − F_i(k))``, where ``F`` is the output
    of the data-free twin: a random walk with step variance ``s_i = 2ηλα²μ_i/m`` (the injected
    noise seen through the tangent features; the OU drift cancels within sign-flipped pairs).
    Means and second moments of ``(ĉ, F)`` are propagated exactly (they are Gaussian and the
    mean and the noise parts are uncorrelated), giving

    * ``loss`` = ``(1/2n) Σ_i E[(F_i + αμ_iĉ_i − p_i)²]`` and ``bias`` (its noise-free part),
    * ``dist`` = ``E[D] = Σ_i μ_i E[ĉ_i²]`` and ``dist_mean`` (noise-free part),
    * ``floor``: the stationary noise part of the loss ``(λ/m)Σ_i 1/(2 − ηα²μ_i/n)`` (≈ ``nλ/(2m)``),
    * ``loss_inf``: the noise-free stationary loss (the ridge bias, ridge ``nλ/α²``),
    * ``rate_min``: the slowest per-time rate ``min_i a_i``.

    Without ``m`` the noise is left out.
    """
    mu, proj = np.asarray(mu, float), np.asarray(proj, float)
    n = mu.size
    a = alpha**2 * mu / n + weight_decay
    q = 1 - lr * a
    beta = lr * alpha / n
    s = 2 * lr * weight_decay * alpha**2 * mu / m if m else np.zeros(n)
    c = np.zeros(n)
    C, X, F = np.zeros(n), np.zeros(n), np.zeros(n)
    K = int(steps) + 1
    bias, loss, dmean, dist = (np.empty(K) for _ in range(4))
    for k in range(K):
        r = alpha * mu * c - proj
        bias[k] = 0.5 * float(r @ r) / n
        fl = F + 2 * alpha * mu * X + (alpha * mu) ** 2 * C
        loss[k] = bias[k] + 0.5 * float(np.sum(fl)) / n
        dmean[k] = float(mu @ (c * c))
        dist[k] = dmean[k] + float(mu @ C)
        c = q * c + beta * proj
        C, X = q * q * C - 2 * q * beta * X + beta * beta * F, q * X - beta * F
        F = F + s
    c_inf = alpha * proj / (n * a)
    out = {"loss": loss, "bias": bias, "dist": dist, "dist_mean": dmean,
           "loss_inf": 0.5 * float(np.sum((alpha * mu * c_inf - proj) ** 2)) / n,
           "dist_inf": float(np.sum(mu * c_inf**2)), "rate_min": float(np.min(a)), "rate_max": float(np.max(a)),
           "floor": float(weight_decay / m * np.sum(1.0 / (2.0 - lr * alpha**2 * mu / n))) if m else 0.0}
    return out


# ============================================================================ shared pieces
@functools.lru_cache(maxsize=4)
def _prepared(data: str, n_train, n_test, d: int, target: str, classes: tuple, activation: str, seed: int):
    """Data set (unit-norm inputs), the generalized NTK Gram ``H`` of the training inputs, its
    eigenpairs and the label projections; computed once per process."""
    from ..data import load

    if data in ("sphere", "gaussian"):
        ds = load(data, n_train=n_train, n_test=n_test or None, d=d, target=target, seed=seed)
    else:
        ds = load(data, classes=classes, n_train=n_train, n_test=n_test, seed=seed)
    if not np.allclose(np.linalg.norm(ds.X, axis=1), 1.0, atol=1e-8):
        raise InputError(f"{ds.name}: Chen et al.'s kernel here needs unit-norm inputs; load it with normalization on")
    H = generalized_ntk(ds.X, activation=activation)
    mu, V = np.linalg.eigh(H)
    if mu[0] <= 0:
        raise InputError(f"{ds.name}: the generalized NTK Gram matrix is singular (lambda_min = {mu[0]:.3g}); "
                         f"remove duplicate inputs or use fewer samples")
    return ds, H, mu, V


def _lr(cfg, mu, n: int, alpha: float) -> float:
    """``η = lr_fraction · 2n / (α² λ_max(H))`` (largest stable kernel step in the ½n⁻¹Σ convention)."""
    return float(cfg.lr_fraction * 2.0 * n / (alpha**2 * mu[-1]))


def _record_steps(steps: int, records: int, tail: float = 0.3) -> np.ndarray:
    """Log-spaced records plus 11 evenly spaced ones over the last ``tail`` of the run (the plateau)."""
    from ..dynamics import record_schedule

    lin = np.round(np.linspace((1 - tail) * steps, steps, 11)).astype(int)
    return np.unique(np.concatenate([record_schedule(steps, records), lin]))


def decay_rate(t, loss, plateau: float, drop: float = 10.0) -> float:
    r"""Decay rate of the excess loss: ``ln(drop) / t*`` with ``t*`` the first time
    ``L(t) − plateau ≤ (L(0) − plateau)/drop``, ``log(L − plateau)`` interpolated linearly in ``t``.

    >>> t = np.linspace(0, 5, 51)
    >>> round(decay_rate(t, 1e-3 + np.exp(-2 * t), 1e-3), 6)
    2.0
    """
    t, loss = np.asarray(t, float), np.asarray(loss, float)
    ex = loss - plateau
    goal = ex[0] / drop
    hit = np.nonzero(ex <= goal)[0]
    if ex[0] <= 0 or hit.size == 0:
        return float("nan")
    j = int(hit[0])
    if j == 0:
        return float("nan")
    y0, y1 = math.log(max(ex[j - 1], 1e-300)), math.log(max(ex[j], 1e-300))
    g = math.log(goal)
    tj = t[j] if y1 == y0 else t[j - 1] + (t[j] - t[j - 1]) * (g - y0) / (y1 - y0)
    return float(math.log(drop) / tj)


# =============================================================================== chen2020-alpha
@dataclass(frozen=True)
class AlphaConfig:
    """``chen2020-alpha``. Defaults = laptop preset: n = 50 points uniform on ``S⁹`` with the target
    ``linear + cos`` (|y| ≤ 1), tanh, m = 1000 (symmetric pairs), λ = 10⁻³, α = 0.5 … 32, 3000 steps
    of ``η = 0.3 · 2n/(α²λ_max)``, 2 seeds; plateau sweeps at the largest α over λ ∈ {2.5e-4, 1e-3,
    4e-3} and m ∈ {250, 1000, 4000}. About a minute on 2 cores. Paper-scale preset: n = 200,
    d = 20, m = 10⁴, α up to 128, 20,000 steps, 5 seeds (the paper has no experiment; these sizes
    follow papers.md §3.2: m = 10³–10⁴ particles, n = 50–200 sphere points)."""

    data: str = "sphere"
    n_train: int = 50
    d: int = 10
    target: str = "linear+cos"
    seed: int = 0
    seeds: int = 2
    alphas: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0)
    weight_decay: float = 1e-3
    lambdas: tuple[float, ...] = (2.5e-4, 1e-3, 4e-3)
    width: int = 1000
    floor_widths: tuple[int, ...] = (250, 1000, 4000)
    lr_fraction: float = 0.3
    steps: int = 3000
    records: int = 60
    activation: str = "tanh"
    dtype: str = "float64"

    def __post_init__(self):
        _check_positive("n_train", self.n_train, True)
        _check_positive("width", self.width, True)
        _check_positive("steps", self.steps, True)
        _check_positive("seeds", self.seeds, True)
        _check_positive("weight_decay", self.weight_decay)
        object.__setattr__(self, "alphas", _check_values("alphas", self.alphas, 3))
        object.__setattr__(self, "lambdas", _check_values("lambdas", self.lambdas, 1))
        object.__setattr__(self, "floor_widths", _check_values("floor_widths", self.floor_widths, 1, True))
        if any(m % 2 for m in (self.width, *self.floor_widths)):
            raise InputError("widths must be even (each neuron is paired with a sign-flipped copy)")
        if not 0 < self.lr_fraction < 1:
            raise InputError(f"lr_fraction must lie in (0, 1), got {self.lr_fraction}")
        if self.activation not in SMOOTH:
            raise InputError(f"activation must be one of {', '.join(SMOOTH)} (Chen et al. need a smooth h)")


def _key(cfg) -> tuple:
    return (cfg.data, cfg.n_train, getattr(cfg, "n_test", 0), getattr(cfg, "d", 10), getattr(cfg, "target", "linear"),
            tuple(getattr(cfg, "classes", (0, 1))), cfg.activation, cfg.seed)


def _prep(cfg):
    return _prepared(*_key(cfg))


def _alpha_points(cfg: AlphaConfig) -> list[dict]:
    top = cfg.alphas[-1]
    pts = [(a, cfg.weight_decay, cfg.width) for a in cfg.alphas]
    pts += [(top, lam, cfg.width) for lam in cfg.lambdas]
    pts += [(top, cfg.weight_decay, m) for m in cfg.floor_widths]
    seen, out = set(), []
    for a, lam, m in pts:
        if (a, lam, m) not in seen:
            seen.add((a, lam, m))
            out += [{"alpha": a, "weight_decay": lam, "width": m, "seed": s} for s in range(cfg.seeds)]
    return out


def _alpha_point(params: dict, seed_seq, *, cfg: AlphaConfig):
    """One (α, λ, m, seed): Algorithm 1 with its twin; loss, D, raw movement at the records."""
    ds, H, mu, V = _prep(cfg)
    a, lam, m, s = float(params["alpha"]), float(params["weight_decay"]), int(params["width"]), int(params["seed"])
    lr = _lr(cfg, mu, ds.n, a)
    res = noisy_gd(_init(cfg, ds.d, m, a, s), ds.X, ds.y, lr=lr, steps=cfg.steps, weight_decay=lam, noise_seed=_ss(cfg.seed, NOISE_KEY, s),
                   record_steps=_record_steps(cfg.steps, cfg.records))
    steps = res["steps"]
    tail = steps >= 0.7 * cfg.steps
    plateau = float(np.mean(res["loss"][tail]))
    ids = dict(alpha=a, weight_decay=lam, width=m, seed=s)
    rows = _Rows()
    for j, k in enumerate(steps):
        for name in ("loss", "twin_dist", "raw_dist"):
            rows.add(name, res[name][j], step=int(k), **ids)
    rows.add("plateau", plateau, **ids)
    rows.add("decay_rate", decay_rate(lr * steps, res["loss"], plateau), **ids)
    rows.add("dist_final", res["twin_dist"][-1], **ids)
    rows.add("dist_max", float(np.max(res["twin_dist"])), **ids)
    rows.add("raw_dist_final", res["raw_dist"][-1], **ids)
    rows.add("twin_raw_dist_final", res["twin_raw_dist"][-1], **ids)
    rows.add("lr", lr, **ids)
    return rows, {"steps": steps, "loss": res["loss"], "twin_dist": res["twin_dist"], "raw_dist": res["raw_dist"]}


def _theory_alpha(cfg, ds, mu, proj, a: float, lam: float, m: int) -> dict:
    lr = _lr(cfg, mu, ds.n, a)
    dense = np.arange(cfg.steps + 1)
    th = linear_theory(mu, proj, alpha=a, lr=lr, weight_decay=lam, steps=cfg.steps, m=m)
    th["rate"] = decay_rate(lr * dense, th["bias"], th["loss_inf"])
    th["plateau"] = float(np.mean(th["loss"][dense >= 0.7 * cfg.steps]))
    th["lr"], th["dense"] = lr, dense
    return th


def run_alpha(cfg: AlphaConfig, ctx: RunContext) -> None:
    ds, H, mu, V = _prep(cfg)
    ctx.rf.set_data(ds.provenance)
    proj = V.T @ ds.y
    lam0 = float(mu[0])
    top = cfg.alphas[-1]
    ctx.resolve(loss="1/2 n^-1 sum_i (y_i - f(x_i))^2", algorithm="noisy GD with weight decay, temperature = "
                "weight decay (Chen et al. Algorithm 1), both layers, drift m * grad", init="symmetric pairs, f = 0",
                lr_rule="lr_fraction * 2n / (alpha^2 lambda_max(H))", lambda_0=lam0, lambda_max=float(mu[-1]),
                lr={str(a): _lr(cfg, mu, ds.n, a) for a in cfg.alphas},
                kl_proxy="D = (1/m) sum_j |z_j - twin_j|^2 (twin: same init and noise, no data term)")
    rows = _Rows()
    for name, v in [("n", ds.n), ("d", ds.d), ("lambda_0", lam0), ("lambda_max", mu[-1]),
                    ("condition_number", mu[-1] / lam0), ("yHy", float(np.sum(proj**2 / mu))),
                    ("label_norm2", float(ds.y @ ds.y))]:
        rows.add(name, v)
    pts = _alpha_points(cfg)
    results = ctx.sweep(functools.partial(_alpha_point, cfg=cfg), pts, seed=cfg.seed, desc="alpha points")
    rows.extend(_gather(results))

    def cell(metric, a, lam, m):
        return np.array([_value(r, metric) for r in results if (r.params["alpha"], r.params["weight_decay"],
                                                                r.params["width"]) == (a, lam, m)])

    def curves(name, a, lam, m):
        return np.stack([np.asarray(r.arrays[name]) for r in results
                         if (r.params["alpha"], r.params["weight_decay"], r.params["width"]) == (a, lam, m)])

    keys = sorted({(p["alpha"], p["weight_decay"], p["width"]) for p in pts})
    summary, theory = {}, {}
    for a, lam, m in keys:
        th = _theory_alpha(cfg, ds, mu, proj, a, lam, m)
        theory[(a, lam, m)] = th
        ids = dict(alpha=a, weight_decay=lam, width=m)
        tab = {}
        for metric in ("plateau", "decay_rate", "dist_final", "dist_max", "raw_dist_final", "twin_raw_dist_final"):
            tab[metric] = summarize(cell(metric, a, lam, m))
            rows.add(f"{metric}_mean", tab[metric][0], **ids)
            rows.add(f"{metric}_std", tab[metric][1], **ids)
        summary[(a, lam, m)] = tab
        rows.add("alpha2_lambda0", a**2 * lam0, **ids)
        for name, v in [("predicted_rate", th["rate"]), ("predicted_plateau", th["plateau"]),
                        ("predicted_bias", th["loss_inf"]), ("predicted_floor", th["floor"]),
                        ("predicted_dist_final", th["dist"][-1]), ("predicted_dist_noise_free", th["dist_mean"][-1]),
                        ("predicted_dist_inf", th["dist_inf"]),
                        ("slowest_mode_rate", th["rate_min"])]:
            rows.add(name, v, **ids)
    # slopes over the upper half of α (the kernel side), at the base (λ, m)
    al = np.array(cfg.alphas)
    upper = al >= np.median(al)
    base = [(a, cfg.weight_decay, cfg.width) for a in cfg.alphas]
    rate = np.array([summary[k]["decay_rate"][0] for k in base])
    dist = np.array([summary[k]["dist_final"][0] for k in base])
    prate = np.array([theory[k]["rate"] for k in base])
    pdist = np.array([theory[k]["dist"][-1] for k in base])
    rows.add("rate_slope", _slope(al[upper] ** 2 * lam0, rate[upper]))
    rows.add("predicted_rate_slope", _slope(al[upper] ** 2 * lam0, prate[upper]))
    rows.add("rate_ratio_top", rate[-1] / prate[-1])
    rows.add("dist_slope", _slope(al[upper], dist[upper]))
    rows.add("predicted_dist_slope", _slope(al[upper], pdist[upper]))
    rows.add("dist_ratio_top", dist[-1] / pdist[-1])
    rows.add("raw_over_dist_top", summary[base[-1]]["raw_dist_final"][0] / dist[-1])
    plateau = np.array([summary[k]["plateau"][0] for k in base])
    rows.add("plateau_ratio_low_high_alpha", plateau[0] / plateau[-1])
    lams = np.array(cfg.lambdas)
    pl_lam = np.array([summary[(top, lam, cfg.width)]["plateau"][0] for lam in cfg.lambdas])
    pr_lam = np.array([theory[(top, lam, cfg.width)]["plateau"] for lam in cfg.lambdas])
    ms = np.array(cfg.floor_widths, float)
    pl_m = np.array([summary[(top, cfg.weight_decay, m)]["plateau"][0] for m in cfg.floor_widths])
    pr_m = np.array([theory[(top, cfg.weight_decay, m)]["plateau"] for m in cfg.floor_widths])
    if lams.size >= 2:
        rows.add("plateau_lambda_slope", _slope(lams, pl_lam))
        rows.add("predicted_plateau_lambda_slope", _slope(lams, pr_lam))
    if ms.size >= 2:
        rows.add("plateau_width_slope", _slope(ms, pl_m))
        rows.add("predicted_plateau_width_slope", _slope(ms, pr_m))
    ratios = np.concatenate([pl_lam / pr_lam, pl_m / pr_m])
    rows.add("plateau_ratio_max_top", float(np.max(ratios)))
    rows.add("plateau_ratio_min_top", float(np.min(ratios)))
    ctx.rf.write_metrics(rows)

    rec = np.asarray(results[0].arrays["steps"])
    ctx.rf.write_arrays(alphas=al, eigenvalues=mu, projections=proj, steps=rec,
                        loss=np.stack([curves("loss", *k).mean(0) for k in base]),
                        twin_dist=np.stack([curves("twin_dist", *k).mean(0) for k in base]),
                        raw_dist=np.stack([curves("raw_dist", *k).mean(0) for k in base]),
                        predicted_loss=np.stack([theory[k]["loss"][rec] for k in base]),
                        predicted_dist=np.stack([theory[k]["dist"][rec] for k in base]))
    loss_curves = {k[0]: curves("loss", *k) for k in base}
    dist_curves = {k[0]: curves("twin_dist", *k) for k in base}
    head = (rf"{ds.name}, $n={ds.n}$, {cfg.activation}, $m={cfg.width}$, $\lambda={cfg.weight_decay:g}$, "
            rf"{cfg.steps} steps of $\eta = {cfg.lr_fraction:g}\cdot 2n/(\alpha^2\lambda_{{\max}})$, "
            rf"mean of {cfg.seeds} seed(s)")
    ctx.save_figure(_plot_alpha_dynamics(rec, loss_curves, theory, base, rate, prate, lam0, title=head),
                    "rate")
    ctx.save_figure(_plot_plateau(cfg, summary, theory, top, title=head), "plateau")
    raw = np.array([summary[k]["raw_dist_final"][0] for k in base])
    twin_raw = np.array([summary[k]["twin_raw_dist_final"][0] for k in base])
    sd = np.array([summary[k]["dist_final"][1] for k in base])
    ctx.save_figure(_plot_distance(al, dist, sd, pdist, raw, twin_raw, rec, dist_curves, title=head), "distance")


# =============================================================================== chen2020-width
@dataclass(frozen=True)
class WidthConfig:
    """``chen2020-width``. Defaults = laptop preset: the data of ``chen2020-alpha`` (n = 50 on ``S⁹``),
    α = 1 (mean-field scaling), λ = 10⁻³, m ∈ {100, 400, 1600, 6400}, 4 seeds (independent
    initializations and noise), 1500 steps; about half a minute on 2 cores. Claim tested:
    propagation of chaos — as m grows the finite-particle trajectories converge to one
    deterministic mean-field trajectory, so the spread of the outputs ``f(x_i, t)`` across seeds
    shrinks (like ``m^{-1/2}``) and the mean loss curves approach the widest one. Paper-scale
    preset: n = 200, m up to 25,600, 8 seeds, 10,000 steps."""

    data: str = "sphere"
    n_train: int = 50
    d: int = 10
    target: str = "linear+cos"
    seed: int = 0
    seeds: int = 4
    alpha: float = 1.0
    weight_decay: float = 1e-3
    widths: tuple[int, ...] = (100, 400, 1600, 6400)
    lr_fraction: float = 0.3
    steps: int = 1500
    records: int = 40
    activation: str = "tanh"
    dtype: str = "float64"

    def __post_init__(self):
        _check_positive("alpha", self.alpha)
        _check_positive("weight_decay", self.weight_decay)
        _check_positive("steps", self.steps, True)
        _check_positive("seeds", self.seeds, True)
        if self.seeds < 2:
            raise InputError("chen2020-width needs at least 2 seeds (it measures the spread across seeds)")
        object.__setattr__(self, "widths", _check_values("widths", self.widths, 2, True))
        if any(m % 2 for m in self.widths):
            raise InputError("widths must be even (each neuron is paired with a sign-flipped copy)")
        if not 0 < self.lr_fraction < 1:
            raise InputError(f"lr_fraction must lie in (0, 1), got {self.lr_fraction}")
        if self.activation not in SMOOTH:
            raise InputError(f"activation must be one of {', '.join(SMOOTH)} (Chen et al. need a smooth h)")


def _init(cfg, d: int, m: int, alpha: float, s: int):
    from ..networks import init_network

    return init_network("mean-field", d, m, seed=_ss(cfg.seed, INIT_KEY, s), alpha=alpha, symmetric=True,
                        dtype=cfg.dtype, activation=cfg.activation)


def _width_point(params: dict, seed_seq, *, cfg: WidthConfig):
    ds, H, mu, V = _prep(cfg)
    m, s = int(params["width"]), int(params["seed"])
    lr = _lr(cfg, mu, ds.n, cfg.alpha)
    res = noisy_gd(_init(cfg, ds.d, m, cfg.alpha, s), ds.X, ds.y, lr=lr, steps=cfg.steps,
                   weight_decay=cfg.weight_decay, noise_seed=_ss(cfg.seed, NOISE_KEY, s),
                   record_steps=_record_steps(cfg.steps, cfg.records), twin=False)
    rows = _Rows()
    for j, k in enumerate(res["steps"]):
        rows.add("loss", res["loss"][j], width=m, seed=s, step=int(k))
    rows.add("final_loss", res["loss"][-1], width=m, seed=s)
    return rows, {"steps": res["steps"], "loss": res["loss"], "outputs": res["outputs"]}


def run_width(cfg: WidthConfig, ctx: RunContext) -> None:
    from ..sweep import grid

    ds, H, mu, V = _prep(cfg)
    ctx.rf.set_data(ds.provenance)
    lr = _lr(cfg, mu, ds.n, cfg.alpha)
    ctx.resolve(lr=lr, lr_rule="lr_fraction * 2n / (alpha^2 lambda_max(H))", lambda_0=float(mu[0]),
                spread="RMS over training points of the across-seed sd of f(x_i, t); max over recorded t")
    rows = _Rows()
    for name, v in [("n", ds.n), ("d", ds.d), ("lr", lr), ("lambda_0", mu[0]), ("lambda_max", mu[-1])]:
        rows.add(name, v)
    results = ctx.sweep(functools.partial(_width_point, cfg=cfg), grid(width=list(cfg.widths),
                                                                     seed=list(range(cfg.seeds))),
                        seed=cfg.seed, desc="width points")
    rows.extend(_gather(results))
    rec = np.asarray(results[0].arrays["steps"])
    loss, spread = {}, {}
    for m in cfg.widths:
        rs = sorted((r for r in results if r.params["width"] == m), key=lambda r: r.params["seed"])
        L = np.stack([np.asarray(r.arrays["loss"]) for r in rs])                    # (S, R)
        U = np.stack([np.asarray(r.arrays["outputs"]) for r in rs])                 # (S, R, n)
        loss[m] = L
        spread[m] = np.sqrt(np.mean(np.var(U, axis=0, ddof=1), axis=1))            # (R,)
        for j, k in enumerate(rec):
            rows.add("loss_mean", L[:, j].mean(), width=m, step=int(k))
            rows.add("loss_std", L[:, j].std(ddof=1), width=m, step=int(k))
            rows.add("output_spread", spread[m][j], width=m, step=int(k))
        rows.add("spread_max", float(np.max(spread[m])), width=m)
        rows.add("spread_final", float(spread[m][-1]), width=m)
        rows.add("loss_std_max", float(np.max(L.std(axis=0, ddof=1))), width=m)
    widest = loss[cfg.widths[-1]].mean(0)
    for m in cfg.widths[:-1]:
        rows.add("mean_loss_gap_to_widest", float(np.max(np.abs(loss[m].mean(0) - widest))), width=m)
    ws = np.array(cfg.widths, float)
    smax = np.array([np.max(spread[m]) for m in cfg.widths])
    rows.add("spread_slope", _slope(ws, smax))
    rows.add("spread_monotone", float(np.all(np.diff(smax) < 0)))
    ctx.rf.write_metrics(rows)
    ctx.rf.write_arrays(widths=ws, steps=rec, **{f"loss_m{m}": loss[m] for m in cfg.widths},
                        **{f"spread_m{m}": spread[m] for m in cfg.widths})
    title = (rf"{ds.name}, $n={ds.n}$, {cfg.activation}, $\alpha={cfg.alpha:g}$, $\lambda={cfg.weight_decay:g}$, "
             rf"$\eta={lr:.3g}$, {cfg.seeds} seeds per width")
    ctx.save_figure(_plot_width(rec * lr, loss, spread, ws, smax, title=title), "width")


# ====================================================================== chen2020-generalization
@dataclass(frozen=True)
class GeneralizationConfig:
    """``chen2020-generalization``. Defaults = laptop preset: digits 0 vs 1 (unit norm, n = 100
    training and 200 test images), label noise p ∈ {0, 0.2, …, 1} on train and test labels (Arora
    et al. Fig. 2), 2 seeds; tanh network, m = 1000, α = 8 (kernel side), λ = 10⁻⁴, 3000 steps.
    About a minute on 2 cores. Claim tested (Thm 4.5): the test error is controlled by
    ``sqrt(2 yᵀH⁻¹y/n)`` with the two-layer NTK Gram ``H`` of the trained activation, so both rise
    together with the noise (Spearman correlation across noise levels > 0.9). The ReLU two-layer
    NTK (:func:`twolayer.kernels.two_layer_ntk`, closed form) is reported for comparison. The
    theorem's constants and λ-, α-terms were not retrieved, so no bound value is plotted.
    Paper-scale preset: MNIST 0 vs 1, n = 1000, m = 10⁴, 3 seeds, 20,000 steps."""

    data: str = "digits"
    classes: tuple[int, ...] = (0, 1)
    n_train: int | None = 100
    n_test: int | None = 200
    seed: int = 0
    seeds: int = 2
    noise_levels: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
    alpha: float = 8.0
    weight_decay: float = 1e-4
    width: int = 1000
    lr_fraction: float = 0.3
    steps: int = 3000
    records: int = 20
    activation: str = "tanh"
    dtype: str = "float64"

    def __post_init__(self):
        _check_positive("alpha", self.alpha)
        _check_positive("weight_decay", self.weight_decay)
        _check_positive("width", self.width, True)
        _check_positive("steps", self.steps, True)
        _check_positive("seeds", self.seeds, True)
        if self.width % 2:
            raise InputError("width must be even (each neuron is paired with a sign-flipped copy)")
        levels = tuple(float(p) for p in self.noise_levels)
        if len(levels) < 2 or len(set(levels)) != len(levels) or any(not 0 <= p <= 1 for p in levels):
            raise InputError(f"noise_levels must be at least two distinct portions in [0, 1], got {self.noise_levels!r}")
        object.__setattr__(self, "noise_levels", tuple(sorted(levels)))
        if not 0 < self.lr_fraction < 1:
            raise InputError(f"lr_fraction must lie in (0, 1), got {self.lr_fraction}")
        if self.activation not in SMOOTH:
            raise InputError(f"activation must be one of {', '.join(SMOOTH)} (Chen et al. need a smooth h)")


@functools.lru_cache(maxsize=2)
def _relu_solver_cached(key):
    from ..bounds import KernelSolver
    from ..kernels import two_layer_ntk

    return KernelSolver(two_layer_ntk(_prepared(*key)[0].X))


def _gen_point(params: dict, seed_seq, *, cfg: GeneralizationConfig):
    from ..bounds import complexity
    from ..data import apply_label_noise

    ds, H, mu, V = _prep(cfg)
    p, s = float(params["noise"]), int(params["seed"])
    y, _ = apply_label_noise(ds.y, p, _rng(cfg.seed, NOISE_TRAIN_KEY, s))
    yt, _ = apply_label_noise(ds.y_test, p, _rng(cfg.seed, NOISE_TEST_KEY, s))
    c = complexity(H, y, solver=_solver(cfg))
    c_relu = complexity(None, y, solver=_relu_solver_cached(_key(cfg)))
    lr = _lr(cfg, mu, ds.n, cfg.alpha)
    res = noisy_gd(_init(cfg, ds.d, cfg.width, cfg.alpha, s), ds.X, y, lr=lr, steps=cfg.steps,
                   weight_decay=cfg.weight_decay, noise_seed=_ss(cfg.seed, NOISE_KEY, s),
                   record_steps=_record_steps(cfg.steps, cfg.records), twin=False, X_test=ds.X_test, y_test=yt)
    ids = dict(labels="noisy", noise=p, seed=s)
    rows = _Rows()
    for name, v in [("complexity", c.complexity), ("yHy", c.yHy), ("complexity_relu_ntk", c_relu.complexity),
                    ("train_loss", res["loss"][-1]), ("initial_loss", res["loss"][0]),
                    ("train_error", float(np.mean(np.sign(res["outputs"][-1]) != y))),
                    ("test_error", res["test_error"][-1]), ("test_loss", res["test_loss"][-1]),
                    ("n_changed", int(np.count_nonzero(y != ds.y)))]:
        rows.add(name, v, **ids)
    return rows, {"steps": res["steps"], "loss": res["loss"], "test_error": res["test_error"]}


@functools.lru_cache(maxsize=2)
def _solver_cached(key):
    from ..bounds import KernelSolver

    return KernelSolver(_prepared(*key)[1])


def _solver(cfg):
    return _solver_cached(_key(cfg))


def run_generalization(cfg: GeneralizationConfig, ctx: RunContext) -> None:
    from ..sweep import grid

    ds, H, mu, V = _prep(cfg)
    if not ds.has_test:
        raise InputError(f"chen2020-generalization needs a test split; {ds.name} has none (use digits, mnist:PATH, "
                         f"cifar10:PATH or a .npz with X_test, y_test)")
    ctx.rf.set_data(ds.provenance)
    lr = _lr(cfg, mu, ds.n, cfg.alpha)
    ctx.resolve(lr=lr, lr_rule="lr_fraction * 2n / (alpha^2 lambda_max(H))", lambda_0=float(mu[0]),
                kernel=f"generalized two-layer NTK of {cfg.activation} (Hermite series), u ~ N(0,1)",
                complexity="sqrt(2 y^T H^-1 y / n)")
    rows = _Rows()
    for name, v in [("n", ds.n), ("n_test", ds.n_test), ("d", ds.d), ("lr", lr), ("lambda_min", mu[0]),
                    ("lambda_max", mu[-1]), ("condition_number", mu[-1] / mu[0]),
                    ("random_complexity_expected", math.sqrt(2.0 * float(np.sum(1.0 / mu)) / ds.n))]:
        rows.add(name, v)
    levels = list(cfg.noise_levels)
    results = ctx.sweep(functools.partial(_gen_point, cfg=cfg), grid(noise=levels, seed=list(range(cfg.seeds))),
                        seed=cfg.seed, desc="generalization points")
    rows.extend(_gather(results))
    tabs = {}
    for metric in ("complexity", "complexity_relu_ntk", "test_error", "test_loss", "train_loss", "train_error",
                   "initial_loss"):
        A = np.full((len(levels), cfg.seeds), np.nan)
        for r in results:
            A[levels.index(r.params["noise"]), int(r.params["seed"])] = _value(r, metric)
        tabs[metric] = A
        for i, p in enumerate(levels):
            mean, sd = summarize(A[i])
            rows.add(f"{metric}_mean", mean, labels="noisy", noise=p)
            rows.add(f"{metric}_std", sd, labels="noisy", noise=p)
    from ..claims import spearman as _spearman

    cm, em = tabs["complexity"].mean(1), tabs["test_error"].mean(1)
    rows.add("spearman_complexity_test_error", _spearman(cm, em))
    rows.add("pearson_complexity_test_error", float(np.corrcoef(cm, em)[0, 1]) if np.std(em) > 0 else float("nan"))
    rows.add("spearman_relu_complexity_test_error", _spearman(tabs["complexity_relu_ntk"].mean(1), em))
    ctx.rf.write_metrics(rows)
    ctx.rf.write_arrays(noise_levels=np.array(levels), eigenvalues=mu,
                        **{f"{m}_by_noise_seed": A for m, A in tabs.items()})
    title = (rf"{ds.name}, $n={ds.n}$, {cfg.activation}, $m={cfg.width}$, $\alpha={cfg.alpha:g}$, "
             rf"$\lambda={cfg.weight_decay:g}$, {cfg.steps} steps; mean $\pm$ sd over {cfg.seeds} seed(s)")
    ctx.save_figure(_plot_generalization(np.array(levels), tabs, title=title), "complexity_vs_test_error")


# ============================================================================ figures
def _style():
    from .. import plotting as P

    return P


def _alpha_colors(alphas):
    P = _style()
    return {a: P._CYCLE[i % len(P._CYCLE)] for i, a in enumerate(alphas)}


def _plot_alpha_dynamics(rec, loss_curves, theory, base, rate, prate, lam0, *, title):
    P = _style()
    from matplotlib.figure import Figure

    @P._styled
    def build():
        fig = Figure(figsize=(12.5, 4.6), layout="constrained")
        a1, a2 = fig.subplots(1, 2, width_ratios=(1.25, 1))
        cols = _alpha_colors([k[0] for k in base])
        for k in base:
            a = k[0]
            th = theory[k]
            t = th["lr"] * rec * a**2
            L = loss_curves[a]
            a1.plot(t[1:], L.mean(0)[1:], "-", color=cols[a], label=rf"$\alpha={a:g}$")
            a1.plot((th["lr"] * th["dense"] * a**2)[1:], th["loss"][1:], "--", color=cols[a], lw=1.1)
        a1.set_xscale("log")
        a1.set_yscale("log")
        a1.set_xlabel(r"rescaled time $\alpha^2 t = \alpha^2\eta k$")
        a1.set_ylabel(r"training loss $\frac{1}{2n}\sum_i (f(x_i)-y_i)^2$")
        a1.set_title("(a) loss; dashed: linearized dynamics with the noise")
        a1.legend(loc="lower left", ncol=2)
        x = np.array([k[0] ** 2 * lam0 for k in base])
        a2.plot(x, rate, "o-", color=P.OKABE_ITO["blue"], label="measured (time to 1/10 of the excess loss)")
        a2.plot(x, prate, "s--", color=P.OKABE_ITO["vermillion"], lw=1.2, label="linearized prediction")
        a2.plot(x, prate[-1] * x / x[-1], ":", color="#555555", lw=1.3, label=r"slope 1: rate $\propto\alpha^2\lambda_0$")
        a2.set_xscale("log")
        a2.set_yscale("log")
        a2.set_xlabel(r"$\alpha^2\lambda_0$  ($\lambda_0=\lambda_{\min}(H)$)")
        a2.set_ylabel(r"decay rate per unit time $t=\eta k$")
        a2.set_title("(b) decay rate vs. $\\alpha^2\\lambda_0$ (Thm 4.4)")
        a2.legend(loc="upper left")
        fig.suptitle(title, fontsize=11, fontweight="bold")
        return fig

    return build()


def _plot_plateau(cfg, summary, theory, top, *, title):
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
            ax.plot(xs, [theory[k]["plateau"] for k in keys], "s--", color=red, lw=1.2,
                    label="predicted: ridge bias + noise floor")
            ax.plot(xs, [theory[k]["floor"] for k in keys], ":", color=grey, lw=1.3,
                    label=r"noise floor $\approx n\lambda/(2m)$")
            shown = np.concatenate([mean, [theory[k]["plateau"] for k in keys]])
            lo, hi = np.nanmin(shown[shown > 0]) / 3, np.nanmax(shown) * 2
            if ax is axes[0]:
                ax.plot(xs, _positive([theory[k]["loss_inf"] for k in keys]), "-.", color=P.OKABE_ITO["green"],
                        lw=1.2, label=r"ridge bias (ridge $n\lambda/\alpha^2$)")
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_ylim(lo, hi)
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
    v = np.array(values, float)
    v[~(np.isfinite(v) & (v > 0))] = np.nan
    return v


def _plot_distance(alphas, dist, sd, pdist, raw, twin_raw, rec, dist_curves, *, title):
    P = _style()
    from matplotlib.figure import Figure

    @P._styled
    def build():
        fig = Figure(figsize=(12.5, 4.6), layout="constrained")
        a1, a2 = fig.subplots(1, 2)
        blue, red, grey = P.OKABE_ITO["blue"], P.OKABE_ITO["vermillion"], "#555555"
        a1.errorbar(alphas, dist, yerr=sd, fmt="o-", color=blue, capsize=3,
                    label=r"$D=\frac{1}{m}\sum_j\|z_j-\tilde z_j\|^2$ (vs. twin)")
        a1.plot(alphas, pdist, "s--", color=red, lw=1.2, label="linearized prediction")
        a1.plot(alphas, raw, "^-", color=P.OKABE_ITO["orange"], label=r"raw $\frac{1}{m}\sum_j\|z_j-z_j(0)\|^2$")
        a1.plot(alphas, twin_raw, "v:", color=P.OKABE_ITO["purple"], label="raw movement of the twin (noise only)")
        a1.plot(alphas, dist[-1] * (alphas / alphas[-1]) ** -2.0, ":", color=grey, lw=1.3, label=r"slope $-2$")
        a1.set_xscale("log")
        a1.set_yscale("log")
        a1.set_xlabel(r"scaling $\alpha$")
        a1.set_ylabel("mean squared movement at the last step")
        a1.set_title(r"(a) distance from $p_0$: KL $=O(\alpha^{-2})$ (Thm 4.4)")
        a1.legend(loc="lower left")
        cols = _alpha_colors(list(dist_curves))
        frac = rec / rec[-1]
        for a, D in dist_curves.items():
            a2.plot(frac[1:], (a**2 * D.mean(0))[1:], "-", color=cols[a], label=rf"$\alpha={a:g}$")
        a2.set_xscale("log")
        a2.set_yscale("log")
        a2.set_xlabel("fraction of the run $k/K$")
        a2.set_ylabel(r"$\alpha^2 D(t)$")
        a2.set_title(r"(b) $\alpha^2 D$ collapses on the kernel side")
        a2.legend(loc="lower right", ncol=2)
        fig.suptitle(title, fontsize=11, fontweight="bold")
        return fig

    return build()


def _plot_width(t, loss, spread, ws, smax, *, title):
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
        a3.plot(ws, smax, "o-", color=P.OKABE_ITO["blue"], label=r"max$_t$ spread")
        a3.plot(ws, smax[0] * np.sqrt(ws[0] / ws), ":", color="#555555", lw=1.3, label=r"$\propto m^{-1/2}$")
        a3.set_xscale("log")
        a3.set_yscale("log")
        a3.set_xticks(ws)
        a3.set_xticklabels([f"{int(v)}" for v in ws])
        a3.set_xlabel("width $m$")
        a3.set_ylabel("largest spread over time")
        a3.set_title("(c) propagation of chaos: spread vs. $m$")
        a3.legend(loc="upper right")
        fig.suptitle(title, fontsize=11, fontweight="bold")
        return fig

    return build()


def _plot_generalization(levels, tabs, *, title):
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
        a2.set_title("(b) trained network: error vs. noise (Thm 4.5)")
        fig.suptitle(title, fontsize=11, fontweight="bold")
        return fig

    return build()


# ============================================================================== registry
register(Experiment(
    name="chen2020-alpha", paper=PAPER, config=AlphaConfig, run=run_alpha,
    summary="Algorithm 1 (noisy GD + weight decay) across α: loss decay rate vs α²λ₀, plateau vs (λ, α, m), "
            "distance of p_t from p₀ vs α (slope −2)",
    presets={"laptop": {},
             "paper": {"n_train": 200, "d": 20, "width": 10_000, "floor_widths": (2_500, 10_000, 40_000),
                       "alphas": (0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0), "steps": 20_000, "seeds": 5,
                       "records": 100}},
    grid_fields=("seeds", "alphas", "lambdas", "floor_widths")))

register(Experiment(
    name="chen2020-width", paper=PAPER, config=WidthConfig, run=run_width,
    summary="Algorithm 1 at fixed (α, λ) with growing width m: trajectories converge, the spread across seeds "
            "shrinks like m^-1/2 (propagation of chaos)",
    presets={"laptop": {},
             "paper": {"n_train": 200, "d": 20, "widths": (400, 1600, 6400, 25_600), "seeds": 8, "steps": 10_000,
                       "records": 80}},
    grid_fields=("seeds", "widths")))

register(Experiment(
    name="chen2020-generalization", paper=PAPER, config=GeneralizationConfig, run=run_generalization,
    summary="Thm 4.5: test error of the noisy-GD network vs the complexity sqrt(2 y^T H^-1 y / n) with the "
            "two-layer NTK, under label noise",
    presets={"laptop": {},
             "paper": {"data": "mnist:data/mnist", "n_train": 1000, "n_test": 2000, "width": 10_000, "seeds": 3,
                       "steps": 20_000, "noise_levels": tuple(round(0.1 * i, 1) for i in range(11))}},
    grid_fields=("seeds", "noise_levels")))

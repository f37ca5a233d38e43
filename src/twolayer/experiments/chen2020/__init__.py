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

``chen2020-alpha`` (:mod:`.alpha`)
    α sweep (mean-field α = O(1) → NTK α ≫ 1) at fixed (λ, m), λ and m sweeps at the largest α,
    and a λ₀ sweep (near-duplicate data, worst-case labels) at the largest α: (a) the training
    loss against time for every α with the linearized (kernel) prediction; (b) the measured decay
    rate against α² (the collapse of the curves in ``α²t``) and against λ₀ at one α and one step
    (Thm 4.4: ``exp(−c α²λ₀ t)``); (c) the plateau against α, λ and m with the prediction
    ``ridge bias(α, λ) + finite-width noise floor ≈ nλ/(2m)``; (d) the distance of the parameter
    distribution from ``p₀`` against α, log–log slope −2 predicted (Thm 4.4 / Lemma 5.3:
    ``KL(p_t‖p₀) = O(α⁻²)``).
``chen2020-width`` (:mod:`.width`)
    Fixed (α, λ), growing m: the trajectories of independent replicas (twins) converge
    (propagation of chaos): their spread shrinks like ``m^{-1/2}``.
``chen2020-generalization`` (:mod:`.generalization`)
    Label-noise portion × seeds on digits 0 vs 1: the test error of the trained network against
    the complexity ``sqrt(2 yᵀH⁻¹y/n)`` with ``H`` the two-layer (generalized) NTK Gram matrix
    (Thm 4.5), both must rise together, and the complexity stays above the error (Arora et al.
    Fig. 2 with Chen et al.'s kernel).

Modules: :mod:`._core` (Algorithm 1 with its twin through the engine, linearized theory, data),
one module per experiment (config, points, run, registration), :mod:`.figures` (figure builders
and their descriptive captions), :mod:`.claims` (the declared, falsifiable claims). No module
here holds a training loop: ``chen2020-alpha`` and ``chen2020-width`` run Algorithm 1 through
:func:`~._core.noisy_gd`, a thin front of :func:`twolayer.dynamics.engine.run` with the twin as
an observer (:class:`twolayer.dynamics.twin.TwinCoupling`) and a probe of the outputs at every
record, and ``chen2020-generalization`` through :func:`twolayer.dynamics.train`.

The distance from initialization (what approximates the KL)
-----------------------------------------------------------
The injected noise moves every particle by ``O(1)`` even without data (the Ornstein–Uhlenbeck
part ``dz = −λz dt + sqrt(2λ) dW`` leaves ``p₀`` invariant but not the particles), so the raw mean
squared movement ``(1/m)Σ‖z_j(t) − z_j(0)‖²`` measures the noise, not the distance of ``p_t`` from
``p₀``. We run a *twin* (:class:`twolayer.dynamics.twin.TwinCoupling`): the same initial particles driven
by the *same* noise ``ξ`` without the data term, ``z̃ ← (1 − ηλ) z̃ + sqrt(2ηλ) ξ`` (the OU recursion;
its law stays ``p₀`` up to the discrete-time variance ``2/(2 − ηλ)``), and measure

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
level of a replicate shares its draws (common random numbers), and ``jobs`` does not matter. The
point functions therefore take no seed from the sweep (``point(params, *, cfg)``, see
:mod:`twolayer.sweep`, Seeds).
"""

from __future__ import annotations

from ._core import (BLOWUP, DUP_KEY, INIT_KEY, NOISE_KEY, NOISE_TEST_KEY, NOISE_TRAIN_KEY, PAPER, SMOOTH,  # noqa: F401
                    _rng, decay_rate, generalized_ntk, hermite_coefficients, linear_theory, near_duplicate, noisy_gd)
from . import alpha, width, generalization  # noqa: E402,F401  (registers the three experiments in this order)
from .alpha import AlphaConfig  # noqa: E402,F401
from .width import WidthConfig  # noqa: E402,F401
from .generalization import GeneralizationConfig  # noqa: E402,F401

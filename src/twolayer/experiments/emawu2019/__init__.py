r"""E, Ma, Wu (2019/2020): two-layer network vs. random features under gradient descent.

Three experiments test the statements of papers.md §2 (the paper's six figures were not
retrieved, so none of its numbers are claimed; every setting is chosen to test a theorem), each
a frozen config → a sweep of independent points → tidy metrics → figures → declared claims:

``ema-wu2019-gap`` (:mod:`.gap`)
    One initialization trained as the two-layer network (both layers) and as random features
    (first layer frozen), compared throughout training at the same natural time ``s = m t``:
    ``sup_t sup_x |f_NN − f_RF|`` and the theorem's ``sup_t sup_x |f_NN − f_NN(0) − f^ker|``
    against the width, for ``β = c/m`` and fixed ``β`` (Case 1).
``ema-wu2019-convergence`` (:mod:`.convergence`)
    Training risk on true and random labels; the late-time rate against ``2 m λ_n``,
    ``λ_n = λ_min(k₀/n)``; diverging widths recorded.
``ema-wu2019-early-stopping`` (:mod:`.early_stopping`)
    Test risk against time for several ``(m, n)`` with noisy labels: the early-stopped risk and
    time against ``n`` (Case 2), the random-feature ``t = ∞`` limit around ``m = n``.

Modules: :mod:`._shared` (data, target, kernel, seeds, exact linear GD paths), one module per
experiment (config, points, summaries, run, registration), :mod:`.figures` (figure builders) and
:mod:`.claims` (the declared claims and their decision rules).

Common setting [choices made here, papers.md §2.4]: inputs uniform on ``S^{d-1}``; target in the
paper's class, ``f*(x) = ∫ a*(b) σ(bᵀx) dπ₀(b)`` with ``a*(b) = A Σ_j s_j σ(b*_jᵀb)`` (so
``f* = A Σ_j s_j k₀(b*_j, ·)``, a finite sum of kernel sections: ``γ(f*) < ∞``,
``‖f*‖_H² = A² sᵀ k₀(B*, B*) s``), ``J = target_features`` directions ``b*_j`` with
alternating signs ``s_j``, ``A`` set so that ``E_x f*(x)² = 1`` (from a fixed reference sample of
4,096 points); ``target = "neurons"`` uses ``A Σ_j s_j σ(b*_jᵀx)`` instead (not in ``H_{k₀}``).
``k₀(x, x') = κ₁(x, x')/d`` (papers.md §2.2). Loss ``½n⁻¹Σ`` (``normalization = "mean"``).

Time: the network with step ``η = η₀/m`` follows kernel GD on ``k₀`` with step ``η₀`` in the
natural time ``s = m·t = k·η₀`` after ``k`` steps, whatever ``m``; every figure uses ``s``.

Seeds: a replicate ``s`` draws its training inputs from ``SeedSequence(seed, spawn_key=(22, s))``
(nested: the first ``n`` rows are the same for every ``n``), its label noise from ``(25, s)``,
random labels from ``(26, s)`` and the initialization of width ``m`` from ``(21, m, s)`` (the
network and the random-feature model share it; every ``β`` uses the same draws, so ``β`` acts
as a common-random-numbers factor). The target uses ``(23,)`` and ``(23, 1)``, the test grid
``(24,)``. The point functions therefore take no seed from the sweep (``point(params, *, cfg)``,
see :mod:`twolayer.sweep`, Seeds). Each
point runs with one BLAS thread, so ``--jobs 1`` and ``--jobs 2`` give identical numbers.
"""

from __future__ import annotations

from . import gap, convergence, early_stopping  # noqa: F401,E402  (registers the three experiments in this order)
from ._shared import PAPER, _train_sample, _rf_path  # noqa: F401
from .convergence import late_window as _late_window, fit_rate as _fit_rate  # noqa: F401

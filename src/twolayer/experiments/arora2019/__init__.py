r"""Arora, Du, Hu, Li, Wang (ICML 2019): Figures 1 and 2, Theorem 6.1 and the movement of the weights.

Four experiments, each a frozen config → a sweep of independent points → tidy metrics → figures:

``arora2019-fig1``
    GD on true, random and worst-case labels (the unit eigenvector of ``λ_min(H∞)`` scaled to
    ``‖y‖² = n``), trained as one batch of three networks per seed, against the kernel
    prediction ``(1/2n)‖(I − ηH∞/n)^k y‖²`` (eq. 8); eigenvalues of ``H∞`` with the label
    projections ``|v_iᵀy|`` (Fig. 1a–d).
``arora2019-fig2``
    Label-noise portion ``p`` (train and test labels) × seeds: the complexity
    ``sqrt(2yᵀH∞⁻¹y/n)`` (eq. 10) of the training labels and, after GD until the training loss is
    below ``1/n`` of its initial value, the network's test ℓ1 loss and classification error
    (Fig. 2), the explicit Theorem 5.1 bound against the test loss, and a width sweep (§5: the
    bound does not depend on m); claims in ``fig2_claims``.
``arora2019-thm6``
    Theorem 6.1 / Corollary 6.2: ``sqrt(yᵀH∞⁻¹y)`` of synthetic targets (linear, quadratic
    ``xᵀAx``, ``cos(βᵀx) − 1``, ``z·arctan(z/2)``, a sum) against the bound as ``n`` grows on
    nested samples: it must stay below the bound and level off; random labels and ``(βᵀx)³``
    as controls outside the class; claims in ``thm6_claims``.
``arora2019-movement``
    Width × init scale κ: ``‖W(T) − W(0)‖_F`` against ``sqrt(rᵀH∞⁻¹r)``, ``r = y − u(0)``
    (§5.2), the largest per-neuron movement against Lemma C.1 and its ``m^{-1/2}`` decay, and
    the fraction of flipped activation patterns: where the kernel regime holds and where not.

Loss convention: ``½n⁻¹Σ`` (``normalization = "mean"``), which makes every curve start near
0.5 as in the paper's Fig. 1 (papers.md §1.4); the learning rate refers to it and is recorded
with the largest stable one ``2n/λ_max(H∞)``. Seeds: a replicate ``s`` uses
``SeedSequence(seed, spawn_key=(KEY, s))`` for each random choice (``KEY`` = 11 init, 12
random labels, 13 train-label noise, 14 test-label noise, 15 synthetic sample), so every
point's numbers depend only on the root seed and the point, and noise levels share their
draws (common random numbers); the point functions take no seed from the sweep (see
:mod:`twolayer.sweep`, Seeds).
"""

from __future__ import annotations

from ._shared import PAPER  # noqa: F401
from . import fig1, fig2, thm6, movement  # noqa: F401,E402  (registers the four experiments in this order)

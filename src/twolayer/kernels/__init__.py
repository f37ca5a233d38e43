r"""Kernels of two-layer networks: the ReLU arc-cosine family, Hermite (Mehler) kernels, finite-width Grams.

* :mod:`twolayer.kernels.arccos` — the table :data:`KERNELS` of the arc-cosine members
  (``κ_0``, the first-layer NTK ``H^∞`` of Arora et al. 2019 eq. 3, the random-feature kernel
  ``κ_1``, the two-layer NTK ``κ_1 + H^∞``), their scalar forms and the blocked builder
  :func:`arccos_kernel` (:func:`gram`).
* :mod:`twolayer.kernels.hermite` — Hermite coefficients of activations (``tanh``, ``sigmoid`` by
  quadrature; ``|z|`` and ``relu`` in closed form), the generalized NTK of smooth activations by
  Mehler's formula (Chen et al. 2020), the reproducing kernels of the degree-k Hermite spaces and
  their explicit features, the exact Hermite energies and population loss of ``relu``/``|·|`` ridge sums
  and the U-statistic ``HermiteProjector`` (Li, Ma, Zhang 2020).
* :mod:`twolayer.kernels.deep` — the NTK and NNGP of a deep fully-connected ReLU network with biases
  (:func:`deep_ntk`, :func:`deep_nngp`; Jacot et al. 2018, Arora et al. 2019 eqs. 4–5, the
  neural-tangents normalization).
* :mod:`twolayer.kernels.user` — :func:`resolve_kernel`: one callable ``K(X, Z=None)`` for a
  table name, a deep kernel, or a user's ``module:function`` / ``file.py:function`` (checked).
* :mod:`twolayer.kernels.empirical` — the tangent kernel of a finite network, :func:`empirical_gram`.
* :mod:`twolayer.kernels.operator` — a kernel as a linear operator (:class:`KernelOperator`,
  :func:`make_operator`): dense float64 / float32, memory-mapped or matrix-free storage, for the
  Krylov instruments; the interface a user's own kernel implements (``shape`` + ``matvec``).
* :mod:`twolayer.kernels._blocks` — memory estimates (by storage dtype), the panelled self Gram and the
  tiled float32-storage build shared by the builders.

Every public name is importable from ``twolayer.kernels``.
"""

from __future__ import annotations

from ._blocks import GRAM_PANEL_ROWS, MemoryEstimate, estimate_kernel_memory, gram_upper_tiles
from .arccos import (KERNELS, ArccosMember, arccos_kernel, first_layer_ntk, first_layer_ntk_cos, gram, kappa0_cos,
                     network_kernel_kinds, random_features_cos, random_features_kernel, two_layer_ntk,
                     two_layer_ntk_cos)
from . import hermite  # noqa: F401  (twolayer.kernels.hermite)
from .deep import DEEP_KERNELS, deep_diagonal, deep_kernel, deep_nngp, deep_ntk
from .empirical import empirical_gram
from .operator import STORAGES, KernelOperator, estimate_operator_memory, make_operator
from .user import KernelFunction, check_kernel_matrix, kernel_kinds, load_user_kernel, resolve_kernel

__all__ = [
    "KERNELS",
    "ArccosMember",
    "network_kernel_kinds",
    "kappa0_cos",
    "first_layer_ntk_cos",
    "random_features_cos",
    "two_layer_ntk_cos",
    "arccos_kernel",
    "first_layer_ntk",
    "random_features_kernel",
    "two_layer_ntk",
    "gram",
    "empirical_gram",
    "MemoryEstimate",
    "estimate_kernel_memory",
    "GRAM_PANEL_ROWS",
    "gram_upper_tiles",
    "STORAGES",
    "KernelOperator",
    "make_operator",
    "estimate_operator_memory",
    "DEEP_KERNELS",
    "deep_kernel",
    "deep_ntk",
    "deep_nngp",
    "deep_diagonal",
    "KernelFunction",
    "resolve_kernel",
    "load_user_kernel",
    "check_kernel_matrix",
    "kernel_kinds",
]

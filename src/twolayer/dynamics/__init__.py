r"""Training dynamics of two-layer networks: update rules, the engine, observers and checkpoints.

Layout (each a module of this package):

* :mod:`~twolayer.dynamics.rules` — update rules as ``(init, update)`` pairs with typed states and
  declared properties (``stochastic``, ``kernel_gd``, ``stable_step``); :data:`ALGORITHMS` names
  ``gd``, ``noisy-gd`` (Chen et al. 2020, Algorithm 1) and ``adam``; :func:`register_algorithm`
  adds one.
* :mod:`~twolayer.dynamics.engine` — :func:`init` ``(net, X, y, rule) -> TrainState``,
  :func:`step`, :func:`run` ``(state, steps, observers)`` with generic checkpoints.
* :mod:`~twolayer.dynamics.observers` — recorder, diagnostics, kernel-prediction gap, stopping
  rules, divergence guard, probes.
* :mod:`~twolayer.dynamics.probes` — exact Hermite-order energies of a ReLU network against a teacher (Li, Ma & Zhang 2020).
* :mod:`~twolayer.dynamics.twin` — the data-free twin run coupled to a noisy run (Chen et al. 2020).
* :mod:`~twolayer.dynamics.reference` — the reference (kernel-regime) kernel and its spectrum.
* :mod:`~twolayer.dynamics.checkpoint` — flatten/restore of any state tree.
* :mod:`~twolayer.dynamics.training` — :func:`train`, the front the CLI, the estimators and the
  experiments call.
"""

from .._errors import DivergenceError
from . import checkpoint, engine, observers, rules  # noqa: F401  (submodules)
from .engine import Problem, TrainState, apply, evaluate, init, run, step
from .observers import (METRICS, Diagnostics, DivergenceGuard, KernelGap, Observer, PlateauStop, Probe, Recorder,
                        ToleranceStop)
from .reference import Reference, build_reference, empirical_reference, reference_from_spectrum, reference_kernel
from .rules import (ALGORITHMS, AdamState, NoiseState, UpdateRule, adam_moments, add_decayed_weights, add_noise, chain,
                    gd_stable_step, make_rule, noise_seed_sequence, register_algorithm, scale)
from .training import TrainResult, record_schedule, train
from .probes import HermiteProbe, alignment
from .twin import TwinCoupling, mean_sq_distance

__all__ = ["UpdateRule", "NoiseState", "AdamState", "scale", "add_decayed_weights", "add_noise", "adam_moments",
           "chain", "noise_seed_sequence", "gd_stable_step", "ALGORITHMS", "register_algorithm", "make_rule",
           "DivergenceError", "TrainResult", "train", "record_schedule", "reference_kernel", "empirical_reference",
           "Reference", "build_reference", "reference_from_spectrum", "METRICS", "Problem", "TrainState", "init", "evaluate", "apply", "step",
           "run", "Observer", "Recorder", "Diagnostics", "KernelGap", "ToleranceStop", "PlateauStop",
           "DivergenceGuard", "Probe", "TwinCoupling", "mean_sq_distance", "HermiteProbe", "alignment"]

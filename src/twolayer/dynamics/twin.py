r"""The data-free twin of a noisy run (a synchronous coupling), as an observer of the engine.

Chen, Cao, Gu & Zhang (2020) bound the distance of the parameter distribution from its
initialization, ``KL(p_t‖p₀) = O(α⁻² λ₀⁻⁴)`` (Theorem 4.4 and Lemma 5.3; papers.md §3.1). The KL
of ``m`` particles is not computable, and the raw movement ``(1/m) Σ_j ‖z_j(k) − z_j(0)‖²`` measures
the injected noise rather than the data: Algorithm 1's Ornstein–Uhlenbeck part
``dz = −λz dt + sqrt(2λ) dB`` leaves ``p₀ = N(0, I)`` invariant but moves every particle by O(1).
So the run gets a *twin*: the same initial particles ``z̃(0) = z(0)``, driven by the **same**
noise ``ξ(k)`` through the same update rule, with **zero** data gradients,

    z̃(k+1) = z̃(k) − η λ z̃(k) + sqrt(2ητ) ξ(k),

(the discretized OU process; from ``z̃(0) ~ p₀`` its law stays ``p₀`` up to the discrete-time
variance ``2/(2 − ηλ)`` at ``τ = λ``) and :class:`TwinCoupling` records

    D(k) = (1/m) Σ_j ‖z_j(k) − z̃_j(k)‖²,        z_j = (w_j, a_j),

the cost of the synchronous coupling of the two empirical measures, so ``D ≥ W₂²(p̂_k, p̃_k)``;
with Talagrand's inequality for the Gaussian ``p₀``, ``W₂²(p, p₀) ≤ 2 KL(p‖p₀)``, the paper's
``KL = O(α⁻²)`` implies the same order for the transport distance the data term causes. (The
coupling is this toolkit's proxy, see :mod:`twolayer.experiments.chen2020`; the paper's proof
text was not retrieved, only its statements.) The closed form of the twin for noisy GD is
checked in ``tests/test_chen2020.py``.

Cost: per step one extra noise draw of ``B·m·(d+1)`` normals and ``O(B m d)`` updates (no GEMM:
the twin has no data term); per record ``O(B m d)``. Memory: one copy of the parameters.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np

from .._errors import InputError
from . import checkpoint as _ckpt
from .observers import Probe
from .rules import UpdateRule

__all__ = ["TwinCoupling", "mean_sq_distance"]


def mean_sq_distance(W1, a1, W2, a2) -> np.ndarray:
    r"""``(1/m) Σ_j (‖w_j − w'_j‖² + (a_j − a'_j)²)`` per network: ``W`` (B, m, d), ``a`` (B, m) → (B,).

    Computed in float64, one network at a time. Cost ``O(B m d)``.

    >>> W, a = np.zeros((1, 2, 3)), np.zeros((1, 2))
    >>> mean_sq_distance(W + 1.0, a, W, a + 2.0).tolist()     # (3 + 4) per neuron, two neurons, m = 2
    [7.0]
    """
    B, m = np.shape(a1)
    out = np.empty(B)
    for b in range(B):
        dW = (W1[b] - W2[b]).astype(np.float64)
        da = (a1[b] - a2[b]).astype(np.float64)
        out[b] = (np.einsum("md,md->", dW, dW) + da @ da) / m
    return out


class TwinCoupling(Probe):
    r"""The data-free twin of the run, advanced in lock-step with the same noise (module docstring).

    ``rule`` must be built by the same factory with the same seed as the run's rule (an int or a
    SeedSequence seed: the twin's generators then start identical to the run's; checked at step
    0). After every update the twin applies ``rule`` to zero gradients of the trained layers.
    At every record it stores, for every network of the batch (arrays of shape (B,)):

    * ``twin_dist`` — ``D = (1/m) Σ_j ‖z_j − z̃_j‖²``, the run against its twin;
    * ``raw_dist`` — ``(1/m) Σ_j ‖z_j − z_j(0)‖²``, the run's movement from initialization;
    * ``twin_raw_dist`` — ``(1/m) Σ_j ‖z̃_j − z_j(0)‖²``, the twin's own (noise-only) movement.

    ``values[name]`` lists them per record (``np.asarray`` gives (R, B)); ``W`` (B, m, d), ``a``
    (B, m) are the twin's current parameters, ``rule_state`` its rule state. The checkpointed
    state carries the records, the twin parameters and the rule state (the Generators), so a
    resumed run continues the same noise stream.
    """

    def __init__(self, rule: UpdateRule):
        if not isinstance(rule, UpdateRule):
            raise InputError(f"rule must be a twolayer.dynamics.UpdateRule, got {type(rule).__name__}")
        super().__init__(self._distances)
        self.rule = rule
        self.W = self.a = None
        self.trains: list[str] = []
        self.rule_state = None
        self._zero: dict = {}

    def _params(self) -> dict:
        return {k: {"W": self.W, "a": self.a}[k] for k in self.trains}

    def start(self, state, out) -> None:
        self.W, self.a = state.net0.W.copy(), state.net0.a.copy()
        self.trains = sorted(state.problem.trains)
        self.rule_state = self.rule.init(self._params())
        mine, theirs = _ckpt.flatten(self.rule_state), _ckpt.flatten(state.rule_state)
        if mine[1] != theirs[1] or mine[0].keys() != theirs[0].keys() or not all(
                np.array_equal(v, theirs[0][k]) for k, v in mine[0].items()):
            raise InputError("the twin's rule state differs from the run's at step 0 (another rule, or a noise seed "
                             "given as a Generator); build both rules by the same factory with an int or "
                             "SeedSequence seed")

    def after_update(self, state) -> None:
        params = self._params()
        if not self._zero:
            self._zero = {k: np.zeros_like(v) for k, v in params.items()}
        for g in self._zero.values():
            g.fill(0)
        updates, self.rule_state = self.rule.update(self._zero, self.rule_state, params)
        for k, upd in updates.items():
            params[k] += upd

    def network(self, like):
        """The twin as a :class:`~twolayer.networks.Network` (a copy), with the other fields of ``like``."""
        return dataclasses.replace(like, W=self.W.copy(), a=self.a.copy())

    def _distances(self, state, out) -> dict:
        cur, net0 = state.net, state.net0
        return {"twin_dist": mean_sq_distance(cur.W, cur.a, self.W, self.a),
                "raw_dist": mean_sq_distance(cur.W, cur.a, net0.W, net0.a),
                "twin_raw_dist": mean_sq_distance(self.W, self.a, net0.W, net0.a)}

    def state_dict(self):
        # the typed (NamedTuple) rule state, flattened: JSON structure + arrays, restored on a fresh template
        arrays, leaves = _ckpt.flatten(self.rule_state)
        names = sorted(arrays)
        return {**super().state_dict(), "W": self.W, "a": self.a, "trains": list(self.trains),
                "rule": {"structure": json.dumps({"leaves": leaves, "arrays": names}),
                         "arrays": [arrays[k] for k in names]}}

    def load_state_dict(self, tree) -> None:
        super().load_state_dict(tree)
        self.W, self.a = tree["W"], tree["a"]
        self.trains = [str(k) for k in tree["trains"]]
        self._zero = {}
        st = json.loads(tree["rule"]["structure"])
        arrays = dict(zip(st["arrays"], tree["rule"]["arrays"]))
        self.rule_state = _ckpt.restore(self.rule.init(self._params()), arrays, st["leaves"])

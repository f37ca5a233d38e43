r"""Probes of a training run against a known teacher: exact Hermite energies, population loss, alignment.

For Gaussian inputs ``x ~ N(0, I_d)`` and a teacher that is a sum of relu / ``|·|`` ridge
functions (the ``f*(x) = Σ_i a*_i |w*_iᵀx|`` of Li, Ma, Zhang, COLT 2020, papers.md §4.2), the
residual ``f − f*`` of a ReLU network ``f(x) = s Σ_r a_r relu(w_rᵀx)`` is again such a sum, so
its Hermite-order energies ``‖P_k(f − f*)‖²`` and its population loss ``E(f − f*)²`` have closed
forms (:func:`twolayer.kernels.hermite.ridge_hermite_energies`,
:func:`~twolayer.kernels.hermite.ridge_population_mse`): :class:`HermiteProbe` records them at
every record step of :func:`twolayer.dynamics.run`, with the neuron–teacher :func:`alignment`.
"""

from __future__ import annotations

import numpy as np

from .._errors import InputError
from ..kernels.hermite import KERNEL_ORDERS, RIDGE_ACTIVATIONS, ridge_hermite_energies, ridge_population_mse
from .observers import Observer

__all__ = ["alignment", "network_ridge_groups", "HermiteProbe"]


def alignment(W, W_star) -> np.ndarray:
    r"""``max_j |cos∠(w_j, w*_i)|`` for every teacher row ``i``: shape (k,) for the neurons ``W``
    (m, d) and the teacher directions ``W_star`` (k, d) (Li, Ma, Zhang 2020: the trained neurons
    align with the teacher's directions). Zero neurons count as cosine 0. Cost ``O(m k d)``.

    >>> alignment([[2.0, 0.0], [1.0, 1.0]], [[1.0, 0.0], [0.0, 1.0]]).round(4).tolist()
    [1.0, 0.7071]
    """
    W = np.asarray(W, dtype=np.float64)
    Ws = np.asarray(W_star, dtype=np.float64)
    Wn = W / np.maximum(np.linalg.norm(W, axis=1, keepdims=True), 1e-300)
    Wsn = Ws / np.linalg.norm(Ws, axis=1, keepdims=True)
    return np.max(np.abs(Wn @ Wsn.T), axis=0)


def network_ridge_groups(net, b: int = 0) -> list:
    """Network ``b`` of ``net`` as ridge groups ``[("relu", s·a_b (m,), W_b (m, d))]`` (float64) of
    :func:`~twolayer.kernels.hermite.ridge_hermite_energies`; the network must use relu."""
    if net.activation != "relu":
        raise InputError(f"the exact Hermite energies need a relu network, this one uses {net.activation!r}")
    return [("relu", net.scale * np.asarray(net.a[b], np.float64), np.asarray(net.W[b], np.float64))]


class HermiteProbe(Observer):
    r"""At every record: the exact ``‖P_k(f_b − f*)‖²`` for ``k`` in ``orders``, ``E(f_b − f*)²`` and,
    with ``align_to``, :func:`alignment` of every network ``b`` of the batch.

    ``teacher`` is ``f*`` as ridge groups ``[(activation, amplitudes (P,), directions (P, d)), …]``
    with activation ``"relu"`` or ``"abs"`` (for the Li–Ma–Zhang teacher ``[("abs", a*, W*)]``);
    ``align_to`` the teacher directions (k, d), e.g. ``W*``, or None. Per record ``steps`` gets the
    step, ``energies`` an array (B, len(orders)), ``population`` (B,) and ``alignment`` (B, k)
    (when asked); :meth:`result` stacks them. Cost per record ``O(B (m + P)² (d + |orders|))``, no
    sampling; the values are checkpointed (:meth:`state_dict`)."""

    def __init__(self, teacher, orders=KERNEL_ORDERS, *, align_to=None) -> None:
        groups = []
        for act, a, U in teacher:
            if act not in RIDGE_ACTIVATIONS:
                raise InputError(f"teacher ridge activation must be 'relu' or 'abs', got {act!r}")
            groups.append((act, -np.asarray(a, np.float64), np.asarray(U, np.float64)))
        self.negated_teacher = groups
        self.orders = tuple(int(k) for k in orders)
        self.align_to = None if align_to is None else np.asarray(align_to, np.float64)
        self.steps: list[int] = []
        self.energies: list[np.ndarray] = []
        self.population: list[np.ndarray] = []
        self.alignment: list[np.ndarray] = []

    def values(self, net) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """``(energies (B, orders), population (B,), alignment (B, k) or None)`` of ``net`` now."""
        B = net.batch
        en, pop = np.empty((B, len(self.orders))), np.empty(B)
        al = None if self.align_to is None else np.empty((B, self.align_to.shape[0]))
        for b in range(B):
            groups = network_ridge_groups(net, b) + self.negated_teacher
            e = ridge_hermite_energies(groups, self.orders)
            en[b] = [e[k] for k in self.orders]
            pop[b] = ridge_population_mse(groups)
            if al is not None:
                al[b] = alignment(net.W[b], self.align_to)
        return en, pop, al

    def record(self, state, out) -> None:
        en, pop, al = self.values(state.net)
        self.steps.append(int(state.step))
        self.energies.append(en)
        self.population.append(pop)
        if al is not None:
            self.alignment.append(al)

    def result(self) -> dict:
        """``{"steps": (R,), "energies": (R, B, orders), "population": (R, B)[, "alignment": (R, B, k)]}``."""
        out = {"steps": np.array(self.steps, dtype=int), "energies": np.array(self.energies),
               "population": np.array(self.population)}
        if self.align_to is not None:
            out["alignment"] = np.array(self.alignment)
        return out

    def state_dict(self):
        return {"steps": list(self.steps), "energies": list(self.energies), "population": list(self.population),
                "alignment": list(self.alignment)}

    def load_state_dict(self, tree) -> None:
        self.steps = [int(k) for k in tree["steps"]]
        self.energies = [np.asarray(v, np.float64) for v in tree["energies"]]
        self.population = [np.asarray(v, np.float64) for v in tree["population"]]
        self.alignment = [np.asarray(v, np.float64) for v in tree["alignment"]]

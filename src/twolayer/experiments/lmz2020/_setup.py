"""Run-folder bookkeeping shared by the two Li–Ma–Zhang experiments (data record, ``[resolved]``)."""

from __future__ import annotations

from .points import lr_of, n_samples, steps_of, weight_decay_of

PAPER = ("Li, Ma, Zhang. Learning over-parametrized two-layer ReLU neural networks beyond NTK. "
         "COLT 2020 (PMLR 125), arXiv 2007.04596")


def record_setup(cfg, ctx, widths_by_d: dict) -> None:
    """Describe the data in ``meta.json`` and record the derived settings in ``config.toml [resolved]``."""
    ctx.rf.set_data({"source": "teacher (Li, Ma, Zhang 2020)", "formula": "y = a^T |W* x|, x ~ N(0, I_d)",
                     "a": "1/d each", "W*": cfg.teacher_w, "dims": list(cfg.dims),
                     "n_train": {str(d): n_samples(cfg, d) for d in cfg.dims}, "n_test": cfg.n_test,
                     "n_hermite": min(cfg.n_hermite, cfg.n_test), "normalized_inputs": False,
                     "seeds": "SeedSequence(seed, spawn_key=(21|22|23, d, replicate)) for W*, X, X_test"})
    ctx.resolve(loss="1/2 n^-1 sum_i (f(x_i) - y_i)^2 + weight decay drift", normalization="mean",
                algorithm=cfg.algorithm, lr=lr_of(cfg), weight_decay=weight_decay_of(cfg),
                paper_algorithm="gd (plain full-batch gradient descent from random init, no weight decay)",
                variant=("" if cfg.algorithm == "gd" else
                         "adam + weight decay: a faster variant, not the paper's algorithm (claims say so)"),
                update_rule=("add_decayed_weights -> adam_moments -> scale(-lr)" if cfg.algorithm == "adam"
                             else "add_decayed_weights -> scale(-lr)"),
                parameterization="both: m^-1/2 sum a_r relu(w_r.x), w ~ N(0, kappa^2 I), a = +-1, both trained",
                widths={str(d): list(widths_by_d[d]) for d in cfg.dims},
                n_train={str(d): n_samples(cfg, d) for d in cfg.dims},
                steps_by_d={str(d): steps_of(cfg, d) for d in cfg.dims},
                test_loss="mean_j (f(x_j) - f*(x_j))^2 on the fresh test set; figures show d x test loss",
                population_loss="exact E(f - f*)^2 of the network from the arc-cosine formulas",
                ridge_rule="lambda = ridge * mean(diag K) (kernels, raw targets) or ridge * (p + 1) (polynomials "
                           "of degree p, centred targets, order k scaled by 1/dim_k); best ridge on the test set "
                           "(most favourable to the baseline)",
                hermite="networks: exact population energies sum_pq alpha_p alpha_q gamma_k(p) gamma_k(q) rho_pq^k; "
                        "kernels, teacher and a final cross-check: U-statistic sum_{i!=j} r_i K_k(x_i,x_j) r_j/(N(N-1)) "
                        "with its standard error",
                not_retrieved_from_paper="n, m, init scale, step size, weight decay, number of steps "
                                         "(papers.md 4.1); chosen to test the claim, see the package docstring")

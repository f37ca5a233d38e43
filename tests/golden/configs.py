"""The tiny configurations of the golden before/after test (``tests/test_golden.py``).

One dict, :data:`CASES`, shared by ``tests/golden/make_golden.py`` (which writes the golden
files) and the test (which reruns each case and compares). A case is either an experiment run

    {"experiment": NAME, "sets": [...], "seeds": K}          (optionally "slow": True: a pytest mark)

run as ``reproduce(NAME, sets=sets, seeds=K, quiet=True, formats=("png",), threads=1)``, or a
CLI call ``{"cli": [argv...]}`` run as ``twolayer.cli.main(argv + ["--json"])``; the token
``{tmp}`` in an argument is replaced by a scratch folder. Each case writes
``tests/golden/<case>.csv`` + ``<case>.claims.json`` (experiments) or ``<case>.json`` (CLI).

The sizes are the smallest that still run every code path of an experiment (a few seconds each,
mostly spent drawing the figures); they are not sizes at which the claims are meant to agree.
Changing a case changes its golden numbers: regenerate (see ``tests/test_golden.py``).
"""

from __future__ import annotations

CASES: dict[str, dict] = {
    # ---------------------------------------------------------------- Arora et al. 2019
    "arora2019-fig1": {"experiment": "arora2019-fig1", "seeds": 2, "slow": True,   # ~4-5 s (4 figures)
                       "sets": ["n_train=40", "width=100", "kappa=1.0", "widths=50,100", "kappas=0.01,1.0",
                                "steps=100", "records=8", "gram_widths=16,64", "gram_draws=8"]},
    "arora2019-fig2": {"experiment": "arora2019-fig2", "seeds": 2,   # rtol stop (default 1e-3) included
                       "sets": ["n_train=40", "n_test=30", "noise_levels=0,1", "width=100", "widths=100,200",
                                "steps=300", "records=5"]},
    "arora2019-thm6": {"experiment": "arora2019-thm6", "seeds": 2,
                       "sets": ["d=5", "n_values=20,40,80", "targets=linear,cos"]},
    "arora2019-movement": {"experiment": "arora2019-movement", "seeds": 2,
                           "sets": ["n_train=30", "widths=100,400", "kappas=0.01,1.0", "steps=300"]},
    # ---------------------------------------------------------------- E, Ma, Wu 2019
    "ema-wu2019-gap": {"experiment": "ema-wu2019-gap", "seeds": 2,
                       "sets": ["n=40", "n_test=100", "widths=20,80,320", "beta_c=1", "betas=0.3", "time=1000",
                                "steps=40", "records=5"]},
    "ema-wu2019-convergence": {"experiment": "ema-wu2019-convergence", "seeds": 2,
                               "sets": ["n=30", "widths=100,400", "steps=300", "records=21"]},
    "ema-wu2019-early-stopping": {"experiment": "ema-wu2019-early-stopping", "seeds": 1,
                                  "sets": ["n_values=30,60", "widths=120", "n_test=200", "steps=300", "time=2e4",
                                           "records=10", "rf_time_max=1e7", "interp_n=30", "interp_ratios=0.5,1,2",
                                           "interp_seeds=2"]},
    # ---------------------------------------------------------------- Chen, Cao, Gu, Zhang 2020
    "chen2020-alpha": {"experiment": "chen2020-alpha", "seeds": 1, "slow": True,  # alpha = 0.01 diverges
                       "sets": ["n_train=20", "d=6", "records=10", "alphas=0.01,4,16", "lambdas=0.001,0.004",
                                "width=100", "floor_widths=100,200", "dup_eps=0.4,0.3,0.2", "steps=200"]},
    "chen2020-width": {"experiment": "chen2020-width", "seeds": 2,
                       "sets": ["n_train=20", "d=6", "widths=50,200", "steps=150", "records=8"]},
    "chen2020-generalization": {"experiment": "chen2020-generalization", "seeds": 1,
                                "sets": ["n_train=40", "n_test=100", "noise_levels=0,0.5,1", "width=100",
                                         "steps=200", "records=5"]},
    # ---------------------------------------------------------------- Li, Ma, Zhang 2020 (float32)
    "lmz2020-separation": {"experiment": "lmz2020-separation", "seeds": 1,
                           "sets": ["n_test=512", "n_hermite=512", "ridges=1e-6,1e-2", "poly_degrees=2", "records=5",
                                    "dims=4,6", "steps=100", "steps_exponent=1", "algorithm=gd"]},
    "lmz2020-separation-adam": {"experiment": "lmz2020-separation", "seeds": 1,
                                "sets": ["n_test=512", "n_hermite=512", "ridges=1e-6,1e-2", "poly_degrees=2",
                                         "records=5", "dims=4,6", "steps=200", "algorithm=adam"]},
    "lmz2020-width": {"experiment": "lmz2020-width", "seeds": 1,
                      "sets": ["n_test=512", "n_hermite=512", "ridges=1e-6,1e-2", "poly_degrees=", "records=5",
                               "dims=4", "steps=300", "width_factors=1,4", "algorithm=gd"]},
    # ---------------------------------------------------------------- the CLI (--json is appended)
    "cli-train-arora": {"cli": ["train", "digits", "--classes", "0,1", "--n-train", "40", "--n-test", "20",
                                "--width", "50", "--lr", "0.08", "--steps", "50", "--records", "5"]},
    "cli-train-arora-float32-tol": {"cli": ["train", "sphere", "--n-train", "30", "--opt", "d=5", "--width", "64",
                                            "--init-scale", "0.5", "--symmetric", "--lr", "0.8", "--steps", "400",
                                            "--records", "6", "--tol", "0.01", "--dtype", "float32"]},
    "cli-train-mean-field-noisy": {"cli": ["train", "sphere", "--n-train", "30", "--n-test", "20", "--opt", "d=5",
                                           "--param", "mean-field", "--alpha", "4", "--width", "40", "--lr", "0.05",
                                           "--steps", "60", "--records", "4", "--weight-decay", "0.001"]},
    "cli-train-ema-wu-mean": {"cli": ["train", "digits", "--classes", "0,1", "--n-train", "30", "--param", "ema-wu",
                                      "--width", "60", "--lr", "0.5", "--steps", "80", "--records", "5",
                                      "--loss-normalization", "mean", "--label-noise", "0.2"]},
    "cli-spectrum": {"cli": ["spectrum", "sphere", "--n-train", "30", "--opt", "d=5", "--top", "8"]},
    "cli-complexity": {"cli": ["complexity", "digits", "--classes", "0,1", "--n-train", "40", "--kind", "two-layer"]},
    "cli-kernel": {"cli": ["kernel", "sphere", "--n-train", "12", "--n-test", "6", "--opt", "d=5", "--test",
                           "--kind", "two-layer", "--out", "{tmp}/k.npy"]},
}

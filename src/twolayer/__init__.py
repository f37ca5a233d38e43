"""twolayer: instruments for the optimization and generalization theory of overparameterized
two-layer networks (Arora et al. 2019; E, Ma & Wu 2019; Chen et al. 2020; Li, Ma & Zhang 2020).

The public surface is small; the implementation lives in one module per concept:
:mod:`twolayer.kernels`, :mod:`twolayer.spectra`, :mod:`twolayer.bounds`, :mod:`twolayer.data`.
"""

from ._errors import DataError, DivergenceError, InputError, SingularKernelError, TwolayerError
from .bounds import (
    Complexity,
    GeneralizationBound,
    KernelSolver,
    complexity,
    generalization_bound,
    movement_bound,
    polynomial_target_bound,
)
from .kernels import empirical_gram, first_layer_ntk, random_features_kernel, two_layer_ntk
from .spectra import Spectrum, spectrum, worst_case_labels

__version__ = "0.2.0"  # written only here: pyproject.toml reads it, tests/test_release.py checks CITATION.cff

__all__ = [
    "TwolayerError", "InputError", "DataError", "SingularKernelError", "DivergenceError",
    "first_layer_ntk", "random_features_kernel", "two_layer_ntk", "empirical_gram",
    "Spectrum", "spectrum", "worst_case_labels",
    "KernelSolver", "Complexity", "complexity", "GeneralizationBound", "generalization_bound",
    "polynomial_target_bound", "movement_bound",
    "KernelRegressor", "NTKRegressor", "RandomFeatureRegressor", "TwoLayerNetworkRegressor",
    "KernelClassifier", "NTKClassifier", "RandomFeatureClassifier", "TwoLayerNetworkClassifier", "reproduce",
    "citation",
]

#: Names imported on first use (scikit-learn and the experiments are not needed for the kernels).
_LAZY = {**{name: "estimators" for name in ("KernelRegressor", "NTKRegressor", "RandomFeatureRegressor",
                                            "TwoLayerNetworkRegressor", "KernelClassifier", "NTKClassifier",
                                            "RandomFeatureClassifier", "TwoLayerNetworkClassifier")},
         "reproduce": "experiments"}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'twolayer' has no attribute {name!r}")


def __dir__() -> list[str]:
    """The module's attributes and the lazily imported names (PEP 562), without importing them."""
    return sorted(set(globals()) | set(_LAZY))


_BIBTEX = {
    "arora2019": """@inproceedings{arora2019fine,
  title     = {Fine-Grained Analysis of Optimization and Generalization for Overparameterized Two-Layer Neural Networks},
  author    = {Arora, Sanjeev and Du, Simon S. and Hu, Wei and Li, Zhiyuan and Wang, Ruosong},
  booktitle = {Proceedings of the 36th International Conference on Machine Learning},
  series    = {PMLR}, volume = {97}, pages = {322--332}, year = {2019}
}""",
    "ema-wu2019": """@article{e2020comparative,
  title   = {A Comparative Analysis of the Optimization and Generalization Property of Two-layer Neural Network and Random Feature Models Under Gradient Descent Dynamics},
  author  = {E, Weinan and Ma, Chao and Wu, Lei},
  journal = {Science China Mathematics}, volume = {63}, number = {7}, pages = {1235--1258}, year = {2020}
}""",
    "chen2020": """@inproceedings{chen2020generalized,
  title     = {A Generalized Neural Tangent Kernel Analysis for Two-layer Neural Networks},
  author    = {Chen, Zixiang and Cao, Yuan and Gu, Quanquan and Zhang, Tong},
  booktitle = {Advances in Neural Information Processing Systems 33}, year = {2020}
}""",
    "lmz2020": """@inproceedings{li2020learning,
  title     = {Learning Over-Parametrized Two-Layer ReLU Neural Networks beyond NTK},
  author    = {Li, Yuanzhi and Ma, Tengyu and Zhang, Hongyang R.},
  booktitle = {Proceedings of the 33rd Conference on Learning Theory},
  series    = {PMLR}, volume = {125}, pages = {2613--2682}, year = {2020}
}""",
}


def citation(key: str = "arora2019") -> str:
    """BibTeX of a source paper: ``arora2019``, ``ema-wu2019``, ``chen2020`` or ``lmz2020``."""
    if key not in _BIBTEX:
        raise InputError(f"unknown paper {key!r}; choose one of {', '.join(_BIBTEX)}")
    return _BIBTEX[key]

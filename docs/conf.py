"""Sphinx configuration of the twolayer documentation (``make docs``).

Offline by design: no intersphinx, no remote assets. The tutorials (MyST Markdown notebooks) are
executed at build time by myst-nb; the gallery pages are written by ``_ext/gallery.py`` from a
run folder (``TWOLAYER_DOCS_DEMO``, see that module).
"""

import os
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
SRC = ROOT / "src"

# the checkout's package wins over any installed copy, here and in the tutorials' kernels
sys.path.insert(0, str(SRC))
sys.path.insert(0, str(DOCS / "_ext"))
os.environ["PYTHONPATH"] = os.pathsep.join([str(SRC)] + [p for p in [os.environ.get("PYTHONPATH")] if p])
# the tutorials' kernels inherit the environment: their figures must go to the inline backend
# (an inherited MPLBACKEND=Agg would silently drop every plot from the pages)
os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"

import twolayer  # noqa: E402

project = "twolayer"
author = "the twolayer authors"
copyright = "the twolayer authors (MIT licence)"
release = version = twolayer.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "myst_nb",
    "twolayer_docs",
    "gallery",
    "sphinx-mathjax-offline",   # MathJax 3 served from _static: the pages render math offline
]

exclude_patterns = ["_build", "**/.ipynb_checkpoints", "Thumbs.db", ".DS_Store"]
source_suffix = {".rst": "restructuredtext", ".md": "myst-nb"}

# ---------------------------------------------------------------- autodoc / napoleon
autodoc_member_order = "bysource"   # the order of each module's __all__
autodoc_typehints = "signature"
autodoc_typehints_format = "short"
autodoc_preserve_defaults = True
autodoc_default_options = {"show-inheritance": True, "no-value": True}
autosummary_generate = False
napoleon_numpy_docstring = True
napoleon_google_docstring = False
napoleon_use_rtype = False
napoleon_use_param = False   # parameter types are prose ("array (n, d)"): not cross-references
napoleon_use_ivar = True     # attributes as fields: no duplicate of the dataclass members
napoleon_preprocess_types = False
napoleon_attr_annotations = True
default_role = "code"     # a stray `single backtick` renders as code rather than a warning

# ---------------------------------------------------------------- MyST / myst-nb
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3
nb_execution_mode = "cache"
nb_execution_cache_path = str(DOCS / "_build" / ".jupyter_cache")
nb_execution_timeout = 180           # per cell; each tutorial runs well under a minute
nb_execution_raise_on_error = True   # a failing cell fails the build
nb_execution_show_tb = True
nb_merge_streams = True

# ---------------------------------------------------------------- HTML
html_theme = "furo"
html_title = f"twolayer {release}"
html_static_path = ["_static"]
html_css_files = ["twolayer.css"]
html_theme_options = {"navigation_with_keys": True}

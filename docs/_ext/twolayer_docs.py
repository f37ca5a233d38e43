"""Sphinx helpers of the twolayer docs: API summaries, the CLI help page, claims tables.

* ``autodoc-process-docstring`` appends to every module docstring an ``autosummary`` table of the
  module's ``__all__`` (for :mod:`twolayer` itself, each name links to the module that documents
  it), so each API page reads: description, summary, members.
* ``.. twolayer-cli-help::`` prints ``twolayer --help`` and every verb's ``--help``, taken from
  :func:`twolayer.cli.build_parser` at build time (the page cannot go stale).
* ``.. twolayer-experiments:: PAPER`` lists the paper's registered experiments (``twolayer
  reproduce --list``) with every declared :class:`twolayer.claims.Claim`: statement, source,
  decision rule, why the threshold, assumptions — read from ``Experiment.claims``.
"""

from __future__ import annotations

import importlib
import os
import re
from pathlib import Path

from docutils import nodes
from sphinx import addnodes
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

from gallery import gallery_nodes

logger = logging.getLogger(__name__)

#: The modules with an API page (docs/api/<module>.rst); tests/test_docs.py checks the list.
API_MODULES = (
    "twolayer", "twolayer.kernels", "twolayer.spectra", "twolayer.bounds", "twolayer.krylov",
    "twolayer.networks", "twolayer.activations", "twolayer.dynamics", "twolayer.estimators",
    "twolayer.data", "twolayer.experiments", "twolayer.claims", "twolayer.sweep", "twolayer.runfolder",
    "twolayer.plotting", "twolayer.report", "twolayer.demo", "twolayer.dask_operator",
    "twolayer.torch_backend", "twolayer.cli",
)

#: Paper key of the docs -> the experiments' name prefix.
PAPERS = {"arora2019": "arora2019-", "emawu2019": "ema-wu2019-", "chen2020": "chen2020-", "lmz2020": "lmz2020-"}


def canonical_name(name: str) -> str:
    """Full dotted name under which a top-level ``twolayer`` name is documented."""
    import twolayer

    obj = getattr(twolayer, name)
    for mod in API_MODULES[1:]:
        m = importlib.import_module(mod)
        if name in getattr(m, "__all__", ()) and getattr(m, name, None) is obj:
            return f"{mod}.{name}"
    return f"twolayer.{name}"


_ABBREV = ("al", "e.g", "i.e", "eq", "eqs", "cf", "vs", "fig", "thm", "sec", "resp", "etc", "no", "approx")


def first_sentence(text: str) -> str:
    """The first sentence of a docstring's first paragraph, never cut inside a ``literal`` or a role."""
    para = " ".join(text.strip().split("\n\n")[0].split())
    depth = 0       # inside ``...`` or `...`
    i = 0
    while i < len(para):
        if para.startswith("``", i):
            depth ^= 1
            i += 2
            continue
        if para[i] == "`" and not depth:
            j = para.find("`", i + 1)
            i = len(para) if j < 0 else j + 1
            continue
        if para[i] == "." and not depth and (i + 1 == len(para) or para[i + 1] == " "):
            word = para[:i].rsplit(" ", 1)[-1].lstrip("(").lower()
            if word not in _ABBREV:
                return para[:i + 1]
        i += 1
    return para


def _data_doc(module_name: str, name: str) -> str:
    """The ``#:`` comment of a module-level name (what autodoc shows for data)."""
    from sphinx.errors import PycodeError
    from sphinx.pycode import ModuleAnalyzer

    try:
        docs = ModuleAnalyzer.for_module(module_name).find_attr_docs()
    except PycodeError:     # a module without source: no comment to show
        return ""
    return "\n".join(docs.get(("", name), []))


def summary_rows(module_name: str) -> list[tuple[str, str]]:
    """``(full name, one-line summary)`` for every name of the module's ``__all__``."""
    import inspect

    mod = importlib.import_module(module_name)
    rows = []
    for n in getattr(mod, "__all__", ()):
        full = canonical_name(n) if module_name == "twolayer" else f"{module_name}.{n}"
        obj = getattr(mod, n)
        if inspect.isclass(obj) or inspect.isroutine(obj) or inspect.ismodule(obj):
            doc = inspect.getdoc(obj) or ""
        else:
            home, _, attr = full.rpartition(".")
            doc = _data_doc(getattr(obj, "__module__", None) or home, attr) or _data_doc(home, attr)
            if not doc and hasattr(importlib.import_module(home), "__path__"):
                # data re-exported by a package: its comment lives in the defining submodule
                doc = next((d for d in (_data_doc(sub, attr) for sub in _submodules(home)) if d), "")
        rows.append((full, first_sentence(doc) if doc else ""))
    return rows


def _submodules(package: str) -> list[str]:
    import pkgutil

    pkg = importlib.import_module(package)
    return [f"{package}.{m.name}" for m in pkgutil.iter_modules(pkg.__path__)]


def _summary(app, what, name, obj, options, lines):
    if what != "module" or name not in API_MODULES or name == "twolayer.cli":
        return
    rows = summary_rows(name)
    if not rows:
        return
    lines += ["", ".. rubric:: Public names", "", ".. list-table::", "   :class: twolayer-summary", "   :widths: 30 70", ""]
    for full, text in rows:
        lines += [f"   * - :py:obj:`~{full}`", f"     - {text}"]
    lines.append("")


_VARTYPE = re.compile(r"^(\s*:vartype [^:]+:) (.+)$")


def _blank_after_fields(app, what, name, obj, options, lines):
    """Post-process napoleon's output (runs after it).

    * Prose that follows a Parameters section lands right under its field list; docutils needs a
      blank line there: insert one.
    * Attribute types (``:vartype:``) are prose such as ``ndarray (B, m, d)``, not names: render
      them in italics instead of letting Sphinx cross-reference every word (``d`` is ambiguous).
    """
    for k, line in enumerate(lines):
        m = _VARTYPE.match(line)
        if m and not m.group(2).startswith("*"):
            lines[k] = f"{m.group(1)} *{m.group(2).replace('*', chr(92) + '*')}*"
    i = 1
    while i < len(lines):
        prev, cur = lines[i - 1], lines[i]
        if cur and not cur[0].isspace() and not cur.startswith(":") and prev.strip() \
                and (prev.startswith(":") or prev[0].isspace()) and _in_field(lines, i - 1):
            lines.insert(i, "")
        i += 1


def _in_field(lines, j) -> bool:
    """Whether line ``j`` belongs to a field list (a ``:field:`` line, or its indented continuation)."""
    while j >= 0 and lines[j].strip():
        if lines[j].startswith(":"):
            return True
        if not lines[j][0].isspace():
            return False
        j -= 1
    return False


def _skip(app, what, name, obj, skip, options):
    """Leave out the methods scikit-learn generates on estimators (``set_fit_request`` & co.)."""
    if name.startswith("set_") and name.endswith("_request"):
        return True
    return None


class CliHelp(SphinxDirective):
    """``twolayer --help`` and each verb's ``--help`` as literal blocks, one section per verb."""

    has_content = False

    def run(self):
        import argparse

        from twolayer.cli import build_parser

        old = os.environ.get("COLUMNS")
        os.environ["COLUMNS"] = "100"
        try:
            parser = build_parser()
            parser.prog = "twolayer"
            out = [nodes.literal_block(text=parser.format_help(), language="text")]
            sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
            for verb, p in sub.choices.items():
                sec = nodes.section(ids=[nodes.make_id(f"verb-{verb}")])
                sec += nodes.title(text=f"twolayer {verb}")
                sec += nodes.literal_block(text=p.format_help(), language="text")
                out.append(sec)
        finally:
            if old is None:
                os.environ.pop("COLUMNS", None)
            else:
                os.environ["COLUMNS"] = old
        return out


def _field(term: str, text: str) -> nodes.definition_list_item:
    item = nodes.definition_list_item()
    item += nodes.term(text=term)
    d = nodes.definition()
    d += nodes.paragraph(text=text)
    item += d
    return item


def claims_node(exp) -> list[nodes.Node]:
    """Every claim of ``exp.claims``: id and figure, statement, then source, rule, threshold, assumptions.

    Built from docutils nodes (plain text), so the claims' Unicode mathematics is never parsed as markup.
    """
    out = []
    for c in exp.claims:
        box = nodes.container(classes=["twolayer-claim"])
        head = nodes.paragraph()
        head += nodes.literal(text=c.id)
        head += nodes.Text(f" (figure {c.figure}): ")
        head += nodes.strong(text=c.statement.rstrip(".") + ".")
        box += head
        for label, text in (("Source", c.source), ("Rule", c.rule), ("Threshold", c.threshold_reason),
                            ("Assumptions", c.assumptions or "none stated")):
            p = nodes.paragraph(classes=["twolayer-claim-field"])
            p += nodes.emphasis(text=f"{label}: ")
            p += nodes.Text(text)
            box += p
        out.append(box)
    return out


def paper_experiments(key: str) -> list:
    """The registered experiments of paper ``key`` (see :data:`PAPERS`), in ``reproduce --list`` order."""
    from twolayer.experiments import get_experiment, list_experiments

    return [get_experiment(r["name"]) for r in list_experiments() if r["name"].startswith(PAPERS[key])]


class Experiments(SphinxDirective):
    """The experiments of one paper with their declared claims, from the registry."""

    required_arguments = 1

    def run(self):
        out = []
        for exp in paper_experiments(self.arguments[0]):
            sec = nodes.section(ids=[nodes.make_id(f"exp-{exp.name}")])
            sec += nodes.title(text=exp.name)
            sec += nodes.paragraph(text=exp.summary)
            p = nodes.paragraph()
            p += nodes.Text("Run it with ")
            p += nodes.literal(text=f"twolayer reproduce {exp.name}")
            p += nodes.Text(" (presets: " + ", ".join(exp.presets) + "). Its figures and verdicts in the demo run: ")
            ref = addnodes.pending_xref("", refdomain="std", reftype="doc", reftarget=f"/gallery/{exp.name}",
                                        refdoc=self.env.docname, refexplicit=True, refwarn=True)
            ref += nodes.inline(text=f"gallery/{exp.name}", classes=["xref", "std", "std-doc"])
            p += ref
            p += nodes.Text(".")
            sec += p
            sec += nodes.rubric(text=f"Declared claims ({len(exp.claims)})")
            sec += claims_node(exp)
            sec += nodes.rubric(text="In the demo run")
            sec += gallery_nodes(self.env, exp.name, figures_only=True)
            out.append(sec)
        return out


def _tutorial_figures(app, doctree):
    """A tutorial cell that draws a figure must leave an image on the page (an inherited non-inline
    matplotlib backend would drop them all without an error)."""
    docname = app.env.docname
    if not docname.startswith("tutorials/"):
        return
    source = Path(app.env.doc2path(docname)).read_text(encoding="utf-8")
    drawing = sum("plt.subplots(" in cell for cell in re.findall(r"```\{code-cell\}[^\n]*\n(.*?)```", source, re.S))
    images = len(list(doctree.findall(nodes.image)))
    if images < drawing:
        logger.warning(f"{docname}: {drawing} cell(s) draw a figure but the executed page has {images} image(s)")


def setup(app):
    app.connect("doctree-read", _tutorial_figures)
    app.connect("autodoc-process-docstring", _summary)
    app.connect("autodoc-process-docstring", _blank_after_fields, priority=900)
    app.connect("autodoc-skip-member", _skip)
    app.add_directive("twolayer-cli-help", CliHelp)
    app.add_directive("twolayer-experiments", Experiments)
    return {"version": "1", "parallel_read_safe": True}

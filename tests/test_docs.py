"""The documentation site's sources stay in step with the package (without building it).

``make docs`` (and CI) builds the site with warnings as errors and executes the tutorials; these
checks are the cheap part that a plain ``pytest`` run can do: every public module has an API
page, every registered experiment is on a paper page, and every name a tutorial imports or calls
from ``twolayer`` exists, with the keyword arguments it passes.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import inspect
import pkgutil
import re
from pathlib import Path

import pytest

import twolayer

DOCS = Path(__file__).resolve().parents[1] / "docs"
API = DOCS / "api"
TUTORIALS = DOCS / "tutorials"
PAPER_PREFIXES = {"arora2019": "arora2019-", "emawu2019": "ema-wu2019-", "chen2020": "chen2020-",
                  "lmz2020": "lmz2020-"}


def public_modules() -> set[str]:
    """``twolayer`` and every module/package directly under it whose name has no leading underscore."""
    return {"twolayer"} | {f"twolayer.{m.name}" for m in pkgutil.iter_modules(twolayer.__path__)
                           if not m.name.startswith("_")}


def toctree_entries(md: Path) -> list[str]:
    """The entries of the ```{toctree}``` blocks of a MyST page."""
    entries = []
    for block in re.findall(r"```\{toctree\}\n(.*?)```", md.read_text(encoding="utf-8"), re.S):
        entries += [ln.strip() for ln in block.splitlines() if ln.strip() and not ln.startswith(":")]
    return entries


def code_cells(md: Path) -> list[str]:
    return re.findall(r"```\{code-cell\}[^\n]*\n(.*?)```", md.read_text(encoding="utf-8"), re.S)


def test_public_module_list_is_what_the_package_has():
    mods = public_modules()
    # a sanity floor, so that a broken discovery cannot make the comparison below vacuous
    assert {"twolayer.kernels", "twolayer.spectra", "twolayer.bounds", "twolayer.krylov", "twolayer.cli"} <= mods


def test_every_public_module_has_an_autodoc_page():
    pages = {p.stem: p.read_text(encoding="utf-8") for p in API.glob("*.rst")}
    assert set(pages) == public_modules(), "docs/api/<module>.rst must exist for exactly the public modules"
    for mod, text in pages.items():
        assert re.search(rf"^\.\. automodule:: {re.escape(mod)}$", text, re.M), f"{mod}.rst lacks its automodule"
    assert sorted(toctree_entries(API / "index.md")) == sorted(pages), "docs/api/index.md must list every API page"


def test_top_level_names_are_documented_somewhere():
    """A name of ``twolayer.__all__`` is documented on the page of a public module whose ``__all__``
    holds the same object, or else on the ``twolayer`` page itself."""
    others = [importlib.import_module(m) for m in sorted(public_modules() - {"twolayer"})]
    page = (API / "twolayer.rst").read_text(encoding="utf-8")
    listed = re.search(r":members: (.*)", page)
    members = {s.strip() for s in listed.group(1).split(",")} if listed else set()
    for name in twolayer.__all__:
        obj = getattr(twolayer, name)
        homes = [m.__name__ for m in others if name in getattr(m, "__all__", ()) and getattr(m, name, None) is obj]
        assert homes or name in members, f"twolayer.{name} is on no API page"


def test_every_experiment_is_on_a_paper_page():
    from twolayer.experiments import list_experiments

    pages = toctree_entries(DOCS / "papers" / "index.md")
    assert sorted(pages) == sorted(PAPER_PREFIXES)
    for key in pages:
        text = (DOCS / "papers" / f"{key}.md").read_text(encoding="utf-8")
        assert f"```{{twolayer-experiments}} {key}\n" in text, f"papers/{key}.md lacks its experiments directive"
    names = [e["name"] for e in list_experiments()]
    assert names
    for name in names:
        owners = [k for k, prefix in PAPER_PREFIXES.items() if name.startswith(prefix)]
        assert len(owners) == 1, f"experiment {name} belongs to no paper page (or to several)"


def test_every_tutorial_is_in_the_toctree():
    listed = toctree_entries(TUTORIALS / "index.md")
    on_disk = sorted(p.stem for p in TUTORIALS.glob("*.md") if p.stem != "index")
    assert sorted(listed) == on_disk and len(on_disk) >= 4


def _check_tutorial(md: Path) -> list[str]:
    """Problems in the code cells of one tutorial: imports of missing names, attributes a
    ``twolayer`` module lacks, keyword arguments its functions do not take."""
    problems = []
    tree = ast.parse("\n".join(code_cells(md)), filename=str(md))

    def elsewhere(module: str) -> bool:
        """A package of the docs extra (e.g. IPython) that this test environment lacks: `make docs`
        executes those cells; here only twolayer's names are checked."""
        top = module.split(".")[0]
        return top != "twolayer" and importlib.util.find_spec(top) is None

    def imported(module: str, statement: str):
        """The module, or None with the failure recorded as ``statement: error``."""
        try:
            return importlib.import_module(module)
        except ImportError as exc:
            problems.append(f"{statement}: {exc}")
            return None

    aliases: dict[str, object] = {}       # local name -> imported twolayer module or object
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if elsewhere(a.name) or (mod := imported(a.name, f"import {a.name}")) is None:
                    continue
                if a.name.startswith("twolayer"):
                    aliases[a.asname or a.name.split(".")[0]] = mod if a.asname else twolayer
        elif isinstance(node, ast.ImportFrom):
            if node.module is None or elsewhere(node.module):
                continue
            if (mod := imported(node.module, f"from {node.module}")) is None:
                continue
            for a in node.names:
                if not hasattr(mod, a.name):
                    try:
                        importlib.import_module(f"{node.module}.{a.name}")
                    except ImportError:
                        problems.append(f"from {node.module} import {a.name}: no such name")
                        continue
                if node.module.startswith("twolayer"):
                    aliases[a.asname or a.name] = getattr(mod, a.name, None) or importlib.import_module(
                        f"{node.module}.{a.name}")
    for node in ast.walk(tree):
        target = None
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases:
            owner = aliases[node.value.id]
            if inspect.ismodule(owner):
                if not hasattr(owner, node.attr):
                    problems.append(f"{owner.__name__}.{node.attr}: no such name")
        if isinstance(node, ast.Call):
            f = node.func
            if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id in aliases \
                    and inspect.ismodule(aliases[f.value.id]):
                target = getattr(aliases[f.value.id], f.attr, None)
            elif isinstance(f, ast.Name) and f.id in aliases and callable(aliases[f.id]):
                target = aliases[f.id]
        if target is not None and callable(target):
            try:
                params = inspect.signature(target).parameters
            except (TypeError, ValueError):
                continue
            if any(p.kind is p.VAR_KEYWORD for p in params.values()):
                continue
            for kw in node.keywords:
                if kw.arg is not None and kw.arg not in params:
                    problems.append(f"{getattr(target, '__qualname__', target)}() takes no keyword {kw.arg!r}")
    return problems


@pytest.mark.parametrize("name", sorted(p.stem for p in TUTORIALS.glob("*.md") if p.stem != "index"))
def test_tutorial_uses_only_names_that_exist(name):
    md = TUTORIALS / f"{name}.md"
    assert code_cells(md), f"{name}.md has no code cells"
    assert _check_tutorial(md) == []


def test_the_tutorial_check_can_fail(tmp_path):
    bad = tmp_path / "bad.md"
    bad.write_text("```{code-cell} ipython3\nfrom twolayer import bounds, no_such_thing\n"
                   "bounds.not_a_function(1)\nbounds.complexity(1, 2, no_such_keyword=3)\n```\n", encoding="utf-8")
    problems = _check_tutorial(bad)
    assert any("no_such_thing" in p for p in problems)
    assert any("not_a_function" in p for p in problems)
    assert any("no_such_keyword" in p for p in problems)

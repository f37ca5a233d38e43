"""The package's architecture, checked from its source: layers, import direction, module size, docstrings.

Layers (the README's diagram), lowest first; a module may import from its own layer or below,
never above, and the top-level packages form no import cycle (lazy imports inside functions
count too):

0. base — ``_errors``, ``_validation``, ``_io``, ``_linalg``, ``_lock``, ``_progress``, ``_seeds``, ``_threads``, ``activations``
1. mathematics — ``kernels``, ``spectra``, ``bounds``, ``krylov``
2. networks — ``networks`` (parameterizations as records), ``torch_backend`` (the optional torch
   form of the network's step and of the kernel build; imports torch only inside its functions)
3. engine — ``dynamics``
4. tools — ``data``, ``estimators``, ``sweep``, ``runfolder``, ``plotting``, ``report``, ``claims``,
   ``dask_operator`` (the kernel operator on a Dask cluster; imports distributed only inside its functions)
5. application — ``experiments``, ``demo``, ``cli``
"""

from __future__ import annotations

import ast
import importlib
import inspect
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "twolayer"
LAYERS = {
    0: {"_errors", "_validation", "_io", "_linalg", "_lock", "_progress", "_seeds", "_threads", "_loss_ranges",
        "activations"},
    1: {"kernels", "spectra", "bounds", "krylov"},
    2: {"networks", "torch_backend"},
    3: {"dynamics"},
    4: {"data", "estimators", "sweep", "_points", "_cost", "_cache", "runfolder", "plotting", "_plot_bounds", "_plotbase", "_figstyle",
        "report", "claims",
        "dask_operator"},
    5: {"experiments", "demo", "cli", "_cli_common"},
}
LAYER_OF = {name: k for k, names in LAYERS.items() for name in names}
#: The modules whose public functions must document themselves (the core: layers 0-3 and claims).
CORE = ["spectra", "bounds", "networks", "activations", "claims", "kernels", "kernels.arccos", "kernels.hermite",
        "kernels.empirical", "dynamics", "dynamics.rules", "dynamics.engine", "dynamics.observers",
        "dynamics.checkpoint", "dynamics.reference", "dynamics.training", "dynamics.twin", "dynamics.probes",
        "torch_backend", "krylov", "krylov.cg", "krylov.lanczos", "kernels.operator", "kernels.deep", "kernels.user"]
MAX_LINES = 800


def _modules():
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC.parent).with_suffix("")
        parts = list(rel.parts)
        is_pkg = parts[-1] == "__init__"
        if is_pkg:
            parts = parts[:-1]
        yield ".".join(parts), path, is_pkg


def _imports(name: str, path: Path, is_pkg: bool):
    """Top-level ``twolayer`` subpackages imported anywhere in the module (also inside functions)."""
    pkg = name.split(".") if is_pkg else name.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg[:len(pkg) - (node.level - 1)]
                target = base + (node.module.split(".") if node.module else [])
                if len(target) == 1 and not node.module:  # from . import x (x a subpackage of twolayer)
                    for alias in node.names:
                        yield alias.name
                    continue
            elif node.module and node.module.split(".")[0] == "twolayer":
                target = node.module.split(".")
            else:
                continue
            if len(target) > 1:
                yield target[1]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "twolayer" and len(parts) > 1:
                    yield parts[1]


def _top(name: str) -> str:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_every_module_is_in_a_layer():
    tops = {_top(n) for n, _, _ in _modules()} - {""}
    assert tops <= set(LAYER_OF), f"put these in a layer of tests/test_layers.py: {sorted(tops - set(LAYER_OF))}"


def test_no_module_imports_from_a_layer_above_its_own():
    bad = []
    for name, path, is_pkg in _modules():
        me = _top(name)
        if not me:
            continue
        for dep in set(_imports(name, path, is_pkg)):
            if dep in LAYER_OF and LAYER_OF[dep] > LAYER_OF[me]:
                bad.append(f"{name} (layer {LAYER_OF[me]}) imports {dep} (layer {LAYER_OF[dep]})")
    assert not bad, "\n".join(bad)


def test_top_level_packages_form_no_import_cycle():
    graph: dict[str, set] = {}
    for name, path, is_pkg in _modules():
        me = _top(name)
        if me:
            graph.setdefault(me, set()).update(d for d in _imports(name, path, is_pkg) if d in LAYER_OF and d != me)
    seen, stack = set(), []

    def visit(v):
        if v in stack:
            raise AssertionError("import cycle: " + " -> ".join(stack[stack.index(v):] + [v]))
        if v in seen:
            return
        stack.append(v)
        for w in sorted(graph.get(v, ())):
            visit(w)
        stack.pop()
        seen.add(v)

    for v in sorted(graph):
        visit(v)


def test_the_layer_check_sees_a_violation():
    """The check parses relative and absolute, top-level and lazy imports."""
    code = "def f():\n    from ..experiments import reproduce\nfrom twolayer.cli import main\n"
    p = SRC.parent.parent / "tests" / "_layer_probe.py"
    try:
        p.write_text(code, encoding="utf-8")
        assert set(_imports("twolayer.kernels.probe", p, False)) == {"experiments", "cli"}
    finally:
        p.unlink()


def test_no_module_is_over_the_size_limit():
    big = {str(p.relative_to(SRC)): n for _, p, _ in _modules()
           if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not big, f"split these modules (over {MAX_LINES} lines): {big}"


@pytest.mark.parametrize("module", CORE)
def test_public_functions_of_the_core_have_docstrings(module):
    mod = importlib.import_module(f"twolayer.{module}")
    names = getattr(mod, "__all__", [n for n in vars(mod) if not n.startswith("_")])
    missing = []
    for n in names:
        obj = getattr(mod, n)
        if (inspect.isfunction(obj) or inspect.isclass(obj)) and not (inspect.getdoc(obj) or "").strip():
            missing.append(n)
    assert not missing, f"twolayer.{module}: document {missing}"

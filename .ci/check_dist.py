#!/usr/bin/env python3
"""Check the contents of the sdist and wheel that ``python -m build`` wrote (``make dist``).

Usage: ``python .ci/check_dist.py DISTDIR`` from the repository root. DISTDIR must hold exactly
one ``twolayer-VERSION.tar.gz`` and one ``twolayer-VERSION-py3-none-any.whl`` for the version
written in ``src/twolayer/__init__.py``. Checked:

* sdist: pyproject.toml, README.md, LICENSE, CHANGELOG.md, CITATION.cff, Makefile, every file of
  the package source tree ``src/twolayer`` and every file under ``tests/``; nothing from
  ``runs/``, ``.venv/``, ``.git/``, caches or compiled ``*.pyc``;
* wheel: every file of ``src/twolayer`` (the package ships no data files today, but one added
  later is caught here if it is not packaged), the license in ``*.dist-info/licenses/``, the
  ``twolayer`` console script, ``Version:`` equal to the package version; nothing outside
  ``twolayer/`` and the dist-info folder.

Prints one line per archive and exits 1 listing every problem. Cost: reads the two archives'
member lists and two small members.
"""

from __future__ import annotations

import ast
import sys
import tarfile
import zipfile
from pathlib import Path, PurePosixPath

ROOT = Path(__file__).resolve().parent.parent
SDIST_REQUIRED = ("pyproject.toml", "README.md", "LICENSE", "CHANGELOG.md", "CITATION.cff", "Makefile")
FORBIDDEN_PARTS = {"runs", ".venv", ".git", "__pycache__", ".pytest_cache", ".hypothesis", ".mypy_cache",
                   ".ruff_cache"}
SKIP_PARTS = {"__pycache__", ".pytest_cache", ".hypothesis", ".mypy_cache", ".ruff_cache"}


def package_version(root: Path = ROOT) -> str:
    """The string assigned to ``__version__`` in ``src/twolayer/__init__.py`` (read, not imported)."""
    tree = ast.parse((root / "src" / "twolayer" / "__init__.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__version__" for t in node.targets):
            return ast.literal_eval(node.value)
    raise SystemExit("check_dist: no __version__ assignment in src/twolayer/__init__.py")


def tree_files(base: Path) -> list[str]:
    """Files under ``base`` (posix paths relative to it), without caches and compiled files."""
    out = []
    for p in sorted(base.rglob("*")):
        rel = p.relative_to(base)
        if p.is_file() and not SKIP_PARTS.intersection(rel.parts) and p.suffix not in (".pyc", ".pyo"):
            out.append(rel.as_posix())
    return out


def _forbidden(names: list[str]) -> list[str]:
    return [n for n in names if FORBIDDEN_PARTS.intersection(PurePosixPath(n).parts) or n.endswith((".pyc", ".pyo"))]


def check_sdist(path: Path, version: str, root: Path = ROOT) -> list[str]:
    """Problems with the sdist at ``path`` (an empty list when it is complete and clean)."""
    prefix = f"twolayer-{version}/"
    with tarfile.open(path) as tf:
        names = [m.name for m in tf.getmembers() if m.isfile()]
    outside = [n for n in names if not n.startswith(prefix)]
    have = {n[len(prefix):] for n in names if n.startswith(prefix)}
    want = list(SDIST_REQUIRED) + ["src/twolayer/" + f for f in tree_files(root / "src" / "twolayer")]
    want += ["tests/" + f for f in tree_files(root / "tests")]
    problems = [f"sdist: missing {w}" for w in want if w not in have]
    problems += [f"sdist: {n} outside {prefix}" for n in outside]
    problems += [f"sdist: must not contain {n}" for n in _forbidden(names)]
    return problems


def check_wheel(path: Path, version: str, root: Path = ROOT) -> list[str]:
    """Problems with the wheel at ``path`` (an empty list when it is complete and clean)."""
    info = f"twolayer-{version}.dist-info/"
    with zipfile.ZipFile(path) as zf:
        names = [n for n in zf.namelist() if not n.endswith("/")]
        metadata = zf.read(info + "METADATA").decode() if info + "METADATA" in names else ""
        entry_points = zf.read(info + "entry_points.txt").decode() if info + "entry_points.txt" in names else ""
    have = set(names)
    want = ["twolayer/" + f for f in tree_files(root / "src" / "twolayer")] + [info + "licenses/LICENSE"]
    problems = [f"wheel: missing {w}" for w in want if w not in have]
    problems += [f"wheel: unexpected {n}" for n in names if not n.startswith(("twolayer/", info))]
    problems += [f"wheel: must not contain {n}" for n in _forbidden(names)]
    if f"\nVersion: {version}\n" not in metadata:
        problems.append(f"wheel: METADATA does not say Version: {version}")
    if "twolayer = twolayer.cli:main" not in entry_points:
        problems.append("wheel: no console script twolayer = twolayer.cli:main")
    return problems


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python .ci/check_dist.py DISTDIR", file=sys.stderr)
        return 2
    dist, version = Path(argv[0]), package_version()
    sdists = sorted(dist.glob(f"twolayer-{version}.tar.gz"))
    wheels = sorted(dist.glob(f"twolayer-{version}-*.whl"))
    if len(sdists) != 1 or len(wheels) != 1:
        print(f"check_dist: expected one sdist and one wheel of version {version} in {dist}, "
              f"found {[p.name for p in sdists + wheels]}", file=sys.stderr)
        return 1
    problems = check_sdist(sdists[0], version) + check_wheel(wheels[0], version)
    for line in problems:
        print(f"check_dist: {line}", file=sys.stderr)
    if not problems:
        for p in sdists + wheels:
            with (tarfile.open(p) if p.suffix == ".gz" else zipfile.ZipFile(p)) as a:
                n = len(a.getmembers()) if isinstance(a, tarfile.TarFile) else len(a.namelist())
            print(f"check_dist: {p.name}: {n} entries, complete")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

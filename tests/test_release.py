"""Release hygiene: one version everywhere, a valid CITATION.cff, the license, and the checker of
the built sdist and wheel (``.ci/check_dist.py``, run by ``make dist``) catching what it should."""

from __future__ import annotations

import importlib.util
import io
import re
import tarfile
import tomllib
import zipfile
from pathlib import Path

import pytest

import twolayer

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
CFF_REQUIRED = ("cff-version", "message", "title", "authors")  # CFF 1.2.0's required keys


def _check_dist():
    spec = importlib.util.spec_from_file_location("check_dist", ROOT / ".ci" / "check_dist.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _cff_top_level() -> dict[str, str]:
    """Top-level ``key: value`` lines of CITATION.cff (values unparsed), without a YAML library."""
    text = (ROOT / "CITATION.cff").read_text(encoding="utf-8")
    return {m.group(1): m.group(2).strip() for m in re.finditer(r"^([A-Za-z-]+):(.*)$", text, flags=re.M)}


def test_the_version_is_written_once_and_agrees_everywhere():
    project = PYPROJECT["project"]
    assert "version" not in project and "version" in project["dynamic"]
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "twolayer.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+", twolayer.__version__)
    assert _check_dist().package_version() == twolayer.__version__   # the source file, read without import
    assert _cff_top_level()["version"] == twolayer.__version__


def test_citation_cff_has_the_required_keys_and_the_project_license():
    top = _cff_top_level()
    assert all(k in top for k in CFF_REQUIRED), sorted(top)
    assert top["cff-version"] == "1.2.0" and top["type"] == "software"
    assert top["license"] == PYPROJECT["project"]["license"] == "MIT"
    # a repository-code only when pyproject names the project's URL
    assert ("repository-code" in top) == bool(PYPROJECT["project"].get("urls"))


def test_citation_cff_parses_and_cites_the_four_papers():
    yaml = pytest.importorskip("yaml")
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    assert cff["version"] == twolayer.__version__   # a string (an unquoted 0.2 would load as a float)
    assert cff["authors"] == [{"name": "twolayer contributors"}]
    refs = cff["references"]
    assert len(refs) == 4
    for ref in refs:
        assert {"type", "title", "authors", "year"} <= set(ref), ref.get("title")
        assert all("family-names" in a and "given-names" in a for a in ref["authors"])
    # the same titles and years as the BibTeX that twolayer.citation() prints
    for key in ("arora2019", "ema-wu2019", "chen2020", "lmz2020"):
        bib = twolayer.citation(key)
        title = re.search(r"title\s*=\s*\{(.*?)\}", bib).group(1)
        year = int(re.search(r"year\s*=\s*\{(\d{4})\}", bib).group(1))
        assert [r["year"] for r in refs if r["title"] == title] == [year], key


def test_license_is_mit_with_the_contributors_copyright():
    lines = (ROOT / "LICENSE").read_text(encoding="utf-8").splitlines()
    assert lines[0] == "MIT License"
    assert "Copyright (c) 2026 twolayer contributors" in lines


# ------------------------------------------------------------------------------ .ci/check_dist.py


def _fake_root(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "src" / "twolayer" / "sub").mkdir(parents=True)
    (root / "src" / "twolayer" / "__init__.py").write_text('__version__ = "9.8.7"\n')
    (root / "src" / "twolayer" / "sub" / "table.json").write_text("{}")   # a data file the wheel must carry
    (root / "src" / "twolayer" / "__pycache__").mkdir()
    (root / "src" / "twolayer" / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"")  # not required
    (root / "tests").mkdir()
    (root / "tests" / "test_a.py").write_text("")
    return root


def _sdist(path: Path, names: list[str]) -> Path:
    with tarfile.open(path, "w:gz") as tf:
        for name in names:
            info = tarfile.TarInfo(name)
            tf.addfile(info, io.BytesIO(b""))
    return path


def _wheel(path: Path, names: list[str], version: str = "9.8.7") -> Path:
    info = f"twolayer-{version}.dist-info/"
    with zipfile.ZipFile(path, "w") as zf:
        for name in names:
            zf.writestr(name, "")
        zf.writestr(info + "METADATA", f"Metadata-Version: 2.4\nName: twolayer\nVersion: {version}\n\n")
        zf.writestr(info + "entry_points.txt", "[console_scripts]\ntwolayer = twolayer.cli:main\n")
    return path


SDIST_OK = ["pyproject.toml", "README.md", "LICENSE", "CHANGELOG.md", "CITATION.cff", "Makefile",
            "src/twolayer/__init__.py", "src/twolayer/sub/table.json", "tests/test_a.py", "PKG-INFO"]
WHEEL_OK = ["twolayer/__init__.py", "twolayer/sub/table.json", "twolayer-9.8.7.dist-info/licenses/LICENSE"]


def test_check_dist_reads_the_version_from_the_source(tmp_path):
    assert _check_dist().package_version(_fake_root(tmp_path)) == "9.8.7"


def test_check_dist_accepts_complete_archives(tmp_path):
    cd, root = _check_dist(), _fake_root(tmp_path)
    sdist = _sdist(tmp_path / "s.tar.gz", [f"twolayer-9.8.7/{n}" for n in SDIST_OK])
    assert cd.check_sdist(sdist, "9.8.7", root) == []
    assert cd.check_wheel(_wheel(tmp_path / "w.whl", WHEEL_OK), "9.8.7", root) == []


def test_check_dist_names_missing_and_forbidden_files(tmp_path):
    cd, root = _check_dist(), _fake_root(tmp_path)
    names = [n for n in SDIST_OK if n not in ("CITATION.cff", "src/twolayer/sub/table.json")]
    names += ["runs/demo/report.html", ".venv/bin/python", "src/twolayer/__pycache__/x.cpython-311.pyc"]
    problems = cd.check_sdist(_sdist(tmp_path / "s.tar.gz", [f"twolayer-9.8.7/{n}" for n in names]), "9.8.7", root)
    assert sorted(problems) == sorted([
        "sdist: missing CITATION.cff", "sdist: missing src/twolayer/sub/table.json",
        "sdist: must not contain twolayer-9.8.7/runs/demo/report.html",
        "sdist: must not contain twolayer-9.8.7/.venv/bin/python",
        "sdist: must not contain twolayer-9.8.7/src/twolayer/__pycache__/x.cpython-311.pyc"])
    wheel = _wheel(tmp_path / "w.whl", ["twolayer/__init__.py", "tests/test_a.py"], version="9.8.6")
    assert sorted(cd.check_wheel(wheel, "9.8.7", root)) == sorted([
        "wheel: missing twolayer/sub/table.json", "wheel: missing twolayer-9.8.7.dist-info/licenses/LICENSE",
        "wheel: unexpected tests/test_a.py", "wheel: unexpected twolayer-9.8.6.dist-info/METADATA",
        "wheel: unexpected twolayer-9.8.6.dist-info/entry_points.txt",
        "wheel: METADATA does not say Version: 9.8.7", "wheel: no console script twolayer = twolayer.cli:main"])

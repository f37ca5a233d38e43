"""The README's Python examples are doctests: every ``>>>`` line runs and prints what the README says.

Expected outputs are written as digit prefixes with ``...`` (ELLIPSIS), so they hold for any BLAS
that agrees with ours to ~1e-10; whitespace is normalized. The digits example takes ~1 s.
"""

from __future__ import annotations

import doctest
import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def _python_blocks(text: str) -> list[tuple[int, str]]:
    """``(line number of the opening fence, 0-based; body)`` of every ```` ```python ```` block."""
    return [(text.count("\n", 0, m.start()), m.group(1))
            for m in re.finditer(r"^```python\n(.*?)^```$", text, flags=re.S | re.M)]


def _run(text: str) -> tuple[doctest.DocTestRunner, str]:
    """Run the ``>>>`` examples of the python blocks of ``text`` in order, in one namespace."""
    parser, runner = doctest.DocTestParser(), doctest.DocTestRunner(optionflags=FLAGS)
    globs: dict = {"__name__": "README"}
    report: list[str] = []
    for lineno, body in _python_blocks(text):
        test = parser.get_doctest(body, globs, f"{README.name}:{lineno + 1}", str(README), lineno + 1)
        runner.run(test, out=report.append, clear_globs=False)
        globs = test.globs  # a DocTest copies its namespace: carry the names on to the next block
    return runner, "".join(report)


def test_readme_examples_print_what_the_readme_says():
    runner, report = _run(README.read_text(encoding="utf-8"))
    assert runner.failures == 0, report
    assert runner.tries >= 15, f"only {runner.tries} README examples ran"


def test_every_python_block_of_the_readme_is_a_doctest():
    """A ``python`` block without ``>>>`` lines would never run; write it as ``>>>`` examples."""
    blocks = [body for _, body in _python_blocks(README.read_text(encoding="utf-8"))]
    assert len(blocks) >= 2
    untested = [b.splitlines()[0] for b in blocks if not any(line.startswith(">>> ") for line in b.splitlines())]
    assert not untested, f"README python blocks without >>> examples (they are not run): {untested}"


def test_a_wrong_number_in_the_readme_fails():
    """The ellipses leave the leading digits checked: one changed digit is one failure."""
    text = README.read_text(encoding="utf-8")
    assert "(82.1996..., 0.014023...)" in text
    runner, report = _run(text.replace("(82.1996..., 0.014023...)", "(82.1997..., 0.014023...)"))
    assert runner.failures == 1 and "82.1997" in report


def test_quick_start_keeps_its_two_commands():
    text = README.read_text(encoding="utf-8")
    quick = text[text.index("## Quick start"):].split("```bash\n", 1)[1].split("```", 1)[0].splitlines()
    assert [line.split("#")[0].strip() for line in quick] == ["make demo", "make test"]

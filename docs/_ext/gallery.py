"""The figure gallery of the docs, generated from a run folder (never pasted).

Which run folder
----------------
``TWOLAYER_DOCS_DEMO`` (``make docs DEMO=path``) names it. Unset, the first of ``runs/demo-all`` and
``runs/demo`` that exists is used; when neither does, ``twolayer demo --all`` is run into
``docs/_build/demo-all``. A named folder that does not exist is created by running the demo
into it: every experiment, or only the small demo (Arora et al. Fig. 1, Fig. 2, Thm 6.1) when
``TWOLAYER_DOCS_DEMO_ALL=0`` (what CI does, to keep the docs build short).

What is written
---------------
At ``builder-inited`` every registered experiment gets ``docs/gallery/<experiment>.md`` (the folder
is generated and ignored by git) and its PNG figures are copied next to it. The pages hold one
directive, ``.. twolayer-gallery:: NAME``, which at read time turns the run folder's
``meta.json`` (figure files and stored captions) and ``claims.json`` (verdicts) into figures with
their captions and one verdict line per claim judged on each figure; the paper pages use the
same directive with ``:figures-only:``. An experiment absent from the run folder gets a page
saying so, with the command that produces it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

logger = logging.getLogger(__name__)

GALLERY = "gallery"
_BADGE = {"agrees": "ok", "disagrees": "bad", "inconclusive": "unsure"}


def _write_if_changed(path: Path, text: str) -> None:
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def resolve_run(root: Path, build: Path) -> Path:
    """The run folder the gallery shows (see the module docstring); runs the demo if it must."""
    named = os.environ.get("TWOLAYER_DOCS_DEMO", "").strip()
    everything = os.environ.get("TWOLAYER_DOCS_DEMO_ALL", "1").strip() not in ("0", "", "no", "false")
    if named:
        run = Path(named)
        run = run if run.is_absolute() else root / run
    else:
        for cand in (root / "runs" / "demo-all", root / "runs" / "demo"):
            if (cand / "report.html").is_file():
                return cand
        run, everything = build / "demo-all", True
    if not (run / "report.html").is_file():
        from twolayer.demo import DEMO_EXPERIMENTS, all_experiments, run_demo

        names = all_experiments() if everything else DEMO_EXPERIMENTS
        logger.info(f"gallery: running the demo ({len(names)} experiments) into {run}")
        run_demo(run, experiments=names, formats=("png",), quiet=False)
    return run


def _generate(app) -> None:
    from twolayer.experiments import list_experiments

    src = Path(app.srcdir)
    run = resolve_run(src.parent, src / "_build")
    app.config.twolayer_gallery_run = str(run)
    out = src / GALLERY
    out.mkdir(exist_ok=True)
    names = [e["name"] for e in list_experiments()]
    for name in names:
        figs = run / name / "figures"
        dest = out / name
        if dest.exists():
            shutil.rmtree(dest)
        if figs.is_dir():
            dest.mkdir()
            for png in sorted(figs.glob("*.png")):
                shutil.copy2(png, dest / png.name)
        _write_if_changed(out / f"{name}.md", f"# {name}\n\n```{{twolayer-gallery}} {name}\n```\n")
    toc = "\n".join(names)
    _write_if_changed(out / "index.md", "# Gallery\n\nThe figures of one demo run, with the captions and the verdicts "
                      "stored in its run folder (see {doc}`/papers/index` for what each experiment "
                      "checks).\n\n```{twolayer-gallery-source}\n```\n\n"
                      f"```{{toctree}}\n:maxdepth: 1\n\n{toc}\n```\n")


def _run_dir(env) -> Path:
    return Path(env.config.twolayer_gallery_run)


def _verdict(verdict: str | None) -> nodes.Node:
    return nodes.inline(text=verdict or "not judged", classes=["verdict", _BADGE.get(verdict, "unsure")])


class GallerySource(SphinxDirective):
    """One paragraph naming the run folder the gallery was built from and its experiments' status."""

    def run(self):
        from twolayer.runfolder import load_meta

        run = _run_dir(self.env)
        root = Path(self.env.srcdir).parent
        try:
            shown = run.relative_to(root)
        except ValueError:
            shown = run
        bits = []
        for sub in sorted(p for p in run.iterdir() if (p / "meta.json").is_file()):
            meta = load_meta(sub)
            bits.append(f"{sub.name} ({meta.get('status')}, {float(meta.get('wall_time_s') or 0):.0f} s)")
        para = nodes.paragraph()
        para += nodes.Text("Run folder: ")
        para += nodes.literal(text=str(shown))
        para += nodes.Text(f"; {len(bits)} experiment(s): " + ", ".join(bits) + ".")
        return [para]


def gallery_nodes(env, name: str, *, figures_only: bool = False) -> list[nodes.Node]:
    """Figures of experiment ``name`` from the run folder: image, stored caption, a verdict per claim.

    ``figures_only`` leaves out the summary and run line (the paper pages use it).
    """
    from twolayer.experiments import get_experiment
    from twolayer.runfolder import load_claims, load_meta

    exp = get_experiment(name)
    folder = _run_dir(env) / name
    out: list[nodes.Node] = []
    if not figures_only:
        out.append(nodes.paragraph(text=exp.summary))
    if not (folder / "meta.json").is_file():
        p = nodes.paragraph()
        p += nodes.Text("This experiment is not in the run folder the docs were built from; produce it with ")
        p += nodes.literal(text=f"twolayer reproduce {name}")
        p += nodes.Text(" (or build the docs from the full demo: ")
        p += nodes.literal(text="make demo-all docs")
        p += nodes.Text(").")
        return out + [p]
    for f in ("meta.json", "claims.json"):
        if (folder / f).is_file():
            env.note_dependency(str(folder / f))
    meta = load_meta(folder)
    claims = load_claims(folder) if (folder / "claims.json").is_file() else []
    if not figures_only:
        p = nodes.paragraph()
        p += nodes.Text(f"Run status {meta.get('status')}, {float(meta.get('wall_time_s') or 0):.0f} s wall time; "
                        f"{len(claims)} claim(s) judged. Command: ")
        p += nodes.literal(text=str(meta.get("command") or f"twolayer reproduce {name}"))
        out.append(p)
    figures = meta.get("figures") or {}
    for fig_name, stored in figures.items():
        png = next((f for f in stored.get("files", []) if f.endswith(".png")), None)
        if png is None or not (folder / png).is_file():
            continue
        fig = nodes.figure(ids=[nodes.make_id(f"{name}-{fig_name}")], classes=["twolayer-figure"])
        fig += nodes.image(uri=f"/{GALLERY}/{name}/{Path(png).name}", alt=f"{name}: {fig_name}")
        fig += nodes.caption(text=f"{fig_name}. {stored.get('caption') or ''}".strip())
        out.append(fig)
        out.extend(_claims([r for r in claims if r.get("figure") == fig_name]))
    unplaced = [r for r in claims if r.get("figure") not in figures]
    if unplaced:
        out.append(nodes.rubric(text="Claims without a figure in this run"))
        out.extend(_claims(unplaced))
    return out


def _claims(records) -> list[nodes.Node]:
    from twolayer.claims import caption_sentence

    items = nodes.bullet_list(classes=["twolayer-verdicts"])
    for r in records:
        li = nodes.list_item()
        p = nodes.paragraph()
        p += _verdict(r.get("verdict"))
        p += nodes.Text(" ")
        p += nodes.literal(text=str(r.get("claim")))
        p += nodes.Text(": " + caption_sentence(r))
        li += p
        items += li
    return [items] if records else []


class Gallery(SphinxDirective):
    """``.. twolayer-gallery:: NAME`` (option ``:figures-only:``): see :func:`gallery_nodes`."""

    required_arguments = 1
    option_spec = {"figures-only": directives.flag}

    def run(self):
        return gallery_nodes(self.env, self.arguments[0], figures_only="figures-only" in self.options)


def setup(app):
    app.add_config_value("twolayer_gallery_run", "", "env")
    app.connect("builder-inited", _generate)
    app.add_directive("twolayer-gallery", Gallery)
    app.add_directive("twolayer-gallery-source", GallerySource)
    return {"version": "1", "parallel_read_safe": True}

"""Sphinx extension for the course book (loaded through ``_config.yml``).

Small jobs, each local to the rendered HTML (the notebooks are never changed):

1. **Repository-driven buttons.** ``repository.url`` in ``_config.yml`` is the
   one setting: when it is empty, the launch (Colab, Binder) and repository
   buttons are switched off, so the book builds and shows no dead buttons;
   when it is set, they are switched on. (sphinx-book-theme crashes on launch
   buttons without a repository URL, and jupyter-book refuses repository
   buttons without one.)
2. **Solutions start collapsed.** A code cell tagged ``solution`` (see
   CONTRIBUTING.md, "Exercises") is shown as one closed "Show solution to
   Exercise N.K" block holding its code *and* its outputs (which would give the
   answer away), whatever its other tags. ``hide-input`` alone would hide only
   the code, under a generic "Show code cell source".
3. **Clean outputs.** Adjacent pieces of printed text in a cell's output are
   joined into one block, with carriage returns applied, so a text progress bar
   (tqdm on standard output, refreshed in place) shows its final state; text
   printed after a figure stays after it. These are reported as warnings
   (errors in ``scripts/build_book.sh``, which builds with ``-W``): an
   interactive widget (a static page cannot run it), a traceback left in a
   page, and a matplotlib figure that reached the page only as its text
   (``<Figure size 640x480 with 1 Axes>``).
4. **No module left off the API page.** Every module of ``helpers`` must have
   an ``automodule`` in ``book/api.md``; a missing one is a warning.
"""
from __future__ import annotations

import hashlib
import re
import sys
from pathlib import Path

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.transforms import SphinxTransform
from sphinx.util import logging

LOGGER = logging.getLogger(__name__)

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
_EXERCISE_RE = re.compile(r"Exercise\s+(\d+(?:\.\d+)*)")
_FIGURE_TEXT = re.compile(r"^<(Figure|matplotlib\.figure\.Figure) (size|at) [^>]*>$")
_CARRIAGE_RETURN = re.compile(r"[^\n]*\r(?=[^\n])")


def _is_stream(node: nodes.Node) -> bool:
    return isinstance(node, nodes.literal_block) and "stream" in node.get("classes", [])


# --------------------------------------------------------------------------- 1
def configure_buttons(app: Sphinx, config) -> None:
    """Turn the launch and repository buttons on or off from ``repository.url``."""
    opts = dict(config.html_theme_options or {})
    url = (opts.get("repository_url") or "").strip()
    if url:
        opts["repository_url"] = url
        opts["use_repository_button"] = True
        opts["use_issues_button"] = True
    else:
        opts.pop("repository_url", None)
        opts.pop("launch_buttons", None)
        for key in ("use_repository_button", "use_issues_button", "use_edit_page_button"):
            opts[key] = False
    config.html_theme_options = opts


# --------------------------------------------------------------------------- 2
def _tags(cell: nodes.Element) -> list[str]:
    return list((cell.get("cell_metadata") or {}).get("tags", []))


def _exercise_number(node: nodes.Node) -> str | None:
    """The ``N.K`` of the ``### Exercise N.K: ...`` section holding ``node``."""
    parent = node.parent
    while parent is not None:
        if isinstance(parent, nodes.section) and parent.children:
            title = parent.children[0]
            if isinstance(title, nodes.title):
                match = _EXERCISE_RE.search(title.astext())
                if match:
                    return match.group(1)
        parent = parent.parent
    return None


class CourseCells(SphinxTransform):
    """Read-time rewrite of notebook cells: solutions, widgets, figures as text, printed text, tracebacks."""

    default_priority = 500

    def apply(self, **kwargs) -> None:
        self._solutions()
        self._widgets()
        self._figures_as_text()
        self._streams()
        self._tracebacks()

    def _solutions(self) -> None:
        for cell in list(self.document.findall(nodes.container)):
            if cell.get("nb_element") != "cell_code" or "solution" not in _tags(cell):
                continue
            cell["hide_mode"] = "all"  # the code and what it prints or plots: both are the answer
            number = _exercise_number(cell)
            what = f"solution to Exercise {number}" if number else "solution"
            cell["prompt_show"] = f"Show {what}"
            cell["prompt_hide"] = f"Hide {what}"
            if "course-solution" not in cell["classes"]:
                cell["classes"].append("course-solution")

    def _widgets(self) -> None:
        for bundle in self.document.findall(nodes.container):
            if bundle.get("nb_element") == "mime_bundle" and any(
                    c.get("mime_type") == WIDGET_VIEW for c in bundle.children):
                LOGGER.warning("a cell shows an interactive widget that a static page cannot run; print or plot "
                               "the result instead [course.widget]", location=bundle, type="course",
                               subtype="widget")

    def _figures_as_text(self) -> None:
        """A matplotlib figure whose only output is its text repr did not render."""
        for bundle in self.document.findall(nodes.container):
            if bundle.get("nb_element") != "mime_bundle":
                continue
            kinds = [c.get("mime_type") for c in bundle.children]
            if kinds == ["text/plain"] and _FIGURE_TEXT.match(bundle.astext().strip()):
                LOGGER.warning(
                    "a matplotlib figure shows as text (%s), not as an image: the kernel has no image "
                    "formatter for figures yet; import helpers (it turns inline figures on) before the first "
                    "figure [course.figure]", bundle.astext().strip(), location=bundle, type="course",
                    subtype="figure")

    def _streams(self) -> None:
        """Join a cell's *adjacent* stdout blocks into one (the kernel flushes output in
        pieces), applying carriage returns; unlike myst-nb's ``nb_merge_streams``, text
        printed after a figure stays after it."""
        for output in list(self.document.findall(nodes.container)):
            if output.get("nb_element") != "cell_code_output":
                continue
            merged: list[nodes.Node] = []
            for child in output.children:
                if (merged and _is_stream(child) and _is_stream(merged[-1])
                        and merged[-1].get("language") == child.get("language")):
                    text = merged[-1].astext() + child.astext()
                    merged[-1] = nodes.literal_block(text, text, **{
                        k: v for k, v in merged[-1].attributes.items() if k not in ("ids", "names", "dupnames", "backrefs")})
                else:
                    merged.append(child)
            for i, child in enumerate(merged):
                if _is_stream(child) and "\r" in child.astext():
                    text = _CARRIAGE_RETURN.sub("", child.astext())
                    merged[i] = nodes.literal_block(text, text, **child.attributes)
            output.children = []
            output.extend(merged)

    def _tracebacks(self) -> None:
        for block in self.document.findall(nodes.literal_block):
            if "traceback" in block.get("classes", []):
                LOGGER.warning("a cell output shows a traceback; catch the error and print its message "
                               "instead [course.traceback]", location=block, type="course",
                               subtype="traceback")


# --------------------------------------------------------------------------- 4
def check_api_page(app: Sphinx, env) -> None:
    """Warn when a module of the ``helpers`` package is not documented (book/api.md)."""
    import pkgutil

    import helpers

    documented = set(env.domaindata.get("py", {}).get("modules", {}))
    for info in pkgutil.iter_modules(helpers.__path__):
        name = f"helpers.{info.name}"
        if not info.name.startswith("_") and name not in documented:
            LOGGER.warning("%s is not on the API page: add an automodule for it to book/api.md "
                           "[course.api]", name, type="course", subtype="api")


def setup(app: Sphinx) -> dict:
    # The API page documents the helpers of *this* checkout (imported for real, no mocks).
    root = str(Path(__file__).resolve().parents[2])
    if root not in sys.path:
        sys.path.insert(0, root)
    # Changing this file re-reads every page (Sphinx re-reads when an "env" setting changes).
    app.add_config_value("course_book_digest", hashlib.sha256(Path(__file__).read_bytes()).hexdigest(), "env")
    app.connect("config-inited", configure_buttons, priority=900)
    app.add_transform(CourseCells)
    app.connect("env-check-consistency", check_api_page)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}

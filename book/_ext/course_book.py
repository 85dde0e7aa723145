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
3. **Progress bars as one line of text.** ``tqdm.auto`` bars run as Jupyter
   widgets in the kernel. A static page cannot run widget JavaScript offline,
   and the widget's text fallback is the stale ``0%`` line printed when the bar
   was created. Each tqdm widget output is replaced by the bar's *final* state,
   read from the widget state saved with the executed notebook, e.g.
   ``training: 100%|██████████| 940/940 [00:31<00:00, 30.1batch/s, ...]``.
4. **Clean outputs.** Adjacent pieces of printed text in a cell's output are
   joined into one block, with carriage returns applied (text printed after a
   figure stays after it). These are reported as warnings (errors in
   ``scripts/build_book.sh``, which builds with ``-W``): any widget other than
   a tqdm bar, a traceback left in a page, and a matplotlib figure that reached
   the page only as its text (``<Figure size 640x480 with 1 Axes>``).
5. **No module left off the API page.** Every module of ``helpers`` must have
   an ``automodule`` in ``book/api.md``; a missing one is a warning.
"""
from __future__ import annotations

import hashlib
import html
import json
import re
import sys
from pathlib import Path

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.transforms import SphinxTransform
from sphinx.util import logging

LOGGER = logging.getLogger(__name__)

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
_VIEW_RE = re.compile(r"<script[^>]*>(.*)</script>", re.S)
_EXERCISE_RE = re.compile(r"Exercise\s+(\d+(?:\.\d+)*)")
BAR_WIDTH = 10
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


# --------------------------------------------------------------------------- 2, 3
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


def _widget_state(env) -> dict:
    """The saved ipywidgets state of the document being read ({} when none)."""
    meta = getattr(env, "nb_metadata", {}).get(env.docname, {})
    entry = meta.get("js_files", {}).get("ipywidgets_state")
    if not entry:
        return {}
    try:
        return json.loads(entry[1]["body"]).get("state", {})
    except (KeyError, TypeError, ValueError):
        return {}


def _hidden(model_id: str, state: dict) -> bool:
    layout_ref = str(state[model_id].get("state", {}).get("layout") or "")
    layout = state.get(layout_ref.replace("IPY_MODEL_", "", 1), {}).get("state", {})
    return layout.get("visibility") == "hidden" or layout.get("display") == "none"


def tqdm_text(model_id: str, state: dict) -> str | None:
    """The text of a tqdm bar (an HBox of HTML, progress bar, HTML), or None."""
    box = state.get(model_id, {})
    if box.get("model_name") != "HBoxModel":
        return None
    children = [c.replace("IPY_MODEL_", "", 1) for c in box.get("state", {}).get("children", [])]
    if len(children) != 3:
        return None
    left, bar, right = (state.get(c, {}) for c in children)
    if (left.get("model_name"), right.get("model_name")) != ("HTMLModel", "HTMLModel") or \
            bar.get("model_name") not in ("FloatProgressModel", "IntProgressModel"):
        return None

    def text(model):
        return html.unescape(str(model["state"].get("value", ""))).replace("\u2007", " ")

    value, lo, hi = (float(bar["state"].get(k) or 0) for k in ("value", "min", "max"))
    frac = min(max((value - lo) / (hi - lo), 0.0), 1.0) if hi > lo else 1.0
    filled = int(round(frac * BAR_WIDTH))
    return f"{text(left)}|{'█' * filled}{' ' * (BAR_WIDTH - filled)}|{text(right)}"


class CourseCells(SphinxTransform):
    """Read-time rewrite of notebook cells: solutions, progress bars, tracebacks."""

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
        bundles = [n for n in self.document.findall(nodes.container) if n.get("nb_element") == "mime_bundle"
                   and any(c.get("mime_type") == WIDGET_VIEW for c in n.children)]
        if not bundles:
            return
        state = _widget_state(self.env)
        converted = 0
        for bundle in bundles:
            view = next(c for c in bundle.children if c.get("mime_type") == WIDGET_VIEW)
            model_id = None
            match = _VIEW_RE.search("".join(r.astext() for r in view.findall(nodes.raw)))
            if match:
                try:
                    data = json.loads(match.group(1).replace("<\\/", "</"))
                    data = json.loads(data) if isinstance(data, str) else data
                    model_id = data.get("model_id")
                except ValueError:
                    model_id = None
            if model_id and (model_id not in state or _hidden(model_id, state)):
                # The widget was closed or hidden before the cell ended (a tqdm bar with
                # leave=False): Jupyter shows nothing for it, and neither does the book.
                bundle.parent.remove(bundle)
                converted += 1
                continue
            line = tqdm_text(model_id, state) if model_id else None
            if line is None:
                LOGGER.warning(
                    "a cell shows an interactive widget (model %s) that a static page cannot run; "
                    "print or plot the result instead [course.widget]", model_id,
                    location=bundle, type="course", subtype="widget")
                continue
            block = nodes.literal_block(line, line, language="none",
                                        classes=["output", "text_plain", "course-progress"])
            bundle.replace_self(block)
            converted += 1
        if converted == len(bundles):
            # Nothing on the page needs the widget state any more: drop it, so no
            # widget JavaScript or state blob is written into the page.
            meta = getattr(self.env, "nb_metadata", {}).get(self.env.docname, {})
            for key in [k for k in meta.get("js_files", {}) if k.startswith("ipywidgets")]:
                del meta["js_files"][key]

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

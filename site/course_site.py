"""A small Sphinx extension with the book's site policy.

- The book has no live-code (Thebe) mode: its loader would fetch Thebe from a CDN, and
  Jupyter Book 1 adds its configuration script twice, which is a console error in every
  page. Both are removed from the pages.
- ``site/assets/`` is served with the site: ``course-site.js`` makes the sidebar toggles
  that readers see work (see the comment at its top) and ``course-site.css`` holds the
  book's own styles. Both are added to every page.
- The widgets' front ends come from rnnlib as it is now: in each page's stored widget
  state, the code and styles of the gate explorers and knowledge checks (``_esm``,
  ``_css``) are replaced by those of ``rnnlib/widgets_js``, so a fix to a front end reaches
  the site without re-executing the chapters. The explorers' preset tables are refreshed
  the same way, with the stored preset re-applied.
- Pages whose stored widgets are all rnnlib's anywidgets or tqdm's progress bars carry
  ``site/assets/course-widgets.js`` (a few kB, inline, right after the stored widget
  state) instead of the Jupyter widget manager (3.6 MB); other pages keep the manager.
  Inline, it runs while the page is parsed and draws the widgets when parsing ends,
  before the deferred scripts (MathJax, the theme) run. MathJax is loaded only on pages with maths
  or widgets.
- The theme reads the colour mode from localStorage and, for a first-time reader who has
  none stored, logs a console error before falling back to "auto". Pages start in "auto".
- The theme's Font Awesome script (1.5 MB) is dropped: its stylesheet draws the same icons.
- Two pieces of generated markup that fail accessibility checks are corrected (see
  ``_MARKUP_FIXES``).
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path

ASSETS = Path(__file__).resolve().parent / "assets"


def _is_thebe(script) -> bool:
    filename = str(getattr(script, "filename", script) or "")
    body = str(getattr(script, "attributes", {}).get("body", ""))
    return "sphinx-thebe" in filename or "THEBE_JS_URL" in body


def drop_thebe(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if scripts:
        context["script_files"] = [s for s in scripts if not _is_thebe(s)]
    styles = context.get("css_files")
    if styles:
        context["css_files"] = [s for s in styles if "sphinx-thebe" not in str(getattr(s, "filename", s))]


_MODE_UNSET = 'localStorage.getItem("mode") || ""'
_MODE_AUTO = 'localStorage.getItem("mode") || "auto"'
# The theme's Font Awesome script (1.5 MB) redraws its icons as inline SVG; its stylesheet
# already draws the same icons from the web font, so the script is dropped.
_FONTAWESOME_JS = re.compile(r'<script defer src="[^"]*_static/scripts/fontawesome\.js[^"]*"></script>\s*')


# Accessibility of the generated markup (found by axe-core in tests/test_site.py):
# - myst-nb's "Show code cell source" toggles are named "Toggle hidden content", which
#   hides their visible text from speech input: they keep their visible text as name;
# - docutils marks the bibliography role="list" although its entries are
#   role="doc-biblioentry", not list items.
_MARKUP_FIXES = [
    ('<summary aria-label="Toggle hidden content">', "<summary>"),
    ('<div role="list" class="citation-list">', '<div class="citation-list">'),
]


def postprocess_pages(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    for page in Path(app.outdir).rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        new = _FONTAWESOME_JS.sub("", text.replace(_MODE_UNSET, _MODE_AUTO))
        for old, fixed in _MARKUP_FIXES:
            new = new.replace(old, fixed)
        if new != text:
            page.write_text(new, encoding="utf-8")


WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


@functools.cache
def _front_ends() -> dict[str, dict[str, str]]:
    """The current ``_esm`` and ``_css`` of rnnlib's widgets, by kind."""
    from rnnlib import widgets

    def read(name):
        return (widgets.JS_DIR / name).read_text(encoding="utf-8")

    return {
        "explorer": {"_esm": widgets.esm_source(), "_css": read("explorer.css")},
        "quiz": {"_esm": read("quiz.js"), "_css": read("quiz.css")},
    }


def _refresh_presets(state: dict) -> None:
    """The explorer's presets as rnnlib defines them now, and the preset it shows applied."""
    from rnnlib import widgets

    make = {"lstm": widgets.LSTMExplorer, "gru": widgets.GRUExplorer}.get(state.get("_kind"))
    if make is None:
        return
    kwargs = {"variant": state["variant"]} if "variant" in state else {}
    current = make(**kwargs)
    state["presets"] = current.presets
    if state.get("preset") in current._table():
        current.preset = state["preset"]
        state.update(w=list(current.w), u=list(current.u), b=list(current.b))
    else:                                   # a preset rnnlib no longer has: custom parameters
        state["preset"] = ""


def _widget_kind(model: dict) -> str | None:
    if model.get("model_module") != "anywidget":
        return None
    state = model.get("state", {})
    if "_kind" in state:
        return "explorer"
    if "quiz_id" in state:
        return "quiz"
    return None


# Stored models course-widgets.js can draw, by (module, name).
LIGHT_MODELS = {
    ("anywidget", "AnyModel"),
    ("@jupyter-widgets/base", "LayoutModel"),
    ("@jupyter-widgets/controls", "HBoxModel"),
    ("@jupyter-widgets/controls", "HTMLModel"),
    ("@jupyter-widgets/controls", "HTMLStyleModel"),
    ("@jupyter-widgets/controls", "FloatProgressModel"),
    ("@jupyter-widgets/controls", "ProgressStyleModel"),
}


def widgets_on_page(app, pagename, templatename, context, doctree):
    """Refresh the stored front ends of rnnlib's widgets; load the light renderer if it suffices."""
    from myst_nb.core.render import sanitize_script_content
    from sphinx.builders.html._assets import _JavaScript

    scripts = context.get("script_files") or []
    models = None
    for script in scripts:
        attributes = getattr(script, "attributes", {})
        if attributes.get("type") != WIDGET_STATE:
            continue
        widget_state = json.loads(attributes["body"])
        models = list(widget_state.get("state", {}).values())
        for model in models:
            kind = _widget_kind(model)
            if kind is not None:
                model["state"].update(_front_ends()[kind])
            if kind == "explorer":
                _refresh_presets(model["state"])
        attributes["body"] = sanitize_script_content(json.dumps(widget_state))
    if models is None:
        return
    if all((m.get("model_module"), m.get("model_name")) in LIGHT_MODELS for m in models):
        manager = {f"_static/{path}" for path in app.config.nb_ipywidgets_js}
        kept = [s for s in scripts if str(getattr(s, "filename", s)) not in manager]
        state = next(i for i, s in enumerate(kept)
                     if getattr(s, "attributes", {}).get("type") == WIDGET_STATE)
        renderer = _JavaScript("", body=_renderer_source(), **{"data-course-widgets": "renderer"})
        context["script_files"] = kept[:state + 1] + [renderer] + kept[state + 1:]


@functools.cache
def _renderer_source() -> str:
    """course-widgets.js, ready to be inlined in a page (no "</" that could end the script)."""
    return (ASSETS / "course-widgets.js").read_text(encoding="utf-8").replace("</", "<\\/")


def _has_maths(doctree) -> bool:
    from docutils import nodes

    return doctree is not None and any(doctree.findall(
        lambda n: isinstance(n, (nodes.math, nodes.math_block))))


def mathjax_only_with_maths(app, pagename, templatename, context, doctree):
    """Drop MathJax (1.2 MB) from pages without maths and without widgets (quizzes typeset maths)."""
    scripts = context.get("script_files") or []
    has_widgets = any(getattr(s, "attributes", {}).get("type") == WIDGET_STATE for s in scripts)
    if has_widgets or _has_maths(doctree):
        return
    context["script_files"] = [
        s for s in scripts
        if "mathjax" not in str(getattr(s, "filename", s))
        and not str(getattr(s, "attributes", {}).get("body", "")).startswith("window.MathJax")
    ]


def serve_assets(app, config):
    config.html_static_path = [*config.html_static_path, str(ASSETS)]


def setup(app):
    app.connect("config-inited", serve_assets)
    app.add_js_file("course-site.js", defer="defer")
    app.add_css_file("course-site.css")
    app.connect("html-page-context", drop_thebe, priority=900)
    app.connect("html-page-context", widgets_on_page, priority=900)
    app.connect("html-page-context", mathjax_only_with_maths, priority=900)
    app.connect("build-finished", postprocess_pages)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

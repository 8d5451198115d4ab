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
  the site without re-executing the chapters.
- The theme reads the colour mode from localStorage and, for a first-time reader who has
  none stored, logs a console error before falling back to "auto". Pages start in "auto".
"""

from __future__ import annotations

import functools
import json
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


def default_mode_auto(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    for page in Path(app.outdir).rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        if _MODE_UNSET in text:
            page.write_text(text.replace(_MODE_UNSET, _MODE_AUTO), encoding="utf-8")


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


def _widget_kind(model: dict) -> str | None:
    if model.get("model_module") != "anywidget":
        return None
    state = model.get("state", {})
    if "_kind" in state:
        return "explorer"
    if "quiz_id" in state:
        return "quiz"
    return None


def refresh_widget_front_ends(app, pagename, templatename, context, doctree):
    from myst_nb.core.render import sanitize_script_content

    for script in context.get("script_files") or []:
        attributes = getattr(script, "attributes", {})
        if attributes.get("type") != WIDGET_STATE:
            continue
        widget_state = json.loads(attributes["body"])
        for model in widget_state.get("state", {}).values():
            kind = _widget_kind(model)
            if kind is not None:
                model["state"].update(_front_ends()[kind])
        attributes["body"] = sanitize_script_content(json.dumps(widget_state))


def serve_assets(app, config):
    config.html_static_path = [*config.html_static_path, str(ASSETS)]


def setup(app):
    app.connect("config-inited", serve_assets)
    app.add_js_file("course-site.js", defer="defer")
    app.add_css_file("course-site.css")
    app.connect("html-page-context", drop_thebe, priority=900)
    app.connect("html-page-context", refresh_widget_front_ends, priority=900)
    app.connect("build-finished", default_mode_auto)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

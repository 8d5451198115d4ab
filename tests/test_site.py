"""The built site as readers meet it, in a real browser (headless Debian chromium).

These tests need the site in ``_build/html`` (``make book``; ``make test`` builds it first;
``RNN_COURSE_SITE`` points them at another build) and chromium at /usr/bin/chromium
(``.ci/run`` installs it; ``RNN_COURSE_CHROMIUM`` points at another). Either one missing
is a failure, not a skip. Screenshots of every page are written to ``_build/screenshots``.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import threading
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
SITE = Path(os.environ.get("RNN_COURSE_SITE", ROOT / "_build" / "html"))
SHOTS = ROOT / "_build" / "screenshots"
# axe-core, pinned in site/package.json and installed by site/vendor.py; the tests inject it.
AXE = ROOT / "site" / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM = Path(os.environ.get("RNN_COURSE_CHROMIUM", "/usr/bin/chromium"))
# Flags for a closed network: no background services that phone home.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
# A phone as Chromium emulates one: touch events and the mobile viewport meta tag honoured.
PHONE_OPTIONS = {"is_mobile": True, "has_touch": True, "device_scale_factor": 2}


def toc_pages() -> list[str]:
    """Every page listed in _toc.yml, as a path relative to the site root (no suffix)."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    pages = [toc["root"]]
    for part in toc.get("parts", []):
        for chapter in part["chapters"]:
            pages.append(chapter["file"])
    return pages


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    if not (SITE / "index.html").exists():
        pytest.fail(f"no built site at {SITE}: run `make book` first")
    handler = functools.partial(_QuietHandler, directory=str(SITE))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.fail(f"chromium not found at {CHROMIUM}: install Debian's chromium (see .ci/run)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


class Visit:
    """A page opened in a fresh context, with its console errors and every request recorded."""

    def __init__(self, browser, url: str, viewport=DESKTOP, init_script=None, **context_options):
        self.context = browser.new_context(viewport=viewport, **context_options)
        if init_script:
            self.context.add_init_script(init_script)
        self.context.set_default_timeout(60000)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("response", lambda r: r.status >= 400 and self.errors.append(
            f"HTTP {r.status} for {r.url}"))
        self.page.goto(url, wait_until="networkidle")

    def foreign_requests(self) -> list[str]:
        return [u for u in self.requests
                if urlparse(u).scheme not in ("data", "blob", "about")
                and urlparse(u).hostname not in ("127.0.0.1", "localhost")]

    def close(self):
        self.context.close()


# Recorded in every page from its first byte: when the first widget is drawn, and how far
# the page had got then (its readyState; whether MathJax had started).
_WIDGET_CLOCK_JS = """
new MutationObserver((_, observer) => {
  if (document.querySelector(".rnx, .rnn-quiz")) {
    window.__firstWidgetAt = performance.now();
    window.__firstWidgetState = {
      readyState: document.readyState,
      mathjaxStarted: Boolean(window.MathJax && window.MathJax.startup),
      domContentLoaded: performance.getEntriesByType("navigation")[0]?.domContentLoadedEventStart || 0,
    };
    observer.disconnect();
  }
}).observe(document, {childList: true, subtree: true});
"""

# What a survey measures in a loaded page (see `survey`).
_MEASURE_JS = """
() => {
  const nav = performance.getEntriesByType("navigation")[0];
  const resources = performance.getEntriesByType("resource");
  const rect = (el) => { const r = el.getBoundingClientRect(); return {left: r.left, right: r.right, top: r.top, bottom: r.bottom, width: r.width}; };
  return {
    bytes: nav.decodedBodySize + resources.reduce((n, r) => n + r.decodedBodySize, 0),
    resources: resources.map((r) => [r.name, r.decodedBodySize]),
    loadAt: nav.loadEventStart,
    firstWidgetAt: window.__firstWidgetAt ?? null,
    maths: document.querySelectorAll("main .math").length,
    images: Array.from(document.querySelectorAll(".bd-article img")).map((img) => ({
      src: img.getAttribute("src"), alt: img.getAttribute("alt"),
      naturalWidth: img.naturalWidth, width: img.getBoundingClientRect().width,
    })),
    equations: Array.from(document.querySelectorAll("main div.math")).map((box) => {
      const content = box.querySelector("mjx-container > mjx-math");
      const number = box.querySelector(".eqno");
      return {id: box.id, tex: box.textContent.slice(0, 80), box: rect(box),
              content: content ? rect(content) : null, number: number ? rect(number) : null};
    }),
  };
}
"""

_AXE_JS = """
async () => {
  const found = await axe.run({include: [[".bd-article"]]}, {resultTypes: ["violations"]});
  return found.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map((n) => n.target.join(" ") + " :: " + n.html.slice(0, 120)),
  }));
}
"""


def _axe(page) -> list[dict]:
    """axe-core's violations in the page's own content (the article, not the theme's frame)."""
    if not AXE.exists():
        pytest.fail(f"axe-core not found at {AXE}: run `.venv/bin/python site/vendor.py`")
    page.add_script_tag(path=str(AXE))
    return page.evaluate(_AXE_JS)


_SURVEYS: dict[str, dict] = {}


def survey(browser, server, page: str) -> dict:
    """Open `page` once at desktop width and measure it; later calls reuse the result.

    Keys: title, errors (console), foreign (requests to other hosts), bytes (every
    resource, uncompressed), resources ([url, bytes]), loadAt and firstWidgetAt (ms after
    navigation start), maths (number of formulas), images (src, alt, natural and shown width), equations (boxes of each
    display equation, its rendered content and its number), axe (axe-core's violations in
    the article).
    """
    if page not in _SURVEYS:
        visit = Visit(browser, f"{server}/{page}.html", init_script=_WIDGET_CLOCK_JS)
        try:
            # The widgets and MathJax draw after the network is idle; wait for both.
            visit.page.wait_for_function(
                "() => Array.from(document.querySelectorAll('.course-widget, .jupyter-widgets'))"
                ".every((el) => el.childElementCount > 0 || el.textContent.trim())")
            if visit.page.locator("main div.math").count():
                visit.page.wait_for_selector("main div.math mjx-container")
                visit.page.evaluate("() => window.MathJax.startup.promise")
            result = visit.page.evaluate(_MEASURE_JS)
            result["axe"] = _axe(visit.page)
            result.update(title=visit.page.title(), errors=list(visit.errors),
                          foreign=visit.foreign_requests())
            SHOTS.mkdir(parents=True, exist_ok=True)
            visit.page.screenshot(path=str(SHOTS / f"{page.replace('/', '__')}.png"))
        finally:
            visit.close()
        _SURVEYS[page] = result
    return _SURVEYS[page]


@pytest.mark.parametrize("page", toc_pages())
def test_page_loads_cleanly_and_locally(browser, server, page):
    found = survey(browser, server, page)
    assert found["title"], f"{page} has no title"
    assert found["errors"] == [], f"console errors on {page}: {found['errors']}"
    assert found["foreign"] == [], f"{page} loads from other hosts"


@pytest.mark.parametrize("page", toc_pages())
def test_no_serious_accessibility_violation(browser, server, page):
    """axe-core finds no serious or critical violation in the page's content."""
    found = [v for v in survey(browser, server, page)["axe"] if v["impact"] in ("serious", "critical")]
    assert found == [], "\n".join(
        f"{v['impact']} {v['id']} ({v['help']}): {v['nodes'][:4]}" for v in found)


MAX_PAGE_BYTES = 4_000_000


@pytest.mark.parametrize("page", toc_pages())
def test_page_weight(browser, server, page):
    """A page loads under 4 MB (uncompressed); the 3.6 MB widget manager and MathJax only where needed."""
    found = survey(browser, server, page)
    heaviest = sorted(found["resources"], key=lambda r: -r[1])[:4]
    assert found["bytes"] < MAX_PAGE_BYTES, (
        f"{page} loads {found['bytes'] / 1e6:.2f} MB; heaviest: {heaviest}")
    names = [url for url, _ in found["resources"]]
    # Every chapter's widgets are drawn by the site's own small renderer.
    assert not any("html-manager" in url for url in names), f"{page} loads the widget manager"
    if found["maths"] == 0 and found["firstWidgetAt"] is None:
        assert not any("mathjax" in url for url in names), f"{page} has no maths but loads MathJax"
    if "chapters/" in page:
        assert found["firstWidgetAt"] is not None, f"{page}: no widget was drawn"


_SCRIPT_TAG = re.compile(r"<script\b[^>]*>")
WIDGET_STATE_TYPE = "application/vnd.jupyter.widget-state+json"
_SRC = re.compile(r'\bsrc="([^"]+)"')


@pytest.mark.parametrize("page", [p for p in toc_pages() if p.startswith("chapters/")])
def test_widgets_do_not_wait_for_the_page_to_finish_loading(browser, server, page):
    """Why the widgets show early: nothing they need comes late.

    The renderer (site/assets/course-widgets.js) is inline in the page, right after the
    stored widget state, so it runs while the page is parsed: it starts compiling the
    widgets' front ends (inline too, in the state) at once and draws the widgets when
    parsing ends, before any deferred script. Here every deferred script (MathJax, the
    theme's scripts) and every image and font is held back by the network, so neither
    DOMContentLoaded nor load can fire and MathJax never starts: the first widget is drawn
    all the same. (How soon is measured, not tested: ``benchmarks/bench_site.py``.)
    """
    html = (SITE / f"{page}.html").read_text(encoding="utf-8")
    tags = [m.group(0) for m in _SCRIPT_TAG.finditer(html)]
    kinds = ["renderer" if 'data-course-widgets="renderer"' in t else "state" if WIDGET_STATE_TYPE in t
             else "deferred" if re.search(r"\bdefer\b", t) else "other" for t in tags]
    assert kinds.count("renderer") == 1 and kinds.count("state") == 1, f"{page}: {kinds}"
    renderer = tags[kinds.index("renderer")]
    assert "src=" not in renderer and not re.search(r"\b(async|defer)\b", renderer), renderer
    assert kinds.index("renderer") == kinds.index("state") + 1, f"{page}: the renderer does not follow the state"
    assert "html-manager" not in html, f"{page} loads the Jupyter widget manager"
    deferred = {Path(urlparse(_SRC.search(t).group(1)).path).name
                for t, kind in zip(tags, kinds) if kind == "deferred" and _SRC.search(t)}
    assert "tex-mml-chtml.js" in deferred, f"{page}: MathJax is not among the deferred scripts {deferred}"

    held = []

    def hold(route):
        request = route.request
        name = Path(urlparse(request.url).path).name
        if request.resource_type in ("image", "font", "media") or name in deferred:
            held.append(request.url)
            return                       # never answered while the test looks
        route.continue_()

    context = browser.new_context(viewport=DESKTOP)
    context.add_init_script(_WIDGET_CLOCK_JS)
    context.set_default_timeout(60000)
    context.route("**/*", hold)
    tab = context.new_page()
    try:
        tab.goto(f"{server}/{page}.html", wait_until="commit")
        tab.wait_for_selector(".rnx, .rnn-quiz", state="attached")
        found = tab.evaluate("""() => {
          const nav = performance.getEntriesByType("navigation")[0];
          return {...window.__firstWidgetState, loaded: nav.loadEventStart, parsed: nav.domContentLoadedEventStart,
                  mathjaxStartedNow: Boolean(window.MathJax && window.MathJax.startup)};
        }""")
        assert any(name in url for url in held for name in deferred), f"{page}: no deferred script was held"
        assert found["readyState"] == "interactive", found
        assert found["domContentLoaded"] == 0 and found["parsed"] == 0 and found["loaded"] == 0, found
        assert not found["mathjaxStarted"] and not found["mathjaxStartedNow"], found
    finally:
        context.close()


def test_math_is_rendered(browser, server):
    visit = Visit(browser, f"{server}/chapters/01_sequence_problem.html")
    try:
        visit.page.wait_for_selector("mjx-container", timeout=15000)
        n_math = visit.page.locator("mjx-container").count()
        assert n_math >= 5, f"only {n_math} formulas rendered"
        # MathJax leaves no raw TeX delimiters in the rendered text.
        assert "\\begin{" not in visit.page.inner_text("main")
    finally:
        visit.close()


def _wait_for_widgets(visit, selector):
    # The widget manager renders after the page's load event; on a busy machine that can take a while.
    visit.page.wait_for_selector(selector, timeout=60000)


def _explorer(visit, title):
    return visit.page.locator(".rnx").filter(has=visit.page.locator(".rnx-title", has_text=title)).first


def _readout(explorer):
    return explorer.locator(".rnx-eq").inner_text()


def _move_slider(slider, value):
    slider.evaluate("(el, v) => { el.value = String(v); el.dispatchEvent(new Event('input')); }", value)


@pytest.mark.parametrize("page, title, preset", [
    ("chapters/05_lstm", "LSTM gate explorer", "forget"),
    ("chapters/06_gru", "GRU gate explorer", "rewrite"),
])
def test_gate_explorer_is_live_without_a_kernel(browser, server, page, title, preset):
    visit = Visit(browser, f"{server}/{page}.html")
    try:
        _wait_for_widgets(visit, ".rnx")
        explorer = _explorer(visit, title)
        explorer.scroll_into_view_if_needed()
        before = _readout(explorer)
        assert "=" in before, f"the {title} shows no values: {before!r}"
        # A preset changes the gate parameters, and so the displayed values.
        explorer.locator(".rnx-presets button", has_text=preset).click()
        after_preset = _readout(explorer)
        assert after_preset != before, f"preset {preset!r} changed nothing"
        # Moving the input slider changes them again.
        _move_slider(explorer.locator("input[type=range]").first, -1.7)
        after_slider = _readout(explorer)
        assert after_slider != after_preset, "moving x changed nothing"
        # So does the previous hidden state: the presets' candidate reads it.
        _move_slider(explorer.locator("input[type=range]").nth(1), -0.9)
        assert _readout(explorer) != after_slider, "moving the previous state changed nothing"
        explorer.screenshot(path=str(SHOTS / f"{page.split('/')[-1]}_explorer.png"))
        assert visit.errors == [], f"console errors: {visit.errors}"
    finally:
        visit.close()


def test_knowledge_check_gives_feedback_and_remembers_progress(browser, server):
    url = f"{server}/chapters/01_sequence_problem.html"
    visit = Visit(browser, url)
    try:
        _wait_for_widgets(visit, ".rnn-quiz")
        quiz = visit.page.locator(".rnn-quiz").first
        first = quiz.locator(".rnn-quiz-question").first
        feedback = first.locator(".rnn-quiz-feedback")
        # A wrong choice gets the hint written for it; the right one gets the explanation.
        first.locator("input[type=radio]").nth(0).check()
        first.locator(".rnn-quiz-check").click()
        assert feedback.get_attribute("data-correct") == "false"
        assert feedback.inner_text().startswith("Not quite.")
        first.locator("input[type=radio]").nth(1).check()
        first.locator(".rnn-quiz-check").click()
        assert feedback.get_attribute("data-correct") == "true"
        assert "1 of" in quiz.locator(".rnn-quiz-score").inner_text()
        # Progress survives a reload (localStorage).
        visit.page.reload(wait_until="networkidle")
        _wait_for_widgets(visit, ".rnn-quiz")
        first = visit.page.locator(".rnn-quiz .rnn-quiz-question").first
        assert first.locator("input[type=radio]").nth(1).is_checked()
        assert first.locator(".rnn-quiz-feedback").get_attribute("data-correct") == "true"
        assert visit.errors == [], f"console errors: {visit.errors}"
    finally:
        visit.close()


def _in_viewport(locator) -> bool:
    return locator.evaluate(
        "el => { const r = el.getBoundingClientRect();"
        " return r.width > 0 && r.bottom > 0 && r.top < window.innerHeight; }")


def test_phone_reader_opens_the_contents_and_follows_links(browser, server):
    """At 390 px: the table of contents and the page contents open, and their links work."""
    from playwright.sync_api import expect

    visit = Visit(browser, f"{server}/chapters/05_lstm.html", viewport=PHONE, **PHONE_OPTIONS)
    page = visit.page
    try:
        # The book's table of contents: one visible menu button opens it as a dialog.
        toggles = page.locator(".primary-toggle:visible")
        assert toggles.count() == 1, "expected one visible button for the table of contents"
        toggles.tap()
        toc = page.locator("#pst-primary-sidebar-modal")
        expect(toc).to_have_attribute("open", "")
        link = toc.locator('a[href$="06_gru.html"]')
        expect(link).to_be_visible()
        assert _in_viewport(link), "the link to chapter 6 is off screen"
        link.tap()
        page.wait_for_url("**/chapters/06_gru.html")
        page.wait_for_load_state("networkidle")

        # The page's own contents: opened by the other visible button, and a link there
        # closes the dialog and shows its section.
        toggles = page.locator(".secondary-toggle:visible")
        assert toggles.count() == 1, "expected one visible button for the page contents"
        toggles.tap()
        contents = page.locator("#pst-secondary-sidebar-modal")
        expect(contents).to_have_attribute("open", "")
        entries = contents.locator("a.nav-link")
        assert entries.count() >= 3, "the page contents list fewer than 3 sections"
        entry = entries.nth(2)
        anchor = entry.get_attribute("href")
        assert anchor.startswith("#"), anchor
        entry.tap()
        page.wait_for_url(f"**/chapters/06_gru.html{anchor}")
        expect(contents).not_to_have_attribute("open", "")
        heading = page.locator(f"[id='{anchor[1:]}']")
        page.wait_for_function(
            "id => { const r = document.getElementById(id).getBoundingClientRect();"
            " return r.top >= 0 && r.top < window.innerHeight; }", arg=anchor[1:])
        assert _in_viewport(heading)
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "phone_06_gru_section.png"))
        assert visit.errors == [], f"console errors: {visit.errors}"
    finally:
        visit.close()


def test_desktop_menu_button_collapses_the_sidebar(browser, server):
    from playwright.sync_api import expect

    visit = Visit(browser, f"{server}/chapters/05_lstm.html")
    page = visit.page
    try:
        sidebar = page.locator("#pst-primary-sidebar")
        expect(sidebar).to_be_visible()
        page.locator(".primary-toggle:visible").click()
        expect(sidebar).to_be_hidden()
        expect(page.locator("#pst-primary-sidebar-modal")).not_to_have_attribute("open", "")
        page.locator(".primary-toggle:visible").click()
        expect(sidebar).to_be_visible()
    finally:
        visit.close()


# The contrast of every piece of text inside `root` with what is painted behind it (WCAG 2
# relative luminance; translucent colours are composited over the layers beneath).
_CONTRAST_JS = """
root => {
  const parse = (s) => {
    const m = s.match(/rgba?\\(([^)]+)\\)/);
    if (!m) return null;
    const p = m[1].split(/[ ,/]+/).filter(Boolean).map(Number);
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
  };
  const over = (top, under) => {
    const a = top[3];
    return [0, 1, 2].map((k) => top[k] * a + under[k] * (1 - a)).concat([1]);
  };
  const background = (el) => {
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c && c[3] > 0) layers.push(c);
      if (c && c[3] >= 1) break;
    }
    let colour = [255, 255, 255, 1];   // the canvas, when no element paints an opaque background
    for (const c of layers.reverse()) colour = over(c, colour);
    return colour;
  };
  const lum = (c) => {
    const [r, g, b] = c.slice(0, 3).map((v) => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const ratio = (a, b) => {
    const [hi, lo] = [lum(a), lum(b)].sort((x, y) => y - x);
    return (hi + 0.05) / (lo + 0.05);
  };
  const out = [];
  for (const el of root.querySelectorAll("*")) {
    const own = Array.from(el.childNodes).some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!own && el.tagName !== "SELECT") continue;
    const box = el.getBoundingClientRect();
    if (box.width === 0 || box.height === 0 || getComputedStyle(el).visibility === "hidden") continue;
    const bg = background(el instanceof SVGElement ? el.ownerSVGElement : el);
    const style = getComputedStyle(el);
    const fg = parse(el instanceof SVGElement ? style.fill : style.color);
    if (!fg) continue;
    out.push({text: el.textContent.trim().slice(0, 40), ratio: ratio(over(fg, bg), bg),
              fg: el instanceof SVGElement ? style.fill : style.color, bg: "rgb(" + bg.slice(0, 3).map(Math.round).join(",") + ")"});
  }
  return out;
}
"""


def _low_contrast(locator, minimum=4.5):
    found = locator.evaluate(_CONTRAST_JS)
    assert found, "no text found to measure"
    return [f"{t['text']!r}: {t['ratio']:.2f}:1 ({t['fg']} on {t['bg']})"
            for t in found if t["ratio"] < minimum]


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_widgets_and_quizzes_have_readable_text_in_both_modes(browser, server, scheme):
    """Every text of the explorers and quizzes, in each state shown, has contrast >= 4.5:1."""
    problems = []
    for page, actions in [
        ("chapters/05_lstm", [(".rnx .rnx-presets button", 1)]),
        ("chapters/06_gru", [(".rnx .rnx-presets button", 2)]),
    ]:
        visit = Visit(browser, f"{server}/{page}.html", color_scheme=scheme)
        try:
            assert visit.page.get_attribute("html", "data-theme") == scheme
            _wait_for_widgets(visit, ".rnx")
            _wait_for_widgets(visit, ".rnn-quiz")
            for selector, nth in actions:          # a pressed preset button
                visit.page.locator(selector).nth(nth).click()
            question = visit.page.locator(".rnn-quiz .rnn-quiz-question").first
            question.locator("input[type=radio]").nth(0).check()   # feedback shown
            question.locator(".rnn-quiz-check").click()
            for root in visit.page.locator(".rnx, .rnn-quiz").all():
                problems += [f"{page}: {p}" for p in _low_contrast(root)]
            visit.page.locator(".rnx").first.screenshot(
                path=str(SHOTS / f"{page.split('/')[-1]}_explorer_{scheme}.png"))
        finally:
            visit.close()
    assert problems == [], "text below 4.5:1:\n" + "\n".join(problems)


def test_quiz_maths_is_rendered(browser, server):
    """The quizzes' formulas (c_{t−1}, ∂h_i/∂h_{i−1}) show with real subscripts, not raw."""
    visit = Visit(browser, f"{server}/chapters/05_lstm.html")
    try:
        _wait_for_widgets(visit, ".rnn-quiz")
        quiz = visit.page.locator(".rnn-quiz").first
        assert quiz.locator(".rnn-quiz-math sub").count() >= 5
        text = quiz.inner_text()
        for raw in ("_{", "c_t", "h_{t", "c_{t"):
            assert raw not in text, f"raw maths {raw!r} in the quiz: {text[:200]}"
        # The subscript is drawn as one: smaller than its symbol, and lower.
        smaller, lower = quiz.locator(".rnn-quiz-math sub").first.evaluate("""el => {
            const base = document.createRange();
            base.selectNodeContents(el.parentElement.firstChild);
            const size = (e) => parseFloat(getComputedStyle(e).fontSize);
            return [size(el) < size(el.parentElement),
                    el.getBoundingClientRect().bottom > base.getBoundingClientRect().bottom];
        }""")
        assert smaller and lower
    finally:
        visit.close()

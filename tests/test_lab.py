"""The chapters as learners meet them in JupyterLab (``make lab``), in headless chromium.

A JupyterLab server from this environment (the one ``make lab`` starts) runs on a free
port with a token, in a temporary copy of chapter 6, with its own configuration,
settings, workspaces and runtime folders, so nothing a user has configured changes what
is tested. The tests check that:

- JupyterLab accepts the installed jupyterlab-myst (``jupyter labextension list`` says OK);
- jupyterlab-myst renders the chapters' MyST: no raw ``(ch-...)=`` label, ``{cite}``
  roles drawn as citations (by key: jupyterlab-myst does not read references.bib, so it
  marks them unresolved), ``{solution}`` dropdowns closed until opened, maths typeset
  (by KaTeX, jupyterlab-myst's renderer; the site uses MathJax);
- the gate explorers' plain-text fallback, shown before a cell is run, is a sentence;
- once the explorer cell has run (in this environment's own Python kernel), a focused
  slider keeps the arrow keys: its value moves, and the notebook neither collapses a
  heading nor moves to another cell nor changes its cells.

Chromium (``RNN_COURSE_CHROMIUM``, as in ``tests/test_site.py``) or jupyterlab-myst
missing is a failure, not a skip.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from importlib import metadata
from pathlib import Path

import pytest

from test_site import CHROMIUM, CHROMIUM_ARGS, DESKTOP, ROOT, SHOTS

OPENED = "06_gru.ipynb"          # MyST of every kind the chapters use, and a gate explorer
STARTUP_TIMEOUT = 120          # seconds for the server to answer (a loaded machine is slow)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _code_cells(notebook: Path) -> list[tuple[int, str, list]]:
    cells = json.loads(notebook.read_text())["cells"]
    return [(i, "".join(c["source"]), c.get("outputs", []))
            for i, c in enumerate(cells) if c["cell_type"] == "code"]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A running JupyterLab: yields (base url, token, folder of the notebooks, process)."""
    try:
        version = metadata.version("jupyterlab_myst")
    except metadata.PackageNotFoundError:
        pytest.fail("jupyterlab-myst is not installed in this environment (pip install -e '.[dev]')")
    # JupyterLab's own check: the extension's @jupyterlab/* and @jupyter/* requirements
    # match the packages this JupyterLab ships (2.7.0 fails it: it wants @jupyter/ydoc 3).
    listed = subprocess.run([sys.executable, "-m", "jupyter", "labextension", "list"],
                            capture_output=True, text=True, env={**os.environ, "NO_COLOR": "1"})
    report = listed.stdout + listed.stderr
    line = next((ln for ln in report.splitlines() if "jupyterlab-myst v" in ln), "")
    if "OK" not in line or "not compatible" in report:
        pytest.fail(f"JupyterLab does not accept jupyterlab-myst {version}:\n{report}")
    start = time.monotonic()
    tmp = tmp_path_factory.mktemp("lab")
    work = tmp / "chapters"
    work.mkdir()
    shutil.copy(ROOT / "chapters" / OPENED, work / OPENED)
    env = dict(os.environ)
    for var, sub in [("JUPYTER_CONFIG_DIR", "config"), ("JUPYTER_RUNTIME_DIR", "runtime"),
                     ("JUPYTER_DATA_DIR", "data"), ("JUPYTERLAB_WORKSPACES_DIR", "workspaces"),
                     ("JUPYTERLAB_SETTINGS_DIR", "settings"), ("IPYTHONDIR", "ipython")]:
        (tmp / sub).mkdir()
        env[var] = str(tmp / sub)
    # No prompt about Jupyter news over the notebook (nor a request for it).
    news = tmp / "settings" / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    news.parent.mkdir(parents=True)
    news.write_text(json.dumps({"fetchNews": "false"}))
    env.pop("JUPYTER_PATH", None)
    env.pop("JUPYTER_PLATFORM_DIRS", None)
    port = _free_port()
    token = secrets.token_hex(16)
    log = open(tmp / "lab.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ServerApp.ip=127.0.0.1",
         f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={work}",
         "--allow-root", "--LabApp.extension_manager=readonly",
         "--LabApp.expose_app_in_browser=True", "--LabApp.news_url=",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
        cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while True:
        if proc.poll() is not None:
            pytest.fail(f"jupyter lab exited ({proc.returncode}):\n{(tmp / 'lab.log').read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=5):
                break
        except OSError:
            if time.monotonic() > deadline:
                proc.terminate()
                pytest.fail(f"jupyter lab did not answer in {STARTUP_TIMEOUT} s")
            time.sleep(0.5)
    print(f"jupyterlab-myst {version}, JupyterLab {metadata.version('jupyterlab')} at {base}, "
          f"answering after {time.monotonic() - start:.1f} s")
    try:
        yield base, token, work, proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture(scope="module")
def page(lab):
    """The opened chapter in a JupyterLab tab, before any cell has run."""
    if not CHROMIUM.exists():
        pytest.fail(f"chromium not found at {CHROMIUM}: install Debian's chromium (see .ci/run)")
    from playwright.sync_api import sync_playwright

    base, token, _, _ = lab
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport=DESKTOP)
        context.set_default_timeout(60000)
        pg = context.new_page()
        errors: list[str] = []
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.goto(f"{base}/lab/tree/{OPENED}?token={token}")
        pg.wait_for_selector(".jp-Notebook .jp-MarkdownCell")
        pg.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell.currentWidget"
                             " && window.jupyterapp.shell.currentWidget.context.isReady")
        pg.errors = errors
        yield pg
        context.close()
        browser.close()


def _cell_index(containing: str, kind: str = "code") -> int:
    """The index of the first cell of the opened chapter whose source contains `containing`."""
    cells = json.loads((ROOT / "chapters" / OPENED).read_text())["cells"]
    for i, cell in enumerate(cells):
        if cell["cell_type"] == kind and containing in "".join(cell["source"]):
            return i
    raise AssertionError(f"no {kind} cell of {OPENED} contains {containing!r}")


def _rendered(page, index: int):
    """The MyST rendering of markdown cell `index` (jupyterlab-myst draws it in a `.myst` box)."""
    cell = page.locator(".jp-Notebook .jp-Cell").nth(index)
    cell.scroll_into_view_if_needed()
    box = cell.locator(".myst")
    box.locator("*").first.wait_for()          # drawn (the renderer works asynchronously)
    return box


# The rendered text of a box without its code and its typeset maths: what must hold no MyST syntax.
_PROSE_JS = """el => { const c = el.cloneNode(true);
  c.querySelectorAll('code, pre, .katex').forEach(n => n.remove()); return c.textContent; }"""


def test_myst_is_rendered_in_lab(page):
    from playwright.sync_api import expect

    start = time.monotonic()
    source = json.loads((ROOT / "chapters" / OPENED).read_text())["cells"]
    markdown = [i for i, c in enumerate(source) if c["cell_type"] == "markdown"]
    opening = _cell_index("(ch-gru)=", "markdown")
    questions = _cell_index("{solution}", "markdown")

    # Every markdown cell is drawn by jupyterlab-myst, and none shows MyST syntax.
    for i in markdown:
        box = _rendered(page, i)
        assert box.count() == 1, f"cell {i} is not rendered by jupyterlab-myst"
        prose = box.evaluate(_PROSE_JS)
        for raw in ("{cite}", "{solution}", "{exercise}", "```", ":class:", ")=", "$"):
            assert raw not in prose, f"cell {i} shows raw MyST {raw!r}: {prose[:300]!r}"

    # The label of the opening cell is an anchor, not text; the title is a heading.
    box = _rendered(page, opening)
    assert "(ch-gru)=" not in box.inner_text()
    expect(box.locator("h1").first).to_contain_text("6. Gated recurrent units")
    # {cite} roles are drawn as citations: one element per key, holding the key only.
    # (jupyterlab-myst does not read references.bib: it shows the key, marked unresolved.)
    keys = ["cho2014learning", "chung2014empirical", "jozefowicz2015empirical"]
    drawn = box.evaluate("el => Array.from(el.querySelectorAll('span, cite, a'))"
                         ".map((e) => e.textContent.trim())")
    for key in keys:
        assert key in drawn, f"citation {key} is not drawn as its own element"
    # Maths is typeset (KaTeX, jupyterlab-myst's renderer): MathML beside the drawn formula.
    assert box.locator(".katex .katex-mathml math").count() >= 3
    assert page.locator(".jp-Notebook .myst .katex-display").count() >= 1, "no display equation typeset"

    # The written questions' solutions are dropdowns, closed until a learner opens one.
    box = _rendered(page, questions)
    expected = "".join(source[questions]["source"]).count("{solution}")
    dropdowns = box.locator("details")
    assert dropdowns.count() == expected, f"{dropdowns.count()} dropdowns for {expected} solutions"
    first = dropdowns.first
    body = first.locator(".details-body")
    assert first.get_attribute("open") is None and not body.is_visible()
    hidden_text = body.text_content().strip()[:40]
    assert hidden_text and hidden_text not in box.inner_text(), "a solution is readable before opening"
    first.locator("summary").click()
    assert body.is_visible(), "the solution does not open"
    first.locator("summary").click()
    print(f"MyST checks in Lab: {time.monotonic() - start:.1f} s")


_STATE_JS = """() => { const nb = window.jupyterapp.shell.currentWidget.content;
  return {active: nb.activeCellIndex, cells: nb.model.cells.length,
          hidden: nb.widgets.filter((w) => w.isHidden).length,
          source: nb.model.cells.get(nb.activeCellIndex).sharedModel.getSource(),
          cellsHiddenText: document.body.innerText.includes('cells hidden')}; }"""

_RUN_JS = """async (indices) => { const app = window.jupyterapp; const panel = app.shell.currentWidget;
  await panel.sessionContext.ready;
  for (const i of indices) { panel.content.activeCellIndex = i; await app.commands.execute('notebook:run-cell'); } }"""

# Ask the notebook's kernel, without adding a cell, which Python it is and what it holds.
_ASK_KERNEL_JS = """async (code) => { const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
  const future = kernel.requestExecute({code, silent: false, store_history: false});
  let text = ''; future.onIOPub = (m) => { if (m.header.msg_type === 'stream') text += m.content.text; };
  await future.done; return text; }"""


def test_gate_explorer_keeps_the_keyboard_in_lab(page):
    from playwright.sync_api import expect

    start = time.monotonic()
    imports = _cell_index("from rnnlib.widgets import")
    shown = _cell_index("GRUExplorer(")
    cell = page.locator(".jp-Notebook .jp-Cell").nth(shown)
    cell.scroll_into_view_if_needed()
    # Before the cell runs, the stored output shows its plain-text fallback: a sentence.
    output = cell.locator(".jp-OutputArea-output")
    expect(output).to_contain_text("gate explorer")
    fallback = output.inner_text()
    assert "GRU gate explorer" in fallback and "run this cell" in fallback, fallback
    assert "<rnnlib" not in fallback and " at 0x" not in fallback, fallback

    page.evaluate(_RUN_JS, [imports, shown])
    explorer = cell.locator(".rnx")
    explorer.wait_for()
    # The kernel is this environment's Python (the one `make lab` uses), and rnnlib's.
    said = page.evaluate(_ASK_KERNEL_JS, "import sys, rnnlib; print(sys.prefix); print(rnnlib.__file__)")
    prefix, module = said.split("\n")[:2]
    assert Path(prefix).resolve() == Path(sys.prefix).resolve(), f"kernel runs in {prefix}, not {sys.prefix}"
    assert Path(module).resolve().is_relative_to(ROOT), module

    # A learner clicks the explorer (the cell becomes active, the notebook is in command
    # mode, where arrow keys are notebook shortcuts), then moves the x slider by keyboard.
    explorer.locator(".rnx-title").click()
    before = page.evaluate(_STATE_JS)
    assert before["active"] == shown and before["hidden"] == 0, before
    slider = explorer.get_by_role("slider", name="input x")
    slider.focus()
    value, readout = float(slider.input_value()), explorer.locator(".rnx-eq").inner_text()
    step = float(slider.get_attribute("step"))
    for key in ["ArrowRight"] * 3 + ["ArrowLeft", "ArrowUp", "ArrowDown"]:
        page.keyboard.press(key)
    moved = float(slider.input_value())
    assert abs(moved - (value + 2 * step)) < 1e-9, f"the slider went from {value} to {moved}"
    assert explorer.locator(".rnx-eq").inner_text() != readout, "the readout did not follow the slider"
    after = page.evaluate(_STATE_JS)
    assert after == before, f"the notebook took the keys: {before} -> {after}"
    assert not after["cellsHiddenText"]
    # The kernel's widget followed the front end.
    x = page.evaluate(_ASK_KERNEL_JS, "print(explorer.x)")
    assert abs(float(x) - moved) < 1e-9, f"kernel has x = {x}, the slider shows {moved}"
    assert page.errors == [], f"errors in the page: {page.errors}"
    SHOTS.mkdir(parents=True, exist_ok=True)
    cell.screenshot(path=str(SHOTS / "lab_06_gru_explorer.png"))
    print(f"keyboard checks in Lab (kernel start and imports included): {time.monotonic() - start:.1f} s")


def test_stored_widget_outputs_have_a_sentence_as_fallback():
    """Before a cell runs (or where widgets cannot draw), Lab shows the output's text/plain."""
    view = "application/vnd.jupyter.widget-view+json"
    found = 0
    for notebook in sorted((ROOT / "chapters").glob("*.ipynb")):
        for i, _, outputs in _code_cells(notebook):
            for out in outputs:
                data = out.get("data", {})
                if view not in data:
                    continue
                found += 1
                text = "".join(data.get("text/plain", ""))
                assert text and not text.startswith("<") and " at 0x" not in text, (
                    f"{notebook.name} cell {i}: fallback {text!r}")
                assert len(text.split()) >= 4, f"{notebook.name} cell {i}: fallback {text!r}"
    assert found >= 2, "no stored widget outputs found"

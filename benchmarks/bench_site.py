"""How soon the built site's widgets appear, beside the page's own milestones.

    python benchmarks/bench_site.py [--repeats 5] [--site _build/html] [--pages chapters/05_lstm ...]
                                    [--latency-ms 0] [--kbps 0] [--cpu-slowdown 1] [--gzip]

Builds nothing. Serves the built site (``make book``; ``RNN_COURSE_SITE`` or ``--site``
points at another build) from a local HTTP server, uncompressed or (``--gzip``)
compressed as static hosts serve it, and opens every page that stores widgets in
headless chromium (``RNN_COURSE_CHROMIUM``, default /usr/bin/chromium), each load in a
fresh browser context, so with an empty cache, as on a first visit. Each load records,
in milliseconds from its own navigation start:

- ``widget``: the first gate explorer or knowledge check in the page (a MutationObserver
  installed before the page's first byte; the same clock as tests/test_site.py);
- ``DOMContentLoaded`` and ``load``: the page's own events in the same load, the peers;
- ``maths``: MathJax has typeset the page (its startup promise resolved).

Prints, per page, the median and the maximum of each over ``--repeats`` loads (pages
interleaved) and whether the slowest first widget came within 2 s. The server is local:
no network delay unless ``--latency-ms`` and ``--kbps`` emulate a connection (through the
DevTools protocol), and ``--cpu-slowdown`` a slower device. Times grow with the machine's
load (other processes share its cores); they are measurements, not tests.
"""

from __future__ import annotations

import argparse
import functools
import gzip
import http.server
import os
import statistics
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path(os.environ.get("RNN_COURSE_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
TARGET_MS = 2000
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"

# Installed before the page's first byte: when the first widget enters the document.
CLOCK_JS = """
new MutationObserver((_, observer) => {
  if (document.querySelector(".rnx, .rnn-quiz")) {
    window.__firstWidgetAt = performance.now();
    observer.disconnect();
  }
}).observe(document, {childList: true, subtree: true});
"""

# MathJax (a deferred script, so defined by DOMContentLoaded) resolves its startup promise
# when its first typesetting of the page is done: record when.
MATHS_CLOCK_JS = """
window.addEventListener("DOMContentLoaded", () => {
  const startup = window.MathJax && window.MathJax.startup;
  if (startup && startup.promise) startup.promise.then(() => { window.__mathsAt = performance.now(); });
});
"""

MEASURE_JS = """
async () => {
  const startup = window.MathJax && window.MathJax.startup;
  if (startup && startup.promise) await startup.promise;
  const nav = performance.getEntriesByType("navigation")[0];
  return {widget: window.__firstWidgetAt ?? null, DOMContentLoaded: nav.domContentLoadedEventStart,
          load: nav.loadEventStart, maths: window.__mathsAt ?? null};
}
"""

COLUMNS = ["widget", "DOMContentLoaded", "load", "maths"]


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


COMPRESSIBLE = {".html", ".js", ".css", ".svg", ".json", ".txt", ".map"}


@functools.cache
def _gzipped(path: str, mtime: float) -> bytes:
    return gzip.compress(Path(path).read_bytes(), compresslevel=6)


class _Gzip(_Quiet):
    """Serves text files gzip-compressed when the browser accepts it, as static hosts do."""

    def do_GET(self):
        path = Path(self.translate_path(self.path))
        if (path.suffix not in COMPRESSIBLE or not path.is_file()
                or "gzip" not in self.headers.get("Accept-Encoding", "")):
            return super().do_GET()
        body = _gzipped(str(path), path.stat().st_mtime)
        self.send_response(200)
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def pages_with_widgets(site: Path) -> list[str]:
    """Pages (relative, no suffix) whose HTML stores widget views, in the book's order."""
    import yaml

    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    order = [toc["root"]] + [c["file"] for part in toc.get("parts", []) for c in part["chapters"]]
    return [p for p in order if (site / f"{p}.html").exists()
            and WIDGET_VIEW in (site / f"{p}.html").read_text(encoding="utf-8")]


def load_once(browser, url: str, args) -> dict:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_init_script(CLOCK_JS)
    context.add_init_script(MATHS_CLOCK_JS)
    page = context.new_page()
    try:
        if args.latency_ms or args.kbps or args.cpu_slowdown != 1:
            cdp = context.new_cdp_session(page)
            if args.latency_ms or args.kbps:
                rate = args.kbps * 1000 / 8 if args.kbps else -1
                cdp.send("Network.enable")
                cdp.send("Network.emulateNetworkConditions", {
                    "offline": False, "latency": args.latency_ms,
                    "downloadThroughput": rate, "uploadThroughput": rate})
            if args.cpu_slowdown != 1:
                cdp.send("Emulation.setCPUThrottlingRate", {"rate": args.cpu_slowdown})
        page.goto(url, wait_until="load", timeout=120000)
        page.wait_for_function("() => window.__firstWidgetAt !== undefined", timeout=120000)
        return page.evaluate(MEASURE_JS)
    finally:
        context.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="loads of each page")
    parser.add_argument("--site", type=Path,
                        default=Path(os.environ.get("RNN_COURSE_SITE", ROOT / "_build" / "html")))
    parser.add_argument("--pages", nargs="*", help="pages to load (default: every page with widgets)")
    parser.add_argument("--latency-ms", type=float, default=0, help="emulated round-trip latency")
    parser.add_argument("--kbps", type=float, default=0, help="emulated bandwidth, kbit/s (0: no limit)")
    parser.add_argument("--cpu-slowdown", type=float, default=1, help="CPU throttling factor")
    parser.add_argument("--gzip", action="store_true",
                        help="serve HTML, scripts and styles gzip-compressed, as static hosts do")
    args = parser.parse_args()
    if not (args.site / "index.html").exists():
        raise SystemExit(f"no built site at {args.site}: run `make book` first")
    if not CHROMIUM.exists():
        raise SystemExit(f"chromium not found at {CHROMIUM}")
    pages = args.pages or pages_with_widgets(args.site)

    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_Gzip if args.gzip else _Quiet, directory=str(args.site)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}"

    from playwright.sync_api import sync_playwright

    runs: dict[str, list[dict]] = {p: [] for p in pages}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        load_once(browser, f"{base}/{pages[0]}.html", args)          # warm-up, not counted
        for _ in range(args.repeats):
            for page in pages:                                         # interleaved
                runs[page].append(load_once(browser, f"{base}/{page}.html", args))
        browser.close()
    httpd.shutdown()

    conditions = ("local server, no throttling" if not (args.latency_ms or args.kbps)
                  else f"latency {args.latency_ms:g} ms, {args.kbps:g} kbit/s")
    if args.cpu_slowdown != 1:
        conditions += f", CPU {args.cpu_slowdown:g}x slower"
    conditions += ", gzip" if args.gzip else ", uncompressed"
    print(f"{args.site} — {len(pages)} pages x {args.repeats} cold loads; {conditions}; "
          f"ms from navigation start, median / max")
    head = f"{'page':32}" + "".join(f"{c:>20}" for c in COLUMNS) + f"{'widget < 2 s':>14}"
    print(head)
    print("-" * len(head))
    worst = 0.0
    for page in pages:
        cells = []
        for column in COLUMNS:
            values = [r[column] for r in runs[page] if r[column] is not None]
            cells.append(f"{statistics.median(values):9.0f} / {max(values):6.0f}" if values else f"{'-':>16}")
        widget_max = max(r["widget"] for r in runs[page])
        worst = max(worst, widget_max)
        print(f"{page:32}" + "".join(f"{c:>20}" for c in cells)
              + f"{'yes' if widget_max < TARGET_MS else 'NO':>14}")
    before_load = sum(r["widget"] < r["load"] for rs in runs.values() for r in rs)
    before_dcl = sum(r["widget"] < r["DOMContentLoaded"] for rs in runs.values() for r in rs)
    total = sum(len(rs) for rs in runs.values())
    print(f"\nslowest first widget: {worst:.0f} ms ({'under' if worst < TARGET_MS else 'OVER'} 2 s); "
          f"drawn before DOMContentLoaded in {before_dcl} of {total} loads, before load in {before_load}.")


if __name__ == "__main__":
    main()

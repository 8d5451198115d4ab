"""Pytest settings shared by every suite: the time each chapter takes, in the summary.

`make test` executes every chapter once under nbval and again at other seeds
(tests/test_seeds.py); the summary lists how long each chapter took, so the budget of
60 s per chapter and 10 minutes for the book is visible in every run (never asserted).
"""

from collections import defaultdict

_seconds = defaultdict(float)


def _chapter_of(nodeid: str) -> str | None:
    path, _, rest = nodeid.partition("::")
    if path.startswith("chapters/") and path.endswith(".ipynb"):
        return path  # an nbval cell: add up the chapter's cells
    if path.endswith("test_seeds.py") and rest.startswith("test_chapter_holds_at"):
        return "seed variant " + rest[rest.index("[") + 1:-1]
    return None


def pytest_runtest_logreport(report):
    key = _chapter_of(report.nodeid)
    if key is not None:
        _seconds[key] += report.duration


def pytest_terminal_summary(terminalreporter):
    if not _seconds:
        return
    terminalreporter.section("execution time per chapter")
    for key in sorted(_seconds):
        terminalreporter.write_line(f"{_seconds[key]:7.1f} s  {key}")
    terminalreporter.write_line(f"{sum(_seconds.values()):7.1f} s  in all")

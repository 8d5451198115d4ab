"""Exercise 09_training: train a recurrent classifier; graded on held-out accuracy.

The task is the temporal order problem (Hochreiter & Schmidhuber 1997): a sequence of
``T`` symbols from an alphabet of 8, where symbols 0-5 are distractors and exactly two
positions hold a marker, X (6) or Y (7). The class says which markers came in which
order: XX = 0, XY = 1, YX = 2, YY = 3. Counting symbols tells XX and YY apart from the
rest but not XY from YX, so a model that ignores order tops out at 75 %.

The learner writes ``train_model(X, y, seconds)`` (any model, trained for at most
``seconds``) and ``predict(model, X)`` -> (N,) class ids. The grader trains on data it
generates with a fresh seed, then scores predictions on held-out sequences whose labels
never leave the grading process.
"""

import numpy as np

from rnnlib.grading.core import Case, Exercise, Question, Ref

T_STEPS = 16
NUM_SYMBOLS = 8
NUM_CLASSES = 4
TRAIN_SECONDS = 3.0
# (accuracy, fraction of the points): the first threshold reached counts
THRESHOLDS = ((0.95, 1.0), (0.90, 0.75), (0.75, 0.5), (0.50, 0.25))


def temporal_order(n, T=T_STEPS, rng=None):
    """``n`` sequences of the temporal order problem: X (n, T) ints in [0, 8), y (n,) in [0, 4).

    >>> X, y = temporal_order(3, rng=0)
    >>> X.shape, y.shape, bool(((X >= 6).sum(axis=1) == 2).all())
    ((3, 16), (3,), True)
    """
    rng = np.random.default_rng(rng)
    X = rng.integers(0, 6, size=(n, T))
    pos = np.sort(rng.random((n, T)).argsort(axis=1)[:, :2], axis=1)   # two distinct positions
    marker = rng.integers(0, 2, size=(n, 2))                             # 0 = X, 1 = Y
    rows = np.arange(n)
    X[rows, pos[:, 0]] = 6 + marker[:, 0]
    X[rows, pos[:, 1]] = 6 + marker[:, 1]
    return X.astype(np.int64), (2 * marker[:, 0] + marker[:, 1]).astype(np.int64)


def points_for(accuracy):
    """The fraction of the accuracy question's points earned at this held-out accuracy."""
    for threshold, fraction in THRESHOLDS:
        if accuracy >= threshold:
            return fraction
    return 0.0


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


def _train_case(rng, n, seconds):
    X, y = temporal_order(n, rng=rng)
    return Case("training", (X, y, seconds), function="train_model", store="model",
                timeout=seconds + 5.0)


def _contract_cases(rng, full):
    cases = [_train_case(rng, 4000 if full else 2000, TRAIN_SECONDS if full else 2.0)]
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
    wall_timeout=40.0,
    cell_timeout=15.0,
    questions=[
        Question(name="predict", title="predictions have the right form", points=2,
                 cases=_contract_cases, score=_score_contract, timeout=5.0),
        Question(name="accuracy", title="held-out accuracy", points=8, function="predict",
                 cases=_accuracy_cases, score=_score_accuracy, timeout=5.0),
    ],
)

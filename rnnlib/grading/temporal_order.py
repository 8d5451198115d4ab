"""The temporal order problem of exercise 09, and the batches its training budget is counted in.

The task (Hochreiter & Schmidhuber 1997): a sequence of ``T`` symbols from an alphabet
of 8, where symbols 0-5 are distractors and exactly two positions hold a marker, X (6)
or Y (7). The class says which markers came in which order: XX = 0, XY = 1, YX = 2,
YY = 3. Counting symbols tells XX and YY apart from the rest but not XY from YX, so a
model that ignores order tops out at 75 %.

``train_model(next_batch)`` gets its training data only through ``next_batch(n)``, which
returns ``n`` fresh sequences until a budget of examples is spent, then ``None``: the
budget is counted in examples, so it is the same on a fast and on a slow machine.

This module holds no reference solution; a graded submission may import it.
"""

import numpy as np

__all__ = ["T_STEPS", "NUM_SYMBOLS", "NUM_CLASSES", "BUDGET", "MAX_BATCH", "THRESHOLDS",
           "temporal_order", "points_for", "BatchSource"]

T_STEPS = 16
NUM_SYMBOLS = 8
NUM_CLASSES = 4
BUDGET = 12_800   # training examples next_batch hands out in the grader (200 batches of 64)
MAX_BATCH = 1024
# (accuracy, fraction of the points): the first threshold reached counts. A model that
# ignores the order gets 75 % on average, so the half-points threshold sits well above it.
THRESHOLDS = ((0.95, 1.0), (0.90, 0.75), (0.82, 0.5), (0.60, 0.25))


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
    """The fraction of the accuracy question's points earned at this held-out accuracy.

    >>> points_for(0.96), points_for(0.76)
    (1.0, 0.25)
    """
    for threshold, fraction in THRESHOLDS:
        if accuracy >= threshold:
            return fraction
    return 0.0


class BatchSource:
    """``next_batch(n)`` -> ``(X (n, 16), y (n,))`` fresh sequences, or None once ``budget`` is spent.

    >>> next_batch = BatchSource(budget=100, rng=0)
    >>> X, y = next_batch(64)
    >>> X.shape, next_batch(64)[0].shape, next_batch(64), next_batch.served
    ((64, 16), (36, 16), None, 100)
    """

    _grader_function = True   # in a graded run, it is called in the grader's process

    def __init__(self, budget=BUDGET, rng=None):
        self.budget, self.served = int(budget), 0
        self.rng = np.random.default_rng(rng)

    def __call__(self, n=64):
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 1 <= n <= MAX_BATCH:
            raise ValueError(f"next_batch(n): n must be an int in 1..{MAX_BATCH}, got {n!r}")
        n = min(int(n), self.budget - self.served)
        if n <= 0:
            return None
        self.served += n
        return temporal_order(n, rng=self.rng)

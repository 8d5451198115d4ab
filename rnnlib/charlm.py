"""A character n-gram language model, counted from text, for CTC decoding.

An n-gram model predicts the next label from the ``order - 1`` labels before it:

    p(k | context) = (count(context, k) + smoothing) / (count(context) + C * smoothing)

(Lidstone smoothing: every outcome gets ``smoothing`` pseudo-counts, so no label is
impossible). A labelling's probability is the product of its labels' probabilities
and of the probability that it *ends* where it does:

    p_LM(l) = prod_{u=1..U} p(l_u | l_{u-n+1..u-1}) * p(end | l_{U-n+2..U}).

Labels are the class ids of a CTC model. The blank never occurs inside a labelling, so
its id does double duty: in a context it pads the start (the model knows it is at the
beginning), and as an outcome it means "the labelling ends here". A model is therefore a
callable ``lm(prefix) -> (C,) log-probabilities`` of the next label, the blank's entry
being log p(end | prefix): the interface :func:`rnnlib.ctc_decode.prefix_beam_search`
takes.

Axis letters: C classes (labels and the blank), U labelling length.

>>> lm = CharNGram(order=2, num_classes=3).fit([[1, 2], [1, 2], [1, 1, 2]])
>>> round(float(np.exp(lm([1])[2])), 3)   # after a 1: (3 + 0.1) / (4 + 3 * 0.1)
0.721
>>> bool(np.isclose(np.exp(lm([1])).sum(), 1.0))
True
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = ["CharNGram"]


class CharNGram:
    """Character n-gram model with Lidstone smoothing over ``num_classes`` outcomes.

    Args:
        order: n, the number of labels in an n-gram (1 unigram, 2 bigram, 3 trigram, ...).
        num_classes: C, the CTC model's classes including the blank.
        blank: the blank's id; it pads contexts at the start and stands for "end".
        smoothing: pseudo-count added to every outcome (> 0).
    """

    def __init__(self, order: int, num_classes: int, blank: int = 0, smoothing: float = 0.1):
        if int(order) != order or order < 1:
            raise ValueError(f"order: expected an integer >= 1, got {order}")
        if int(num_classes) != num_classes or num_classes < 2:
            raise ValueError(f"num_classes: expected an integer >= 2, got {num_classes}")
        if not 0 <= blank < num_classes:
            raise ValueError(f"blank: expected an index in [0, {num_classes}), got {blank}")
        self._order, self._num_classes, self._blank = int(order), int(num_classes), int(blank)
        self.counts: dict[tuple, np.ndarray] = {}  # context -> (C,) counts of the next outcome
        self._cache: dict[tuple, np.ndarray] = {}
        self.smoothing = smoothing

    # order, num_classes and blank shape the counts (context length, outcomes, the id that
    # pads and ends): read-only; another value needs a new model.
    @property
    def order(self) -> int:
        """n, the labels in an n-gram."""
        return self._order

    @property
    def num_classes(self) -> int:
        """C, the classes including the blank."""
        return self._num_classes

    @property
    def blank(self) -> int:
        """The blank's id (context padding and "end")."""
        return self._blank

    @property
    def smoothing(self) -> float:
        """Pseudo-count added to every outcome, > 0; checked whenever it is set."""
        return self._smoothing

    @smoothing.setter
    def smoothing(self, value):
        if isinstance(value, bool) or not isinstance(value, numbers.Real) \
                or not 0 < value < np.inf:
            raise ValueError(f"smoothing: expected a positive pseudo-count, got {value!r}")
        self._smoothing = float(value)
        self._cache.clear()  # the probabilities depend on it

    def _context(self, prefix) -> tuple:
        """The last order - 1 labels of ``prefix``, padded on the left with the blank."""
        n = self.order - 1
        if n == 0:
            return ()
        padded = (self.blank,) * n + tuple(int(k) for k in prefix)
        return padded[-n:]

    def fit(self, labellings) -> "CharNGram":
        """Count the n-grams of ``labellings`` (an iterable of label-id sequences), end included.

        Returns the model itself, so that ``CharNGram(...).fit(text)`` reads as one step.
        """
        for labelling in labellings:
            labelling = [int(k) for k in labelling]
            if any(not 0 <= k < self.num_classes or k == self.blank for k in labelling):
                raise ValueError(f"labellings: expected label ids in [0, {self.num_classes}) "
                                 f"other than the blank {self.blank}, got {labelling}")
            for u, k in enumerate(labelling + [self.blank]):  # the blank as outcome: the end
                context = self._context(labelling[:u])
                self.counts.setdefault(context, np.zeros(self.num_classes))[k] += 1
        self._cache.clear()
        return self

    def __call__(self, prefix) -> np.ndarray:
        """(C,) log-probabilities of the label after ``prefix``; the blank's entry is the end."""
        context = self._context(prefix)
        if context not in self._cache:
            counts = self.counts.get(context, np.zeros(self.num_classes))
            p = (counts + self.smoothing) / (counts.sum() + self.num_classes * self.smoothing)
            self._cache[context] = np.log(p)
        return self._cache[context]

    def log_prob(self, labelling) -> float:
        """log p_LM(labelling): the sum of each label's log-probability, and the end's."""
        labelling = [int(k) for k in labelling]
        return float(sum(self(labelling[:u])[k]
                         for u, k in enumerate(labelling + [self.blank])))

    def __repr__(self) -> str:
        return (f"CharNGram(order={self.order}, num_classes={self.num_classes}, "
                f"blank={self.blank}, smoothing={self.smoothing}, contexts={len(self.counts)})")

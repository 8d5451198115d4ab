"""Exercise 12_ctc_prefix_beam: CTC decoding -- collapse, greedy, prefix beam search.

- ``collapse(path, blank)`` -> list: merge repeated labels, then drop blanks.
- ``greedy_ctc(log_probs, blank)`` -> list: collapse the frame-wise argmax path.
- ``prefix_beam_search(log_probs, beam_width, blank)`` -> list: the most probable
  labelling among ``beam_width`` prefixes kept with their blank / non-blank probabilities.

Prefix beam search is graded on the probability of the labelling returned: it must be
the labelling a correct search of that width finds, or one at least as probable (ties
and pruning order may differ between correct implementations).
"""

import itertools

import numpy as np

from rnnlib import ctc
from rnnlib.grading.core import Case, Exercise, Question


def ref_collapse(path, blank=0):
    return ctc.collapse(np.asarray(path, dtype=np.int64), blank)


def ref_greedy(log_probs, blank=0):
    return ctc.greedy_decode(log_probs, blank)


def ref_prefix(log_probs, beam_width, blank=0):
    return ctc.prefix_beam_search(log_probs, beam_width, blank)


def log_p_labelling(log_probs, labels, blank=0):
    """log p(labels | x) by the CTC forward recursion (-inf if impossible)."""
    labels = np.asarray(labels, dtype=np.int64)
    return -float(ctc.ctc_loss(log_probs[:, None], labels[None], [len(log_probs)], [len(labels)],
                               blank=blank, reduction="sum"))


def _score_prefix(got, case):
    log_probs, beam_width, blank = case.args
    if isinstance(got, np.ndarray):
        got = got.tolist()
    if not isinstance(got, (list, tuple)) or not all(
            isinstance(k, (int, np.integer)) and not isinstance(k, bool) for k in got):
        return 0.0, f"should return a list of label ids, got {type(got).__name__}"
    got = [int(k) for k in got]
    C = log_probs.shape[1]
    if any(k == blank or not 0 <= k < C for k in got):
        return 0.0, "the labelling must not contain the blank (or ids outside 0..C-1)"
    reference = case.secret
    if got == reference:
        return 1.0, ""
    mine, best = log_p_labelling(log_probs, got, blank), log_p_labelling(log_probs, reference, blank)
    if mine >= best - 1e-9:
        return 1.0, ""
    return 0.0, ("the labelling returned is less probable than the one a correct prefix beam "
                 "search of this width finds")


# ----------------------------------------------------------------------------- cases

def _log_probs(rng, T, C, sharp=1.0, blank_bias=0.0, blank=0):
    z = rng.normal(0, sharp, size=(T, C))
    z[:, blank] += blank_bias
    return z - np.logaddexp.reduce(z, axis=1, keepdims=True)


def _collapse_cases(rng, full):
    cases = [Case("path [1, 1, 0, 1, 2, 2, 0]", (np.array([1, 1, 0, 1, 2, 2, 0]), 0)),
             Case("path [0, 0, 0]", (np.array([0, 0, 0]), 0)),
             Case("repeats separated by a blank, blank 3", (np.array([2, 3, 2, 2, 3, 3, 1]), 3)),
             Case("a single frame", (np.array([2]), 0)),
             Case("no blanks, repeats", (np.array([1, 1, 2, 2, 2, 1]), 0))]
    if full:
        for _ in range(3):
            T = int(rng.integers(1, 15))
            cases.append(Case(f"random path of {T} frames", (rng.integers(0, 4, T), 0)))
    return cases if full else cases[:2]


def _greedy_cases(rng, full):
    spec = [("T=8, C=4", 8, 4, 0.0, 0), ("T=10, C=3, many blanks", 10, 3, 1.0, 0),
            ("T=1, C=3", 1, 3, 0.0, 0), ("T=12, C=3, blank = 2", 12, 3, 0.0, 2),
            ("T=15, C=2 (one label: repeats)", 15, 2, -0.5, 0)]
    return [Case(label, (_log_probs(rng, T, C, 1.5, b, blank), blank))
            for label, T, C, b, blank in (spec if full else spec[:2])]


def _has_repeat(labels):
    return any(a == b for a, b in zip(labels, labels[1:]))


def _hard_case(rng, label, T, C, K, blank, want):
    """A random input whose answer shows what prefix beam search is for (``want``):

    the labelling found is more probable than the best path's, so summing over the paths
    of a labelling matters; with ``want="repeat"`` it also has two equal neighbours, so
    the blank between them matters. Drawn until one qualifies.
    """
    for _ in range(400):
        lp = _log_probs(rng, T, C, float(rng.uniform(0.6, 1.6)), float(rng.uniform(-0.5, 1.5)), blank)
        labels, greedy = ref_prefix(lp, K, blank), ref_greedy(lp, blank)
        if log_p_labelling(lp, labels, blank) < log_p_labelling(lp, greedy, blank) + 1e-3:
            continue   # the best path's labelling would do as well
        if want == "not greedy" or _has_repeat(labels):
            return Case(label, (lp, K, blank), secret=labels)
    raise RuntimeError(f"no {want} case found")   # pragma: no cover -- never seen


def _prefix_cases(rng, full):
    edge = [("T=1, C=3, beam 2", 1, 3, 2, 0), ("T=6, C=3, beam 1", 6, 3, 1, 0)]
    cases = []
    for label, T, C, K, blank in edge:
        lp = _log_probs(rng, T, C, 1.0, 0.0, blank)
        cases.append(Case(label, (lp, K, blank), secret=ref_prefix(lp, K, blank)))
    hard = [("T=14, C=3, beam 4", 14, 3, 4, 0, "not greedy"),
            ("T=16, C=4, beam 3", 16, 4, 3, 0, "not greedy"),
            ("T=10, C=4, beam 5, blank = 3", 10, 4, 5, 3, "not greedy"),
            ("T=7, C=3, beam 50 (no pruning: exact)", 7, 3, 50, 0, "not greedy"),
            ("T=12, C=5, beam 8", 12, 5, 8, 0, "not greedy"),
            ("T=18, C=3, beam 6", 18, 3, 6, 0, "not greedy"),
            ("T=16, C=2 (one label: repeats), beam 3", 16, 2, 3, 0, "repeat"),
            ("T=18, C=3, repeated labels, beam 4", 18, 3, 4, 0, "repeat"),
            ("T=12, C=3, repeated labels, beam 6, blank = 2", 12, 3, 6, 2, "repeat"),
            ("T=16, C=4, repeated labels, beam 5", 16, 4, 5, 0, "repeat"),
            ("T=12, C=4, beam 4", 12, 4, 4, 0, "not greedy"),
            ("T=15, C=3, beam 5, blank = 1", 15, 3, 5, 1, "not greedy"),
            ("T=14, C=2 (one label: repeats), beam 4", 14, 2, 4, 0, "repeat"),
            ("T=14, C=3, repeated labels, beam 3", 14, 3, 3, 0, "repeat")]
    if not full:
        return cases[:1] + [_hard_case(rng, *hard[0]), _hard_case(rng, *hard[6])]
    return cases + [_hard_case(rng, *spec) for spec in hard]


def best_labelling(log_probs, blank=0):
    """The most probable labelling by enumerating every frame path (tiny inputs only)."""
    T, C = log_probs.shape
    totals = {}
    for path in itertools.product(range(C), repeat=T):
        key = tuple(ref_collapse(path, blank))
        totals[key] = np.logaddexp(totals.get(key, -np.inf), log_probs[np.arange(T), path].sum())
    return list(max(totals, key=totals.get))


# ----------------------------------------------------------------------------- known mistakes

def _drop_then_merge(path, blank=0):
    kept = [int(k) for k in path if k != blank]
    return [k for i, k in enumerate(kept) if i == 0 or k != kept[i - 1]]


def _merge_only(path, blank=0):
    path = [int(k) for k in path]
    return [k for i, k in enumerate(path) if i == 0 or k != path[i - 1]]


def _greedy_no_collapse(log_probs, blank=0):
    return [int(k) for k in np.argmax(log_probs, axis=1) if k != blank]


EXERCISE = Exercise(
    forbidden=("rnnlib.ctc_decode:prefix_beam_search", "rnnlib.ctc_decode:greedy_decode", "rnnlib.ctc_decode:collapse"),
    id="12_ctc_prefix_beam",
    title="CTC decoding and prefix beam search",
    chapter="chapters/12_ctc",
    questions=[
        Question(name="collapse", title="the collapse map", points=2, cases=_collapse_cases,
                 reference=ref_collapse, outputs="labels",
                 diagnoses=[
                     ("blanks are dropped before repeats are merged: merge first, so a blank "
                      "between two equal labels keeps both ([1, 0, 1] -> [1, 1]).", _drop_then_merge),
                     ("repeats are merged but blanks are kept: drop them after merging.", _merge_only),
                 ]),
        Question(name="greedy_ctc", title="greedy decoding", points=2, cases=_greedy_cases,
                 reference=ref_greedy, outputs="labels",
                 patch={"collapse": "rnnlib.grading.ex12_ctc_prefix_beam:ref_collapse"},
                 diagnoses=[("repeated labels of neighbouring frames are not merged: collapse "
                             "the argmax path.", _greedy_no_collapse)]),
        Question(name="prefix_beam_search", title="prefix beam search", points=6,
                 cases=_prefix_cases, score=_score_prefix, timeout=4.0),
    ],
)

"""Exercise 11_attention: alignment scores, masked softmax and the context vector.

- ``dot_scores(query, keys)`` -> (B, S), e_s = q . k_s (Luong's "dot").
- ``additive_scores(query, keys, W, U, v)`` -> (B, S), e_s = v . tanh(W q + U k_s) (Bahdanau).
- ``masked_softmax(scores, mask)`` -> (B, S) weights: softmax over S, exactly 0 where
  ``mask`` is False (``mask`` None: no mask), stable for large scores.
- ``attend(query, keys, values, mask)`` -> ``(context, weights)``, context (B, Hv), with dot
  scores. Same meaning as :class:`rnnlib.attention.DotAttention`.
"""

import numpy as np

from rnnlib.grading.core import Case, Exercise, Question


def ref_dot_scores(query, keys):
    return np.einsum("bh,bsh->bs", query, keys)


def ref_additive_scores(query, keys, W, U, v):
    return np.tanh((query @ W.T)[:, None, :] + keys @ U.T) @ v


def ref_masked_softmax(scores, mask=None):
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    e = np.exp(scores - scores.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def ref_attend(query, keys, values, mask=None):
    w = ref_masked_softmax(ref_dot_scores(query, keys), mask)
    return np.einsum("bs,bsh->bh", w, values), w


# ----------------------------------------------------------------------------- known mistakes

def _scaled_dot(query, keys):
    return ref_dot_scores(query, keys) / np.sqrt(query.shape[1])


def _no_tanh(query, keys, W, U, v):
    return ((query @ W.T)[:, None, :] + keys @ U.T) @ v


def _softmax_axis0(scores, mask=None):
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    e = np.exp(scores - scores.max(axis=0, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)


def _mask_after(scores, mask=None):
    w = ref_masked_softmax(scores)
    return w if mask is None else w * mask


def _mask_multiplied(scores, mask=None):
    return ref_masked_softmax(scores if mask is None else scores * mask)


def _mask_ignored(scores, mask=None):
    return ref_masked_softmax(scores)


def _attend_keys(query, keys, values, mask=None):
    w = ref_masked_softmax(ref_dot_scores(query, keys), mask)
    return np.einsum("bs,bsh->bh", w, keys), w


def _attend_no_mask(query, keys, values, mask=None):
    return ref_attend(query, keys, values)


# ----------------------------------------------------------------------------- cases

def _sizes(rng, full, edge):
    out = list(edge)
    if full:
        for _ in range(3):
            B, S, H = (int(rng.integers(1, 6)) for _ in range(3))
            out.append((f"B={B}, S={S}, H={H}", B, S, H))
    return out if full else out[:2]


_EDGE = [("B=2, S=5, H=3", 2, 5, 3), ("B=3, S=4, H=6", 3, 4, 6), ("B=1, S=1, H=1", 1, 1, 1),
         ("B=1, S=7, H=2", 1, 7, 2)]


def _dot_cases(rng, full):
    return [Case(label, (rng.normal(size=(B, H)), rng.normal(size=(B, S, H))))
            for label, B, S, H in _sizes(rng, full, _EDGE)]


def _additive_cases(rng, full):
    cases = []
    for label, B, S, H in _sizes(rng, full, _EDGE):
        Hq, A = H + 1, 4
        cases.append(Case(label + f", Hq={Hq}, A={A}",
                          (rng.normal(size=(B, Hq)), rng.normal(size=(B, S, H)),
                           rng.normal(size=(A, Hq)), rng.normal(size=(A, H)), rng.normal(size=A))))
    return cases


def _mask(rng, B, S):
    lengths = rng.integers(1, S + 1, size=B)
    lengths[0] = max(1, S - 1)
    return np.arange(S)[None, :] < lengths[:, None]


def _softmax_cases(rng, full):
    cases = [Case("B=2, S=5, no mask", (rng.normal(size=(2, 5)), None)),
             Case("B=3, S=6, with a mask", (rng.normal(size=(3, 6)), _mask(rng, 3, 6))),
             Case("large scores (around 1000)", (1000 + 50 * rng.normal(size=(2, 4)), None)),
             Case("B=1, S=1", (rng.normal(size=(1, 1)), None)),
             Case("large scores with a mask", (800 + 30 * rng.normal(size=(3, 5)), _mask(rng, 3, 5))),
             Case("mask keeps one position per row",
                  (rng.normal(size=(4, 3)), np.eye(4, 3, k=0, dtype=bool) | np.eye(4, 3, k=-3, dtype=bool))),
             Case("B=4, S=3, all True mask", (rng.normal(size=(4, 3)), np.ones((4, 3), dtype=bool)))]
    return cases if full else cases[:3]


def _attend_cases(rng, full):
    cases = []
    for k, (label, B, S, H) in enumerate(_sizes(rng, full, _EDGE)):
        Hv = H + 2
        mask = _mask(rng, B, S) if k % 2 == 1 else None
        if mask is not None:
            label += ", with a mask"
        cases.append(Case(label, (rng.normal(size=(B, H)), rng.normal(size=(B, S, H)),
                                  rng.normal(size=(B, S, Hv)), mask)))
    return cases


EXERCISE = Exercise(
    id="11_attention",
    title="Attention scores and context",
    chapter="chapters/11_attention",
    questions=[
        Question(name="dot_scores", title="dot-product scores", points=2, cases=_dot_cases,
                 reference=ref_dot_scores, outputs="scores",
                 diagnoses=[("these are scaled by 1/sqrt(H) (the Transformer's score): Luong's "
                             "dot score is the plain dot product.", _scaled_dot)]),
        Question(name="additive_scores", title="additive (Bahdanau) scores", points=2,
                 cases=_additive_cases, reference=ref_additive_scores, outputs="scores",
                 diagnoses=[("tanh is missing: e_s = v . tanh(W q + U k_s).", _no_tanh)]),
        Question(name="masked_softmax", title="masked, stable softmax", points=3,
                 cases=_softmax_cases, reference=ref_masked_softmax, outputs="weights",
                 diagnoses=[
                     ("the softmax runs over the batch axis: normalise each row (axis=1), "
                      "over the S source positions.", _softmax_axis0),
                     ("masked positions are zeroed after the softmax, so the row no longer sums "
                      "to 1: set their scores to -inf before it.", _mask_after),
                     ("the scores are multiplied by the mask: a masked score becomes 0, and "
                      "exp(0) still gives the position weight. Masked positions need a score "
                      "of -inf before the softmax.", _mask_multiplied),
                     ("the mask is ignored: masked positions must get weight exactly 0.", _mask_ignored),
                 ]),
        Question(name="attend", title="context vector", points=3, cases=_attend_cases,
                 reference=ref_attend, outputs=("context", "weights"),
                 patch={"dot_scores": "rnnlib.grading.ex11_attention:ref_dot_scores",
                        "masked_softmax": "rnnlib.grading.ex11_attention:ref_masked_softmax"},
                 diagnoses=[
                     ("the context averages the keys: it is the weighted sum of the values.",
                      _attend_keys),
                     ("the mask is not passed on: padded source positions must get no weight.",
                      _attend_no_mask),
                 ]),
    ],
)

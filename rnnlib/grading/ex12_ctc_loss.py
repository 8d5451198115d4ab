"""Exercise 12_ctc_loss: the CTC forward variables and loss, in log space.

- ``extend_target(target, blank)`` -> the extended target l' = (-, l_1, -, ..., l_S, -),
  2S + 1 ints.
- ``ctc_log_alpha(log_probs, target, blank)`` -> log alpha, (T, 2S + 1), as
  :func:`rnnlib.ctc.ctc_alpha` (Graves's convention: alpha_t(s) includes y_t(l'_s)).
- ``ctc_loss(log_probs, target, blank)`` -> -log p(target | x), a float (inf when no path
  collapses to the target).
"""

import numpy as np

from rnnlib import ctc
from rnnlib.grading.core import Case, Exercise, Question


def ref_extend_target(target, blank=0):
    return ctc.extend_target(np.asarray(target, dtype=np.int64), blank)


def ref_log_alpha(log_probs, target, blank=0):
    return ctc.ctc_alpha(log_probs, np.asarray(target, dtype=np.int64), blank)


def ref_loss(log_probs, target, blank=0):
    target = np.asarray(target, dtype=np.int64)
    return float(ctc.ctc_loss(log_probs[:, None], target[None], [len(log_probs)], [len(target)],
                              blank=blank, reduction="sum"))


# ----------------------------------------------------------------------------- known mistakes

def _alpha(log_probs, target, blank=0, skip_repeats=False):
    l_ext = ref_extend_target(target, blank)
    T, L = len(log_probs), len(l_ext)
    y = log_probs[:, l_ext]
    add, mul = np.logaddexp, np.add
    a = np.full((T, L), -np.inf)
    a[0, 0] = y[0, 0]
    if L > 1:
        a[0, 1] = y[0, 1]
    for t in range(1, T):
        for s in range(L):
            v = a[t - 1, s]
            if s >= 1:
                v = add(v, a[t - 1, s - 1])
            if s >= 2 and l_ext[s] != blank and (skip_repeats or l_ext[s] != l_ext[s - 2]):
                v = add(v, a[t - 1, s - 2])
            a[t, s] = mul(v, y[t, s])
    return a


def _no_final_blank(target, blank=0):
    return ref_extend_target(target, blank)[:-1]


def _no_first_blank(target, blank=0):
    return ref_extend_target(target, blank)[1:]


def _no_blanks(target, blank=0):
    return np.asarray(target, dtype=np.int64)


def _blank_between_only(target, blank=0):
    return ref_extend_target(target, blank)[1:-1]


def _loss_last_only(log_probs, target, blank=0):
    return float(-ref_log_alpha(log_probs, target, blank)[-1, -1])


def _loss_no_minus(log_probs, target, blank=0):
    return -ref_loss(log_probs, target, blank)


# ----------------------------------------------------------------------------- cases

def _log_probs(rng, T, C, sharp=1.0):
    z = rng.normal(0, sharp, size=(T, C))
    return z - np.logaddexp.reduce(z, axis=1, keepdims=True)


def _target(rng, S, C, blank, repeat=False):
    labels = [k for k in range(C) if k != blank]
    t = rng.choice(labels, size=S)
    if repeat and S >= 2:
        t[1] = t[0]
    return t.astype(np.int64)


def _ext_cases(rng, full):
    cases = [Case("target [1, 2, 3], blank 0", (np.array([1, 2, 3]), 0)),
             Case("target [2, 2], blank 0 (repeated label)", (np.array([2, 2]), 0)),
             Case("empty target", (np.zeros(0, dtype=np.int64), 0)),
             Case("target of length 1, blank 4", (np.array([1]), 4))]
    if full:
        for _ in range(3):
            C = int(rng.integers(3, 8))
            blank = int(rng.integers(0, C))
            S = int(rng.integers(1, 7))
            cases.append(Case(f"S={S}, blank {blank}", (_target(rng, S, C, blank), blank)))
    return cases if full else cases[:2]


def _alpha_cases(rng, full):
    spec = [("T=6, S=2, C=4", 6, 2, 4, 0, False),
            ("T=6, S=3 with a repeated label", 6, 3, 4, 0, True),
            ("T=1, S=1", 1, 1, 3, 0, False),
            ("T=5, empty target", 5, 0, 3, 0, False),
            ("T=4, S=3, blank = C - 1", 4, 3, 5, 4, False),
            ("T=3, S=2 repeated: too short, no path", 3, 2, 3, 0, True),
            ("T=600, S=4 (long: needs log space)", 600, 4, 5, 0, False)]
    if full:
        for _ in range(4):
            T, S, C = int(rng.integers(2, 12)), int(rng.integers(1, 5)), int(rng.integers(3, 7))
            spec.append((f"T={T}, S={S}, C={C}", T, S, C, 0, bool(rng.integers(0, 2))))
    else:
        spec = spec[:2]
    return [Case(label, (_log_probs(rng, T, C), _target(rng, S, C, blank, rep), blank))
            for label, T, S, C, blank, rep in spec]


def _loss_cases(rng, full):
    return _alpha_cases(rng, full)


EXERCISE = Exercise(
    forbidden=("rnnlib.ctc:ctc_loss", "rnnlib.ctc:ctc_loss_and_grad"),
    id="12_ctc_loss",
    title="CTC forward variables and loss",
    chapter="chapters/12_ctc",
    questions=[
        Question(
            name="extend_target", title="the extended target l'", points=2, cases=_ext_cases,
            reference=ref_extend_target, outputs="l_ext",
            diagnoses=[
                ("l_ext misses the final blank: it ends with a blank after the last label "
                 "(length 2S + 1).", _no_final_blank),
                ("l_ext misses the first blank: it starts with a blank before the first label "
                 "(length 2S + 1).", _no_first_blank),
                ("l_ext has no blanks: put a blank before, between and after the labels "
                 "(length 2S + 1).", _no_blanks),
                ("l_ext misses the blanks at the ends: it has length 2S + 1, starting and "
                 "ending with a blank.", _blank_between_only),
            ]),
        Question(
            name="ctc_log_alpha", title="forward variables (log space)", points=5,
            cases=_alpha_cases, reference=ref_log_alpha, outputs="log_alpha",
            time_axis={"log_alpha": 0}, atol=1e-7,
            patch={"extend_target": "rnnlib.grading.ex12_ctc_loss:ref_extend_target"},
            diagnoses=[
                ("log_alpha lets a path skip the blank between two equal labels: the skip "
                 "from s - 2 is allowed only when l'_s is a label different from l'_(s-2) "
                 "(otherwise the repeat would collapse).",
                 lambda *a: _alpha(*a, skip_repeats=True)),
            ]),
        Question(
            name="ctc_loss", title="the loss", points=3, cases=_loss_cases, reference=ref_loss,
            outputs="loss", atol=1e-7,
            patch={"extend_target": "rnnlib.grading.ex12_ctc_loss:ref_extend_target",
                   "ctc_log_alpha": "rnnlib.grading.ex12_ctc_loss:ref_log_alpha"},
            diagnoses=[
                ("the loss uses only the last blank: a complete path may end in the last "
                 "label or in the final blank, add both log alpha_T(L'-1) and "
                 "log alpha_T(L'-2).", _loss_last_only),
                ("the loss has the wrong sign: it is minus the log-probability.", _loss_no_minus),
            ]),
    ],
)

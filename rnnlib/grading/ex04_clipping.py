"""Exercise 04_clipping: gradient norm clipping (Pascanu et al. 2013) and value clipping.

- ``global_norm(grads)`` -> the L2 norm of all gradients together, a float.
- ``clip_by_global_norm(grads, max_norm)`` -> ``(clipped, norm)``: every gradient scaled by
  ``min(1, max_norm / (norm + 1e-6))``, a new dict (the input unchanged), and the norm
  before clipping, as ``torch.nn.utils.clip_grad_norm_``.
- ``clip_by_value(grads, clip_value)`` -> every entry clipped to [-clip_value, clip_value],
  a new dict (the input unchanged).

Both clipping functions are checked to leave the caller's arrays as they were.
"""

import numpy as np

from rnnlib.bptt import clip_grad_norm
from rnnlib.grading.core import Case, Exercise, Question


def ref_global_norm(grads):
    return float(np.sqrt(sum(float(np.sum(np.square(g))) for g in grads.values())))


def ref_clip_by_global_norm(grads, max_norm):
    clipped = {k: np.array(v, dtype=float) for k, v in grads.items()}
    norm = clip_grad_norm(clipped, max_norm)
    return clipped, norm


def ref_clip_by_value(grads, clip_value):
    return {k: np.clip(v, -clip_value, clip_value) for k, v in grads.items()}


# ----------------------------------------------------------------------------- known mistakes

def _sum_of_squares(grads):
    return ref_global_norm(grads) ** 2


def _mean_of_norms(grads):
    return float(np.mean([np.linalg.norm(np.ravel(g)) for g in grads.values()]))


def _sum_of_norms(grads):
    return float(sum(np.linalg.norm(np.ravel(g)) for g in grads.values()))


def _per_entry(grads, max_norm):
    return {k: np.clip(g, -max_norm, max_norm) for k, g in grads.items()}, ref_global_norm(grads)


def _per_tensor(grads, max_norm):
    out = {}
    for k, g in grads.items():
        n = float(np.linalg.norm(np.ravel(g)))
        out[k] = g * min(1.0, max_norm / (n + 1e-6))
    return out, ref_global_norm(grads)


def _always_scale(grads, max_norm):
    n = ref_global_norm(grads)
    return {k: g * (max_norm / (n + 1e-6)) for k, g in grads.items()}, n


def _norm_after(grads, max_norm):
    clipped, _ = ref_clip_by_global_norm(grads, max_norm)
    return clipped, ref_global_norm(clipped)


def _upper_only(grads, clip_value):
    return {k: np.minimum(v, clip_value) for k, v in grads.items()}


# ----------------------------------------------------------------------------- cases

def _grads(rng, shapes, scale):
    names = ["weight_ih", "weight_hh", "bias_ih", "bias_hh", "W_out", "b_out"]
    return {names[k]: rng.normal(0, scale, size=s) for k, s in enumerate(shapes)}


_SHAPES = [[(8, 3), (8, 2), (8,), (8,)], [(4, 4)], [(3,), (2, 5), (5,)], [(1,), (1,)]]


def _norm_cases(rng, full):
    cases = [Case("four arrays", (_grads(rng, _SHAPES[0], 1.0),)),
             Case("one (4, 4) array", (_grads(rng, _SHAPES[1], 2.0),)),
             Case("all zeros", ({"w": np.zeros((3, 2)), "b": np.zeros(3)},)),
             Case("one entry", ({"w": np.array([-3.0])},))]
    if full:
        cases += [Case("three arrays, large values", (_grads(rng, _SHAPES[2], 1e3),)),
                  Case("two 1-entry arrays", (_grads(rng, _SHAPES[3], 1.0),))]
    return cases if full else cases[:2]


def _clip_cases(rng, full):
    cases = [Case("norm above max_norm", (_grads(rng, _SHAPES[0], 3.0), 1.0)),
             Case("norm below max_norm (unchanged)", (_grads(rng, _SHAPES[2], 0.1), 5.0)),
             Case("one array, norm above", (_grads(rng, _SHAPES[1], 1.0), 0.5)),
             Case("all zeros", ({"w": np.zeros((2, 2))}, 1.0)),
             Case("one large array among small ones",
                  ({"a": np.full(3, 100.0), "b": np.full(2, 0.01), "c": np.array([0.02])}, 2.0)),
             Case("exploded gradient (norm 1e8)", (_grads(rng, _SHAPES[2], 3e7), 1.0))]
    return cases if full else cases[:2]


def _value_cases(rng, full):
    cases = [Case("clip_value 0.5", (_grads(rng, _SHAPES[0], 1.0), 0.5)),
             Case("nothing to clip", (_grads(rng, _SHAPES[3], 0.01), 1.0)),
             Case("clip_value 2, large values", (_grads(rng, _SHAPES[2], 10.0), 2.0)),
             Case("negative entries only", ({"w": -np.abs(rng.normal(size=(3, 3))) - 1.0}, 0.7))]
    return cases if full else cases[:2]


EXERCISE = Exercise(
    forbidden=("rnnlib.bptt:clip_grad_norm",),
    id="04_clipping",
    title="Gradient clipping",
    chapter="chapters/04_vanishing_exploding",
    questions=[
        Question(
            name="global_norm", title="the global gradient norm", points=3, cases=_norm_cases,
            reference=ref_global_norm, outputs="norm",
            diagnoses=[
                ("that is the sum of squares: take its square root.", _sum_of_squares),
                ("that adds up the arrays' norms: the global norm is not a sum of norms but "
                 "the norm of all entries together, the square root of the sum of squares "
                 "over every array.", _sum_of_norms),
                ("that averages the arrays' norms: the global norm is the norm of all entries "
                 "together, sqrt(sum over arrays of sum(g ** 2)).", _mean_of_norms),
            ]),
        Question(
            name="clip_by_global_norm", title="clip by the global norm", points=4,
            cases=_clip_cases, reference=ref_clip_by_global_norm, outputs=("clipped", "norm"),
            inputs_unchanged=True,
            patch={"global_norm": "rnnlib.grading.ex04_clipping:ref_global_norm"},
            diagnoses=[
                ("each entry is clipped to [-max_norm, max_norm] (clipping by value): "
                 "clipping by the global norm rescales every array by one common factor.",
                 _per_entry),
                ("each array is clipped by its own norm: scale all of them by one factor from "
                 "the global norm, so the update keeps its direction.", _per_tensor),
                ("the gradients are rescaled even when the norm is below max_norm: the factor "
                 "is min(1, max_norm / (norm + 1e-6)).", _always_scale),
                ("norm should be the norm before clipping.", _norm_after),
            ]),
        Question(
            name="clip_by_value", title="clip each entry", points=3, cases=_value_cases,
            inputs_unchanged=True,
            reference=ref_clip_by_value, outputs="clipped",
            diagnoses=[("only the upper bound is applied: entries below -clip_value must be "
                        "raised to -clip_value too.", _upper_only)]),
    ],
)

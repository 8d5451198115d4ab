"""Exercise 03_bptt: backpropagation through time for the tanh RNN, and a gradient check.

- ``rnn_step_backward(dh_next, x, h_prev, h_next, params)`` -> ``(dx, dh_prev, grads)``.
- ``rnn_backward(dhs, x, h0, hs, params)`` -> ``(dx, dh0, grads)``: ``dhs`` (T, B, H) is the
  gradient of the loss with respect to every state ``hs[t]`` through the outputs; the
  gradient of ``hs[t]`` also flows back through all later steps.
- ``numerical_gradient(f, x, eps)`` -> central differences of the scalar ``f`` at ``x``.
"""

import numpy as np

from rnnlib.cells import RNNCell
from rnnlib.grading._gen import cell_params, shape_grid
from rnnlib.grading.core import Case, Exercise, Fn, Question
from rnnlib.grading.ex02_rnn_forward import ref_rnn_forward


def _cell(params):
    cell = RNNCell(params["weight_ih"].shape[1], params["weight_hh"].shape[1])
    cell.params = {k: np.asarray(v, dtype=float) for k, v in params.items()}
    return cell


def ref_step_backward(dh_next, x, h_prev, h_next, params):
    cell = _cell(params)
    _, cache = cell.forward(x, h_prev)
    return cell.backward(dh_next, cache)


def ref_backward(dhs, x, h0, hs, params):
    cell = _cell(params)
    T = x.shape[0]
    grads = {k: np.zeros_like(v) for k, v in cell.params.items()}
    dx = np.zeros_like(x)
    dh = np.zeros_like(h0)
    for t in reversed(range(T)):
        h_prev = hs[t - 1] if t > 0 else h0
        _, cache = cell.forward(x[t], h_prev)
        dx[t], dh, g = cell.backward(dhs[t] + dh, cache)
        for k in grads:
            grads[k] += g[k]
    return dx, dh, grads


def smooth_function(x, A, c):
    """A smooth scalar function of an array: sum(sin(A x)) + c sum(x^3) + (sum(A x))^2 / 2.

    The last term couples the entries (the function is not a sum of functions of one
    entry each), so a gradient check that leaves a probed entry moved changes the
    derivatives it measures next.
    """
    return float(np.sum(np.sin(A * x)) + c * np.sum(x ** 3) + 0.5 * np.sum(A * x) ** 2)


def _test_gradient(x, A, c):
    return A * np.cos(A * x) + 3 * c * x ** 2 + A * np.sum(A * x)


# ----------------------------------------------------------------------------- known mistakes

def _step_no_tanh_grad(dh_next, x, h_prev, h_next, p):
    da = dh_next
    return da @ p["weight_ih"], da @ p["weight_hh"], {
        "weight_ih": da.T @ x, "weight_hh": da.T @ h_prev, "bias_ih": da.sum(0), "bias_hh": da.sum(0)}


def _step_h_next_in_grad(dh_next, x, h_prev, h_next, p):
    dx, dh, g = ref_step_backward(dh_next, x, h_prev, h_next, p)
    da = dh_next * (1 - h_next ** 2)
    g["weight_hh"] = da.T @ h_next
    return dx, dh, g


def _bptt(dhs, x, h0, hs, p, carry=True, accumulate=True, shift=False):
    T = x.shape[0]
    grads = {k: np.zeros_like(v) for k, v in p.items()}
    dx, dh = np.zeros_like(x), np.zeros_like(h0)
    for t in reversed(range(T)):
        h_prev = (hs[t - 1] if t > 0 else h0) if not shift else hs[t]
        dx[t], dh_new, g = ref_step_backward(dhs[t] + (dh if carry else 0), x[t], h_prev, hs[t], p)
        dh = dh_new
        for k in grads:
            grads[k] = grads[k] + g[k] if accumulate else g[k]
    return dx, dh, grads


# ----------------------------------------------------------------------------- cases

def _step_cases(rng, full):
    grid = shape_grid(rng, full, [
        ("B=2, D=3, H=4", dict(B=2, D=3, H=4)),
        ("B=3, D=4, H=2", dict(B=3, D=4, H=2)),
        ("B=1, D=1, H=1", dict(B=1, D=1, H=1)),
        ("B=1, D=3, H=3", dict(B=1, D=3, H=3)),
    ], 3, dict(B=(1, 5), D=(1, 6), H=(1, 6)))
    cases = []
    for label, s in grid:
        x, h = rng.normal(size=(s["B"], s["D"])), rng.normal(size=(s["B"], s["H"]))
        p = cell_params(rng, s["D"], s["H"])
        h_next = _cell(p).forward(x, h)[0]
        cases.append(Case(label, (rng.normal(size=(s["B"], s["H"])), x, h, h_next, p)))
    return cases


def _backward_cases(rng, full):
    grid = shape_grid(rng, full, [
        ("T=5, B=2, D=3, H=4", dict(T=5, B=2, D=3, H=4)),
        ("T=4, B=3, D=2, H=3", dict(T=4, B=3, D=2, H=3)),
        ("T=1, B=1, D=2, H=2", dict(T=1, B=1, D=2, H=2)),
        ("T=8, B=1, D=1, H=3", dict(T=8, B=1, D=1, H=3)),
        ("T=3, B=2, D=3, H=2, loss on the last state only", dict(T=3, B=2, D=3, H=2, last=1)),
    ], 3, dict(T=(2, 9), B=(1, 4), D=(1, 5), H=(1, 5)))
    cases = []
    for label, s in grid:
        x, h0 = rng.normal(size=(s["T"], s["B"], s["D"])), rng.normal(size=(s["B"], s["H"]))
        p = cell_params(rng, s["D"], s["H"], scale=0.5)
        hs = ref_rnn_forward(x, h0, p)
        dhs = rng.normal(size=hs.shape)
        if s.get("last"):
            dhs[:-1] = 0.0
        cases.append(Case(label, (dhs, x, h0, hs, p)))
    return cases


def _numgrad_cases(rng, full):
    cases = []
    for label, shape in [("x of shape (3,)", (3,)), ("x of shape (2, 3)", (2, 3)),
                         ("x of shape (1,)", (1,)), ("x of shape (2, 2, 2)", (2, 2, 2))][: 4 if full else 2]:
        A = rng.uniform(0.5, 2.0, size=shape)
        x = rng.normal(size=shape)
        cases.append(Case(label, (Fn("rnnlib.grading.ex03_bptt:smooth_function", (A, 0.3)), x),
                          {"eps": 1e-5}))
    return cases


def _numgrad_reference(f, x, eps=1e-5):
    """The exact gradient of the test function ``f`` (an Fn carrying A and c)."""
    A, c = f.args
    return _test_gradient(np.asarray(x, dtype=float), A, c)


def _not_restored(f, x, eps=1e-5):
    x = np.array(x, dtype=float)
    g = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        old = x[idx]
        x[idx] = old + eps
        f_plus = f(x)
        x[idx] = old - eps
        g[idx] = (f_plus - f(x)) / (2 * eps)
    return g


def _forward_difference(f, x, eps=1e-5):
    x = np.array(x, dtype=float)
    g, f0 = np.zeros_like(x), f(x)
    for idx in np.ndindex(x.shape):
        old = x[idx]
        x[idx] = old + eps
        g[idx] = (f(x) - f0) / eps
        x[idx] = old
    return g


EXERCISE = Exercise(
    id="03_bptt",
    title="BPTT backward with a gradient check",
    chapter="chapters/03_bptt",
    questions=[
        Question(
            name="rnn_step_backward", title="backward through one step", points=3,
            cases=_step_cases, reference=ref_step_backward, outputs=("dx", "dh_prev", "grads"),
            diagnoses=[
                ("the tanh derivative is missing: da = dh_next * (1 - h_next ** 2).",
                 _step_no_tanh_grad),
                ("grads['weight_hh'] uses h_next: the weight multiplies h_prev in the forward "
                 "pass, so its gradient is da.T @ h_prev.", _step_h_next_in_grad),
            ],
            part_hints={"grads['bias_ih']": "both biases get the same gradient, da summed over the batch.",
                        "grads['bias_hh']": "both biases get the same gradient, da summed over the batch."}),
        Question(
            name="rnn_backward", title="backward through time", points=4,
            cases=_backward_cases, reference=ref_backward, outputs=("dx", "dh0", "grads"),
            time_axis={"dx": 0},
            patch={"rnn_step_backward": "rnnlib.grading.ex03_bptt:ref_step_backward"},
            diagnoses=[
                ("the gradient from later steps is not carried back: at step t use dhs[t] plus "
                 "the dh_prev returned by step t + 1.", lambda *a: _bptt(*a, carry=False)),
                ("the weights' gradients keep only one step: add (accumulate) every step's "
                 "gradients, the weights are shared.", lambda *a: _bptt(*a, accumulate=False)),
                ("off by one: step t's previous state is hs[t - 1] (h0 for t = 0), not hs[t].",
                 lambda *a: _bptt(*a, shift=True)),
            ]),
        Question(
            name="numerical_gradient", title="central differences", points=3,
            cases=_numgrad_cases, reference=_numgrad_reference, outputs="grad",
            atol=1e-7, rtol=1e-6,
            diagnoses=[
                ("these are forward differences (f(x + eps) - f(x)) / eps: use central "
                 "differences (f(x + eps) - f(x - eps)) / (2 eps), far more accurate.",
                 _forward_difference),
                ("each probed entry is left moved (at x - eps): put it back to its old value "
                 "before probing the next one, or the later derivatives are taken at the "
                 "wrong point.", _not_restored),
            ]),
    ],
)

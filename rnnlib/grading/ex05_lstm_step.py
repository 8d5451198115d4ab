"""Exercise 05_lstm_step: one LSTM step, forward and backward, as ``torch.nn.LSTMCell``.

- ``lstm_step_forward(x, h_prev, c_prev, params)`` -> ``(h_next, c_next, cache)``, where
  ``cache`` is a dict with at least the keys ``x, h_prev, c_prev, i, f, g, o, c_next``
  (gates and states, each (B, H) except x (B, D)).
- ``lstm_step_backward(dh_next, dc_next, cache, params)`` -> ``(dx, dh_prev, dc_prev, grads)``
  with ``grads`` keyed like ``params``. The grader passes a correct cache, so the backward
  pass is graded on its own.

Gate order in the stacked weights: i, f, g, o.
"""

import numpy as np

from rnnlib.cells import LSTMCell, sigmoid
from rnnlib.grading._gen import cell_params, shape_grid
from rnnlib.grading.core import Case, Exercise, Question

CACHE_KEYS = ("x", "h_prev", "c_prev", "i", "f", "g", "o", "c_next")


def _cell(params):
    H = params["weight_hh"].shape[1]
    cell = LSTMCell(params["weight_ih"].shape[1], H)
    cell.params = {k: np.asarray(v, dtype=float) for k, v in params.items()}
    return cell


def ref_forward(x, h_prev, c_prev, params):
    """h_next and c_next from rnnlib's LSTMCell; the gates from the equations (the cell's
    cache layout is its own business)."""
    (h, c), _ = _cell(params).forward(x, (h_prev, c_prev))
    _, _, cache = _forward(x, h_prev, c_prev, params)
    return h, c, dict(cache, c_next=c)


def ref_backward(dh_next, dc_next, cache, params):
    cell = _cell(params)
    _, full = cell.forward(cache["x"], (cache["h_prev"], cache["c_prev"]))
    dx, (dh, dc), grads = cell.backward((dh_next, dc_next), full)
    return dx, dh, dc, grads


# ----------------------------------------------------------------------------- known mistakes

def _forward(x, h_prev, c_prev, p, order="ifgo", g_act=np.tanh, bias_hh=True, tanh_c=True):
    H = h_prev.shape[1]
    a = x @ p["weight_ih"].T + p["bias_ih"] + h_prev @ p["weight_hh"].T
    if bias_hh:
        a = a + p["bias_hh"]
    blocks = {name: a[:, k * H:(k + 1) * H] for k, name in enumerate(order)}
    i, f, o = sigmoid(blocks["i"]), sigmoid(blocks["f"]), sigmoid(blocks["o"])
    g = g_act(blocks["g"])
    c = f * c_prev + i * g
    h = o * (np.tanh(c) if tanh_c else c)
    return h, c, {"x": x, "h_prev": h_prev, "c_prev": c_prev, "i": i, "f": f, "g": g, "o": o,
                  "c_next": c}


def _backward(dh_next, dc_next, cache, p, add_dc_next=True, tanh_grad=True):
    x, h_prev, c_prev, i, f, g, o, c = (cache[k] for k in CACHE_KEYS)
    t = np.tanh(c)
    do = dh_next * t
    dc = dh_next * o * ((1 - t * t) if tanh_grad else 1.0)
    if add_dc_next:
        dc = dc + dc_next
    da = np.concatenate([dc * g * i * (1 - i), dc * c_prev * f * (1 - f), dc * i * (1 - g * g),
                         do * o * (1 - o)], axis=1)
    grads = {"weight_ih": da.T @ x, "weight_hh": da.T @ h_prev, "bias_ih": da.sum(0),
             "bias_hh": da.sum(0)}
    return da @ p["weight_ih"], da @ p["weight_hh"], dc * f, grads


def _sigmoid_g(*a):
    return _forward(*a, g_act=sigmoid)


# ----------------------------------------------------------------------------- cases

_EDGE = [
    ("B=2, D=3, H=4", dict(B=2, D=3, H=4)),
    ("B=3, D=5, H=2", dict(B=3, D=5, H=2)),
    ("B=1, D=1, H=1", dict(B=1, D=1, H=1)),
    ("B=1, D=4, H=3", dict(B=1, D=4, H=3)),
    ("B=4, D=2, H=2 (D = H)", dict(B=4, D=2, H=2)),
]
_RANGES = dict(B=(1, 5), D=(1, 6), H=(1, 6))


def _forward_cases(rng, full):
    return [Case(label, (rng.normal(size=(s["B"], s["D"])), rng.normal(size=(s["B"], s["H"])),
                         rng.normal(size=(s["B"], s["H"])), cell_params(rng, s["D"], s["H"], 4)))
            for label, s in shape_grid(rng, full, _EDGE, 4, _RANGES)]


def _backward_cases(rng, full):
    cases = []
    for k, (label, s) in enumerate(shape_grid(rng, full, _EDGE, 4, _RANGES)):
        x, h, c = (rng.normal(size=(s["B"], n)) for n in (s["D"], s["H"], s["H"]))
        p = cell_params(rng, s["D"], s["H"], 4)
        cache = ref_forward(x, h, c, p)[2]
        dh, dc = rng.normal(size=(s["B"], s["H"])), rng.normal(size=(s["B"], s["H"]))
        if k == 3:
            dc, label = np.zeros_like(dc), label + ", dc_next = 0"
        cases.append(Case(label, (dh, dc, cache, p)))
    return cases


_GATE_ORDER = ("the stacked weights hold the gates in the order i, f, g, o: rows 0:H, H:2H, "
               "2H:3H and 3H:4H")

EXERCISE = Exercise(
    forbidden=("rnnlib.cells:LSTMCell", "rnnlib.layers:LSTM"),
    id="05_lstm_step",
    title="LSTM step forward and backward",
    chapter="chapters/05_lstm",
    questions=[
        Question(
            name="lstm_step_forward", title="one LSTM step", points=5, cases=_forward_cases,
            reference=ref_forward, outputs=("h_next", "c_next", "cache"),
            part_hints={
                "cache['i']": "the input gate i is wrong; " + _GATE_ORDER + ".",
                "cache['f']": "the forget gate f is wrong; " + _GATE_ORDER + ".",
                "cache['g']": "the candidate g is wrong: it is tanh (what to write), the gates "
                              "are sigmoids (how much); " + _GATE_ORDER + ".",
                "cache['o']": "the output gate o is wrong; " + _GATE_ORDER + ".",
                "c_next": "c_next = f * c_prev + i * g.",
                "h_next": "h_next = o * tanh(c_next).",
            },
            diagnoses=[
                ("your gates match the order f, i, g, o; PyTorch stacks them i, f, g, o.",
                 lambda *a: _forward(*a, order="figo")),
                ("your gates match the order i, f, o, g; PyTorch stacks them i, f, g, o.",
                 lambda *a: _forward(*a, order="ifog")),
                ("the outputs match a step without bias_hh: each gate has two biases.",
                 lambda *a: _forward(*a, bias_hh=False)),
                ("g matches a sigmoid: the candidate uses tanh.", _sigmoid_g),
                ("h_next matches o * c_next: squash the cell first, o * tanh(c_next).",
                 lambda *a: _forward(*a, tanh_c=False)),
            ]),
        Question(
            name="lstm_step_backward", title="its backward pass", points=5, cases=_backward_cases,
            reference=ref_backward, outputs=("dx", "dh_prev", "dc_prev", "grads"),
            part_hints={
                "dx": "dx = da @ weight_ih, with da the (B, 4H) gradient of the pre-activations.",
                "dh_prev": "dh_prev = da @ weight_hh.",
                "dc_prev": "dc_prev = dc * f, where dc sums both paths into c_next.",
            },
            diagnoses=[
                ("the cell state reaches the loss by two paths, through h_next and directly "
                 "through dc_next: add dc_next to dc.",
                 lambda *a: _backward(*a, add_dc_next=False)),
                ("dc misses the derivative of tanh: d tanh(c)/dc = 1 - tanh(c)**2.",
                 lambda *a: _backward(*a, tanh_grad=False)),
            ]),
    ],
)

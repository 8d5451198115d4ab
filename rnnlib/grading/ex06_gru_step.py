"""Exercise 06_gru_step: one GRU step in PyTorch's convention and in the textbook one.

Both return ``(h_next, gates)`` with ``gates = {"r": ..., "z": ..., "n": ...}`` (B, H):

- ``gru_step_pytorch``: ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``,
  ``h_next = (1 - z) * n + z * h`` (as ``torch.nn.GRUCell``);
- ``gru_step_textbook``: ``n = tanh(W_in x + b_in + W_hn (r * h) + b_hn)``,
  ``h_next = (1 - z) * h + z * n`` (Cho et al. 2014, as usually taught).

Gate order in the stacked weights: r, z, n.
"""

import numpy as np

from rnnlib.cells import GRUCell, sigmoid
from rnnlib.grading._gen import cell_params, shape_grid
from rnnlib.grading.core import Case, Exercise, Question


def _ref(variant):
    def step(x, h_prev, params):
        """h_next from rnnlib's GRUCell; the gates from the equations."""
        cell = GRUCell(x.shape[1], h_prev.shape[1], variant=variant)
        cell.params = {k: np.asarray(v, dtype=float) for k, v in params.items()}
        h, _ = cell.forward(x, h_prev)
        _, gates = _gru(x, h_prev, params, reset_inside=variant == "pytorch",
                        z_on_candidate=variant == "textbook")
        return h, gates
    return step


ref_pytorch = _ref("pytorch")
ref_textbook = _ref("textbook")


def _gru(x, h, p, order="rzn", reset_inside=True, z_on_candidate=False, use_r=True,
         n_act=np.tanh):
    H = h.shape[1]
    ax = x @ p["weight_ih"].T + p["bias_ih"]
    blocks = {name: slice(k * H, (k + 1) * H) for k, name in enumerate(order)}
    Whh, bhh = p["weight_hh"], p["bias_hh"]
    ah = h @ Whh.T + bhh
    r = sigmoid(ax[:, blocks["r"]] + ah[:, blocks["r"]])
    z = sigmoid(ax[:, blocks["z"]] + ah[:, blocks["z"]])
    rr = r if use_r else 1.0
    if reset_inside:      # PyTorch: r * (W_hn h + b_hn)
        n = n_act(ax[:, blocks["n"]] + rr * ah[:, blocks["n"]])
    else:                 # textbook: W_hn (r * h) + b_hn
        n = n_act(ax[:, blocks["n"]] + (rr * h) @ Whh[blocks["n"]].T + bhh[blocks["n"]])
    h_next = (1 - z) * h + z * n if z_on_candidate else (1 - z) * n + z * h
    return h_next, {"r": r, "z": z, "n": n}


_EDGE = [("B=2, D=3, H=4", dict(B=2, D=3, H=4)), ("B=3, D=5, H=2", dict(B=3, D=5, H=2)),
         ("B=1, D=1, H=1", dict(B=1, D=1, H=1)), ("B=1, D=3, H=3", dict(B=1, D=3, H=3))]


def _cases(rng, full):
    return [Case(label, (rng.normal(size=(s["B"], s["D"])), rng.normal(size=(s["B"], s["H"])),
                         cell_params(rng, s["D"], s["H"], 3)))
            for label, s in shape_grid(rng, full, _EDGE, 4, dict(B=(1, 5), D=(1, 6), H=(1, 6)))]


_ORDER = "the stacked weights hold the gates in the order r, z, n (rows 0:H, H:2H, 2H:3H)"
_PART = {"gates['r']": "the reset gate r is wrong; " + _ORDER + ".",
         "gates['z']": "the update gate z is wrong; " + _ORDER + "."}

EXERCISE = Exercise(
    forbidden=("rnnlib.cells:GRUCell", "rnnlib.layers:GRU"),
    id="06_gru_step",
    title="GRU step in both conventions",
    chapter="chapters/06_gru",
    questions=[
        Question(
            name="gru_step_pytorch", title="PyTorch's GRU step", points=5, cases=_cases,
            reference=ref_pytorch, outputs=("h_next", "gates"),
            part_hints=dict(_PART, **{
                "gates['n']": "n = tanh(W_in x + b_in + r * (W_hn h_prev + b_hn)): in PyTorch "
                              "the reset gate multiplies the recurrent product, bias included.",
                "h_next": "h_next = (1 - z) * n + z * h_prev in PyTorch's convention."}),
            diagnoses=[
                ("z weights the wrong side: in PyTorch h_next = (1 - z) * n + z * h_prev "
                 "(z close to 1 keeps the old state).", lambda *a: _gru(*a, z_on_candidate=True)),
                ("the reset gate acts before the product (textbook style): PyTorch computes "
                 "r * (W_hn h_prev + b_hn).", lambda *a: _gru(*a, reset_inside=False)),
                ("your gates match the order z, r, n; " + _ORDER + ".",
                 lambda *a: _gru(*a, order="zrn")),
                ("the candidate n matches a sigmoid: n is a tanh (a new content centred on 0), "
                 "only the gates r and z are sigmoids.", lambda *a: _gru(*a, n_act=sigmoid)),
            ]),
        Question(
            name="gru_step_textbook", title="the textbook GRU step", points=5, cases=_cases,
            reference=ref_textbook, outputs=("h_next", "gates"),
            part_hints=dict(_PART, **{
                "gates['n']": "n = tanh(W_in x + b_in + W_hn (r * h_prev) + b_hn): in the "
                              "textbook form the reset gate acts on h_prev before the product.",
                "h_next": "h_next = (1 - z) * h_prev + z * n in the textbook convention."}),
            diagnoses=[
                ("the reset gate acts after the product (PyTorch style): the textbook GRU "
                 "computes W_hn (r * h_prev) + b_hn.",
                 lambda *a: _gru(*a, reset_inside=True, z_on_candidate=True)),
                ("z weights the wrong side: in the textbook form h_next = (1 - z) * h_prev + z * n.",
                 lambda *a: _gru(*a, reset_inside=False)),
                ("the candidate n matches a sigmoid: n is a tanh (a new content centred on 0), "
                 "only the gates r and z are sigmoids.",
                 lambda *a: _gru(*a, reset_inside=False, z_on_candidate=True, n_act=sigmoid)),
                ("the reset gate is not used in the candidate n.",
                 lambda *a: _gru(*a, reset_inside=False, z_on_candidate=True, use_r=False)),
            ]),
    ],
)

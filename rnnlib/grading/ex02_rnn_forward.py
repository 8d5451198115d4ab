"""Exercise 02_rnn_forward: one Elman RNN step, a whole sequence, the last real state.

Questions (the learner's functions):

- ``rnn_step(x, h_prev, params)`` -> ``h_next`` (B, H), with
  ``h_next = tanh(x W_ih^T + b_ih + h_prev W_hh^T + b_hh)`` and ``params`` keyed like
  ``torch.nn.RNNCell.state_dict()``.
- ``rnn_forward(x, h0, params)`` -> ``hs`` (T, B, H), the states after each input x[t].
- ``last_hidden(hs, lengths)`` -> (B, H): for a padded batch, each sequence's state at
  its last real step ``lengths[b] - 1``.
"""

import numpy as np

from rnnlib.cells import RNNCell
from rnnlib.grading._gen import cell_params, shape_grid
from rnnlib.grading.core import Case, Exercise, Question


def ref_rnn_step(x, h_prev, params):
    cell = RNNCell(x.shape[1], h_prev.shape[1])
    cell.params = {k: np.asarray(v, dtype=float) for k, v in params.items()}
    return cell.forward(x, h_prev)[0]


def ref_rnn_forward(x, h0, params):
    h, hs = h0, []
    for t in range(x.shape[0]):
        h = ref_rnn_step(x[t], h, params)
        hs.append(h)
    return np.stack(hs)


def ref_last_hidden(hs, lengths):
    return hs[np.asarray(lengths) - 1, np.arange(hs.shape[1])]


# ----------------------------------------------------------------------------- cases

def _step_cases(rng, full):
    grid = shape_grid(rng, full, [
        ("B=3, D=4, H=5", dict(B=3, D=4, H=5)),
        ("B=2, D=3, H=3 (square weights)", dict(B=2, D=3, H=3)),
        ("B=1, D=1, H=1", dict(B=1, D=1, H=1)),
        ("B=1, D=6, H=2", dict(B=1, D=6, H=2)),
    ], 4, dict(B=(1, 6), D=(1, 7), H=(1, 7)))
    return [Case(label, (rng.normal(size=(s["B"], s["D"])), rng.normal(size=(s["B"], s["H"])),
                         cell_params(rng, s["D"], s["H"]))) for label, s in grid]


def _forward_cases(rng, full):
    grid = shape_grid(rng, full, [
        ("T=4, B=2, D=3, H=5", dict(T=4, B=2, D=3, H=5)),
        ("T=6, B=3, D=2, H=4", dict(T=6, B=3, D=2, H=4)),
        ("T=1, B=1, D=2, H=3", dict(T=1, B=1, D=2, H=3)),
        ("T=7, B=1, D=4, H=4", dict(T=7, B=1, D=4, H=4)),
    ], 4, dict(T=(1, 9), B=(1, 5), D=(1, 6), H=(1, 6)))
    return [Case(label, (rng.normal(size=(s["T"], s["B"], s["D"])),
                         rng.normal(size=(s["B"], s["H"])), cell_params(rng, s["D"], s["H"])))
            for label, s in grid]


def _last_cases(rng, full):
    grid = shape_grid(rng, full, [
        ("T=5, B=4, lengths all different", dict(T=5, B=4, mode="perm")),
        ("T=6, B=3, some lengths = T", dict(T=6, B=3, mode="random")),
        ("T=1, B=1", dict(T=1, B=1, mode="random")),
        ("T=4, B=3, all lengths = 1", dict(T=4, B=3, mode="ones")),
    ], 3, dict(T=(2, 9), B=(1, 6)))
    cases = []
    for label, s in grid:
        T, B, H = s["T"], s["B"], 3
        mode = s.get("mode", "random")
        if mode == "perm":
            lengths = rng.permutation(np.arange(T, T - B, -1))
        elif mode == "ones":
            lengths = np.ones(B, dtype=np.int64)
        else:
            lengths = rng.integers(1, T + 1, size=B)
            lengths[0] = T
        cases.append(Case(label, (rng.normal(size=(T, B, H)), lengths.astype(np.int64))))
    return cases


# ----------------------------------------------------------------------------- known mistakes

def _no_bias_hh(x, h, p):
    return np.tanh(x @ p["weight_ih"].T + p["bias_ih"] + h @ p["weight_hh"].T)


def _no_bias_ih(x, h, p):
    return np.tanh(x @ p["weight_ih"].T + h @ p["weight_hh"].T + p["bias_hh"])


def _sigmoid_for_tanh(x, h, p):
    return 1.0 / (1.0 + np.exp(-_no_tanh(x, h, p)))


def _no_tanh(x, h, p):
    return x @ p["weight_ih"].T + p["bias_ih"] + h @ p["weight_hh"].T + p["bias_hh"]


def _w_hh_not_transposed(x, h, p):
    return np.tanh(x @ p["weight_ih"].T + p["bias_ih"] + h @ p["weight_hh"] + p["bias_hh"])


def _ignores_h(x, h, p):
    return np.tanh(x @ p["weight_ih"].T + p["bias_ih"] + p["bias_hh"])


def _shifted(x, h0, p):
    hs = ref_rnn_forward(x, h0, p)
    return np.concatenate([h0[None], hs[:-1]])


def _from_h0(x, h0, p):
    return np.stack([ref_rnn_step(x[t], h0, p) for t in range(x.shape[0])])


def _last_is_T(hs, lengths):
    return hs[-1]


def _lengths_no_minus_one(hs, lengths):
    idx = np.minimum(np.asarray(lengths), hs.shape[0] - 1)
    return hs[idx, np.arange(hs.shape[1])]


EXERCISE = Exercise(
    forbidden=("rnnlib.cells:RNNCell", "rnnlib.layers:RNN"),
    id="02_rnn_forward",
    title="RNN step and sequence forward",
    chapter="chapters/02_rnn_cell",
    questions=[
        Question(
            name="rnn_step", title="one step of an Elman RNN", points=3, cases=_step_cases,
            reference=ref_rnn_step, outputs="h_next",
            diagnoses=[
                ("h_next matches a step without bias_hh: PyTorch's cell has two biases, "
                 "add both bias_ih and bias_hh.", _no_bias_hh),
                ("h_next matches a step without bias_ih: add both biases.", _no_bias_ih),
                ("h_next matches the pre-activation: apply tanh.", _no_tanh),
                ("h_next matches a sigmoid of the pre-activation: the Elman RNN squashes with "
                 "tanh, which is centred on 0 (a sigmoid keeps every state positive).",
                 _sigmoid_for_tanh),
                ("h_next matches h_prev @ weight_hh without the transpose: weight_hh is "
                 "(H_out, H_in), multiply by weight_hh.T.", _w_hh_not_transposed),
                ("h_next does not depend on h_prev: the recurrent term h_prev @ weight_hh.T "
                 "is missing.", _ignores_h),
            ]),
        Question(
            name="rnn_forward", title="the whole sequence", points=4, cases=_forward_cases,
            reference=ref_rnn_forward, outputs="hs", time_axis={"hs": 0},
            patch={"rnn_step": "rnnlib.grading.ex02_rnn_forward:ref_rnn_step"},
            diagnoses=[
                ("hs looks shifted by one step: hs[t] is the state *after* reading x[t], "
                 "so hs[0] = rnn_step(x[0], h0, ...) and h0 itself is not in hs.", _shifted),
                ("every step starts from h0: feed each step the state of the previous one.",
                 _from_h0),
            ]),
        Question(
            name="last_hidden", title="last real state of padded sequences", points=3,
            cases=_last_cases, reference=ref_last_hidden, outputs="h_last",
            diagnoses=[
                ("h_last is hs[-1] for every sequence: a sequence of length L ends at "
                 "step L - 1, before the padding.", _last_is_T),
                ("off by one: sequence b's last real step is lengths[b] - 1 (steps count "
                 "from 0).", _lengths_no_minus_one),
            ]),
    ],
)

"""rnnlib.cells against torch.nn.RNNCell / LSTMCell / GRUCell, finite differences and bad input."""

import re

import numpy as np
import pytest
import torch

from rnnlib import GRUCell, LSTMCell, RNNCell
from rnnlib.bptt import grad_check

KINDS = {
    "rnn_tanh": (RNNCell, {"nonlinearity": "tanh"}),
    "rnn_relu": (RNNCell, {"nonlinearity": "relu"}),
    "lstm": (LSTMCell, {}),
    "gru": (GRUCell, {}),
}


def rel_err(a, b):
    """max |a - b| relative to the size of b (scale-aware, fine for entries near 0)."""
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape, (a.shape, b.shape)
    return np.abs(a - b).max() / max(np.abs(b).max(), 1e-300)


def random_state(cls, rng, B, H):
    if cls is LSTMCell:
        return (rng.standard_normal((B, H)), rng.standard_normal((B, H)))
    return rng.standard_normal((B, H))


def as_tuple(state):
    return state if isinstance(state, tuple) else (state,)


@pytest.mark.parametrize("with_state", [True, False])
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("seed", [0, 1])
def test_cell_equals_torch(kind, with_state, seed):
    cls, kwargs = KINDS[kind]
    rng = np.random.default_rng([seed, len(kind), with_state])
    B, D, H = rng.integers(1, 5, size=3)
    cell = cls(D, H, rng=rng, **kwargs)
    module = cell.to_torch()
    assert module.weight_ih.dtype == torch.float64

    x = rng.standard_normal((B, D))
    state = random_state(cls, rng, B, H) if with_state else None
    new_state, cache = cell.forward(x, state)

    # torch gets an explicit zero state when ours is None, so its gradient exists
    state_np = state if with_state else tuple(np.zeros((B, H)) for _ in as_tuple(random_state(cls, rng, B, H)))
    xt = torch.tensor(x, requires_grad=True)
    st = [torch.tensor(s, requires_grad=True) for s in as_tuple(state_np)]
    new_t = as_tuple(module(xt, tuple(st) if cls is LSTMCell else st[0]))

    dnew = random_state(cls, rng, B, H)
    sum(((n * torch.tensor(d)).sum() for n, d in zip(new_t, as_tuple(dnew)))).backward()
    dx, dstate, grads = cell.backward(dnew, cache)

    for ours, theirs in zip(as_tuple(new_state), new_t):
        assert rel_err(ours, theirs.detach().numpy()) < 1e-9
    assert rel_err(dx, xt.grad.numpy()) < 1e-9
    for ours, theirs in zip(as_tuple(dstate), st):
        assert rel_err(ours, theirs.grad.numpy()) < 1e-9
    assert list(grads) == list(cell.params)
    for name, p in module.named_parameters():
        assert rel_err(grads[name], p.grad.numpy()) < 1e-9, name


@pytest.mark.parametrize("kind", KINDS)
def test_cell_parameter_count_and_round_trip(kind):
    cls, kwargs = KINDS[kind]
    module = getattr(torch.nn, cls.__name__)(5, 7, **kwargs).double()
    cell = cls.from_torch(module)
    assert cell.num_parameters() == sum(p.numel() for p in module.parameters())
    back = cell.to_torch()
    assert type(back) is type(module)
    for (k1, v1), (k2, v2) in zip(module.state_dict().items(), back.state_dict().items()):
        assert k1 == k2 and torch.equal(v1, v2)
    # a copy, not a view: changing the numpy side leaves torch alone
    cell.params["weight_hh"][0, 0] += 1.0
    assert not torch.equal(back.weight_hh, cell.to_torch().weight_hh)


def test_lstm_parameter_count_formula():
    D, H = 3, 4
    assert LSTMCell(D, H).num_parameters() == 4 * H * (D + H + 2)


def test_float32_follows_params_dtype():
    cell64 = LSTMCell(3, 4, rng=0)
    cell32 = LSTMCell(3, 4, rng=0, dtype=np.float32)
    x = np.random.default_rng(0).standard_normal((2, 3))
    (h32, c32), cache = cell32.forward(x.astype(np.float32))
    (h64, _), _ = cell64.forward(x)
    assert h32.dtype == np.float32 and c32.dtype == np.float32
    assert rel_err(h32, h64) < 1e-5
    dx, (dh, dc), grads = cell32.backward((np.ones_like(h32), np.zeros_like(c32)), cache)
    assert dx.dtype == dh.dtype == grads["weight_hh"].dtype == np.float32
    assert cell32.to_torch().weight_hh.dtype == torch.float32


# ----------------------------------------------------------------------------- finite differences

@pytest.mark.parametrize("kind", list(KINDS) + ["gru_textbook"])
def test_cell_finite_differences(kind):
    cls, kwargs = KINDS.get(kind, (GRUCell, {"variant": "textbook"}))
    rng = np.random.default_rng(3)
    B, D, H = 3, 4, 5
    cell = cls(D, H, rng=rng, **kwargs)
    x = rng.standard_normal((B, D))
    state = random_state(cls, rng, B, H)
    weights = [rng.standard_normal((B, H)) for _ in as_tuple(state)]

    def loss(p):
        saved, cell.params = cell.params, {k: p[k] for k in cell.params}
        try:
            new, _ = cell.forward(p["x"], tuple(p[f"s{j}"] for j in range(len(weights)))
                                  if cls is LSTMCell else p["s0"])
        finally:
            cell.params = saved
        return sum(float((n * w).sum()) for n, w in zip(as_tuple(new), weights))

    values = dict(cell.params, x=x, **{f"s{j}": s for j, s in enumerate(as_tuple(state))})
    _, cache = cell.forward(x, state)
    dnew = tuple(weights) if cls is LSTMCell else weights[0]
    dx, dstate, grads = cell.backward(dnew, cache)
    analytic = dict(grads, x=dx, **{f"s{j}": d for j, d in enumerate(as_tuple(dstate))})
    errors = grad_check(loss, values, analytic)
    assert set(errors) == set(values)
    assert max(errors.values()) < 1e-6, errors


def test_gru_variants_differ_and_textbook_refuses_torch():
    a = GRUCell(2, 3, rng=0)
    b = GRUCell(2, 3, rng=0, variant="textbook")
    x, h = np.ones((1, 2)), np.full((1, 3), 0.5)
    assert rel_err(a.forward(x, h)[0], b.forward(x, h)[0]) > 1e-3
    with pytest.raises(ValueError, match="variant='pytorch'"):
        b.to_torch()


def test_textbook_gru_matches_its_equations():
    """The textbook variant, written out independently of rnnlib.cells."""
    cell = GRUCell(3, 2, rng=5, variant="textbook")
    rng = np.random.default_rng(5)
    x, h = rng.standard_normal((4, 3)), rng.standard_normal((4, 2))
    p = cell.params
    W_ir, W_iz, W_in = np.split(p["weight_ih"], 3)
    W_hr, W_hz, W_hn = np.split(p["weight_hh"], 3)
    b_ir, b_iz, b_in = np.split(p["bias_ih"], 3)
    b_hr, b_hz, b_hn = np.split(p["bias_hh"], 3)
    sig = lambda a: 1 / (1 + np.exp(-a))
    r = sig(x @ W_ir.T + b_ir + h @ W_hr.T + b_hr)
    z = sig(x @ W_iz.T + b_iz + h @ W_hz.T + b_hz)
    n = np.tanh(x @ W_in.T + b_in + (r * h) @ W_hn.T + b_hn)
    expected = (1 - z) * h + z * n
    assert rel_err(cell.forward(x, h)[0], expected) < 1e-12


# ----------------------------------------------------------------------------- bad input

def test_cell_bad_input():
    cell = RNNCell(3, 4)
    with pytest.raises(ValueError, match=re.escape("x must have shape (B, D) = (*, 3), got (2, 5)")):
        cell.forward(np.zeros((2, 5)))
    with pytest.raises(ValueError, match=re.escape("x must have shape (B, D) = (*, 3), got (3,)")):
        cell.forward(np.zeros(3))
    with pytest.raises(ValueError, match=re.escape("state must have shape (B, H) = (2, 4), got (3, 4)")):
        cell.forward(np.zeros((2, 3)), np.zeros((3, 4)))
    x = np.zeros((2, 3))
    x[1, 2] = np.nan
    with pytest.raises(ValueError, match=re.escape("x of shape (2, 3) must be finite, got nan at index (1, 2)")):
        cell.forward(x)
    h, cache = cell.forward(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=re.escape("dnew_state must have shape (B, H) = (2, 4), got (2, 5)")):
        cell.backward(np.zeros((2, 5)), cache)


def test_lstm_cell_bad_state():
    cell = LSTMCell(3, 4)
    x = np.zeros((2, 3))
    with pytest.raises(ValueError, match=re.escape("state must be a pair (h, c)")):
        cell.forward(x, np.zeros((2, 4)))
    with pytest.raises(ValueError, match=re.escape("state[1] (c) must have shape (B, H) = (2, 4), got (2, 3)")):
        cell.forward(x, (np.zeros((2, 4)), np.zeros((2, 3))))


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="nonlinearity must be one of"):
        RNNCell(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="variant must be one of"):
        GRUCell(3, 4, variant="minimal")
    with pytest.raises(ValueError, match="hidden_size must be >= 1, got 0"):
        LSTMCell(3, 0)
    with pytest.raises(TypeError, match="module must be a torch.nn.LSTMCell, got GRUCell"):
        LSTMCell.from_torch(torch.nn.GRUCell(2, 3))


def test_choices_checked_when_set_after_construction():
    cell = RNNCell(3, 4, rng=0)
    with pytest.raises(ValueError, match="nonlinearity must be one of"):
        cell.nonlinearity = "sigmoid"       # would otherwise silently run ReLU
    assert cell.nonlinearity == "tanh"
    cell.nonlinearity = "relu"
    x = np.random.default_rng(0).standard_normal((2, 3))
    np.testing.assert_allclose(cell.forward(x)[0], cell.to_torch()(torch.tensor(x)).detach().numpy())
    gru = GRUCell(3, 4, rng=0)
    with pytest.raises(ValueError, match="variant must be one of"):
        gru.variant = "minimal"             # would otherwise silently run PyTorch's form
    assert gru.variant == "pytorch"


@pytest.mark.parametrize("name", ["input_size", "hidden_size"])
def test_sizes_are_read_only_and_follow_params(name):
    cell = LSTMCell(3, 4, rng=0)
    with pytest.raises(AttributeError):
        setattr(cell, name, 5)
    assert (cell.input_size, cell.hidden_size) == (3, 4)
    module = torch.nn.LSTMCell(6, 2)
    assert (LSTMCell.from_torch(module).input_size, LSTMCell.from_torch(module).hidden_size) == (6, 2)

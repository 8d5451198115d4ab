"""rnnlib.layers against torch.nn.RNN / LSTM / GRU: every option, every gradient."""

import re

import numpy as np
import pytest
import torch

from rnnlib import GRU, LSTM, RNN
from rnnlib.bptt import grad_check

KINDS = {
    "rnn_tanh": (RNN, {"nonlinearity": "tanh"}),
    "rnn_relu": (RNN, {"nonlinearity": "relu"}),
    "lstm": (LSTM, {}),
    "gru": (GRU, {}),
}


def rel_err(a, b):
    """max |a - b| relative to the size of b (scale-aware, fine for entries near 0)."""
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape, (a.shape, b.shape)
    return np.abs(a - b).max() / max(np.abs(b).max(), 1e-300)


def as_tuple(state):
    return state if isinstance(state, tuple) else (state,)


def join(cls, parts):
    return tuple(parts) if cls is LSTM else parts[0]


@pytest.mark.parametrize("with_state", [True, False], ids=["state0", "no_state0"])
@pytest.mark.parametrize("batch_first", [False, True], ids=["tbd", "btd"])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("num_layers", [1, 2, 3])
@pytest.mark.parametrize("kind", KINDS)
def test_layer_equals_torch(kind, num_layers, bidirectional, batch_first, with_state):
    cls, kwargs = KINDS[kind]
    rng = np.random.default_rng([len(kind), num_layers, bidirectional, batch_first, with_state])
    T, B, D, H = rng.integers(1, 6, size=4)
    K = 2 if bidirectional else 1
    layer = cls(D, H, num_layers=num_layers, bidirectional=bidirectional,
                batch_first=batch_first, rng=rng, **kwargs)
    module = layer.to_torch()

    x = rng.standard_normal((B, T, D) if batch_first else (T, B, D))
    n_parts = 2 if cls is LSTM else 1
    shape = (num_layers * K, B, H)
    parts0 = [rng.standard_normal(shape) if with_state else np.zeros(shape) for _ in range(n_parts)]
    out, state_n, cache = layer.forward(x, join(cls, parts0) if with_state else None)

    xt = torch.tensor(x, requires_grad=True)
    st = [torch.tensor(p, requires_grad=True) for p in parts0]
    out_t, state_t = module(xt, join(cls, st))

    dout = rng.standard_normal(out.shape)
    dparts_n = [rng.standard_normal(shape) for _ in range(n_parts)]
    loss = (out_t * torch.tensor(dout)).sum()
    loss = loss + sum((s * torch.tensor(d)).sum() for s, d in zip(as_tuple(state_t), dparts_n))
    loss.backward()
    dx, dstate0, grads = layer.backward(dout, cache, join(cls, dparts_n))

    assert rel_err(out, out_t.detach().numpy()) < 1e-9
    for ours, theirs in zip(as_tuple(state_n), as_tuple(state_t)):
        assert rel_err(ours, theirs.detach().numpy()) < 1e-9
    assert rel_err(dx, xt.grad.numpy()) < 1e-9
    for ours, theirs in zip(as_tuple(dstate0), st):
        assert rel_err(ours, theirs.grad.numpy()) < 1e-9
    assert list(grads) == list(layer.params) == list(module.state_dict())
    for name, p in module.named_parameters():
        assert rel_err(grads[name], p.grad.numpy()) < 1e-9, name


@pytest.mark.parametrize("kind", KINDS)
def test_dstate_n_defaults_to_zero(kind):
    cls, kwargs = KINDS[kind]
    layer = cls(2, 3, num_layers=2, rng=0, **kwargs)
    x = np.random.default_rng(0).standard_normal((4, 2, 2))
    out, state_n, cache = layer.forward(x)
    zeros = join(cls, [np.zeros_like(s) for s in as_tuple(state_n)])
    dout = np.ones_like(out)
    a = layer.backward(dout, cache)
    b = layer.backward(dout, cache, zeros)
    assert np.array_equal(a[0], b[0])
    assert all(np.array_equal(a[2][k], b[2][k]) for k in a[2])
    # the caller's arrays are read, never written
    assert not np.any(as_tuple(zeros)) and np.all(dout == 1)
    c = layer.backward(dout, cache)
    assert all(np.array_equal(a[2][k], c[2][k]) for k in a[2])      # the cache is reusable


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("bidirectional", [False, True])
def test_layer_parameter_count_and_round_trip(kind, bidirectional):
    torch.manual_seed(0)           # the module's initial weights (ReLU units can all be dead)
    cls, kwargs = KINDS[kind]
    module = getattr(torch.nn, cls.__name__)(3, 4, num_layers=2, bidirectional=bidirectional,
                                             batch_first=True, dropout=0.25, **kwargs).double()
    layer = cls.from_torch(module)
    assert layer.num_parameters() == sum(p.numel() for p in module.parameters())
    assert (layer.num_layers, layer.bidirectional, layer.batch_first, layer.dropout) == (2, bidirectional, True, 0.25)
    back = layer.to_torch()
    assert type(back) is type(module) and repr(back) == repr(module)
    assert list(back.state_dict()) == list(module.state_dict())
    for k, v in module.state_dict().items():
        assert torch.equal(back.state_dict()[k], v), k
    # layer.params is what forward reads, even after from_torch
    y1 = layer.eval().forward(np.ones((1, 2, 3)))[0]
    layer.params["weight_ih_l0"] = layer.params["weight_ih_l0"] * 2
    assert not np.allclose(layer.forward(np.ones((1, 2, 3)))[0], y1)


def test_gru_textbook_layer_finite_differences():
    layer = GRU(2, 3, num_layers=2, bidirectional=True, rng=1, variant="textbook")
    rng = np.random.default_rng(1)
    x, h0 = rng.standard_normal((4, 2, 2)), rng.standard_normal((4, 2, 3))
    w = rng.standard_normal((4, 2, 6))

    def loss(p):
        saved, layer.params = layer.params, {k: p[k] for k in layer.params}
        try:
            out, _, _ = layer.forward(p["x"], p["h0"])
        finally:
            layer.params = saved
        return float((out * w).sum())

    out, _, cache = layer.forward(x, h0)
    dx, dh0, grads = layer.backward(w, cache)
    errors = grad_check(loss, dict(layer.params, x=x, h0=h0), dict(grads, x=dx, h0=dh0),
                        num_checks=12, rng=0)
    assert max(errors.values()) < 1e-6, errors


def test_dropout_between_layers():
    layer = LSTM(3, 5, num_layers=3, dropout=0.5, rng=0)
    x = np.random.default_rng(0).standard_normal((6, 2, 3))
    out1 = layer.forward(x)[0]
    out2 = layer.forward(x)[0]
    assert not np.allclose(out1, out2)                      # fresh masks each call
    ref = layer.eval().forward(x)[0]
    assert np.array_equal(ref, layer.forward(x)[0])         # eval: deterministic
    torch_out = layer.to_torch().eval()(torch.tensor(x))[0].detach().numpy()
    assert rel_err(ref, torch_out) < 1e-9                   # eval: no dropout, like torch
    # training: the backward pass goes through the same masks (finite differences)
    layer.train()
    w = np.random.default_rng(1).standard_normal((6, 2, 5))
    out, _, cache = layer.forward(x)
    dx, _, grads = layer.backward(w, cache)
    masks = cache.masks
    assert masks[0] is None and all(set(np.unique(m)) <= {0.0, 2.0} for m in masks[1:])

    def loss(p):
        saved_params, saved_rng = layer.params, layer.rng
        layer.params = {k: p[k] for k in layer.params}
        layer.rng = _Replay(masks)
        try:
            return float((layer.forward(p["x"])[0] * w).sum())
        finally:
            layer.params, layer.rng = saved_params, saved_rng

    errors = grad_check(loss, dict(layer.params, x=x), dict(grads, x=dx), num_checks=5, rng=0)
    assert max(errors.values()) < 1e-6, errors


class _Replay:
    """Stands in for the layer's generator and returns draws that reproduce given masks."""

    def __init__(self, masks):
        self.masks = [m for m in masks if m is not None]

    def random(self, shape):
        m = self.masks.pop(0)
        assert m.shape == shape
        return np.where(m > 0, 0.99, 0.01)


def test_float32_layer():
    layer = GRU(3, 4, num_layers=2, bidirectional=True, rng=0, dtype=np.float32)
    ref = GRU(3, 4, num_layers=2, bidirectional=True, rng=0)
    x = np.random.default_rng(0).standard_normal((5, 2, 3))
    out, h_n, cache = layer.forward(x.astype(np.float32))
    assert out.dtype == h_n.dtype == np.float32
    assert rel_err(out, ref.forward(x)[0]) < 1e-5
    dx, dh0, grads = layer.backward(np.ones_like(out), cache)
    assert dx.dtype == dh0.dtype == np.float32
    assert all(g.dtype == np.float32 for g in grads.values())


def test_layer_bad_input():
    lstm = LSTM(3, 4, num_layers=2, bidirectional=True)
    with pytest.raises(ValueError, match=re.escape("x must have shape (T, B, D) = (*, *, 3), got (5, 2, 4)")):
        lstm.forward(np.zeros((5, 2, 4)))
    with pytest.raises(ValueError, match=re.escape("x must have shape (T, B, D) = (*, *, 3), got (5, 3)")):
        lstm.forward(np.zeros((5, 3)))
    h = np.zeros((4, 2, 4))
    with pytest.raises(ValueError, match=re.escape("state0[0] (h) must have shape (L*K, B, H) = (4, 2, 4), got (2, 2, 4)")):
        lstm.forward(np.zeros((5, 2, 3)), (np.zeros((2, 2, 4)), h))
    with pytest.raises(ValueError, match=re.escape("state0[1] (c) must have shape (L*K, B, H) = (4, 2, 4), got (4, 3, 4)")):
        lstm.forward(np.zeros((5, 2, 3)), (h, np.zeros((4, 3, 4))))
    with pytest.raises(ValueError, match=re.escape("state0 must be a pair (h, c)")):
        lstm.forward(np.zeros((5, 2, 3)), h)
    out, _, cache = lstm.forward(np.zeros((5, 2, 3)))
    with pytest.raises(ValueError, match=re.escape("dout must have shape (T, B, K*H) = (5, 2, 8), got (5, 2, 4)")):
        lstm.backward(np.zeros((5, 2, 4)), cache)

    gru = GRU(3, 4, batch_first=True)
    with pytest.raises(ValueError, match=re.escape("x must have shape (B, T, D) = (*, *, 3), got (2, 5, 2)")):
        gru.forward(np.zeros((2, 5, 2)))
    with pytest.raises(ValueError, match=re.escape("state0 must have shape (L*K, B, H) = (1, 2, 4), got (1, 5, 4)")):
        gru.forward(np.zeros((2, 5, 3)), np.zeros((1, 5, 4)))
    x = np.zeros((2, 5, 3))
    x[0, 4, 1] = np.inf
    with pytest.raises(ValueError, match=re.escape("x of shape (2, 5, 3) must be finite, got inf at index (0, 4, 1)")):
        gru.forward(x)
    h0 = np.zeros((1, 2, 4))
    h0[0, 1, 3] = np.nan
    with pytest.raises(ValueError, match=re.escape("state0 of shape (1, 2, 4) must be finite")):
        gru.forward(np.zeros((2, 5, 3)), h0)
    for p in (-0.1, 1.5, "0.5", None):
        with pytest.raises(ValueError, match=r"dropout must be a number in \[0, 1\]"):
            RNN(3, 4, dropout=p)


def test_dropout_checked_when_set_after_construction():
    layer = LSTM(3, 4, num_layers=2, rng=0)
    for p in (-0.1, 1.5, float("nan"), "0.5"):
        with pytest.raises(ValueError, match=r"dropout must be a number in \[0, 1\]"):
            layer.dropout = p
    assert layer.dropout == 0.0                              # a rejected value changes nothing


@pytest.mark.parametrize("kind", KINDS)
def test_dropout_one_zeroes_the_inputs_of_upper_layers(kind):
    # PyTorch accepts p = 1 and zeroes the inter-layer outputs; a training forward must
    # stay finite, not divide by 1 - p = 0
    cls, kwargs = KINDS[kind]
    layer = cls(3, 4, num_layers=2, rng=0, **kwargs)
    layer.dropout = 1
    x = np.random.default_rng(0).standard_normal((5, 2, 3))
    out, _, cache = layer.forward(x)
    assert np.isfinite(out).all()
    # layer 1 then sees zeros: its output is that of the top layer alone on a zero input
    top = cls(4, 4, rng=0, **kwargs)
    top.params = {k.replace("_l1", "_l0"): v for k, v in layer.params.items() if "_l1" in k}
    np.testing.assert_array_equal(out, top.forward(np.zeros((5, 2, 4)))[0])
    # nothing flows back into layer 0 or x
    dx, _, grads = layer.backward(np.ones_like(out), cache)
    assert not dx.any() and not grads["weight_ih_l0"].any()
    with torch.no_grad():
        module = layer.to_torch().train()
        torch_out = module(torch.tensor(x))[0].numpy()
    assert module.dropout == 1.0 and rel_err(out, torch_out) < 1e-12


def test_nonlinearity_and_variant_checked_when_set_and_reach_every_cell():
    rnn = RNN(3, 4, num_layers=2, bidirectional=True, rng=0)
    with pytest.raises(ValueError, match="nonlinearity must be one of"):
        rnn.nonlinearity = "sigmoid"
    rnn.nonlinearity = "relu"
    assert {c.nonlinearity for row in rnn.cells for c in row} == {"relu"}
    # the layer computes what it says: equal to torch's ReLU RNN
    x = np.random.default_rng(0).standard_normal((5, 2, 3))
    torch_out = rnn.to_torch()(torch.tensor(x))[0].detach().numpy()
    assert rnn.to_torch().nonlinearity == "relu" and rel_err(rnn.forward(x)[0], torch_out) < 1e-12
    gru = GRU(3, 4, num_layers=2, rng=0)
    with pytest.raises(ValueError, match="variant must be one of"):
        gru.variant = "minimal"
    gru.variant = "textbook"
    assert {c.variant for row in gru.cells for c in row} == {"textbook"}
    with pytest.raises(ValueError, match="variant='pytorch'"):
        gru.to_torch()


@pytest.mark.parametrize("name", ["input_size", "hidden_size", "num_layers", "bidirectional",
                                  "num_directions"])
def test_structure_is_read_only(name):
    # sizes are fixed by the weights' shapes: assigning one must fail, not desynchronise
    layer = GRU(3, 4, num_layers=2, rng=0)
    before = getattr(layer, name)
    with pytest.raises(AttributeError):
        setattr(layer, name, 7)
    assert getattr(layer, name) == before
    assert (layer.input_size, layer.hidden_size, layer.num_layers, layer.bidirectional) == (3, 4, 2, False)


@pytest.mark.parametrize("cls, kwargs", [(RNN, {"nonlinearity": "relu"}), (LSTM, {}), (GRU, {}),
                                         (GRU, {"variant": "textbook"})])
def test_layer_steps_equal_the_cell_and_cache_owns_its_arrays(cls, kwargs):
    # the layer writes each step into arrays allocated once per sequence: the result is
    # the cell's own step (up to rounding: the layer adds b_hh into the input projection),
    # and the cache must not share memory with out
    layer = cls(3, 4, rng=0, **kwargs)
    cell = layer.cells[0][0]
    x = np.random.default_rng(0).standard_normal((6, 2, 3))
    out, _, cache = layer.forward(x)
    state = None
    for t in range(len(x)):
        state, _ = cell.forward(x[t], state)
        h = state[0] if isinstance(state, tuple) else state
        np.testing.assert_allclose(out[t], h, rtol=1e-13, atol=1e-15)
    dout = np.random.default_rng(1).standard_normal(out.shape)
    expected = layer.backward(dout, cache)
    out *= 0.0                                            # the caller may reuse out
    again = layer.backward(dout, cache)
    assert np.array_equal(again[0], expected[0])
    assert all(np.array_equal(again[2][k], expected[2][k]) for k in expected[2])

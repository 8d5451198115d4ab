"""rnnlib.bptt: gradient clipping, truncated BPTT and the gradient checker itself."""

import numpy as np
import pytest
import torch

from rnnlib import GRU, LSTM, RNN
from rnnlib.bptt import clip_grad_norm, grad_check, numerical_grad, truncated_bptt


# ----------------------------------------------------------------------------- clip_grad_norm

def test_clip_grad_norm_equals_torch():
    rng = np.random.default_rng(0)
    grads = {"a": rng.standard_normal((3, 4)) * 5, "b": rng.standard_normal(7)}
    tensors = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads.values()]
    for t, g in zip(tensors, grads.values()):
        t.grad = torch.tensor(g)
    expected = float(torch.nn.utils.clip_grad_norm_(tensors, max_norm=2.0))
    norm = clip_grad_norm(grads, 2.0)
    assert abs(norm - expected) < 1e-12 * expected
    for t, g in zip(tensors, grads.values()):
        np.testing.assert_allclose(g, t.grad.numpy(), rtol=1e-12)
    after = np.sqrt(sum((g ** 2).sum() for g in grads.values()))
    assert after == pytest.approx(2.0, rel=1e-6)


def test_clip_grad_norm_leaves_small_gradients_alone():
    grads = {"w": np.array([0.3, -0.4])}
    assert clip_grad_norm(grads, 1.0) == pytest.approx(0.5)
    assert grads["w"].tolist() == [0.3, -0.4]


def test_clip_grad_norm_nonfinite():
    with pytest.raises(ValueError, match="total norm of grads is inf"):
        clip_grad_norm({"w": np.array([np.inf, 1.0])}, 1.0, error_if_nonfinite=True)
    with pytest.warns(RuntimeWarning, match="total norm of grads is nan"):
        clip_grad_norm({"w": np.array([np.nan, 1.0])}, 1.0)
    with pytest.raises(ValueError, match="max_norm must be > 0, got 0"):
        clip_grad_norm({"w": np.ones(2)}, 0)


# ----------------------------------------------------------------------------- truncated BPTT

def _loss_grad(targets, batch_first):
    """Squared error against ``targets``; returns (loss, dout) for the chunk starting at t0."""
    def loss_grad(out, t0):
        k = out.shape[1] if batch_first else out.shape[0]
        y = targets[:, t0:t0 + k] if batch_first else targets[t0:t0 + k]
        return 0.5 * float(((out - y) ** 2).sum()), out - y
    return loss_grad


@pytest.mark.parametrize("cls,batch_first", [(RNN, False), (LSTM, True), (GRU, False)])
def test_truncated_bptt_finite_differences(cls, batch_first):
    """The truncated gradient is the gradient of sum_c L_c(theta; s_c) with the chunk
    start states s_c held fixed, which is what finite differences are taken of here."""
    rng = np.random.default_rng(2)
    T, B, D, H, k = 7, 2, 2, 3, 3
    layer = cls(D, H, num_layers=2, batch_first=batch_first, rng=rng)
    shape = (B, T, D) if batch_first else (T, B, D)
    x = rng.standard_normal(shape)
    targets = rng.standard_normal(shape[:2] + (H,))
    loss_grad = _loss_grad(targets, batch_first)
    result = truncated_bptt(layer, x, k, loss_grad)

    # the state at the start of each chunk, computed once and then frozen
    starts, state = [], None
    for t0 in range(0, T, k):
        starts.append(state)
        chunk = x[:, t0:t0 + k] if batch_first else x[t0:t0 + k]
        _, state, _ = layer.forward(chunk, state)
    final_state = state

    def frozen_loss(p):
        saved, layer.params = layer.params, p
        try:
            total = 0.0
            for c, t0 in enumerate(range(0, T, k)):
                chunk = x[:, t0:t0 + k] if batch_first else x[t0:t0 + k]
                out, _, _ = layer.forward(chunk, starts[c])
                total += loss_grad(out, t0)[0]
            return total
        finally:
            layer.params = saved

    assert result.loss == pytest.approx(frozen_loss(layer.params), rel=1e-12)
    for got, want in zip(np.atleast_1d(result.state_n), np.atleast_1d(final_state)):
        np.testing.assert_array_equal(got, want)
    errors = grad_check(frozen_loss, {n: v.copy() for n, v in layer.params.items()}, result.grads)
    assert max(errors.values()) < 1e-6, errors


def test_truncation_changes_the_gradient_and_k_ge_T_is_full_bptt():
    rng = np.random.default_rng(4)
    T, B, D, H = 8, 2, 2, 3
    layer = RNN(D, H, rng=rng)
    x = rng.standard_normal((T, B, D))
    targets = rng.standard_normal((T, B, H))
    loss_grad = _loss_grad(targets, False)

    out, _, cache = layer.forward(x)
    loss, dout = loss_grad(out, 0)
    _, _, full = layer.backward(dout, cache)

    whole = truncated_bptt(layer, x, T, loss_grad)
    assert whole.loss == pytest.approx(loss, rel=1e-12)
    for name in full:
        np.testing.assert_allclose(whole.grads[name], full[name], rtol=1e-12)

    cut = truncated_bptt(layer, x, 2, loss_grad)
    assert cut.loss == pytest.approx(loss, rel=1e-12)       # same forward pass ...
    diff = np.abs(cut.grads["weight_hh_l0"] - full["weight_hh_l0"]).max()
    assert diff > 1e-3 * np.abs(full["weight_hh_l0"]).max()   # ... different gradient


def test_truncated_bptt_bad_k():
    with pytest.raises(ValueError, match="k must be >= 1, got 0"):
        truncated_bptt(RNN(1, 1), np.zeros((3, 1, 1)), 0, lambda out, t0: (0.0, out))


# ----------------------------------------------------------------------------- grad_check itself

def test_grad_check_detects_a_wrong_gradient():
    rng = np.random.default_rng(0)
    params = {"w": rng.standard_normal((3, 2)), "b": rng.standard_normal(2)}
    x = rng.standard_normal((4, 3))

    def f(p):
        return float(np.tanh(x @ p["w"] + p["b"]).sum())

    t = np.tanh(x @ params["w"] + params["b"])
    right = {"w": x.T @ (1 - t ** 2), "b": (1 - t ** 2).sum(0)}
    wrong = {"w": x.T @ (1 - t), "b": (1 - t ** 2).sum(0)}
    errors = grad_check(f, params, right)
    assert max(errors.values()) < 1e-8
    bad = grad_check(f, params, wrong)
    assert bad["w"] > 1e-2 and bad["b"] < 1e-8
    # params are restored after checking
    assert f(params) == pytest.approx(float(t.sum()), rel=1e-15)


def test_numerical_grad_subset():
    params = {"w": np.arange(6.0).reshape(2, 3)}
    g = numerical_grad(lambda p: float((p["w"] ** 2).sum()), params, num_checks=2, rng=0)
    checked = ~np.isnan(g["w"])
    assert checked.sum() == 2
    np.testing.assert_allclose(g["w"][checked], 2 * params["w"][checked], rtol=1e-8)


def test_grad_check_shape_mismatch():
    with pytest.raises(ValueError, match=r"grads\['w'\] must have the shape of params\['w'\] \(2,\), got \(3,\)"):
        grad_check(lambda p: 0.0, {"w": np.zeros(2)}, {"w": np.zeros(3)})

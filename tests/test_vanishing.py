"""Tests of rnnlib.vanishing: Jacobian products and input gradients against PyTorch autograd."""

import numpy as np
import pytest
import torch

from rnnlib import GRU, LSTM, RNN
from rnnlib.vanishing import (input_gradient_norms, jacobian_norms, spectral_radius,
                              step_jacobians, with_spectral_radius)


def _torch_jacobian(layer, x, t, k):
    """dh_t/dh_k (1-based t > k >= 0) of a one-layer torch RNN, by autograd, for sequence 0."""
    module = layer.to_torch()
    xs = torch.tensor(x[:, :1])
    h = torch.zeros(1, 1, layer.hidden_size, dtype=torch.float64)
    hs = [h]
    for s in range(x.shape[0]):
        _, h = module(xs[s:s + 1], hs[-1])
        hs.append(h)

    def f(hk):
        h = hk
        for s in range(k, t):
            _, h = module(xs[s:s + 1], h)
        return h.reshape(-1)

    return torch.autograd.functional.jacobian(f, hs[k].detach()).reshape(
        layer.hidden_size, layer.hidden_size).numpy()


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_jacobian_norms_match_autograd(nonlinearity):
    rng = np.random.default_rng(0)
    layer = RNN(3, 5, nonlinearity=nonlinearity, rng=1)
    layer.params["weight_hh_l0"][...] = with_spectral_radius(layer.params["weight_hh_l0"], 1.3)
    x = rng.standard_normal((7, 2, 3))
    norms = jacobian_norms(layer, x)
    assert norms.shape == (8, 2)
    assert np.allclose(norms[0], 1.0)
    T = 7
    for lag in [1, 3, 7]:
        J = _torch_jacobian(layer, x, T, T - lag)
        assert norms[lag, 0] == pytest.approx(np.linalg.norm(J, 2), rel=1e-10)


def test_step_jacobian_is_diag_times_w():
    layer = RNN(2, 3, rng=0)
    x = np.random.default_rng(1).standard_normal((4, 1, 2))
    J = step_jacobians(layer, x)
    out, _, _ = layer.forward(x)
    expected = np.diag(1 - out[2, 0] ** 2) @ layer.params["weight_hh_l0"]
    assert np.allclose(J[2, 0], expected)


def test_spectral_radius_scaling_sets_the_decay_rate():
    # a linear-regime RNN (tiny inputs, zero biases) forgets at the rate rho per step
    layer = RNN(1, 16, rng=0)
    for key in ["bias_ih_l0", "bias_hh_l0"]:
        layer.params[key][...] = 0.0
    w = layer.params["weight_hh_l0"]
    w[...] = with_spectral_radius(w, 0.5)
    assert spectral_radius(w) == pytest.approx(0.5)
    norms = jacobian_norms(layer, np.zeros((40, 1, 1)))[:, 0]
    rate = (norms[40] / norms[20]) ** (1 / 20)
    assert rate == pytest.approx(0.5, rel=0.05)


@pytest.mark.parametrize("cls", [RNN, LSTM, GRU])
def test_input_gradient_norms_match_autograd(cls):
    layer = cls(2, 4, rng=0)
    x = np.random.default_rng(3).standard_normal((6, 3, 2))
    norms = input_gradient_norms(layer, x)
    module = layer.to_torch()
    xt = torch.tensor(x, requires_grad=True)
    out, _ = module(xt)
    (out[-1] @ torch.full((4,), 0.5, dtype=torch.float64)).sum().backward()
    expected = np.linalg.norm(xt.grad.numpy()[::-1], axis=2)
    assert np.allclose(norms, expected, rtol=1e-10, atol=1e-14)


def test_bad_input_raises():
    with pytest.raises(ValueError, match="square"):
        spectral_radius(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="rho"):
        with_spectral_radius(np.eye(2), -1.0)
    with pytest.raises(TypeError, match="rnnlib.RNN"):
        jacobian_norms(LSTM(1, 2, rng=0), np.zeros((3, 1, 1)))
    with pytest.raises(ValueError, match="num_layers=1"):
        jacobian_norms(RNN(1, 2, num_layers=2, rng=0), np.zeros((3, 1, 1)))
    with pytest.raises(ValueError, match=r"u must have shape"):
        input_gradient_norms(RNN(1, 2, rng=0), np.zeros((3, 1, 1)), u=np.ones(3))

"""rnnlib.init: PyTorch's default, orthogonal, identity and forget-gate-bias initialisers."""

import numpy as np
import pytest

from rnnlib import GRU, LSTM, LSTMCell, RNN, RNNCell
from rnnlib.init import forget_bias_, identity_, orthogonal_, uniform_


def test_default_init_is_pytorch_uniform():
    H = 16
    lstm = LSTM(5, H, num_layers=2, bidirectional=True, rng=0)
    bound = 1 / np.sqrt(H)
    values = np.concatenate([p.ravel() for p in lstm.params.values()])
    assert np.abs(values).max() <= bound
    # spread over the whole interval, not a constant or a narrow band
    assert values.min() < -0.9 * bound and values.max() > 0.9 * bound
    assert abs(values.mean()) < 0.05 * bound
    # seeded: same rng, same weights; different rng, different weights
    again = LSTM(5, H, num_layers=2, bidirectional=True, rng=0)
    other = LSTM(5, H, num_layers=2, bidirectional=True, rng=1)
    assert all(np.array_equal(again.params[k], v) for k, v in lstm.params.items())
    assert not np.array_equal(other.params["weight_hh_l0"], lstm.params["weight_hh_l0"])


@pytest.mark.parametrize("layer", [RNN(3, 4, num_layers=2, rng=0), GRU(3, 4, bidirectional=True, rng=0),
                                   LSTM(3, 4, rng=0)], ids=["rnn", "gru", "lstm"])
def test_orthogonal_blocks(layer):
    before = {k: v.copy() for k, v in layer.params.items()}
    orthogonal_(layer.params, rng=0)
    H = layer.hidden_size
    for key, w in layer.params.items():
        if key.startswith("weight_hh"):
            for k in range(w.shape[0] // H):
                q = w[k * H:(k + 1) * H]
                np.testing.assert_allclose(q @ q.T, np.eye(H), atol=1e-12)
            assert not np.array_equal(w, before[key])
        else:                                        # input weights and biases untouched
            np.testing.assert_array_equal(w, before[key])


def test_orthogonal_gain_and_spectrum():
    cell = RNNCell(2, 8, rng=0)
    orthogonal_(cell.params, gain=0.5, rng=3)
    singular = np.linalg.svd(cell.params["weight_hh"], compute_uv=False)
    np.testing.assert_allclose(singular, 0.5, rtol=1e-12)


def test_identity_is_irnn():
    rnn = RNN(2, 3, nonlinearity="relu", rng=0)
    identity_(rnn.params, scale=1.0)
    np.testing.assert_array_equal(rnn.params["weight_hh_l0"], np.eye(3))
    assert not rnn.params["bias_ih_l0"].any() and not rnn.params["bias_hh_l0"].any()
    # with zero input, a positive state is carried unchanged through any number of steps
    h0 = np.array([[[0.5, 1.0, 2.0]]])
    out, h_n, _ = rnn.forward(np.zeros((20, 1, 2)), h0)
    np.testing.assert_array_equal(h_n, h0)


def test_forget_bias():
    cell = LSTMCell(3, 4, rng=0)
    before = {k: v.copy() for k, v in cell.params.items()}
    forget_bias_(cell.params, 1.0)
    H = 4
    total = cell.params["bias_ih"] + cell.params["bias_hh"]
    np.testing.assert_array_equal(total[H:2 * H], 1.0)
    for key in ("bias_ih", "bias_hh"):                  # other gates untouched
        np.testing.assert_array_equal(np.delete(cell.params[key], np.s_[H:2 * H]),
                                      np.delete(before[key], np.s_[H:2 * H]))
    # with zero weights and input, sigmoid(1) of the old cell state survives a step
    for key in ("weight_ih", "weight_hh"):
        cell.params[key][:] = 0
    c0 = np.ones((1, H))
    (_, c1), _ = cell.forward(np.zeros((1, 3)), (np.zeros((1, H)), c0))
    i = 1 / (1 + np.exp(-total[:H]))
    g = np.tanh(total[2 * H:3 * H])
    np.testing.assert_allclose(c1[0], 1 / (1 + np.exp(-1.0)) * 1.0 + i * g, rtol=1e-12)


def test_forget_bias_needs_an_lstm():
    with pytest.raises(ValueError, match=r"bias_ih must have the LSTM shape \(4H,\) = \(16,\), got \(12,\)"):
        forget_bias_(GRU(2, 4, rng=0).cells[0][0].params)


def test_uniform_on_a_plain_dict():
    params = {"weight_hh": np.zeros((6, 3)), "bias_ih": np.zeros(6)}
    uniform_(params, rng=0)
    assert 0 < np.abs(params["weight_hh"]).max() <= 1 / np.sqrt(3)
    with pytest.raises(ValueError, match="params must contain a 'weight_hh...' entry"):
        uniform_({"bias": np.zeros(2)})

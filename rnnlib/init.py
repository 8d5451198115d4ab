"""Initialisers that act on a ``params`` dict in place (and return it).

They work on the parameters of any cell or layer in :mod:`rnnlib` (and on a PyTorch
``state_dict()`` converted to NumPy), because the keys follow PyTorch's names:
``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh`` for a cell, and the same with a
``_l{k}`` (and ``_reverse``) suffix for a layer. The recurrent matrix ``weight_hh`` is
``(G*H, H)``: ``G`` gate blocks of ``(H, H)`` stacked, with ``G`` = 1 (RNN), 3 (GRU,
order r, z, n) or 4 (LSTM, order i, f, g, o).

- :func:`uniform_` -- PyTorch's default: every entry from ``U(-1/sqrt(H), 1/sqrt(H))``.
- :func:`orthogonal_` -- each ``(H, H)`` recurrent block a random orthogonal matrix, so
  the linear part of the recurrence neither shrinks nor grows a vector (Saxe et al.).
- :func:`identity_` -- each recurrent block ``scale * I`` and biases 0: the IRNN of
  Le, Jaitly & Hinton (2015), meant for ReLU RNNs.
- :func:`forget_bias_` -- LSTM forget-gate bias set so the cell remembers by default
  (Gers et al. 2000; Jozefowicz et al. 2015).

>>> from rnnlib.cells import LSTMCell
>>> cell = LSTMCell(3, 2, rng=0)
>>> _ = forget_bias_(orthogonal_(cell.params, rng=0))
>>> block = cell.params["weight_hh"][:2]          # the input gate's (H, H) block
>>> bool(np.allclose(block @ block.T, np.eye(2)))
True
>>> (cell.params["bias_ih"][2:4] + cell.params["bias_hh"][2:4]).tolist()
[1.0, 1.0]
"""

from __future__ import annotations

import numpy as np

__all__ = ["uniform_", "orthogonal_", "identity_", "forget_bias_", "hidden_size_of"]


def hidden_size_of(params):
    """The hidden size ``H``, read from the first ``weight_hh*`` entry (shape ``(G*H, H)``)."""
    for key, value in params.items():
        if key.startswith("weight_hh"):
            return value.shape[1]
    raise ValueError(f"params must contain a 'weight_hh...' entry, got keys {sorted(params)}")


def _blocks(w, H):
    """Views of the ``(H, H)`` gate blocks of a recurrent matrix ``w`` of shape ``(G*H, H)``."""
    if w.ndim != 2 or w.shape[1] != H or w.shape[0] % H:
        raise ValueError(f"weight_hh must have shape (G*H, H) = (*, {H}), got {w.shape}")
    return [w[k * H:(k + 1) * H] for k in range(w.shape[0] // H)]


def uniform_(params, rng=None):
    """Fill every entry from ``U(-1/sqrt(H), 1/sqrt(H))``, PyTorch's default for RNNs.

    >>> p = uniform_({"weight_hh": np.zeros((4, 4)), "bias_hh": np.zeros(4)}, rng=0)
    >>> bool(np.abs(p["weight_hh"]).max() <= 0.5)
    True
    """
    rng = np.random.default_rng(rng)
    bound = 1.0 / np.sqrt(hidden_size_of(params))
    for value in params.values():
        value[...] = rng.uniform(-bound, bound, size=value.shape)
    return params


def orthogonal_(params, gain=1.0, rng=None):
    """Make each ``(H, H)`` block of every ``weight_hh*`` a random orthogonal matrix times ``gain``.

    An orthogonal ``Q`` is drawn as the ``Q`` of the QR decomposition of a Gaussian
    matrix, with column signs fixed by ``sign(diag(R))`` so that it is uniformly
    distributed (Haar measure). Input weights and biases are left alone.
    """
    rng = np.random.default_rng(rng)
    H = hidden_size_of(params)
    for key, w in params.items():
        if key.startswith("weight_hh"):
            for block in _blocks(w, H):
                q, r = np.linalg.qr(rng.standard_normal((H, H)))
                # flip columns so diag(R) > 0: makes the draw uniform over orthogonal matrices
                block[...] = gain * q * np.sign(np.diag(r))
    return params


def identity_(params, scale=1.0):
    """Set each recurrent block to ``scale * I`` and every bias to 0 (IRNN initialisation).

    With a ReLU RNN this starts as "copy the state forward and add the input", which
    carries information over long spans; ``scale`` slightly below 1 lowers the risk of
    the state (and its gradient) growing without bound.

    >>> p = identity_({"weight_hh": np.ones((2, 2)), "bias_hh": np.ones(2)}, scale=0.9)
    >>> p["weight_hh"].tolist(), p["bias_hh"].tolist()
    ([[0.9, 0.0], [0.0, 0.9]], [0.0, 0.0])
    """
    H = hidden_size_of(params)
    for key, value in params.items():
        if key.startswith("weight_hh"):
            for block in _blocks(value, H):
                block[...] = scale * np.eye(H)
        elif key.startswith("bias"):
            value[...] = 0.0
    return params


def forget_bias_(params, value=1.0):
    """Give every LSTM forget gate the total bias ``value`` (``bias_ih`` part ``value``, ``bias_hh`` part 0).

    PyTorch adds two biases, ``b_ih + b_hh``; the forget gate is the second of the four
    blocks (i, f, g, o). ``sigmoid(1) ~ 0.73``, so the cell starts out keeping most of its
    memory instead of halving it each step.
    """
    H = hidden_size_of(params)
    found = False
    for key, b in params.items():
        if key.startswith("bias_ih") or key.startswith("bias_hh"):
            if b.shape != (4 * H,):
                raise ValueError(f"{key} must have the LSTM shape (4H,) = ({4 * H},), "
                                 f"got {b.shape}")
            b[H:2 * H] = value if key.startswith("bias_ih") else 0.0
            found = True
    if not found:
        raise ValueError(f"params must contain 'bias_ih...' entries, got keys {sorted(params)}")
    return params

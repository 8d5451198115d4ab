"""Measuring how gradients shrink or grow as they travel back through time.

In an Elman RNN, ``h_t = phi(a_t)`` with ``a_t = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh``,
so one step back multiplies a gradient by the step Jacobian

.. math::
    J_t = \\frac{\\partial h_t}{\\partial h_{t-1}} = \\operatorname{diag}(\\phi'(a_t))\\, W_{hh},

and ``l`` steps back by the product ``dh_T/dh_{T-l} = J_T J_{T-1} ... J_{T-l+1}``
(Bengio, Simard & Frasconi 1994; Pascanu, Mikolov & Bengio 2013). Its norm against the
lag ``l`` is the quantity chapter 4 plots.

- :func:`spectral_radius` and :func:`with_spectral_radius` read and set the largest
  eigenvalue modulus of a square matrix.
- :func:`step_jacobians` returns every ``J_t`` of a one-layer RNN run on a sequence.
- :func:`jacobian_norms` returns ``||dh_T/dh_{T-l}||`` for every lag ``l``.
- :func:`input_gradient_norms` returns ``||d(u . h_T)/dx_{T-l}||`` using the layer's own
  backward pass, so it works for any :mod:`rnnlib` layer (RNN, LSTM, GRU).

Shapes: T time, B batch, D input features, H hidden units.

>>> import numpy as np
>>> from rnnlib import RNN
>>> rnn = RNN(3, 8, rng=0)
>>> rnn.params["weight_hh_l0"][...] = with_spectral_radius(rnn.params["weight_hh_l0"], 0.5)
>>> norms = jacobian_norms(rnn, np.zeros((20, 1, 3)))          # (T+1, B)
>>> norms.shape, float(norms[0, 0])
((21, 1), 1.0)
>>> bool(norms[20, 0] < 1e-3)                                   # vanished after 20 steps
True
"""

from __future__ import annotations

import numpy as np

from rnnlib._checks import check_array
from rnnlib.layers import RNN, _Layer

__all__ = ["spectral_radius", "with_spectral_radius", "step_jacobians", "jacobian_norms",
           "input_gradient_norms"]


def _check_square(name, w):
    w = np.asarray(w)
    if w.ndim != 2 or w.shape[0] != w.shape[1]:
        raise ValueError(f"{name} must be a square matrix (H, H), got shape {w.shape}")
    return w


def spectral_radius(w):
    """The largest modulus of the eigenvalues of the square matrix ``w`` (H, H).

    >>> round(spectral_radius(np.array([[0.0, 2.0], [-2.0, 0.0]])), 12)   # eigenvalues +-2i
    2.0
    """
    w = _check_square("w", w)
    return float(np.abs(np.linalg.eigvals(w)).max())


def with_spectral_radius(w, rho):
    """A copy of ``w`` (H, H) rescaled so that its spectral radius is ``rho``.

    Scaling a matrix scales all its eigenvalues by the same factor, so the shape of the
    spectrum is kept and only its size changes.

    >>> w = with_spectral_radius(np.array([[1.0, 1.0], [0.0, 0.5]]), 0.9)
    >>> round(spectral_radius(w), 12)
    0.9
    """
    w = _check_square("w", w)
    if not rho >= 0:
        raise ValueError(f"rho must be >= 0, got {rho}")
    current = spectral_radius(w)
    if current == 0:
        raise ValueError("w has spectral radius 0 (nilpotent); it cannot be rescaled to rho")
    return w * (rho / current)


def _rnn_forward(layer, x, state0):
    """Checks and runs a one-layer, one-direction :class:`~rnnlib.layers.RNN`; ``h`` as (T+1, B, H)."""
    if not isinstance(layer, RNN):
        raise TypeError(f"layer must be an rnnlib.RNN, got {type(layer).__name__}")
    if layer.num_layers != 1 or layer.bidirectional:
        raise ValueError("layer must have num_layers=1 and bidirectional=False, got "
                         f"num_layers={layer.num_layers}, bidirectional={layer.bidirectional}")
    if layer.batch_first:
        raise ValueError("layer must have batch_first=False (x is (T, B, D)), got True")
    out, _, _ = layer.forward(x, state0)                               # (T, B, H)
    x = np.asarray(x)
    T, B, H = out.shape
    h0 = np.zeros((B, H)) if state0 is None else np.asarray(state0)[0]
    return np.concatenate([h0[None], out])                             # (T+1, B, H)


def step_jacobians(layer, x, state0=None):
    """Every step Jacobian ``J_t = dh_t/dh_{t-1} = diag(phi'(a_t)) W_hh`` of an RNN run on ``x``.

    ``layer`` is a one-layer, one-direction :class:`~rnnlib.layers.RNN` (tanh or ReLU), ``x``
    (T, B, D), ``state0`` (1, B, H) or None. Returns an array (T, B, H, H) whose entry
    ``[t-1]`` is ``J_t``. ``phi'`` is read off the state: ``1 - h_t^2`` for tanh,
    ``[h_t > 0]`` for ReLU.

    >>> from rnnlib import RNN
    >>> rnn = RNN(1, 2, rng=0)
    >>> step_jacobians(rnn, np.zeros((4, 3, 1))).shape
    (4, 3, 2, 2)
    """
    h = _rnn_forward(layer, x, state0)                                 # (T+1, B, H)
    h_next = h[1:]                                                     # (T, B, H)
    if layer.nonlinearity == "tanh":
        dphi = 1.0 - h_next * h_next
    else:
        dphi = (h_next > 0).astype(h.dtype)
    w_hh = layer.params["weight_hh_l0"]
    # diag(phi') W_hh: scale row i of W_hh by phi'_i
    return dphi[..., :, None] * w_hh                                   # (T, B, H, H)


def jacobian_norms(layer, x, state0=None, ord=2):
    """Norms of ``dh_T/dh_{T-l}`` for every lag ``l = 0, 1, ..., T``.

    ``dh_T/dh_{T-l} = J_T J_{T-1} ... J_{T-l+1}`` (the identity for ``l = 0``), with the
    step Jacobians of :func:`step_jacobians`. ``ord`` is passed to
    :func:`numpy.linalg.norm` (2: the largest singular value; ``"fro"``: Frobenius).

    Returns an array (T+1, B): row ``l`` holds the norm for lag ``l`` for each sequence.

    >>> from rnnlib import RNN
    >>> rnn = RNN(1, 3, rng=0)
    >>> jacobian_norms(rnn, np.zeros((5, 2, 1))).shape
    (6, 2)
    """
    J = step_jacobians(layer, x, state0)                               # (T, B, H, H)
    T, B, H, _ = J.shape
    product = np.broadcast_to(np.eye(H), (B, H, H)).copy()             # (B, H, H)
    norms = np.empty((T + 1, B))
    norms[0] = np.linalg.norm(product, ord=ord, axis=(1, 2))
    for lag in range(1, T + 1):
        # dh_T/dh_{T-lag} = dh_T/dh_{T-lag+1} @ J_{T-lag+1}
        product = product @ J[T - lag]
        norms[lag] = np.linalg.norm(product, ord=ord, axis=(1, 2))
    return norms


def input_gradient_norms(layer, x, state0=None, u=None):
    """Norms of the gradient of ``u . h_T`` (the top layer's last output) with respect to each input.

    Runs ``layer.forward`` and ``layer.backward`` with a loss that reads only the last
    step, ``L = sum_b u . out[T-1, b]``, so ``dx[t]`` is exactly what backpropagation
    through time delivers to the input ``l = T-1-t`` steps before the loss.
    ``u`` (K*H,) defaults to ``1/sqrt(K*H)`` in every entry (a unit vector).
    Works for any :mod:`rnnlib` layer (RNN, LSTM, GRU; ``batch_first=False``).

    Returns an array (T, B): row ``l`` holds ``||dL/dx_{T-1-l}||`` for each sequence.

    >>> from rnnlib import LSTM
    >>> lstm = LSTM(2, 4, rng=0)
    >>> input_gradient_norms(lstm, np.ones((6, 3, 2))).shape
    (6, 3)
    """
    if not isinstance(layer, _Layer):
        raise TypeError(f"layer must be an rnnlib RNN, LSTM or GRU, got {type(layer).__name__}")
    if layer.batch_first:
        raise ValueError("layer must have batch_first=False (x is (T, B, D)), got True")
    out, _, cache = layer.forward(x, state0)                           # (T, B, K*H)
    T, B, KH = out.shape
    if u is None:
        u = np.full(KH, 1.0 / np.sqrt(KH))
    u = check_array("u", u, (KH,), "(K*H,)", out.dtype)
    dout = np.zeros_like(out)
    dout[-1] = u
    dx, _, _ = layer.backward(dout, cache)                             # (T, B, D)
    return np.linalg.norm(dx[::-1], axis=2)                            # (T, B), lag-major

"""Tools around backpropagation through time: clipping, truncation and gradient checking.

- :func:`clip_grad_norm` rescales a dict of gradients so their joint norm is at most
  ``max_norm`` (Pascanu, Mikolov & Bengio 2013), as ``torch.nn.utils.clip_grad_norm_``.
- :func:`truncated_bptt` runs a layer over a long sequence in chunks of ``k`` steps:
  the state is carried from chunk to chunk, but no gradient flows back across a chunk
  boundary (Williams & Peng 1990). Memory is O(k) instead of O(T); the price is that
  no dependency longer than ``k`` steps is learned from the gradient.
- :func:`grad_check` compares analytic gradients with central differences, for any
  scalar function of a dict of arrays.

Shapes: T time, B batch, D input, H hidden.
"""

from __future__ import annotations

import warnings
from typing import NamedTuple

import numpy as np

from rnnlib._checks import check_size

__all__ = ["clip_grad_norm", "truncated_bptt", "TBPTTResult", "numerical_grad", "grad_check"]


def clip_grad_norm(grads, max_norm, error_if_nonfinite=False):
    r"""Scale every gradient in ``grads`` (in place) so their joint L2 norm is at most ``max_norm``.

    .. math::
        \|g\| = \sqrt{\textstyle\sum_k \|g_k\|^2}, \qquad
        g_k \leftarrow g_k \cdot \min\Big(1, \frac{\text{max\_norm}}{\|g\| + 10^{-6}}\Big)

    (the ``1e-6`` as in ``torch.nn.utils.clip_grad_norm_``). The direction of the update
    is kept; only its length is capped. Returns the norm *before* clipping.

    A non-finite norm (an overflow somewhere) raises ``ValueError`` if
    ``error_if_nonfinite``, else warns (the gradients then become NaN, as in PyTorch).

    >>> g = {"w": np.array([3.0, 0.0]), "b": np.array([4.0])}
    >>> float(clip_grad_norm(g, 1.0))
    5.0
    >>> [round(float(v), 4) for v in np.concatenate([g["w"], g["b"]])]
    [0.6, 0.0, 0.8]
    """
    if not max_norm > 0:
        raise ValueError(f"max_norm must be > 0, got {max_norm}")
    total = float(np.sqrt(sum(float(np.sum(np.square(g))) for g in grads.values())))
    if not np.isfinite(total):
        message = f"the total norm of grads is {total}; clipping cannot repair it"
        if error_if_nonfinite:
            raise ValueError(message)
        warnings.warn(message, RuntimeWarning, stacklevel=2)
    scale = min(1.0, max_norm / (total + 1e-6))
    if scale < 1.0 or not np.isfinite(total):
        for g in grads.values():
            g *= scale
    return total


class TBPTTResult(NamedTuple):
    """What :func:`truncated_bptt` returns."""
    loss: float        # sum of the chunk losses
    grads: dict        # summed parameter gradients, keys of layer.params
    state_n: object    # final state, as returned by layer.forward


def truncated_bptt(layer, x, k, loss_grad, state0=None):
    """Forward and backward over ``x`` in chunks of ``k`` steps, the state carried but detached.

    For each chunk ``x[t0:t0+k]`` (along the time axis; the last chunk may be shorter):

    1. ``out, state, cache = layer.forward(chunk, state)`` starting from the previous
       chunk's final state, treated as a constant;
    2. ``loss_c, dout = loss_grad(out, t0)`` -- the caller's loss on this chunk and its
       gradient with respect to ``out``;
    3. ``layer.backward(dout, cache)`` with no gradient arriving at the final state and
       the gradient of the initial state thrown away: this is the truncation.

    Returns a :class:`TBPTTResult` with the summed loss, the summed gradients and the
    final state. With ``k >= T`` this is ordinary BPTT.

    >>> from rnnlib import RNN
    >>> rnn = RNN(1, 2, rng=0)
    >>> x = np.ones((10, 1, 1))                                    # (T, B, D)
    >>> res = truncated_bptt(rnn, x, k=4, loss_grad=lambda out, t0: (out.sum(), np.ones_like(out)))
    >>> res.grads["weight_hh_l0"].shape, res.state_n.shape
    ((2, 2), (1, 1, 2))
    """
    k = check_size("k", k)
    x = np.asarray(x)
    axis = 1 if layer.batch_first else 0
    if x.ndim != 3:
        raise ValueError(f"x must have shape {'(B, T, D)' if axis else '(T, B, D)'}, got {x.shape}")
    T = x.shape[axis]
    total_loss = 0.0
    grads = {name: np.zeros_like(p) for name, p in layer.params.items()}
    state = state0
    for t0 in range(0, T, k):
        chunk = x[:, t0:t0 + k] if axis else x[t0:t0 + k]
        out, state, cache = layer.forward(chunk, state)
        loss, dout = loss_grad(out, t0)
        # dstate_n=None: nothing flows back from the future; dstate0 is dropped: nor to the past
        _, _, chunk_grads = layer.backward(dout, cache)
        for name, g in chunk_grads.items():
            grads[name] += g
        total_loss += float(loss)
    return TBPTTResult(total_loss, grads, state)


def numerical_grad(f, params, eps=1e-6, keys=None, num_checks=None, rng=None):
    """Central-difference gradient of the scalar ``f(params)`` with respect to each array.

    ``df/dp[j] ~ (f(p + eps e_j) - f(p - eps e_j)) / (2 eps)``, one entry at a time
    (the arrays are modified in place and restored). With ``num_checks``, only that many
    random entries per array are estimated; the others are NaN.
    Returns a dict with the keys (or ``keys``) of ``params``.
    """
    rng = np.random.default_rng(rng)
    numeric = {}
    for key in (keys if keys is not None else params):
        p = params[key]
        if not (isinstance(p, np.ndarray) and p.dtype.kind == "f"):
            raise TypeError(f"params[{key!r}] must be a floating NumPy array, got {type(p).__name__}")
        g = np.full(p.shape, np.nan)
        flat = range(p.size) if num_checks is None else rng.choice(p.size, min(num_checks, p.size), replace=False)
        for j in flat:
            idx = np.unravel_index(j, p.shape)
            old = p[idx]
            p[idx] = old + eps
            f_plus = f(params)
            p[idx] = old - eps
            f_minus = f(params)
            p[idx] = old
            g[idx] = (f_plus - f_minus) / (2 * eps)
        numeric[key] = g
    return numeric


def grad_check(f, params, grads, eps=1e-6, num_checks=None, rng=None):
    """Compare analytic ``grads`` with central differences of the scalar ``f(params)``.

    For each key of ``grads`` returns the relative error

    .. math::  \\frac{\\max_j |g_j - \\hat g_j|}{\\max_j |\\hat g_j|}

    where ``g`` is the analytic gradient and ``\\hat g`` the numerical one (over the checked
    entries ``j``). Normalising by the array's largest entry, rather than entry by entry,
    keeps entries that are nearly zero from reporting a large error for a tiny absolute
    one. In float64 with ``eps=1e-6`` a correct gradient usually gives < 1e-7.

    >>> w = {"w": np.array([1.0, -2.0])}
    >>> f = lambda p: float(np.sum(p["w"] ** 3))
    >>> err = grad_check(f, w, {"w": 3 * w["w"] ** 2})
    >>> bool(err["w"] < 1e-8)
    True
    >>> bool(grad_check(f, w, {"w": 2 * w["w"]})["w"] > 0.1)      # a wrong gradient
    True
    """
    numeric = numerical_grad(f, params, eps=eps, keys=list(grads), num_checks=num_checks, rng=rng)
    errors = {}
    for key, g in grads.items():
        g = np.asarray(g)
        if g.shape != params[key].shape:
            raise ValueError(f"grads[{key!r}] must have the shape of params[{key!r}] "
                             f"{params[key].shape}, got {g.shape}")
        checked = ~np.isnan(numeric[key])
        diff = np.abs(g[checked] - numeric[key][checked]).max(initial=0.0)
        scale = np.abs(numeric[key][checked]).max(initial=0.0)
        errors[key] = float(diff / scale) if scale > 0 else float(diff)
    return errors

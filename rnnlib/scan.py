"""Linear recurrences, the parallel scan, and a tiny selective state-space model.

A *linear* recurrence

    h_t = a_t * h_{t-1} + b_t,        t = 1..T, h_0 given,

(elementwise products) has no nonlinearity between steps, so its steps compose: two steps
``(a_1, b_1)`` then ``(a_2, b_2)`` act like the single step ``(a_1 a_2, a_2 b_1 + b_2)``.
That combination is associative, so all T prefixes can be computed by a *parallel scan*
in ceil(log2 T) rounds of elementwise work instead of T sequential steps
(Hillis and Steele's scan; Blelloch 1990 gives the work-efficient version). The state-space
models S4 and Mamba, and linear RNNs such as LRU, are built on this recurrence.

- :func:`linear_recurrence_loop` -- the recurrence, one step after another.
- :func:`linear_recurrence_scan` -- the same values by a parallel (associative) scan.
  Both accept NumPy arrays or PyTorch tensors (the scan is differentiable in PyTorch).
- :class:`SelectiveSSM` -- a diagonal state-space layer in the style of Mamba, whose
  step size and input/output maps depend on the input (``selective=True``) or are
  fixed (``selective=False``, a linear time-invariant SSM).
- :class:`SSMModel` -- embedding, residual SSM blocks with a SiLU gate, and a readout.
- :func:`selective_copy_batch` -- the selective-copy task of the Mamba paper.

Axis letters: B batch, T time, D channels, N state size per channel, V vocabulary.

>>> a = np.full(5, 0.5); b = np.arange(5.0)
>>> linear_recurrence_loop(a, b).tolist()
[0.0, 1.0, 2.5, 4.25, 6.125]
>>> np.allclose(linear_recurrence_scan(a, b), linear_recurrence_loop(a, b))
True
>>> scan_rounds(5)
3
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["linear_recurrence_loop", "linear_recurrence_scan", "scan_rounds",
           "SelectiveSSM", "SSMModel", "selective_copy_batch"]


def _check_ab(a, b):
    if tuple(a.shape) != tuple(b.shape):
        raise ValueError(f"a, b: expected equal shapes (T, ...), got {tuple(a.shape)} "
                         f"and {tuple(b.shape)}")
    if a.ndim < 1:
        raise ValueError(f"a: expected shape (T, ...) with at least one axis, got {tuple(a.shape)}")


def linear_recurrence_loop(a, b, h0=None):
    """h_t = a_t * h_{t-1} + b_t, computed step by step.

    Args:
        a, b: (T, ...) arrays or tensors of equal shape (time first).
        h0: initial state, broadcastable to ``a[0]``; zero when None.

    Returns:
        h: (T, ...), h[t] the state after step t (h_0 excluded).
    """
    _check_ab(a, b)
    h = b[0] if h0 is None else a[0] * h0 + b[0]
    out = [h]
    for t in range(1, a.shape[0]):
        # h_t = a_t h_{t-1} + b_t
        h = a[t] * h + b[t]
        out.append(h)
    return torch.stack(out) if isinstance(a, torch.Tensor) else np.stack(out)


def _shift(x, k, fill):
    """x shifted k steps later along time, the first k entries set to ``fill``."""
    if isinstance(x, torch.Tensor):
        pad = torch.full_like(x[:k], fill)
        return torch.cat([pad, x[:-k]])
    return np.concatenate([np.full_like(x[:k], fill), x[:-k]])


def scan_rounds(T: int) -> int:
    """Number of rounds the parallel scan needs for T steps: ceil(log2 T)."""
    return math.ceil(math.log2(T)) if T > 1 else 0


def linear_recurrence_scan(a, b, h0=None):
    """The values of :func:`linear_recurrence_loop`, by a parallel (Hillis-Steele) scan.

    Step t is the affine map h -> a_t h + b_t. Round r replaces every (A_t, B_t) by its
    composition with (A_{t-k}, B_{t-k}), k = 2^r:

        (A_t, B_t) <- (A_{t-k} A_t,  A_t B_{t-k} + B_t)

    after which (A_t, B_t) composes steps max(1, t - 2k + 1)..t. After ceil(log2 T)
    rounds B_t = h_t (with h_0 = 0). Each round is elementwise over all t at once:
    depth O(log T), work O(T log T).

    Args and returns as :func:`linear_recurrence_loop`.
    """
    _check_ab(a, b)
    if h0 is not None:
        b = torch.cat([(a[0] * h0 + b[0])[None], b[1:]]) if isinstance(b, torch.Tensor) \
            else np.concatenate([(a[0] * h0 + b[0])[None], b[1:]])
    A, B = a, b
    k = 1
    while k < a.shape[0]:
        # compose with the block ending k steps earlier (identity map (1, 0) before t = 1)
        A_prev, B_prev = _shift(A, k, 1.0), _shift(B, k, 0.0)
        A, B = A_prev * A, A * B_prev + B
        k *= 2
    return B


# ----------------------------------------------------------------------------- SSM


class SelectiveSSM(nn.Module):
    """A diagonal state-space layer, selective (Mamba-style) or time-invariant.

    Each of the D channels has a state of N numbers. With A = -exp(A_log) (D, N) fixed
    per channel and, at every step,

        delta_t = softplus(W_delta x_t + b_delta)       (D,)   step size
        B_t = W_B x_t,  C_t = W_C x_t                   (N,)   input and output maps
        h_t = exp(delta_t A) * h_{t-1} + (delta_t x_t) B_t      (D, N)
        y_t = h_t C_t + skip * x_t                      (D,)

    ``exp(delta_t A)`` lies in (0, 1): a large delta_t resets the state to the current
    input, a small one keeps it. With ``selective=False`` delta, B and C are learned
    constants, independent of x (a linear time-invariant system, as in S4).
    The recurrence is linear in h, so it runs as :func:`linear_recurrence_scan`.
    Simplifications against Mamba: no causal convolution, real (not complex) A, and the
    scan is the plain O(T log T) one, not a fused kernel.

    Input x (B, T, D); output y (B, T, D).
    """

    def __init__(self, d_model: int, d_state: int = 8, selective: bool = True):
        super().__init__()
        self.selective = selective
        # A_n = -(n + 1): a spread of decay rates per channel (S4D-real initialisation)
        self.A_log = nn.Parameter(torch.log(torch.arange(1, d_state + 1.0)).repeat(d_model, 1))
        self.skip = nn.Parameter(torch.ones(d_model))
        # initial step sizes log-uniform in [0.001, 0.1] (as in Mamba): slow decay at first
        delta0 = torch.exp(torch.linspace(math.log(1e-3), math.log(1e-1), d_model))
        delta0_raw = delta0 + torch.log(-torch.expm1(-delta0))  # inverse of softplus
        if selective:
            self.to_delta = nn.Linear(d_model, d_model)
            with torch.no_grad():
                self.to_delta.bias.copy_(delta0_raw)
            self.to_B = nn.Linear(d_model, d_state, bias=False)
            self.to_C = nn.Linear(d_model, d_state, bias=False)
        else:
            self.delta = nn.Parameter(delta0_raw)
            self.B = nn.Parameter(torch.randn(d_state) / d_state ** 0.5)
            self.C = nn.Parameter(torch.randn(d_state) / d_state ** 0.5)

    def step_size(self, x):
        """delta_t for input x (B, T, D): (B, T, D); constant over t when not selective."""
        if self.selective:
            return F.softplus(self.to_delta(x))
        return F.softplus(self.delta).expand(x.shape)

    def forward(self, x):
        Bsz, T, D = x.shape
        A = -torch.exp(self.A_log)  # (D, N)
        x_t = x.transpose(0, 1)  # (T, B, D), time first for the scan
        delta = self.step_size(x_t)  # (T, B, D)
        if self.selective:
            B_in, C_out = self.to_B(x_t), self.to_C(x_t)  # (T, B, N)
        else:
            B_in, C_out = self.B.expand(T, Bsz, -1), self.C.expand(T, Bsz, -1)
        # a_t = exp(delta_t A), b_t = delta_t x_t B_t
        a = torch.exp(delta[..., None] * A)  # (T, B, D, N)
        b = (delta * x_t)[..., None] * B_in[:, :, None, :]  # (T, B, D, N)
        h = linear_recurrence_scan(a, b)  # (T, B, D, N)
        # y_t = h_t C_t + skip x_t
        y = torch.einsum("tbdn,tbn->tbd", h, C_out) + self.skip * x_t  # (T, B, D)
        return y.transpose(0, 1)  # (B, T, D)


class SSMModel(nn.Module):
    """Token model: embedding, ``n_layers`` gated residual SSM blocks, linear readout.

    Block: u = LayerNorm(x); x <- x + W_out (SSM(W_in u) * silu(W_gate u)).
    Input tokens (B, T) int64; output logits (B, T, V).
    """

    def __init__(self, vocab_size: int, d_model: int = 32, d_state: int = 8,
                 n_layers: int = 2, selective: bool = True):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, d_model)
        self.norms = nn.ModuleList(nn.LayerNorm(d_model) for _ in range(n_layers))
        self.ins = nn.ModuleList(nn.Linear(d_model, 2 * d_model) for _ in range(n_layers))
        self.ssms = nn.ModuleList(SelectiveSSM(d_model, d_state, selective)
                                  for _ in range(n_layers))
        self.outs = nn.ModuleList(nn.Linear(d_model, d_model) for _ in range(n_layers))
        self.head = nn.Linear(d_model, vocab_size)

    def forward(self, tokens):
        x = self.embed(tokens)  # (B, T, D)
        for norm, w_in, ssm, w_out in zip(self.norms, self.ins, self.ssms, self.outs):
            u, gate = w_in(norm(x)).chunk(2, dim=-1)  # (B, T, D) each
            x = x + w_out(ssm(u) * F.silu(gate))
        return self.head(x)  # (B, T, V)

    def step_sizes(self, tokens):
        """The step sizes delta_t of every layer for ``tokens`` (B, T): a list of (B, T, D)."""
        deltas = []
        x = self.embed(tokens)  # (B, T, D)
        for norm, w_in, ssm, w_out in zip(self.norms, self.ins, self.ssms, self.outs):
            u, gate = w_in(norm(x)).chunk(2, dim=-1)
            deltas.append(ssm.step_size(u))
            x = x + w_out(ssm(u) * F.silu(gate))
        return deltas


def selective_copy_batch(n: int, rng: np.random.Generator, length: int = 32,
                         n_tokens: int = 4, n_colors: int = 8):
    """The selective-copy task: recall the coloured tokens, in order, ignoring the blanks.

    The input has ``length`` positions holding ``n_tokens`` coloured tokens (ids
    1..n_colors) at random positions and blanks (id 0) elsewhere, then ``n_tokens`` recall
    markers (id n_colors + 1). At the marker positions the model must output the coloured
    tokens in their order of appearance. Vocabulary size V = n_colors + 2.

    Returns:
        tokens: (N, length + n_tokens) int64; targets: (N, n_tokens) int64, the answer at
        the last n_tokens positions.

    >>> tokens, targets = selective_copy_batch(1, np.random.default_rng(0), 8, 2, 3)
    >>> tokens.shape, targets.shape
    ((1, 10), (1, 2))
    """
    if not 1 <= n_tokens <= length:
        raise ValueError(f"n_tokens: expected 1..length={length}, got {n_tokens}")
    tokens = np.zeros((n, length + n_tokens), dtype=np.int64)
    targets = rng.integers(1, n_colors + 1, size=(n, n_tokens))
    for i in range(n):
        where = np.sort(rng.choice(length, size=n_tokens, replace=False))
        tokens[i, where] = targets[i]
    tokens[:, length:] = n_colors + 1
    return tokens, targets.astype(np.int64)

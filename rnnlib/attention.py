"""Attention: score every key against a query, softmax, average the values.

Given a query q (the decoder's state), keys k_1..k_S and values v_1..v_S (the encoder's
outputs, usually keys = values), attention computes

    e_s = score(q, k_s)                           alignment scores
    a_s = exp(e_s) / sum_{s' allowed} exp(e_s')   weights, a_s = 0 where masked
    c   = sum_s a_s v_s                           context vector

with one of four scores (A is the attention hidden size):

    DotAttention          e_s = q . k_s                        (Luong "dot", Hq = Hk)
    GeneralAttention      e_s = q^T W k_s                      (Luong "general")
    ConcatAttention       e_s = v^T tanh(W [q; k_s])           (Luong "concat")
    AdditiveAttention     e_s = v^T tanh(W q + U k_s)          (Bahdanau)

Shapes: query (B, Hq), keys (B, S, Hk), values (B, S, Hv), mask (B, S) bool with
True = may attend; context (B, Hv), weights (B, S).

The NumPy classes keep their parameters in ``att.params``. Each has a PyTorch twin for
training (``TorchDotAttention``, ...) whose ``state_dict()`` has the same keys and
shapes; ``Cls.from_torch(module)`` and ``att.to_torch()`` convert between them.
"""

import numpy as np
import torch
from torch import nn

from rnnlib._checks import check_array, check_size

__all__ = [
    "masked_softmax",
    "DotAttention",
    "GeneralAttention",
    "ConcatAttention",
    "AdditiveAttention",
    "TorchDotAttention",
    "TorchGeneralAttention",
    "TorchConcatAttention",
    "TorchAdditiveAttention",
]


def masked_softmax(scores, mask=None):
    """Softmax over the last axis, with exactly 0 where ``mask`` is False.

    scores: (B, S); mask: (B, S) bool or None. Every row needs one allowed position.

    >>> masked_softmax(np.array([[1.0, 1.0, 5.0]]), np.array([[True, True, False]])).tolist()
    [[0.5, 0.5, 0.0]]
    """
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    # a_s = exp(e_s - max e) / sum_s' exp(e_s' - max e)
    e = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def check_sizes(**sizes):
    """The sizes as a tuple of ints >= 1, in the order given; raise naming a bad one."""
    return tuple(check_size(name, value) for name, value in sizes.items())


def _uniform(rng, shape, fan_in):
    bound = 1.0 / np.sqrt(fan_in)
    return rng.uniform(-bound, bound, size=shape)


class _Attention:
    """Shared forward pass; subclasses define ``score(query, keys) -> (B, S)``."""

    sizes = ()             # the constructor's sizes, (query_size, key_size[, hidden_size])
    torch_class = None

    # Read-only: the parameters' shapes fix them (a new size needs new parameters).
    @property
    def query_size(self):
        """Hq, or None for any size (dot attention checks it against Hk)."""
        return self.sizes[0] if self.sizes else None

    @property
    def key_size(self):
        """Hk, or None for any size."""
        return self.sizes[1] if self.sizes else None

    def forward(self, query, keys, values, mask=None):
        """Return ``context`` (B, Hv) and ``weights`` (B, S).

        query (B, Hq), keys (B, S, Hk), values (B, S, Hv), mask (B, S) bool or None.
        """
        query = check_array("query", query, (None, self.query_size), "(B, Hq)")
        B = query.shape[0]
        keys = check_array("keys", keys, (B, None, self.key_size), "(B, S, Hk)")
        S = keys.shape[1]
        values = check_array("values", values, (B, S, None), "(B, S, Hv)")
        if mask is not None:
            mask = check_array("mask", mask, (B, S), "(B, S)")
            if mask.dtype != bool:
                raise ValueError(f"mask: expected dtype bool (True = may attend), got {mask.dtype}")
            if not mask.any(axis=1).all():
                raise ValueError(f"mask: every row needs at least one True, got rows "
                                 f"{np.flatnonzero(~mask.any(axis=1)).tolist()} all False")
            # masked keys and values must not reach the result, even if they are huge
            keys = np.where(mask[:, :, None], keys, 0.0)
            values = np.where(mask[:, :, None], values, 0.0)
        e = self.score(query, keys)  # (B, S)
        a = masked_softmax(e, mask)  # (B, S)
        # c = sum_s a_s v_s
        context = np.einsum("bs,bsh->bh", a, values)  # (B, Hv)
        return context, a

    __call__ = forward

    @classmethod
    def from_torch(cls, module):
        """A NumPy copy (float64) of the PyTorch twin ``module``."""
        att = cls(*module.sizes)
        att.params = {k: v.detach().double().numpy().copy() for k, v in module.state_dict().items()}
        return att

    def to_torch(self):
        """The PyTorch twin with these parameters (float32, like a fresh nn.Module)."""
        module = self.torch_class(*self.sizes)
        module.load_state_dict({k: torch.tensor(v, dtype=torch.float32)
                                for k, v in self.params.items()})
        return module


class DotAttention(_Attention):
    """Dot-product score e_s = q . k_s (no parameters; query and key sizes must match).

    >>> att = DotAttention()
    >>> keys = np.array([[[1.0, 0.0], [0.0, 1.0]]])
    >>> context, weights = att.forward(np.array([[0.0, 0.0]]), keys, keys)
    >>> weights.tolist(), context.tolist()
    ([[0.5, 0.5]], [[0.5, 0.5]])
    """

    def __init__(self):
        self.params = {}

    def score(self, query, keys):
        if query.shape[1] != keys.shape[2]:
            raise ValueError(f"keys: dot attention needs Hk = Hq = {query.shape[1]}, "
                             f"got keys of shape {keys.shape}")
        # e_s = q . k_s
        return np.einsum("bh,bsh->bs", query, keys)


class GeneralAttention(_Attention):
    """Bilinear score e_s = q^T W k_s, with W (Hq, Hk)."""

    def __init__(self, query_size, key_size, rng=None):
        self.sizes = check_sizes(query_size=query_size, key_size=key_size)
        rng = np.random.default_rng(rng)
        self.params = {"W": _uniform(rng, (query_size, key_size), key_size)}

    def score(self, query, keys):
        # e_s = q^T W k_s
        return np.einsum("bq,qk,bsk->bs", query, self.params["W"], keys)


class ConcatAttention(_Attention):
    """Concat score e_s = v^T tanh(W [q; k_s]), with W (A, Hq + Hk), v (A,)."""

    def __init__(self, query_size, key_size, hidden_size, rng=None):
        self.sizes = check_sizes(query_size=query_size, key_size=key_size, hidden_size=hidden_size)
        rng = np.random.default_rng(rng)
        fan_in = query_size + key_size
        self.params = {"W": _uniform(rng, (hidden_size, fan_in), fan_in),
                       "v": _uniform(rng, (hidden_size,), hidden_size)}

    def score(self, query, keys):
        B, S, _ = keys.shape
        q = np.broadcast_to(query[:, None, :], (B, S, query.shape[1]))
        # e_s = v^T tanh(W [q; k_s])
        h = np.tanh(np.concatenate([q, keys], axis=2) @ self.params["W"].T)  # (B, S, A)
        return h @ self.params["v"]


class AdditiveAttention(_Attention):
    """Bahdanau's additive score e_s = v^T tanh(W q + U k_s); W (A, Hq), U (A, Hk), v (A,).

    >>> att = AdditiveAttention(query_size=3, key_size=4, hidden_size=5, rng=0)
    >>> rng = np.random.default_rng(1)
    >>> q, keys = rng.normal(size=(2, 3)), rng.normal(size=(2, 6, 4))
    >>> mask = np.arange(6) < np.array([[6], [2]])          # second row: 2 real keys
    >>> context, weights = att.forward(q, keys, keys, mask)
    >>> context.shape, weights.sum(axis=1).round(12).tolist(), weights[1, 2:].tolist()
    ((2, 4), [1.0, 1.0], [0.0, 0.0, 0.0, 0.0])
    """

    def __init__(self, query_size, key_size, hidden_size, rng=None):
        self.sizes = check_sizes(query_size=query_size, key_size=key_size, hidden_size=hidden_size)
        rng = np.random.default_rng(rng)
        self.params = {"W": _uniform(rng, (hidden_size, query_size), query_size),
                       "U": _uniform(rng, (hidden_size, key_size), key_size),
                       "v": _uniform(rng, (hidden_size,), hidden_size)}

    def score(self, query, keys):
        # e_s = v^T tanh(W q + U k_s)
        W, U, v = self.params["W"], self.params["U"], self.params["v"]
        h = np.tanh((query @ W.T)[:, None, :] + keys @ U.T)  # (B, S, A)
        return h @ v


# ----------------------------------------------------------------------------- PyTorch

class _TorchAttention(nn.Module):
    """Shared forward of the PyTorch twins.

    Besides one query per row, (B, Hq), the twins take a whole sequence of queries,
    (B, T, Hq), and attend with each of them: T calls in one (a Luong decoder uses it to
    attend for every target step at once during training).

    Every score splits into a part that depends on the keys only and a part that meets
    the query, so a decoder attending over the same memory at every step can compute the
    first once per source (Bahdanau et al. 2015, appendix A.1.2): ``project_keys(keys)``
    gives it, and ``attend(query, projected, values, mask)`` finishes the job. ``forward``
    is the two in a row, with shape checks. Subclasses define ``project_keys`` and
    ``score(query (B, T, Hq), projected) -> (B, T, S)``.
    """

    def forward(self, query, keys, values, mask=None):
        """query (B, Hq) or (B, T, Hq), keys (B, S, Hk), values (B, S, Hv), mask (B, S) bool
        or None.

        Returns context (B, Hv) and weights (B, S), or (B, T, Hv) and (B, T, S) for a
        sequence of queries.
        """
        if (query.dim() not in (2, 3) or (keys.dim(), values.dim()) != (3, 3)
                or keys.shape[:2] != values.shape[:2] or query.shape[0] != keys.shape[0]):
            raise ValueError(f"query, keys, values: expected shapes (B, Hq) or (B, T, Hq), "
                             f"(B, S, Hk), (B, S, Hv), got {tuple(query.shape)}, "
                             f"{tuple(keys.shape)}, {tuple(values.shape)}")
        if mask is not None:
            if mask.shape != keys.shape[:2]:
                raise ValueError(f"mask: expected shape {tuple(keys.shape[:2])}, "
                                 f"got {tuple(mask.shape)}")
            # a_s = 0 at masked positions, but 0 * inf or 0 * NaN is NaN: zero those values
            values = values.masked_fill(~mask[:, :, None], 0.0)
        return self.attend(query, self.project_keys(keys), values, mask)

    def attend(self, query, projected, values, mask=None):
        """As ``forward``, with ``projected = project_keys(keys)`` computed beforehand.

        Unlike ``forward``, values at masked positions must be finite (an encoder's
        ``memory`` is 0 there)."""
        one_query = query.dim() == 2
        e = self.score(query[:, None] if one_query else query, projected)  # (B, T, S)
        if mask is not None:
            e = e.masked_fill(~mask[:, None, :], float("-inf"))
        a = torch.softmax(e, dim=-1)  # (B, T, S)
        # c_t = sum_s a_ts v_s
        context = a @ values  # (B, T, Hv)
        return (context[:, 0], a[:, 0]) if one_query else (context, a)


def _torch_uniform(shape, fan_in):
    bound = 1.0 / fan_in ** 0.5
    return nn.Parameter(torch.empty(shape).uniform_(-bound, bound))


class TorchDotAttention(_TorchAttention):
    """PyTorch twin of :class:`DotAttention`."""

    sizes = ()

    def project_keys(self, keys):
        return keys

    def score(self, query, projected):
        return query @ projected.transpose(1, 2)


class TorchGeneralAttention(_TorchAttention):
    """PyTorch twin of :class:`GeneralAttention` (parameter ``W`` (Hq, Hk))."""

    def __init__(self, query_size, key_size):
        super().__init__()
        self.sizes = (query_size, key_size)
        self.W = _torch_uniform((query_size, key_size), key_size)

    def project_keys(self, keys):
        return keys @ self.W.T  # W k_s, (B, S, Hq)

    def score(self, query, projected):
        # q^T W k_s = q . (W k_s)
        return query @ projected.transpose(1, 2)


class TorchConcatAttention(_TorchAttention):
    """PyTorch twin of :class:`ConcatAttention` (parameters ``W`` (A, Hq + Hk), ``v`` (A,))."""

    def __init__(self, query_size, key_size, hidden_size):
        super().__init__()
        self.sizes = (query_size, key_size, hidden_size)
        self.W = _torch_uniform((hidden_size, query_size + key_size), query_size + key_size)
        self.v = _torch_uniform((hidden_size,), hidden_size)

    def project_keys(self, keys):
        return keys @ self.W[:, self.sizes[0]:].T  # W [q; k_s] = W_q q + W_k k_s; W_k k_s here

    def score(self, query, projected):
        W_q = self.W[:, :self.sizes[0]]
        h = torch.tanh((query @ W_q.T)[:, :, None] + projected[:, None])  # (B, T, S, A)
        return h @ self.v


class TorchAdditiveAttention(_TorchAttention):
    """PyTorch twin of :class:`AdditiveAttention` (``W`` (A, Hq), ``U`` (A, Hk), ``v`` (A,))."""

    def __init__(self, query_size, key_size, hidden_size):
        super().__init__()
        self.sizes = (query_size, key_size, hidden_size)
        self.W = _torch_uniform((hidden_size, query_size), query_size)
        self.U = _torch_uniform((hidden_size, key_size), key_size)
        self.v = _torch_uniform((hidden_size,), hidden_size)

    def project_keys(self, keys):
        return keys @ self.U.T  # U k_s, (B, S, A)

    def score(self, query, projected):
        h = torch.tanh((query @ self.W.T)[:, :, None] + projected[:, None])  # (B, T, S, A)
        return h @ self.v


DotAttention.torch_class = TorchDotAttention
GeneralAttention.torch_class = TorchGeneralAttention
ConcatAttention.torch_class = TorchConcatAttention
AdditiveAttention.torch_class = TorchAdditiveAttention

"""One time step of an RNN, an LSTM and a GRU, forward and backward, in NumPy.

Shapes: B batch, D input features, H hidden units. A cell maps one input ``x`` (B, D)
and the previous state to the next state:

- :class:`RNNCell`: state ``h`` (B, H)
- :class:`LSTMCell`: state ``(h, c)``, each (B, H)
- :class:`GRUCell`: state ``h`` (B, H)

Parameters live in ``cell.params``, keyed and shaped like PyTorch's ``state_dict()``:
``weight_ih`` (G*H, D), ``weight_hh`` (G*H, H), ``bias_ih`` (G*H,), ``bias_hh`` (G*H,),
with ``G`` gate blocks stacked in PyTorch's order (LSTM i, f, g, o; GRU r, z, n).

Every step is split the same way, so that :mod:`rnnlib.layers` can compute the input
projection of a whole sequence in one matrix product:

1. ``a_x = input_projection(x, weight_ih, bias_ih, G)`` -- the input's share of the
   pre-activations, ``W_ih x + b_ih``;
2. ``_step(a_x, state, w_hh_t, b_hh, out=None)`` -- everything that depends on the state.

Inside a step the pre-activations are kept **gate-major**, shape (G, B, H): ``a[0]`` is
the first gate's block, so ``i, f, g, o = a`` unpacks an LSTM's gates and each is a
contiguous (B, H) array. Correspondingly ``w_hh_t`` is ``weight_hh`` as (G, H, H) with
each block transposed (``h @ w_hh_t[k] = W_hh,k h`` for a row of ``h``; see
:func:`gate_major`) and ``b_hh`` is (G, 1, H). ``_step_backward(dstate, step, w_hh)``
takes ``weight_hh`` as (G, H, H) blocks and returns ``da_x`` (the gradient of ``a_x``),
``da_h`` (the gradient of the recurrent product ``W_hh (.) + b_hh``), both (G, B, H),
and the gradient of the previous state. For the RNN and the LSTM, where the two biases
are simply added, a layer may fold ``bias_hh`` into ``a_x`` once for the whole sequence
and pass ``b_hh=None``.

A layer runs ``_step`` T times. So that a step allocates nothing of what it keeps, it may
pass ``out``: the step's slices of arrays allocated once for the whole sequence by
``cell._workspace(T, B)`` (the first holds ``h_next``; the others are the cell's own,
see each ``_workspace``). The results are the same, operation for operation.

>>> import numpy as np
>>> cell = LSTMCell(input_size=3, hidden_size=2, rng=0)
>>> x = np.ones((4, 3))                            # (B, D)
>>> (h, c), cache = cell.forward(x)               # state defaults to zeros
>>> h.shape, c.shape
((4, 2), (4, 2))
>>> dx, (dh0, dc0), grads = cell.backward((np.ones_like(h), np.zeros_like(c)), cache)
>>> dx.shape, sorted(grads) == sorted(cell.params)
((4, 3), True)
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from rnnlib._checks import check_array, check_choice, check_size
from rnnlib.init import uniform_

__all__ = ["RNNCell", "LSTMCell", "GRUCell", "sigmoid"]


def sigmoid(z, out=None):
    """The logistic function ``1 / (1 + exp(-z))``, computed as ``(1 + tanh(z/2)) / 2``.

    The two are equal; the second never overflows (``exp(-z)`` does for ``z < -709``).
    ``out`` may be ``z`` itself to work in place.

    >>> sigmoid(np.array([-1000.0, 0.0, 1000.0])).tolist()
    [0.0, 0.5, 1.0]
    """
    out = np.multiply(z, 0.5, out=out)
    np.tanh(out, out=out)
    out *= 0.5
    out += 0.5
    return out


# ----------------------------------------------------------------------------- caches

class RNNStep(NamedTuple):
    """What :meth:`RNNCell._step_backward` needs from one step."""
    h_prev: np.ndarray  # (B, H)
    h_next: np.ndarray  # (B, H)


class LSTMStep(NamedTuple):
    """What :meth:`LSTMCell._step_backward` needs from one step."""
    h_prev: np.ndarray  # (B, H)
    c_prev: np.ndarray  # (B, H)
    gates: np.ndarray   # (4, B, H): input gate i, forget gate f, candidate g, output gate o
    tanh_c: np.ndarray  # (B, H): tanh(c_next)

    # Each gate by its name, (B, H): views into ``gates``.
    @property
    def i(self) -> np.ndarray:
        return self.gates[0]

    @property
    def f(self) -> np.ndarray:
        return self.gates[1]

    @property
    def g(self) -> np.ndarray:
        return self.gates[2]

    @property
    def o(self) -> np.ndarray:
        return self.gates[3]


class GRUStep(NamedTuple):
    """What :meth:`GRUCell._step_backward` needs from one step (all (B, H))."""
    h_prev: np.ndarray
    r: np.ndarray       # reset gate
    z: np.ndarray       # update gate
    n: np.ndarray       # candidate
    hn: np.ndarray      # "pytorch": W_hn h_prev + b_hn;  "textbook": r * h_prev


class CellCache(NamedTuple):
    """Cache of :meth:`forward` for a single cell: its input and the step's cache."""
    x: np.ndarray       # (B, D)
    step: tuple         # RNNStep, LSTMStep or GRUStep


# ----------------------------------------------------------------------------- base

class _Cell:
    """Shared plumbing: parameters, checks, the x-projection and its gradients."""

    num_gates = 1          # G: gate blocks stacked in the weight matrices
    torch_name = ""        # the matching class in torch.nn
    fold_bias_hh = True    # b_hh only adds to the pre-activation: may join b_ih in a_x
    shares_da = True       # da_x and da_h are the same array

    def __init__(self, input_size, hidden_size, rng=None, dtype=np.float64):
        self.params = new_params(check_size("input_size", input_size),
                                 check_size("hidden_size", hidden_size), self.num_gates,
                                 rng=rng, dtype=dtype)

    # The sizes are read from the weights, so they cannot disagree with them (and are
    # read-only: a new size needs new weights, i.e. a new cell).
    @property
    def input_size(self):
        """D, the input features (``weight_ih`` is (G*H, D))."""
        return self.params["weight_ih"].shape[1]

    @property
    def hidden_size(self):
        """H, the hidden units (``weight_hh`` is (G*H, H))."""
        return self.params["weight_hh"].shape[1]

    @property
    def dtype(self):
        """The floating dtype of the parameters; inputs are converted to it."""
        return self.params["weight_hh"].dtype

    def num_parameters(self):
        """Total number of scalars in ``params`` (equal to PyTorch's count)."""
        return sum(p.size for p in self.params.values())

    def __repr__(self):
        return f"{type(self).__name__}({self.input_size}, {self.hidden_size}{self._extra_repr()})"

    def _extra_repr(self):
        return ""

    # -- state handling (LSTMCell overrides these for its (h, c) pair)
    def _check_state(self, state, B, name="state"):
        H = self.hidden_size
        if state is None:
            return np.zeros((B, H), dtype=self.dtype)
        return check_array(name, state, (B, H), "(B, H)", self.dtype)

    # -- public API
    def forward(self, x, state=None):
        """One step. ``x`` (B, D), ``state`` (see the class) or None for zeros.

        Returns ``(new_state, cache)``.
        """
        x = check_array("x", x, (None, self.input_size), "(B, D)", self.dtype)
        state = self._check_state(state, x.shape[0])
        p, G = self.params, self.num_gates
        # a_x = W_ih x + b_ih, for all gates at once
        a_x = input_projection(x, p["weight_ih"], p["bias_ih"], G)     # (G, B, H)
        new_state, step = self._step(a_x, state, gate_major(p["weight_hh"], G),
                                     p["bias_hh"].reshape(G, 1, -1))
        return new_state, CellCache(x, step)

    def backward(self, dnew_state, cache):
        """Gradients of one step, given the gradient of the new state.

        Returns ``(dx, dstate, grads)``: ``dx`` (B, D), ``dstate`` shaped like the state,
        and ``grads`` a dict with the keys and shapes of ``params``.
        """
        x, step = cache
        dnew_state = self._check_state(dnew_state, x.shape[0], name="dnew_state")
        p, G, H = self.params, self.num_gates, self.hidden_size
        da_x, da_h, dstate = self._step_backward(dnew_state, step, p["weight_hh"].reshape(G, H, H))
        grads = {
            "weight_ih": input_weight_grad(da_x, x),                   # (G*H, D)
            "weight_hh": self._weight_hh_grad(da_h, [step]),           # (G*H, H)
            "bias_ih": da_x.sum(axis=1).reshape(-1),                   # (G*H,)
            "bias_hh": da_h.sum(axis=1).reshape(-1),
        }
        # a_x[k] = x W_ih,k^T  ->  dx = sum_k da_x[k] W_ih,k
        dx = input_grad(da_x, p["weight_ih"])                          # (B, D)
        return dx, dstate, grads

    def _workspace(self, T, B):
        """Arrays with a leading axis T that ``_step(..., out)`` writes step t into.

        The first is ``h_next`` (T, B, H); the cells add what their step caches keep.
        """
        return (np.empty((T, B, self.hidden_size), self.dtype),)

    def _weight_hh_grad(self, da_h, steps):
        """``sum_t da_h[k, t].T @ h_prev[t]`` per gate ``k``; ``da_h`` is (G, N, H), N = steps*B."""
        h_prev = np.concatenate([s.h_prev for s in steps])            # (N, H)
        return input_weight_grad(da_h, h_prev)

    # -- PyTorch interop
    @classmethod
    def from_torch(cls, module):
        """A cell with a copy of the weights of the matching ``torch.nn`` cell."""
        if type(module).__name__ != cls.torch_name:
            raise TypeError(f"module must be a torch.nn.{cls.torch_name}, "
                            f"got {type(module).__name__}")
        if module.bias_ih is None:
            raise ValueError("module must have bias=True, got bias=False")
        cell = cls(module.input_size, module.hidden_size, **cls._torch_kwargs(module))
        cell.params = {k: v.detach().cpu().numpy().copy() for k, v in module.state_dict().items()}
        return cell

    @classmethod
    def _torch_kwargs(cls, module):
        return {}

    def to_torch(self):
        """A ``torch.nn`` cell computing the same function, with a copy of ``params``."""
        import torch

        module = getattr(torch.nn, self.torch_name)(
            self.input_size, self.hidden_size, **self._torch_init_kwargs(),
            dtype=getattr(torch, self.dtype.name))
        module.load_state_dict({k: torch.tensor(v) for k, v in self.params.items()})
        return module

    def _torch_init_kwargs(self):
        return {}


def gate_major(w, num_gates):
    """``w`` (G*H, K) as G transposed blocks (G, K, H), contiguous: ``v @ out[k] = W_k v``.

    >>> w = np.arange(8.0).reshape(4, 2)               # G=2 blocks of (H=2, K=2)
    >>> gate_major(w, 2)[1].tolist()                   # the second block, transposed
    [[4.0, 6.0], [5.0, 7.0]]
    """
    H = w.shape[0] // num_gates
    return np.ascontiguousarray(w.reshape(num_gates, H, -1).transpose(0, 2, 1))


def input_projection(x, w_ih, b_ih, num_gates):
    """``W_ih x + b_ih`` for every row of ``x`` (N, D), gate-major: (G, N, H)."""
    G = num_gates
    a_x = np.matmul(x, gate_major(w_ih, G))                            # (G, N, H)
    a_x += b_ih.reshape(G, 1, -1)
    return a_x


def input_grad(da, w_ih):
    """``sum_k da[k] @ W_ih,k``: the (N, D) gradient of ``x`` from ``da`` (G, N, H), ``w_ih`` (G*H, D)."""
    G, _, H = da.shape
    dx = da[0] @ w_ih[:H]
    for k in range(1, G):
        dx += da[k] @ w_ih[k * H:(k + 1) * H]
    return dx


def input_weight_grad(da, x):
    """``sum_n da[k, n].T x[n]`` for each gate ``k``: the (G*H, D) gradient of ``W_ih``.

    ``da`` is (G, N, H), ``x`` (N, D); the same serves for ``W_hh`` with ``x = h_prev``.
    """
    G, _, H = da.shape
    return np.matmul(da.transpose(0, 2, 1), x).reshape(G * H, x.shape[1])


def new_params(input_size, hidden_size, num_gates, rng=None, dtype=np.float64, suffix=""):
    """Fresh ``weight_ih, weight_hh, bias_ih, bias_hh`` (+ ``suffix``) with PyTorch's default init."""
    G, H, D = num_gates, hidden_size, input_size
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"dtype must be a floating type, got {dtype}")
    params = {
        f"weight_ih{suffix}": np.empty((G * H, D), dtype),
        f"weight_hh{suffix}": np.empty((G * H, H), dtype),
        f"bias_ih{suffix}": np.empty((G * H,), dtype),
        f"bias_hh{suffix}": np.empty((G * H,), dtype),
    }
    return uniform_(params, rng=rng)


# ----------------------------------------------------------------------------- RNN

class RNNCell(_Cell):
    r"""Elman RNN cell.

    .. math::
        h' = \phi(W_{ih} x + b_{ih} + W_{hh} h + b_{hh}), \qquad \phi = \tanh \text{ or ReLU}

    Shapes: ``x`` (B, D), ``h`` (B, H); ``weight_ih`` (H, D), ``weight_hh`` (H, H),
    ``bias_ih``, ``bias_hh`` (H,). Same as ``torch.nn.RNNCell`` (which, like this cell,
    has two biases where the textbook has one).

    >>> cell = RNNCell(2, 3, nonlinearity="relu", rng=0)
    >>> h, cache = cell.forward(np.ones((1, 2)))
    >>> bool((h >= 0).all())
    True
    """

    num_gates = 1
    torch_name = "RNNCell"

    def __init__(self, input_size, hidden_size, nonlinearity="tanh", rng=None, dtype=np.float64):
        self.nonlinearity = nonlinearity
        super().__init__(input_size, hidden_size, rng=rng, dtype=dtype)

    @property
    def nonlinearity(self):
        """``"tanh"`` or ``"relu"``; checked whenever it is set (a typo must not mean ReLU)."""
        return self._nonlinearity

    @nonlinearity.setter
    def nonlinearity(self, value):
        self._nonlinearity = check_choice("nonlinearity", value, {"tanh", "relu"})

    def _extra_repr(self):
        return f", nonlinearity={self.nonlinearity!r}"

    @classmethod
    def _torch_kwargs(cls, module):
        return {"nonlinearity": module.nonlinearity}

    def _torch_init_kwargs(self):
        return {"nonlinearity": self.nonlinearity}

    def _step(self, a_x, h_prev, w_hh_t, b_hh, out=None):
        # a = W_ih x + b_ih + W_hh h_prev + b_hh  (then h_next = phi(a) in place)
        a = np.matmul(h_prev, w_hh_t[0], out=None if out is None else out[0])  # (B, H)
        a += a_x[0]
        if b_hh is not None:
            a += b_hh[0]
        # h_next = phi(a)
        if self.nonlinearity == "tanh":
            h_next = np.tanh(a, out=a)
        else:
            h_next = np.maximum(a, 0.0, out=a)
        return h_next, RNNStep(h_prev, h_next)

    def _step_backward(self, dh_next, step, w_hh, out=None):
        h_prev, h_next = step
        # tanh'(a) = 1 - tanh(a)^2 = 1 - h_next^2;  relu'(a) = [a > 0] = [h_next > 0]
        if out is None:
            out = np.empty((1,) + h_next.shape, h_next.dtype)         # (G=1, B, H)
        da = out[0]
        if self.nonlinearity == "tanh":
            np.multiply(h_next, h_next, out=da)
            np.subtract(1.0, da, out=da)
            da *= dh_next
        else:
            np.multiply(dh_next, h_next > 0, out=da)
        dh_prev = da @ w_hh[0]                                         # (B, H)
        return out, out, dh_prev


# ----------------------------------------------------------------------------- LSTM

class LSTMCell(_Cell):
    r"""Long short-term memory cell (Hochreiter & Schmidhuber 1997, with a forget gate).

    .. math::
        i &= \sigma(W_{ii} x + b_{ii} + W_{hi} h + b_{hi}) \\
        f &= \sigma(W_{if} x + b_{if} + W_{hf} h + b_{hf}) \\
        g &= \tanh(W_{ig} x + b_{ig} + W_{hg} h + b_{hg}) \\
        o &= \sigma(W_{io} x + b_{io} + W_{ho} h + b_{ho}) \\
        c' &= f \odot c + i \odot g \\
        h' &= o \odot \tanh(c')

    Gate order in the stacked weights: **i, f, g, o** (as PyTorch). State ``(h, c)``,
    each (B, H); ``weight_ih`` (4H, D), ``weight_hh`` (4H, H), biases (4H,). There are no
    peephole connections; two biases per gate, as in ``torch.nn.LSTMCell``, so the
    count is ``4H(D + H + 2)`` rather than the textbook ``4H(D + H + 1)``.
    """

    num_gates = 4
    torch_name = "LSTMCell"

    def _check_state(self, state, B, name="state"):
        H = self.hidden_size
        if state is None:
            return (np.zeros((B, H), self.dtype), np.zeros((B, H), self.dtype))
        if not isinstance(state, (tuple, list)) or len(state) != 2:
            raise ValueError(f"{name} must be a pair (h, c) of arrays of shape (B, H) = "
                             f"({B}, {H}), got {type(state).__name__}")
        h = check_array(f"{name}[0] (h)", state[0], (B, H), "(B, H)", self.dtype)
        c = check_array(f"{name}[1] (c)", state[1], (B, H), "(B, H)", self.dtype)
        return h, c

    def _workspace(self, T, B):
        # h_next, c_next, the gates and tanh(c_next) of every step
        h, c, tanh_c = (np.empty((T, B, self.hidden_size), self.dtype) for _ in range(3))
        return h, c, np.empty((T, 4, B, self.hidden_size), self.dtype), tanh_c

    def _step(self, a_x, state, w_hh_t, b_hh, out=None):
        h_prev, c_prev = state
        h_next, c_next, a, tanh_c = (None,) * 4 if out is None else out
        # a = W_ih x + b_ih + W_hh h_prev + b_hh, one (B, H) block per gate i, f, g, o
        a = np.matmul(h_prev, w_hh_t, out=a)                           # (4, B, H)
        a += a_x
        if b_hh is not None:
            a += b_hh
        # i, f, o = sigmoid(.)  ("how much");  g = tanh(.)  ("what");  in place in a
        i, f, g, o = a
        sigmoid(a[:2], out=a[:2])                                      # i and f at once
        np.tanh(g, out=g)
        sigmoid(o, out=o)
        # c_next = f * c_prev + i * g
        c_next = np.multiply(f, c_prev, out=c_next)
        c_next += i * g
        # h_next = o * tanh(c_next)
        tanh_c = np.tanh(c_next, out=tanh_c)
        h_next = np.multiply(o, tanh_c, out=h_next)
        return (h_next, c_next), LSTMStep(h_prev, c_prev, a, tanh_c)

    def _step_backward(self, dstate_next, step, w_hh, out=None):
        dh_next, dc_next = dstate_next
        h_prev, c_prev, gates, tanh_c = step
        i, f, g, o = gates
        da = np.empty_like(gates) if out is None else out             # (4, B, H)
        # h_next = o * tanh(c_next):  dc (through tanh) and do
        dc = dh_next * o
        dc *= 1.0 - tanh_c * tanh_c
        dc += dc_next                     # c_next also flows straight to the next step
        np.multiply(dh_next, tanh_c, out=da[3])                        # do
        # c_next = f * c_prev + i * g:  di, df, dg, dc_prev
        np.multiply(dc, g, out=da[0])                                  # di
        np.multiply(dc, c_prev, out=da[1])                             # df
        np.multiply(dc, i, out=da[2])                                  # dg
        dc_prev = dc * f
        # through the activations, all four blocks at once:
        # sigmoid'(a) = s (1 - s) = s - s^2 for i, f, o;  tanh'(a) = 1 - g^2 for g
        deriv = gates * gates                                          # (4, B, H)
        np.subtract(gates[:2], deriv[:2], out=deriv[:2])
        np.subtract(1.0, deriv[2], out=deriv[2])
        np.subtract(gates[3], deriv[3], out=deriv[3])
        da *= deriv
        # a[k] = ... + W_hh,k h_prev + ...  ->  dh_prev = sum_k W_hh,k^T da[k]
        dh_prev = np.matmul(da, w_hh).sum(axis=0)                      # (B, H)
        return da, da, (dh_prev, dc_prev)


# ----------------------------------------------------------------------------- GRU

class GRUCell(_Cell):
    r"""Gated recurrent unit (Cho et al. 2014), in PyTorch's or the textbook form.

    ``variant="pytorch"`` (default, equal to ``torch.nn.GRUCell``):

    .. math::
        r &= \sigma(W_{ir} x + b_{ir} + W_{hr} h + b_{hr}) \\
        z &= \sigma(W_{iz} x + b_{iz} + W_{hz} h + b_{hz}) \\
        n &= \tanh(W_{in} x + b_{in} + r \odot (W_{hn} h + b_{hn})) \\
        h' &= (1 - z) \odot n + z \odot h

    ``variant="textbook"`` (as in Cho et al. 2014 / Chung et al. 2014, with the roles of
    ``z`` and ``1 - z`` as usually taught): the reset gate acts on ``h`` *before* the
    recurrent product, and ``z`` weights the candidate:

    .. math::
        n &= \tanh(W_{in} x + b_{in} + W_{hn} (r \odot h) + b_{hn}) \\
        h' &= (1 - z) \odot h + z \odot n

    (``r`` and ``z`` as above.) Gate order in the stacked weights: **r, z, n**. State
    ``h`` (B, H); ``weight_ih`` (3H, D), ``weight_hh`` (3H, H), biases (3H,). The two
    variants have the same parameters but compute different functions; only the
    first exists in PyTorch.

    >>> a, b = GRUCell(2, 3, rng=0), GRUCell(2, 3, rng=0, variant="textbook")
    >>> x, h0 = np.ones((1, 2)), np.full((1, 3), 0.5)
    >>> bool(np.allclose(a.forward(x, h0)[0], b.forward(x, h0)[0]))
    False
    """

    num_gates = 3
    torch_name = "GRUCell"
    fold_bias_hh = False   # b_hn sits inside r * (W_hn h + b_hn), or after W_hn (r * h)

    def __init__(self, input_size, hidden_size, rng=None, dtype=np.float64, variant="pytorch"):
        self.variant = variant
        super().__init__(input_size, hidden_size, rng=rng, dtype=dtype)

    @property
    def variant(self):
        """``"pytorch"`` or ``"textbook"``; checked whenever it is set."""
        return self._variant

    @variant.setter
    def variant(self, value):
        self._variant = check_choice("variant", value, {"pytorch", "textbook"})

    @property
    def shares_da(self):
        # in PyTorch's form the n block of da_h is da_n * r, not da_n
        return self.variant == "textbook"

    def _extra_repr(self):
        return "" if self.variant == "pytorch" else f", variant={self.variant!r}"

    def to_torch(self):
        if self.variant != "pytorch":
            raise ValueError("to_torch needs variant='pytorch' (PyTorch has no textbook GRU), "
                             f"got variant={self.variant!r}")
        return super().to_torch()

    def _workspace(self, T, B):
        # pytorch: h_next, the recurrent product a_h (r, z are computed in place of its
        # first two blocks, hn is the third) and n; textbook: h_next, r and z, r * h_prev
        # and n -- of every step
        H, dtype = self.hidden_size, self.dtype
        if self.variant == "pytorch":
            return (np.empty((T, B, H), dtype), np.empty((T, 3, B, H), dtype),
                    np.empty((T, B, H), dtype))
        return (np.empty((T, B, H), dtype), np.empty((T, 2, B, H), dtype),
                np.empty((T, B, H), dtype), np.empty((T, B, H), dtype))

    def _step(self, a_x, h_prev, w_hh_t, b_hh, out=None):
        if self.variant == "textbook":
            return self._step_textbook(a_x, h_prev, w_hh_t, b_hh, out)
        h_next, a_h, n = (None,) * 3 if out is None else out
        # a_h = W_hh h_prev + b_hh, one (B, H) block per gate r, z, n
        a_h = np.matmul(h_prev, w_hh_t, out=a_h)                       # (3, B, H)
        a_h += b_hh
        # r, z = sigmoid(W_i. x + b_i. + W_h. h_prev + b_h.)  (a_h[:2] is not needed again)
        rz = np.add(a_x[:2], a_h[:2], out=None if out is None else a_h[:2])  # (2, B, H)
        r, z = sigmoid(rz, out=rz)
        # n = tanh(W_in x + b_in + r * (W_hn h_prev + b_hn))
        hn = a_h[2]
        n = np.multiply(r, hn, out=n)
        n += a_x[2]
        np.tanh(n, out=n)
        # h_next = (1 - z) * n + z * h_prev  =  n + z * (h_prev - n)
        h_next = np.subtract(h_prev, n, out=h_next)
        h_next *= z
        h_next += n
        return h_next, GRUStep(h_prev, r, z, n, hn)

    def _step_textbook(self, a_x, h_prev, w_hh_t, b_hh, out=None):
        h_next, a_rz, rh, a_n = (None,) * 4 if out is None else out
        # r, z = sigmoid(W_i. x + b_i. + W_h. h_prev + b_h.)
        a_rz = np.matmul(h_prev, w_hh_t[:2], out=a_rz)                 # (2, B, H)
        a_rz += a_x[:2]
        a_rz += b_hh[:2]
        r, z = sigmoid(a_rz, out=a_rz)
        # n = tanh(W_in x + b_in + W_hn (r * h_prev) + b_hn)
        rh = np.multiply(r, h_prev, out=rh)
        a_n = np.matmul(rh, w_hh_t[2], out=a_n)                        # (B, H)
        a_n += a_x[2]
        a_n += b_hh[2, 0]
        n = np.tanh(a_n, out=a_n)
        # h_next = (1 - z) * h_prev + z * n  =  h_prev + z * (n - h_prev)
        h_next = np.subtract(n, h_prev, out=h_next)
        h_next *= z
        h_next += h_prev
        return h_next, GRUStep(h_prev, r, z, n, rh)

    def _step_backward(self, dh_next, step, w_hh, out=None, out_h=None):
        if self.variant == "textbook":
            return self._step_backward_textbook(dh_next, step, w_hh, out)
        h_prev, r, z, n, hn = step
        da_x = np.empty((3,) + h_prev.shape, h_prev.dtype) if out is None else out  # (3, B, H)
        da_r, da_z, da_n = da_x
        # h_next = (1 - z) * n + z * h_prev
        dn = dh_next * (1.0 - z)
        dz = dh_next * (h_prev - n)
        dh_prev = dh_next * z
        # n = tanh(a_n),  a_n = W_in x + b_in + r * hn
        np.multiply(dn, 1.0 - n * n, out=da_n)
        dr = da_n * hn
        dhn = da_n * r
        # r, z = sigmoid(.)
        np.multiply(dr, r * (1.0 - r), out=da_r)
        np.multiply(dz, z * (1.0 - z), out=da_z)
        # a_h = W_hh h_prev + b_hh: same as da_x for r and z; for n only through r * hn
        da_h = np.stack([da_r, da_z, dhn], out=out_h)                  # (3, B, H)
        dh_prev += np.matmul(da_h, w_hh).sum(axis=0)
        return da_x, da_h, dh_prev

    def _step_backward_textbook(self, dh_next, step, w_hh, out=None):
        h_prev, r, z, n, rh = step
        da = np.empty((3,) + h_prev.shape, h_prev.dtype) if out is None else out  # (3, B, H)
        da_r, da_z, da_n = da
        # h_next = (1 - z) * h_prev + z * n
        dn = dh_next * z
        dz = dh_next * (n - h_prev)
        dh_prev = dh_next * (1.0 - z)
        # n = tanh(W_in x + b_in + W_hn rh + b_hn),  rh = r * h_prev
        np.multiply(dn, 1.0 - n * n, out=da_n)
        drh = da_n @ w_hh[2]                                           # (B, H)
        dr = drh * h_prev
        dh_prev += drh * r
        # r, z = sigmoid(W_i. x + b_i. + W_h. h_prev + b_h.)
        np.multiply(dr, r * (1.0 - r), out=da_r)
        np.multiply(dz, z * (1.0 - z), out=da_z)
        dh_prev += np.matmul(da[:2], w_hh[:2]).sum(axis=0)
        return da, da, dh_prev

    def _weight_hh_grad(self, da_h, steps):
        if self.variant == "pytorch":
            return super()._weight_hh_grad(da_h, steps)
        # blocks r, z multiply h_prev; block n multiplies r * h_prev
        h_prev = np.concatenate([s.h_prev for s in steps])            # (N, H)
        rh = np.concatenate([s.hn for s in steps])                    # (N, H)
        return np.concatenate([input_weight_grad(da_h[:2], h_prev),
                               input_weight_grad(da_h[2:], rh)])

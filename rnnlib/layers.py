"""Whole sequences: stacked, optionally bidirectional RNN, LSTM and GRU layers with BPTT.

Shapes: T time, B batch, D input features, H hidden units, L layers, K directions
(1, or 2 if bidirectional). As in PyTorch:

- ``x``: (T, B, D), or (B, T, D) with ``batch_first=True``
- ``out``: (T, B, K*H) (or (B, T, K*H)), the top layer's ``h`` at every step; for a
  bidirectional layer the forward direction's ``h`` then the reverse direction's
- ``h_n``, ``h_0``: (L*K, B, H), ordered layer 0 forward, layer 0 reverse, layer 1 ...
  (never batch-first); the LSTM's state is the pair ``(h, c)`` of such arrays.

A layer is a grid of cells (:mod:`rnnlib.cells`): one per layer and direction, each
applied at every step with the same weights. ``params`` has PyTorch's keys:
``weight_ih_l{k}``, ``weight_hh_l{k}``, ``bias_ih_l{k}``, ``bias_hh_l{k}``, and the same
with ``_reverse`` for the reverse direction.

The forward pass of one direction computes the input projection ``x @ W_ih.T + b_ih``
of all T steps in one matrix product, then steps through time; its backward pass
(backpropagation through time) walks the steps in reverse, collecting the gradient of
every pre-activation, and forms the weight gradients with one matrix product each at
the end. Between layers, dropout (probability ``dropout``) applies to the outputs of
every layer but the last, in training mode only, as in PyTorch.

>>> import numpy as np
>>> lstm = LSTM(input_size=3, hidden_size=4, num_layers=2, bidirectional=True, rng=0)
>>> x = np.zeros((5, 2, 3))                                  # (T, B, D)
>>> out, (h_n, c_n), cache = lstm.forward(x)
>>> out.shape, h_n.shape
((5, 2, 8), (4, 2, 4))
>>> dx, (dh0, dc0), grads = lstm.backward(np.ones_like(out), cache)
>>> dx.shape, dh0.shape, grads["weight_hh_l1_reverse"].shape
((5, 2, 3), (4, 2, 4), (16, 4))
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np

from rnnlib._checks import check_array, check_choice, check_size
from rnnlib.cells import (GRUCell, LSTMCell, RNNCell, gate_major, input_grad, input_projection,
                          input_weight_grad)

__all__ = ["RNN", "LSTM", "GRU"]


@dataclass
class DirectionCache:
    """One direction of one layer: its input (in processing order) and each step's cache."""
    x: np.ndarray          # (T, B, D), time reversed for the reverse direction
    steps: list            # T step caches from the cell, in processing order


@dataclass
class LayerCache:
    """Everything :meth:`backward` needs from :meth:`forward`."""
    directions: list       # L lists of K DirectionCache
    masks: list            # L dropout masks applied to each layer's input (None = no dropout)
    out_shape: tuple       # shape of ``out`` as returned (batch-first or not)


class _Layer:
    """Shared code of :class:`RNN`, :class:`LSTM` and :class:`GRU`."""

    cell_class = RNNCell
    torch_name = "RNN"

    def __init__(self, input_size, hidden_size, num_layers=1, bidirectional=False,
                 batch_first=False, rng=None, dropout=0.0, dtype=np.float64, **cell_kwargs):
        input_size = check_size("input_size", input_size)
        hidden_size = check_size("hidden_size", hidden_size)
        self._num_layers = check_size("num_layers", num_layers)
        self._num_directions = 2 if bidirectional else 1
        self.batch_first = bool(batch_first)
        self.dropout = dropout
        self.training = True
        self.rng = np.random.default_rng(rng)          # initialisation, then dropout masks
        # one cell per (layer, direction), applied at every step; params holds their
        # weights under PyTorch's names (the layer reads params, so entries may be replaced)
        self.cells = []
        self.params = {}
        for layer in range(self.num_layers):
            d_in = input_size if layer == 0 else self.num_directions * hidden_size
            row = []
            for direction in range(self.num_directions):
                cell = self.cell_class(d_in, hidden_size, rng=self.rng, dtype=dtype,
                                       **cell_kwargs)
                sfx = self._suffix(layer, direction)
                self.params.update({k + sfx: v for k, v in cell.params.items()})
                row.append(cell)
            self.cells.append(row)

    # The structure is fixed by the weights: these are read-only (a different size or
    # depth needs new weights, i.e. a new layer).
    @property
    def input_size(self):
        """D, the input features (``weight_ih_l0`` is (G*H, D))."""
        return self.params["weight_ih_l0"].shape[1]

    @property
    def hidden_size(self):
        """H, the hidden units (``weight_hh_l0`` is (G*H, H))."""
        return self.params["weight_hh_l0"].shape[1]

    @property
    def num_layers(self):
        """L, the stacked layers."""
        return self._num_layers

    @property
    def num_directions(self):
        """K: 2 if bidirectional, else 1."""
        return self._num_directions

    @property
    def bidirectional(self):
        return self._num_directions == 2

    @property
    def dropout(self):
        """Probability p in [0, 1] of zeroing each input of layers 1..L-1 in training mode.

        Checked whenever it is set, not only by the constructor. As in PyTorch, p = 1
        zeroes those inputs entirely.
        """
        return self._dropout

    @dropout.setter
    def dropout(self, p):
        if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout must be a number in [0, 1], got {p!r}")
        self._dropout = float(p)

    @staticmethod
    def _suffix(layer, direction):
        return f"_l{layer}" + ("_reverse" if direction else "")

    @property
    def dtype(self):
        """The floating dtype of the parameters; inputs are converted to it."""
        return self.params["weight_hh_l0"].dtype

    def num_parameters(self):
        """Total number of scalars in ``params`` (equal to PyTorch's count)."""
        return sum(p.size for p in self.params.values())

    def train(self, mode=True):
        """Switch dropout on (``mode=True``) or off; returns ``self``."""
        self.training = bool(mode)
        return self

    def eval(self):
        """Switch dropout off; returns ``self``."""
        return self.train(False)

    def __repr__(self):
        args = [str(self.input_size), str(self.hidden_size)]
        for name, default in [("num_layers", 1), ("bidirectional", False),
                              ("batch_first", False), ("dropout", 0.0)]:
            if getattr(self, name) != default:
                args.append(f"{name}={getattr(self, name)!r}")
        return f"{type(self).__name__}({', '.join(args)}{self.cells[0][0]._extra_repr()})"

    # -- state layout: internally a state is (h,) or (h, c), each (L*K, B, H)
    def _split_state(self, state, B, name):
        """Check a public state (array, or (h, c) for the LSTM) and return a tuple of arrays."""
        shape = (self.num_layers * self.num_directions, B, self.hidden_size)
        if self.cell_class is LSTMCell:
            if state is None:
                return (np.zeros(shape, self.dtype), np.zeros(shape, self.dtype))
            if not isinstance(state, (tuple, list)) or len(state) != 2:
                raise ValueError(f"{name} must be a pair (h, c) of arrays of shape "
                                 f"(L*K, B, H) = {shape}, got {type(state).__name__}")
            return tuple(check_array(f"{name}[{j}] ({'hc'[j]})", s, shape, "(L*K, B, H)",
                                     self.dtype) for j, s in enumerate(state))
        if state is None:
            return (np.zeros(shape, self.dtype),)
        return (check_array(name, state, shape, "(L*K, B, H)", self.dtype),)

    def _join_state(self, parts):
        return tuple(parts) if self.cell_class is LSTMCell else parts[0]

    def _cell_state(self, parts, index):
        """The state of cell ``index`` (= layer*K + direction) in the cell's own format."""
        return self._join_state([p[index] for p in parts])

    # -- forward
    def forward(self, x, state0=None):
        """Run the whole sequence.

        ``x`` (T, B, D) (or (B, T, D) if ``batch_first``); ``state0`` the initial state
        (``h_0`` (L*K, B, H), or ``(h_0, c_0)`` for the LSTM), zeros if None.

        Returns ``(out, state_n, cache)``: ``out`` (T, B, K*H) (or batch-first) and the
        final state, laid out like ``state0``.
        """
        axes = "(B, T, D)" if self.batch_first else "(T, B, D)"
        x = check_array("x", x, (None, None, self.input_size), axes, self.dtype)
        if self.batch_first:
            x = x.transpose(1, 0, 2)                                     # (T, B, D)
        T, B, _ = x.shape
        if T == 0 or B == 0:
            raise ValueError(f"x must have T >= 1 and B >= 1, got shape {x.shape}")
        state0 = self._split_state(state0, B, "state0")
        K, H = self.num_directions, self.hidden_size
        state_n = [np.empty_like(s) for s in state0]
        cache = LayerCache([], [], ())
        layer_in = x
        for layer in range(self.num_layers):
            mask = None
            if layer > 0 and self.training and self.dropout > 0:
                # inverted dropout: zero with probability p, scale the rest by 1/(1-p)
                # (p = 1 keeps nothing: the scale is irrelevant, and 1/0 must not be formed)
                keep = self.rng.random(layer_in.shape) >= self.dropout
                mask = keep * (1.0 / (1.0 - self.dropout) if self.dropout < 1 else 0.0)
                layer_in = layer_in * mask.astype(layer_in.dtype)
            cache.masks.append(mask)
            layer_out = np.empty((T, B, K * H), self.dtype)              # (T, B, K*H)
            caches = []
            for direction in range(K):
                index = layer * K + direction
                s_n, dcache = self._direction_forward(
                    layer_in, self._cell_state(state0, index), layer, direction,
                    out=layer_out[:, :, direction * H:(direction + 1) * H])
                for dst, src in zip(state_n, s_n if isinstance(s_n, tuple) else (s_n,)):
                    dst[index] = src
                caches.append(dcache)
            cache.directions.append(caches)
            layer_in = layer_out
        out = layer_in.transpose(1, 0, 2) if self.batch_first else layer_in
        cache.out_shape = out.shape
        return out, self._join_state(state_n), cache

    def _weights(self, layer, direction):
        sfx = self._suffix(layer, direction)
        p = self.params
        return p["weight_ih" + sfx], p["weight_hh" + sfx], p["bias_ih" + sfx], p["bias_hh" + sfx]

    def _direction_forward(self, x, state, layer, direction, out):
        """One direction of one layer over the sequence ``x`` (T, B, D) from ``state``.

        Writes the hidden states into ``out`` (T, B, H) in time order; returns the final
        state and a :class:`DirectionCache`.
        """
        cell = self.cells[layer][direction]
        w_ih, w_hh, b_ih, b_hh = self._weights(layer, direction)
        if direction == 1:
            x = x[::-1]                                    # the reverse direction reads t = T-1 .. 0
        T, B, D = x.shape
        G, H = cell.num_gates, self.hidden_size
        if cell.fold_bias_hh:
            b_ih, b_hh = b_ih + b_hh, None       # b_hh is added here, once, not at every step
        else:
            b_hh = b_hh.reshape(G, 1, H)
        # a_x[:, t] = W_ih x[t] + b_ih for every t at once: one product per gate block
        a_x = input_projection(x.reshape(T * B, D), w_ih, b_ih, G).reshape(G, T, B, H)
        w_hh_t = gate_major(w_hh, G)                                     # (G, H, H)
        # each step writes what it keeps into arrays allocated here once, not per step;
        # h_all (T, B, H) is the first (the cache keeps it: out is the caller's to change)
        work = cell._workspace(T, B)
        steps = []
        for t in range(T):
            state, step = cell._step(a_x[:, t], state, w_hh_t, b_hh,
                                     out=tuple(w[t] for w in work))
            steps.append(step)
        h_all = work[0]                                   # (T, B, H), processing order
        out[...] = h_all[::-1] if direction == 1 else h_all
        return state, DirectionCache(x, steps)

    # -- backward
    def backward(self, dout, cache, dstate_n=None):
        """Backpropagation through time.

        ``dout`` is the gradient of the loss with respect to ``out`` (same shape);
        ``dstate_n`` that with respect to the final state (zeros if None).

        Returns ``(dx, dstate0, grads)``: ``dx`` shaped like ``x``, ``dstate0`` like the
        initial state, ``grads`` a dict with the keys and shapes of ``params``.
        """
        dout = check_array("dout", dout, cache.out_shape,
                           "(B, T, K*H)" if self.batch_first else "(T, B, K*H)", self.dtype)
        if self.batch_first:
            dout = dout.transpose(1, 0, 2)                               # (T, B, K*H)
        T, B, _ = dout.shape
        K, H = self.num_directions, self.hidden_size
        dstate_n = self._split_state(dstate_n, B, "dstate_n")
        dstate0 = [np.empty_like(s) for s in dstate_n]
        grads = {}
        dlayer_out = dout
        for layer in reversed(range(self.num_layers)):
            dlayer_in = 0.0
            for direction in range(K):
                index = layer * K + direction
                dx_dir, ds0, g = self._direction_backward(
                    dlayer_out[:, :, direction * H:(direction + 1) * H],
                    self._cell_state(dstate_n, index), cache.directions[layer][direction],
                    layer, direction)
                # both directions read the same input: their gradients add
                dlayer_in = dlayer_in + dx_dir
                for dst, src in zip(dstate0, ds0 if isinstance(ds0, tuple) else (ds0,)):
                    dst[index] = src
                grads.update(g)
            mask = cache.masks[layer]
            if mask is not None:
                dlayer_in = dlayer_in * mask.astype(dlayer_in.dtype)
            dlayer_out = dlayer_in
        dx = dlayer_out.transpose(1, 0, 2) if self.batch_first else dlayer_out
        # same key order as params
        grads = {k: grads[k] for k in self.params}
        return dx, self._join_state(dstate0), grads

    def _direction_backward(self, dh_seq, dstate, dcache, layer, direction):
        """BPTT through one direction: ``dh_seq`` (T, B, H) in time order.

        Returns ``dx`` (T, B, D) in time order, the gradient of the initial state and the
        gradients of this direction's four parameters.
        """
        cell = self.cells[layer][direction]
        w_ih, w_hh, _, _ = self._weights(layer, direction)
        x, steps = dcache.x, dcache.steps
        if direction == 1:
            dh_seq = dh_seq[::-1]                          # into processing order
        T, B, D = x.shape
        G, H = cell.num_gates, self.hidden_size
        w_hh = w_hh.reshape(G, H, H)
        da_x = np.empty((G, T, B, H), self.dtype)          # grad of W_ih x + b_ih, gate-major
        # grad of W_hh h + b_hh; the same array when the cell says so
        da_h = da_x if cell.shares_da else np.empty((G, T, B, H), self.dtype)
        lstm = isinstance(dstate, tuple)
        for t in reversed(range(T)):
            # h[t] feeds both the output at t and the next step: add the two gradients
            # (a new array at the last step, which must not write into dstate_n)
            dh = dstate[0] if lstm else dstate
            if t == T - 1:
                dh = dh + dh_seq[t]
            else:
                dh += dh_seq[t]             # dh_prev of the step after: ours to modify
            dstate = (dh, dstate[1]) if lstm else dh
            if da_h is da_x:
                _, _, dstate = cell._step_backward(dstate, steps[t], w_hh, out=da_x[:, t])
            else:
                _, _, dstate = cell._step_backward(dstate, steps[t], w_hh, out=da_x[:, t],
                                                   out_h=da_h[:, t])
        da_x = da_x.reshape(G, T * B, H)
        da_h = da_h.reshape(G, T * B, H)
        sfx = self._suffix(layer, direction)
        db_ih = da_x.sum(axis=1).reshape(-1)                            # (G*H,)
        grads = {
            "weight_ih" + sfx: input_weight_grad(da_x, x.reshape(T * B, D)),   # (G*H, D)
            "weight_hh" + sfx: cell._weight_hh_grad(da_h, steps),              # (G*H, H)
            "bias_ih" + sfx: db_ih,
            "bias_hh" + sfx: db_ih.copy() if da_h is da_x else da_h.sum(axis=1).reshape(-1),
        }
        # a_x[k] = x W_ih,k^T  ->  dx = sum_k da_x[k] W_ih,k
        dx = input_grad(da_x, w_ih).reshape(T, B, D)                     # (T, B, D)
        if direction == 1:
            dx = dx[::-1]
        return dx, dstate, grads

    # -- PyTorch interop
    @classmethod
    def from_torch(cls, module):
        """A layer with the configuration and a copy of the weights of a ``torch.nn`` module."""
        if type(module).__name__ != cls.torch_name:
            raise TypeError(f"module must be a torch.nn.{cls.torch_name}, "
                            f"got {type(module).__name__}")
        if not module.bias:
            raise ValueError("module must have bias=True, got bias=False")
        if getattr(module, "proj_size", 0):
            raise ValueError(f"module must have proj_size=0, got {module.proj_size}")
        kwargs = cls._torch_kwargs(module)
        layer = cls(module.input_size, module.hidden_size, num_layers=module.num_layers,
                    bidirectional=module.bidirectional, batch_first=module.batch_first,
                    dropout=module.dropout, **kwargs)
        layer.params = {k: v.detach().cpu().numpy().copy() for k, v in module.state_dict().items()}
        for l, row in enumerate(layer.cells):
            for direction, cell in enumerate(row):
                sfx = cls._suffix(l, direction)
                cell.params = {k: layer.params[k + sfx] for k in cell.params}
        layer.training = module.training
        return layer

    @classmethod
    def _torch_kwargs(cls, module):
        return {}

    def to_torch(self):
        """A ``torch.nn`` module computing the same function, with a copy of ``params``."""
        import torch

        module = getattr(torch.nn, self.torch_name)(
            self.input_size, self.hidden_size, num_layers=self.num_layers,
            bidirectional=self.bidirectional, batch_first=self.batch_first,
            dropout=self.dropout, dtype=getattr(torch, self.dtype.name),
            **self._torch_init_kwargs())
        module.load_state_dict({k: torch.tensor(v) for k, v in self.params.items()})
        module.train(self.training)
        return module

    def _torch_init_kwargs(self):
        return {}


class RNN(_Layer):
    r"""Stacked Elman RNN: at every step and layer ``h_t = phi(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)``.

    ``phi`` is ``tanh`` (default) or ``relu`` (``nonlinearity``). Weights per layer and
    direction: ``weight_ih_l{k}`` (H, D) for k = 0, (H, K*H) above; ``weight_hh_l{k}``
    (H, H); biases (H,). Same as ``torch.nn.RNN``; see the module docstring for shapes.

    >>> rnn = RNN(2, 3, batch_first=True, rng=0)
    >>> out, h_n, cache = rnn.forward(np.ones((4, 6, 2)))      # (B, T, D)
    >>> out.shape, h_n.shape
    ((4, 6, 3), (1, 4, 3))
    """

    cell_class = RNNCell
    torch_name = "RNN"

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh",
                 bidirectional=False, batch_first=False, rng=None, dropout=0.0,
                 dtype=np.float64):
        super().__init__(input_size, hidden_size, num_layers=num_layers,
                         bidirectional=bidirectional, batch_first=batch_first, rng=rng,
                         dropout=dropout, dtype=dtype, nonlinearity=nonlinearity)

    @property
    def nonlinearity(self):
        """``"tanh"`` or ``"relu"``, that of every cell; setting it checks it and sets theirs."""
        return self.cells[0][0].nonlinearity

    @nonlinearity.setter
    def nonlinearity(self, value):
        check_choice("nonlinearity", value, {"tanh", "relu"})
        for cell in (c for row in self.cells for c in row):
            cell.nonlinearity = value

    @classmethod
    def _torch_kwargs(cls, module):
        return {"nonlinearity": module.nonlinearity}

    def _torch_init_kwargs(self):
        return {"nonlinearity": self.nonlinearity}


class LSTM(_Layer):
    r"""Stacked LSTM; each step is an :class:`~rnnlib.cells.LSTMCell` (gate order i, f, g, o).

    State ``(h, c)``, each (L*K, B, H). Weights per layer and direction:
    ``weight_ih_l{k}`` (4H, D) for k = 0, (4H, K*H) above; ``weight_hh_l{k}`` (4H, H);
    biases (4H,). Same as ``torch.nn.LSTM`` with ``proj_size=0``.
    """

    cell_class = LSTMCell
    torch_name = "LSTM"


class GRU(_Layer):
    r"""Stacked GRU; each step is a :class:`~rnnlib.cells.GRUCell` (gate order r, z, n).

    ``variant="pytorch"`` (default, equal to ``torch.nn.GRU``) or ``"textbook"``; the
    equations of both are in :class:`~rnnlib.cells.GRUCell`. Weights per layer and
    direction: ``weight_ih_l{k}`` (3H, D) for k = 0, (3H, K*H) above;
    ``weight_hh_l{k}`` (3H, H); biases (3H,).
    """

    cell_class = GRUCell
    torch_name = "GRU"

    def __init__(self, input_size, hidden_size, num_layers=1, bidirectional=False,
                 batch_first=False, rng=None, dropout=0.0, dtype=np.float64,
                 variant="pytorch"):
        super().__init__(input_size, hidden_size, num_layers=num_layers,
                         bidirectional=bidirectional, batch_first=batch_first, rng=rng,
                         dropout=dropout, dtype=dtype, variant=variant)

    @property
    def variant(self):
        """``"pytorch"`` or ``"textbook"``, that of every cell; setting it checks it and sets theirs."""
        return self.cells[0][0].variant

    @variant.setter
    def variant(self, value):
        check_choice("variant", value, {"pytorch", "textbook"})
        for cell in (c for row in self.cells for c in row):
            cell.variant = value

    def to_torch(self):
        if self.variant != "pytorch":
            raise ValueError("to_torch needs variant='pytorch' (PyTorch has no textbook GRU), "
                             f"got variant={self.variant!r}")
        return super().to_torch()

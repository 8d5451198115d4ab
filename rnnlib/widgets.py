"""Gate explorers: interactive widgets for one LSTM unit, one GRU unit and vanishing gradients.

Each explorer is an `anywidget <https://anywidget.dev>`_ widget. Its front end
(``widgets_js/explorer.js``) computes every number it shows with the small pure functions
of ``widgets_js/gates.js``, so it stays interactive on the static site, where there is no
Python kernel. The Python side computes the same numbers with :mod:`rnnlib`
(:meth:`LSTMExplorer.values` and friends); ``tests/test_widgets.py`` runs ``gates.js``
under Node.js and holds the two equal.

The gate explorers use one unit (D = H = 1). For each gate, in PyTorch's order, the
sliders set an input weight ``w``, a recurrent weight ``u`` and a bias ``b``, so that the
gate's pre-activation is ``a = w x + u h_prev + b``. In :mod:`rnnlib` terms these are
``weight_ih``, ``weight_hh`` and ``bias_ih`` (with ``bias_hh = 0``):

- :class:`LSTMExplorer` -- gates i, f, g, o; inputs ``x``, ``h_prev``, ``c_prev``;
  presets remember, forget, overwrite, hide, accumulate;
- :class:`GRUExplorer` -- gates r, z, n; inputs ``x``, ``h_prev``; both conventions
  (``variant="pytorch"`` or ``"textbook"``, as :class:`rnnlib.cells.GRUCell`); presets
  that show how the reset and update gates work together;
- :class:`VanishingExplorer` -- the norm of ``dh_T/dh_{T-k}`` against the lag ``k`` for a
  two-unit tanh RNN whose recurrent matrix has spectral radius ``rho``.

A preset sets the gate parameters and keeps the inputs, so a learner can move ``x`` or
the previous state and watch the behaviour hold. Moving a parameter slider clears the
preset (``preset == ""``).

>>> ex = LSTMExplorer(preset="forget", c_prev=1.5)
>>> round(ex.values()["c"], 2)                      # the old cell is wiped
0.0
>>> ex.preset = "remember"
>>> round(ex.values()["c"], 2)                      # the old cell is kept
1.5
"""

from __future__ import annotations

import copy
import math
import pathlib

import anywidget
import numpy as np
import traitlets as t

from rnnlib.cells import GRUCell, LSTMCell, RNNCell

__all__ = [
    "LSTMExplorer", "GRUExplorer", "VanishingExplorer",
    "LSTM_PRESETS", "GRU_PRESETS", "lstm_values", "gru_values", "gradient_norms",
    "esm_source", "JS_DIR",
]

JS_DIR = pathlib.Path(__file__).with_name("widgets_js")
_GATES_IMPORT = 'import { gradientNorms, gruStep, lstmStep } from "./gates.js";'

_SATURATE = 8.0   # sigma(8) = 0.9997: a gate bias of +-8 opens or closes a gate almost fully

# Presets: gate parameters (w, u, b), one entry per gate in PyTorch's order. The candidate
# reads the input and the previous hidden state, g = tanh(2x + h_prev), so both input
# sliders move it; the gates are saturated by their biases (sigma(+-8)), so each preset's
# behaviour holds whatever the inputs.
_CANDIDATE = {"w": [0.0, 0.0, 2.0, 0.0], "u": [0.0, 0.0, 1.0, 0.0]}
LSTM_PRESETS = {
    # f open, i shut: c' ~ c_prev whatever the input
    "remember": {**_CANDIDATE, "b": [-_SATURATE, _SATURATE, 0.0, _SATURATE]},
    # f shut, i shut: c' ~ 0
    "forget": {**_CANDIDATE, "b": [-_SATURATE, -_SATURATE, 0.0, _SATURATE]},
    # f shut, i open: c' ~ g = tanh(2x + h_prev), the old content replaced by the new
    "overwrite": {**_CANDIDATE, "b": [_SATURATE, -_SATURATE, 0.0, _SATURATE]},
    # as remember, but o shut: the cell keeps its content and shows none of it, h' ~ 0
    "hide": {**_CANDIDATE, "b": [-_SATURATE, _SATURATE, 0.0, -_SATURATE]},
    # f open, i open: c' ~ c_prev + g, a running sum
    "accumulate": {**_CANDIDATE, "b": [_SATURATE, _SATURATE, 0.0, _SATURATE]},
}

# GRU presets in PyTorch's convention (h' = (1 - z) n + z h); the textbook convention
# (h' = (1 - z) h + z n) uses the same numbers with z's parameters negated, because
# sigma(-a) = 1 - sigma(a). The candidate reads x (w_n = 2) and, through r, h (u_n = 2).
GRU_PRESETS = {
    # z open: keep the old state, the candidate is ignored
    "keep": {"w": [0.0, 0.0, 2.0], "u": [0.0, 0.0, 2.0], "b": [_SATURATE, _SATURATE, 0.0]},
    # r shut, z open: the reset gate does nothing, because the candidate is not used
    "reset, but keep": {"w": [0.0, 0.0, 2.0], "u": [0.0, 0.0, 2.0],
                        "b": [-_SATURATE, _SATURATE, 0.0]},
    # r open, z shut: h' = n = tanh(2x + 2h), a new state that still reads the old one
    "rewrite": {"w": [0.0, 0.0, 2.0], "u": [0.0, 0.0, 2.0], "b": [_SATURATE, -_SATURATE, 0.0]},
    # r shut, z shut: h' = n = tanh(2x), a fresh start from the input alone
    "restart": {"w": [0.0, 0.0, 2.0], "u": [0.0, 0.0, 2.0], "b": [-_SATURATE, -_SATURATE, 0.0]},
    # r open, z = 1/2: the midpoint between the old state and the candidate
    "blend": {"w": [0.0, 0.0, 2.0], "u": [0.0, 0.0, 2.0], "b": [_SATURATE, 0.0, 0.0]},
}


def _textbook_preset(p):
    """The PyTorch-convention preset ``p`` with z's parameters negated (same behaviour)."""
    q = copy.deepcopy(p)
    for key in ("w", "u", "b"):
        q[key][1] = -q[key][1]
    return q


_GRU_PRESETS_BY_VARIANT = {
    "pytorch": GRU_PRESETS,
    "textbook": {name: _textbook_preset(p) for name, p in GRU_PRESETS.items()},
}


def esm_source():
    """The front end as one ES module: ``explorer.js`` with ``gates.js`` inlined for its import."""
    view = (JS_DIR / "explorer.js").read_text(encoding="utf-8")
    gates = (JS_DIR / "gates.js").read_text(encoding="utf-8")
    if view.count(_GATES_IMPORT) != 1:
        raise RuntimeError(f"explorer.js must contain the line {_GATES_IMPORT!r} exactly once")
    return view.replace(_GATES_IMPORT, gates)


def _one_unit_params(w, u, b):
    """rnnlib parameters of a one-unit cell from per-gate lists ``w``, ``u``, ``b`` (length G)."""
    G = len(w)
    return {
        "weight_ih": np.asarray(w, dtype=np.float64).reshape(G, 1),   # (G*H, D) = (G, 1)
        "weight_hh": np.asarray(u, dtype=np.float64).reshape(G, 1),   # (G*H, H) = (G, 1)
        "bias_ih": np.asarray(b, dtype=np.float64).reshape(G),
        "bias_hh": np.zeros(G),
    }


def _check_gate_list(name, value, G):
    if len(value) != G or not all(math.isfinite(v) for v in value):
        raise ValueError(f"{name} must be {G} finite numbers (one per gate), got {value!r}")


def lstm_values(x, h_prev, c_prev, w, u, b):
    """One step of a one-unit :class:`~rnnlib.cells.LSTMCell`, everything the explorer shows.

    ``w``, ``u``, ``b``: lists of 4 (gates i, f, g, o). Returns a dict of floats
    ``i, f, g, o, c, tanh_c, h`` and ``a``, the list of the 4 pre-activations.
    """
    for name, value in (("w", w), ("u", u), ("b", b)):
        _check_gate_list(name, value, 4)
    cell = LSTMCell(1, 1)
    cell.params = _one_unit_params(w, u, b)
    (h, c), cache = cell.forward(np.array([[x]]), (np.array([[h_prev]]), np.array([[c_prev]])))
    s = cache.step
    a = [x * w[k] + b[k] + h_prev * u[k] for k in range(4)]
    return {"a": a, "i": float(s.i[0, 0]), "f": float(s.f[0, 0]), "g": float(s.g[0, 0]),
            "o": float(s.o[0, 0]), "c": float(c[0, 0]), "tanh_c": float(s.tanh_c[0, 0]),
            "h": float(h[0, 0])}


def gru_values(x, h_prev, w, u, b, variant="pytorch"):
    """One step of a one-unit :class:`~rnnlib.cells.GRUCell`, everything the explorer shows.

    ``w``, ``u``, ``b``: lists of 3 (gates r, z, n). Returns a dict of floats ``r, z, n, h``
    and ``a``, the pre-activations of r, z and the candidate.
    """
    for name, value in (("w", w), ("u", u), ("b", b)):
        _check_gate_list(name, value, 3)
    cell = GRUCell(1, 1, variant=variant)
    cell.params = _one_unit_params(w, u, b)
    h, cache = cell.forward(np.array([[x]]), np.array([[h_prev]]))
    s = cache.step
    r = float(s.r[0, 0])
    # candidate pre-activation: w_n x + b_n + r (u_n h), or + u_n (r h) in the textbook form
    a_n = x * w[2] + b[2] + (r * (h_prev * u[2]) if variant == "pytorch" else r * h_prev * u[2])
    a = [x * w[0] + b[0] + h_prev * u[0], x * w[1] + b[1] + h_prev * u[1], a_n]
    return {"a": a, "r": r, "z": float(s.z[0, 0]), "n": float(s.n[0, 0]), "h": float(h[0, 0])}


def drive(T, amplitude):
    """The inputs of the vanishing-gradient explorer, (T, 2): ``amplitude * [sin 0.9t, cos 0.4t]``."""
    t_ = np.arange(1, T + 1, dtype=np.float64)
    return amplitude * np.stack([np.sin(0.9 * t_), np.cos(0.4 * t_)], axis=1)


def gradient_norms(rho, theta, T, amplitude):
    """``norms[k-1] = ||dh_T / dh_{T-k}||_2`` for ``k = 1..T``, measured with :class:`RNNCell`.

    The cell has two units, ``h_t = tanh(W h_{t-1} + x_t)`` with ``h_0 = 0``, the inputs of
    :func:`drive` and ``W = rho * R(theta)`` (a rotation scaled to spectral radius ``rho``).
    The rows of the Jacobian are found by backpropagating the two unit vectors through
    the cell's own ``backward``, one step at a time.
    """
    if not rho > 0 or int(T) != T or T < 1:
        raise ValueError(f"rho must be > 0 and T a positive integer, got rho={rho}, T={T}")
    T = int(T)
    cell = RNNCell(2, 2)
    cs, sn = math.cos(theta), math.sin(theta)
    cell.params = {"weight_ih": np.eye(2), "bias_ih": np.zeros(2), "bias_hh": np.zeros(2),
                   "weight_hh": rho * np.array([[cs, -sn], [sn, cs]])}
    xs = drive(T, amplitude)
    h = np.zeros((2, 2))                 # (B, H): the same sequence twice, one row per unit vector
    caches = []
    for t_ in range(T):
        h, cache = cell.forward(np.repeat(xs[t_][None], 2, axis=0), h)
        caches.append(cache)
    J = np.eye(2)                        # row j: gradient of h_T[j]
    norms = []
    for cache in reversed(caches):
        _, J, _ = cell.backward(J, cache)    # now d h_T / d h_{t-1}
        norms.append(float(np.linalg.norm(J, 2)))
    return norms


# ----------------------------------------------------------------------------- widgets

class _Explorer(anywidget.AnyWidget):
    _esm = t.Unicode(esm_source()).tag(sync=True)
    _css = t.Unicode((JS_DIR / "explorer.css").read_text(encoding="utf-8")).tag(sync=True)
    title = "explorer"

    def __repr__(self):
        # The plain-text output Jupyter shows until the widget is drawn (e.g. in a
        # notebook not yet run or not trusted).
        return f"{self.title}: run this cell in Jupyter to use it"


class _GateExplorer(_Explorer):
    num_gates = 0
    x = t.Float(0.8, help="the input x_t").tag(sync=True)
    h_prev = t.Float(0.5, help="the previous hidden state h_{t-1}").tag(sync=True)
    w = t.List(t.Float(), help="input weight of each gate").tag(sync=True)
    u = t.List(t.Float(), help="recurrent weight of each gate").tag(sync=True)
    b = t.List(t.Float(), help="bias of each gate").tag(sync=True)
    preset = t.Unicode("", help='the preset whose parameters are set, or ""').tag(sync=True)
    presets = t.Dict(help="the presets' parameters (read by the front end)").tag(sync=True)

    def __init__(self, preset, **kwargs):
        super().__init__(**kwargs)
        self.observe(self._apply_preset, names=["preset"])
        if preset:
            self.preset = preset
        elif not (self.w and self.u and self.b):
            raise ValueError("give a preset or all of w, u, b")

    def _table(self):
        return self.presets

    @t.validate("w", "u", "b")
    def _valid_list(self, proposal):
        _check_gate_list(proposal.trait.name, proposal.value, self.num_gates)
        return proposal.value

    @t.validate("preset")
    def _valid_preset(self, proposal):
        if proposal.value and proposal.value not in self._table():
            raise ValueError(f"preset must be one of {sorted(self._table())} or '', "
                             f"got {proposal.value!r}")
        return proposal.value

    def _apply_preset(self, change=None):
        if self.preset:
            p = self._table()[self.preset]
            with self.hold_sync():
                self.w, self.u, self.b = list(p["w"]), list(p["u"]), list(p["b"])


class LSTMExplorer(_GateExplorer):
    """Explorer of one LSTM unit: sliders for x, h_prev, c_prev and each gate's w, u, b.

    Live bars show f, i, g, o, the new cell state c and the new hidden state h.
    Presets: ``"remember"``, ``"forget"``, ``"overwrite"``, ``"hide"``, ``"accumulate"``;
    in each the candidate is ``g = tanh(2 x + h_prev)``.

    >>> ex = LSTMExplorer(preset="hide", c_prev=1.0)
    >>> v = ex.values()
    >>> round(v["c"], 2), round(v["h"], 3)          # content kept, nothing shown
    (1.0, 0.0)
    """

    num_gates = 4
    title = "LSTM gate explorer (one unit)"
    _kind = t.Unicode("lstm").tag(sync=True)
    c_prev = t.Float(1.0, help="the previous cell state c_{t-1}").tag(sync=True)

    def __init__(self, preset="remember", **kwargs):
        kwargs.setdefault("presets", copy.deepcopy(LSTM_PRESETS))
        super().__init__(preset, **kwargs)

    def values(self):
        """What the front end shows, computed with :class:`rnnlib.cells.LSTMCell` (see :func:`lstm_values`)."""
        return lstm_values(self.x, self.h_prev, self.c_prev, self.w, self.u, self.b)


class GRUExplorer(_GateExplorer):
    """Explorer of one GRU unit: sliders for x, h_prev and each gate's w, u, b.

    Live bars show r, z, the candidate n and the new state h. ``variant`` selects the
    convention (``"pytorch"`` or ``"textbook"``); a preset means the same behaviour in
    both, so changing the variant re-applies it with z's parameters negated. Presets:
    ``"keep"``, ``"reset, but keep"``, ``"rewrite"``, ``"restart"``, ``"blend"``.

    >>> ex = GRUExplorer(preset="restart", x=0.5, h_prev=0.9)
    >>> round(ex.values()["h"], 2) == round(float(np.tanh(2 * 0.5)), 2)   # the past is gone
    True
    """

    num_gates = 3
    title = "GRU gate explorer (one unit)"
    _kind = t.Unicode("gru").tag(sync=True)
    variant = t.Unicode("pytorch", help='"pytorch" or "textbook"').tag(sync=True)

    def __init__(self, preset="keep", variant="pytorch", **kwargs):
        kwargs.setdefault("presets", copy.deepcopy(_GRU_PRESETS_BY_VARIANT))
        super().__init__(preset, variant=variant, **kwargs)
        self.observe(self._apply_preset, names=["variant"])

    def _table(self):
        return self.presets[self.variant]

    @t.validate("variant")
    def _valid_variant(self, proposal):
        if proposal.value not in ("pytorch", "textbook"):
            raise ValueError(f"variant must be 'pytorch' or 'textbook', got {proposal.value!r}")
        return proposal.value

    def values(self):
        """What the front end shows, computed with :class:`rnnlib.cells.GRUCell` (see :func:`gru_values`)."""
        return gru_values(self.x, self.h_prev, self.w, self.u, self.b, self.variant)


class VanishingExplorer(_Explorer):
    """Explorer of vanishing and exploding gradients in a two-unit tanh RNN.

    Sliders for the spectral radius ``rho`` of the recurrent matrix, the sequence length
    ``T`` and the input amplitude; the plot shows ``||dh_T/dh_{T-k}||`` against the lag
    ``k`` on a log scale, with ``rho**k`` (the same network without tanh) for reference.

    >>> ex = VanishingExplorer(rho=0.8, T=30)
    >>> v = ex.values()
    >>> v["norms"][-1] < v["linear"][-1] == 0.8 ** 30
    True
    """

    title = "Vanishing-gradient explorer (two-unit tanh RNN)"
    _kind = t.Unicode("vanishing").tag(sync=True)
    rho = t.Float(0.9, help="spectral radius of the recurrent matrix").tag(sync=True)
    T = t.Int(40, help="sequence length").tag(sync=True)
    amplitude = t.Float(0.5, help="size of the inputs").tag(sync=True)
    theta = t.Float(0.5, help="rotation angle of the recurrent matrix").tag(sync=True)

    @t.validate("rho", "T")
    def _positive(self, proposal):
        if not proposal.value > 0:
            raise ValueError(f"{proposal.trait.name} must be > 0, got {proposal.value}")
        return proposal.value

    def values(self):
        """``{"lag": [1..T], "norms": [...], "linear": [rho**k]}``, norms from :func:`gradient_norms`."""
        norms = gradient_norms(self.rho, self.theta, self.T, self.amplitude)
        return {"lag": list(range(1, self.T + 1)), "norms": norms,
                "linear": [self.rho ** k for k in range(1, self.T + 1)]}

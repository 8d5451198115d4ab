"""Figures for the vanilla RNN chapters: the Elman cell, BPTT, and gradients against lag.

Built on :mod:`rnnlib.plots` (same colours, same box-and-arrow layout: inputs ``x_t``
at ``y = 0``, states ``h_t`` at ``y = 1``, outputs ``y_t`` at ``y = 2``, step ``t`` in
column ``t``).

- :func:`draw_folded_cell` -- the cell drawn once, with its recurrent loop.
- :func:`draw_elman_unrolled` -- the same cell unrolled, each arrow labelled with the
  shared weight matrix it applies.
- :func:`draw_bptt` -- the unrolled states with the backward (gradient) arrows, cut at
  the chunk boundaries of truncated BPTT.
- :func:`draw_gru_cell` -- one GRU step (book form), the state along the top line.
- :func:`plot_activations` -- tanh, sigmoid and ReLU with their derivatives.
- :func:`plot_norms_by_lag` -- one curve per setting of a norm against time lag, log scale.

>>> import matplotlib
>>> matplotlib.use("Agg")
>>> import matplotlib.pyplot as plt
>>> fig, ax = plt.subplots()
>>> _ = draw_elman_unrolled(ax, 3)
>>> sum(t.get_text() == "$W_{hh}$" for t in ax.texts)   # one per arrow between states
3
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.patches import FancyArrowPatch

from rnnlib.plots import COLORS, _arrow, _box, _finish, draw_unrolled

__all__ = ["draw_folded_cell", "draw_elman_unrolled", "draw_bptt", "draw_gru_cell", "plot_activations",
           "plot_norms_by_lag", "ACTIVATIONS"]

GRAD_COLOR = "#cc3311"  # backward (gradient) arrows

# name -> (function, derivative), on NumPy arrays
ACTIVATIONS = {
    "tanh": (np.tanh, lambda z: 1.0 - np.tanh(z) ** 2),
    "sigmoid": (lambda z: 0.5 * (1.0 + np.tanh(0.5 * z)),
                lambda z: 0.25 * (1.0 - np.tanh(0.5 * z) ** 2)),
    "ReLU": (lambda z: np.maximum(z, 0.0), lambda z: (z > 0).astype(float)),
}


def _label(ax: Axes, x: float, y: float, text: str, **kwargs) -> None:
    ax.text(x, y, text, ha="center", va="center", fontsize=8, color="#1f3b73", **kwargs)


def draw_folded_cell(ax: Axes, title: str | None = None) -> Axes:
    """The Elman cell drawn once: ``x_t -> h_t -> y_t`` with a loop ``W_hh`` on ``h``.

    Args:
        ax: the matplotlib axes to draw on.
        title: text above the drawing.

    Returns:
        ``ax``, with equal aspect and no axis lines.
    """
    _box(ax, 1.0, 0.0, "$x_t$", COLORS["x"])
    _box(ax, 1.0, 1.0, "$h_t$", COLORS["h"])
    _box(ax, 1.0, 2.0, "$y_t$", COLORS["y"])
    _arrow(ax, (1.0, 0.3), (1.0, 0.7))
    _arrow(ax, (1.0, 1.3), (1.0, 1.7))
    # the recurrent loop: leaves h on the right, comes back on the left
    ax.add_patch(FancyArrowPatch((1.3, 1.15), (1.3, 0.85), connectionstyle="arc3,rad=-2.2",
                                 arrowstyle="-|>", mutation_scale=12, color=COLORS["edge"],
                                 linewidth=1.2))
    _label(ax, 1.28, 0.5, "$W_{xh}$")
    _label(ax, 1.28, 1.5, "$W_{hy}$")
    _label(ax, 2.02, 1.0, "$W_{hh}$\n(one-step\ndelay)")
    return _finish(ax, (0.4, 2.4), title)


def draw_elman_unrolled(ax: Axes, steps: int, title: str | None = None) -> Axes:
    """The Elman RNN unrolled over ``steps`` steps from ``h_0``, arrows labelled with weights.

    Every vertical arrow into ``h_t`` is labelled ``W_xh``, every horizontal one ``W_hh``
    and every arrow out to ``y_t`` ``W_hy``: the same three matrices in every column.

    Args:
        ax: the matplotlib axes to draw on.
        steps: the number of time steps T (>= 1).
        title: text above the graph.

    Returns:
        ``ax``.
    """
    draw_unrolled(ax, steps, show_h0=True, title=title)
    _label(ax, 0.5, 0.8, "$W_{hh}$")
    for col in range(1, steps + 1):
        _label(ax, col + 0.25, 0.5, "$W_{xh}$")
        _label(ax, col + 0.25, 1.5, "$W_{hy}$")
        if col < steps:
            _label(ax, col + 0.5, 0.8, "$W_{hh}$")
    return ax


def draw_bptt(ax: Axes, steps: int, k: int | None = None, title: str | None = None) -> Axes:
    """States ``h_1 .. h_T`` with forward arrows (black) and backward gradient arrows (red).

    Each state receives a gradient from its own loss ``L_t`` (red arrow from above) and
    from the next state. With ``k`` (truncated BPTT), the backward arrow across every
    chunk boundary (after steps k, 2k, ...) is missing and the boundary is drawn dashed.

    Args:
        ax: the matplotlib axes to draw on.
        steps: the number of time steps T (>= 1).
        k: chunk length for truncated BPTT, or None for full BPTT.
        title: text above the graph.

    Returns:
        ``ax``.
    """
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    if k is not None and k < 1:
        raise ValueError(f"k must be >= 1 or None, got {k}")
    for t in range(1, steps + 1):
        _box(ax, t, 1.0, f"$h_{{{t}}}$", COLORS["h"], size=0.5)
        _box(ax, t, 2.1, f"$L_{{{t}}}$", COLORS["y"], size=0.5)
        ax.add_patch(FancyArrowPatch((t, 1.85), (t, 1.25), arrowstyle="-|>", mutation_scale=10,
                                     color=GRAD_COLOR, linewidth=1.1))
        if t < steps:
            _arrow(ax, (t + 0.25, 1.08), (t + 0.75, 1.08))
            cut = k is not None and t % k == 0
            if cut:
                ax.axvline(t + 0.5, color="gray", linestyle="--", linewidth=1)
            else:
                ax.add_patch(FancyArrowPatch((t + 0.75, 0.9), (t + 0.25, 0.9), arrowstyle="-|>",
                                             mutation_scale=10, color=GRAD_COLOR, linewidth=1.1))
    ax.set_xlim(0.4, steps + 0.6)
    ax.set_ylim(0.5, 2.5)
    ax.set_aspect("equal")
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=10)
    return ax


def plot_activations(axes, z=None, names=("tanh", "sigmoid", "ReLU")):
    """Plot each activation on ``axes[0]`` and its derivative on ``axes[1]``.

    Args:
        axes: two matplotlib axes.
        z: the pre-activation values to plot over (default ``linspace(-4, 4, 401)``).
        names: keys of :data:`ACTIVATIONS`.

    Returns:
        ``axes``.
    """
    if len(axes) != 2:
        raise ValueError(f"axes must hold two axes (values, derivatives), got {len(axes)}")
    z = np.linspace(-4, 4, 401) if z is None else np.asarray(z)
    for name in names:
        f, df = ACTIVATIONS[name]
        axes[0].plot(z, f(z), label=name)
        axes[1].plot(z, df(z), label=name)
    axes[0].set(title="activation $\\phi(a)$", xlabel="pre-activation $a$", ylim=(-1.3, 2.3))
    axes[1].set(title="derivative $\\phi'(a)$", xlabel="pre-activation $a$", ylim=(-0.1, 1.15))
    for ax in axes:
        ax.axhline(0, color="gray", linewidth=0.6)
        ax.axvline(0, color="gray", linewidth=0.6)
        ax.legend(fontsize=8)
    return axes


def plot_norms_by_lag(ax: Axes, curves: dict, *, ylabel: str = "norm", title: str | None = None,
                      floor: float = 1e-30) -> Axes:
    """One line per entry of ``curves`` (label -> values indexed by lag) on a log y-axis.

    Values below ``floor`` (including exact zeros) are clipped to it so the log scale
    can show them.

    Args:
        ax: the matplotlib axes to draw on.
        curves: label -> 1-D array, entry ``l`` is the norm at lag ``l``.
        ylabel: the y-axis label.
        title: text above the plot.
        floor: the smallest value drawn.

    Returns:
        ``ax``.
    """
    for label, values in curves.items():
        values = np.maximum(np.asarray(values, dtype=float), floor)
        ax.semilogy(np.arange(len(values)), values, label=label)
    ax.set(xlabel="lag $t - k$ (steps back)", ylabel=ylabel)
    if title:
        ax.set_title(title, fontsize=10)
    ax.axhline(1.0, color="gray", linewidth=0.6, linestyle=":")
    ax.legend(fontsize=8)
    return ax



def draw_gru_cell(ax: Axes, title: str | None = None) -> Axes:
    """One GRU step in the book's form, ``h_t = (1 - z) * h_{t-1} + z * n``, as a diagram.

    The state runs along the top line, where only a product with ``1 - z`` and a sum with
    ``z * n`` touch it; below, the reset gate ``r`` and the update gate ``z`` (sigmoids)
    and the candidate ``n`` (tanh), which reads ``r * h_{t-1}``, all fed by
    ``h_{t-1}`` and ``x_t``. Drawn in the style of chapter 5's LSTM cell.

    Args:
        ax: the matplotlib axes to draw on.
        title: text above the drawing.

    Returns:
        ``ax``, with equal aspect and no axis lines.
    """
    def box(x, y, text, color, w=0.9, h=0.55):
        ax.add_patch(plt.Rectangle((x - w / 2, y - h / 2), w, h, facecolor=color, edgecolor="black", zorder=3))
        ax.text(x, y, text, ha="center", va="center", fontsize=11, zorder=4)

    def node(x, y, text):
        ax.add_patch(plt.Circle((x, y), 0.22, facecolor="white", edgecolor="black", zorder=3))
        ax.text(x, y, text, ha="center", va="center", fontsize=11, zorder=4)

    def arrow(a, b, **kw):
        ax.annotate("", xy=b, xytext=a, arrowprops=dict(arrowstyle="->", lw=1.4, **kw), zorder=2)

    state_y, gate_y, in_y = 3.0, 1.2, 0.1
    state = dict(color="tab:green")
    arrow((0.0, state_y), (1.78, state_y), **state)           # h_{t-1} along the top
    node(2.0, state_y, "×")
    arrow((2.22, state_y), (5.28, state_y), **state)
    node(5.5, state_y, "+")
    arrow((5.72, state_y), (7.6, state_y), **state)
    ax.text(0.0, state_y + 0.25, "$h_{t-1}$", fontsize=12)
    ax.text(7.2, state_y + 0.25, "$h_t$", fontsize=12)
    for x, text, color in [(2.0, "σ\n$z$", "#bee3f8"), (3.3, "σ\n$r$", "#bee3f8"),
                           (4.8, "tanh\n$n$", "#fbd38d")]:
        box(x, gate_y, text, color)
        arrow((x, in_y + 0.05), (x, gate_y - 0.3))
    node(2.0, 2.1, "1−")                                        # 1 - z scales the old state
    arrow((2.0, gate_y + 0.3), (2.0, 1.88))
    arrow((2.0, 2.32), (2.0, state_y - 0.22))
    node(4.8, 2.1, "×")                                         # z * n is written
    arrow((2.4, gate_y + 0.25), (4.58, 2.02))
    arrow((4.8, gate_y + 0.3), (4.8, 1.88))
    arrow((4.98, 2.25), (5.34, state_y - 0.17))
    arrow((3.75, gate_y), (4.33, gate_y))                        # r gates what n reads
    ax.text(4.05, gate_y - 0.45, "$r \\odot h_{t-1}$", ha="center", fontsize=9)
    ax.plot([0.0, 5.0], [in_y, in_y], color="black", lw=1.4)
    ax.text(0.0, in_y + 0.15, "$h_{t-1}$, $x_t$", fontsize=12)
    ax.set(xlim=(-0.2, 7.9), ylim=(-0.3, 3.6), aspect="equal")
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=10)
    return ax

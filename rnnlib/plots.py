"""Figures drawn by code: unrolled recurrent graphs and the shapes of sequence tasks.

An unrolled graph has one column per time step and three rows: inputs ``x_t`` at
the bottom, hidden states ``h_t`` in the middle and outputs ``y_t`` on top. The
state flows left to right; every column uses the same cell (the same weights).

>>> import matplotlib
>>> matplotlib.use("Agg")
>>> fig = task_shapes_figure()
>>> len(fig.axes)
5
"""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

# One colour per role, used by every figure in the book.
COLORS = {"x": "#cfe2f3", "h": "#d9ead3", "y": "#fce5cd", "edge": "#444444"}


@dataclass(frozen=True)
class TaskShape:
    """Which steps of an unrolled graph read an input and which emit an output."""

    name: str  # e.g. "many-to-one"
    example: str  # a task of this shape, e.g. "sentiment of a review"
    inputs: tuple[bool, ...]  # inputs[t] is True when step t reads x_t
    outputs: tuple[bool, ...]  # outputs[t] is True when step t emits y_t

    def __post_init__(self):
        if len(self.inputs) != len(self.outputs):
            raise ValueError(
                f"inputs and outputs must have one flag per step; got "
                f"{len(self.inputs)} and {len(self.outputs)}"
            )


TASK_SHAPES = (
    TaskShape("one-to-one", "image classification", (True,), (True,)),
    TaskShape("one-to-many", "image captioning", (True, False, False, False), (True, True, True, True)),
    TaskShape("many-to-one", "sentiment of a review", (True, True, True, True), (False, False, False, True)),
    TaskShape("many-to-many (aligned)", "part-of-speech tagging", (True,) * 4, (True,) * 4),
    TaskShape(
        "many-to-many (seq2seq)",
        "translation",
        (True, True, True, False, False, False),
        (False, False, False, True, True, True),
    ),
)


def _box(ax: Axes, x: float, y: float, text: str, color: str, size: float = 0.6) -> None:
    ax.add_patch(
        FancyBboxPatch(
            (x - size / 2, y - size / 2), size, size,
            boxstyle="round,pad=0.02,rounding_size=0.08",
            facecolor=color, edgecolor=COLORS["edge"], linewidth=1.2,
        )
    )
    ax.text(x, y, text, ha="center", va="center", fontsize=10)


def _arrow(ax: Axes, start: tuple[float, float], end: tuple[float, float]) -> None:
    ax.add_patch(
        FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=12,
                        color=COLORS["edge"], linewidth=1.2)
    )


def draw_unrolled(
    ax: Axes,
    inputs: tuple[bool, ...] | int,
    outputs: tuple[bool, ...] | None = None,
    *,
    title: str | None = None,
    show_h0: bool = False,
    cell_label: str = "h",
) -> Axes:
    """Draw an RNN unrolled over time on ``ax``.

    Args:
        ax: the matplotlib axes to draw on.
        inputs: one flag per step (True where ``x_t`` is read), or an int T
            meaning an input and an output at every one of T steps.
        outputs: one flag per step (True where ``y_t`` is emitted); required
            when ``inputs`` is a tuple.
        title: text above the graph.
        show_h0: draw the initial state ``h_0`` to the left of the first step.
        cell_label: the letter written in the hidden boxes.

    Returns:
        ``ax``, with equal aspect and no axis lines.
    """
    if isinstance(inputs, int):
        if inputs < 1:
            raise ValueError(f"inputs as a number of steps must be >= 1; got {inputs}")
        inputs = outputs = (True,) * inputs
    if outputs is None or len(outputs) != len(inputs):
        raise ValueError(
            f"outputs must have one flag per step ({len(inputs)}); got "
            f"{None if outputs is None else len(outputs)}"
        )
    n_steps = len(inputs)
    gap = 0.2  # space between a box edge and an arrow tip
    if show_h0:
        _box(ax, 0.0, 1.0, f"${cell_label}_0$", "white")
        _arrow(ax, (0.3 + gap / 2, 1.0), (0.7 - gap / 2, 1.0))
    for t in range(n_steps):
        col = t + 1
        _box(ax, col, 1.0, f"${cell_label}_{{{t + 1}}}$", COLORS["h"])
        if inputs[t]:
            _box(ax, col, 0.0, f"$x_{{{t + 1}}}$", COLORS["x"])
            _arrow(ax, (col, 0.3), (col, 0.7))
        if outputs[t]:
            _box(ax, col, 2.0, f"$y_{{{t + 1}}}$", COLORS["y"])
            _arrow(ax, (col, 1.3), (col, 1.7))
        if t + 1 < n_steps:
            _arrow(ax, (col + 0.3, 1.0), (col + 0.7, 1.0))
    return _finish(ax, (-0.5 if show_h0 else 0.5, n_steps + 0.5), title)


def _finish(ax: Axes, xlim: tuple[float, float], title: str | None) -> Axes:
    """Frame a diagram of three rows (x, h, y): equal aspect, no axis lines, a title."""
    ax.set_xlim(*xlim)
    ax.set_ylim(-0.5, 2.5)
    ax.set_aspect("equal")
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=10)
    return ax


def task_shapes_figure(shapes: tuple[TaskShape, ...] = TASK_SHAPES, per_row: int = 3) -> Figure:
    """One panel per sequence-task shape, each an unrolled graph with an example task.

    Args:
        shapes: the shapes to draw, in reading order.
        per_row: how many panels share a row.

    Returns:
        A matplotlib Figure with ``len(shapes)`` axes.
    """
    rows = [shapes[i:i + per_row] for i in range(0, len(shapes), per_row)]
    fig = plt.figure(figsize=(10, 2.7 * len(rows)))
    for subfig, row in zip(fig.subfigures(len(rows), 1), rows):
        widths = [len(s.inputs) + 1.0 for s in row]
        axes = subfig.subplots(1, len(row), gridspec_kw={"width_ratios": widths})
        subfig.subplots_adjust(top=0.78, bottom=0.02, left=0.02, right=0.98)
        for ax, shape in zip(axes if len(row) > 1 else [axes], row):
            draw_unrolled(ax, shape.inputs, shape.outputs,
                          title=f"{shape.name}\n({shape.example})")
    return fig

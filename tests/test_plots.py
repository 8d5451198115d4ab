import matplotlib

matplotlib.use("Agg")

import pytest
from matplotlib import pyplot as plt
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from rnnlib.plots import TASK_SHAPES, TaskShape, draw_unrolled, task_shapes_figure


def _count(ax, kind):
    return sum(isinstance(p, kind) for p in ax.patches)


@pytest.mark.parametrize("shape", TASK_SHAPES, ids=lambda s: s.name)
def test_unrolled_graph_has_one_box_per_input_state_and_output(shape):
    fig, ax = plt.subplots()
    draw_unrolled(ax, shape.inputs, shape.outputs)
    T, n_in, n_out = len(shape.inputs), sum(shape.inputs), sum(shape.outputs)
    assert _count(ax, FancyBboxPatch) == T + n_in + n_out
    # one arrow into each state from its input, one out to each output, T-1 along time
    assert _count(ax, FancyArrowPatch) == n_in + n_out + (T - 1)
    plt.close(fig)


def test_initial_state_adds_a_box_and_an_arrow():
    fig, (a, b) = plt.subplots(1, 2)
    draw_unrolled(a, 3)
    draw_unrolled(b, 3, show_h0=True)
    assert _count(b, FancyBboxPatch) == _count(a, FancyBboxPatch) + 1
    assert _count(b, FancyArrowPatch) == _count(a, FancyArrowPatch) + 1
    plt.close(fig)


def test_task_shapes_figure_has_a_titled_panel_per_shape():
    fig = task_shapes_figure()
    titles = [ax.get_title() for ax in fig.axes]
    assert [t.split("\n")[0] for t in titles] == [s.name for s in TASK_SHAPES]
    plt.close(fig)


def test_bad_input_is_rejected():
    fig, ax = plt.subplots()
    with pytest.raises(ValueError, match="outputs must have one flag per step \\(3\\); got 2"):
        draw_unrolled(ax, (True, True, True), (True, True))
    with pytest.raises(ValueError, match="got 0"):
        draw_unrolled(ax, 0)
    with pytest.raises(ValueError, match="got 2 and 1"):
        TaskShape("bad", "none", (True, True), (True,))
    plt.close(fig)

"""Tests of rnnlib.plots_rnn: the figures draw what they claim."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from rnnlib.plots_rnn import (ACTIVATIONS, draw_bptt, draw_elman_unrolled,  # noqa: E402
                              draw_folded_cell, draw_gru_cell, plot_activations,
                              plot_norms_by_lag)


def _texts(ax):
    return [t.get_text() for t in ax.texts]


def test_unrolled_labels_every_shared_weight():
    fig, ax = plt.subplots()
    draw_elman_unrolled(ax, 4)
    texts = _texts(ax)
    assert texts.count("$W_{xh}$") == 4 and texts.count("$W_{hy}$") == 4
    assert texts.count("$W_{hh}$") == 4          # h0 -> h1 and three between states
    plt.close(fig)


def test_folded_cell_has_three_weights():
    fig, ax = plt.subplots()
    draw_folded_cell(ax, title="cell")
    joined = " ".join(_texts(ax))
    for w in ["W_{xh}", "W_{hh}", "W_{hy}"]:
        assert w in joined
    plt.close(fig)


@pytest.mark.parametrize("k, cuts", [(None, 0), (3, 2), (4, 1), (8, 0)])
def test_bptt_cuts_at_chunk_boundaries(k, cuts):
    fig, ax = plt.subplots()
    draw_bptt(ax, 8, k=k)
    assert len(ax.lines) == cuts                 # one dashed line per boundary
    plt.close(fig)


def test_activation_derivatives_match_finite_differences():
    z = np.linspace(-3, 3, 61) + 0.01            # avoid ReLU's kink at 0
    for name, (f, df) in ACTIVATIONS.items():
        numeric = (f(z + 1e-6) - f(z - 1e-6)) / 2e-6
        assert np.allclose(df(z), numeric, atol=1e-6), name


def test_plot_helpers_draw_one_line_per_curve():
    fig, axes = plt.subplots(1, 3)
    plot_activations(axes[:2])
    assert len(axes[0].get_lines()) == 3 + 2     # three curves and two axis lines
    plot_norms_by_lag(axes[2], {"a": [1, 0.1, 0.0], "b": [1, 2, 4]})
    assert axes[2].get_yscale() == "log"
    with pytest.raises(ValueError, match="two axes"):
        plot_activations([axes[0]])
    with pytest.raises(ValueError, match="steps"):
        draw_bptt(axes[2], 0)
    plt.close(fig)


def test_gru_cell_shows_both_gates_the_candidate_and_the_states():
    fig, ax = plt.subplots()
    draw_gru_cell(ax, title="GRU")
    texts = {t.get_text() for t in ax.texts}
    assert {"σ\n$z$", "σ\n$r$", "tanh\n$n$", "$h_{t-1}$", "$h_t$", "1−", "+"} <= texts
    assert ax.get_title() == "GRU"
    plt.close(fig)

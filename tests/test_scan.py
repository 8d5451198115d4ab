"""rnnlib.scan: the parallel scan equals the loop; the SSM layer's shapes and causality."""

import numpy as np
import pytest
import torch

from rnnlib.scan import (SelectiveSSM, SSMModel, linear_recurrence_loop, linear_recurrence_scan,
                         scan_rounds, selective_copy_batch)


@pytest.mark.parametrize("T", [1, 2, 3, 7, 8, 33])
def test_scan_equals_loop_numpy(T):
    rng = np.random.default_rng(T)
    a = rng.uniform(-1, 1, size=(T, 3, 2))
    b = rng.normal(size=(T, 3, 2))
    h0 = rng.normal(size=(3, 2))
    np.testing.assert_allclose(linear_recurrence_scan(a, b), linear_recurrence_loop(a, b),
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(linear_recurrence_scan(a, b, h0), linear_recurrence_loop(a, b, h0),
                               rtol=1e-12, atol=1e-12)


def test_loop_matches_definition():
    a, b, h0 = np.array([2.0, 3.0]), np.array([1.0, 1.0]), 5.0
    # h1 = 2*5 + 1 = 11, h2 = 3*11 + 1 = 34
    assert linear_recurrence_loop(a, b, h0).tolist() == [11.0, 34.0]


def test_scan_equals_loop_torch_values_and_gradients():
    torch.manual_seed(0)
    a = torch.rand(20, 4, dtype=torch.float64, requires_grad=True)
    b = torch.randn(20, 4, dtype=torch.float64, requires_grad=True)
    h_scan = linear_recurrence_scan(a, b)
    h_loop = linear_recurrence_loop(a, b)
    torch.testing.assert_close(h_scan, h_loop)
    w = torch.randn(20, 4, dtype=torch.float64)
    ga = torch.autograd.grad((h_scan * w).sum(), (a, b))
    gl = torch.autograd.grad((h_loop * w).sum(), (a, b))
    for x, y in zip(ga, gl):
        torch.testing.assert_close(x, y)


def test_scan_rounds():
    assert [scan_rounds(T) for T in (1, 2, 3, 4, 5, 8, 9, 1024)] == [0, 1, 2, 2, 3, 3, 4, 10]


def test_mismatched_shapes_raise():
    with pytest.raises(ValueError, match="a, b"):
        linear_recurrence_scan(np.ones(3), np.ones(4))


@pytest.mark.parametrize("selective", [True, False])
def test_ssm_shapes_and_causality(selective):
    torch.manual_seed(0)
    layer = SelectiveSSM(6, d_state=4, selective=selective).double()
    x = torch.randn(2, 10, 6, dtype=torch.float64)
    y = layer(x)
    assert y.shape == (2, 10, 6)
    x2 = x.clone()
    x2[:, 7:] += 1.0  # change the future
    torch.testing.assert_close(layer(x2)[:, :7], y[:, :7])  # the past is unchanged


def test_ssm_equals_its_recurrence_written_out():
    torch.manual_seed(1)
    layer = SelectiveSSM(3, d_state=2).double()
    x = torch.randn(1, 5, 3, dtype=torch.float64)
    A = -torch.exp(layer.A_log)
    h = torch.zeros(3, 2, dtype=torch.float64)
    ys = []
    for t in range(5):
        xt = x[0, t]
        delta = torch.nn.functional.softplus(layer.to_delta(xt))
        h = torch.exp(delta[:, None] * A) * h + (delta * xt)[:, None] * layer.to_B(xt)[None]
        ys.append(h @ layer.to_C(xt) + layer.skip * xt)
    torch.testing.assert_close(layer(x)[0], torch.stack(ys))


def test_ssm_model_logits_shape():
    model = SSMModel(vocab_size=10, d_model=8, d_state=4, n_layers=2)
    tokens, _ = selective_copy_batch(3, np.random.default_rng(0), 12, 3)
    assert model(torch.from_numpy(tokens)).shape == (3, 15, 10)


def test_selective_copy_batch():
    tokens, targets = selective_copy_batch(50, np.random.default_rng(0), length=16, n_tokens=4,
                                           n_colors=8)
    assert tokens.shape == (50, 20) and targets.shape == (50, 4)
    assert (tokens[:, 16:] == 9).all()
    for row, target in zip(tokens, targets):
        data = row[:16][row[:16] != 0]
        assert data.tolist() == target.tolist()  # the coloured tokens, in order
    assert targets.min() >= 1 and targets.max() <= 8


def test_step_sizes_depend_on_the_input_only_when_selective():
    torch.manual_seed(0)
    tokens = torch.tensor([[0, 3, 0, 5, 0, 0, 7, 9]])
    for selective in (True, False):
        model = SSMModel(10, d_model=6, d_state=3, n_layers=2, selective=selective)
        deltas = model.step_sizes(tokens)
        assert len(deltas) == 2 and all(d.shape == (1, 8, 6) for d in deltas)
        assert all((d > 0).all() for d in deltas)
        varies = any((d - d[:, :1]).abs().max() > 1e-6 for d in deltas)
        assert varies == selective
    # the first layer's step sizes are softplus(W_delta u + b_delta) of its SSM's input u
    model = SSMModel(10, d_model=6, d_state=3, n_layers=1, selective=True)
    u, _ = model.ins[0](model.norms[0](model.embed(tokens))).chunk(2, dim=-1)
    expected = torch.nn.functional.softplus(model.ssms[0].to_delta(u))
    assert torch.allclose(model.step_sizes(tokens)[0], expected)


# ----------------------------------------------------------------------------- chapter 13's study

def _selective_copy_study():
    import json
    import sys
    from pathlib import Path
    root = Path(__file__).resolve().parent.parent
    sys.path.insert(0, str(root))
    from studies import selective_copy
    return selective_copy, json.loads(selective_copy.RESULTS.read_text())


def test_stored_selective_copy_summary_follows_from_its_runs():
    study, stored = _selective_copy_study()
    assert len(stored["runs"]) == len(study.MODELS) * len(study.LRS) * len(study.SEEDS)
    assert stored["summary"] == study.summarise(stored["runs"])


def test_stored_selective_copy_study_shows_selection():
    _, stored = _selective_copy_study()
    summary = stored["summary"]
    counts = [s["parameters"] for s in summary.values()]
    assert max(counts) < 1.02 * min(counts)  # equal sizes
    for sel, lti in zip(summary["selective"]["test"], summary["time-invariant"]["test"]):
        assert sel > lti + 0.2 and lti < 0.5  # on every seed


def test_a_slice_of_the_selective_copy_study_reproduces_its_curve():
    # the first 100 steps of the stored seed-0 selective run, re-trained here
    study, stored = _selective_copy_study()
    lr = stored["summary"]["selective"]["lr"]
    (run,) = [r for r in stored["runs"] if r["model"] == "selective" and r["lr"] == lr and r["seed"] == 0]
    torch.set_num_threads(1)
    _, curve = study.train("selective", lr, seed=0, steps=100)
    assert np.allclose(curve, run["curve"][:2], atol=0.05), (curve, run["curve"][:2])

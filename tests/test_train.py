"""Tests of rnnlib.train: the loop learns, clips, records, reshuffles and reports bad input."""

import math

import numpy as np
import pytest
import torch

from rnnlib.train import History, evaluate, fit, minibatches


def _regression(seed=0, n=128):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, generator=g)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5]]) + 0.3
    return x, y


def _mse(model, batch):
    xb, yb = batch
    return torch.nn.functional.mse_loss(model(xb), yb)


def test_fit_learns_a_linear_map_and_records_every_step():
    torch.manual_seed(0)
    x, y = _regression()
    model = torch.nn.Linear(3, 1)
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    history = fit(model, _mse, lambda e: minibatches(x, y, batch_size=32, generator=e), opt,
                  epochs=40, progress=False)
    assert history.steps_per_epoch == [4] * 40
    assert len(history.loss) == len(history.grad_norm) == 160
    assert history.epoch_loss().shape == (40,)
    assert history.epoch_loss()[-1] < 1e-3 * history.epoch_loss()[0]
    assert evaluate(model, _mse, [(x, y)]) < 1e-3


def test_fit_accepts_a_reiterable_and_shows_a_bar(capsys):
    torch.manual_seed(0)
    x, y = _regression()
    batches = list(minibatches(x, y, batch_size=64, shuffle=False))
    model = torch.nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    history = fit(model, _mse, batches, opt, epochs=3, progress=True, desc="unit test")
    assert history.steps_per_epoch == [2, 2, 2]
    assert "unit test" in capsys.readouterr().err


def test_clipping_caps_the_update_and_records_the_norm_before_clipping():
    x = torch.ones(1, 1) * 100.0
    y = torch.zeros(1, 1)
    results = {}
    for max_norm in (None, 0.5):
        model = torch.nn.Linear(1, 1, bias=False)
        with torch.no_grad():
            model.weight.fill_(1.0)
        opt = torch.optim.SGD(model.parameters(), lr=1.0)
        history = fit(model, _mse, [(x, y)], opt, epochs=1, max_norm=max_norm, progress=False)
        results[max_norm] = (history.grad_norm[0], 1.0 - model.weight.item())
    # d/dw (100 w)^2 = 2 * 100^2 * w = 20000 at w = 1
    assert results[None][0] == pytest.approx(20000.0)
    assert results[0.5][0] == pytest.approx(20000.0)   # recorded before clipping
    assert results[None][1] == pytest.approx(20000.0)  # the unclipped step
    assert results[0.5][1] == pytest.approx(0.5, rel=1e-5)


def test_a_nonfinite_loss_stops_training_with_a_warning():
    model = torch.nn.Linear(1, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    batches = [(torch.ones(1, 1), torch.zeros(1, 1))] * 2 + [(torch.full((1, 1), math.nan),
                                                                torch.zeros(1, 1))] * 3
    with pytest.warns(RuntimeWarning, match="loss became nan at step 3"):
        history = fit(model, _mse, batches, opt, epochs=2, progress=False)
    assert len(history.loss) == 3 and history.steps_per_epoch == [3]
    assert math.isfinite(model.weight.item())   # the NaN step was not applied


def test_minibatches_cover_every_example_once_and_seeds_reproduce():
    x = torch.arange(10)
    a = torch.cat([b for (b,) in minibatches(x, batch_size=3, generator=1)])
    b = torch.cat([b for (b,) in minibatches(x, batch_size=3, generator=1)])
    c = torch.cat([b for (b,) in minibatches(x, batch_size=3, generator=2)])
    assert sorted(a.tolist()) == list(range(10))
    assert torch.equal(a, b) and not torch.equal(a, c)
    sizes = [len(b) for (b,) in minibatches(x, batch_size=3, drop_last=True)]
    assert sizes == [3, 3, 3]
    arr = np.arange(10) * 2
    (first,) = next(iter(minibatches(arr, batch_size=4, shuffle=False)))
    assert first.tolist() == [0, 2, 4, 6]


def test_history_smoothing_and_epochs():
    h = History(loss=[4.0, 2.0, 0.0, 2.0], grad_norm=[1.0] * 4, steps_per_epoch=[2, 2])
    assert h.epoch_loss().tolist() == [3.0, 1.0]
    assert h.smoothed(window=2).tolist() == [4.0, 3.0, 1.0, 1.0]
    assert History().smoothed().shape == (0,)


def test_evaluate_restores_the_training_mode():
    model = torch.nn.Sequential(torch.nn.Dropout(0.5), torch.nn.Linear(2, 1))
    model.train()
    seen = []
    evaluate(model, lambda m, b: seen.append(m.training) or torch.tensor(0.0), [None])
    assert seen == [False] and model.training


@pytest.mark.parametrize("kwargs, message", [
    (dict(epochs=0), "epochs must be an int >= 1, got 0"),
    (dict(max_norm=0.0), "max_norm must be > 0 or None, got 0.0"),
])
def test_fit_rejects_bad_settings(kwargs, message):
    model = torch.nn.Linear(1, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match=message):
        fit(model, _mse, [], opt, progress=False, **kwargs)


def test_fit_rejects_a_nonscalar_loss():
    model = torch.nn.Linear(1, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match=r"scalar tensor, got shape \(2, 1\)"):
        fit(model, lambda m, b: m(b), [torch.ones(2, 1)], opt, progress=False)


def test_minibatches_reject_mismatched_lengths_and_bad_sizes():
    with pytest.raises(ValueError, match=r"tensors\[1\] must have 3 examples"):
        list(minibatches(torch.zeros(3), torch.zeros(4), batch_size=2))
    with pytest.raises(ValueError, match="batch_size must be an int >= 1, got 0"):
        list(minibatches(torch.zeros(3), batch_size=0))


def test_the_callable_is_called_once_per_epoch_in_order():
    calls = []
    x, y = _regression(n=8)

    def batches(epoch):
        calls.append(epoch)
        return [(x, y)]

    model = torch.nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    history = fit(model, _mse, batches, opt, epochs=3, progress=False)
    assert calls == [0, 1, 2] and history.steps_per_epoch == [1, 1, 1]

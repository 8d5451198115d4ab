"""Depth, residual connections and recurrent dropout over several seeds: the study of chapter 8.

Two experiments on the *delayed neighbour XOR* (``rnnlib.tasks.neighbour_xor`` with the label
of step ``t`` emitted at step ``t + k``, so a left-to-right model can answer it):

- **depth** (``k = 2``): LSTM stacks of 1, 2 and 4 layers, with and without residual
  connections, each trained on fresh batches; we record how many steps each needs before its
  training loss (10-step mean) falls below 0.1, and how many runs never get there within the
  budget.
- **dropout** (``k = 3``): one LSTM layer trained on a *small fixed* training set with noisy
  labels, where a model can overfit, without dropout and with dropout on the recurrent
  connection ``h_{t-1}``, either a fresh mask per step or one mask per sequence
  (*variational*); we record the training and held-out losses and accuracies and the gap.

The chapter imports the models and training functions from here, runs one seed live and
plots the stored results. Run from the repository root (single-threaded, deterministic)::

    python studies/depth_dropout.py               # -> studies/results/depth_dropout.json

The 45 runs take about 6 minutes on one core of a lightly loaded machine; a second run gave
results identical to the stored ones.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from rnnlib.tasks import neighbour_xor

RESULTS = Path(__file__).resolve().parent / "results" / "depth_dropout.json"

T, BATCH, H = 20, 64, 32          # sequence length, batch, hidden units per layer
DEPTH_OFFSET = 2                  # k of the depth experiment
DEPTH_STEPS = 400                 # budget of every depth run
TARGET_LOSS = 0.1                 # "reached": 10-step mean training loss below this
DEPTH_CONFIGS = {
    "1 layer": dict(num_layers=1),
    "2 layers": dict(num_layers=2),
    "4 layers": dict(num_layers=4),
    "2 layers, residual": dict(num_layers=2, residual=True),
    "4 layers, residual": dict(num_layers=4, residual=True),
}
DEPTH_SEEDS = tuple(range(6))

DROP_OFFSET = 3                   # k of the dropout experiment
DROP_P = 0.25
DROP_HIDDEN = 64
DROP_TRAIN = 64                   # sequences in the fixed training set
DROP_NOISE = 0.2                  # fraction of training labels flipped
DROP_STEPS = 400                  # full-batch steps (epochs)
DROP_CONFIGS = {"none": dict(p=0.0), "per step": dict(p=DROP_P),
                "variational": dict(p=DROP_P, variational=True)}
DROP_SEEDS = tuple(range(5))


def dropout_mask(shape, p):
    """Keep each unit with probability ``1 - p`` and scale the kept ones by ``1 / (1 - p)``."""
    return torch.bernoulli(torch.full(shape, 1 - p)) / (1 - p)


class StackedLSTM(nn.Module):
    """``L`` LSTM layers, optional residual connections and dropout between layers.

    (T, B, D) -> (T, B, n_dir * H). Without the options it equals ``nn.LSTM(num_layers=L)``.
    """

    def __init__(self, input_size, hidden_size, num_layers, residual=False, p=0.0,
                 variational=False, bidirectional=False):
        super().__init__()
        n_dir = 2 if bidirectional else 1
        self.layers = nn.ModuleList(
            nn.LSTM(input_size if l == 0 else n_dir * hidden_size, hidden_size,
                    bidirectional=bidirectional)
            for l in range(num_layers))
        self.residual, self.p, self.variational = residual, p, variational

    def drop(self, h):                                  # h: (T, B, n_dir*H)
        if not self.training or self.p == 0:
            return h
        steps, B, F = h.shape
        # variational: one mask per sequence, the same at every step; per step: a new mask each step
        shape = (1, B, F) if self.variational else (steps, B, F)
        return h * dropout_mask(shape, self.p)

    def forward(self, x):
        h = x
        for l, layer in enumerate(self.layers):
            out, _ = layer(h if l == 0 else self.drop(h))
            h = out + h if (self.residual and l > 0) else out
        return h


class RecurrentDropoutLSTM(nn.Module):
    """One LSTM layer with dropout on ``h_{t-1}`` before each step: (T, B, D) -> (T, B, H).

    The cell state ``c_{t-1}`` is passed on untouched, as in Gal & Ghahramani's LSTM.
    """

    def __init__(self, input_size, hidden_size, p=0.0, variational=False):
        super().__init__()
        self.cell = nn.LSTMCell(input_size, hidden_size)
        self.hidden_size, self.p, self.variational = hidden_size, p, variational

    def forward(self, x):
        steps, B, _ = x.shape
        h = c = x.new_zeros(B, self.hidden_size)
        active = self.training and self.p > 0
        mask = dropout_mask((B, self.hidden_size), self.p) if active and self.variational else None
        outputs = []
        for t in range(steps):
            if active:                                   # one mask for all steps, or a new one now
                h = h * (mask if self.variational else dropout_mask(h.shape, self.p))
            h, c = self.cell(x[t], (h, c))
            outputs.append(h)
        return torch.stack(outputs)                      # (T, B, H)


class Tagger(nn.Module):
    """A recurrent body and a small MLP read-out on every step: (T, B, D) -> (T, B, 2) logits."""

    def __init__(self, body, features, hidden=H):
        super().__init__()
        self.body = body
        self.head = nn.Sequential(nn.Linear(features, hidden), nn.Tanh(), nn.Linear(hidden, 2))

    def forward(self, x):
        return self.head(self.body(x))


def xor_batch(rng, offset, delay, batch_size=BATCH, noise=0.0):
    """Inputs (T, B, 1) and targets (T, B): the label of step ``t - delay``, at step ``t``.

    With ``noise`` > 0 that fraction of the labels is flipped (drawn from ``rng``).
    """
    x, y = neighbour_xor(rng, batch_size, T, offset=offset, dtype=np.float32)
    y = np.concatenate([np.zeros((delay, batch_size), dtype=y.dtype), y[:T - delay]])
    if noise:
        y = y ^ (rng.random(y.shape) < noise)
    return torch.from_numpy(x), torch.from_numpy(y)


def tagging_loss(model, x, y, delay):
    """Cross-entropy on the scored steps ``delay .. T - 1``."""
    return nn.functional.cross_entropy(model(x)[delay:].reshape(-1, 2), y[delay:].reshape(-1))


@torch.no_grad()
def tagging_scores(model, x, y, delay):
    """(loss, accuracy) on the scored steps, in eval mode."""
    was = model.training
    model.eval()
    logits = model(x)[delay:]
    loss = nn.functional.cross_entropy(logits.reshape(-1, 2), y[delay:].reshape(-1)).item()
    accuracy = (logits.argmax(-1) == y[delay:]).float().mean().item()
    model.train(was)
    return loss, accuracy


def steps_to(loss, level=TARGET_LOSS, window=10):
    """First step at which the trailing ``window``-step mean loss is below ``level`` (or None)."""
    loss = np.asarray(loss)
    if loss.size < window:
        return None
    smooth = np.convolve(loss, np.ones(window) / window, mode="valid")
    below = np.flatnonzero(smooth < level)
    return int(below[0]) + window if below.size else None


def make_tagger(seed, features=H, **stack_options):
    """A tagger on a :class:`StackedLSTM` with weights from ``torch.manual_seed(seed)``."""
    torch.manual_seed(seed)
    return Tagger(StackedLSTM(1, H, **stack_options), features)


def train_on_fresh_batches(model, offset, delay, seed, steps):
    """Train a tagger on a fresh batch every step (Adam, lr 1e-2, clipping at 1).

    Training batches come from ``default_rng(seed)``, the 500 test sequences from
    ``default_rng(seed + 1000)``. Returns (the loss of every step, test accuracy).
    """
    rng = np.random.default_rng(seed)
    x_test, y_test = xor_batch(np.random.default_rng(seed + 1000), offset, delay, 500)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(steps):
        x, y = xor_batch(rng, offset, delay)
        loss = tagging_loss(model, x, y, delay)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        losses.append(loss.item())
    _, accuracy = tagging_scores(model, x_test, y_test, delay)
    return losses, accuracy


def train_depth(name, seed, steps=DEPTH_STEPS):
    """One depth run; returns (steps to the target loss or None, loss curve, test accuracy)."""
    model = make_tagger(seed, **DEPTH_CONFIGS[name])
    losses, accuracy = train_on_fresh_batches(model, DEPTH_OFFSET, DEPTH_OFFSET, seed, steps)
    return steps_to(losses), losses, accuracy


def train_dropout(name, seed, steps=DROP_STEPS):
    """One dropout run on a fixed noisy training set; returns a dict of losses and accuracies.

    Training set: ``DROP_TRAIN`` sequences from ``default_rng(seed)`` with ``DROP_NOISE`` of
    their labels flipped; held-out set: 500 clean sequences from ``default_rng(seed + 1000)``.
    Full-batch Adam (lr 1e-2), clipping at 1; the dropout masks come from torch's generator,
    seeded with ``seed``.
    """
    torch.manual_seed(seed)
    model = Tagger(RecurrentDropoutLSTM(1, DROP_HIDDEN, **DROP_CONFIGS[name]), DROP_HIDDEN)
    x_train, y_train = xor_batch(np.random.default_rng(seed), DROP_OFFSET, DROP_OFFSET,
                                 DROP_TRAIN, noise=DROP_NOISE)
    x_test, y_test = xor_batch(np.random.default_rng(seed + 1000), DROP_OFFSET, DROP_OFFSET, 500)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(steps):
        loss = tagging_loss(model, x_train, y_train, DROP_OFFSET)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
    train_loss, train_acc = tagging_scores(model, x_train, y_train, DROP_OFFSET)
    test_loss, test_acc = tagging_scores(model, x_test, y_test, DROP_OFFSET)
    return {"train_loss": train_loss, "train_accuracy": train_acc, "test_loss": test_loss,
            "test_accuracy": test_acc, "gap": test_loss - train_loss}


def summary_of(values):
    """Median, min and max of a list of numbers."""
    return {"median": float(np.median(values)), "min": float(min(values)), "max": float(max(values))}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    start = time.perf_counter()
    jobs = ([("depth", name, seed) for name in DEPTH_CONFIGS for seed in DEPTH_SEEDS]
            + [("dropout", name, seed) for name in DROP_CONFIGS for seed in DROP_SEEDS])
    depth, dropout = {}, {}
    for kind, name, seed in tqdm(jobs, desc="training runs"):
        if kind == "depth":
            reached, _, accuracy = train_depth(name, seed)
            depth.setdefault(name, []).append({"seed": seed, "steps_to_target": reached,
                                               "test_accuracy": accuracy})
        else:
            dropout.setdefault(name, []).append({"seed": seed, **train_dropout(name, seed)})
    depth_summary = {}
    for name, runs in depth.items():
        reached = [r["steps_to_target"] for r in runs if r["steps_to_target"] is not None]
        depth_summary[name] = {"never": len(runs) - len(reached),
                               "steps": summary_of(reached) if reached else None}
    dropout_summary = {name: {key: summary_of([r[key] for r in runs])
                              for key in ("train_loss", "test_loss", "test_accuracy", "gap")}
                       for name, runs in dropout.items()}
    data = {"seconds": round(time.perf_counter() - start, 1), "torch": torch.__version__,
            "depth": {"offset": DEPTH_OFFSET, "steps": DEPTH_STEPS, "target_loss": TARGET_LOSS,
                      "seeds": list(DEPTH_SEEDS), "summary": depth_summary, "runs": depth},
            "dropout": {"offset": DROP_OFFSET, "p": DROP_P, "hidden": DROP_HIDDEN,
                        "train_sequences": DROP_TRAIN, "noise": DROP_NOISE, "steps": DROP_STEPS,
                        "seeds": list(DROP_SEEDS), "summary": dropout_summary, "runs": dropout}}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(data, indent=1) + "\n")
    for name, s in depth_summary.items():
        print(f"{name:>20}: steps to loss < {TARGET_LOSS}: {s['steps']}, never {s['never']}")
    for name, s in dropout_summary.items():
        print(f"{name:>12}: " + ", ".join(f"{k} {v['median']:.3f} [{v['min']:.3f}, {v['max']:.3f}]"
                                          for k, v in s.items()))
    print(f"{len(jobs)} runs in {data['seconds']:.0f} s -> {args.out}")


def load(path=RESULTS):
    """The stored results."""
    return json.loads(Path(path).read_text())


if __name__ == "__main__":
    main()

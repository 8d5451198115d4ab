"""Selective copy: does selection let a state-space model ignore the blanks? The study of chapter 13.

Three causal models of (almost) the same size, about 3000 parameters each, read a sequence
of ``LENGTH`` positions holding ``N_TOKENS`` coloured tokens at random positions among
blanks, then ``N_TOKENS`` recall markers, and must output the coloured tokens in order at
the markers (the selective-copy task of Gu and Dao's Mamba paper, scaled down):

- ``selective``: ``rnnlib.scan.SSMModel`` with two selective SSM layers (D = 16, N = 4);
- ``time-invariant``: the same with time-invariant layers, widened to D = 19 so that it
  has as many parameters;
- ``LSTM``: an embedding of 19, one LSTM layer of 17 units and a linear read-out.

Every run trains the same way with the same budget: ``STEPS`` Adam steps on fresh batches
of 32, gradient-norm clipping at 1, for each learning rate of ``LRS`` and each seed of
``SEEDS``. For each model the learning rate is the one with the best median accuracy over
the seeds on a *validation* batch; the reported accuracies are those runs' on a separate
*test* batch of 1000 sequences (chance: 1 / 8). The seed-0 selective model at its chosen
rate is stored too (weights), so that chapter 13 can plot its learned step sizes.

Run it from the repository root (single-threaded, deterministic given the seeds)::

    python studies/selective_copy.py          # -> studies/results/selective_copy.json (+ .pt)
    python studies/selective_copy.py --quick  # a small slice, written to a temporary file

The stored full run took 33 minutes with two processes on a 2-core machine shared with
other heavy jobs (load average above 10); the results file records the time of the last
full run. ``--quick`` takes under a minute.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from tqdm import tqdm

from rnnlib.scan import SSMModel, selective_copy_batch

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "studies" / "results" / "selective_copy.json"
WEIGHTS = ROOT / "studies" / "results" / "selective_copy_selective_seed0.pt"

LENGTH, N_TOKENS, N_COLORS = 64, 4, 8  # positions before the markers, tokens, colours
VOCAB = N_COLORS + 2  # blank 0, colours 1..8, recall marker 9
BATCH, STEPS, LRS, SEEDS = 32, 1000, (3e-3, 1e-2), (0, 1, 2)
CURVE_EVERY = 50  # record the mean training loss of every 50 steps (divides STEPS)


class LSTMModel(nn.Module):
    """Embedding, one LSTM layer, linear read-out: tokens (B, T) -> logits (B, T, V)."""

    def __init__(self, vocab_size: int, embed: int = 19, hidden: int = 17):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed)
        self.lstm = nn.LSTM(embed, hidden, batch_first=True)
        self.head = nn.Linear(hidden, vocab_size)

    def forward(self, tokens):
        return self.head(self.lstm(self.embed(tokens))[0])


MODELS = {
    "selective": lambda: SSMModel(VOCAB, d_model=16, d_state=4, n_layers=2, selective=True),
    "time-invariant": lambda: SSMModel(VOCAB, d_model=19, d_state=4, n_layers=2, selective=False),
    "LSTM": lambda: LSTMModel(VOCAB),
}


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def accuracy(model: nn.Module, tokens: np.ndarray, targets: np.ndarray) -> float:
    """Share of recalled tokens that are right, over (N, N_TOKENS) targets."""
    with torch.no_grad():
        predicted = model(torch.from_numpy(tokens))[:, -N_TOKENS:].argmax(-1).numpy()
    return float((predicted == targets).mean())


def train(name: str, lr: float, seed: int, steps: int = STEPS, length: int = LENGTH):
    """Train one model; returns (model, curve of mean losses per CURVE_EVERY steps)."""
    torch.manual_seed(seed)
    model = MODELS[name]()
    rng = np.random.default_rng(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        x, y = selective_copy_batch(BATCH, rng, length, N_TOKENS, N_COLORS)
        logits = model(torch.from_numpy(x))[:, -N_TOKENS:]  # (B, N_TOKENS, V)
        loss = F.cross_entropy(logits.reshape(-1, VOCAB), torch.from_numpy(y).reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        losses.append(loss.item())
    curve = np.asarray(losses).reshape(-1, CURVE_EVERY).mean(axis=1)
    return model, curve.tolist()


def evaluation_sets(length: int = LENGTH):
    """Validation (500) and test (1000) sequences, fixed for every run."""
    validation = selective_copy_batch(500, np.random.default_rng(10_000), length, N_TOKENS, N_COLORS)
    test = selective_copy_batch(1000, np.random.default_rng(20_000), length, N_TOKENS, N_COLORS)
    return validation, test


def run_one(job):
    name, lr, seed, steps = job
    torch.set_num_threads(1)
    start = time.perf_counter()
    model, curve = train(name, lr, seed, steps)
    validation, test = evaluation_sets()
    result = dict(model=name, lr=lr, seed=seed, parameters=count_parameters(model),
                  validation=accuracy(model, *validation), test=accuracy(model, *test),
                  curve=curve, seconds=round(time.perf_counter() - start, 1))
    state = ({k: v.tolist() for k, v in model.state_dict().items()}
             if name == "selective" and seed == 0 else None)
    return result, state


def summarise(runs):
    """Per model: the learning rate with the best median validation accuracy, its test runs."""
    summary = {}
    for name in MODELS:
        by_lr = {lr: [r for r in runs if r["model"] == name and r["lr"] == lr] for lr in LRS}
        by_lr = {lr: rs for lr, rs in by_lr.items() if rs}
        lr = max(by_lr, key=lambda lr: np.median([r["validation"] for r in by_lr[lr]]))
        test = [r["test"] for r in sorted(by_lr[lr], key=lambda r: r["seed"])]
        summary[name] = dict(lr=lr, parameters=by_lr[lr][0]["parameters"], seeds=list(SEEDS)[:len(test)],
                             test=test, median=float(np.median(test)),
                             low=float(min(test)), high=float(max(test)))
    return summary


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="one seed, one rate, 100 steps, written to a temporary file")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    steps = 100 if args.quick else STEPS
    jobs = [(name, lr, seed, steps) for name in MODELS
            for lr in (LRS[:1] if args.quick else LRS) for seed in (SEEDS[:1] if args.quick else SEEDS)]
    start = time.perf_counter()
    with multiprocessing.get_context("spawn").Pool(args.workers) as pool:
        outputs = list(tqdm(pool.imap(run_one, jobs), total=len(jobs), desc="selective copy"))
    runs = [r for r, _ in outputs]
    summary = summarise(runs)
    results = dict(length=LENGTH, n_tokens=N_TOKENS, n_colors=N_COLORS, batch=BATCH,
                   steps=steps, lrs=list(LRS), seeds=list(SEEDS), curve_every=CURVE_EVERY,
                   summary=summary, runs=runs, seconds=round(time.perf_counter() - start))
    out = Path(tempfile.mkdtemp()) / "selective_copy.json" if args.quick else RESULTS
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1))
    if not args.quick:
        best_lr = summary["selective"]["lr"]
        (state,) = [s for (r, s) in outputs
                    if s is not None and r["lr"] == best_lr]
        torch.save({k: torch.tensor(v) for k, v in state.items()}, WEIGHTS)
    for name, s in summary.items():
        print(f"{name:>15}: {s['parameters']} parameters, lr {s['lr']:g}, test accuracy "
              f"median {s['median']:.3f} (range {s['low']:.3f}-{s['high']:.3f})")
    print(f"written to {out} in {results['seconds']} s")
    return results


if __name__ == "__main__":
    main()

"""The fixed-context bottleneck of chapter 10, trained to a plateau: the study behind its curve.

The plain encoder–decoder of chapter 10 (a one-layer GRU encoder and decoder, embeddings of
16, ``rnnlib.seq2seq``) on the read-aloud digits task (``rnnlib.spoken_digits``), trained as
the chapter trains it — Adam, global gradient-norm clipping at 1, batches of 64 sources of
similar length (``rnnlib.data.length_buckets``), a learning rate falling from 0.01 to 0
along a half cosine — for three budgets at 64 hidden units and for 128 units at the middle budget. Exact match of greedy
decoding on the chapter's 2000 test numbers, by number of digits, shows whether the fall
with length is the bottleneck (the curve stays put when the budget grows) or
under-training (it moves).

The training pairs of a budget of ``steps`` steps are the first ``steps`` batches of
``max(steps, 1200) * 64`` pairs drawn from ``default_rng(seed)``, so the 400-step run is
exactly the one chapter 10 trains live.

Run it from the repository root (single-threaded, deterministic given the seed)::

    python studies/seq2seq_bottleneck.py           # -> studies/results/seq2seq_bottleneck.json
    python studies/seq2seq_bottleneck.py --quick   # one short run that writes nothing (tests)

The last full run took 20 minutes on a heavily shared 2-core machine (its time is stored
in the results file).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from rnnlib.data import length_buckets
from rnnlib.seq2seq import Encoder, PlainDecoder, Seq2Seq
from rnnlib.spoken_digits import (BOS, EOS, PAD, accuracy_by_length, make_batch, sample_pairs,
                                  source_vocab, target_vocab)

RESULTS = Path(__file__).resolve().parent / "results" / "seq2seq_bottleneck.json"
EMBED, BATCH, MAX_DIGITS, LR, MAX_NORM = 16, 64, 10, 1e-2, 1.0
RUNS = ((64, 400), (64, 1200), (64, 3600), (128, 1200))  # (hidden size, training steps)
MIN_POOL = 1200              # batches drawn for budgets up to 1200 steps (as chapter 10)


def batches(steps, seed=0):
    """The first ``steps`` length-bucketed batches of the pool for this budget."""
    src_vocab, tgt_vocab = source_vocab(), target_vocab()
    rng = np.random.default_rng(seed)
    pairs = sample_pairs(max(steps, MIN_POOL) * BATCH, rng, 1, MAX_DIGITS)
    buckets = length_buckets([len(source) for source, _ in pairs], BATCH, rng=rng)
    return [make_batch([pairs[i] for i in bucket], src_vocab, tgt_vocab)
            for bucket in buckets[:steps]]


def train(hidden_size, steps, seed=0, progress=True):
    """Train one plain model; return it in eval mode."""
    torch.set_num_threads(1)
    src_vocab, tgt_vocab = source_vocab(), target_vocab()
    torch.manual_seed(seed)
    model = Seq2Seq(Encoder(len(src_vocab), EMBED, hidden_size),
                    PlainDecoder(len(tgt_vocab), EMBED, hidden_size),
                    bos_id=BOS, eos_id=EOS, pad_id=PAD)
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    model.train()
    data = batches(steps, seed)
    for step, (src, src_lengths, tgt) in enumerate(
            tqdm(data, desc=f"H = {hidden_size}, {steps} steps", disable=not progress)):
        for group in optimizer.param_groups:  # cosine annealing, as in the chapter
            group["lr"] = LR * (1 + np.cos(np.pi * step / len(data))) / 2
        logits, _ = model(src, src_lengths, tgt)
        loss = model.loss(logits, tgt)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), MAX_NORM)
        optimizer.step()
    return model.eval()


def test_accuracy(model, seed=0):
    """Exact match by number of digits (list of 10) on the chapter's test numbers."""
    test_pairs = sample_pairs(2000, np.random.default_rng(seed + 1), 1, MAX_DIGITS)
    by_length, _ = accuracy_by_length(model, test_pairs, source_vocab(), target_vocab(),
                                      MAX_DIGITS)
    return [round(float(a), 4) for a in by_length]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="one short run that writes nothing")
    args = parser.parse_args()
    if args.quick:
        print(test_accuracy(train(64, 40)))
        return
    start, runs = time.time(), []
    for hidden_size, steps in RUNS:
        runs.append({"hidden_size": hidden_size, "steps": steps,
                     "accuracy": test_accuracy(train(hidden_size, steps))})
        print(runs[-1])
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps({"batch": BATCH, "lr": LR, "seed": 0, "runs": runs,
                                   "seconds": round(time.time() - start)}, indent=1) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()

"""The fixed-context bottleneck of chapter 10, trained to a plateau: the study behind its curves.

The plain encoder–decoder of chapter 10 (a one-layer GRU encoder and decoder, embeddings of
16, ``rnnlib.seq2seq``) on the read-aloud digits task (``rnnlib.spoken_digits``, numbers of
1 to 10 digits), trained with the chapter's recipe — Adam, global gradient-norm clipping
at 1, batches of 64 sources of similar length (``rnnlib.data.length_buckets``), a learning
rate falling from 0.01 to 0 along a half cosine — but until it stops improving, at three
sizes of the context vector, H = 16, 32 and 64.

Training to a plateau: the learning rate runs in cycles of ``CYCLE`` steps, each a full
half cosine from 0.01 to 0 ("warm restarts", Loshchilov and Hutter), on fresh batches.
At the end of every cycle, where the rate is 0 and the weights have settled, the model's
exact match on 2000 validation numbers (drawn separately from the test numbers) is
measured, and training stops when a cycle has raised it by less than ``MIN_GAIN`` (or after
``MAX_CYCLES`` cycles). The test curve (exact match of greedy decoding on chapter 10's 2000
test numbers, by number of digits) is stored at every cycle end, so the last two curves
of a run show how much the last cycle still moved it. If the fall with length is the
bottleneck, the plateau curves differ between the sizes; if it were under-training, they
would all climb to 1 given time.

One more run is the chapter's own: H = 64 for 400 steps, one cycle, on the first 400
batches of ``1200 * 64`` pairs drawn from ``default_rng(seed)`` (exactly the batches
chapter 10 trains on live), to show how far that budget is from the plateau.

Run it from the repository root (single-threaded, deterministic given the seed)::

    python studies/seq2seq_bottleneck.py           # -> studies/results/seq2seq_bottleneck.json
    python studies/seq2seq_bottleneck.py --quick   # one short run that writes nothing (tests)

The last full run took about 50 minutes of one thread on a shared 2-core machine (the sum
of its runs' times is stored in the results file).
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
SIZES = (16, 32, 64)          # hidden sizes trained to a plateau
CYCLE = 3000                  # steps per cosine cycle
MIN_GAIN = 0.01               # a cycle that adds less validation exact match ends the run
MAX_CYCLES = 10
CHAPTER_RUN = (64, 400)       # chapter 10's live run: (hidden size, steps)
CHAPTER_POOL = 1200           # chapter 10 draws 3 * 400 batches of pairs


def model_for(hidden_size, seed=0):
    """A fresh plain encoder–decoder, initialised from ``seed`` as chapter 10's."""
    src_vocab, tgt_vocab = source_vocab(), target_vocab()
    torch.manual_seed(seed)
    return Seq2Seq(Encoder(len(src_vocab), EMBED, hidden_size),
                   PlainDecoder(len(tgt_vocab), EMBED, hidden_size),
                   bos_id=BOS, eos_id=EOS, pad_id=PAD)


def make_batches(n_pairs, rng):
    """``n_pairs`` fresh pairs of 1 to 10 digits, in length-bucketed batches of 64."""
    src_vocab, tgt_vocab = source_vocab(), target_vocab()
    pairs = sample_pairs(n_pairs, rng, 1, MAX_DIGITS)
    buckets = length_buckets([len(source) for source, _ in pairs], BATCH, rng=rng)
    return [make_batch([pairs[i] for i in bucket], src_vocab, tgt_vocab) for bucket in buckets]


def chapter_batches(steps=CHAPTER_RUN[1], seed=0):
    """The first ``steps`` batches that chapter 10 trains on."""
    return make_batches(CHAPTER_POOL * BATCH, np.random.default_rng(seed))[:steps]


def train_cycle(model, batches, desc="", progress=True):
    """One cosine cycle (0.01 -> 0) over ``batches``, with a fresh Adam; model in eval mode."""
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    model.train()
    for step, (src, src_lengths, tgt) in enumerate(tqdm(batches, desc=desc, disable=not progress)):
        for group in optimizer.param_groups:  # cosine annealing, as in the chapter
            group["lr"] = LR * (1 + np.cos(np.pi * step / len(batches))) / 2
        logits, _ = model(src, src_lengths, tgt)
        loss = model.loss(logits, tgt)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), MAX_NORM)
        optimizer.step()
    return model.eval()


def evaluate(model, pairs):
    """Exact match by number of digits (list of 10, rounded) and overall."""
    by_length, overall = accuracy_by_length(model, pairs, source_vocab(), target_vocab(),
                                            MAX_DIGITS)
    return [round(float(a), 4) for a in by_length], round(overall, 4)


def test_pairs(seed=0):
    """Chapter 10's 2000 test numbers."""
    return sample_pairs(2000, np.random.default_rng(seed + 1), 1, MAX_DIGITS)


def validation_pairs(seed=0):
    """2000 numbers for the stopping rule, drawn separately from the test numbers."""
    return sample_pairs(2000, np.random.default_rng(seed + 2), 1, MAX_DIGITS)


def train_to_plateau(hidden_size, seed=0, cycle=CYCLE, max_cycles=MAX_CYCLES,
                     min_gain=MIN_GAIN, progress=True):
    """Cosine cycles until validation exact match gains less than ``min_gain`` in a cycle.

    Returns a dict with the test curve and validation exact match after every cycle.
    Every size sees the same stream of training batches (from ``default_rng(seed + 10)``).
    """
    torch.set_num_threads(1)
    rng = np.random.default_rng(seed + 10)
    model = model_for(hidden_size, seed)
    valid, test = validation_pairs(seed), test_pairs(seed)
    cycles, plateau = [], False
    while not plateau and len(cycles) < max_cycles:
        batches = make_batches(cycle * BATCH, rng)[:cycle]
        train_cycle(model, batches, f"H = {hidden_size}, cycle {len(cycles) + 1}", progress)
        _, valid_overall = evaluate(model, valid)
        test_curve, test_overall = evaluate(model, test)
        cycles.append({"steps": cycle * (len(cycles) + 1), "valid_exact_match": valid_overall,
                       "test_exact_match": test_overall, "test_accuracy": test_curve})
        if progress:
            print(f"H = {hidden_size}, {cycles[-1]['steps']} steps: "
                  f"validation {valid_overall:.4f}, test by length {test_curve}", flush=True)
        plateau = len(cycles) >= 2 and valid_overall - cycles[-2]["valid_exact_match"] < min_gain
    return {"hidden_size": hidden_size, "cycle": cycle, "plateau": plateau, "cycles": cycles}


def chapter_run(seed=0, progress=True):
    """Chapter 10's live run (H = 64, 400 steps, one cycle): its test curve."""
    torch.set_num_threads(1)
    hidden_size, steps = CHAPTER_RUN
    model = train_cycle(model_for(hidden_size, seed), chapter_batches(steps, seed),
                        f"H = {hidden_size}, {steps} steps", progress)
    return evaluate(model, test_pairs(seed))[0]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="one short run that writes nothing")
    args = parser.parse_args()
    if args.quick:
        print(train_to_plateau(16, cycle=40, max_cycles=2))
        return
    start = time.time()
    chapter = {"hidden_size": CHAPTER_RUN[0], "steps": CHAPTER_RUN[1],
               "test_accuracy": chapter_run()}
    print(chapter, flush=True)
    runs = [train_to_plateau(hidden_size) for hidden_size in SIZES]
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps({
        "batch": BATCH, "lr": LR, "cycle": CYCLE, "min_gain": MIN_GAIN,
        "max_cycles": MAX_CYCLES, "seed": 0, "chapter_run": chapter, "runs": runs,
        "seconds": round(time.time() - start)}, indent=1) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()

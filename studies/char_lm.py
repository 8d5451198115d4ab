"""The character-level language model of chapter 9, trained to the end: the study behind its samples.

Chapter 9 trains a one-layer LSTM of 128 units on the English prose of CPython's help pages
(``rnnlib.data.pydoc_text``) for a few seconds. This script trains, on the chapter's data
split (``rnnlib.data.interleaved_split``: one block of 4000 characters in every ten is held
out, so the held-out text samples every topic of the pages), two models for STEPS steps:

- the baseline: the chapter's model (128 units) as the chapter trains it, without
  regularisation, at its learning rate of 1e-2;
- the stored model: the same class twice as wide (256 units), with dropout on the LSTM's
  inputs and outputs during training (the weights are the same as without it, so they load
  into the chapter's class built with ``hidden_size=256``).

Both score the held-out text every EVAL_EVERY steps and keep the weights of their lowest
held-out loss (early stopping; the held-out text thereby also chooses the step, so its loss
is very slightly optimistic). It stores:

- ``studies/results/char_lm.pt``: the stored model's best ``state_dict`` in float16
  (about 650 kB);
- ``studies/results/char_lm.json``: the settings, the step of the stored weights and their
  held-out bits per character (in float16), the training and held-out curves of both models
  every EVAL_EVERY steps, a sample, and the run time of each.

Training: Adam (AdamW without weight decay), global gradient-norm clipping at 1, random
chunks of ``SEQ_LEN`` + 1 characters (``rnnlib.data.random_chunks``), a learning rate that
falls to 0 along a half cosine. Everything random derives from ``--seed``; with one torch
thread the run is deterministic on a given machine.

Run it from the repository root::

    python studies/char_lm.py            # the full run -> studies/results/char_lm.{pt,json}
    python studies/char_lm.py --quick    # a short run that writes nothing (used by the tests)

The run time of the last full run is stored in the results file (``seconds`` for the
stored model, ``baseline.seconds`` for the baseline).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from rnnlib.data import Vocab, interleaved_split, pydoc_text, random_chunks

RESULTS = Path(__file__).resolve().parent / "results"
WEIGHTS, SUMMARY = RESULTS / "char_lm.pt", RESULTS / "char_lm.json"

EMBED, HIDDEN = 32, 256    # the chapter's class, twice as wide
DROPOUT = 0.3              # on the LSTM's inputs and outputs, during training only
SEQ_LEN, BATCH = 128, 32   # characters per chunk, chunks per step
LR, MAX_NORM = 5e-3, 1.0
STEPS, QUICK_STEPS = 5000, 60
EVAL_EVERY = 100
EVAL_LEN = 128             # held-out text is scored in chunks of this length + 1
BLOCK, EVERY = 4000, 10    # the held-out split: every 10th block of 4000 characters
PROMPT = "The "
# the comparison run: the chapter's own model (128 units), without dropout, at its rate
BASELINE = {"hidden": 128, "dropout": 0.0, "lr": 1e-2}
BASELINE_KEYS = ("settings", "parameters", "best_step", "valid_bits", "curve", "seconds")


class CharLM(nn.Module):
    """ids (B, T) -> logits (B, T, V) for the next character at every step, and the state.

    The layout (``embed``, ``lstm``, ``out``) is the chapter's; dropout has no weights, so
    the ``state_dict`` loads into the chapter's class built with the same hidden size.
    """

    def __init__(self, vocab_size, embed_size=EMBED, hidden_size=HIDDEN, dropout=DROPOUT):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed_size)
        self.lstm = nn.LSTM(embed_size, hidden_size, batch_first=True)
        self.out = nn.Linear(hidden_size, vocab_size)
        self.drop = nn.Dropout(dropout)

    def forward(self, ids, state=None):
        outputs, state = self.lstm(self.drop(self.embed(ids)), state)  # (B, T, H)
        return self.out(self.drop(outputs)), state  # (B, T, V)


def data():
    """The vocabulary and the training and held-out ids, split as in the chapter."""
    text = pydoc_text()
    vocab = Vocab.from_text(text, specials=())
    train_ids, valid_ids = interleaved_split(torch.tensor(vocab.encode(text)), BLOCK, EVERY)
    return vocab, train_ids, valid_ids


@torch.no_grad()
def held_out_bits(model, valid_ids):
    """Mean cross-entropy in bits per character over held-out chunks of EVAL_LEN + 1."""
    was_training = model.training
    model.eval()
    n = len(valid_ids) // (EVAL_LEN + 1) * (EVAL_LEN + 1)
    chunks = valid_ids[:n].reshape(-1, EVAL_LEN + 1)  # (N, T + 1)
    logits, _ = model(chunks[:, :-1])
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), chunks[:, 1:].reshape(-1))
    model.train(was_training)
    return float(loss) / math.log(2)


@torch.no_grad()
def sample(model, vocab, prompt, n_chars, temperature, seed):
    """``prompt`` followed by ``n_chars`` characters drawn one at a time."""
    model.eval()
    generator = torch.Generator().manual_seed(seed)
    logits, state = model(torch.tensor(vocab.encode(prompt))[None])
    new_ids = []
    for _ in range(n_chars):
        probs = torch.softmax(logits[0, -1] / temperature, dim=-1)
        next_id = torch.multinomial(probs, 1, generator=generator)
        new_ids.append(int(next_id))
        logits, state = model(next_id[None], state)
    return prompt + vocab.decode(new_ids)


def train(steps, seed=0, progress=True, hidden=HIDDEN, dropout=DROPOUT, lr=LR):
    """Train from scratch; return the best model (weights rounded to float16) and a summary.

    "Best" is the model with the lowest held-out loss among those scored every
    EVAL_EVERY steps (early stopping: its weights are kept, training goes on to the end).
    """
    torch.set_num_threads(1)
    vocab, train_ids, valid_ids = data()
    torch.manual_seed(seed)
    model = CharLM(len(vocab), hidden_size=hidden, dropout=dropout)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
    generator = torch.Generator().manual_seed(seed)
    curve, losses, start = [], [], time.time()
    best = {"valid_bits": math.inf}
    bar = tqdm(range(1, steps + 1), desc="character LM", disable=not progress)
    for step in bar:
        inputs, targets = random_chunks(train_ids, SEQ_LEN, BATCH, generator)
        logits, _ = model(inputs)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), MAX_NORM)
        optimizer.step()
        schedule.step()
        losses.append(float(loss.detach()))
        if step % EVAL_EVERY == 0 or step == steps:
            point = {"step": step, "train_bits": float(np.mean(losses[-EVAL_EVERY:])) / math.log(2),
                     "valid_bits": held_out_bits(model, valid_ids)}
            curve.append(point)
            bar.set_postfix(held_out=f"{point['valid_bits']:.3f}", refresh=False)
            if point["valid_bits"] < best["valid_bits"]:
                best = {**point, "state": {k: v.clone() for k, v in model.state_dict().items()}}
    model.load_state_dict({k: v.half().float() for k, v in best["state"].items()})
    model.eval()
    summary = {
        "settings": {"embed": EMBED, "hidden": hidden, "dropout": dropout, "seq_len": SEQ_LEN,
                     "batch": BATCH, "lr": lr, "weight_decay": 0.0,
                     "max_norm": MAX_NORM, "steps": steps, "seed": seed,
                     "split": {"block": BLOCK, "every": EVERY}},
        "parameters": sum(p.numel() for p in model.parameters()),
        "train_chars": len(train_ids), "valid_chars": len(valid_ids),
        "best_step": best["step"],
        "valid_bits": held_out_bits(model, valid_ids),
        "curve": curve,
        "sample": sample(model, vocab, PROMPT, 300, 0.5, seed),
        "seconds": round(time.time() - start),
    }
    return model, summary


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short run that writes nothing")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    steps = QUICK_STEPS if args.quick else STEPS
    _, baseline = train(steps, seed=args.seed, **BASELINE)
    model, summary = train(steps, seed=args.seed)
    summary["baseline"] = {key: baseline[key] for key in BASELINE_KEYS}
    for name, result in (("baseline", baseline), ("stored model", summary)):
        print(f"{name}: held-out {result['valid_bits']:.3f} bits per character at step "
              f"{result['best_step']} of {steps}, {result['curve'][-1]['valid_bits']:.3f} at the "
              f"end ({result['seconds']} s)")
    print(summary["sample"])
    if not args.quick:
        RESULTS.mkdir(exist_ok=True)
        torch.save({k: v.half() for k, v in model.state_dict().items()}, WEIGHTS)
        SUMMARY.write_text(json.dumps(summary, indent=1) + "\n")
        print(f"wrote {WEIGHTS} and {SUMMARY}")


if __name__ == "__main__":
    main()

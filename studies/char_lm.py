"""The character-level language model of chapter 9, trained to the end: the study behind its samples.

Chapter 9 trains a one-layer LSTM of 128 units on the English prose of CPython's help pages
(``rnnlib.data.pydoc_text``) for a few seconds; this script trains the same model (same
class layout, same data split: the first 90 % of the text for training, the last 10 % held
out) until the held-out loss has flattened, and stores its weights and its result:

- ``studies/results/char_lm.pt``: the ``state_dict`` in float16 (about 200 kB);
- ``studies/results/char_lm.json``: the settings, the held-out bits per character of the
  stored (float16) weights, the training curve every 100 steps, and a sample.

Training: Adam, global gradient-norm clipping at 1, random chunks of ``SEQ_LEN`` + 1
characters (``rnnlib.data.random_chunks``), a learning rate that falls from ``LR`` to 0 along
a half cosine. Everything random derives from ``--seed``; with one torch thread the run is
deterministic on a given machine.

Run it from the repository root::

    python studies/char_lm.py            # the full run -> studies/results/char_lm.{pt,json}
    python studies/char_lm.py --quick    # a short run that writes nothing (used by the tests)

The last full run took 40 minutes on a heavily shared 2-core machine (its time is stored
in the results file).
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

from rnnlib.data import Vocab, pydoc_text, random_chunks

RESULTS = Path(__file__).resolve().parent / "results"
WEIGHTS, SUMMARY = RESULTS / "char_lm.pt", RESULTS / "char_lm.json"

EMBED, HIDDEN = 32, 128    # the chapter's model
SEQ_LEN, BATCH = 128, 32   # characters per chunk, chunks per step
LR, MAX_NORM = 1e-2, 1.0
STEPS, QUICK_STEPS = 6000, 60
EVAL_LEN = 128             # held-out text is scored in chunks of this length + 1
PROMPT = "The "


class CharLM(nn.Module):
    """ids (B, T) -> logits (B, T, V) for the next character at every step, and the state.

    The layout (``embed``, ``lstm``, ``out``) is the chapter's, so its ``state_dict`` loads
    into the chapter's class.
    """

    def __init__(self, vocab_size, embed_size=EMBED, hidden_size=HIDDEN):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed_size)
        self.lstm = nn.LSTM(embed_size, hidden_size, batch_first=True)
        self.out = nn.Linear(hidden_size, vocab_size)

    def forward(self, ids, state=None):
        outputs, state = self.lstm(self.embed(ids), state)  # (B, T, H)
        return self.out(outputs), state  # (B, T, V)


def data():
    """The vocabulary and the training and held-out ids, split as in the chapter."""
    text = pydoc_text()
    vocab = Vocab.from_text(text, specials=())
    ids = torch.tensor(vocab.encode(text))
    n_train = int(0.9 * len(ids))
    return vocab, ids[:n_train], ids[n_train:]


@torch.no_grad()
def held_out_bits(model, valid_ids):
    """Mean cross-entropy in bits per character over held-out chunks of EVAL_LEN + 1."""
    model.eval()
    n = len(valid_ids) // (EVAL_LEN + 1) * (EVAL_LEN + 1)
    chunks = valid_ids[:n].reshape(-1, EVAL_LEN + 1)  # (N, T + 1)
    logits, _ = model(chunks[:, :-1])
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), chunks[:, 1:].reshape(-1))
    model.train()
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


def train(steps, seed=0, progress=True):
    """Train from scratch; return the model (weights rounded to float16) and a summary dict."""
    torch.set_num_threads(1)
    vocab, train_ids, valid_ids = data()
    torch.manual_seed(seed)
    model = CharLM(len(vocab))
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
    generator = torch.Generator().manual_seed(seed)
    curve, losses, start = [], [], time.time()
    for step in tqdm(range(1, steps + 1), desc="character LM", disable=not progress):
        inputs, targets = random_chunks(train_ids, SEQ_LEN, BATCH, generator)
        logits, _ = model(inputs)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), MAX_NORM)
        optimizer.step()
        schedule.step()
        losses.append(float(loss.detach()))
        if step % 100 == 0 or step == steps:
            curve.append({"step": step, "train_bits": float(np.mean(losses[-100:])) / math.log(2),
                          "valid_bits": held_out_bits(model, valid_ids)})
    model.load_state_dict({k: v.half().float() for k, v in model.state_dict().items()})
    summary = {
        "settings": {"embed": EMBED, "hidden": HIDDEN, "seq_len": SEQ_LEN, "batch": BATCH,
                     "lr": LR, "max_norm": MAX_NORM, "steps": steps, "seed": seed},
        "parameters": sum(p.numel() for p in model.parameters()),
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
    model, summary = train(QUICK_STEPS if args.quick else STEPS, seed=args.seed)
    print(f"held-out: {summary['valid_bits']:.3f} bits per character after "
          f"{summary['settings']['steps']} steps ({summary['seconds']} s)")
    print(summary["sample"])
    if not args.quick:
        RESULTS.mkdir(exist_ok=True)
        torch.save({k: v.half() for k, v in model.state_dict().items()}, WEIGHTS)
        SUMMARY.write_text(json.dumps(summary, indent=1) + "\n")
        print(f"wrote {WEIGHTS} and {SUMMARY}")


if __name__ == "__main__":
    main()

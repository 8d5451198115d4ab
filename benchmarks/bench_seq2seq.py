"""Time one teacher-forced training step of rnnlib.seq2seq's models, against the same
models run step by step.

    python benchmarks/bench_seq2seq.py [--repeats 30] [--batch 32]

The task and sizes are chapter 11's: spoken digits of 1 to 10 digits, embeddings of 16,
64 hidden units, an attention size of 32, one thread. A training step is forward, loss,
backward and an Adam update. It is timed twice on the same batches and weights:

- rnnlib: ``Seq2Seq.forward`` as it is. With teacher forcing it runs the plain and Luong
  decoders' GRU over all target steps in one call (their recurrence never sees the
  context), attends with all the queries at once, computes Bahdanau's key projection
  U m_s once per batch, and runs the one-layer GRU encoder on the padded batch.
- step by step: the textbook way, which those shortcuts must equal — the encoder on a
  packed sequence and one ``decoder.step`` per target position.

Prints milliseconds per step (the fastest of ``--repeats``, the two interleaved, process
CPU time) and the ratio rnnlib / step by step, and checks that both give the same loss.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from torch import nn

from rnnlib.seq2seq import BahdanauDecoder, Encoder, LuongDecoder, PlainDecoder, Seq2Seq
from rnnlib.spoken_digits import (BOS, EOS, PAD, make_batch, sample_pairs, source_vocab,
                                  target_vocab)

E, H, A = 16, 64, 32
KINDS = ["plain", "bahdanau", "dot", "general", "concat"]


def make_model(kind, src_vocab, tgt_vocab):
    torch.manual_seed(0)
    encoder = Encoder(len(src_vocab), E, H)
    if kind == "plain":
        decoder = PlainDecoder(len(tgt_vocab), E, H)
    elif kind == "bahdanau":
        decoder = BahdanauDecoder(len(tgt_vocab), E, H, memory_size=H, attention_size=A)
    else:
        decoder = LuongDecoder(len(tgt_vocab), E, H, memory_size=H, score=kind, attention_size=A)
    return Seq2Seq(encoder, decoder, bos_id=BOS, eos_id=EOS, pad_id=PAD)


def loss_fast(model, src, src_lengths, tgt):
    logits, _ = model(src, src_lengths, tgt)
    return model.loss(logits, tgt)


def loss_step_by_step(model, src, src_lengths, tgt):
    encoder, decoder = model.encoder, model.decoder
    packed = nn.utils.rnn.pack_padded_sequence(encoder.embed(src), src_lengths,
                                               batch_first=True, enforce_sorted=False)
    memory, state = encoder.rnn(packed)
    memory, _ = nn.utils.rnn.pad_packed_sequence(memory, batch_first=True,
                                                 total_length=src.shape[1])
    mask = torch.arange(src.shape[1]) < src_lengths[:, None]
    y_prev = torch.full((len(src),), BOS)
    logits = []
    for t in range(tgt.shape[1]):
        logits_t, state, _ = decoder.step(y_prev, state, memory, mask)
        logits.append(logits_t)
        y_prev = tgt[:, t]
    return model.loss(torch.stack(logits, dim=1), tgt)


def step_time(model, loss_fn, batch):
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    start = time.process_time()
    loss = loss_fn(model, *batch)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return time.process_time() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--batch", type=int, default=32)
    args = parser.parse_args()
    torch.set_num_threads(1)
    src_vocab, tgt_vocab = source_vocab(), target_vocab()
    rng = np.random.default_rng(0)
    batches = [make_batch(sample_pairs(args.batch, rng, 1, 10), src_vocab, tgt_vocab)
               for _ in range(args.repeats)]
    print(f"teacher-forced training step, batch {args.batch}, 1 thread, "
          f"best of {args.repeats} (process CPU time)")
    print(f"{'model':9}{'rnnlib ms':>11}{'step by step ms':>17}{'ratio':>7}{'same loss':>11}")
    for kind in KINDS:
        model = make_model(kind, src_vocab, tgt_vocab)
        with torch.no_grad():
            same = torch.allclose(loss_fast(model, *batches[0]),
                                  loss_step_by_step(model, *batches[0]), rtol=1e-5)
        fast, slow = [], []
        for batch in batches:  # interleaved, so both meet the same background load
            fast.append(step_time(make_model(kind, src_vocab, tgt_vocab), loss_fast, batch))
            slow.append(step_time(make_model(kind, src_vocab, tgt_vocab), loss_step_by_step,
                                  batch))
        print(f"{kind:9}{1000 * min(fast):11.1f}{1000 * min(slow):17.1f}"
              f"{min(fast) / min(slow):7.2f}{str(same):>11}")


if __name__ == "__main__":
    main()

"""Exercise 10_decoding: greedy decoding and beam search on a next-token table.

The "model" is a table ``log_probs`` (V, V): row ``p`` holds log p(next token | previous
token p), so a sequence y_1..y_n after BOS has log-probability
``sum_t log_probs[y_{t-1}, y_t]`` with ``y_0 = bos``. The same decoders run on a real
decoder (chapter 10), where the table is replaced by the network's output at each step.

- ``sequence_log_prob(log_probs, tokens, bos)`` -> float.
- ``greedy_decode(log_probs, bos, eos, max_len)`` -> list of tokens: the most probable
  next token at each step, stopping after EOS (included) or ``max_len`` tokens.
- ``beam_search(log_probs, bos, eos, beam_width, max_len)`` -> ``(tokens, log_prob)``:
  keep the ``beam_width`` most probable hypotheses at each step; a hypothesis ending in
  EOS is finished and stays in the beam unchanged (it competes with the extensions of the
  others, with its own log-probability); stop after ``max_len`` steps or when every
  hypothesis in the beam is finished, and return the most probable one.
"""

import itertools

import numpy as np

from rnnlib.grading.core import Case, Exercise, Question


def ref_sequence_log_prob(log_probs, tokens, bos):
    prev, total = bos, 0.0
    for y in tokens:
        total += float(log_probs[prev, y])
        prev = y
    return total


def ref_greedy(log_probs, bos, eos, max_len):
    tokens, prev = [], bos
    while len(tokens) < max_len:
        prev = int(np.argmax(log_probs[prev]))
        tokens.append(prev)
        if prev == eos:
            break
    return tokens


def _beam(log_probs, bos, eos, beam_width, max_len, keep_finished=True, cumulative=True,
          normalise=False):
    V = log_probs.shape[0]
    beam = [((), 0.0)]
    for _ in range(max_len):
        candidates = []
        for tokens, lp in beam:
            if tokens and tokens[-1] == eos:
                if keep_finished:
                    candidates.append((tokens, lp))
                continue
            prev = tokens[-1] if tokens else bos
            for k in range(V):
                step = float(log_probs[prev, k])
                candidates.append((tokens + (k,), (lp if cumulative else 0.0) + step))
        if not candidates:
            break
        candidates.sort(key=lambda c: -c[1] / (len(c[0]) if normalise else 1))
        beam = candidates[:beam_width]
        if all(t and t[-1] == eos for t, _ in beam):
            break
    tokens, lp = max(beam, key=lambda c: c[1] / (len(c[0]) if normalise else 1))
    if not cumulative:
        lp = ref_sequence_log_prob(log_probs, tokens, bos)
    return list(tokens), lp


def ref_beam(log_probs, bos, eos, beam_width, max_len):
    return _beam(log_probs, bos, eos, beam_width, max_len)


def _exhaustive(log_probs, bos, eos, max_len):
    """The most probable sequence of at most max_len tokens (ending at EOS or at max_len)."""
    V, best = log_probs.shape[0], ([], -np.inf)
    for n in range(1, max_len + 1):
        for seq in itertools.product(range(V), repeat=n):
            if eos in seq[:-1] or (n < max_len and seq[-1] != eos):
                continue
            lp = ref_sequence_log_prob(log_probs, seq, bos)
            if lp > best[1]:
                best = (list(seq), lp)
    return best


# ----------------------------------------------------------------------------- known mistakes

def _greedy_no_stop(log_probs, bos, eos, max_len):
    tokens, prev = [], bos
    for _ in range(max_len):
        prev = int(np.argmax(log_probs[prev]))
        tokens.append(prev)
    return tokens


def _greedy_eos_dropped(log_probs, bos, eos, max_len):
    t = ref_greedy(log_probs, bos, eos, max_len)
    return t[:-1] if t and t[-1] == eos else t


def _logprob_from_zero(log_probs, tokens, bos):
    return ref_sequence_log_prob(log_probs, tokens[1:], tokens[0]) if tokens else 0.0


# ----------------------------------------------------------------------------- cases

def _table(rng, V, eos, sharp=1.5, eos_bias=0.0):
    z = rng.normal(0, sharp, size=(V, V))
    z[:, eos] += eos_bias
    return z - np.logaddexp.reduce(z, axis=1, keepdims=True)


def _logprob_cases(rng, full):
    cases = []
    for label, V, n in [("V=5, 4 tokens", 5, 4), ("V=3, 1 token", 3, 1), ("V=6, no tokens", 6, 0),
                        ("V=4, 9 tokens", 4, 9)][: 4 if full else 2]:
        cases.append(Case(label, (_table(rng, V, 1), [int(t) for t in rng.integers(0, V, n)], 0)))
    return cases


def _greedy_cases(rng, full):
    spec = [("V=6, max_len=8", 6, 8, 0.0), ("V=5, max_len=6, EOS likely", 5, 6, 1.5),
            ("max_len=1", 5, 1, 0.0), ("V=4, EOS unlikely, max_len=5", 4, 5, -3.0),
            ("V=8, max_len=12", 8, 12, 0.5), ("V=3, EOS very likely", 3, 4, 4.0)]
    return [Case(label, (_table(rng, V, 1, eos_bias=b), 0, 1, L))
            for label, V, L, b in (spec if full else spec[:2])]


def _beam_cases(rng, full):
    spec = [("V=5, beam 3, max_len=5", 5, 3, 5, 0.5), ("V=4, beam 2, max_len=6", 4, 2, 6, 0.8),
            ("beam 1 (greedy), max_len=5", 5, 1, 5, 0.5), ("max_len=1, beam 3", 5, 3, 1, 0.0),
            ("beam wider than all sequences (exact), V=3, max_len=4", 3, 100, 4, 1.0),
            ("V=6, beam 4, max_len=7, EOS likely", 6, 4, 7, 1.5),
            ("V=4, beam 3, EOS unlikely", 4, 3, 6, -2.0), ("V=5, beam 5, max_len=6", 5, 5, 6, 0.8)]
    return [Case(label, (_table(rng, V, 1, eos_bias=b), 0, 1, K, L))
            for label, V, K, L, b in (spec if full else spec[:2])]


EXERCISE = Exercise(
    id="10_decoding",
    title="Greedy and beam decoding",
    chapter="chapters/10_seq2seq",
    questions=[
        Question(name="sequence_log_prob", title="score a sequence", points=2,
                 cases=_logprob_cases, reference=ref_sequence_log_prob, outputs="log_prob",
                 diagnoses=[("the first token is scored from itself: the first token follows "
                             "BOS, log_probs[bos, y_1].", _logprob_from_zero)]),
        Question(name="greedy_decode", title="greedy decoding", points=3, cases=_greedy_cases,
                 reference=ref_greedy, outputs="tokens",
                 diagnoses=[("decoding goes on after EOS: stop right after emitting it.",
                             _greedy_no_stop),
                            ("EOS should be included as the last token when it is produced.",
                             _greedy_eos_dropped)]),
        Question(name="beam_search", title="beam search", points=5, cases=_beam_cases,
                 reference=ref_beam, outputs=("tokens", "log_prob"),
                 diagnoses=[
                     ("hypotheses are ranked by their log-probability divided by their length: "
                      "this exercise ranks by the total log-probability, with no length "
                      "normalisation.", lambda *a: _beam(*a, normalise=True)),
                     ("finished hypotheses are dropped from the beam: one that ends in EOS must "
                      "stay and compete with its own log-probability.",
                      lambda *a: _beam(*a, keep_finished=False)),
                     ("hypotheses are ranked by the last step's log-probability only: rank by "
                      "the sum over the whole sequence.", lambda *a: _beam(*a, cumulative=False)),
                 ]),
    ],
)

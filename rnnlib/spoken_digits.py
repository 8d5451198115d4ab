"""A generated translation-like task: digit strings read aloud, to written digits.

A source is a string of digits as a person reads it aloud (a phone number, a card number),

    "four oh seven"    "double five one nine"    "triple two eight zero"

and its target is the digits written down: "407", "5519", "2220". Zero is read "zero" or
"oh"; a run of two or three equal digits is read "double x" or "triple x" half the time.
The model must read characters, find word boundaries, translate words into digits and
expand "double"/"triple" — and, because the number of digits varies (1 to ``max_digits``),
the information it must carry grows with the length of the source. That makes the task
a measuring stick for the fixed-size context of a plain encoder–decoder.

Text is split into characters. :class:`Vocab` maps characters to ids with three special
tokens, PAD = 0, BOS = 1, EOS = 2; :func:`make_batch` turns (source, target) string pairs
into padded id tensors for :class:`rnnlib.seq2seq.Seq2Seq`.

Everything random takes a ``numpy.random.Generator``: the same generator state gives the
same pairs.

Shapes: B batch, S source length, T target length (both in tokens).

>>> read_aloud("4077")
'four zero seven seven'
>>> sample_pairs(2, np.random.default_rng(0), min_digits=3, max_digits=5)
[('five two three zero zero', '52300'), ('zero double seven eight', '0778')]
"""

import numpy as np
import torch

__all__ = ["WORDS", "PAD", "BOS", "EOS", "Vocab", "read_aloud", "sample_pairs", "make_batch",
           "source_vocab", "target_vocab", "accuracy_by_length", "edit_distance"]

WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
PAD, BOS, EOS = 0, 1, 2
_SPECIALS = ["<pad>", "<bos>", "<eos>"]


def read_aloud(digits, oh=(), group=()):
    """Words for the string ``digits``.

    ``oh``: positions of zeros read "oh" (others are "zero"). ``group``: positions where a
    run of equal digits starts that is read "double x" (run of 2) or "triple x" (run of 3).
    Runs are taken greedily from the left, at most 3 digits each.

    >>> read_aloud("1002", oh={1, 2})
    'one oh oh two'
    >>> read_aloud("5551", group={0})
    'triple five one'
    """
    if not digits.isdigit() or not digits.isascii():
        raise ValueError(f"digits: expected a non-empty string of 0-9, got {digits!r}")
    words, i = [], 0
    while i < len(digits):
        run = 1
        while run < 3 and i + run < len(digits) and digits[i + run] == digits[i]:
            run += 1
        word = "oh" if digits[i] == "0" and i in oh else WORDS[int(digits[i])]
        if i in group and run > 1:
            words += [{2: "double", 3: "triple"}[run], word]
            i += run
        else:
            words.append(word)
            i += 1
    return " ".join(words)


def sample_pairs(n, rng, min_digits=1, max_digits=10):
    """``n`` (source, target) pairs: a digit string with a length drawn uniformly from
    ``min_digits..max_digits``, read aloud (each zero "oh" with probability 1/2, each run
    read "double"/"triple" with probability 1/2), and the digits themselves.
    ``rng`` is a ``numpy.random.Generator``."""
    if not 1 <= min_digits <= max_digits:
        raise ValueError(f"min_digits, max_digits: expected 1 <= min_digits <= max_digits, "
                         f"got {min_digits}, {max_digits}")
    pairs = []
    for length in rng.integers(min_digits, max_digits + 1, size=n):
        digits = "".join(map(str, rng.integers(0, 10, size=length)))
        coins = rng.random(size=(2, length)) < 0.5
        source = read_aloud(digits, oh=set(np.flatnonzero(coins[0])),
                            group=set(np.flatnonzero(coins[1])))
        pairs.append((source, digits))
    return pairs


class Vocab:
    """Characters <-> ids, with PAD = 0, BOS = 1, EOS = 2 first, then the sorted characters.

    >>> v = Vocab("0123456789")
    >>> v.encode("407", eos=True)
    [7, 3, 10, 2]
    >>> v.decode([7, 3, 10, 2, 0])
    '407'
    """

    def __init__(self, characters):
        self.tokens = _SPECIALS + sorted(set(characters))
        self.index = {c: i for i, c in enumerate(self.tokens)}

    def __len__(self):
        return len(self.tokens)

    def encode(self, text, eos=False):
        """A string -> a list of ids (EOS appended if ``eos``)."""
        unknown = sorted(set(text) - set(self.index))
        if unknown:
            raise ValueError(f"text: characters {unknown} are not in the vocabulary ({text!r})")
        return [self.index[c] for c in text] + ([EOS] if eos else [])

    def decode(self, ids):
        """A list of ids -> a string, stopping at the first EOS and dropping PAD and BOS."""
        out = []
        for i in ids:
            i = int(i)
            if i == EOS:
                break
            if i not in (PAD, BOS):
                out.append(self.tokens[i])
        return "".join(out)


def source_vocab():
    """The characters of every word the sources use, and the space."""
    return Vocab("".join(WORDS) + "ohdoubletriple ")


def target_vocab():
    """The ten digits."""
    return Vocab("0123456789")


def make_batch(pairs, src_vocab, tgt_vocab):
    """Encode and pad (source, target) pairs for :class:`rnnlib.seq2seq.Seq2Seq`.

    Returns src (B, S) long, padded with PAD; src_lengths (B,) long; tgt (B, T) long,
    each target followed by EOS, then PAD. S and T are the longest source and target.

    >>> src, lengths, tgt = make_batch([("one two", "12"), ("nine", "9")],
    ...                                source_vocab(), target_vocab())
    >>> src.shape, lengths.tolist(), tgt.shape
    (torch.Size([2, 7]), [7, 4], torch.Size([2, 3]))
    """
    if len(pairs) == 0:
        raise ValueError("pairs: expected at least one (source, target) pair, got none")
    src_ids = [src_vocab.encode(s) for s, _ in pairs]
    tgt_ids = [tgt_vocab.encode(t, eos=True) for _, t in pairs]
    S, T = max(map(len, src_ids)), max(map(len, tgt_ids))
    src = torch.tensor([ids + [PAD] * (S - len(ids)) for ids in src_ids])  # (B, S)
    tgt = torch.tensor([ids + [PAD] * (T - len(ids)) for ids in tgt_ids])  # (B, T)
    return src, torch.tensor([len(ids) for ids in src_ids]), tgt


def accuracy_by_length(model, pairs, src_vocab, tgt_vocab, max_digits=10):
    """Exact-match accuracy of greedy decoding, per number of digits and overall.

    ``model`` is a :class:`rnnlib.seq2seq.Seq2Seq` (anything with its ``greedy_decode``);
    all ``pairs`` are decoded as one batch, with at most ``max_digits + 1`` tokens (the
    digits and EOS) per output. An output is right when it decodes to the target string.

    Returns ``by_length`` (max_digits,), whose entry n - 1 is the accuracy on n-digit
    targets (NaN if ``pairs`` has none), and the accuracy over all pairs.
    """
    src, src_lengths, _ = make_batch(pairs, src_vocab, tgt_vocab)
    tokens, _ = model.greedy_decode(src, src_lengths, max_len=max_digits + 1)
    right = np.array([tgt_vocab.decode(out) == target for out, (_, target) in zip(tokens, pairs)])
    digits = np.array([len(target) for _, target in pairs])
    by_length = np.array([right[digits == n].mean() if (digits == n).any() else np.nan
                          for n in range(1, max_digits + 1)])
    return by_length, float(right.mean())


def edit_distance(a, b):
    """Levenshtein distance: the fewest insertions, deletions and substitutions of single
    items that turn sequence ``a`` into sequence ``b`` (strings or lists).

    A sequence-level error count that does not misalign: a dropped digit costs 1, while a
    position-by-position comparison would count every digit after it as wrong.

    >>> edit_distance("55047771", "5504771"), edit_distance("407", "470"), edit_distance("", "12")
    (1, 2, 2)
    """
    previous = list(range(len(b) + 1))  # distances from a[:0] to every prefix of b
    for i, x in enumerate(a, 1):
        current = [i]
        for j, y in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1]

"""Datasets and batching helpers for the training chapters. Nothing is downloaded.

Data (see DESIGN.md's data policy):

- :func:`pydoc_text` — English prose shipped with CPython (``pydoc_data.topics``, the
  text of ``help()``), for character-level language models.
- :func:`eeg` and :func:`membrane_potential` — real recordings shipped with matplotlib
  (``matplotlib.cbook.get_sample_data``), for forecasting.
- :func:`make_reviews` — generated sentiment-style reviews in which negation flips the
  polarity of the next adjective, so word order matters.

Vocabularies and batches:

- :class:`Vocab` maps tokens (characters or words) to integer ids and back.
- :func:`sliding_windows` cuts a series into (input window, future target) pairs.
- :func:`random_chunks` draws language-model batches from one long id sequence.
- :func:`interleaved_split` holds out every k-th block of a long sequence, so the
  held-out part samples the whole text rather than one end of it.
- :func:`pad_sequences`, :func:`length_mask`, :func:`masked_mean`, :func:`last_valid`
  and :func:`length_buckets` batch sequences of different lengths.

Axis letters: B batch, T time (the longest length in the batch), D features, H hidden,
N examples.
"""

from __future__ import annotations

import re
import unicodedata

import numpy as np
import torch

__all__ = [
    "pydoc_text", "eeg", "membrane_potential", "make_reviews", "Vocab",
    "sliding_windows", "random_chunks", "interleaved_split", "pad_sequences", "length_mask", "masked_mean",
    "last_valid", "length_buckets",
]


# ----------------------------------------------------------------------------- real data

_ASCII = {"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-",
          "\u2014": "-", "\u2026": "...", "\u00a0": " "}


def pydoc_text(topics=None, lowercase=False):
    """English prose from CPython's ``help()`` pages (``pydoc_data.topics``), as one string.

    The pages are joined in sorted order of their names. Typographic quotes and dashes
    become ASCII, other non-ASCII characters are dropped, and every run of whitespace
    (including the indentation of code examples) becomes one space, so the text reads as
    a stream of sentences. The exact text can differ slightly between Python patch
    releases, since the pages document the interpreter itself.

    Parameters
    ----------
    topics : list of str or None
        Page names (keys of ``pydoc_data.topics.topics``); ``None`` takes all of them.
    lowercase : bool
        Lower-case the text (a smaller vocabulary).

    >>> text = pydoc_text(["if"])
    >>> text[:18]
    'The "if" statement'
    >>> set(text) <= set(chr(c) for c in range(32, 127))
    True
    """
    from pydoc_data.topics import topics as pages
    names = sorted(pages) if topics is None else list(topics)
    missing = [n for n in names if n not in pages]
    if missing:
        raise ValueError(f"topics must be keys of pydoc_data.topics.topics, got unknown {missing}")
    text = " ".join(pages[n] for n in names)
    text = "".join(_ASCII.get(ch, ch) for ch in text)
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"\s+", " ", text).strip()
    return text.lower() if lowercase else text


def eeg():
    """The four-channel EEG recording shipped with matplotlib: float64 array (800, 4).

    800 time steps (rows) of 4 channels (columns), each channel with mean about 0 and
    standard deviation about 1. matplotlib's example spreads the 800 samples over 10 s,
    i.e. 80 samples per second.

    >>> x = eeg()
    >>> x.shape, x.dtype
    ((800, 4), dtype('float64'))
    """
    from matplotlib import cbook
    path = cbook.get_sample_data("eeg.dat", asfileobj=False)
    return np.fromfile(path, dtype=np.float64).reshape(800, 4)


def membrane_potential():
    """A neuron's membrane potential shipped with matplotlib: float64 array (12000,).

    One intracellular recording: rest, then a long train of action potentials (spikes)
    while current is injected, then rest again. The values are in volts-like units from
    about -0.68 to 0.04.

    >>> v = membrane_potential()
    >>> v.shape, bool(v.min() < -0.6 < 0 < v.max())
    ((12000,), True)
    """
    from matplotlib import cbook
    path = cbook.get_sample_data("membrane.dat", asfileobj=False)
    return np.fromfile(path, dtype=np.float32).astype(np.float64)


# ------------------------------------------------------------------ generated reviews

_ASPECTS = ["the plot", "the acting", "the music", "the ending", "the dialogue", "the cast",
            "the story", "the pacing", "the script", "this film", "the camera work",
            "the soundtrack", "the director's work", "the lead"]
_VERBS = ["was", "is", "felt", "seemed"]
_NEGATIONS = ["not", "never"]
_INTENSIFIERS = ["very", "really", "quite", "truly", "rather", "so"]
POSITIVE = ["good", "great", "excellent", "wonderful", "superb", "fine", "moving",
            "clever", "charming", "delightful", "gripping", "fresh"]
NEGATIVE = ["bad", "awful", "terrible", "dull", "boring", "weak", "poor", "clumsy",
            "bland", "tedious", "flat", "messy"]
_JOINERS = [["and"], [","], [";"], ["and", "also"], [",", "while"]]


def make_reviews(n, rng=None, clauses=(1, 3), p_negate=0.4, p_intensify=0.4):
    """Generate ``n`` short movie reviews with a positive (1) or negative (0) label.

    Each review is 1 or 3 clauses such as ``the music was not very good``. A clause's
    polarity is its adjective's (positive or negative word list), flipped by a negation
    (``not``, ``never``) before it; intensifiers (``very``, ...) change nothing. The
    review is positive when most of its clauses are. Which adjective a ``not`` belongs
    to depends on word order, so a bag of words cannot always tell; a sequence model can.

    Parameters
    ----------
    n : int
        Number of reviews.
    rng : int, numpy Generator or None
        The randomness (a seed gives the same reviews every time).
    clauses : tuple of int
        The possible numbers of clauses, drawn uniformly (use odd numbers: no ties).
    p_negate, p_intensify : float
        Probability that a clause has a negation, an intensifier.

    Returns
    -------
    reviews : list of list of str
        The tokens of each review (words and punctuation), ending with ``"."``.
    labels : np.ndarray of int64, shape (n,)

    >>> reviews, labels = make_reviews(2, rng=3)
    >>> [" ".join(r) for r in reviews], labels.tolist()
    (['the music was bad and the story felt not bad and the cast seemed poor .', 'the camera work seemed not clever .'], [0, 0])
    """
    if any(c % 2 == 0 or c < 1 for c in clauses):
        raise ValueError(f"clauses must hold odd numbers >= 1 (a majority must exist), got {clauses}")
    rng = np.random.default_rng(rng)
    reviews, labels = [], []
    for _ in range(n):
        tokens, votes = [], 0
        k = int(rng.choice(clauses))
        for j in range(k):
            if j > 0:
                tokens += _JOINERS[rng.integers(len(_JOINERS))]
            positive = bool(rng.integers(2))
            clause = _ASPECTS[rng.integers(len(_ASPECTS))].split()
            clause.append(_VERBS[rng.integers(len(_VERBS))])
            negated = rng.random() < p_negate
            if negated:
                clause.append(_NEGATIONS[rng.integers(len(_NEGATIONS))])
            if rng.random() < p_intensify:
                clause.append(_INTENSIFIERS[rng.integers(len(_INTENSIFIERS))])
            words = POSITIVE if positive else NEGATIVE
            clause.append(words[rng.integers(len(words))])
            tokens += clause
            votes += 1 if positive != negated else -1
        reviews.append(tokens + ["."])
        labels.append(int(votes > 0))
    return reviews, np.array(labels, dtype=np.int64)


# ----------------------------------------------------------------------- vocabularies

class Vocab:
    """A two-way map between tokens (characters or words) and integer ids.

    Ids ``0 .. len(specials) - 1`` are the special tokens (by default ``"<pad>"`` at 0,
    so padded batches can use 0), then the other tokens in sorted order, so the same
    tokens always get the same ids.

    >>> v = Vocab.from_text("hello")
    >>> len(v), v.tokens
    (5, ['<pad>', 'e', 'h', 'l', 'o'])
    >>> v.encode("hole").tolist()
    [2, 4, 3, 1]
    >>> v.decode([2, 1, 3, 3, 4])
    'hello'
    """

    def __init__(self, tokens, specials=("<pad>",)):
        self.tokens = list(specials) + sorted(set(tokens) - set(specials))
        self.index = {tok: i for i, tok in enumerate(self.tokens)}
        self.specials = tuple(specials)

    @classmethod
    def from_text(cls, text, specials=("<pad>",)):
        """A character vocabulary: every distinct character of ``text``."""
        return cls(set(text), specials)

    @classmethod
    def from_sequences(cls, sequences, specials=("<pad>",)):
        """A token vocabulary from an iterable of token lists (e.g. words of sentences)."""
        return cls({tok for seq in sequences for tok in seq}, specials)

    def __len__(self):
        return len(self.tokens)

    def __contains__(self, token):
        return token in self.index

    def encode(self, tokens):
        """A string (one token per character) or a list of tokens -> int64 array (T,).

        An unknown token raises ``ValueError`` naming it.
        """
        try:
            return np.array([self.index[t] for t in tokens], dtype=np.int64)
        except KeyError as exc:
            raise ValueError(f"token {exc.args[0]!r} is not in the vocabulary "
                             f"of {len(self)} tokens") from None

    def decode(self, ids, sep=""):
        """Ids (any int sequence or array) -> the tokens joined with ``sep``."""
        ids = np.asarray(ids).reshape(-1)
        bad = ids[(ids < 0) | (ids >= len(self))]
        if bad.size:
            raise ValueError(f"ids must be in 0..{len(self) - 1}, got {int(bad[0])}")
        return sep.join(self.tokens[i] for i in ids.tolist())


# ------------------------------------------------------------------------- batching

def sliding_windows(series, window, horizon=1):
    """Cut a series into inputs of ``window`` steps and the value ``horizon`` steps later.

    Parameters
    ----------
    series : array (N,) or (N, D)
    window : int
        Steps of history in each input.
    horizon : int
        How far past the window's last step the target lies (1 = the next step).

    Returns
    -------
    X : array (M, window, D), with M = N - window - horizon + 1
        ``X[m] = series[m : m + window]``.
    y : array (M, D)
        ``y[m] = series[m + window + horizon - 1]``.

    >>> X, y = sliding_windows(np.arange(6.0), window=3, horizon=2)
    >>> X[:, :, 0].tolist(), y[:, 0].tolist()
    ([[0.0, 1.0, 2.0], [1.0, 2.0, 3.0]], [4.0, 5.0])
    """
    x = np.asarray(series)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2:
        raise ValueError(f"series must have shape (N,) or (N, D), got {x.shape}")
    if window < 1 or horizon < 1:
        raise ValueError(f"window and horizon must be >= 1, got {window} and {horizon}")
    m = len(x) - window - horizon + 1
    if m < 1:
        raise ValueError(f"series of {len(x)} steps is too short for window {window} "
                         f"and horizon {horizon}")
    X = np.lib.stride_tricks.sliding_window_view(x, window, axis=0)[:m]   # (M, D, window)
    return X.transpose(0, 2, 1).copy(), x[window + horizon - 1:].copy()


def random_chunks(ids, seq_len, batch_size, generator=None):
    """A language-model batch of random contiguous chunks of a long id sequence.

    Parameters
    ----------
    ids : torch.LongTensor (N,)
    seq_len : int
        Length T of each chunk.
    batch_size : int
        Number B of chunks.
    generator : torch.Generator, optional

    Returns
    -------
    inputs, targets : torch.LongTensor (B, T)
        ``targets`` is ``inputs`` shifted one step ahead: at every position the model
        predicts the next token.

    >>> x, y = random_chunks(torch.arange(100), seq_len=5, batch_size=2,
    ...                      generator=torch.Generator().manual_seed(0))
    >>> bool((y == x + 1).all()), tuple(x.shape)
    (True, (2, 5))
    """
    if len(ids) < seq_len + 1:
        raise ValueError(f"ids must hold at least seq_len + 1 = {seq_len + 1} tokens, got {len(ids)}")
    starts = torch.randint(0, len(ids) - seq_len, (batch_size,), generator=generator)
    offsets = torch.arange(seq_len + 1)
    chunk = ids[starts[:, None] + offsets]          # (B, T + 1)
    return chunk[:, :-1], chunk[:, 1:]


def interleaved_split(seq, block=4000, every=10):
    """Split a long sequence into a training part and a held-out part by interleaved blocks.

    The sequence is cut into consecutive blocks of ``block`` items; every ``every``-th
    block (the blocks numbered ``every - 1``, ``2 * every - 1``, ... counting from 0) is
    held out, and the other blocks, joined in order, are the training part. Unlike holding
    out the last tenth of a text, the held-out part then samples the whole text (for the
    help pages, their whole range of topics), while no held-out item is seen in training.

    Parameters
    ----------
    seq : str, numpy.ndarray or torch.Tensor (N, ...)
        Split along its first axis.
    block : int
        Items per block.
    every : int
        One block in ``every`` is held out (about ``1 / every`` of the items).

    Returns
    -------
    train, held_out : the same type as ``seq``

    >>> interleaved_split("abcdefghijklmn", block=2, every=3)
    ('abcdghijmn', 'efkl')
    >>> train, held_out = interleaved_split(torch.arange(10), block=2, every=2)
    >>> train.tolist(), held_out.tolist()
    ([0, 1, 4, 5, 8, 9], [2, 3, 6, 7])
    """
    if block < 1 or every < 2:
        raise ValueError(f"block must be >= 1 and every >= 2, got block={block}, every={every}")
    starts = range(0, len(seq), block)
    parts = ([], [])
    for k, start in enumerate(starts):
        parts[k % every == every - 1].append(seq[start:start + block])
    if isinstance(seq, str):
        return tuple("".join(p) for p in parts)
    if isinstance(seq, torch.Tensor):
        return tuple(torch.cat(p) if p else seq[:0] for p in parts)
    return tuple(np.concatenate(p) if p else seq[:0] for p in parts)


def pad_sequences(sequences, pad_value=0):
    """Stack sequences of different lengths into one batch, padded at the end.

    Parameters
    ----------
    sequences : list of B array-likes, each (T_b,) or (T_b, D)

    Returns
    -------
    padded : torch.Tensor (B, T, ...) with T = max T_b, batch first;
        ``padded[b, T_b:]`` holds ``pad_value``.
    lengths : torch.LongTensor (B,)
        The true lengths T_b.

    >>> padded, lengths = pad_sequences([[5, 6, 7], [8]])
    >>> padded.tolist(), lengths.tolist()
    ([[5, 6, 7], [8, 0, 0]], [3, 1])
    """
    if len(sequences) == 0:
        raise ValueError("sequences must hold at least one sequence")
    seqs = [torch.as_tensor(np.asarray(s)) for s in sequences]
    lengths = torch.tensor([len(s) for s in seqs], dtype=torch.int64)
    if (lengths == 0).any():
        raise ValueError(f"every sequence needs at least one step, got length 0 at index "
                         f"{int(torch.nonzero(lengths == 0)[0])}")
    tail = seqs[0].shape[1:]
    for b, s in enumerate(seqs):
        if s.shape[1:] != tail:
            raise ValueError(f"sequences[{b}] must have shape (T_b, *{tuple(tail)}), "
                             f"got {tuple(s.shape)}")
    padded = torch.full((len(seqs), int(lengths.max()), *tail), pad_value, dtype=seqs[0].dtype)
    for b, s in enumerate(seqs):
        padded[b, :len(s)] = s
    return padded, lengths


def length_mask(lengths, T=None):
    """The boolean mask of real (not padded) steps: (B, T), True where ``t < lengths[b]``.

    >>> length_mask(torch.tensor([3, 1])).tolist()
    [[True, True, True], [True, False, False]]
    """
    lengths = torch.as_tensor(lengths)
    T = int(lengths.max()) if T is None else T
    return torch.arange(T)[None, :] < lengths[:, None]


def masked_mean(values, mask):
    """The mean of ``values`` over the entries where ``mask`` is True.

    values : tensor (B, T) — e.g. a per-token loss computed with ``reduction="none"``.
    mask : bool tensor (B, T) — from :func:`length_mask`.
    Returns a scalar tensor: padded positions contribute nothing to it or to its gradient.

    >>> masked_mean(torch.tensor([[1.0, 3.0], [5.0, 100.0]]), length_mask(torch.tensor([2, 1])))
    tensor(3.)
    """
    if values.shape != mask.shape:
        raise ValueError(f"values and mask must have the same shape (B, T), "
                         f"got {tuple(values.shape)} and {tuple(mask.shape)}")
    mask = mask.to(values.dtype)
    return (values * mask).sum() / mask.sum()


def last_valid(outputs, lengths):
    """Each sequence's output at its own last real step.

    outputs : tensor (B, T, H), batch first, padded at the end.
    lengths : LongTensor (B,).
    Returns a tensor (B, H): ``outputs[b, lengths[b] - 1]``.

    >>> out = torch.arange(12.0).reshape(2, 3, 2)
    >>> last_valid(out, torch.tensor([3, 1])).tolist()
    [[4.0, 5.0], [6.0, 7.0]]
    """
    lengths = torch.as_tensor(lengths)
    if outputs.dim() != 3 or lengths.shape != (outputs.shape[0],):
        raise ValueError(f"outputs must be (B, T, H) and lengths (B,), got "
                         f"{tuple(outputs.shape)} and {tuple(lengths.shape)}")
    return outputs[torch.arange(outputs.shape[0]), lengths - 1]


def length_buckets(lengths, batch_size, rng=None):
    """Batches of indices whose sequences have similar lengths (less padding).

    The examples are sorted by length (ties in random order), cut into batches of
    ``batch_size``, and the batches are returned in random order.

    lengths : array (N,); returns a list of int arrays, each of at most ``batch_size``.

    >>> [b.tolist() for b in length_buckets([5, 1, 4, 2], batch_size=2, rng=0)]
    [[1, 3], [2, 0]]
    """
    lengths = np.asarray(lengths)
    rng = np.random.default_rng(rng)
    tiebreak = rng.random(len(lengths))
    order = np.lexsort((tiebreak, lengths))
    batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]

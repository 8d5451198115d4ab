"""Tests of rnnlib.data: the datasets, the vocabulary and the variable-length batching helpers."""

import collections

import numpy as np
import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_sequence

from rnnlib.data import (NEGATIVE, POSITIVE, Vocab, eeg, last_valid, length_buckets,
                         length_mask, make_reviews, masked_mean, membrane_potential,
                         pad_sequences, pydoc_text, random_chunks, sliding_windows)


# ----------------------------------------------------------------------------- real data

def test_pydoc_text_is_plain_ascii_prose():
    text = pydoc_text()
    assert len(text) > 300_000
    assert set(text) <= {chr(c) for c in range(32, 127)}
    assert "  " not in text and "\n" not in text
    assert "statement" in text and "The " in text
    lower = pydoc_text(["if", "while"], lowercase=True)
    assert lower == lower.lower() and lower.startswith('the "if" statement')


def test_pydoc_text_rejects_unknown_topics():
    with pytest.raises(ValueError, match=r"unknown \['no such page'\]"):
        pydoc_text(["if", "no such page"])


def test_eeg_has_four_standardised_channels_with_memory():
    x = eeg()
    assert x.shape == (800, 4)
    np.testing.assert_allclose(x.mean(axis=0), 0.0, atol=0.01)
    np.testing.assert_allclose(x.std(axis=0), 1.0, atol=0.01)
    z = x - x.mean(axis=0)
    lag1 = (z[1:] * z[:-1]).sum(axis=0) / (z * z).sum(axis=0)
    assert (lag1 > 0.8).all()   # a smooth signal read in the right layout, not noise


def test_membrane_potential_rests_then_spikes():
    v = membrane_potential()
    assert v.shape == (12000,) and v.dtype == np.float64
    rest, active = v[:900], v[2000:7000]
    assert rest.std() < 0.01 and active.std() > 0.05
    crossings = np.sum((active[1:] > -0.2) & (active[:-1] <= -0.2))
    assert 20 < crossings < 60   # a train of a few dozen spikes


# ------------------------------------------------------------------ generated reviews

def _label_by_reading(tokens):
    """Recompute a review's label independently: split clauses at the adjectives."""
    votes, negated = 0, False
    for tok in tokens:
        if tok in ("not", "never"):
            negated = True
        elif tok in POSITIVE or tok in NEGATIVE:
            votes += 1 if (tok in POSITIVE) != negated else -1
            negated = False
    return int(votes > 0)


def test_reviews_are_labelled_by_the_majority_of_clause_polarities():
    reviews, labels = make_reviews(2000, rng=0)
    assert labels.dtype == np.int64 and labels.shape == (2000,)
    assert [_label_by_reading(r) for r in reviews] == labels.tolist()
    assert 0.45 < labels.mean() < 0.55
    n_clauses = collections.Counter(sum(t in POSITIVE or t in NEGATIVE for t in r) for r in reviews)
    assert set(n_clauses) == {1, 3}
    assert all(r[-1] == "." for r in reviews)


def test_reviews_are_reproducible_and_configurable():
    a, la = make_reviews(50, rng=7)
    b, lb = make_reviews(50, rng=7)
    c, _ = make_reviews(50, rng=8)
    assert a == b and np.array_equal(la, lb) and a != c
    single, _ = make_reviews(100, rng=0, clauses=(1,), p_negate=0.0)
    assert not any("not" in r or "never" in r for r in single)
    with pytest.raises(ValueError, match="odd numbers"):
        make_reviews(5, clauses=(1, 2))


def test_a_bag_of_words_cannot_separate_some_reviews():
    # Same words, different order, different labels: the data needs a sequence model.
    reviews, labels = make_reviews(3000, rng=1)
    by_bag = collections.defaultdict(set)
    for r, y in zip(reviews, labels):
        by_bag[tuple(sorted(t for t in r if t in POSITIVE or t in NEGATIVE or t in ("not", "never")))].add(int(y))
    assert any(len(ys) == 2 for ys in by_bag.values())


# ----------------------------------------------------------------------- vocabularies

def test_vocab_round_trips_and_reserves_the_pad_id():
    text = "sequence models read text"
    v = Vocab.from_text(text)
    assert v.tokens[0] == "<pad>" and v.index["<pad>"] == 0
    assert len(v) == len(set(text)) + 1
    assert v.decode(v.encode(text)) == text
    assert (v.encode(text) > 0).all()
    assert "q" in v and "z" not in v
    w = Vocab.from_sequences([["the", "plot"], ["the", "end"]], specials=())
    assert w.tokens == ["end", "plot", "the"]
    assert w.decode(w.encode(["the", "end"]), sep=" ") == "the end"


def test_vocab_reports_unknown_tokens_and_ids():
    v = Vocab.from_text("abc")
    with pytest.raises(ValueError, match="token 'z' is not in the vocabulary of 4 tokens"):
        v.encode("abz")
    with pytest.raises(ValueError, match=r"ids must be in 0..3, got 4"):
        v.decode([1, 4])


# ------------------------------------------------------------------------- batching

def test_sliding_windows_match_a_loop():
    series = np.random.default_rng(0).normal(size=(30, 2))
    X, y = sliding_windows(series, window=5, horizon=3)
    assert X.shape == (23, 5, 2) and y.shape == (23, 2)
    for m in range(23):
        np.testing.assert_array_equal(X[m], series[m:m + 5])
        np.testing.assert_array_equal(y[m], series[m + 5 + 2])
    X1, y1 = sliding_windows(np.arange(10.0), window=9)
    assert X1.shape == (1, 9, 1) and y1.tolist() == [[9.0]]


def test_sliding_windows_reject_bad_input():
    with pytest.raises(ValueError, match="too short"):
        sliding_windows(np.arange(5.0), window=5)
    with pytest.raises(ValueError, match=r"shape \(N,\) or \(N, D\), got \(2, 2, 2\)"):
        sliding_windows(np.zeros((2, 2, 2)), window=1)
    with pytest.raises(ValueError, match="must be >= 1"):
        sliding_windows(np.arange(5.0), window=2, horizon=0)


def test_random_chunks_are_contiguous_next_token_pairs():
    ids = torch.arange(50) * 3
    g = torch.Generator().manual_seed(0)
    x, y = random_chunks(ids, seq_len=7, batch_size=16, generator=g)
    assert x.shape == y.shape == (16, 7)
    assert torch.equal(y[:, :-1], x[:, 1:]) and torch.equal(y[:, -1] - x[:, -1], torch.full((16,), 3))
    assert int(y.max()) <= 49 * 3
    x2, _ = random_chunks(ids, 7, 16, generator=torch.Generator().manual_seed(0))
    assert torch.equal(x, x2)
    with pytest.raises(ValueError, match="at least seq_len \\+ 1 = 51"):
        random_chunks(ids, seq_len=50, batch_size=1)


def test_pad_sequences_agrees_with_torch():
    rng = np.random.default_rng(0)
    seqs = [rng.normal(size=(n, 3)).astype(np.float32) for n in (4, 1, 6)]
    padded, lengths = pad_sequences(seqs)
    expected = pad_sequence([torch.tensor(s) for s in seqs], batch_first=True)
    assert torch.equal(padded, expected) and lengths.tolist() == [4, 1, 6]
    ints, _ = pad_sequences([[1, 2], [3]], pad_value=-1)
    assert ints.dtype == torch.int64 and ints.tolist() == [[1, 2], [3, -1]]


def test_pad_sequences_rejects_empty_and_mismatched_sequences():
    with pytest.raises(ValueError, match="length 0 at index 1"):
        pad_sequences([[1], []])
    with pytest.raises(ValueError, match=r"sequences\[1\] must have shape"):
        pad_sequences([np.zeros((2, 3)), np.zeros((2, 4))])
    with pytest.raises(ValueError, match="at least one"):
        pad_sequences([])


def test_masked_mean_ignores_padding_in_value_and_gradient():
    lengths = torch.tensor([3, 1, 2])
    mask = length_mask(lengths)
    assert mask.shape == (3, 3) and mask.sum() == 6
    values = torch.randn(3, 3, requires_grad=True)
    loss = masked_mean(values, mask)
    expected = torch.cat([values[b, :n] for b, n in enumerate(lengths.tolist())]).mean()
    torch.testing.assert_close(loss, expected)
    loss.backward()
    assert (values.grad[~mask] == 0).all() and (values.grad[mask] != 0).all()
    assert length_mask(lengths, T=5).shape == (3, 5)
    with pytest.raises(ValueError, match="same shape"):
        masked_mean(values, mask[:, :2])


def test_last_valid_matches_the_final_state_of_a_packed_lstm():
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(2, 4, batch_first=True)
    x = torch.randn(3, 5, 2)
    lengths = torch.tensor([5, 2, 3])
    packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    out, (h_n, _) = lstm(packed)
    out, _ = torch.nn.utils.rnn.pad_packed_sequence(out, batch_first=True)
    torch.testing.assert_close(last_valid(out, lengths), h_n[0])
    with pytest.raises(ValueError, match=r"outputs must be \(B, T, H\)"):
        last_valid(out[0], lengths)


def test_length_buckets_cover_every_example_and_cut_padding():
    lengths = np.random.default_rng(0).integers(1, 40, size=500)
    buckets = length_buckets(lengths, batch_size=32, rng=0)
    assert sorted(np.concatenate(buckets).tolist()) == list(range(500))
    assert max(len(b) for b in buckets) == 32

    def padding(batches):
        return sum(len(b) * lengths[b].max() - lengths[b].sum() for b in batches)

    shuffled = np.random.default_rng(0).permutation(500)
    random_batches = [shuffled[i:i + 32] for i in range(0, 500, 32)]
    assert padding(buckets) < 0.2 * padding(random_batches)
    again = length_buckets(lengths, batch_size=32, rng=0)
    assert all(np.array_equal(a, b) for a, b in zip(buckets, again))

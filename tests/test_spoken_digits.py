"""rnnlib.spoken_digits: the read-aloud task, vocabularies and padded batches."""

import numpy as np
import pytest
import torch

from rnnlib.spoken_digits import (BOS, EOS, PAD, WORDS, Vocab, accuracy_by_length, edit_distance,
                                  make_batch,
                                  read_aloud, sample_pairs, source_vocab, target_vocab)


def parse(source):
    """Invert read_aloud independently: words back to digits."""
    value = {w: str(i) for i, w in enumerate(WORDS)} | {"oh": "0"}
    words, out, i = source.split(" "), [], 0
    while i < len(words):
        repeat = {"double": 2, "triple": 3}.get(words[i], 1)
        if repeat > 1:
            i += 1
        out.append(value[words[i]] * repeat)
        i += 1
    return "".join(out)


def test_read_aloud_examples():
    assert read_aloud("407") == "four zero seven"
    assert read_aloud("407", oh={1}) == "four oh seven"
    assert read_aloud("55", group={0}) == "double five"
    assert read_aloud("5555", group={0}) == "triple five five"
    assert read_aloud("5555", group={3}) == "five five five five"  # position 3 starts no run
    assert read_aloud("0001", oh={0, 1, 2}, group={0}) == "triple oh one"


def test_sources_read_back_to_targets():
    pairs = sample_pairs(2000, np.random.default_rng(0), 1, 12)
    assert all(parse(source) == target for source, target in pairs)
    words = {w for source, _ in pairs for w in source.split(" ")}
    assert {"oh", "zero", "double", "triple"} <= words


def test_lengths_cover_the_range_uniformly():
    pairs = sample_pairs(3000, np.random.default_rng(1), 3, 7)
    counts = np.bincount([len(t) for _, t in pairs], minlength=8)
    assert counts[:3].sum() == 0 and counts[3:].min() > 500


def test_same_generator_state_same_pairs():
    a = sample_pairs(50, np.random.default_rng(7))
    b = sample_pairs(50, np.random.default_rng(7))
    c = sample_pairs(50, np.random.default_rng(8))
    assert a == b and a != c


def test_vocab_round_trip_and_specials():
    sv, tv = source_vocab(), target_vocab()
    assert sv.tokens[:3] == ["<pad>", "<bos>", "<eos>"] and (PAD, BOS, EOS) == (0, 1, 2)
    assert len(tv) == 13
    for source, target in sample_pairs(100, np.random.default_rng(2)):
        assert sv.decode(sv.encode(source)) == source
        assert tv.decode(tv.encode(target, eos=True) + [PAD]) == target
    with pytest.raises(ValueError, match="not in the vocabulary"):
        tv.encode("12a")


def test_make_batch_pads_and_ends_with_eos():
    pairs = [("one two three", "123"), ("nine", "9"), ("double four", "44")]
    src, lengths, tgt = make_batch(pairs, source_vocab(), target_vocab())
    assert src.shape == (3, 13) and tgt.shape == (3, 4)
    assert lengths.tolist() == [13, 4, 11]
    assert src.dtype == tgt.dtype == lengths.dtype == torch.long
    for b, (source, target) in enumerate(pairs):
        assert (src[b, lengths[b]:] == PAD).all()
        assert tgt[b, len(target)] == EOS and (tgt[b, len(target) + 1:] == PAD).all()
        assert target_vocab().decode(tgt[b]) == target


def test_bad_input_raises():
    with pytest.raises(ValueError, match="min_digits"):
        sample_pairs(3, np.random.default_rng(0), 0, 4)
    with pytest.raises(ValueError, match="min_digits"):
        sample_pairs(3, np.random.default_rng(0), 5, 4)
    with pytest.raises(ValueError, match="digits"):
        read_aloud("12a")
    with pytest.raises(ValueError, match="pairs"):
        make_batch([], source_vocab(), target_vocab())
    assert isinstance(Vocab("ab"), Vocab)


class ParsingModel:
    """Decodes by parsing the source, except that it gets every 3-digit number wrong."""

    def greedy_decode(self, src, src_lengths, max_len):
        outputs = []
        for row, length in zip(src.tolist(), src_lengths.tolist()):
            digits = parse(source_vocab().decode(row[:length]))
            if len(digits) == 3:
                digits = digits[::-1] + "1"
            outputs.append(target_vocab().encode(digits, eos=True)[:max_len])
        return outputs, [None] * len(outputs)


def test_accuracy_by_length_counts_exact_matches_per_length():
    pairs = sample_pairs(300, np.random.default_rng(5), 1, 6)
    by_length, overall = accuracy_by_length(ParsingModel(), pairs, source_vocab(),
                                            target_vocab(), max_digits=8)
    three = np.mean([len(t) == 3 for _, t in pairs])
    assert by_length.tolist()[:6] == [1.0, 1.0, 0.0, 1.0, 1.0, 1.0]
    assert np.isnan(by_length[6:]).all()  # no 7- or 8-digit numbers were drawn
    assert overall == pytest.approx(1 - three)


def test_edit_distance_against_brute_force():
    # Levenshtein distance equals the shortest path found by breadth-first search over
    # single insertions, deletions and substitutions, on short strings over two symbols.
    def neighbours(s):
        for i in range(len(s) + 1):
            for c in "01":
                yield s[:i] + c + s[i:]
        for i in range(len(s)):
            yield s[:i] + s[i + 1:]
            for c in "01":
                yield s[:i] + c + s[i + 1:]

    def bfs(a, b):
        frontier, seen, d = {a}, {a}, 0
        while b not in frontier:
            frontier = {n for s in frontier for n in neighbours(s) if len(n) <= 5} - seen
            seen |= frontier
            d += 1
        return d

    rng = np.random.default_rng(0)
    for _ in range(40):
        a, b = ("".join(rng.choice(list("01"), size=rng.integers(0, 5))) for _ in range(2))
        assert edit_distance(a, b) == bfs(a, b) == edit_distance(b, a), (a, b)
    assert edit_distance([5, 5, 0], [5, 0]) == 1

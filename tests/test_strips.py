"""rnnlib.strips: deterministic digit strips for the CTC chapter."""

import numpy as np
import pytest

from rnnlib.strips import FONTS, digit_strips, labels_to_string, make_strip, render_glyphs


def test_glyph_bank_shapes_and_ink():
    glyphs = render_glyphs(height=20)
    assert len(glyphs) == 10
    for variants in glyphs:
        assert len(variants) == len(FONTS)
        for g in variants:
            assert g.shape[0] == 20 and 4 <= g.shape[1] <= 20
            assert g.min() >= 0 and g.max() > 0.9  # some fully inked pixel
            assert g[:, 0].max() > 0.05 and g[:, -1].max() > 0.05  # cropped to the ink


def test_glyphs_differ_between_digits():
    glyphs = render_glyphs()
    one, eight = glyphs[1][0], glyphs[8][0]
    assert one.sum() < eight.sum()  # "8" has more ink than "1"


def test_same_seed_same_strips():
    a, la = digit_strips(5, np.random.default_rng(3))
    b, lb = digit_strips(5, np.random.default_rng(3))
    c, _ = digit_strips(5, np.random.default_rng(4))
    assert np.array_equal(a, b) and all(np.array_equal(x, y) for x, y in zip(la, lb))
    assert not np.array_equal(a, c)


def test_strip_shapes_lengths_and_range():
    images, labels = digit_strips(20, np.random.default_rng(0), min_len=2, max_len=4,
                                  height=20, width=80)
    assert images.shape == (20, 20, 80) and images.dtype == np.float32
    assert 0.0 <= images.min() and images.max() <= 1.0
    assert {len(l) for l in labels} <= {2, 3, 4}
    assert all(l.dtype == np.int64 and 0 <= l.min() and l.max() <= 9 for l in labels)


def test_ink_grows_with_digits_and_no_noise_means_clean_paper():
    rng = np.random.default_rng(0)
    empty = make_strip([], rng, noise=0.0)
    assert empty.max() == 0.0
    three = make_strip([8, 8, 8], rng, noise=0.0)
    one = make_strip([8], rng, noise=0.0)
    assert three.sum() > 2 * one.sum()


def test_bad_input_raises():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="digits"):
        make_strip([1, 10], rng)
    with pytest.raises(ValueError, match="width"):
        make_strip([8] * 12, rng, width=40)
    with pytest.raises(ValueError, match="min_len"):
        digit_strips(1, rng, min_len=5, max_len=3)


def test_labels_to_string():
    assert labels_to_string(np.array([3, 1, 1])) == "311"


def test_markov_digits_follow_the_chain():
    from rnnlib.strips import markov_digits
    transitions = np.full((10, 10), 0.02)
    transitions[np.arange(10), (np.arange(10) + 3) % 10] = 0.82  # mostly d -> d + 3
    strings = markov_digits(400, np.random.default_rng(0), transitions, min_len=3, max_len=6)
    assert {len(s) for s in strings} == {3, 4, 5, 6}
    pairs = np.concatenate([np.stack([s[:-1], s[1:]], axis=1) for s in strings])
    share = np.mean(pairs[:, 1] == (pairs[:, 0] + 3) % 10)
    assert 0.78 < share < 0.86  # 0.82 expected, about 1500 pairs
    images, labels = digit_strips(3, np.random.default_rng(1), transitions=np.eye(10))
    assert all(len(set(l.tolist())) == 1 for l in labels)  # identity chain: one repeated digit
    with pytest.raises(ValueError, match="transitions"):
        markov_digits(1, np.random.default_rng(0), np.ones((10, 10)))

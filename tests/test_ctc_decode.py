"""rnnlib.ctc_decode and rnnlib.charlm: decoders against brute force over all labellings."""

import itertools

import numpy as np
import pytest

from rnnlib.charlm import CharNGram
from rnnlib.ctc import ctc_loss
from rnnlib.ctc_decode import beam_search, collapse, greedy_decode, prefix_beam_search


def log_softmax(z):
    return z - np.logaddexp.reduce(z, axis=-1, keepdims=True)


def labelling_log_probs(lp, blank=0):
    """log p_CTC(l) of every labelling l that some path of lp can produce (brute force)."""
    T, C = lp.shape
    labellings = {tuple(collapse(p, blank)) for p in itertools.product(range(C), repeat=T)}
    return {l: -ctc_loss(lp[:, None], [list(l)], [T], [len(l)], blank=blank, reduction="sum")
            for l in labellings}


class TableLM:
    """A random bigram-like model: log p(next | last label), blank = end of the labelling."""

    def __init__(self, C, rng, blank=0):
        self.table = log_softmax(rng.normal(size=(C + 1, C)) * 1.5)  # row C: at the start
        self.blank, self.C = blank, C

    def __call__(self, prefix):
        return self.table[prefix[-1] if prefix else self.C]

    def log_prob(self, labelling):
        labelling = list(labelling)
        return sum(self(labelling[:u])[k] for u, k in enumerate(labelling + [self.blank]))


# ----------------------------------------------------------------------------- no language model

def test_collapse_and_greedy():
    assert collapse([0, 1, 1, 0, 1, 2, 2, 0, 0], blank=0) == [1, 1, 2]
    assert collapse([3, 3, 3], blank=3) == []
    assert collapse([2, 0, 0, 2, 1], blank=1) == [2, 0, 2]
    path = [2, 2, 0, 2, 1, 1, 0, 0]
    lp = np.log(np.eye(3)[path] * 0.9 + 0.05)
    assert greedy_decode(lp, blank=0) == [2, 2, 1]
    assert greedy_decode(lp, blank=2) == [0, 1, 0]


def test_path_beam_search_is_greedy_decoding_at_every_width():
    # a path's log-probability is a sum of per-frame terms, so the greedy path is the
    # best path of every length: it is never pruned, and it wins at the end
    rng = np.random.default_rng(0)
    for _ in range(300):
        T, C = rng.integers(1, 12), rng.integers(2, 6)
        lp = log_softmax(rng.normal(size=(T, C)) * rng.uniform(0.5, 3))
        blank = int(rng.integers(C))
        greedy = greedy_decode(lp, blank)
        for width in (1, 2, 3, 8):
            assert beam_search(lp, width, blank) == greedy


def test_prefix_beam_search_is_exact_when_wide():
    rng = np.random.default_rng(1)
    found_better_than_greedy = False
    for _ in range(20):
        lp = log_softmax(rng.normal(size=(6, 3)) * 1.5)
        p = labelling_log_probs(lp)
        best = max(p, key=p.get)
        assert prefix_beam_search(lp, beam_width=len(p)) == list(best)
        found_better_than_greedy |= p[tuple(greedy_decode(lp))] < p[best]
    assert found_better_than_greedy


def test_prefix_beam_search_beats_greedy_on_split_mass():
    # best path "- -" (0.36); but labelling "1" collects 1 -, - 1, 1 1 = 0.64
    lp = np.log([[0.6, 0.4], [0.6, 0.4]])
    assert greedy_decode(lp) == [] and beam_search(lp, 4) == []
    assert prefix_beam_search(lp, beam_width=2) == [1]


# ----------------------------------------------------------------------------- with a language model

@pytest.mark.parametrize("alpha, beta", [(0.5, 0.0), (1.0, 0.0), (2.0, 0.0), (1.0, 1.5), (0.8, -1.0),
                                         (0.0, 2.0)])
def test_lm_fusion_maximises_ctc_times_lm_times_length_bonus(alpha, beta):
    """Brute force: argmax_l log p_CTC(l) + alpha log p_LM(l) + beta |l|."""
    rng = np.random.default_rng(int(10 * alpha + 100 * beta) % 1000)
    changed = 0
    for _ in range(12):
        T, C = 5, 3
        lp = log_softmax(rng.normal(size=(T, C)) * 1.5)
        lm = TableLM(C, rng)
        p = labelling_log_probs(lp)
        score = {l: p[l] + alpha * lm.log_prob(l) + beta * len(l) for l in p}
        best = max(score, key=score.get)
        assert prefix_beam_search(lp, len(p), lm=lm, alpha=alpha, beta=beta) == list(best)
        changed += list(best) != prefix_beam_search(lp, len(p))
    assert changed > 0  # the language model does change some answers


def test_the_length_bonus_keeps_prefixes_that_begin_with_a_blank():
    # "- b" is the best path and "b" the best labelling; a bonus that gave the empty
    # prefix score 0 (|l|^beta) would keep "a" after frame 1 and end with "a b"
    lp = np.log([[0.9, 0.06, 0.04], [0.05, 0.05, 0.9]])
    assert prefix_beam_search(lp, 1, beta=1.0) == [2]


def test_lm_with_zero_weight_changes_nothing():
    rng = np.random.default_rng(3)
    for _ in range(10):
        lp = log_softmax(rng.normal(size=(9, 4)))
        lm = TableLM(4, rng)
        assert prefix_beam_search(lp, 6, lm=lm, alpha=0.0) == prefix_beam_search(lp, 6)


def test_lm_corrects_an_ambiguous_frame():
    # the middle frame is a near tie between labels 1 and 2; the model knows "3 1 3" only
    lp = np.log([[0.05, 0.05, 0.05, 0.85], [0.05, 0.44, 0.46, 0.05], [0.05, 0.05, 0.05, 0.85]])
    lm = CharNGram(order=2, num_classes=4).fit([[3, 1, 3]] * 20)
    assert prefix_beam_search(lp, 8) == [3, 2, 3]
    assert prefix_beam_search(lp, 8, lm=lm, alpha=0.5) == [3, 1, 3]


def test_decoder_bad_input_raises():
    with pytest.raises(ValueError, match="log_probs"):
        greedy_decode(np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match="beam_width"):
        prefix_beam_search(np.zeros((2, 3)), beam_width=0)
    with pytest.raises(ValueError, match="blank"):
        beam_search(np.zeros((2, 3)), 2, blank=5)
    with pytest.raises(ValueError, match="lm"):
        prefix_beam_search(np.zeros((2, 3)), 2, lm=np.zeros(3))
    with pytest.raises(ValueError, match="lm"):
        prefix_beam_search(np.zeros((2, 3)), 2, lm=lambda prefix: np.zeros(4))
    with pytest.raises(ValueError, match="alpha"):
        prefix_beam_search(np.zeros((2, 3)), 2, alpha=np.nan)


# ----------------------------------------------------------------------------- n-gram model

def test_ngram_counts_and_normalises():
    corpus = [[1, 2], [1, 2], [1, 1, 2]]
    lm = CharNGram(order=2, num_classes=3, smoothing=0.1).fit(corpus)
    # after a 1: two 2s ... three 2s and one 1 in all, Lidstone over C = 3 outcomes
    np.testing.assert_allclose(np.exp(lm([1])), np.array([0.1, 1.1, 3.1]) / 4.3)
    # at the start (context padded with the blank) every labelling began with a 1
    np.testing.assert_allclose(np.exp(lm([])), np.array([0.1, 3.1, 0.1]) / 3.3)
    # after a 2 the labelling always ended: the blank's entry is the end
    assert np.argmax(lm([2])) == 0
    for context in ([], [1], [2], [2, 1], [5 % 3]):
        assert np.isclose(np.exp(lm(context)).sum(), 1.0)
    assert np.isclose(lm.log_prob([1, 2]), lm([])[1] + lm([1])[2] + lm([1, 2])[0])


def test_ngram_probabilities_sum_to_one_over_all_labellings_up_to_a_length():
    # p_LM is a distribution over labellings: the labellings of length <= 6 hold almost all
    lm = CharNGram(order=3, num_classes=3).fit([[1, 2, 1], [2, 2], [1]])
    total = sum(np.exp(lm.log_prob(l)) for n in range(8)
                for l in itertools.product([1, 2], repeat=n))
    assert 0.99 < total <= 1.0 + 1e-12


def test_ngram_bad_input_raises():
    with pytest.raises(ValueError, match="order"):
        CharNGram(order=0, num_classes=3)
    with pytest.raises(ValueError, match="smoothing"):
        CharNGram(order=2, num_classes=3, smoothing=0)
    with pytest.raises(ValueError, match="labellings"):
        CharNGram(order=2, num_classes=3).fit([[1, 0, 2]])  # the blank inside a labelling

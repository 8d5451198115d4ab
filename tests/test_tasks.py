"""rnnlib.tasks: shapes, determinism, the rules of each task and their baselines."""

import numpy as np
import pytest

from rnnlib.tasks import (adding_baseline_mse, adding_problem, copy_baseline_cross_entropy,
                          copy_baseline_error, copy_task, neighbour_xor,
                          neighbour_xor_unidirectional_bound, one_hot)

GENERATORS = {
    "adding": lambda rng: adding_problem(rng, 8, 12),
    "copy": lambda rng: copy_task(rng, 8, 6, S=3, K=5),
    "xor": lambda rng: neighbour_xor(rng, 8, 12, offset=2),
}


@pytest.mark.parametrize("name", GENERATORS)
def test_deterministic_given_generator(name):
    make = GENERATORS[name]
    a = make(np.random.default_rng(3))
    b = make(np.random.default_rng(3))
    c = make(np.random.default_rng(4))
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    assert any(not np.array_equal(u, w) for u, w in zip(a, c))
    # an int seed means the same as a Generator made from it
    for u, v in zip(a, make(3)):
        np.testing.assert_array_equal(u, v)


@pytest.mark.parametrize("name", GENERATORS)
def test_generator_advances(name):
    # two calls on one Generator give two different batches (it is consumed, not reset)
    rng = np.random.default_rng(0)
    first, second = GENERATORS[name](rng), GENERATORS[name](rng)
    assert not np.array_equal(first[0], second[0])


def test_adding_problem_rules():
    T, B = 15, 500
    x, y = adding_problem(np.random.default_rng(0), B, T)
    assert x.shape == (T, B, 2) and y.shape == (B,)
    assert x.dtype == np.float64
    values, markers = x[:, :, 0], x[:, :, 1]
    assert values.min() >= 0 and values.max() < 1
    assert set(np.unique(markers)) == {0.0, 1.0}
    np.testing.assert_array_equal(markers.sum(axis=0), 2)
    # one marker in each half (first half = steps 0 .. T//2 - 1)
    np.testing.assert_array_equal(markers[:T // 2].sum(axis=0), 1)
    np.testing.assert_array_equal(markers[T // 2:].sum(axis=0), 1)
    # the target is the sum of the marked values, recomputed independently
    np.testing.assert_allclose(y, (values * markers).sum(axis=0))
    # the markers cover every step of each half over many sequences
    assert (markers.sum(axis=1) > 0).all()
    assert adding_problem(0, 2, 4, dtype=np.float32)[0].dtype == np.float32


def test_adding_baseline_is_the_best_constant():
    _, y = adding_problem(np.random.default_rng(1), 200_000, 10)
    assert abs(y.mean() - 1.0) < 0.01
    mse_of_one = np.mean((y - 1.0) ** 2)
    assert abs(mse_of_one - adding_baseline_mse()) < 0.003
    # any other constant does worse
    assert np.mean((y - 0.9) ** 2) > mse_of_one and np.mean((y - 1.1) ** 2) > mse_of_one


def test_copy_task_rules():
    T, S, K, B = 7, 4, 3, 300
    x, y = copy_task(np.random.default_rng(2), B, T, S=S, K=K)
    L = T + 2 * S
    assert x.shape == y.shape == (L, B)
    assert x.dtype == y.dtype == np.int64
    # symbols first, then blanks, the go token at S + T - 1, blanks after it
    assert ((x[:S] >= 1) & (x[:S] <= K)).all()
    np.testing.assert_array_equal(x[S:S + T - 1], 0)
    np.testing.assert_array_equal(x[S + T - 1], K + 1)
    np.testing.assert_array_equal(x[S + T:], 0)
    # the target repeats the symbols at the end and is blank elsewhere
    np.testing.assert_array_equal(y[L - S:], x[:S])
    np.testing.assert_array_equal(y[:L - S], 0)
    # all K symbols occur
    assert set(np.unique(x[:S])) == set(range(1, K + 1))
    assert one_hot(x, K + 2).shape == (L, B, K + 2)


def test_copy_baselines():
    assert copy_baseline_error(4) == 0.75
    assert copy_baseline_error(10) == pytest.approx(0.9)
    # the memoryless strategy's mean cross-entropy, computed step by step
    T, S, K = 10, 5, 4
    _, y = copy_task(np.random.default_rng(0), 3, T, S=S, K=K)
    probs = np.zeros((T + 2 * S, K + 1))
    probs[:, 0] = 1.0
    probs[-S:] = np.r_[0.0, np.full(K, 1.0 / K)]
    ce = -np.log(probs[np.arange(T + 2 * S)[:, None], y]).mean()
    assert ce == pytest.approx(copy_baseline_cross_entropy(T, S, K))


@pytest.mark.parametrize("offset", [1, 3])
def test_neighbour_xor_rules(offset):
    T, B = 11, 200
    x, y = neighbour_xor(np.random.default_rng(5), B, T, offset=offset)
    assert x.shape == (T, B, 1) and y.shape == (T, B)
    bits = x[:, :, 0].astype(int)
    assert set(np.unique(bits)) == {0, 1}
    for t in range(T):
        before = bits[t - offset] if t - offset >= 0 else 0
        after = bits[t + offset] if t + offset < T else 0
        np.testing.assert_array_equal(y[t], before ^ after)


def test_neighbour_xor_future_matters():
    # flipping a bit changes the labels `offset` steps before it (it is their future)
    x, y = neighbour_xor(np.random.default_rng(6), 1, 9, offset=2)
    bits = x[:, 0, 0].astype(int)
    # rebuild labels for a flipped bit 6 by the rule and compare with the original labels
    flipped = bits.copy()
    flipped[6] ^= 1
    pad = np.r_[0, 0, flipped, 0, 0]
    y_flipped = pad[:9] ^ pad[4:]
    assert np.flatnonzero(y_flipped != y[:, 0]).tolist() == [4, 8]


def test_unidirectional_bound_matches_the_best_causal_rule():
    # the best causal guess: on the last `offset` steps the label is x[t-offset] (the future
    # is padding); elsewhere the future bit is an independent coin, so any guess scores 1/2
    T, offset = 10, 2
    x, y = neighbour_xor(np.random.default_rng(7), 100_000, T, offset=offset)
    bits = x[:, :, 0].astype(int)
    guess = np.zeros_like(y)
    guess[T - offset:] = bits[T - 2 * offset:T - offset]
    acc = (guess == y).mean()
    assert abs(acc - neighbour_xor_unidirectional_bound(T, offset)) < 0.005
    assert neighbour_xor_unidirectional_bound(T, offset) == pytest.approx(0.6)


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="T must be >= 2"):
        adding_problem(0, 4, 1)
    with pytest.raises(TypeError, match="batch_size must be an int"):
        adding_problem(0, 4.0, 10)
    with pytest.raises(ValueError, match="S must be >= 1"):
        copy_task(0, 4, 5, S=0)
    with pytest.raises(ValueError, match="T must be greater than offset = 3, got 3"):
        neighbour_xor(0, 4, 3, offset=3)
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator"):
        adding_problem("seed", 4, 10)
    with pytest.raises(ValueError, match=r"tokens must lie in \[0, 3\)"):
        one_hot(np.array([0, 3]), 3)
    with pytest.raises(TypeError, match="tokens must be integers"):
        one_hot(np.array([0.0]), 3)

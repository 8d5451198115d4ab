"""Generated sequence tasks for measuring memory and direction.

Three synthetic tasks, each with a known trivial baseline, so a trained model's error can
be read against what a model *without* the needed ability would score:

- :func:`adding_problem` -- many-to-one regression: add the two numbers that carry a marker
  (Hochreiter & Schmidhuber 1997, in the form of Le, Jaitly & Hinton 2015). It needs memory
  of about ``T`` steps. Baseline: always answer 1, mean squared error 1/6.
- :func:`copy_task` -- many-to-many classification: read ``S`` symbols, wait ``T`` steps,
  write them back (the form of Arjovsky, Shah & Bengio 2016). It needs ``S`` symbols of
  memory for ``T + S`` steps. Baseline: guess the symbols, error rate ``1 - 1/K``.
- :func:`neighbour_xor` -- aligned tagging whose label at step ``t`` depends on the input
  ``offset`` steps *ahead* as well as ``offset`` steps behind. A model that reads in one
  direction only cannot beat a coin flip on most steps; a bidirectional one can.

Every generator takes a NumPy ``Generator`` (or a seed) and is deterministic given it.
Arrays are time-major like ``rnnlib``'s and PyTorch's layers: axis letters T time,
B batch, D input features, K symbols.

>>> x, y = adding_problem(np.random.default_rng(0), batch_size=4, T=10)
>>> x.shape, y.shape
((10, 4, 2), (4,))
>>> x[:, :, 1].sum(axis=0).tolist()          # exactly two markers per sequence
[2.0, 2.0, 2.0, 2.0]
"""

from __future__ import annotations

import numpy as np

from rnnlib._checks import check_size

__all__ = ["adding_problem", "adding_baseline_mse", "copy_task", "copy_baseline_error",
           "copy_baseline_cross_entropy", "neighbour_xor", "neighbour_xor_unidirectional_bound",
           "one_hot"]


def _generator(rng):
    """A ``numpy.random.Generator`` from a Generator (returned as is), a seed or ``None``."""
    if rng is not None and not isinstance(rng, (np.random.Generator, int, np.integer)):
        raise TypeError(f"rng must be a numpy.random.Generator, an int seed or None, "
                        f"got {type(rng).__name__}")
    return np.random.default_rng(rng)


def one_hot(tokens, num_classes, dtype=np.float64):
    """One-hot encode integer tokens.

    Parameters
    ----------
    tokens : array of int, any shape ``(...)``, values in ``[0, num_classes)``
    num_classes : int

    Returns
    -------
    array of shape ``(..., num_classes)``

    >>> one_hot(np.array([[0, 2]]), 3).tolist()
    [[[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]]
    """
    check_size("num_classes", num_classes)
    tokens = np.asarray(tokens)
    if tokens.dtype.kind not in "iu":
        raise TypeError(f"tokens must be integers, got dtype {tokens.dtype}")
    if tokens.size and (tokens.min() < 0 or tokens.max() >= num_classes):
        raise ValueError(f"tokens must lie in [0, {num_classes}), "
                         f"got values in [{tokens.min()}, {tokens.max()}]")
    return np.eye(num_classes, dtype=dtype)[tokens]


def adding_problem(rng, batch_size, T, dtype=np.float64):
    """The adding problem: output the sum of the two marked numbers of a sequence.

    Each step carries two features: a number drawn from ``U(0, 1)`` and a marker, 0 or 1.
    Exactly two steps are marked, one uniformly in the first half (steps ``0 .. T//2 - 1``)
    and one uniformly in the second half; the target is the sum of the two marked numbers.
    The first marker may lie up to ``T - 1`` steps before the end, so a model must carry a
    number that far.

    Parameters
    ----------
    rng : numpy.random.Generator or int
    batch_size : int
        ``B``, the number of sequences.
    T : int
        Sequence length, at least 2.
    dtype : floating dtype of both arrays.

    Returns
    -------
    x : array ``(T, B, 2)``
        ``x[:, :, 0]`` the numbers, ``x[:, :, 1]`` the markers.
    y : array ``(B,)``
        The targets, in ``[0, 2]``.
    """
    rng = _generator(rng)
    check_size("batch_size", batch_size)
    check_size("T", T, minimum=2)
    values = rng.uniform(0.0, 1.0, size=(T, batch_size))
    half = T // 2
    first = rng.integers(0, half, size=batch_size)
    second = rng.integers(half, T, size=batch_size)
    markers = np.zeros((T, batch_size))
    columns = np.arange(batch_size)
    markers[first, columns] = 1.0
    markers[second, columns] = 1.0
    x = np.stack([values, markers], axis=-1).astype(dtype)        # (T, B, 2)
    y = (values[first, columns] + values[second, columns]).astype(dtype)   # (B,)
    return x, y


def adding_baseline_mse():
    """Mean squared error of the best constant answer (1) to the adding problem: 1/6.

    The target is the sum of two independent ``U(0, 1)`` numbers, whose mean is 1 and
    whose variance is ``2 * 1/12``.

    >>> round(adding_baseline_mse(), 4)
    0.1667
    """
    return 1.0 / 6.0


def copy_task(rng, batch_size, T, S=5, K=4):
    """The copy task: read ``S`` symbols, wait, then write them back in order.

    Tokens: 0 is *blank*, 1..K are the symbols, ``K + 1`` is the *go* delimiter. An input
    sequence has length ``L = T + 2 S``: ``S`` random symbols, ``T - 1`` blanks, one go
    token, then ``S`` more blanks during which the model must output the ``S`` symbols.
    The target is blank at every other step. ``T`` is the delay between the last symbol
    shown and the first one asked for (plus one).

    Parameters
    ----------
    rng : numpy.random.Generator or int
    batch_size : int
        ``B``.
    T : int
        Delay, at least 1.
    S : int
        Number of symbols to copy.
    K : int
        Alphabet size (symbols are 1..K).

    Returns
    -------
    x : int64 array ``(L, B)``
        Input tokens in ``[0, K + 1]``; one-hot them with ``one_hot(x, K + 2)``.
    y : int64 array ``(L, B)``
        Target tokens in ``[0, K]``; the symbols sit at steps ``L - S .. L - 1``.

    >>> x, y = copy_task(np.random.default_rng(0), batch_size=1, T=3, S=2, K=4)
    >>> x[:, 0].tolist(), y[:, 0].tolist()
    ([4, 3, 0, 0, 5, 0, 0], [0, 0, 0, 0, 0, 4, 3])
    """
    rng = _generator(rng)
    check_size("batch_size", batch_size)
    check_size("T", T)
    check_size("S", S)
    check_size("K", K)
    L = T + 2 * S
    symbols = rng.integers(1, K + 1, size=(S, batch_size))
    x = np.zeros((L, batch_size), dtype=np.int64)
    y = np.zeros((L, batch_size), dtype=np.int64)
    x[:S] = symbols
    x[S + T - 1] = K + 1                                 # go: start writing after this step
    y[L - S:] = symbols
    return x, y


def copy_baseline_error(K=4):
    """Error rate on the ``S`` recalled symbols of a model with no memory: ``1 - 1/K``.

    >>> copy_baseline_error(4)
    0.75
    """
    check_size("K", K)
    return 1.0 - 1.0 / K


def copy_baseline_cross_entropy(T, S=5, K=4):
    """Mean cross-entropy per step (nats) of the memoryless strategy on :func:`copy_task`.

    It outputs blank with certainty where the target is blank and the uniform
    distribution over the ``K`` symbols on the last ``S`` steps: ``S log K / (T + 2 S)``
    (Arjovsky, Shah & Bengio 2016).

    >>> round(copy_baseline_cross_entropy(T=10, S=5, K=4), 4)
    0.3466
    """
    check_size("T", T)
    return float(S * np.log(K) / (T + 2 * S))


def neighbour_xor(rng, batch_size, T, offset=1, dtype=np.float64):
    """Tag each step with ``x[t - offset] XOR x[t + offset]`` for a random bit string.

    Inputs are fair random bits; positions outside ``0 .. T - 1`` count as 0. The label
    at step ``t`` needs one bit from the past and one from the *future*: a model reading
    left to right has not seen ``x[t + offset]`` yet when it must answer, so on steps
    ``t < T - offset`` it can do no better than chance (see
    :func:`neighbour_xor_unidirectional_bound`).

    Parameters
    ----------
    rng : numpy.random.Generator or int
    batch_size : int
        ``B``.
    T : int
        Sequence length, greater than ``offset``.
    offset : int
        How far behind and ahead the two bits are.
    dtype : floating dtype of ``x``.

    Returns
    -------
    x : array ``(T, B, 1)``
        The bits as 0.0/1.0.
    y : int64 array ``(T, B)``
        The labels, 0 or 1.

    >>> x, y = neighbour_xor(np.random.default_rng(1), batch_size=1, T=6)
    >>> x[:, 0, 0].astype(int).tolist(), y[:, 0].tolist()
    ([0, 1, 1, 1, 0, 0], [1, 1, 0, 1, 1, 0])
    """
    rng = _generator(rng)
    check_size("batch_size", batch_size)
    check_size("offset", offset)
    if T <= offset:
        raise ValueError(f"T must be greater than offset = {offset}, got {T}")
    bits = rng.integers(0, 2, size=(T, batch_size))
    padded = np.zeros((T + 2 * offset, batch_size), dtype=np.int64)
    padded[offset:offset + T] = bits
    y = padded[:T] ^ padded[2 * offset:]                   # x[t - offset] ^ x[t + offset]
    return bits[:, :, None].astype(dtype), y


def neighbour_xor_unidirectional_bound(T, offset=1):
    """The best expected accuracy of any left-to-right model on :func:`neighbour_xor`.

    On the first ``T - offset`` steps the future bit is a fair coin independent of
    everything seen so far: accuracy 1/2 at best. On the last ``offset`` steps the future
    bit is the padding 0, so the label is known: accuracy 1.

    >>> neighbour_xor_unidirectional_bound(20, offset=1)
    0.525
    """
    check_size("offset", offset)
    if T <= offset:
        raise ValueError(f"T must be greater than offset = {offset}, got {T}")
    return ((T - offset) * 0.5 + offset) / T

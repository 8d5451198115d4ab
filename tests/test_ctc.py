"""rnnlib.ctc against PyTorch, brute-force path enumeration and finite differences."""

import itertools
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from rnnlib import ctc
from rnnlib.ctc import collapse, ctc_alpha, ctc_beta, ctc_grad, ctc_loss, ctc_loss_and_grad


def log_softmax(z):
    return z - np.logaddexp.reduce(z, axis=-1, keepdims=True)


def random_batch(seed, T=12, N=4, C=5, S=4, blank=0):
    """Logits (T, N, C), padded targets without the blank, and lengths."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(T, N, C)) * 2
    labels = np.array([c for c in range(C) if c != blank])
    targets = rng.choice(labels, size=(N, S))
    targets[0, :2] = targets[0, 0]  # a repeated label
    input_lengths = rng.integers(2 * S + 1, T + 1, size=N)
    input_lengths[0] = T
    target_lengths = rng.integers(0, S + 1, size=N)
    target_lengths[0] = S
    return z, targets, input_lengths, target_lengths


def torch_loss(z, targets, input_lengths, target_lengths, blank=0, reduction="mean",
               zero_infinity=False):
    """PyTorch's loss and the gradient of its sum w.r.t. the logits."""
    zt = torch.tensor(z, requires_grad=True)
    loss = F.ctc_loss(zt.log_softmax(-1), torch.as_tensor(targets),
                      torch.as_tensor(input_lengths), torch.as_tensor(target_lengths),
                      blank=blank, reduction=reduction, zero_infinity=zero_infinity)
    loss.sum().backward()
    return loss.detach().numpy(), zt.grad.numpy()


def brute_force_p(log_probs, target, blank):
    """p(l | x) as a sum over all C^T frame paths that collapse to l."""
    T, C = log_probs.shape
    return sum(np.exp(log_probs[np.arange(T), path].sum())
               for path in itertools.product(range(C), repeat=T)
               if collapse(path, blank) == list(target))


# ----------------------------------------------------------------------------- loss

@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
@pytest.mark.parametrize("blank", [0, 2, 4])
def test_loss_and_grad_equal_pytorch(reduction, blank):
    z, targets, input_lengths, target_lengths = random_batch(blank, blank=blank)
    expected, expected_grad = torch_loss(z, targets, input_lengths, target_lengths, blank,
                                         reduction)
    args = (log_softmax(z), targets, input_lengths, target_lengths, blank)
    np.testing.assert_allclose(ctc_loss(*args, reduction=reduction), expected, rtol=1e-10)
    if reduction == "sum":
        np.testing.assert_allclose(ctc_grad(*args), expected_grad, atol=1e-10)
        loss, grad = ctc_loss_and_grad(*args)
        np.testing.assert_allclose(loss.sum(), expected, rtol=1e-10)
        np.testing.assert_allclose(grad, expected_grad, atol=1e-10)


@pytest.mark.parametrize("padding", [np.nan, np.inf, -np.inf, 1e30])
def test_frames_past_input_lengths_are_ignored(padding):
    # whatever the padding frames hold, loss and gradient equal PyTorch's on the same batch
    z, targets, input_lengths, target_lengths = random_batch(7)
    expected, expected_grad = torch_loss(z, targets, input_lengths, target_lengths,
                                         reduction="none")
    lp = log_softmax(z)
    unused = np.arange(len(lp))[:, None] >= input_lengths  # (T, N)
    assert unused.any()
    lp[unused] = padding
    args = (lp, targets, input_lengths, target_lengths)
    np.testing.assert_allclose(ctc_loss(*args, reduction="none"), expected, rtol=1e-10)
    loss, grad = ctc_loss_and_grad(*args)
    np.testing.assert_allclose(loss, expected, rtol=1e-10)
    np.testing.assert_allclose(grad, expected_grad, atol=1e-10)
    assert (grad[unused] == 0).all()
    # a NaN inside a used frame is still an error, located in the message
    lp[input_lengths[1] - 1, 1, 0] = np.nan
    with pytest.raises(ValueError, match=rf"log_probs: .* at \(t, n, c\) = \({input_lengths[1] - 1}, 1, 0\)"):
        ctc_loss(*args)


def test_concatenated_targets_equal_padded():
    z, targets, input_lengths, target_lengths = random_batch(1)
    concatenated = np.concatenate([t[:n] for t, n in zip(targets, target_lengths)])
    lp = log_softmax(z)
    np.testing.assert_allclose(
        ctc_loss(lp, concatenated, input_lengths, target_lengths, reduction="none"),
        ctc_loss(lp, targets, input_lengths, target_lengths, reduction="none"))
    expected, _ = torch_loss(z, concatenated, input_lengths, target_lengths, reduction="none")
    np.testing.assert_allclose(
        ctc_loss(lp, concatenated, input_lengths, target_lengths, reduction="none"), expected)


def test_float32_accepted_and_kept():
    z, targets, input_lengths, target_lengths = random_batch(2)
    lp = log_softmax(z)
    loss32 = ctc_loss(lp.astype(np.float32), targets, input_lengths, target_lengths,
                      reduction="none")
    assert loss32.dtype == np.float32
    np.testing.assert_allclose(loss32, ctc_loss(lp, targets, input_lengths, target_lengths,
                                                reduction="none"), rtol=1e-5)


@pytest.mark.parametrize("zero_infinity", [False, True])
def test_infeasible_target(zero_infinity):
    # "1 1 1" needs 5 frames (1 - 1 - 1); sequence 0 has only 4, sequence 1 has 6
    z = np.random.default_rng(3).normal(size=(6, 2, 3))
    targets, input_lengths, target_lengths = [[1, 1, 1], [1, 1, 1]], [4, 6], [3, 3]
    expected, expected_grad = torch_loss(z, targets, input_lengths, target_lengths,
                                         reduction="none", zero_infinity=zero_infinity)
    args = (log_softmax(z), targets, input_lengths, target_lengths)
    loss = ctc_loss(*args, reduction="none", zero_infinity=zero_infinity)
    grad = ctc_grad(*args, zero_infinity=zero_infinity)
    assert loss[0] == (0.0 if zero_infinity else np.inf)
    both = ctc_loss_and_grad(*args, zero_infinity=zero_infinity)
    np.testing.assert_array_equal(both[0], loss)
    np.testing.assert_array_equal(both[1], grad)
    np.testing.assert_allclose(loss, expected)
    if zero_infinity:
        np.testing.assert_allclose(grad, expected_grad, atol=1e-12)
        assert (grad[:, 0] == 0).all()
    else:
        assert np.isnan(grad[:, 0]).all() and np.isfinite(grad[:, 1]).all()


@pytest.mark.parametrize("pattern", [[], [0], [0, 0], [1, 0], [0, 1, 0], [1, 1, 1]])
@pytest.mark.parametrize("blank", [0, 1])
def test_loss_equals_brute_force(pattern, blank):
    labels = [c for c in range(3) if c != blank]
    target = [labels[i] for i in pattern]
    lp = log_softmax(np.random.default_rng(4).normal(size=(5, 3)))
    p = brute_force_p(lp, target, blank)
    loss = ctc_loss(lp[:, None], np.array([target], dtype=np.int64).reshape(1, -1), [5],
                    [len(target)], blank, reduction="sum")
    if p == 0:
        assert loss == np.inf
    else:
        np.testing.assert_allclose(np.exp(-loss), p, rtol=1e-12)


def test_grad_equals_finite_differences():
    z, targets, input_lengths, target_lengths = random_batch(5, T=6, N=2, C=3, S=2)
    input_lengths[1] = 5  # the last frame of sequence 1 is unused: gradient 0

    def loss(z):
        return ctc_loss(log_softmax(z), targets, input_lengths, target_lengths, reduction="sum")

    eps = 1e-6
    numeric = np.zeros_like(z)
    for i in np.ndindex(z.shape):
        dz = np.zeros_like(z)
        dz[i] = eps
        numeric[i] = (loss(z + dz) - loss(z - dz)) / (2 * eps)
    grad = ctc_grad(log_softmax(z), targets, input_lengths, target_lengths)
    np.testing.assert_allclose(grad, numeric, atol=1e-7)
    assert (grad[5, 1] == 0).all()


def test_alpha_beta_lattice():
    lp = log_softmax(np.random.default_rng(6).normal(size=(7, 4)))
    target = [3, 3, 1]
    alpha, beta = ctc_alpha(lp, target), ctc_beta(lp, target)
    assert alpha.shape == beta.shape == (7, 7)
    p = brute_force_p(lp, target, 0)
    # p(l|x) = alpha_T(L'-1) + alpha_T(L'-2) = beta_1(0) + beta_1(1)
    np.testing.assert_allclose(np.exp(np.logaddexp(alpha[-1, -1], alpha[-1, -2])), p)
    np.testing.assert_allclose(np.exp(np.logaddexp(beta[0, 0], beta[0, 1])), p)
    # at every frame the paths through the lattice sum to p: sum_s alpha beta / y = p
    y = lp[:, [0, 3, 0, 3, 0, 1, 0]]
    np.testing.assert_allclose(np.exp(alpha + beta - y).sum(axis=1), p)


# ----------------------------------------------------------------------------- underflow
# float64 inputs run the recursion in probability space; a path more than ~e^-708 below
# its sequence's largest underflows there. These batches make that happen: the sequences
# affected are found and computed in log space, so the results stay equal to PyTorch's.

def probability_space_exact(log_probs, targets, input_lengths, target_lengths):
    """(N,) bool: sequences the probability-space forward pass certifies, without fallback."""
    args = ctc._check_inputs(log_probs, targets, input_lengths, target_lengths, 0)
    l_ext = ctc.extend_target(args[1])
    return ctc._probability_forward(*ctc._emissions(args[0], args[2], l_ext), l_ext, args[2],
                                    args[3], 0).exact


def assert_equal_pytorch(z, targets, input_lengths, target_lengths):
    for zero_infinity in (False, True):
        expected, expected_grad = torch_loss(z, targets, input_lengths, target_lengths,
                                             reduction="none", zero_infinity=zero_infinity)
        args = (log_softmax(z), targets, input_lengths, target_lengths)
        loss, grad = ctc_loss_and_grad(*args, zero_infinity=zero_infinity)
        np.testing.assert_allclose(ctc_loss(*args, reduction="none", zero_infinity=zero_infinity),
                                   expected, rtol=1e-10)
        np.testing.assert_allclose(loss, expected, rtol=1e-10)
        # (PyTorch's log_softmax passes NaN back from a frame of -inf logits: left out)
        finite = np.isfinite(expected_grad)
        np.testing.assert_allclose(grad[finite], expected_grad[finite], atol=1e-10)
        if not zero_infinity:  # an infinite loss has a NaN gradient (0 with zero_infinity)
            assert np.isnan(grad[:, np.isinf(expected)]).all()


def test_typical_batch_stays_in_probability_space():
    z, targets, input_lengths, target_lengths = random_batch(8, T=60, N=6, C=6, S=5)
    assert probability_space_exact(log_softmax(z), targets, input_lengths, target_lengths).all()


def test_lost_paths_bounded_and_negligible():
    # 400 frames, 40 labels: the stragglers (e.g. all-blank prefixes) fall ~e^-708 below the
    # rest and underflow, but the bound on their share of p certifies every sequence
    rng = np.random.default_rng(11)
    T, N, C, S = 400, 4, 20, 40
    z = rng.normal(size=(T, N, C)) * 3
    targets = rng.integers(1, C, size=(N, S))
    input_lengths, target_lengths = np.array([T, T - 20, T - 50, T]), np.array([S, S - 5, S, 3])
    args = ctc._check_inputs(log_softmax(z), targets, input_lengths, target_lengths, 0)
    l_ext = ctc.extend_target(args[1])
    forward = ctc._probability_forward(
        *ctc._emissions(args[0], args[2], l_ext), l_ext, args[2], args[3], 0)
    assert ctc._blocks(forward.lost, N).sum(axis=(0, 2))[:3].min() > 0 and forward.exact.all()
    assert ctc._probability_posteriors(*args, 0)[2].all()
    assert_equal_pytorch(z, targets, input_lengths, target_lengths)


def test_only_path_far_below_the_others():
    # T = S frames for S distinct labels: one alignment, the labels at every frame, each
    # e^-40 against the blank's ~1. By frame 18 it is e^-720 below the blank-only path, so
    # it underflows, and it is the only one that ends in time (loss ~ 40 S = 800).
    S, C = 20, 4
    z = np.zeros((S, 2, C))
    z[:, :, 1:] = -40.0
    targets = np.array([[1, 2] * (S // 2), [3, 1] * (S // 2)])
    input_lengths, target_lengths = np.array([S, S]), np.array([S, S - 2])
    assert not probability_space_exact(log_softmax(z), targets, input_lengths,
                                       target_lengths).any()
    assert_equal_pytorch(z, targets, input_lengths, target_lengths)
    loss = ctc_loss(log_softmax(z), targets, input_lengths, target_lengths, reduction="none")
    assert abs(loss[0] - 800) < 1e-9 and np.isfinite(loss).all()


def test_peaky_long_batch():
    # near one-hot frames (logits x 12) over 400 frames: variables underflow routinely;
    # the bound on what they could change decides which sequences need log space
    rng = np.random.default_rng(9)
    T, N, C, S = 400, 6, 5, 12
    z = rng.normal(size=(T, N, C)) * 12
    targets = rng.integers(1, C, size=(N, S))
    input_lengths = np.array([T, T, 2 * S, S + 3, 300, 150])
    target_lengths = np.array([S, 0, S, 3, S, 1])
    assert_equal_pytorch(z, targets, input_lengths, target_lengths)


def test_variables_subnormal_at_a_rescaling_frame():
    # empty target: the one path is all blanks, e^-92.5 per frame, so by the 8th frame (where
    # the variables are rescaled) it is e^-740, a subnormal number with a few bits left
    z = np.zeros((10, 2, 3))
    z[:, 0, 0] = -92.5 + np.log(2)  # log_softmax: -92.5
    targets, input_lengths, target_lengths = np.zeros((2, 0), int), [10, 10], [0, 0]
    assert not probability_space_exact(log_softmax(z), targets, input_lengths,
                                       target_lengths)[0]
    assert_equal_pytorch(z, targets, input_lengths, target_lengths)


def log_space_loss(log_probs, targets, input_lengths, target_lengths):
    """-log p by the log-space recursion over all frames, in float64 (the reference)."""
    args = ctc._check_inputs(log_probs, targets, input_lengths, target_lengths, 0)
    N = args[0].shape[1]
    log_y, log_skip = ctc._lattice(args[0].astype(np.float64), args[1], 0)
    return -ctc._log_p(ctc._log_alpha(log_y, log_skip, N), N, args[2], args[3])


def test_log_space_restarts_at_the_first_loss():
    # wide logits (x 100): variables underflow from the first frames, a few at first and
    # more later; the sequences that need log space restart from the first lost frame
    rng = np.random.default_rng(3)
    T, N, C, S = 120, 3, 7, 25
    z = rng.normal(size=(T, N, C)) * 100
    targets = rng.integers(1, C, size=(N, S))
    input_lengths, target_lengths = np.array([T, 100, 110]), np.array([S, 20, 15])
    lp = log_softmax(z)
    args = ctc._check_inputs(lp, targets, input_lengths, target_lengths, 0)
    l_ext = ctc.extend_target(args[1])
    forward = ctc._probability_forward(*ctc._emissions(args[0], args[2], l_ext), l_ext, args[2],
                                       args[3], 0)
    lost = ctc._blocks(forward.lost, N).sum(axis=2)  # (T, N)
    first = (lost > 0).argmax(axis=0)
    assert not forward.exact.any() and (lost.argmax(axis=0) != first).all()
    # ctc_loss's recursion (alpha and beta meeting in the middle, a chunk of frames at a
    # time): alpha's variables are those of the whole-array recursion, bit for bit
    _, exact, _, t_0, x_before = ctc._probability_log_p(
        *ctc._emissions(args[0], args[2], l_ext, paired=True), l_ext, args[2],
        args[3], 0)
    assert not exact.any()
    assert t_0 == first.min() > 0
    # restarts from x_{t_0 - 1}
    np.testing.assert_array_equal(x_before, ctc._blocks(forward.x[t_0 - 1], N))
    expected = log_space_loss(lp, targets, input_lengths, target_lengths)
    for dtype, rtol in ((np.float64, 1e-12), (np.float32, 1e-6)):
        loss = ctc_loss(lp.astype(dtype), targets, input_lengths, target_lengths,
                        reduction="none")
        np.testing.assert_allclose(loss, expected, rtol=rtol)


@pytest.mark.parametrize("T", [1, 2, 9, 10, 131])
def test_alpha_and_beta_meet_in_the_middle(T):
    # ctc_loss runs alpha over the first ceil(T / 2) frames and beta over the rest; a
    # sequence of T_n <= ceil(T / 2) frames ends in alpha. Lengths from 1 to T, empty and
    # repeated labels, peaked and flat frames: equal to the log-space recursion without
    # falling back to it
    rng = np.random.default_rng(T)
    N, C = 12, 5
    z = rng.normal(size=(T, N, C)) * rng.choice([0.1, 1, 4], size=(1, N, 1))
    input_lengths = np.clip(np.array([T, T, 1, 2, T // 2, T // 2 + 1, (T + 1) // 2,
                                      (T + 1) // 2 + 1, T - 1, T, T, 1]), 1, T)
    target_lengths = np.minimum(rng.integers(0, 6, size=N), (input_lengths + 1) // 2)
    target_lengths[-3:-1] = 0
    targets = rng.integers(1, C, size=(N, 6))
    targets[-3, :] = 2  # one label repeated
    lp = log_softmax(z)
    args = ctc._check_inputs(lp, targets, input_lengths, target_lengths, 0)
    l_ext = ctc.extend_target(args[1])
    log_p, exact, _, t_0, _ = ctc._probability_log_p(
        *ctc._emissions(args[0], args[2], l_ext, paired=True), l_ext, args[2], args[3], 0)
    assert exact.all() and t_0 == min((T + 1) // 2, input_lengths.min())
    expected = log_space_loss(lp, targets, input_lengths, target_lengths)
    np.testing.assert_allclose(-log_p, expected, rtol=1e-13)
    np.testing.assert_allclose(ctc_loss(lp, targets, input_lengths, target_lengths,
                                        reduction="none"), expected, rtol=1e-13)


@pytest.mark.parametrize("scale", [1, 30])
def test_large_vocabulary_reads_only_the_lattice_classes(scale):
    # C = 2000 classes, 3 sequences with a few labels each (one repeated, one empty
    # target): ctc_loss exponentiates only the classes on the lattices, equal to PyTorch;
    # at scale 30 variables are lost, and the bound on them, which sums only those
    # classes, sends the sequences to log space
    rng = np.random.default_rng(scale)
    T, N, C = 40, 3, 2000
    z = rng.normal(size=(T, N, C)) * scale
    targets = np.array([[5, 5, 17, 1999], [1, 2, 3, 0], [7, 0, 0, 0]])
    input_lengths, target_lengths = np.array([40, 31, 9]), np.array([4, 3, 0])
    args = ctc._check_inputs(log_softmax(z), targets, input_lengths, target_lengths, 0)
    l_ext = ctc.extend_target(args[1])
    emissions = ctc._emissions(args[0], args[2], l_ext, paired=True)
    frames, columns = emissions[0], emissions[-1]
    assert frames.shape == (T // 2, 2 * (4 + 4 + 1 + 1))  # blank and distinct labels, and 0
    np.testing.assert_array_equal(columns[0, :9], [0, 1, 0, 1, 0, 2, 0, 3, 0])
    _, exact, *_ = ctc._probability_log_p(*emissions, l_ext, args[2], args[3], 0)
    np.testing.assert_array_equal(exact, [scale == 1] * N)
    expected, _ = torch_loss(z, targets, input_lengths, target_lengths, reduction="none")
    loss = ctc_loss(log_softmax(z), targets, input_lengths, target_lengths, reduction="none")
    np.testing.assert_allclose(loss, expected, rtol=1e-10)


@pytest.mark.parametrize("scale", [3, 100])
def test_chunks_of_frames_give_the_same_numbers(scale, monkeypatch):
    # ctc_loss runs its loop a chunk of frames at a time (one chunk for these sizes by
    # default); chunks of 8 frames give the same numbers bit for bit, with lost variables
    # (scale 100) and without, and sequences ending in alpha (T_n <= T / 2)
    rng = np.random.default_rng(scale)
    T, N, C, S = 150, 5, 6, 12
    lp = log_softmax(rng.normal(size=(T, N, C)) * scale)
    targets = rng.integers(1, C, size=(N, S))
    input_lengths, target_lengths = np.array([T, 140, 75, 40, 149]), np.array([S, 7, 12, 3, 0])
    expected = ctc_loss(lp, targets, input_lengths, target_lengths, reduction="none")
    monkeypatch.setattr(ctc, "_CHUNK_ENTRIES", 1)
    monkeypatch.setattr(ctc, "_workspaces", threading.local())
    np.testing.assert_array_equal(
        ctc_loss(lp, targets, input_lengths, target_lengths, reduction="none"), expected)
    assert len(ctc._workspaces.last[0]) == 9  # (the chunk had 8 frames)
    # and with no array kept between calls (all of them larger than _KEEP_AT_MOST)
    monkeypatch.setattr(ctc, "_KEEP_AT_MOST", 0)
    monkeypatch.setattr(ctc, "_workspaces", threading.local())
    np.testing.assert_array_equal(
        ctc_loss(lp, targets, input_lengths, target_lengths, reduction="none"), expected)
    assert not any(name.startswith("frames") or name == "last" for name in vars(ctc._workspaces))


def test_quick_test_for_lost_variables_is_sound(monkeypatch):
    # _none_lost first looks at every _RESCALE_EVERY-th row only; when it answers "none
    # lost" that way, no positive variable in any row is below _TINY or 2 _TINY / floor
    seen = {True: 0, False: 0}
    none_lost = ctc._none_lost

    def checked(x, floor):
        answer = none_lost(x, floor)
        threshold = max(ctc._TINY, 2 * ctc._TINY / floor) if floor > 0 else np.inf
        every_row = not ((x > 0) & (x < threshold)).any()
        assert every_row or not answer
        seen[answer] += 1
        return answer

    monkeypatch.setattr(ctc, "_none_lost", checked)
    rng = np.random.default_rng(2)
    for scale in (1, 3, 10, 30, 100):
        T, N, C, S = 200, 4, 6, 15
        z = rng.normal(size=(T, N, C)) * scale
        ctc_loss(log_softmax(z), rng.integers(1, C, size=(N, S)), [T, 150, 90, 199],
                 [S, 10, 4, 0])
    assert seen[True] > 0 and seen[False] > 0


def test_threads_keep_their_own_arrays():
    # ctc_loss and ctc_loss_and_grad keep working arrays between calls, one set per thread:
    # batches of different sizes computed at once in four threads give the results of one
    rng = np.random.default_rng(5)
    batches = []
    for k in range(8):
        T, N, C, S = 60 + 20 * (k % 3), 2 + k % 3, 6, 4 + k % 2
        z = rng.normal(size=(T, N, C)) * 3
        batches.append((log_softmax(z), rng.integers(1, C, size=(N, S)),
                        rng.integers(T // 2, T + 1, size=N), rng.integers(1, S + 1, size=N)))
    def both(batch):
        return ctc_loss(*batch, reduction="none"), *ctc_loss_and_grad(*batch)

    expected = [both(batch) for batch in batches]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(both, batches * 25))
    for result, want in zip(results, expected * 25):
        for array, wanted in zip(result, want):
            np.testing.assert_array_equal(array, wanted)


@pytest.mark.parametrize("seed", range(4))
def test_random_batches_equal_log_space(seed):
    # lengths, classes, targets, logit scales (x 1 to x 100), dominant blanks and -inf
    # entries drawn at random: ctc_loss equals the log-space recursion in both dtypes
    rng = np.random.default_rng(seed)
    for _ in range(40):
        T, N, C = int(rng.integers(1, 300)), int(rng.integers(1, 5)), int(rng.integers(2, 10))
        S = int(rng.integers(0, min(T, 30) + 1))
        z = rng.normal(size=(T, N, C)) * rng.choice([1, 3, 10, 30, 100])
        z[:, :, 0] += rng.choice([0, 0, 5, 50])
        lp = log_softmax(z)
        if rng.random() < 0.2:
            lp[rng.random(lp.shape) < 0.05] = -np.inf
        lp += rng.choice([0, 0, 5, 300])  # not log-probabilities: scaled per frame
        targets = rng.integers(1, C, size=(N, S))
        input_lengths = rng.integers(max(1, T // 2), T + 1, size=N)
        target_lengths = rng.integers(0, S + 1, size=N)
        for dtype, rtol in ((np.float64, 1e-12), (np.float32, 1e-6)):
            x = lp.astype(dtype)
            expected = log_space_loss(x, targets, input_lengths, target_lengths)
            loss = ctc_loss(x, targets, input_lengths, target_lengths, reduction="none")
            np.testing.assert_array_equal(np.isinf(loss), np.isinf(expected))
            finite = np.isfinite(expected)
            np.testing.assert_allclose(loss[finite], expected[finite], rtol=rtol)


def test_emission_underflow_and_minus_infinity():
    # log-probabilities 900 below the frame's largest (exp underflows in float64) and -inf
    z, targets, input_lengths, target_lengths = random_batch(10, T=12, N=4, C=5, S=3)
    lp = log_softmax(z)
    lp[3, 0, targets[0, 0]] = lp[3, 0].max() - 900.0
    lp[0, 2, targets[2, 0]] = lp[0, 2].max() - 900.0  # at the first frame: log space from 0
    lp[2, 1, :] = -np.inf  # sequence 1: an impossible frame, so an infinite loss
    lp[2, 1, 0] = 0.0      # ... unless it can emit a blank there
    exact = probability_space_exact(lp, targets, input_lengths, target_lengths)
    np.testing.assert_array_equal(exact, [False, True, False, True])
    assert_equal_pytorch(lp, targets, input_lengths, target_lengths)  # log_softmax(lp) = lp
    loss32 = ctc_loss(lp.astype(np.float32), targets, input_lengths, target_lengths,
                      reduction="none")
    np.testing.assert_allclose(loss32, log_space_loss(lp, targets, input_lengths,
                                                      target_lengths), rtol=1e-6)


# Decoder tests (greedy, path beam, prefix beam, language-model fusion): tests/test_ctc_decode.py


# ----------------------------------------------------------------------------- errors

@pytest.mark.parametrize("change, argument", [
    (dict(log_probs=np.zeros((5, 3))), "log_probs"),
    (dict(log_probs=np.full((5, 2, 3), np.nan)), "log_probs"),
    (dict(log_probs=np.zeros((0, 2, 3)), input_lengths=[0, 0]), "log_probs"),  # T = 0
    (dict(log_probs=np.zeros((5, 2, 0))), "log_probs"),                         # C = 0
    (dict(input_lengths=[5, 6]), "input_lengths"),
    (dict(input_lengths=[5]), "input_lengths"),
    (dict(target_lengths=[3, 1]), "targets"),
    (dict(target_lengths=[-1, 1]), "target_lengths"),
    (dict(targets=[[1, 0], [2, 2]]), "targets: must not contain the blank index 0"),
    (dict(targets=[[1, 3], [2, 2]]), r"targets: expected class ids in \[0, 3\)"),
    (dict(targets=[[1, 2], [-1, 2]]), r"targets: expected class ids in \[0, 3\)"),
    (dict(targets=[1, 2, 2, 1]), "targets"),
    (dict(targets=np.zeros((2, 2, 1), dtype=int)), "targets"),
    (dict(blank=3), "blank"),
    (dict(reduction="avg"), "reduction"),
])
def test_bad_input_raises(change, argument):
    kwargs = dict(log_probs=log_softmax(np.zeros((5, 2, 3))), targets=[[1, 2], [2, 2]],
                  input_lengths=[5, 4], target_lengths=[2, 1])
    kwargs.update(change)
    with pytest.raises(ValueError, match=argument):
        ctc_loss(**kwargs)


def test_padding_of_targets_is_ignored():
    # entries past target_lengths[n] may hold anything, the blank and bad ids included
    log_probs = log_softmax(np.random.default_rng(0).normal(size=(5, 2, 3)))
    expected = ctc_loss(log_probs, [[1, 2], [2, 1]], [5, 4], [2, 1], reduction="none")
    for padding in (0, 7, -3):
        loss = ctc_loss(log_probs, [[1, 2], [2, padding]], [5, 4], [2, 1], reduction="none")
        np.testing.assert_array_equal(loss, expected)


def test_empty_input_raises_value_error():
    # T = 0 or N = 0 is rejected before the lattice is built (PyTorch rejects it too)
    for log_probs in [np.zeros((0, 1, 3)), np.zeros((0, 0, 3)), np.zeros((4, 0, 3))]:
        N = log_probs.shape[1]
        for fn in (ctc_loss, ctc_grad, ctc_loss_and_grad):
            with pytest.raises(ValueError, match=r"log_probs: expected shape \(T, N, C\)"):
                fn(log_probs, np.zeros((N, 0), int), np.zeros(N, int), np.zeros(N, int))
    for fn in (ctc_alpha, ctc_beta):
        with pytest.raises(ValueError, match="log_probs: expected T >= 1"):
            fn(np.zeros((0, 3)), [1])

"""Connectionist Temporal Classification (CTC) in NumPy.

A network emits, at every frame t, a distribution y_t over C classes, one of which is
the *blank*. A frame-level path pi = (pi_1, ..., pi_T) maps to a labelling by the
collapse map B: merge repeated labels, then drop blanks
(B(a a - a b b) = a a b, with - the blank). The CTC loss of a target labelling l is

    L = -log p(l | x),    p(l | x) = sum_{pi in B^{-1}(l)} prod_t y_t(pi_t).

The sum over paths is computed on the lattice of the *extended* target l', the target
with a blank before, between and after its labels (length L' = 2S + 1):

    alpha_1(0) = y_1(-),  alpha_1(1) = y_1(l_1)
    alpha_t(s) = y_t(l'_s) * (alpha_{t-1}(s) + alpha_{t-1}(s-1) + [skip_s] alpha_{t-1}(s-2))

where skip_s holds when l'_s is a label different from l'_{s-2} (a path may jump over a
blank only between two different labels). The backward variables beta are the forward
variables of the reversed problem (reverse the frames and the extended target), so one
recursion serves both. It runs for the whole batch at once: each frame is one row holding
every sequence's lattice, and the loop runs over frames only (forward and backward
variables in the same loop). :func:`ctc_alpha` and :func:`ctc_beta` compute in log space;
:func:`ctc_loss` (any float dtype) and :func:`ctc_loss_and_grad` (float64) compute with
probabilities rescaled every few frames (fewer operations per frame), and fall back to log
space for the sequences where that could lose precision. :func:`ctc_loss` needs no
posteriors, so alpha runs over the first half of the frames and beta over the second, side
by side, meeting in the middle: p = sum_s alpha_t(s) beta_t(s) / y_t(l'_s) at any t.

Shapes: T frames, N batch, C classes, S target length, L' = 2S + 1 lattice positions.

Decoders (:func:`greedy_decode`, :func:`beam_search`, :func:`prefix_beam_search`) work on
one sequence's (T, C) log-probabilities and return a list of label ids.
"""

import threading
from collections import namedtuple

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from rnnlib.ctc_decode import beam_search, collapse, greedy_decode, prefix_beam_search

__all__ = [
    "ctc_loss",
    "ctc_grad",
    "ctc_loss_and_grad",
    "ctc_alpha",
    "ctc_beta",
    "extend_target",
    "collapse",
    "greedy_decode",
    "beam_search",
    "prefix_beam_search",
]


# ----------------------------------------------------------------------------- checks

def _check_int_vector(name, value, N):
    value = np.asarray(value)
    if value.shape != (N,):
        raise ValueError(f"{name}: expected shape ({N},) (one per sequence), got {value.shape}")
    if value.size and value.dtype.kind not in "iu":
        raise ValueError(f"{name}: expected integers, got dtype {value.dtype}")
    return value.astype(np.int64)


def _ignore_unused_frames(log_probs, input_lengths):
    """Check the frames t < T_n for NaN and +inf; return log_probs with frames t >= T_n
    zeroed, and its largest value (None if it had to be zeroed).

    Frames past a sequence's length are padding and, as in PyTorch, may hold anything
    (NaN included). Zeroing them (in a copy) keeps such values out of the lattice.
    """
    largest = float(log_probs.max())  # NaN if any is NaN
    if largest < np.inf:  # (False for NaN)
        return log_probs, largest                 # -inf is a valid log-probability
    used = np.arange(len(log_probs))[:, None] < input_lengths  # (T, N)
    bad = np.argwhere((np.isnan(log_probs) | (log_probs == np.inf)) & used[:, :, None])
    if len(bad):
        raise ValueError(f"log_probs: expected finite values or -inf in the frames "
                         f"t < input_lengths[n], got {log_probs[tuple(bad[0])]} at (t, n, c) = "
                         f"{tuple(bad[0].tolist())}")
    return np.where(used[:, :, None], log_probs, 0.0).astype(log_probs.dtype, copy=False), None


def _check_inputs(log_probs, targets, input_lengths, target_lengths, blank):
    """Validate the ctc_loss arguments; return them as arrays with padded (N, S) targets."""
    return _checked(log_probs, targets, input_lengths, target_lengths, blank)[:4]


def _checked(log_probs, targets, input_lengths, target_lengths, blank):
    """_check_inputs, and the largest of the log-probabilities returned (None: not known)."""
    log_probs = np.asarray(log_probs)
    if log_probs.ndim != 3:
        raise ValueError(f"log_probs: expected shape (T, N, C), got {log_probs.shape}")
    if log_probs.dtype.kind != "f":
        raise ValueError(f"log_probs: expected floating point, got dtype {log_probs.dtype}")
    T, N, C = log_probs.shape
    if T == 0 or N == 0 or C == 0:
        raise ValueError(f"log_probs: expected shape (T, N, C) with T, N, C >= 1, "
                         f"got {log_probs.shape}")
    if not 0 <= blank < C:
        raise ValueError(f"blank: expected an index in [0, {C}), got {blank}")
    input_lengths = _check_int_vector("input_lengths", input_lengths, N)
    target_lengths = _check_int_vector("target_lengths", target_lengths, N)
    lengths = input_lengths.tolist()  # (N numbers: Python's min and max take less time)
    if min(lengths) < 1 or max(lengths) > T:
        raise ValueError(f"input_lengths: expected values in [1, T={T}], "
                         f"got {input_lengths.tolist()}")
    log_probs, largest = _ignore_unused_frames(log_probs, input_lengths)
    if min(target_lengths.tolist()) < 0:
        raise ValueError(f"target_lengths: expected values >= 0, got {target_lengths.tolist()}")

    targets = np.asarray(targets)
    if targets.size and targets.dtype.kind not in "iu":
        raise ValueError(f"targets: expected integers, got dtype {targets.dtype}")
    S = max(target_lengths.tolist())
    if targets.ndim == 1:
        total = int(target_lengths.sum())
        if targets.shape != (total,):
            raise ValueError(f"targets: concatenated targets need shape (sum(target_lengths),) "
                             f"= ({total},), got {targets.shape}")
        # row-major order of the (N, S) entries within the lengths = concatenation order
        padded = np.full((N, S), blank, dtype=np.int64)
        padded[np.arange(S) < target_lengths[:, None]] = targets
    elif targets.ndim == 2:
        if targets.shape[0] != N or targets.shape[1] < S:
            raise ValueError(f"targets: padded targets need shape ({N}, >= {S}) "
                             f"(N, max(target_lengths)), got {targets.shape}")
        padded = targets[:, :S]
    else:
        raise ValueError(f"targets: expected shape (N, S) or (sum(target_lengths),), "
                         f"got {targets.shape}")
    padding = np.arange(S) >= target_lengths[:, None]  # (N, S)
    padded = np.where(padding, blank, padded)
    if padded.min(initial=0) < 0 or padded.max(initial=0) >= C:
        raise ValueError(f"targets: expected class ids in [0, {C}), "
                         f"got {padded[~padding].tolist()}")
    if np.count_nonzero(padded == blank) > N * S - sum(target_lengths.tolist()):
        raise ValueError(f"targets: must not contain the blank index {blank}")
    return log_probs, padded, input_lengths, target_lengths, largest


# ----------------------------------------------------------------------------- lattice

def extend_target(target, blank=0):
    """Return the extended target l' = (-, l_1, -, l_2, ..., l_S, -) of length 2S + 1.

    >>> extend_target([3, 3, 1], blank=0).tolist()
    [0, 3, 0, 3, 0, 1, 0]
    """
    target = np.asarray(target, dtype=np.int64)
    l_ext = np.full(target.shape[:-1] + (2 * target.shape[-1] + 1,), blank, dtype=np.int64)
    l_ext[..., 1::2] = target
    return l_ext


def _skip_allowed(l_ext, blank):
    """skip_s: may a path enter s from s - 2? True iff l'_s is a label unequal to l'_{s-2}."""
    # (N, L')
    skip = l_ext != blank
    skip[..., :2] = False
    skip[..., 2:] &= l_ext[..., 2:] != l_ext[..., :-2]
    return skip


# The whole batch is one lattice. Row t holds every sequence's L' nodes side by side, each
# sequence preceded by two *guard* entries, and two more guards close the row:
#
#     row t = [g g | s = 0 .. L'-1 of sequence 0 | g g | ... sequence N-1 | g g]
#
# W = N (L' + 2) + 2 entries. A guard is an impossible node (log 0 = -inf), so the
# recursion reads s - 1 and s - 2 as shifted slices of a whole row, with no Python work
# per sequence and nothing leaking from one sequence into the next. The backward variables
# are the forward variables of the reversed problem (frames and row both reversed, which
# keeps the guard pattern), so one loop computes both, side by side in one double row.

def _blocks(rows, N):
    """View rows (..., W) as (..., N, L' + 2): sequence n's two guards, then its L' nodes."""
    return np.reshape(rows[..., :-2], rows.shape[:-1] + (N, -1), copy=False)


def _lattice(log_probs, targets, blank):
    """log y_t(l'_s) (T, W) and log [skip_s] (W,) of a batch, in the row layout."""
    l_ext = extend_target(targets, blank)  # (N, L')
    return _lattice_rows(log_probs, l_ext), _log_skip_row(l_ext, blank)


def _lattice_rows(log_probs, l_ext):
    """log y_t(l'_s) in the row layout, (T, W), in the dtype of log_probs; guards hold -inf.

    log_probs: (T, N, C); l_ext: (N, L') extended targets.
    """
    T, N, C = log_probs.shape
    # entry (n, s) of a row is class l'_s of sequence n: flat index n C + l'_s of the
    # frame's N C log-probabilities; guards read an extra entry N C that holds log 0
    frames = np.empty((T, N * C + 1), log_probs.dtype)
    frames[:, :-1] = log_probs.reshape(T, N * C)
    frames[:, -1] = -np.inf
    column = np.full((N, l_ext.shape[1] + 2), N * C)  # (N, L' + 2)
    column[:, 2:] = np.arange(N)[:, None] * C + l_ext
    column = np.append(column, [N * C, N * C])  # (W,)
    return frames.take(column, axis=1)  # (T, W)


def _log_skip_row(l_ext, blank):
    """log [skip_s] in the row layout, (W,): 0 where a path may enter s from s - 2, else -inf."""
    N, L = l_ext.shape
    row = np.full(N * (L + 2) + 2, -np.inf)
    nodes = _blocks(row, N)[:, 2:]  # (N, L'), a view into row
    nodes[_skip_allowed(l_ext, blank)] = 0.0
    return row


def _log_sum_exp3(terms, m, out):
    """out = log(e^a + e^b + e^c) for the rows a, b, c of terms (3, W); terms is overwritten.

    With m the largest of the three, log sum e^a = m + log sum e^(a - m): nothing
    overflows, and a single exp and log per entry serve all three terms.
    """
    np.maximum(terms[0], terms[1], out=m)
    np.maximum(m, terms[2], out=m)
    np.maximum(m, np.finfo(m.dtype).min, out=m)  # all three log 0: e^(-inf - m) = 0, not NaN
    np.subtract(terms, m, out=terms)
    np.exp(terms, out=terms)
    np.add(terms[0], terms[1], out=out)
    out += terms[2]
    np.log(out, out=out)  # log 0 = -inf where all three were log 0
    out += m


def _recursion(log_y, log_skip, starts, x_before=None):
    """The CTC recursion over rows, in log space; returns (x, x_hat), both (T, W).

        x_hat_t(j) = x_{t-1}(j) + x_{t-1}(j-1) + [skip_j] x_{t-1}(j-2),    x_t(j) = y_t(j) x_hat_t(j)

    log_y: (T, W); log_skip: (W,) log [skip_j]; starts: {t: columns} where a sequence
    begins at frame t with x_hat_t = 1 (whatever the recursion gave there); x_before:
    (W,) x_{-1}, log 0 everywhere if not given.
    """
    T, W = log_y.shape
    x = np.full((T + 1, W), -np.inf, log_y.dtype)  # row 0: a virtual frame before the first
    if x_before is not None:
        x[0] = x_before
    x_hat = np.full((T, W), -np.inf, log_y.dtype)
    # window[t][k, j - 2] = x_{t-1}(j - 2 + k): the three predecessors of every j >= 2
    window = sliding_window_view(x, 3, axis=1).transpose(0, 2, 1)  # (T + 1, 3, W - 2)
    log_w = np.zeros((3, W - 2), log_y.dtype)
    log_w[0] = log_skip[2:]  # the jump from j - 2 needs skip_j
    terms, m = np.empty((3, W - 2), log_y.dtype), np.empty(W - 2, log_y.dtype)
    with np.errstate(divide="ignore"):
        for t in range(T):
            np.add(window[t], log_w, out=terms)
            _log_sum_exp3(terms, m, out=x_hat[t, 2:])
            if t in starts:
                x_hat[t, starts[t]] = 0.0
            np.add(x_hat[t], log_y[t], out=x[t + 1])
    return x[1:], x_hat


def _starts(first_frame, columns):
    """{frame: columns}: the (N, k) start columns of the sequences, grouped by first frame (N,)."""
    starts = {}
    for t, cols in zip(first_frame.tolist(), columns):
        starts.setdefault(t, []).extend(cols.tolist())
    return starts


def _log_alpha(log_y, log_skip, N):
    """Forward variables alpha_t(s), rows (T, W) laid out like ``log_y``.

    alpha_t(s) = y_t(l'_s) (alpha_{t-1}(s) + alpha_{t-1}(s-1) + [skip_s] alpha_{t-1}(s-2)),
    starting from alpha_0(0) = y_0(-), alpha_0(1) = y_0(l_1).
    """
    width = (log_y.shape[1] - 2) // N
    first_two = np.arange(N)[:, None] * width + [2, 3]  # columns of nodes 0 and 1
    alpha, _ = _recursion(log_y, log_skip, _starts(np.zeros(N, int), first_two))
    return alpha


def _log_alpha_beta(log_y, log_skip, N, input_lengths, target_lengths):
    """alpha (T, W) and beta_hat (T, W), laid out like ``log_y``, from one loop over frames.

    Graves's beta_t(s) = y_t(l'_s) beta_hat_t(s), where
    beta_hat_t(s) = beta_{t+1}(s) + beta_{t+1}(s+1) + [skip_{s+2}] beta_{t+1}(s+2)
    and beta_hat_{T_n - 1} is 1 at the last two nodes. beta_hat gives the posterior of a
    node as alpha beta_hat / p, without dividing by y_t(l'_s) (which may be 0).
    beta is alpha of the reversed problem: reversing the frames and the row turns s + 1,
    s + 2 into j - 1, j - 2 and keeps the guards; sequence n then starts at frame T - T_n.
    Both problems run side by side in rows of 2W.
    """
    T, W = log_y.shape
    width = (W - 2) // N
    first_two = np.arange(N)[:, None] * width + [2, 3]                    # nodes 0 and 1
    last_two = np.arange(N)[:, None] * width + 2 + 2 * target_lengths[:, None] - [1, 0]
    # reversed row: column j holds column W - 1 - j, and the jump j - 2 -> j is the jump
    # s + 2 -> s of the original, allowed if skip_{s+2} = skip at original column W + 1 - j
    log_skip_rev = np.concatenate([[-np.inf, -np.inf], log_skip[::-1][:-2]])
    starts = _starts(np.zeros(N, int), first_two)
    for t, cols in _starts(T - input_lengths, W + (W - 1 - last_two)).items():
        starts.setdefault(t, []).extend(cols)
    x, x_hat = _recursion(np.concatenate([log_y, log_y[::-1, ::-1]], axis=1),
                          np.concatenate([log_skip, log_skip_rev]), starts)
    return x[:, :W], x_hat[::-1, W:][:, ::-1]


def _log_p(alpha, N, input_lengths, target_lengths):
    """log p(l | x) = log(alpha_{T_n - 1}(L'_n - 1) + alpha_{T_n - 1}(L'_n - 2)), (N,)."""
    width = (alpha.shape[1] - 2) // N
    last = np.arange(N) * width + 2 + 2 * target_lengths  # column of node L'_n - 1
    # for an empty target, column last - 1 is a guard: log 0, as it should be
    end = alpha[input_lengths - 1, last]
    return np.logaddexp(end, alpha[input_lengths - 1, last - 1])


def ctc_alpha(log_probs, target, blank=0):
    """Log forward variables of one sequence: the (T, 2S + 1) alignment lattice.

    log_probs: (T, C) log-probabilities; target: (S,) label ids.
    Entry [t, s] is log alpha_t(s), the log-probability of all path prefixes
    pi_1..pi_t that collapse to the first labels of l and end in l'_s.

    >>> lp = np.log(np.full((2, 2), 0.5))
    >>> np.exp(ctc_alpha(lp, [1])).round(3).tolist()
    [[0.5, 0.5, 0.0], [0.25, 0.5, 0.25]]
    """
    log_probs, target, lengths, target_lengths = _one_sequence(log_probs, target, blank)
    log_y, log_skip = _lattice(log_probs, target, blank)
    alpha = _log_alpha(log_y, log_skip, 1)
    return np.ascontiguousarray(_blocks(alpha, 1)[:, 0, 2:])


def ctc_beta(log_probs, target, blank=0):
    """Log backward variables of one sequence, (T, 2S + 1).

    Entry [t, s] is log beta_t(s), the log-probability of all path suffixes
    pi_t..pi_T that start in l'_s and complete the labelling (y_t(l'_s) included).

    >>> lp = np.log(np.full((2, 2), 0.5))
    >>> np.exp(ctc_beta(lp, [1])).round(3).tolist()
    [[0.25, 0.5, 0.25], [0.0, 0.5, 0.5]]
    """
    log_probs, target, lengths, target_lengths = _one_sequence(log_probs, target, blank)
    log_y, log_skip = _lattice(log_probs, target, blank)
    _, beta_hat = _log_alpha_beta(log_y, log_skip, 1, lengths, target_lengths)
    # Graves's beta includes y_t(l'_s)
    return np.ascontiguousarray(_blocks(beta_hat + log_y, 1)[:, 0, 2:])


def _one_sequence(log_probs, target, blank):
    """Check one sequence's (T, C) log-probabilities and (S,) target; return them as a batch of 1."""
    log_probs = np.asarray(log_probs)
    if log_probs.ndim != 2:
        raise ValueError(f"log_probs: expected shape (T, C), got {log_probs.shape}")
    if log_probs.shape[0] == 0:
        raise ValueError(f"log_probs: expected T >= 1 frames, got shape {log_probs.shape}")
    target = np.asarray(target, dtype=np.int64).reshape(1, -1)
    return _check_inputs(log_probs[:, None], target, [len(log_probs)], [target.shape[1]], blank)


# ----------------------------------------------------------------------------- probability space
#
# ctc_loss and ctc_loss_and_grad run the same recursion on probabilities instead of their
# logs: four NumPy calls per frame instead of a log-sum-exp. Probabilities shrink with t,
# so the emissions are scaled per frame (y <= 1, the frame's largest being 1) and every
# few frames each sequence's variables are divided by their sum c_t (Rabiner's scaling):
#
#     log alpha_t(s) = log x_t(s) + sum_{t' <= t} (m_t' + log c_t'),
#
# with x the stored variables and m_t the frame's log scale. All of it runs in float64.
# ctc_loss uses it for every input dtype, alpha and beta meeting in the middle
# (_probability_log_p: half as many steps, a chunk of frames at a time, in arrays kept per
# thread between calls); ctc_loss_and_grad for float64 inputs only (with float32 inputs,
# its log-space recursion in float32 is faster: the CPU applies exp and log to twice as
# many float32 values at once).
# One number cannot hold values more than ~e^708 apart: a variable that far below its
# sequence's largest underflows to 0 (a path lost). Every lost variable is found, and its
# effect on p is bounded (_log_error; _certify_pair, tighter, when beta is known too); a
# sequence whose bound is not negligible, or whose emissions underflow, is computed again
# in log space (ctc_loss: from the first frame where a variable was lost, alpha being
# exact before it).

_RESCALE_EVERY = 8                # frames between two divisions of the variables by their sum
_TINY = np.finfo(np.float64).tiny  # the smallest normal float64; below it precision is lost
_EPS = 1e-16                      # largest relative error on p accepted from lost paths
_EMPTY = _TINY / 2                # c_t of a block of zeros (see _rescaled_recursion)


def _emissions(log_probs, input_lengths, l_ext, paired=False, blank=0, largest=None):
    """Scaled emission probabilities as frames (T, N C + 1), float64, and log scales m (T, N).

    Column n C + k of row t is y_t(k) = exp(log y_t(k) - m_t) of sequence n; the last
    column holds 0. Log-probabilities (<= 0, up to rounding) need no scale (m = 0); larger
    values get m_t = the frame's largest, so that y <= 1. y = m = 0 at frames t >= T_n.
    With paired, only the U classes on the lattices are kept (a large vocabulary costs
    no exp): frames is (K, 2 (U + 1)), K = ceil(T / 2), row t holding frame t, then frame
    T - 1 - t (the two halves _probability_log_p reads), each U columns (the lattice
    classes of sequence 0, then of sequence 1, ...) and a 0; y at frames t >= T_n is
    left as it is (finite, at most e) in the first half, where no variable computed from
    it is read, and is 1 at ``blank`` and 0 elsewhere in the second: there the reversed
    problem's x stays at x_{-1} (1 at its node 0, a blank) until its first frame. A fifth
    value gives the column of each node, (N, L').
    Also returns lost_from (N,): the first frame at which some class of sequence n's
    lattice (extended targets l_ext, (N, L')) has a finite log-probability whose y underflows
    (more than ~708 below m_t); T if none; and floor: no y is below it (below _TINY,
    some y may be 0 at a frame t < T_n: -inf or underflow). largest: log_probs.max(), if
    known (see _checked).
    """
    T, N, C = log_probs.shape
    m = np.zeros((T, N))
    used = None  # frames t < T_n, (T, N), made when needed
    if largest is None:  # (the largest of log_probs, if _checked knows it)
        largest = log_probs.max()
    if largest > 1.0:  # not log-probabilities (or padding at t >= T_n)
        used = np.arange(T)[:, None] < input_lengths
        m = np.where(used, log_probs.max(axis=2), 0.0).astype(np.float64)
        m[np.isneginf(m)] = 0.0
        # a float64 copy, 0 at frames t >= T_n (which may hold anything, e^1000 too)
        log_probs = np.where(used[:, :, None], log_probs - m[:, :, None], 0.0)
    lost_from = np.full(N, T)
    flat, lattice = log_probs.reshape(T, N * C), _lattice_classes(l_ext, C)
    if paired:  # the lattice classes n C + k: those of sequence n after those of n - 1
        classes = np.flatnonzero(lattice)  # (U,)
        columns = np.searchsorted(classes, l_ext + np.arange(0, N * C, C)[:, None])  # (N, L')
        if len(classes) < N * C:
            flat = flat.take(classes, axis=1)
    floor = float(np.exp(np.float64(flat.min())))
    if used is None and (floor < _TINY or not paired):
        used = np.arange(T)[:, None] < input_lengths
    if floor < _TINY:  # some y may underflow (or log_probs holds -inf)
        underflow = (log_probs < np.log(_TINY)) & (log_probs > -np.inf) & lattice
        lost = (underflow & used[:, :, None]).any(axis=2)  # (T, N)
        lost_from = np.where(lost.any(axis=0), lost.argmax(axis=0), T)
    # (no overflow: log-probabilities are <= 1, and other inputs were shifted above)
    if not paired:
        frames = _kept("frames_unpaired", T * (N * C + 1)).reshape(T, N * C + 1)
        frames[:, -1] = 0.0
        np.exp(log_probs.reshape(T, N * C), out=frames[:, :-1], dtype=np.float64)
        frames[:, :-1].reshape(T, N, C)[~used] = 0.0
        return frames, m, lost_from, floor
    K, U = T - T // 2, flat.shape[1]
    frames = _kept("frames", K * 2 * (U + 1)).reshape(K, 2, U + 1)
    frames[:, :, -1] = 0.0
    np.exp(flat[:K], out=frames[:, 0, :-1], dtype=np.float64)
    np.exp(flat[::-1][:K], out=frames[:, 1, :-1], dtype=np.float64)
    if min(input_lengths.tolist()) < T:
        # frame T - 1 - t >= T_n of the sequence n = classes // C of each column
        padding = np.arange(K)[:, None] < (T - input_lengths)[classes // C]  # (K, U)
        np.copyto(frames[:, 1, :-1], classes % C == blank, where=padding)
    return frames.reshape(K, -1), m, lost_from, floor, columns


def _node_values(l_ext, target_lengths, blank, C):
    """Per node (N, L'): the column of frames (T, N C + 1) it reads, skip_s, and s < L'_n.

    Node s of sequence n reads column n C + l'_s; nodes s >= L'_n = 2 S_n + 1 read column
    N C, which holds 0. skip_s (float) is 1.0 where a path may enter s from s - 2.
    """
    N, L = l_ext.shape
    nodes = np.arange(L) < 2 * target_lengths[:, None] + 1
    column = np.where(nodes, np.arange(N)[:, None] * C + l_ext, N * C)
    return column, _skip_allowed(l_ext, blank).astype(np.float64), nodes


def _row(values, guard):
    """Values (N, L') of the nodes in the row layout, (W,), guards holding ``guard``."""
    row = np.full(len(values) * (values.shape[1] + 2) + 2, guard, values.dtype)
    _blocks(row, len(values))[:, 2:] = values
    return row


def _start(x, N):
    """Make x (rows, W) ready for the recursion: row 0 is x_{-1}, 1 at node 0 of each
    sequence, else 0; the first two columns (guards) are 0 in every row (the recursion
    writes the others). Returns x.
    """
    x[0] = 0.0
    _blocks(x[0], N)[:, 2] = 1.0
    x[1:, :2] = 0.0
    return x


def _rescaled_recursion(y, skip, N, x, c, frame_views=None, zero_subnormal=True):
    """The recursion in probability space over the rows of y: fills x[1:] and c (T, N).

        x_hat_t(j) = x_{t-1}(j) + x_{t-1}(j-1) + [skip_j] x_{t-1}(j-2),    x_t(j) = y_t(j) x_hat_t(j)

    y: (T, W) emission probabilities in the row layout; skip: (W,) (see _row);
    x: (T + 1, W) whose row 0 holds x_{t-1} of the first row of y (see _start), and row
    t + 1 receives x_t (its first two columns, guards, are left as they are: 0); x[1:]
    may be y itself (x_t then replaces y_t). Every _RESCALE_EVERY rows each sequence's
    x_t is divided by its sum c_t (c is left as it is at the other rows: 1).
    frame_views: the views below, made once for arrays x and y of which these are the
    first rows (see _workspace), or None.
    zero_subnormal: make subnormal numbers 0 before each division by c_t (see below);
    needed to find the lost variables unless _none_lost shows there are none.
    """
    T, W = y.shape
    skip, jump, x_hat = skip[2:], np.empty(W - 2), np.empty(W - 2)
    add, multiply = np.add, np.multiply  # (out passed by position: a faster call)
    if frame_views is None:
        frame_views = _frame_views(x, y)
    for t in range(0, T, _RESCALE_EVERY):
        for stay, step, hop, x_t_2, y_t_2, x_t in frame_views[t:min(t + _RESCALE_EVERY, T)]:
            add(stay, step, x_hat)
            multiply(hop, skip, jump)
            add(x_hat, jump, x_hat)
            multiply(y_t_2, x_hat, x_t_2)
        if t + _RESCALE_EVERY > T:
            break
        # subnormal numbers have lost precision (and are slow): make them 0 before the
        # division could turn them into normal numbers, so that they are found as lost
        if zero_subnormal:
            np.putmask(x_t, x_t < _TINY, 0.0)
        x_t_blocks, c_t = x_t[:-2].reshape(N, -1), c[t + _RESCALE_EVERY - 1]  # (see _blocks)
        np.add.reduce(x_t_blocks, 1, None, c_t)
        # a block of zeros (no path left): c_t = _EMPTY, which no kept sum equals: sums
        # are 0 or at least _TINY (subnormals made 0, or none: see _none_lost)
        np.maximum(c_t, _EMPTY, out=c_t)
        np.divide(x_t_blocks, c_t[:, None], x_t_blocks)


def _lost_variables(x, skip, positive):
    """(T, W) bool: x_t(j) is 0 or subnormal although a predecessor in x_{t-1} is normal
    and y_t(j) > 0.

    x: (T + 1, W) as filled by _rescaled_recursion; skip: (W,); positive: (W,) or
    (T, W) bool, where y_t(j) > 0. A variable fed only by lost ones is not lost again:
    the bound on a lost variable's share covers every path through it.
    """
    small = x < _TINY
    before = ~small[:-1]                        # x_{t-1}(j) normal
    reached = before.copy()
    reached[:, 1:] |= before[:, :-1]
    reached[:, 2:] |= before[:, :-2] & (skip[2:] > 0)
    reached &= small[1:]
    reached &= positive
    return reached


def _lost_rows(x, positive, skip, used):
    """_lost_variables (T, W) of rows x (T + 1, W) at the frames t < T_n (used, (T, N)).

    positive: (T, W) or (W,) bool, where y_t(j) > 0: y > 0 if some emission may be 0
    (floor < _TINY, see _emissions), else the nodes s < L'_n.
    """
    lost = _lost_variables(x, skip, positive)
    _blocks(lost, used.shape[1])[~used] = False
    return lost


def _none_lost(x, floor):
    """True if no variable of the rows x (T + 1, W) can be lost: a quick sufficient test.

    A lost variable is y_t(j) x_hat_t(j) < _TINY with a predecessor x_{t-1} that is normal,
    so x_hat_t(j) >= the smallest positive x. With y >= floor (_emissions), none can be lost
    if no positive x is below _TINY and none below 2 _TINY / floor: if x holds as many
    values below the larger of the two as zeros. Before that scan of every row, a test on
    a few: rows 0, _RESCALE_EVERY, ... (the first and the rescaled ones). A positive
    x_t(j) >= y_t(j) x_{t-1}(i) >= floor x_{t-1}(i) for a positive x_{t-1}(i) (y > 0 is
    at least min(floor, 1)), so up to the next of these rows (before its division by c_t)
    they are at least shrink = min(floor, 1)^_RESCALE_EVERY times its smallest positive:
    none is lost if no positive value of these rows is below 2 _TINY / shrink.
    """
    shrink = min(floor, 1.0) ** _RESCALE_EVERY
    if shrink >= 2 * _TINY:
        rows = x[::_RESCALE_EVERY]
        if np.count_nonzero(rows < 2 * _TINY / shrink) == np.count_nonzero(rows == 0.0):
            return True
    threshold = max(_TINY, 2 * _TINY / floor) if floor > 0 else np.inf
    return np.count_nonzero(x < threshold) == np.count_nonzero(x == 0.0)


def _exactness(count, lost_from, log_scale, log_c, log_p, frames, m, l_ext, input_lengths):
    """exact (N,): no emission was lost, and the lost variables cannot change p (_log_error).

    count: (T, N) lost variables per frame; the others as in _probability_forward.
    """
    T, N = count.shape
    exact = lost_from == T
    lost_any = count.any(axis=0)
    if lost_any.any():
        log_frame = _log_frames(frames, m, l_ext, input_lengths)
        with np.errstate(invalid="ignore"):  # NaN (e.g. -inf - -inf): not certified
            log_after = log_frame.sum(axis=0) - np.cumsum(log_frame, axis=0)  # over t' > t
            log_error = _log_error(count, log_scale, log_c, log_after) - log_p
        exact &= ~lost_any | (log_error < np.log(_EPS))
    return exact


def _last_nodes(l_ext, target_lengths):
    """(N,): the column of node L'_n - 1 of each sequence in the row layout."""
    return np.arange(len(l_ext)) * (l_ext.shape[1] + 2) + 2 + 2 * target_lengths


_Forward = namedtuple("_Forward", "log_p x y exact lost log_c")


def _probability_forward(frames, m, lost_from, floor, l_ext, input_lengths,
                         target_lengths, blank):
    """log p(l | x) (N,) from the recursion in probability space, keeping every frame.

    frames, m, lost_from, floor: from _emissions; l_ext: (N, L') extended targets.
    Returns a _Forward: log_p (N,); x (T, W), rescaled, row t is x_t; y (T, W) in the row
    layout; exact (N,) (False: compute again in log space); lost (T, W) (see
    _lost_variables), or None if _none_lost shows there are none; log c (T, N) (see
    _rescaled_recursion).
    """
    T, N = m.shape
    C = (frames.shape[1] - 1) // N
    column, skip, nodes = _node_values(l_ext, target_lengths, blank, C)
    column = _row(column, N * C)
    W = len(column)
    # (arrays kept between calls, as fresh ones of this size cost page faults)
    y = _kept("forward_y", T * W).reshape(T, W)
    frames.take(column, axis=1, out=y, mode="clip")  # (the columns are valid)
    skip = _row(skip, 0.0)
    x = _start(_kept("forward_x", (T + 1) * W).reshape(T + 1, W), N)
    c = np.ones((T, N))
    _rescaled_recursion(y, skip, N, x, c)
    log_c = np.log(c)
    log_scale = np.cumsum(m + log_c, axis=0)  # (T, N): log alpha_t = log x_t + log_scale_t
    last = _last_nodes(l_ext, target_lengths)
    end = x[input_lengths, last] + x[input_lengths, last - 1]  # row T_n of x is x_{T_n - 1}
    with np.errstate(divide="ignore"):
        log_p = log_scale[input_lengths - 1, np.arange(N)] + np.log(end)
    # lost variables, searched for 64 frames at a time where _none_lost cannot rule them out
    lost, count = None, np.zeros((T, N), int)
    for t in range(0, T, 64):
        if _none_lost(x[t:t + 65], floor):
            continue
        if lost is None:
            lost, used = np.zeros(y.shape, bool), np.arange(T)[:, None] < input_lengths
            nodes = _row(nodes, False)
        positive = y[t:t + 64] > 0 if floor < _TINY else nodes
        lost[t:t + 64] = _lost_rows(x[t:t + 65], positive, skip, used[t:t + 64])
    if lost is not None:
        count = _blocks(lost, N).sum(axis=2)
    exact = _exactness(count, lost_from, log_scale, log_c, log_p, frames, m, l_ext,
                       input_lengths)
    return _Forward(log_p, x[1:], y, exact, lost, log_c)


_CHUNK_ENTRIES = 90_000  # about how many values of x one chunk of _probability_log_p holds
_workspaces = threading.local()  # arrays kept for the next call (_kept, _workspace)
_KEEP_AT_MOST = 2_000_000          # values (16 MB) of the largest array _kept keeps


def _kept(name, size, dtype=np.float64):
    """An array of ``size`` values of ``dtype``, kept per thread under ``name`` for later calls.

    Fresh arrays of some 100 kB or more cost page faults (tens of microseconds) on each
    call; a kept one is made again only when it is too small or four times too large.
    Arrays of more than _KEEP_AT_MOST values are not kept (their page faults matter less).
    """
    if size > _KEEP_AT_MOST:
        return np.empty(size, dtype)
    name = f"{name} {np.dtype(dtype).char}"  # (.char: .name takes microseconds)
    kept = getattr(_workspaces, name, None)
    if kept is None or not size <= len(kept) <= 4 * size:
        kept = np.empty(size, dtype)
        setattr(_workspaces, name, kept)
    return kept[:size]


def _frame_views(x, y):
    """Per row t of y: views x_{t-1}(j), x_{t-1}(j-1), x_{t-1}(j-2), x_t(j), y_t(j) for the
    columns j >= 2, and x_t, where x (T + 1, W) holds x_{t-1} in row t (see
    _rescaled_recursion).
    """
    return list(zip(x[:-1, 2:], x[:-1, 1:-1], x[:-1, :-2], x[1:, 2:], y[:, 2:], x[1:]))


def _workspace(W):
    """An array x (chunk + 1, W) and its _frame_views with y = x[1:], for _probability_log_p.

    Kept for the next call with rows of the same width (one per thread): allocating an
    array of this size anew, and making the views, takes a sizeable share of a call's time.
    Not kept if x has more than _KEEP_AT_MOST values.
    """
    workspace = getattr(_workspaces, "last", None)
    if workspace is None or workspace[0].shape[1] != W:
        chunk = max(1, _CHUNK_ENTRIES // (W * _RESCALE_EVERY)) * _RESCALE_EVERY
        x = np.zeros((chunk + 1, W))
        workspace = (x, _frame_views(x, x[1:]))
        if x.size <= _KEEP_AT_MOST:
            _workspaces.last = workspace
    return workspace


def _meeting_rows(l_ext, columns, target_lengths, blank, zero):
    """The rows of _probability_log_p: alpha's row layout, then beta's read backwards.

    A row has 2W - 2 entries: the row layout without its two closing guards, then the row
    layout read backwards (sequence n in block 2N - 1 - n, its last node first). Read
    backwards, the recursion's j - 1 and j - 2 are s + 1 and s + 2, and beta may jump
    from s + 2 to s where alpha may jump from s to s + 2. Returns column, skip and nodes
    in these rows (node s of sequence n reads column columns[n, s] of a frame if
    s < L'_n, else ``zero``, which holds 0) and x_{-1}, 1 at node 0 of alpha and of beta
    (node L'_n - 1), each (2W - 2,); and skip (N, L') of the nodes, bool.
    """
    N, L = l_ext.shape
    skip = _skip_allowed(l_ext, blank)  # (N, L') bool
    rows = np.zeros((3, 2 * N * (L + 2) + 2))  # column, skip, x_{-1}
    rows[0] = zero
    blocks = rows[:, :-2].reshape(3, 2 * N, L + 2)
    nodes = np.arange(L) < 2 * target_lengths[:, None] + 1  # s < L'_n
    np.copyto(blocks[0, :N, 2:], columns, where=nodes)
    blocks[0, N:, 2:] = blocks[0, N - 1::-1, :1:-1]  # beta: sequences and nodes reversed
    blocks[1, :N, 2:] = skip
    blocks[1, N:, 4:] = skip[::-1, :1:-1]  # node s of beta: skip_{s+2}, 0 for the last two
    blocks[2, :N, 2] = 1.0
    blocks[2, np.arange(2 * N - 1, N - 1, -1), L + 1 - 2 * target_lengths] = 1.0
    column = rows[0].astype(np.intp)
    return column, rows[1], column != zero, rows[2], skip


def _probability_log_p(frames, m, lost_from, floor, columns, l_ext, input_lengths,
                       target_lengths, blank):
    """log p(l | x) (N,) in probability space, alpha and beta meeting in the middle.

    alpha runs over the frames t < K = ceil(T / 2) and beta over the frames t >= K, side
    by side in one row (_meeting_rows): the loop has K steps, not T. Then
    p = sum_s alpha_{K-1}(s) beta_hat_{K-1}(s), where beta_hat_t(s) = beta_{t+1}(s) +
    beta_{t+1}(s+1) + [skip_{s+2}] beta_{t+1}(s+2); a sequence with T_n <= K ends in
    alpha (beta_hat_{T_n - 1} is 1 at its last two nodes). beta of sequence n starts at
    step T - T_n (before it, its frames keep x at x_{-1}: see _emissions). The loop keeps
    a chunk of frames in memory at a time (arrays of T x W are slow to allocate and to
    read again).
    frames, m, lost_from, floor, columns: from _emissions(..., paired=True); the others
    as in _probability_forward. Returns log_p (N,); exact (N,) (False: compute again in log
    space); log_scale (K, N) of alpha (log alpha_t = log x_t + log_scale_t); and t_0 with
    x_{t_0 - 1} (N, L' + 2): alpha is exact before frame t_0 <= min(K, T_n).
    """
    (T, N), K = m.shape, len(frames)
    zero = frames.shape[1] // 2 - 1  # the column of a frame that holds 0
    row_column, row_skip, row_nodes, x_start, skip = _meeting_rows(
        l_ext, columns, target_lengths, blank, zero)
    W, half = len(row_column), (len(row_column) - 2) // 2  # the first half holds alpha
    row_column[half:] += zero + 1  # beta reads the second frame of each row of frames
    # the step whose x each block ends with: alpha's T_n - 1 or K - 1, beta's T - K - 1
    # (x_{-1} if T = 1; where T_n <= K, beta does not start and keeps x_{-1})
    lengths = input_lengths.tolist()  # (N numbers: Python lists take less time than NumPy)
    ending = np.array([min(T_n, K) - 1 for T_n in lengths] + [T - K - 1] * N)
    x, frame_views = _workspace(W)  # row t + 1 holds y_t, then x_t (see _rescaled_recursion)
    chunk = len(x) - 1
    x[0] = x_start
    final = None  # (2N, L' + 2)
    c, count = np.ones((K, 2 * N)), None
    t_0 = min(lost_from.tolist() + lengths + [K])
    x_before = None
    for t in range(0, K, chunk):
        rows = min(chunk, K - t)
        y = x[1:rows + 1]
        # (mode "clip": the columns are valid, and with it take writes y directly)
        frames[t:t + rows].take(row_column, axis=1, out=y, mode="clip")
        args = y, row_skip, 2 * N, x[:rows + 1], c[t:t + rows], frame_views
        _rescaled_recursion(*args, zero_subnormal=False)
        if not _none_lost(x[:rows + 1], floor):  # again, subnormals made 0: find the lost
            frames[t:t + rows].take(row_column, axis=1, out=y, mode="clip")  # (row 0 is kept)
            positive = y > 0 if floor < _TINY else row_nodes
            _rescaled_recursion(*args)
            steps, first = np.arange(t, t + rows)[:, None], T - input_lengths
            used = np.concatenate([steps < np.minimum(input_lengths, K),
                                   ((first <= steps) & (steps < T - K))[:, ::-1]], axis=1)
            lost = _lost_rows(x[:rows + 1], positive, row_skip, used)
            if count is None:
                count = np.zeros((K, 2 * N), int)
            count[t:t + rows] = _blocks(lost, 2 * N).sum(axis=2)
            alpha_lost = lost[:, :half].any(axis=1)
            if alpha_lost.any():
                t_0 = min(t_0, t + int(alpha_lost.argmax()))
        if x_before is None and t_0 < t + rows:
            x_before = x[t_0 - t].copy()  # row r of x is x_{t + r - 1}
        if rows == K:  # one chunk: every block ends in it (row e + 1 of x is x_e)
            final = _blocks(x, 2 * N)[ending + 1, np.arange(2 * N)]
        else:
            if final is None:
                final = _blocks(x[0], 2 * N).copy()
            ends = np.flatnonzero((t <= ending) & (ending < t + rows))
            final[ends] = _blocks(x, 2 * N)[ending[ends] - t + 1, ends]
        x[0] = x[rows]
    if x_before is None:  # t_0 = K
        x_before = x[0].copy()
    c[c == _EMPTY] = 1.0  # a block of zeros (no path left) keeps its scale
    log_c = np.log(c)
    log_scale = np.cumsum(log_c, axis=0)  # (K, 2N)
    if m.any():
        log_scale += np.cumsum(np.concatenate([m[:K], m[::-1][:K, ::-1]], axis=1), axis=0)
    log_p, exact = _meet(final, skip, log_scale, ending[:N], T - K - 1)
    exact &= lost_from == T
    lost_any = count.any(axis=0) if count is not None else None
    if count is not None and lost_any.any():
        # a variable of alpha at frame t is completed by the frames after t, one of beta
        # (at frame T - 1 - t) by the frames before
        frames = np.concatenate([frames[:, :zero + 1], frames[:T - K, zero + 1:][::-1]])
        log_frame = _log_frames(frames, m, l_ext, input_lengths, columns.min(axis=1))
        with np.errstate(invalid="ignore"):  # NaN (from -inf - -inf): not certified
            before = np.cumsum(log_frame, axis=0) - log_frame  # sum over t' < t
            after = before[-1] + log_frame[-1] - before - log_frame  # sum over t' > t
            log_error = _log_error(count, log_scale, log_c,
                                   np.concatenate([after[:K], before[::-1][:K, ::-1]], axis=1))
            log_error = np.logaddexp(log_error[:N], log_error[N:][::-1]) - log_p
        exact &= ~(lost_any[:N] | lost_any[N:][::-1]) | (log_error < np.log(_EPS))
    return log_p, exact, log_scale[:, :N], t_0, _blocks(x_before, 2 * N)[:N]


def _meet(final, skip, log_scale, alpha_end, beta_end):
    """log p (N,) from alpha and beta where they meet, and exact (N,): no product underflowed.

    final: (2N, L' + 2) the last x of each block of _probability_log_p's rows; skip:
    (N, L'); log_scale (K, 2N); alpha_end (N,) the step of alpha's final x, beta_end that
    of beta's (-1: x_{-1}).
    """
    N = len(skip)
    alpha = final[:N, 2:]          # alpha_{K-1} (alpha_{T_n - 1} if T_n <= K), (N, L')
    beta = final[N:][::-1, ::-1]   # beta_K (or 1 at node L'_n - 1), nodes s then two guards
    beta_hat = beta[:, :-2] + beta[:, 1:-1]
    beta_hat[:, :-2] += skip[:, 2:] * beta[:, 2:-2]
    terms = alpha * beta_hat
    total = terms.sum(axis=1)
    log_p = np.log(total, out=np.full(N, -np.inf), where=total > 0)
    log_p += log_scale[alpha_end, np.arange(N)]
    if beta_end >= 0:
        log_p += log_scale[beta_end, N:][::-1]
    # a product of two normal numbers may underflow: at most _TINY lost per term
    exact = total >= skip.shape[1] * _TINY / _EPS
    if not exact.all():
        underflow = ((terms < _TINY) & (alpha > 0) & (beta_hat > 0)).sum(axis=1)
        exact = underflow * _TINY <= _EPS * total
    return log_p, exact


def _lattice_classes(l_ext, C):
    """(N, C) bool: the classes on each sequence's lattice."""
    lattice = np.zeros((len(l_ext), C), bool)
    lattice[np.arange(len(l_ext))[:, None], l_ext] = True
    return lattice


def _log_frames(frames, m, l_ext, input_lengths, first=None):
    """(T, N): log of sum_{k on the lattice} e^{m_t} y_t(k), each frame's largest share of p.

    frames (T, N C + 1), m: from _emissions; l_ext: (N, L'). 0 at frames t >= T_n.
    first: (N,) if the columns of frames are the lattice classes only (_emissions with
    paired), those of sequence n from first[n] on.
    """
    T, N = m.shape
    with np.errstate(divide="ignore"):
        if first is not None:
            log_frame = m + np.log(np.add.reduceat(frames[:, :-1], first, axis=1))
        else:
            lattice = _lattice_classes(l_ext, (frames.shape[1] - 1) // N)
            log_frame = m + np.log(np.einsum("tnc,nc->tn", frames[:, :-1].reshape(T, N, -1),
                                             lattice.astype(np.float64)))
    log_frame[np.arange(T)[:, None] >= input_lengths] = 0.0
    return log_frame


def _log_error(count, log_scale, log_c, log_rest):
    """(N,): log of a bound on what the lost variables could add to p.

    count: (T, N) lost variables per frame (see _lost_variables). A variable lost at frame
    t was below _TINY times the scale of x_t before or after its division by c_t, the
    larger of the two: exp(log_scale_t - min(log c_t, 0)). Its share of p is its value
    times the sum over the paths that complete it, at most exp(log_rest_t): the product
    over the frames it does not cover of sum_{k on the lattice} y_t'(k) (_log_frames), as
    distinct paths from one node emit distinct class sequences.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        log_share = (np.log(count) + np.log(_TINY) + log_scale - np.minimum(log_c, 0.0)
                     + log_rest)
        return np.logaddexp.reduce(log_share, axis=0)


# ----------------------------------------------------------------------------- loss

def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0,
             reduction="mean", zero_infinity=False):
    """CTC loss, with the meaning of ``torch.nn.functional.ctc_loss``.

    Args:
        log_probs: (T, N, C) log-probabilities (log_softmax over C), T, N, C >= 1.
            Frames t >= input_lengths[n] are ignored, whatever they hold (NaN too).
        targets: (N, S) padded label ids, or (sum(target_lengths),) concatenated.
            Must not contain ``blank`` within each target's length.
        input_lengths: (N,) frames used per sequence, 1 <= T_n <= T.
        target_lengths: (N,) labels per sequence.
        blank: index of the blank class.
        reduction: "none" -> (N,) losses; "sum"; "mean" -> each loss divided by its
            target length (at least 1), then averaged over the batch.
        zero_infinity: replace infinite losses (no path collapses to the target,
            e.g. T_n < S_n + repeats) by 0.

    Returns:
        L_n = -log p(l_n | x_n), reduced as asked.

    >>> lp = np.log(np.full((2, 1, 2), 0.5))      # T=2, N=1, C=2
    >>> float(np.exp(-ctc_loss(lp, [[1]], [2], [1], reduction="sum")))  # paths 1-, -1, 11
    0.75
    """
    if reduction not in ("none", "sum", "mean"):
        raise ValueError(f"reduction: expected 'none', 'sum' or 'mean', got {reduction!r}")
    log_probs, targets, input_lengths, target_lengths, largest = _checked(
        log_probs, targets, input_lengths, target_lengths, blank)
    l_ext = extend_target(targets, blank)  # (N, L')
    log_p, exact, log_scale, t_0, x_before = _probability_log_p(
        *_emissions(log_probs, input_lengths, l_ext, paired=True, blank=blank, largest=largest),
        l_ext, input_lengths, target_lengths, blank)
    if not exact.all():  # lost paths or emissions: those sequences in log space from t_0
        log_p[~exact] = _log_space_restart(log_probs, targets, input_lengths, target_lengths,
                                           blank, ~exact, t_0, x_before, log_scale)
    loss = -log_p
    if zero_infinity:
        loss = np.where(np.isinf(loss), 0.0, loss)
    loss = loss.astype(log_probs.dtype)
    if reduction == "sum":
        return loss.sum()
    if reduction == "mean":
        return (loss / np.maximum(target_lengths, 1)).mean()
    return loss


def ctc_grad(log_probs, targets, input_lengths, target_lengths, blank=0, zero_infinity=False):
    """Gradient of the summed CTC loss with respect to the logits, (T, N, C).

    The logits z produced ``log_probs`` through log_softmax. With the posterior of
    class k at frame t, gamma_t(k) = sum_{s: l'_s = k} alpha_t(s) beta_t(s) / (y_t(k) p(l|x)),

        dL/dz_t(k) = y_t(k) - gamma_t(k)       (softmax minus posterior)

    and 0 at frames t >= T_n. A sequence with infinite loss gets NaN, or 0 with
    ``zero_infinity=True`` (as PyTorch). Arguments are those of :func:`ctc_loss`.

    >>> lp = np.log(np.full((2, 1, 2), 0.5))
    >>> ctc_grad(lp, [[1]], [2], [1])[:, 0].round(3).tolist()
    [[0.167, -0.167], [0.167, -0.167]]
    """
    return ctc_loss_and_grad(log_probs, targets, input_lengths, target_lengths, blank,
                             zero_infinity)[1]


def ctc_loss_and_grad(log_probs, targets, input_lengths, target_lengths, blank=0,
                      zero_infinity=False):
    """The per-sequence losses (N,) and :func:`ctc_grad`, from one forward-backward pass.

    Equal to ``(ctc_loss(..., reduction="none"), ctc_grad(...))`` at the cost of one.

    >>> lp = np.log(np.full((2, 1, 2), 0.5))
    >>> loss, grad = ctc_loss_and_grad(lp, [[1]], [2], [1])
    >>> loss.round(3).tolist(), grad.shape
    ([0.288], (2, 1, 2))
    """
    log_probs, targets, input_lengths, target_lengths = _check_inputs(
        log_probs, targets, input_lengths, target_lengths, blank)
    T, N, C = log_probs.shape
    if log_probs.dtype == np.float64:  # probability space (see the section's comment)
        log_p, post, exact = _probability_posteriors(log_probs, targets, input_lengths,
                                                     target_lengths, blank)
    else:  # float32 and below: log space in that dtype
        log_p, post = _log_space_posteriors(log_probs, targets, input_lengths, target_lengths,
                                            blank)
        exact = np.ones(N, bool)
    if not exact.all():  # lost paths or emissions: those sequences again, in log space
        log_p[~exact], post[:, ~exact] = _log_space_posteriors(
            log_probs[:, ~exact], targets[~exact], input_lengths[~exact],
            target_lengths[~exact], blank)
    feasible = np.isfinite(log_p)
    unused = np.arange(T)[:, None] >= input_lengths  # (T, N)
    with np.errstate(over="ignore"):
        grad = np.exp(log_probs)  # y; frames t >= T_n may hold anything: set to 0 below
    # dL/dz_t(k) = y_t(k) - gamma_t(k)
    grad -= _sum_by_label(post, targets, blank, C)
    grad[unused] = 0.0
    grad[:, ~feasible] = 0.0 if zero_infinity else np.nan
    loss = -log_p
    if zero_infinity:
        loss = np.where(feasible, loss, 0.0)
    return loss.astype(log_probs.dtype, copy=False), grad.astype(log_probs.dtype, copy=False)


def _probability_posteriors(log_probs, targets, input_lengths, target_lengths, blank):
    """log p (N,), node posteriors (T, N, L' + 2) and exact (N,), from one probability-space loop.

    beta_t(s) is alpha of the reversed problem (frames and labels reversed within each
    sequence's lengths), run as N more sequences of the same batch. The posterior of a
    node is alpha_t(s) beta_hat_t(s) / p(l|x), beta_hat = beta / y; with rescaled variables
    the scales cancel when each frame's values are divided by their sum, p / (the scales).
    """
    T, N, C = log_probs.shape
    l_ext = extend_target(targets, blank)  # (N, L')
    frames, m, lost_from, floor = _emissions(log_probs, input_lengths, l_ext)
    lost_emission = lost_from < T
    # frames of the N sequences, then of the reversed (kept arrays: see _probability_forward)
    both = _kept("both", T * (2 * N * C + 1)).reshape(T, 2 * N * C + 1)
    both[:, N * C:] = 0.0
    both[:, :N * C] = frames[:, :-1]
    m_both, l_both = np.concatenate([m, m], axis=1), np.concatenate([l_ext, l_ext])
    y, y_reversed = frames[:, :-1].reshape(T, N, C), both[:, N * C:-1].reshape(T, N, C)
    for n, (T_n, L_n) in enumerate(zip(input_lengths, 2 * target_lengths + 1)):
        y_reversed[:T_n, n] = y[T_n - 1::-1, n]
        m_both[:, N + n] = 0.0
        m_both[:T_n, N + n] = m[T_n - 1::-1, n]
        l_both[N + n, :L_n] = l_ext[n, L_n - 1::-1]
    log_p, x, y_rows, exact, lost_rows, log_c = _probability_forward(
        both, m_both, np.tile(lost_from, 2), floor, l_both,
        np.tile(input_lengths, 2), np.tile(target_lengths, 2), blank)
    alpha = _blocks(x, 2 * N)[:, :N]  # (T, N, L' + 2), 0 at t >= T_n and s >= L'_n
    y_ext = _blocks(y_rows, 2 * N)[:, :N]
    beta_hat = _unreverse(_blocks(x, 2 * N)[:, N:], input_lengths, target_lengths,
                          _kept("beta_hat", alpha.size).reshape(alpha.shape))
    np.divide(beta_hat, y_ext, out=beta_hat, where=y_ext > 0)  # beta = 0 where y = 0
    post = np.multiply(alpha, beta_hat, out=_kept("post", alpha.size).reshape(alpha.shape))
    total = post.sum(axis=2)  # (T, N): p divided by the scales of alpha and beta at frame t
    used = np.arange(T)[:, None] < input_lengths
    feasible = np.isfinite(log_p[:N])
    exact = exact[:N] & exact[N:]
    if not exact.all():  # the bound with beta is much tighter than _log_error's
        c_reversed = np.zeros((T, N))  # log c of the reversed problem at the original frames
        for n, T_n in enumerate(input_lengths):
            c_reversed[:T_n, n] = log_c[T_n - 1::-1, N + n]
        if lost_rows is None:
            lost_rows = np.zeros(x.shape, bool)
        lost_beta = _unreverse(_blocks(lost_rows, 2 * N)[:, N:], input_lengths, target_lengths)
        exact |= _certify_pair(_blocks(lost_rows, 2 * N)[:, :N], lost_beta, alpha, beta_hat,
                               y_ext, total, log_c[:, :N], c_reversed) & ~lost_emission
    # a frame's values all near underflow: their rounding is not negligible (rare)
    small = ((total < _TINY / _EPS * alpha.shape[2]) & used).any(axis=0) & feasible
    exact &= ~small
    post /= np.where(total > 0, total, 1.0)[:, :, None]
    return log_p[:N], post, exact


def _unreverse(rows, input_lengths, target_lengths, out=None):
    """Values (T, N, L' + 2) of the reversed problem at the original frames and nodes.

    Row t, node s of sequence n in the reversed problem is frame T_n - 1 - t, node
    L'_n - 1 - s of the original; entries outside the lengths are 0. out: an array for
    them (of the shape and dtype of rows), or None.
    """
    out = np.empty_like(rows) if out is None else out
    out.fill(0)
    for n, (T_n, L_n) in enumerate(zip(input_lengths, 2 * target_lengths + 1)):
        out[:T_n, n, 2:2 + L_n] = rows[T_n - 1::-1, n, 2 + L_n - 1:1:-1]
    return out


def _certify_pair(lost_alpha, lost_beta, alpha, beta_hat, y, total, log_c, log_c_reversed):
    """(N,): the lost variables change p and the posteriors by less than _EPS, bounded with beta.

    A variable lost in alpha at (t, s) is below _TINY (in the units of alpha_t, before or
    after its division by c_t); its share of p is at most that times beta_hat_t(s), which
    is exact if no variable of beta was lost at a later frame and node (nor alpha's, for
    a variable lost in beta): the two lost sets must not interact. Relative to p = total_t
    in these units, summed over the lost variables of both.
    """
    T, N, width = alpha.shape
    t_a, n_a, s_a = np.nonzero(lost_alpha)
    t_b, n_b, s_b = np.nonzero(lost_beta)
    # first frame at which alpha lost a variable at a node <= s (T if none): (N, L' + 2)
    first = np.full((N, width), T)
    np.minimum.at(first, (n_a, s_a), t_a)
    first = np.minimum.accumulate(first, axis=1)
    interact = np.zeros(N, bool)
    interact[n_b[t_b >= first[n_b, s_b]]] = True
    # share of each lost variable: _TINY max(1, 1/c_t) beta_hat (or alpha_hat), over total_t
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        share_a = np.exp(-np.minimum(log_c[t_a, n_a], 0.0)) * beta_hat[t_a, n_a, s_a]
        share_b = (np.exp(-np.minimum(log_c_reversed[t_b, n_b], 0.0))
                   * alpha[t_b, n_b, s_b] / y[t_b, n_b, s_b])
        error = np.zeros(N)
        np.add.at(error, n_a, _TINY * share_a / total[t_a, n_a])  # total = 0 (p = 0): inf
        np.add.at(error, n_b, _TINY * share_b / total[t_b, n_b])
    return ~interact & (error < _EPS)


def _log_space_restart(log_probs, targets, input_lengths, target_lengths, blank, redo, t0,
                       x_before, log_scale):
    """log p(l | x) of the sequences ``redo`` ((N,) bool) by the log-space recursion from t0.

    x_before: (N, L' + 2) x_{t0 - 1} of the probability-space recursion, exact for these
    sequences; log_scale: (t0 or more, N) its log scales (see _probability_log_p).
    """
    n = int(redo.sum())
    with np.errstate(divide="ignore"):
        before = np.log(x_before[redo])  # (n, L' + 2)
    if t0 > 0:
        before += log_scale[t0 - 1, redo][:, None]
    before = np.append(before, [-np.inf, -np.inf]).astype(log_probs.dtype)
    log_y, log_skip = _lattice(log_probs[t0:, redo], targets[redo], blank)
    alpha, _ = _recursion(log_y, log_skip, {}, before)
    return _log_p(alpha, n, input_lengths[redo] - t0, target_lengths[redo])


def _log_space_posteriors(log_probs, targets, input_lengths, target_lengths, blank):
    """log p (N,) and node posteriors (T, N, L' + 2) by the log-space recursion."""
    T, N, C = log_probs.shape
    log_y, log_skip = _lattice(log_probs, targets, blank)
    alpha, beta_hat = _log_alpha_beta(log_y, log_skip, N, input_lengths, target_lengths)
    log_p = _log_p(alpha, N, input_lengths, target_lengths)
    feasible = np.isfinite(log_p)
    unused = np.arange(T)[:, None] >= input_lengths  # (T, N)
    with np.errstate(over="ignore", invalid="ignore"):
        # alpha_t(s) beta_hat_t(s) / p(l|x), (T, N, L' + 2); 0 at guards
        post = _blocks(alpha + beta_hat, N) - np.where(feasible, log_p, 0.0)[:, None]
        np.exp(post, out=post)
    post[unused] = 0.0
    post[:, ~feasible] = 0.0
    return log_p, post


def _sum_by_label(post, targets, blank, C):
    """gamma_t(k) = sum of post_t(s) over the nodes s with l'_s = k: (T, N, L' + 2) -> (T, N, C).

    One batched product with the one-hot matrix of each sequence's labels, (N, L' + 2, C).
    """
    T, N, width = post.shape
    l_ext = extend_target(targets, blank)  # (N, L')
    one_hot = np.zeros((N, width, C), post.dtype)
    one_hot[np.arange(N)[:, None], np.arange(2, width), l_ext] = 1.0  # guards: all zero
    gamma = _kept("gamma", N * T * C, post.dtype).reshape(N, T, C)
    np.matmul(post.transpose(1, 0, 2), one_hot, out=gamma)
    return gamma.transpose(1, 0, 2)

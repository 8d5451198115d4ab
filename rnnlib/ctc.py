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
recursion serves both. Everything is computed in log space, for the whole batch at once:
each frame is one row holding every sequence's lattice, and the loop runs over frames
only (forward and backward variables in the same loop).

Shapes: T frames, N batch, C classes, S target length, L' = 2S + 1 lattice positions.

Decoders (:func:`greedy_decode`, :func:`beam_search`, :func:`prefix_beam_search`) work on
one sequence's (T, C) log-probabilities and return a list of label ids.
"""

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
    if value.size and not np.issubdtype(value.dtype, np.integer):
        raise ValueError(f"{name}: expected integers, got dtype {value.dtype}")
    return value.astype(np.int64)


def _ignore_unused_frames(log_probs, input_lengths):
    """Check the frames t < T_n for NaN and +inf; return log_probs with frames t >= T_n zeroed.

    Frames past a sequence's length are padding and, as in PyTorch, may hold anything
    (NaN included). Zeroing them (in a copy) keeps such values out of the lattice.
    """
    if not np.isnan(log_probs).any() and not (log_probs == np.inf).any():
        return log_probs                          # -inf is a valid log-probability
    used = np.arange(len(log_probs))[:, None] < input_lengths  # (T, N)
    bad = np.argwhere((np.isnan(log_probs) | (log_probs == np.inf)) & used[:, :, None])
    if len(bad):
        raise ValueError(f"log_probs: expected finite values or -inf in the frames "
                         f"t < input_lengths[n], got {log_probs[tuple(bad[0])]} at (t, n, c) = "
                         f"{tuple(bad[0].tolist())}")
    return np.where(used[:, :, None], log_probs, 0.0).astype(log_probs.dtype, copy=False)


def _check_inputs(log_probs, targets, input_lengths, target_lengths, blank):
    """Validate the ctc_loss arguments; return them as arrays with padded (N, S) targets."""
    log_probs = np.asarray(log_probs)
    if log_probs.ndim != 3:
        raise ValueError(f"log_probs: expected shape (T, N, C), got {log_probs.shape}")
    if not np.issubdtype(log_probs.dtype, np.floating):
        raise ValueError(f"log_probs: expected floating point, got dtype {log_probs.dtype}")
    T, N, C = log_probs.shape
    if T == 0 or N == 0 or C == 0:
        raise ValueError(f"log_probs: expected shape (T, N, C) with T, N, C >= 1, "
                         f"got {log_probs.shape}")
    if not 0 <= blank < C:
        raise ValueError(f"blank: expected an index in [0, {C}), got {blank}")
    input_lengths = _check_int_vector("input_lengths", input_lengths, N)
    target_lengths = _check_int_vector("target_lengths", target_lengths, N)
    if ((input_lengths < 1) | (input_lengths > T)).any():
        raise ValueError(f"input_lengths: expected values in [1, T={T}], "
                         f"got {input_lengths.tolist()}")
    log_probs = _ignore_unused_frames(log_probs, input_lengths)
    if (target_lengths < 0).any():
        raise ValueError(f"target_lengths: expected values >= 0, got {target_lengths.tolist()}")

    targets = np.asarray(targets)
    if targets.size and not np.issubdtype(targets.dtype, np.integer):
        raise ValueError(f"targets: expected integers, got dtype {targets.dtype}")
    targets = targets.astype(np.int64)
    S = int(target_lengths.max(initial=0))
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
        padded = targets[:, :S].copy()
    else:
        raise ValueError(f"targets: expected shape (N, S) or (sum(target_lengths),), "
                         f"got {targets.shape}")
    valid = np.arange(S) < target_lengths[:, None]  # (N, S)
    if ((padded < 0) | (padded >= C))[valid].any():
        raise ValueError(f"targets: expected class ids in [0, {C}), got {padded[valid].tolist()}")
    if (padded == blank)[valid].any():
        raise ValueError(f"targets: must not contain the blank index {blank}")
    padded[~valid] = blank
    return log_probs, padded, input_lengths, target_lengths


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


def _recursion(log_y, log_skip, starts):
    """The CTC recursion over rows, in log space; returns (x, x_hat), both (T, W).

        x_hat_t(j) = x_{t-1}(j) + x_{t-1}(j-1) + [skip_j] x_{t-1}(j-2),    x_t(j) = y_t(j) x_hat_t(j)

    log_y: (T, W); log_skip: (W,) log [skip_j]; starts: {t: columns} where a sequence
    begins at frame t with x_hat_t = 1 (whatever the recursion gave there).
    """
    T, W = log_y.shape
    x = np.full((T + 1, W), -np.inf, log_y.dtype)  # row 0: a virtual frame before the first
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
    log_probs, targets, input_lengths, target_lengths = _check_inputs(
        log_probs, targets, input_lengths, target_lengths, blank)
    N = log_probs.shape[1]
    log_y, log_skip = _lattice(log_probs, targets, blank)
    loss = -_log_p(_log_alpha(log_y, log_skip, N), N, input_lengths, target_lengths)
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
    log_y, log_skip = _lattice(log_probs, targets, blank)
    alpha, beta_hat = _log_alpha_beta(log_y, log_skip, N, input_lengths, target_lengths)
    log_p = _log_p(alpha, N, input_lengths, target_lengths)
    feasible = np.isfinite(log_p)
    # frames t >= T_n hold meaningless values (padding may even overflow): set to 0 below
    unused = np.arange(T)[:, None] >= input_lengths  # (T, N)
    with np.errstate(over="ignore", invalid="ignore"):
        # posterior of node (t, s): alpha_t(s) beta_hat_t(s) / p(l|x), (T, N, L' + 2); 0 at guards
        post = _blocks(alpha + beta_hat, N) - np.where(feasible, log_p, 0.0)[:, None]
        np.exp(post, out=post)
        post[unused] = 0.0
        y = np.exp(log_probs)
    # dL/dz_t(k) = y_t(k) - gamma_t(k)
    grad = y - _sum_by_label(post, targets, blank, C)
    grad[unused] = 0.0
    grad[:, ~feasible] = 0.0 if zero_infinity else np.nan
    loss = -log_p
    if zero_infinity:
        loss = np.where(feasible, loss, 0.0)
    return loss.astype(log_probs.dtype), grad.astype(log_probs.dtype)


def _sum_by_label(post, targets, blank, C):
    """gamma_t(k) = sum of post_t(s) over the nodes s with l'_s = k: (T, N, L' + 2) -> (T, N, C).

    One batched product with the one-hot matrix of each sequence's labels, (N, L' + 2, C).
    """
    T, N, width = post.shape
    l_ext = extend_target(targets, blank)  # (N, L')
    one_hot = np.zeros((N, width, C), post.dtype)
    one_hot[np.arange(N)[:, None], np.arange(2, width), l_ext] = 1.0  # guards: all zero
    gamma = np.matmul(post.transpose(1, 0, 2), one_hot)  # (N, T, C)
    return gamma.transpose(1, 0, 2)

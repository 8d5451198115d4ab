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
recursion serves both. Everything is computed in log space.

Shapes: T frames, N batch, C classes, S target length, L' = 2S + 1 lattice positions.

Decoders (:func:`greedy_decode`, :func:`beam_search`, :func:`prefix_beam_search`) work on
one sequence's (T, C) log-probabilities and return a list of label ids.
"""

import numpy as np

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
        ends = np.cumsum(target_lengths)
        padded = np.full((N, S), blank, dtype=np.int64)
        for n, (start, end) in enumerate(zip(ends - target_lengths, ends)):
            padded[n, : end - start] = targets[start:end]
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


def _log_alpha(log_y, skip):
    """Forward recursion in log space over the whole lattice, looping over time only.

    log_y: (T, N, L') log y_t(l'_s); skip: (N, L') bool. Returns log alpha, (T, N, L').
    """
    T, N, L = log_y.shape
    # log weight of the three predecessors s, s-1, s-2: 0, 0, and 0 or -inf (no skip)
    log_w = np.zeros((3, N, L), dtype=log_y.dtype)
    log_w[2][~skip] = -np.inf
    # two always -inf columns in front, so s - 1 and s - 2 are plain slices
    alpha = np.full((T, N, L + 2), -np.inf, dtype=log_y.dtype)
    alpha[0, :, 2:4] = log_y[0, :, :2]
    floor = np.finfo(log_y.dtype).min  # keeps a - max finite when all three are -inf
    with np.errstate(divide="ignore"):
        for t in range(1, T):
            prev = alpha[t - 1]
            a = np.stack([prev[:, 2:], prev[:, 1:-1], prev[:, :-2]]) + log_w  # (3, N, L')
            m = np.maximum(a.max(axis=0), floor)
            # alpha_t(s) = y_t(l'_s) (alpha_{t-1}(s) + alpha_{t-1}(s-1) + [skip_s] alpha_{t-1}(s-2))
            alpha[t, :, 2:] = np.log(np.exp(a - m).sum(axis=0)) + m + log_y[t]
    return alpha[:, :, 2:]


class _Lattice:
    """Forward and backward variables of a batch, in log space.

    Attributes: l_ext (N, L'), log_y (T, N, L'), log_alpha and log_beta (T, N, L'),
    log_p (N,) = log p(l | x). Entries at t >= T_n or s >= L'_n are meaningless.
    beta follows Graves's convention and includes y_t(l'_s), so
    alpha_t(s) beta_t(s) / y_t(l'_s) is the probability of the paths through (t, s).
    """

    def __init__(self, log_probs, targets, input_lengths, target_lengths, blank, beta=True):
        T, N, C = log_probs.shape
        n = np.arange(N)[:, None]
        self.l_ext = extend_target(targets, blank)  # (N, L')
        L = self.l_ext.shape[1]
        L_n = 2 * target_lengths + 1
        self.log_y = log_probs[:, n, self.l_ext]  # (T, N, L')
        if not beta:
            self.log_alpha = _log_alpha(self.log_y, _skip_allowed(self.l_ext, blank))
        else:
            # beta_t(s) = alpha of the reversed problem at (T_n - 1 - t, L'_n - 1 - s);
            # both problems run as one batch of 2N
            t_rev = np.clip(input_lengths - 1 - np.arange(T)[:, None], 0, None)  # (T, N)
            s_rev = np.clip(L_n[:, None] - 1 - np.arange(L), 0, None)  # (N, L')
            l_rev = np.where(np.arange(L) < L_n[:, None], self.l_ext[n, s_rev], blank)
            log_y_rev = log_probs[t_rev[:, :, None], n, l_rev]  # (T, N, L')
            both = _log_alpha(np.concatenate([self.log_y, log_y_rev], axis=1),
                              _skip_allowed(np.concatenate([self.l_ext, l_rev]), blank))
            self.log_alpha, log_alpha_rev = both[:, :N], both[:, N:]
            self.log_beta = log_alpha_rev[t_rev[:, :, None], n, s_rev]

        # p(l | x) = alpha_T(L' - 1) + alpha_T(L' - 2)
        last = self.log_alpha[input_lengths - 1, np.arange(N)]  # (N, L')
        end = last[np.arange(N), L_n - 1]
        end_label = np.where(L_n > 1, last[np.arange(N), np.maximum(L_n - 2, 0)], -np.inf)
        self.log_p = np.logaddexp(end, end_label)


def ctc_alpha(log_probs, target, blank=0):
    """Log forward variables of one sequence: the (T, 2S + 1) alignment lattice.

    log_probs: (T, C) log-probabilities; target: (S,) label ids.
    Entry [t, s] is log alpha_t(s), the log-probability of all path prefixes
    pi_1..pi_t that collapse to the first labels of l and end in l'_s.

    >>> lp = np.log(np.full((2, 2), 0.5))
    >>> np.exp(ctc_alpha(lp, [1])).round(3).tolist()
    [[0.5, 0.5, 0.0], [0.25, 0.5, 0.25]]
    """
    lattice = _one_sequence(log_probs, target, blank)
    return lattice.log_alpha[:, 0]


def ctc_beta(log_probs, target, blank=0):
    """Log backward variables of one sequence, (T, 2S + 1).

    Entry [t, s] is log beta_t(s), the log-probability of all path suffixes
    pi_t..pi_T that start in l'_s and complete the labelling (y_t(l'_s) included).

    >>> lp = np.log(np.full((2, 2), 0.5))
    >>> np.exp(ctc_beta(lp, [1])).round(3).tolist()
    [[0.25, 0.5, 0.25], [0.0, 0.5, 0.5]]
    """
    lattice = _one_sequence(log_probs, target, blank)
    return lattice.log_beta[:, 0]


def _one_sequence(log_probs, target, blank):
    log_probs = np.asarray(log_probs)
    if log_probs.ndim != 2:
        raise ValueError(f"log_probs: expected shape (T, C), got {log_probs.shape}")
    if log_probs.shape[0] == 0:
        raise ValueError(f"log_probs: expected T >= 1 frames, got shape {log_probs.shape}")
    target = np.asarray(target, dtype=np.int64).reshape(1, -1)
    args = _check_inputs(log_probs[:, None], target, [len(log_probs)], [target.shape[1]], blank)
    return _Lattice(*args, blank)


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
    loss = -_Lattice(log_probs, targets, input_lengths, target_lengths, blank, beta=False).log_p
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
    lat = _Lattice(log_probs, targets, input_lengths, target_lengths, blank)
    feasible = np.isfinite(lat.log_p)
    log_p = np.where(feasible, lat.log_p, 0.0)
    # posterior of lattice node (t, s): alpha_t(s) beta_t(s) / (y_t(l'_s) p(l|x))
    with np.errstate(invalid="ignore"):
        log_post = lat.log_alpha + lat.log_beta - lat.log_y - log_p[:, None]
    post = np.exp(log_post)
    post[np.isnan(post)] = 0.0  # -inf - (-inf) where y_t(l'_s) = 0
    post[:, np.arange(post.shape[2]) >= 2 * target_lengths[:, None] + 1] = 0.0
    # gamma_t(k): sum the nodes labelled k, i.e. add post[t, n, s] into gamma[t, n, l'_s]
    index = np.arange(T * N).reshape(T, N, 1) * C + lat.l_ext  # (T, N, L') flat (t, n, l'_s)
    gamma = np.bincount(index.ravel(), post.ravel(), minlength=T * N * C).reshape(T, N, C)
    # dL/dz_t(k) = y_t(k) - gamma_t(k)
    grad = np.exp(log_probs) - gamma
    grad[np.arange(T)[:, None] >= input_lengths] = 0.0
    grad[:, ~feasible] = 0.0 if zero_infinity else np.nan
    loss = -lat.log_p
    if zero_infinity:
        loss = np.where(feasible, loss, 0.0)
    return loss.astype(log_probs.dtype), grad.astype(log_probs.dtype)

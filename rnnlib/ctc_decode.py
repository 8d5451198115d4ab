"""CTC decoders: turn one sequence's (T, C) log-probabilities into a labelling.

All decoders return a list of label ids (blanks removed, repeats merged), and are
re-exported by :mod:`rnnlib.ctc`.

- :func:`greedy_decode`: the most probable class at every frame, collapsed. Finds the
  most probable *path*, not the most probable *labelling*.
- :func:`beam_search`: keeps the ``beam_width`` most probable frame paths and collapses
  the best one at the end. Without a language model this *is* greedy decoding, whatever
  the width: a path's score is a sum of per-frame terms, so the greedy path is the best
  of all paths of every length and is never pruned, and it is the best one at the end.
- :func:`prefix_beam_search`: keeps the ``beam_width`` most probable *labellings*
  (prefixes), each with the probability of all paths collapsing to it, split into
  paths ending in a blank (p_b) and in a label (p_nb). Without pruning it is exact.
  With a language model ``lm`` it maximises ``p_CTC(l) p_LM(l)^alpha exp(beta |l|)``
  (shallow fusion, Hannun et al. 2014): each new label is weighted by
  p_LM(label | prefix)^alpha and earns a bonus of beta nats.
"""

import numpy as np

__all__ = ["collapse", "greedy_decode", "beam_search", "prefix_beam_search"]


def _check_decoder_inputs(log_probs, blank, beam_width=1):
    log_probs = np.asarray(log_probs)
    if log_probs.ndim != 2:
        raise ValueError(f"log_probs: expected shape (T, C), got {log_probs.shape}")
    if not np.issubdtype(log_probs.dtype, np.floating) or np.isnan(log_probs).any():
        raise ValueError(f"log_probs: expected floating point values without NaN, "
                         f"got dtype {log_probs.dtype}")
    if not 0 <= blank < log_probs.shape[1]:
        raise ValueError(f"blank: expected an index in [0, {log_probs.shape[1]}), got {blank}")
    if int(beam_width) != beam_width or beam_width < 1:
        raise ValueError(f"beam_width: expected an integer >= 1, got {beam_width}")
    return log_probs


def collapse(path, blank=0):
    """The collapse map B: merge repeated labels, then drop blanks.

    >>> collapse([1, 1, 0, 1, 2, 2, 0], blank=0)
    [1, 1, 2]
    """
    path = np.asarray(path, dtype=np.int64)
    # keep the first frame of every run of equal labels, then drop the blank runs
    first_of_run = np.ones(len(path), dtype=bool)
    first_of_run[1:] = path[1:] != path[:-1]
    return path[first_of_run & (path != blank)].tolist()


def greedy_decode(log_probs, blank=0):
    """Collapse the frame-wise argmax path, B(argmax_k y_t(k) for t = 1..T).

    log_probs: (T, C). Returns a list of label ids.

    >>> lp = np.log([[.1, .8, .1], [.1, .8, .1], [.8, .1, .1], [.1, .8, .1], [.1, .1, .8]])
    >>> greedy_decode(lp, blank=0)
    [1, 1, 2]
    """
    log_probs = _check_decoder_inputs(log_probs, blank)
    return collapse(log_probs.argmax(axis=1), blank)


def beam_search(log_probs, beam_width, blank=0):
    """Path beam search: the best of ``beam_width`` frame paths, collapsed at the end.

    At each frame every kept path pi_{1..t-1} is extended by every class k, scored by
    log p(pi) = sum_t log y_t(pi_t), and the ``beam_width`` best survive.

    Without a language model the result equals :func:`greedy_decode` at every width:
    the score is a sum of per-frame terms, so the greedy prefix pi*_{1..t} is the best of
    all length-t prefixes, is always kept, and is the best complete path at the end.
    (The beam matters only once a score couples frames, e.g. a language model.)

    log_probs: (T, C). Returns a list of label ids.

    >>> lp = np.log([[.4, .6], [.4, .6], [.9, .1]])
    >>> beam_search(lp, beam_width=3, blank=0)
    [1]
    """
    log_probs = _check_decoder_inputs(log_probs, blank, beam_width)
    T, C = log_probs.shape
    score = np.zeros(1)  # (K,) log p of each kept path
    parents, labels = [], []
    for t in range(T):
        # log p(pi + k) = log p(pi) + log y_t(k)
        candidates = (score[:, None] + log_probs[t]).ravel()  # (K * C,)
        best = np.argsort(-candidates, kind="stable")[:beam_width]
        parent, label = np.divmod(best, C)
        parents.append(parent)
        labels.append(label)
        score = candidates[best]
    # follow the back-pointers of the best path
    path, k = [], 0
    for parent, label in zip(reversed(parents), reversed(labels)):
        path.append(label[k])
        k = parent[k]
    return collapse(path[::-1], blank)


def prefix_beam_search(log_probs, beam_width, blank=0, lm=None, alpha=1.0, beta=0.0):
    """Prefix beam search: the most probable labelling among ``beam_width`` prefixes.

    Each prefix l keeps p_b(l) and p_nb(l), the probabilities of the paths so far that
    collapse to l and end in a blank or in a label. At frame t, with y = y_t::

        p_b'(l)      = y(-) (p_b(l) + p_nb(l))
        p_nb'(l)     = y(l_last) p_nb(l)                          (repeat, collapses)
        p_nb'(l + k) = y(k) (p_b(l) + [k != l_last] p_nb(l)) w(k | l)   (new label k)

    and extensions that equal a kept prefix are added to it. Without a language model
    w = 1; with one, w(k | l) = p_LM(k | l)^alpha, so every path of l carries the factor
    p_LM(l)^alpha (Hannun et al. 2014). The ``beam_width`` prefixes with the largest
    ``(p_b + p_nb) exp(beta |l|)`` survive, and the labelling returned maximises::

        (p_b(l) + p_nb(l)) p_LM(end | l)^alpha e^{beta |l|} = p_CTC(l) p_LM(l)^alpha e^{beta |l|}

    over the final prefixes. With a beam as wide as the number of labellings nothing is
    pruned and that is the exact maximiser. The length bonus counters the language
    model's pull towards short labellings (every label multiplies by a probability < 1).
    Hannun et al. write it ``|W|^beta`` with ``|W|`` the number of *words*; per label, a bonus
    of beta nats is the usual form (a factor ``|l|^beta`` would give the empty prefix score
    0, and a beam ranked by it would drop every path that begins with a blank).

    Args:
        log_probs: (T, C) log-probabilities of one sequence.
        beam_width: K, the number of prefixes kept after each frame.
        blank: the blank's class id.
        lm: None, or a callable ``lm(prefix) -> (C,)`` log-probabilities of the next label
            given ``prefix`` (a tuple of label ids), whose blank entry is log p(end | prefix);
            e.g. :class:`rnnlib.charlm.CharNGram`.
        alpha: the language model's weight (used only with ``lm``).
        beta: the length bonus in nats per label (``|l|`` is the number of labels).

    Returns a list of label ids.

    >>> lp = np.log([[.4, .6], [.4, .6], [.9, .1]])
    >>> prefix_beam_search(lp, beam_width=4, blank=0)
    [1]
    """
    log_probs = _check_decoder_inputs(log_probs, blank, beam_width)
    T, C = log_probs.shape
    for name, value in (("alpha", alpha), ("beta", beta)):
        if not np.isfinite(value):
            raise ValueError(f"{name}: expected a finite number, got {value}")
    if lm is not None and not callable(lm):
        raise ValueError(f"lm: expected None or a callable prefix -> (C,) log-probabilities, "
                         f"got {type(lm).__name__}")
    is_blank = np.arange(C) == blank

    def lm_log_probs(prefixes):  # (K, C): alpha log p_LM(k | prefix)
        if lm is None:
            return np.zeros((len(prefixes), C))
        out = np.stack([np.asarray(lm(p), dtype=float) for p in prefixes])
        if out.shape != (len(prefixes), C):
            raise ValueError(f"lm: expected (C,) = ({C},) log-probabilities per prefix, "
                             f"got shape {out.shape[1:]}")
        return alpha * out

    def length_bonus(lengths):  # log e^{beta |l|}
        return beta * np.asarray(lengths, dtype=float)

    prefixes = [()]
    log_pb = np.array([0.0])  # (K,)
    log_pnb = np.array([-np.inf])  # (K,)
    for t in range(T):
        y = log_probs[t]
        K = len(prefixes)
        last = np.array([p[-1] if p else -1 for p in prefixes])  # (K,)
        log_p = np.logaddexp(log_pb, log_pnb)
        # p_b'(l) = y(-) (p_b(l) + p_nb(l))
        stay_b = y[blank] + log_p
        # p_nb'(l) = y(l_last) p_nb(l)
        stay_nb = np.where(last >= 0, y[last] + log_pnb, -np.inf)
        # p_nb'(l + k) = y(k) (p_b(l) + [k != l_last] p_nb(l)) p_LM(k | l)^alpha
        repeat = np.arange(C) == last[:, None]  # (K, C)
        extend = y + np.where(repeat, log_pb[:, None], log_p[:, None]) + lm_log_probs(prefixes)
        extend[:, is_blank] = -np.inf
        # an extension l + k that is itself a kept prefix adds to that prefix
        index = {p: k for k, p in enumerate(prefixes)}
        for j, p in enumerate(prefixes):
            i = index.get(p[:-1]) if p else None
            if i is not None:
                stay_nb[j] = np.logaddexp(stay_nb[j], extend[i, p[-1]])
                extend[i, p[-1]] = -np.inf
        # the beam_width best among the K kept prefixes and the K * C extensions,
        # ranked by (p_b + p_nb) e^{beta |l|}; only prefixes with some probability are kept
        total = np.concatenate([np.logaddexp(stay_b, stay_nb), extend.ravel()])
        lengths = np.concatenate([[len(p) for p in prefixes],
                                  np.repeat([len(p) + 1 for p in prefixes], C)])
        order = np.argsort(-(total + length_bonus(lengths)), kind="stable")
        alive = order[np.isfinite(total[order])][:beam_width]
        best = alive if len(alive) else order[:1]
        stays, extensions = best[best < K], best[best >= K] - K
        i, k = np.divmod(extensions, C)
        prefixes = [prefixes[j] for j in stays] + [prefixes[a] + (b,) for a, b in zip(i, k)]
        log_pb = np.concatenate([stay_b[stays], np.full(len(extensions), -np.inf)])
        log_pnb = np.concatenate([stay_nb[stays], extend[i, k]])
    # p_CTC(l) p_LM(l)^alpha e^{beta |l|}: close each labelling with the LM's end probability
    score = (np.logaddexp(log_pb, log_pnb) + lm_log_probs(prefixes)[:, blank]
             + length_bonus([len(p) for p in prefixes]))
    best = int(np.argmax(score))
    return [int(k) for k in prefixes[best]]

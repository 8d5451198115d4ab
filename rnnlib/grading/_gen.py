"""Random inputs shared by the exercise specs."""


def cell_params(rng, D, H, G=1, scale=0.6):
    """A cell's ``weight_ih`` (G*H, D), ``weight_hh`` (G*H, H), ``bias_ih``, ``bias_hh`` (G*H,).

    Every entry is drawn independently, so a mistake (a missing bias, a swapped gate
    block, a transpose) changes the output.
    """
    return {
        "weight_ih": rng.normal(0, scale, (G * H, D)),
        "weight_hh": rng.normal(0, scale, (G * H, H)),
        "bias_ih": rng.normal(0, scale, (G * H,)),
        "bias_hh": rng.normal(0, scale, (G * H,)),
    }


def shape_grid(rng, full, edge, n_random, ranges):
    """Edge-case sizes first, then ``n_random`` random ones (all with ``full``; two without).

    ``edge``: list of (label, dict of sizes); ``ranges``: {size name: (low, high)}.
    """
    out = list(edge)
    for _ in range(n_random if full else 0):
        sizes = {k: int(rng.integers(lo, hi + 1)) for k, (lo, hi) in ranges.items()}
        out.append((", ".join(f"{k}={v}" for k, v in sizes.items()), sizes))
    return out if full else out[:2]

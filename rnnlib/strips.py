"""Digit strips: images of short digit strings, rendered with matplotlib, for CTC.

A strip is a grey-level image of height ``H`` and width ``W`` (ink = 1, paper = 0) showing
a string of digits written left to right. A recogniser reads it column by column, so the
image is a sequence of ``W`` frames of ``H`` features each, and the label is the digit
string: an unsegmented sequence task of the kind CTC is made for.

Glyphs are rendered once by matplotlib's Agg backend from the DejaVu fonts shipped with
matplotlib (sans, serif, mono; regular, bold, oblique), so nothing is downloaded. Strips
are then assembled in NumPy: glyphs of random styles, random gaps between them, a small
vertical jitter, a random left margin and Gaussian noise. Everything random comes from the
``rng`` passed in, so the same seed gives the same strips.

- :func:`render_glyphs` -- the glyph bank, ``glyphs[d]`` is a list of (H, w) images of digit d.
- :func:`make_strip` -- one strip from a digit list.
- :func:`digit_strips` -- a batch of random strips with their labels.
- :func:`markov_digits` -- digit strings from a Markov chain: label text with structure,
  for a language model to learn.

Axis letters: N strips, H pixel rows, W pixel columns (= frames), S digits per strip.

>>> rng = np.random.default_rng(0)
>>> images, labels = digit_strips(4, rng)
>>> images.shape, images.dtype, [len(l) for l in labels]
((4, 20, 96), dtype('float32'), [6, 6, 5, 6])
"""

from __future__ import annotations

import functools

import numpy as np

__all__ = ["FONTS", "render_glyphs", "make_strip", "digit_strips", "markov_digits",
           "labels_to_string"]

# (family, weight, style): the glyph styles of the bank
FONTS = tuple(
    (family, weight, style)
    for family in ("DejaVu Sans", "DejaVu Serif", "DejaVu Sans Mono")
    for weight in ("normal", "bold")
    for style in ("normal", "oblique")
)


@functools.lru_cache(maxsize=8)
def _glyph_bank(height: int, fonts: tuple) -> tuple:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    dpi = 100
    size = 3 * height  # render on a square canvas with room for oblique glyphs
    bank = []
    for digit in "0123456789":
        variants = []
        for family, weight, style in fonts:
            fig = Figure(figsize=(size / dpi, height / dpi), dpi=dpi)
            canvas = FigureCanvasAgg(fig)
            # the font size (points) that makes the digits about 0.7 H pixels tall
            fig.text(0.5, 0.15, digit, family=family, weight=weight, style=style,
                     fontsize=0.7 * height * 72 / dpi / 0.73, ha="center", va="baseline")
            canvas.draw()
            rgba = np.asarray(canvas.buffer_rgba())  # (H, size, 4)
            ink = 1.0 - rgba[..., 0].astype(np.float32) / 255.0  # (H, size)
            cols = np.flatnonzero(ink.max(axis=0) > 0.05)
            variants.append(ink[:, cols[0]: cols[-1] + 1].copy())  # crop to the inked columns
        bank.append(tuple(variants))
    return tuple(bank)


def render_glyphs(height: int = 20, fonts: tuple = FONTS) -> list[list[np.ndarray]]:
    """Render the digits 0-9 in every font style of ``fonts``.

    Returns ``glyphs`` with ``glyphs[d][k]`` a float32 (height, w) image of digit d in
    style k, ink = 1, cropped to its inked columns (w varies, about 0.4-0.7 height).
    The bank is cached; the arrays returned are copies.
    """
    if height < 8:
        raise ValueError(f"height: expected at least 8 pixels, got {height}")
    return [[g.copy() for g in variants] for variants in _glyph_bank(int(height), tuple(fonts))]


def make_strip(digits, rng: np.random.Generator, height: int = 20, width: int = 96,
               gap=(1, 4), jitter: int = 2, noise: float = 0.1) -> np.ndarray:
    """Render one strip showing ``digits`` left to right.

    Args:
        digits: sequence of ints in 0..9, length S >= 0.
        rng: the NumPy generator all randomness comes from.
        height, width: strip size (H, W) in pixels.
        gap: (low, high) inclusive range of blank columns between two glyphs; a negative
            gap makes neighbouring glyphs overlap (ink is combined by maximum).
        jitter: each glyph is shifted up or down by up to this many pixels.
        noise: standard deviation of the Gaussian noise added to every pixel.

    Returns:
        (H, W) float32 image, ink about 1, paper about 0 (clipped to [0, 1]).

    Raises ValueError when a digit is out of range or the glyphs do not fit in ``width``.
    """
    digits = [int(d) for d in digits]
    if any(not 0 <= d <= 9 for d in digits):
        raise ValueError(f"digits: expected values in 0..9, got {digits}")
    bank = _glyph_bank(int(height), FONTS)
    glyphs = [bank[d][rng.integers(len(bank[d]))] for d in digits]
    gaps = rng.integers(gap[0], gap[1] + 1, size=max(len(digits) - 1, 0))
    used = sum(g.shape[1] for g in glyphs) + int(gaps.sum())
    if used > width:
        raise ValueError(f"width: {len(digits)} glyphs need {used} columns, got width={width}")
    image = np.zeros((height, width), dtype=np.float32)
    x = int(rng.integers(0, width - used + 1))  # random left margin
    for k, glyph in enumerate(glyphs):
        shift = int(rng.integers(-jitter, jitter + 1))
        w = glyph.shape[1]
        image[:, x: x + w] = np.maximum(image[:, x: x + w], np.roll(glyph, shift, axis=0))
        x += w + (int(gaps[k]) if k < len(gaps) else 0)
    image += rng.normal(0.0, noise, size=image.shape).astype(np.float32)
    return np.clip(image, 0.0, 1.0)


def _check_lengths(min_len, max_len):
    if not 1 <= min_len <= max_len:
        raise ValueError(f"min_len, max_len: expected 1 <= min_len <= max_len, "
                         f"got {min_len}, {max_len}")


def markov_digits(n: int, rng: np.random.Generator, transitions, min_len: int = 3,
                  max_len: int = 6) -> list[np.ndarray]:
    """``n`` digit strings whose digits follow a Markov chain.

    The length is uniform in ``min_len..max_len``, the first digit uniform in 0..9, and
    each next digit d' after d is drawn with probability ``transitions[d, d']``.

    Args:
        transitions: (10, 10) array, each row a probability distribution.

    Returns a list of n int64 arrays of shape (S_n,).

    >>> stay = np.eye(10)  # every digit is followed by itself
    >>> [labels_to_string(l) for l in markov_digits(2, np.random.default_rng(0), stay, 3, 3)]
    ['888', '666']
    """
    _check_lengths(min_len, max_len)
    transitions = np.asarray(transitions, dtype=float)
    if transitions.shape != (10, 10) or (transitions < 0).any() \
            or not np.allclose(transitions.sum(axis=1), 1.0):
        raise ValueError(f"transitions: expected a (10, 10) array of rows summing to 1, "
                         f"got shape {transitions.shape}")
    cumulative = np.cumsum(transitions, axis=1)
    strings = []
    for _ in range(n):
        length = int(rng.integers(min_len, max_len + 1))
        digits = [int(rng.integers(10))]
        for u in rng.random(length - 1):
            digits.append(min(int(np.searchsorted(cumulative[digits[-1]], u, side="right")), 9))
        strings.append(np.array(digits, dtype=np.int64))
    return strings


def digit_strips(n: int, rng: np.random.Generator, min_len: int = 3, max_len: int = 6,
                 height: int = 20, width: int = 96, transitions=None, **strip_kwargs):
    """A batch of ``n`` random strips of ``min_len`` to ``max_len`` digits.

    The digits are uniform and independent, or, with ``transitions`` (a (10, 10) array of
    row distributions), drawn by :func:`markov_digits`.

    Returns:
        images: (N, H, W) float32; labels: list of N int64 arrays, labels[n] has shape (S_n,).

    Extra keyword arguments go to :func:`make_strip`. Repeated digits (e.g. "1 1") occur
    naturally, which is the case CTC's blank is needed for.
    """
    _check_lengths(min_len, max_len)
    images = np.empty((n, height, width), dtype=np.float32)
    labels = []
    for i in range(n):
        if transitions is None:
            digits = rng.integers(0, 10, size=int(rng.integers(min_len, max_len + 1)))
        else:
            (digits,) = markov_digits(1, rng, transitions, min_len, max_len)
        images[i] = make_strip(digits, rng, height=height, width=width, **strip_kwargs)
        labels.append(digits.astype(np.int64))
    return images, labels


def labels_to_string(labels) -> str:
    """Digit ids to a string, e.g. ``[3, 1, 1]`` -> ``"311"``."""
    return "".join(str(int(d)) for d in labels)

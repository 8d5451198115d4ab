"""Input validation shared by the NumPy modules.

Every public entry point checks what it is given and raises ``ValueError`` whose
message names the argument, the expected shape and the received one, e.g.::

    x must have shape (T, B, D) = (*, *, 4), got (5, 2, 3)

A ``*`` in the expected shape means "any size".
"""

from __future__ import annotations

import numbers

import numpy as np


def format_shape(expected):
    """Render an expected shape, ``None`` entries as ``*``: ``(None, 4)`` -> ``'(*, 4)'``."""
    parts = ["*" if n is None else str(n) for n in expected]
    return "(" + ", ".join(parts) + (",)" if len(parts) == 1 else ")")


def check_array(name, value, expected, axes, dtype=None):
    """Return ``value`` as a finite NumPy array of the expected shape.

    Parameters
    ----------
    name : str
        The argument's name, used in error messages.
    value : array_like
        What the caller passed.
    expected : tuple of int or None
        Expected shape; ``None`` accepts any size along that axis.
    axes : str
        The axis letters, e.g. ``"(B, D)"``, shown in the message.
    dtype : numpy dtype, optional
        Convert to this floating dtype.

    >>> check_array("x", np.zeros((2, 3)), (None, 3), "(B, D)").shape
    (2, 3)
    >>> check_array("x", np.zeros((2, 4)), (None, 3), "(B, D)")
    Traceback (most recent call last):
    ...
    ValueError: x must have shape (B, D) = (*, 3), got (2, 4)
    """
    try:
        arr = np.asarray(value)
    except Exception as exc:  # e.g. ragged nested lists
        raise ValueError(f"{name} must be an array of shape {axes}, "
                         f"could not convert it: {exc}") from None
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    ok = arr.ndim == len(expected) and all(
        e is None or e == n for e, n in zip(expected, arr.shape))
    if not ok:
        raise ValueError(f"{name} must have shape {axes} = {format_shape(expected)}, "
                         f"got {tuple(arr.shape)}")
    if dtype is not None:
        arr = arr.astype(dtype, copy=False)
    check_finite(name, arr)
    return arr


def check_finite(name, arr):
    """Raise ``ValueError`` if ``arr`` holds a NaN or an infinity, saying where."""
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        where = tuple(int(i) for i in np.argwhere(~np.isfinite(arr))[0])
        raise ValueError(f"{name} of shape {tuple(arr.shape)} must be finite, "
                         f"got {arr[where]} at index {where}")


def check_size(name, value, minimum=1):
    """Return ``value`` as an int >= ``minimum``, or raise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def check_choice(name, value, choices):
    """Return ``value`` if it is one of ``choices``, else raise ``ValueError``."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {sorted(choices)}, got {value!r}")
    return value


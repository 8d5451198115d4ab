"""Values on the wire between the grader and the process running a submission.

Everything crosses as JSON through :func:`encode` / :func:`decode` (arrays as flat lists
with their dtype and shape): never pickle. :func:`decode` is strict and bounded, since a
message from the submission's process may be forged: a malformed value raises
:class:`DecodeError`, and no decoded value holds more than ``MAX_ITEMS`` numbers.

This module holds no reference solution; it is copied next to the submission.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["EncodeError", "DecodeError", "Ref", "Fn", "encode", "decode", "MAX_ITEMS"]


class EncodeError(TypeError):
    """A value that cannot be sent (a module, a generator, a complex array, ...)."""


class DecodeError(ValueError):
    """A message that is not a well-formed value."""


_DTYPES = {"float64", "float32", "float16", "int64", "int32", "int16", "int8",
           "uint8", "bool"}
_MAX_DEPTH = 20
MAX_ARRAY_SIZE = 200_000   # entries per array sent back (the grader's inputs are small)
MAX_ITEMS = 400_000        # numbers and strings in one decoded value, all parts together


@dataclass(frozen=True)
class Ref:
    """An argument naming a value kept in the submission's process by an earlier call."""
    name: str


@dataclass(frozen=True)
class Fn:
    """An argument that is a function of the grader's, evaluated in the grader's process.

    ``target`` names ``"rnnlib.grading.module:attr"``; the function is called as
    ``attr(x..., *args)``. In the submission's process it is a stub that asks the grader.
    """
    target: str
    args: tuple = ()

    def resolve(self):
        import importlib
        if self.target.count(":") != 1:
            raise DecodeError(f"malformed function name {self.target!r}")
        module, attr = self.target.split(":")
        if not module.startswith("rnnlib.grading."):
            raise DecodeError(f"function {self.target!r} is not the grader's")
        fn, extra = getattr(importlib.import_module(module), attr), self.args

        def f(*args):
            return fn(*args, *extra)
        return f

    def __call__(self, *args, **kwargs):
        return self.resolve()(*args, **kwargs)


def encode(value, fn_handle=None, _depth=0):
    """A JSON-ready form of ``value``: arrays, numbers, strings, lists, tuples, str-keyed dicts.

    ``fn_handle(fn) -> str`` names an :class:`Fn` argument on the wire (grader side only).
    """
    if _depth > _MAX_DEPTH:
        raise EncodeError("value nested too deeply")
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)) and not isinstance(value, np.bool_):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, Ref):
        return {"__ref__": value.name}
    if isinstance(value, Fn) or getattr(value, "_grader_function", False):
        if fn_handle is None:
            raise EncodeError("a function argument needs the grader")
        return {"__fn__": fn_handle(value)}
    if isinstance(value, np.ndarray) or type(value).__name__ == "Tensor":
        if type(value).__name__ == "Tensor":
            value = value.detach().cpu().numpy()
        if value.dtype.name not in _DTYPES:
            raise EncodeError(f"arrays of dtype {value.dtype} are not supported")
        if value.size > MAX_ARRAY_SIZE:
            raise EncodeError(f"an array of {value.size} entries is too large to send back")
        return {"__nd__": value.dtype.name, "shape": list(value.shape),
                "data": value.ravel().tolist()}
    if isinstance(value, tuple):
        return {"__tuple__": [encode(v, fn_handle, _depth + 1) for v in value]}
    if isinstance(value, list):
        return [encode(v, fn_handle, _depth + 1) for v in value]
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise EncodeError("dict keys must be strings")
        return {"__dict__": [[k, encode(v, fn_handle, _depth + 1)] for k, v in value.items()]}
    raise EncodeError(f"values of type {type(value).__name__} are not supported")


class _Budget:
    def __init__(self, items):
        self.left = items

    def take(self, n):
        self.left -= n
        if self.left < 0:
            raise DecodeError("value too large")


def decode(obj, refs=None, make_fn=None, max_items=MAX_ITEMS):
    """Inverse of :func:`encode`; strict, so a forged message raises :class:`DecodeError`.

    ``refs``: {name: value} for :class:`Ref` arguments; ``make_fn(handle)`` turns a
    function argument into a callable (in the submission's process only).
    """
    return _decode(obj, refs, make_fn, _Budget(max_items), 0)


def _decode(obj, refs, make_fn, budget, depth):
    if depth > _MAX_DEPTH:
        raise DecodeError("value nested too deeply")
    if obj is None or isinstance(obj, (bool, int, float, str)):
        budget.take(1)
        if isinstance(obj, int) and not isinstance(obj, bool) and abs(obj) > 2**63:
            raise DecodeError("integer out of range")
        return obj
    if isinstance(obj, list):
        budget.take(1)
        return [_decode(v, refs, make_fn, budget, depth + 1) for v in obj]
    if not isinstance(obj, dict) or len(obj) == 0:
        raise DecodeError(f"unexpected {type(obj).__name__}")
    if "__nd__" in obj:
        dtype, shape, data = obj.get("__nd__"), obj.get("shape"), obj.get("data")
        if set(obj) != {"__nd__", "shape", "data"} or dtype not in _DTYPES or \
                not isinstance(shape, list) or not isinstance(data, list) or len(shape) > 8:
            raise DecodeError("malformed array")
        if not all(type(n) is int and 0 <= n <= MAX_ITEMS for n in shape) \
                or math.prod(shape) != len(data):
            raise DecodeError("array shape does not match its data")
        budget.take(len(data))
        if not all(type(v) in (int, float, bool) for v in data):
            raise DecodeError("array data must be numbers")
        try:
            return np.array(data, dtype=dtype).reshape(shape)
        except (OverflowError, ValueError) as exc:
            raise DecodeError(f"array data out of range for {dtype}") from exc
    if "__tuple__" in obj:
        if set(obj) != {"__tuple__"} or not isinstance(obj["__tuple__"], list):
            raise DecodeError("malformed tuple")
        budget.take(1)
        return tuple(_decode(v, refs, make_fn, budget, depth + 1) for v in obj["__tuple__"])
    if "__dict__" in obj:
        items = obj["__dict__"]
        if set(obj) != {"__dict__"} or not isinstance(items, list) or not all(
                isinstance(kv, list) and len(kv) == 2 and isinstance(kv[0], str) for kv in items):
            raise DecodeError("malformed dict")
        budget.take(len(items) + 1)
        return {k: _decode(v, refs, make_fn, budget, depth + 1) for k, v in items}
    if "__fn__" in obj:
        if make_fn is None or set(obj) != {"__fn__"} or not isinstance(obj["__fn__"], str):
            raise DecodeError("unexpected function")
        return make_fn(obj["__fn__"])
    if "__ref__" in obj:
        if refs is None or not isinstance(obj["__ref__"], str) or obj["__ref__"] not in refs:
            raise DecodeError(f"unknown reference {obj['__ref__']!r}")
        return refs[obj["__ref__"]]
    raise DecodeError("unknown value tag")

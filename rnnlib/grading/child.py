"""Run one submission, driven by the grader: ``rnnlib.grading.child.main(rfd, wfd, forbidden)``.

This is the only grading code that runs in the same process as the learner's, and it is
copied there without the rest of :mod:`rnnlib.grading` (no reference solution is
importable next to a submission). It reads one request at a time from the grader
(JSON lines on ``rfd``) and writes one reply (on ``wfd``):

- ``{"op": "cells", "cells": [...], "cell_timeout": s}``: execute the notebook's code
  cells one by one in a fresh namespace, each under a time limit (a cell that fails is
  recorded and skipped); reply ``{"op": "cells", "report": [...]}``.
- ``{"op": "call", "id": n, "function": name, "args": ..., "kwargs": ..., "timeout": s,
  "store": name or null, "helpers": [names]}``: call the learner's function and reply
  ``{"op": "result", "id": n, "status": ..., "value": ...}``. While it runs, each name in
  ``helpers`` (a function of an earlier question) and each function argument is a stub
  that asks the grader, which computes the answer in its own process.

Nothing is compared here. The grader owns the plan of cases and trusts nothing it reads
but one well-formed reply per case it asked for, so a submission that writes to these
pipes itself can at most answer the case being asked.
"""

import builtins
import fcntl
import json
import os
import re
import signal
import traceback

from rnnlib.grading.wire import DecodeError, EncodeError, decode, encode

_MAX_VALUE_CHARS = 4_000_000  # one returned value, as JSON; the grader's inputs are small


class _Timeout(BaseException):
    """Raised by the alarm; a BaseException so ``except Exception`` does not swallow it."""


def _on_alarm(signum, frame):
    raise _Timeout()


def _set_alarm(seconds):
    signal.setitimer(signal.ITIMER_REAL, max(float(seconds), 0.0))


_MAGIC = re.compile(r"^(\s*)[%!].*$", re.MULTILINE)


def _strip_magics(source):
    """IPython magics and shell escapes cannot run here: replace them by ``pass``."""
    if source.lstrip().startswith("%%"):
        return None
    return _MAGIC.sub(lambda m: m.group(1) + "pass", source)


def _error_text(exc):
    text = f"{type(exc).__name__}: {exc}".strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    if isinstance(exc, SyntaxError) and exc.lineno:
        first += f" (line {exc.lineno})"
    return first[:300]


def _learner_line(exc):
    """The last line of the submission's own code in the traceback, for the report."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename.startswith("<cell")]
    return f"{frames[-1].filename} line {frames[-1].lineno}" if frames else ""


class _Forbidden:
    """What stands in for a public rnnlib function the exercise asks the learner to write."""

    def __init__(self, qualname):
        self.qualname = qualname

    def __call__(self, *args, **kwargs):
        raise ImportError(self.message())

    def __getattr__(self, name):
        raise ImportError(self.message())

    def message(self):
        return (f"{self.qualname} is not available in a graded run of this exercise: "
                "the exercise asks you to write it yourself")


def forbid(targets):
    """Make each ``"module:attr"`` unusable: importing it raises ImportError saying why.

    Every alias of the same object in an already imported ``rnnlib`` module is replaced
    too (``rnnlib.LSTMCell`` is ``rnnlib.cells.LSTMCell``).
    """
    import importlib
    import sys
    import types
    for target in targets:
        module_name, attr = target.split(":")
        module = importlib.import_module(module_name)
        obj = getattr(module, attr, _Forbidden)
        if obj is _Forbidden:   # renamed since the exercise was written: nothing to hide
            continue
        stand_in = _Forbidden(f"{module_name}.{attr}")
        for name, mod in list(sys.modules.items()):
            if not (name == "rnnlib" or name.startswith("rnnlib.")) or not isinstance(mod, types.ModuleType):
                continue
            hidden = {k for k, v in vars(mod).items() if v is obj}
            for k in hidden:
                delattr(mod, k)
            if hidden or mod is module:
                _add_getattr(mod, hidden | ({attr} if mod is module else set()), stand_in)


def _add_getattr(mod, names, stand_in):
    previous = mod.__dict__.get("__getattr__")
    forbidden = set(getattr(previous, "_forbidden", set())) | set(names)

    def __getattr__(name):
        if name in forbidden:
            raise ImportError(stand_in.message() if name == stand_in.qualname.rsplit(".", 1)[1]
                              else f"{mod.__name__}.{name} is not available in a graded run "
                                   "of this exercise: the exercise asks you to write it yourself")
        if previous is not None:
            return previous(name)
        raise AttributeError(f"module {mod.__name__!r} has no attribute {name!r}")
    __getattr__._forbidden = forbidden
    mod.__getattr__ = __getattr__


class _Channel:
    def __init__(self, rfd, wfd):
        for fd in (rfd, wfd):  # not inherited by programs the submission starts
            fcntl.fcntl(fd, fcntl.F_SETFD, fcntl.FD_CLOEXEC)
        self.rfile = os.fdopen(rfd, "rb")
        self.wfile = os.fdopen(wfd, "wb")
        self.dumps, self.loads = json.dumps, json.loads

    def send(self, obj):
        self.wfile.write(self.dumps(obj).encode() + b"\n")
        self.wfile.flush()

    def receive(self):
        line = self.rfile.readline()
        if not line:
            os._exit(0)
        return self.loads(line)


def main(rfd, wfd, forbidden=()):
    channel = _Channel(rfd, wfd)
    signal.signal(signal.SIGALRM, _on_alarm)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)   # a file over the size limit: OSError, not death
    forbid(forbidden)
    ns = {"__name__": "__main__", "__builtins__": builtins,
          "display": lambda *args, **kwargs: None}
    stored = {}

    def make_fn(handle):
        def grader_function(*args):
            channel.send({"op": "ask", "fn": handle, "args": encode(args)})
            reply = channel.receive()
            if reply.get("op") != "answer":
                raise RuntimeError(reply.get("error", "the grader could not compute this"))
            return decode(reply["value"])
        grader_function.__name__ = handle.split(":")[-1]
        return grader_function

    while True:
        request = channel.receive()
        op = request.get("op")
        if op == "cells":
            channel.send({"op": "cells", "report": _run_cells(request, ns)})
        elif op == "call":
            channel.send(_call(request, ns, stored, make_fn))
        else:
            break
    os._exit(0)  # skip interpreter teardown (and anything the submission registered atexit)


def _run_cells(request, ns):
    cells = []
    for index, cell in enumerate(request["cells"]):
        report = {"index": index, "status": "ok"}
        cells.append(report)
        source = None if cell.get("skip") else _strip_magics(cell["source"])
        if source is None:
            report["status"] = "skipped"
            continue
        try:
            code = compile(source, f"<cell {index}>", "exec")
        except (SyntaxError, ValueError) as exc:
            report.update(status="error", error=_error_text(exc))
            continue
        try:
            _set_alarm(request["cell_timeout"])
            exec(code, ns)
            _set_alarm(0)
        except _Timeout:
            report.update(status="timeout", error=f"took longer than {request['cell_timeout']:g} s")
        except BaseException as exc:  # noqa: BLE001 -- the learner's code may raise anything
            _set_alarm(0)
            report.update(status="error", error=_error_text(exc), where=_learner_line(exc))
    return cells


def _call(request, ns, stored, make_fn):
    reply = {"op": "result", "id": request["id"]}
    fn = ns.get(request["function"])
    if not callable(fn):
        return dict(reply, status="missing")
    try:
        args = decode(request["args"], stored, make_fn)
        kwargs = decode(request["kwargs"], stored, make_fn)
    except DecodeError:
        return dict(reply, status="unavailable")
    saved = {name: ns.get(name, _Timeout) for name in request.get("helpers", [])}
    for name in saved:
        ns[name] = make_fn("helper:" + name)
    try:
        try:
            _set_alarm(request["timeout"])
            value = fn(*args, **kwargs)
            _set_alarm(0)
        except _Timeout:
            return dict(reply, status="timeout")
        except BaseException as exc:  # noqa: BLE001
            _set_alarm(0)
            return dict(reply, status="error", error=_error_text(exc))
    finally:
        for name, value_before in saved.items():
            if value_before is _Timeout:
                ns.pop(name, None)
            else:
                ns[name] = value_before
    if request.get("store"):
        stored[request["store"]] = value
        return dict(reply, status="stored")
    try:
        _set_alarm(request["timeout"])
        encoded = encode(value)
        size = len(json.dumps(encoded))
        _set_alarm(0)
    except _Timeout:
        return dict(reply, status="error", error="returned a value too large to send back")
    except EncodeError as exc:
        _set_alarm(0)
        return dict(reply, status="error", error=f"returned an unusable value: {exc}")
    except BaseException as exc:  # noqa: BLE001 -- e.g. MemoryError on a huge value
        _set_alarm(0)
        return dict(reply, status="error", error=f"returned an unusable value: {_error_text(exc)}")
    if size > _MAX_VALUE_CHARS:
        return dict(reply, status="error", error="returned a value too large to send back")
    if request.get("return_args"):   # so the grader can see whether the inputs changed
        try:
            reply["args_after"] = [encode(args), encode(kwargs)]
        except EncodeError:
            reply["args_after"] = None
    return dict(reply, status="ok", value=encoded)

"""Run one submission: ``python -m rnnlib.grading.child PLAN.json RESULTS.jsonl``.

This is the only code that runs in the same process as the learner's. It executes the
notebook's code cells one by one in a fresh namespace (each under a time limit; a cell
that fails is recorded and skipped), then calls the learner's functions on the inputs in
the plan and writes what they return, one JSON line per question, flushed as it goes so
that a process killed at the wall-clock limit still leaves the finished questions behind.

Nothing is compared here. The grading process computes the right answers itself and
trusts nothing in this file's output but the values, so a submission that redefines
``check``, patches NumPy or writes to the results file cannot raise its score.
"""

import builtins
import importlib
import json
import os
import re
import resource
import signal
import sys
import traceback

from rnnlib.grading.core import DecodeError, EncodeError, decode, encode


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


def _apply_limits(limits):
    """Memory (address space), CPU time and file size, before any submitted code runs.

    Hard limits too, so the submission cannot raise them again.
    """
    mem = int(limits["memory_mb"]) * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
    cpu = int(limits["cpu_seconds"]) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    size = int(limits["file_bytes"])
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def main(plan_path, out_path):
    with open(plan_path) as f:
        plan = json.load(f)
    _apply_limits(plan["limits"])
    out = open(out_path, "w")
    dumps = json.dumps

    def write(obj):
        out.write(dumps(obj) + "\n")
        out.flush()

    signal.signal(signal.SIGALRM, _on_alarm)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)   # a file over the size limit: OSError, not death
    ns = {"__name__": "__main__", "__builtins__": builtins,
          "display": lambda *args, **kwargs: None}

    cells = []
    for index, cell in enumerate(plan["cells"]):
        report = {"index": index, "status": "ok"}
        cells.append(report)
        if cell.get("skip"):
            report["status"] = "skipped"
            continue
        source = _strip_magics(cell["source"])
        if source is None:
            report["status"] = "skipped"
            continue
        try:
            code = compile(source, f"<cell {index}>", "exec")
        except (SyntaxError, ValueError) as exc:
            report.update(status="error", error=_error_text(exc))
            continue
        try:
            _set_alarm(plan["cell_timeout"])
            exec(code, ns)
            _set_alarm(0)
        except _Timeout:
            report.update(status="timeout", error=f"took longer than {plan['cell_timeout']:g} s")
        except BaseException as exc:  # noqa: BLE001 -- the learner's code may raise anything
            _set_alarm(0)
            report.update(status="error", error=_error_text(exc), where=_learner_line(exc))
    write({"cells": cells})

    stored = {}
    for q in plan["questions"]:
        if not callable(ns.get(q["function"])):
            write({"question": q["name"], "missing": True})
            continue
        saved = {}
        for name, target in q.get("patch", {}).items():
            module, attr = target.split(":")
            saved[name] = ns.get(name, _Timeout)
            ns[name] = getattr(importlib.import_module(module), attr)
        results = []
        gave_up = False
        for call in q["calls"]:
            if gave_up:
                results.append({"status": "skipped"})
                continue
            try:
                args = decode(call["args"], stored)
                kwargs = decode(call["kwargs"], stored)
            except DecodeError:
                results.append({"status": "unavailable"})
                continue
            fn = ns.get(call.get("function") or q["function"])
            if not callable(fn):
                results.append({"status": "error", "error": f"no function {call.get('function')}"})
                continue
            try:
                _set_alarm(call["timeout"])
                value = fn(*args, **kwargs)
                _set_alarm(0)
            except _Timeout:
                results.append({"status": "timeout"})
                gave_up = True
                continue
            except BaseException as exc:  # noqa: BLE001
                _set_alarm(0)
                results.append({"status": "error", "error": _error_text(exc)})
                continue
            if call.get("store"):
                stored[call["store"]] = value
                results.append({"status": "stored"})
                continue
            try:
                _set_alarm(call["timeout"])
                encoded = encode(value)
                size = len(dumps(encoded))
                _set_alarm(0)
            except _Timeout:
                results.append({"status": "error", "error": "returned a value too large to send back"})
                continue
            except EncodeError as exc:
                _set_alarm(0)
                results.append({"status": "error", "error": f"returned an unusable value: {exc}"})
                continue
            except BaseException as exc:  # noqa: BLE001 -- e.g. MemoryError on a huge value
                _set_alarm(0)
                results.append({"status": "error", "error": f"returned an unusable value: {_error_text(exc)}"})
                continue
            if size > _MAX_VALUE_CHARS:
                results.append({"status": "error", "error": "returned a value too large to send back"})
            else:
                results.append({"status": "ok", "value": encoded})
        for name, value in saved.items():
            if value is _Timeout:
                ns.pop(name, None)
            else:
                ns[name] = value
        write({"question": q["name"], "results": results})
    out.close()
    os._exit(0)  # skip interpreter teardown (and anything the submission registered atexit)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])

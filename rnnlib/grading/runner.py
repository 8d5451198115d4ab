"""Grade submitted notebooks: run each in a fresh, limited, unprivileged process and score it.

For each notebook the grader

1. reads the exercise id from the notebook's metadata (``metadata.rnnlib_exercise.id``)
   and loads that exercise's spec (:mod:`rnnlib.grading.exercises`);
2. makes the plan of cases from a seed (random unless given) and the right answers, here;
3. starts :mod:`rnnlib.grading.child` in a sandbox (:mod:`rnnlib.grading.sandbox`: its
   own user, an empty directory, limits), sends it the code cells, then asks for one case
   at a time and waits for that case's reply under the case's time limit;
4. scores each case from exactly one well-formed reply: a case with no reply, two
   replies or a malformed one fails, and the number of cases is the plan's. A case that
   does not return in time or kills its process costs the rest of its question only: the
   next question starts a fresh process.

:func:`grade` grades several notebooks, each in a worker process of its own (limited in
time and memory too), so that one notebook's failure is one line in the report and
never loses the others' results. :func:`format_table` renders a result.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import resource
import select
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from rnnlib.grading import sandbox
from rnnlib.grading.core import DecodeError, EncodeError, Fn, decode, encode, judge, summarize
from rnnlib.grading.exercises import EXERCISES, load_exercise

__all__ = ["GradingError", "exercise_id_of", "grade", "grade_notebook", "format_table"]

_MAX_LINE = 8 * 2**20          # bytes of one message from the child
_GRACE = 3.0                   # seconds on top of a call's own limit before the process is killed
_SCORING_SECONDS = 60.0        # the worker's time for everything but the submission's run
_WORKER_MEMORY_MB = 4096
_STATUSES = {"ok", "error", "timeout", "stored", "missing", "unavailable"}
_AUTO = object()


class GradingError(Exception):
    """A notebook that cannot be graded: a missing file, not a notebook, an unknown exercise."""


def exercise_id_of(nb, path):
    """The exercise id in the notebook's metadata."""
    meta = nb.get("metadata") if isinstance(nb, dict) else None
    meta = meta.get("rnnlib_exercise") if isinstance(meta, dict) else None
    ex_id = meta.get("id") if isinstance(meta, dict) else None
    known = ", ".join(sorted(EXERCISES))
    if ex_id is None:
        raise GradingError(f"{path}: not an exercise notebook (no metadata "
                           f"'rnnlib_exercise': {{'id': ...}}); known exercises: {known}")
    if not isinstance(ex_id, str) or ex_id not in EXERCISES:
        shown = repr(ex_id) if isinstance(ex_id, str) else f"of type {type(ex_id).__name__}"
        raise GradingError(f"{path}: unknown exercise id {shown[:80]}; known exercises: {known}")
    return ex_id


def read_notebook(path):
    path = Path(path)
    if not path.is_file():
        raise GradingError(f"{path}: no such file")
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise GradingError(f"{path}: not a notebook (invalid JSON: {str(exc)[:100]})") from None
    except OSError as exc:
        raise GradingError(f"{path}: cannot be read ({exc.strerror})") from None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise GradingError(f"{path}: not a notebook (no list of cells)")
    return nb


def _code_cells(nb):
    """The code cells as ``{"source": str, "skip": bool}``; malformed entries are ignored."""
    cells = []
    for cell in nb["cells"]:
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        if isinstance(source, list):
            source = "".join(s for s in source if isinstance(s, str))
        elif not isinstance(source, str):
            source = ""
        metadata = cell.get("metadata")
        tags = metadata.get("tags") if isinstance(metadata, dict) else None
        tags = tags if isinstance(tags, list) else []
        cells.append({"source": source, "skip": any(t == "skip-grading" for t in tags)})
    return cells


def _question_cases(exercise, seed):
    """Cases of every question, each question from its own generator (independent of the others)."""
    return [q.cases(np.random.default_rng([seed, k]), True) for k, q in enumerate(exercise.questions)]


def _resolve_target(target):
    import importlib
    module, attr = target.split(":")
    return getattr(importlib.import_module(module), attr)


def _valid_cell_report(report, n):
    """The child's report on the cells, if well formed: the failed cells only."""
    if not isinstance(report, list) or len(report) != n:
        return None
    out = []
    for k, c in enumerate(report):
        if not isinstance(c, dict) or c.get("index") != k or c.get("status") not in (
                "ok", "error", "timeout", "skipped"):
            return None
        if c["status"] in ("error", "timeout"):
            out.append({"index": k, "status": c["status"],
                        "error": str(c.get("error", ""))[:300], "where": str(c.get("where", ""))[:80]})
    return out


class _Child:
    """The grader's end of one child process: send a request, read one message at a time."""

    def __init__(self, box, forbidden, stderr):
        self.proc, self.wfd, self.rfd = box.start(forbidden, stderr=stderr)
        os.set_blocking(self.wfd, False)
        os.set_blocking(self.rfd, False)
        self.buffer, self.lines, self.eof, self.discarding = b"", [], False, False

    def send(self, obj, deadline):
        data = (json.dumps(obj) + "\n").encode()
        while data:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            _, writable, _ = select.select([], [self.wfd], [], left)
            if writable:
                try:
                    data = data[os.write(self.wfd, data[:1 << 16]):]
                except (BrokenPipeError, OSError):
                    return False
        return True

    def receive(self, deadline):
        """``("message", obj)``, ``("malformed", why)``, ``("eof", None)`` or ``("timeout", None)``."""
        while not self.lines:
            if self.eof:
                return "eof", None
            left = deadline - time.monotonic()
            if left <= 0:
                return "timeout", None
            readable, _, _ = select.select([self.rfd], [], [], left)
            if not readable:
                continue
            try:
                data = os.read(self.rfd, 1 << 20)
            except OSError:
                data = b""
            if not data:
                self.eof = True
                if self.buffer:
                    self.lines.append(None)
                continue
            if b"\n" not in data:   # the common case of a long line: no rescan of the buffer
                if not self.discarding:
                    self.buffer += data
                    if len(self.buffer) > _MAX_LINE:
                        self.buffer, self.discarding = b"", True
                        self.lines.append(None)
                continue
            *complete, rest = (self.buffer + data if not self.discarding else data).split(b"\n")
            if self.discarding:
                complete = complete[1:]   # the end of a line already refused
            self.lines.extend(complete)
            self.buffer, self.discarding = rest, False
            if len(self.buffer) > _MAX_LINE:
                self.buffer, self.discarding = b"", True
                self.lines.append(None)
        line = self.lines.pop(0)
        if line is None:
            return "malformed", "a message too large or cut short"
        try:
            obj = json.loads(line)
        except (ValueError, RecursionError):
            return "malformed", "a message that is not JSON"
        if not isinstance(obj, dict):
            return "malformed", "a message that is not an object"
        return "message", obj

    def stop(self):
        for fd in (self.wfd, self.rfd):
            try:
                os.close(fd)
            except OSError:
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.proc.wait()
        return self.proc.returncode


def _run(exercise, cells, all_cases, uid, orphans):
    """Run the plan against one submission; returns the replies and what happened."""
    start = time.monotonic()
    deadline = start + exercise.wall_timeout
    replies = {}          # call id -> list of replies (a well-formed case has exactly one)
    malformed = {}        # call id -> why a message during that call was malformed
    outcome = {}          # (question, case) -> (status, detail) decided by the grader
    ids, sent = {}, {}
    events, report = [], None
    counter = itertools.count()
    child = None
    box = sandbox.Sandbox(exercise.memory_mb, exercise.wall_timeout + 1, uid=uid)
    with box:
        stderr_path = box.root / "stderr"
        stderr = open(stderr_path, "ab")

        def stop(why):
            nonlocal child
            code = child.stop()
            sandbox.sweep(uid, orphans=orphans)
            if why:
                tail = ""
                if code and stderr_path.stat().st_size:
                    with open(stderr_path, "rb") as f:
                        f.seek(max(0, stderr_path.stat().st_size - 2048))
                        lines = f.read().decode(errors="replace").strip().splitlines()
                        tail = f": {lines[-1][:200]}" if lines else ""
                events.append(why + tail)
            child = None

        try:
            for qi, (q, cases) in enumerate(zip(exercise.questions, all_cases)):
                broken = None
                for ci, case in enumerate(cases):
                    key = (qi, ci)
                    if broken:
                        outcome[key] = broken
                        continue
                    if time.monotonic() >= deadline:
                        outcome[key] = ("wall", "")
                        continue
                    if child is None:
                        child = _Child(box, exercise.forbidden, stderr)
                        n_run = sum(1 for c in cells if not c["skip"])
                        ok = child.send({"op": "cells", "cells": cells,
                                         "cell_timeout": exercise.cell_timeout}, deadline)
                        got = None
                        cells_deadline = min(deadline, time.monotonic()
                                             + n_run * exercise.cell_timeout + 10 * _GRACE)
                        while ok:
                            kind, msg = child.receive(cells_deadline)
                            if kind == "message" and msg.get("op") == "cells":
                                got = msg
                                break
                            if kind in ("eof", "timeout"):
                                break
                        if got is None:
                            late = time.monotonic() >= deadline
                            stop("killed at the wall-clock limit while running the cells" if late
                                 else "the process ended while running the cells")
                            broken = outcome[key] = ("wall" if late else "crash", "")
                            continue
                        if report is None:
                            report = _valid_cell_report(got.get("report"), len(cells))
                    call_id = next(counter)
                    ids[key] = call_id
                    replies.setdefault(call_id, [])
                    handles = {}

                    def fn_handle(fn, handles=handles):
                        name = f"fn:{len(handles)}"
                        handles[name] = fn.resolve() if isinstance(fn, Fn) else fn
                        return name

                    for name in q.patch:
                        handles["helper:" + name] = _resolve_target(q.patch[name])
                    timeout = case.timeout or q.timeout
                    request = {"op": "call", "id": call_id, "function": case.function or q.fn_name,
                               "args": encode(tuple(case.args), fn_handle),
                               "kwargs": encode(dict(case.kwargs), fn_handle),
                               "store": case.store, "timeout": timeout, "helpers": sorted(q.patch),
                               "return_args": q.inputs_unchanged}
                    sent[call_id] = [request["args"], request["kwargs"]]
                    call_deadline = min(deadline, time.monotonic() + timeout + _GRACE)
                    if not child.send(request, call_deadline):
                        kind = "eof" if child.proc.poll() is not None else "timeout"
                    else:
                        kind = None
                    asked = 0
                    while kind is None:
                        kind, msg = child.receive(call_deadline)
                        if kind == "malformed":
                            malformed.setdefault(call_id, msg)
                            kind = None
                        elif kind == "message":
                            kind = None
                            op = msg.get("op")
                            if op == "result" and msg.get("id") == call_id:
                                replies[call_id].append(msg)
                                if msg.get("status") == "timeout":   # the rest would time out too
                                    broken = ("skipped", "")
                                break
                            if op == "result" and type(msg.get("id")) is int and msg["id"] in replies:
                                replies[msg["id"]].append(msg)       # an answer to another case
                            elif op == "result":
                                malformed.setdefault(call_id, "an answer to a case never asked")
                            elif op == "ask" and asked < 100_000:
                                asked += 1
                                if not child.send(_answer(handles, msg), call_deadline):
                                    kind = "timeout"
                            else:
                                malformed.setdefault(call_id, "an unexpected message")
                    if kind == "timeout":
                        late = time.monotonic() >= deadline
                        fn = case.function or q.fn_name
                        stop(f"killed at the wall-clock limit ({exercise.wall_timeout:g} s)" if late else
                             f"stopped: {fn} did not return within {timeout:g} s")
                        outcome[key] = ("wall", "") if late else ("timeout", f"{timeout:g}")
                        broken = ("skipped", "")
                    elif kind == "eof":
                        stop(f"the process ended during a call of {case.function or q.fn_name}")
                        outcome[key] = ("crash", "")
                        broken = ("skipped", "")
            if child is not None:   # late replies still count (as duplicates)
                child.send({"op": "end"}, time.monotonic() + 1.0)
                end = time.monotonic() + 1.0
                while True:
                    kind, msg = child.receive(end)
                    if kind != "message" and kind != "malformed":
                        break
                    if kind == "message" and msg.get("op") == "result" and \
                            type(msg.get("id")) is int and msg["id"] in replies:
                        replies[msg["id"]].append(msg)
                stop(None)
        finally:
            if child is not None:
                stop(None)
            stderr.close()
            sandbox.sweep(uid, orphans=orphans)
    return {"ids": ids, "sent": sent, "replies": replies, "malformed": malformed, "outcome": outcome,
            "events": events, "cells": report, "seconds": time.monotonic() - start,
            "isolation": box.level}


def _answer(handles, msg):
    """The grader's side of a helper or function argument called by the submission."""
    fn = handles.get(msg.get("fn")) if isinstance(msg.get("fn"), str) else None
    if fn is None:
        return {"op": "error", "error": "unknown function"}
    try:
        args = decode(msg.get("args"), max_items=300_000)
        if not isinstance(args, tuple):
            raise DecodeError("arguments must be a tuple")
        with np.errstate(all="ignore"):
            value = fn(*args)
        return {"op": "answer", "value": encode(value)}
    except (DecodeError, EncodeError) as exc:
        return {"op": "error", "error": f"unusable arguments ({exc})"}
    except Exception as exc:  # noqa: BLE001 -- the grader's function on the learner's input
        return {"op": "error", "error": f"{type(exc).__name__}: {str(exc)[:200]}"}


def _case_verdict(run, key, case, question):
    """``(status, value, error)`` for ``judge`` from the replies to one case."""
    if key in run["outcome"]:
        status, detail = run["outcome"][key]
        if status == "timeout":
            return "timeout", None, detail
        if status == "crash":
            return "invalid", None, "the process ended during this call (os._exit? a crash?)"
        if status == "wall":
            return "invalid", None, "not run: the wall-clock limit was reached"
        return "skipped", None, ""
    call_id = run["ids"].get(key)
    replies = run["replies"].get(call_id, [])
    if call_id in run["malformed"]:
        return "invalid", None, f"the grading channel received {run['malformed'][call_id]}"
    if len(replies) != 1:
        return "invalid", None, ("no answer was received" if not replies else
                                 f"answered {len(replies)} times (the grading channel was written to)")
    reply = replies[0]
    status = reply.get("status")
    if status not in _STATUSES or set(reply) - {"op", "id", "status", "value", "error", "args_after"}:
        return "invalid", None, "a malformed answer"
    if status == "ok" and question.inputs_unchanged and reply.get("args_after") != run["sent"][call_id]:
        return "invalid", None, ("modifies its input in place: the caller's arrays must stay as "
                                 "they were (work on copies, or build new arrays)")
    if status == "ok":
        try:
            return "ok", decode(reply.get("value")), ""
        except DecodeError as exc:
            return "error", None, f"unreadable output ({exc})"
    if status == "stored" and not case.store or status != "stored" and case.store and \
            status not in ("error", "timeout", "missing", "unavailable"):
        return "invalid", None, "a malformed answer"
    return status, None, str(reply.get("error", ""))[:300]


def grade_notebook(path, seed=None, uid=_AUTO, orphans=False, **limits):
    """Grade one notebook in this process; return its result dict (see :func:`grade`).

    ``limits`` override the exercise's ``cell_timeout``, ``wall_timeout`` or ``memory_mb``.
    ``uid``: the user the submission runs as (default: a fresh one when root).
    Raises :class:`GradingError` when the notebook cannot be graded.
    """
    nb = read_notebook(path)
    exercise = dataclasses.replace(load_exercise(exercise_id_of(nb, path)), **limits)
    cells = _code_cells(nb)
    if seed is None:
        seed = int.from_bytes(os.urandom(4), "little")
    all_cases = _question_cases(exercise, seed)
    # the right answers, computed here and never shown to the submission
    expected = [[None if (c.store or q.score is not None) else q.reference(*c.args, **c.kwargs)
                 for c in cases] for q, cases in zip(exercise.questions, all_cases)]
    if uid is _AUTO:
        uid = sandbox.choose_uid()
    run = _run(exercise, cells, all_cases, uid, orphans)

    questions = []
    for qi, (q, cases, exp) in enumerate(zip(exercise.questions, all_cases, expected)):
        judged, notes = [], []
        verdicts = [_case_verdict(run, (qi, ci), c, q) for ci, c in enumerate(cases)]
        if verdicts and all(v[0] == "missing" for v in verdicts):
            notes.append(f"no function named {q.fn_name} (renamed, or its cell failed?)")
        for case, e, (status, value, error) in zip(cases, exp, verdicts):
            if status == "missing":
                status, error = "invalid", f"no function named {case.function or q.fn_name}"
            if case.store:   # not scored itself; its failure is said once
                if status != "stored":
                    _, ms, _ = judge(q, case, status, error=error)
                    fn = case.function or q.fn_name
                    notes += [t if t.startswith(fn + " ") else f"{fn}: {t}" for _, t in ms if t]
                continue
            judged.append(judge(q, case, status, value, e, error))
        fraction, messages, hints = summarize(q, judged)
        questions.append({
            "name": q.name, "title": q.title,
            "points": round(q.points * fraction, 2), "max": q.points,
            "cases_passed": sum(1 for f, _, _ in judged if f >= 1.0),
            "cases": len(judged), "messages": notes + messages, "hints": hints,
        })
    return {
        "notebook": str(path), "exercise": exercise.id, "title": exercise.title,
        "score": round(sum(x["points"] for x in questions), 2), "max": exercise.max_points,
        "seed": seed, "seconds": round(run["seconds"], 2),
        "process": "; ".join(run["events"]) if run["events"] else "ok",
        "isolation": run["isolation"],
        "cells": run["cells"] or [],
        "questions": questions,
    }


def _error_result(path, message):
    return {"notebook": str(path), "error": message, "score": None, "max": None}


def _one_line(exc):
    text = f"{type(exc).__name__}: {exc}" if not isinstance(exc, GradingError) else str(exc)
    return " ".join(text.split())[:300]


def _worker_main():
    """``python -m rnnlib.grading.runner``: grade the notebook named on stdin, print the result."""
    job = json.loads(sys.stdin.read())
    resource.setrlimit(resource.RLIMIT_AS, (job["memory_mb"] * 2**20,) * 2)
    sandbox.become_subreaper()
    try:
        result = grade_notebook(job["path"], seed=job["seed"], uid=job["uid"], orphans=True)
    except GradingError as exc:
        result = _error_result(job["path"], str(exc))
    except MemoryError:
        result = _error_result(job["path"], "the grader ran out of memory scoring this notebook")
    except BaseException as exc:  # noqa: BLE001 -- one line for the report, never a traceback
        result = _error_result(job["path"], f"the grader failed on this notebook ({_one_line(exc)})")
    sys.stdout.write(json.dumps(result))
    sys.stdout.flush()
    os._exit(0)


_UIDS_LOCK = threading.Lock()
_UIDS_IN_USE = set()


def _grade_in_worker(path, seed):
    """Grade one notebook in a worker process (limited in time and memory); never raises."""
    try:
        return _grade_in_worker_unsafe(path, seed)
    except Exception as exc:  # noqa: BLE001 -- one line for this notebook, the batch goes on
        return _error_result(path, f"the grader failed on this notebook ({_one_line(exc)})")


def _grade_in_worker_unsafe(path, seed):
    try:
        exercise = load_exercise(exercise_id_of(read_notebook(path), path))
    except GradingError as exc:
        return _error_result(path, str(exc))
    with _UIDS_LOCK:
        uid = sandbox.choose_uid()
        while uid is not None and uid in _UIDS_IN_USE:
            uid = sandbox.choose_uid()
        _UIDS_IN_USE.add(uid)
    try:
        job = json.dumps({"path": str(path), "seed": seed, "uid": uid,
                          "memory_mb": _WORKER_MEMORY_MB})
        proc = subprocess.run([sys.executable, "-m", "rnnlib.grading.runner"], input=job,
                              capture_output=True, text=True, start_new_session=True,
                              timeout=exercise.wall_timeout + _SCORING_SECONDS)
        try:
            result = json.loads(proc.stdout)
        except ValueError:
            tail = proc.stderr.strip().splitlines()[-1:] or [f"exit code {proc.returncode}"]
            return _error_result(path, f"the grader failed on this notebook ({tail[0][:200]})")
        if not isinstance(result, dict) or "notebook" not in result:
            return _error_result(path, "the grader failed on this notebook (no result)")
        return result
    except subprocess.TimeoutExpired:
        return _error_result(path, "the grader took too long scoring this notebook")
    finally:
        try:
            sandbox.sweep(uid)
        finally:
            with _UIDS_LOCK:
                _UIDS_IN_USE.discard(uid)


def grade(paths, seed=None, jobs=1):
    """Grade several notebooks (``jobs`` at a time), each in its own worker process.

    Returns one result per notebook, in order. A notebook that cannot be graded gives
    ``{"notebook", "error", "score": None, "max": None}``; the others are unaffected.
    Each graded result: ``{"notebook", "exercise", "title", "score", "max", "seed",
    "seconds", "process", "isolation", "cells" (the cells that failed), "questions":
    [{"name", "title", "points", "max", "cases_passed", "cases", "messages", "hints"}]}``.
    """
    if seed is None:
        seed = int.from_bytes(os.urandom(4), "little")
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        return list(pool.map(lambda p: _grade_in_worker(p, seed), paths))


def _wrap(text, width, indent):
    words, lines, line = text.split(), [], ""
    for w in words:
        if line and len(line) + 1 + len(w) > width:
            lines.append(line)
            line = w
        else:
            line = f"{line} {w}" if line else w
    lines.append(line)
    return ("\n" + " " * indent).join(lines)


def format_table(result, width=100):
    """A plain-text report: one row per question with points, then messages and hints."""
    if result.get("error"):
        return f"{result['notebook']}: error: {result['error']}"
    name_w = max(8, *(len(q["name"]) for q in result["questions"]))
    out = [f"{result['notebook']}  [{result['exercise']}: {result['title']}]"]
    if result["process"] != "ok":
        out.append(f"  note: the submission was {result['process']}")
    for c in result["cells"]:
        where = f", {c['where']}" if c.get("where") else ""
        out.append(f"  note: code cell {c['index'] + 1} {c['status']}: {c.get('error', '')}{where}")
    out.append(f"  {'question':<{name_w}}  {'points':>9}  cases")
    indent = name_w + 2 + 2 + 9 + 2
    for q in result["questions"]:
        pts = f"{q['points']:g}/{q['max']:g}"
        out.append(f"  {q['name']:<{name_w}}  {pts:>9}  {q['cases_passed']}/{q['cases']} passed")
        for m in q["messages"][:4]:
            out.append(" " * indent + _wrap("- " + m, width - indent, indent + 2))
        if len(q["messages"]) > 4:
            out.append(" " * indent + f"- ... and {len(q['messages']) - 4} more")
        for h in q["hints"][:3]:
            out.append(" " * indent + _wrap("hint: " + h, width - indent, indent + 6))
    total = f"{result['score']:g}/{result['max']:g}"
    out.append(f"  {'total':<{name_w}}  {total:>9}  ({result['seconds']:.1f} s)")
    return "\n".join(out)



if __name__ == "__main__":
    _worker_main()

"""Grade submitted notebooks: run each in a fresh, limited process and score what it returns.

For each notebook the grader

1. reads the exercise id from the notebook's metadata (``metadata.rnnlib_exercise.id``)
   and loads that exercise's spec (:mod:`rnnlib.grading.exercises`);
2. makes the test inputs from a seed (random unless given), and the right answers, here;
3. runs :mod:`rnnlib.grading.child` in a new process with a wall-clock limit, an
   address-space (memory) limit and a CPU-time limit: the child executes the cells and
   calls the learner's functions on the inputs, and writes back only their outputs as JSON;
4. compares, scores each question and collects hints.

:func:`grade` returns one result dict per notebook; :func:`format_table` renders it.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from rnnlib.grading.core import DecodeError, decode, encode, judge, summarize
from rnnlib.grading.exercises import EXERCISES, load_exercise

__all__ = ["GradingError", "exercise_id_of", "grade", "grade_notebook", "format_table"]

_MAX_RESULT_BYTES = 64 * 2**20


class GradingError(Exception):
    """The grader was misused: a missing file, not a notebook, an unknown exercise."""


def exercise_id_of(nb, path):
    """The exercise id in the notebook's metadata."""
    meta = nb.get("metadata", {}).get("rnnlib_exercise", {})
    ex_id = meta.get("id") if isinstance(meta, dict) else None
    if ex_id is None:
        raise GradingError(f"{path}: not an exercise notebook (no metadata "
                           f"'rnnlib_exercise': {{'id': ...}}); known exercises: "
                           f"{', '.join(sorted(EXERCISES))}")
    if ex_id not in EXERCISES:
        raise GradingError(f"{path}: unknown exercise id {ex_id!r}; known exercises: "
                           f"{', '.join(sorted(EXERCISES))}")
    return ex_id


def read_notebook(path):
    path = Path(path)
    if not path.is_file():
        raise GradingError(f"{path}: no such file")
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise GradingError(f"{path}: not a notebook (invalid JSON: {exc})") from None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise GradingError(f"{path}: not a notebook (no list of cells)")
    return nb


def _cell_source(cell):
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def _question_cases(exercise, seed):
    """Cases of every question, each question from its own generator (independent of the others)."""
    out = []
    for k, q in enumerate(exercise.questions):
        rng = np.random.default_rng([seed, k])
        out.append(q.cases(rng, True))
    return out


def _run_child(plan, exercise, workdir, wall_timeout):
    workdir = Path(workdir)
    plan_path, out_path, err_path = workdir / "plan.json", workdir / "results.jsonl", workdir / "stderr"
    plan = dict(plan, limits={"memory_mb": exercise.memory_mb, "cpu_seconds": wall_timeout + 1,
                              "file_bytes": _MAX_RESULT_BYTES})
    plan_path.write_text(json.dumps(plan))
    env = {k: v for k, v in os.environ.items() if not k.startswith("RNNLIB_")}
    env.update(RNNLIB_GRADING="1", MPLBACKEND="Agg", OMP_NUM_THREADS="1",
               MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", PYTHONHASHSEED="0",
               PYTHONDONTWRITEBYTECODE="1")
    start = time.monotonic()
    killed = False
    with open(err_path, "wb") as err:
        # the child sets its own resource limits before it runs any submitted code
        # (no preexec_fn: it is unsafe when several notebooks are graded from threads)
        proc = subprocess.Popen(
            [sys.executable, "-m", "rnnlib.grading.child", str(plan_path), str(out_path)],
            cwd=workdir, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=err, start_new_session=True)
        try:
            proc.wait(timeout=wall_timeout)
        except subprocess.TimeoutExpired:
            killed = True
        finally:
            try:
                os.killpg(proc.pid, signal.SIGKILL)   # the child and anything it started
            except ProcessLookupError:
                pass
            proc.wait()
    seconds = time.monotonic() - start
    lines = []
    if out_path.exists() and out_path.stat().st_size <= _MAX_RESULT_BYTES:
        for line in out_path.read_text(errors="replace").splitlines():
            try:
                lines.append(json.loads(line))
            except json.JSONDecodeError:
                break  # a line cut short by a kill
    tail = []
    if proc.returncode:
        with open(err_path, "rb") as f:
            f.seek(max(0, err_path.stat().st_size - 4096))
            tail = f.read().decode(errors="replace").strip().splitlines()[-1:]
    return lines, killed, proc.returncode, tail, seconds


def grade_notebook(path, seed=None, **limits):
    """Grade one notebook; return its result dict (see :func:`grade`).

    ``limits`` override the exercise's ``cell_timeout``, ``wall_timeout`` or ``memory_mb``.
    """
    nb = read_notebook(path)
    exercise = dataclasses.replace(load_exercise(exercise_id_of(nb, path)), **limits)
    if seed is None:
        seed = int.from_bytes(os.urandom(4), "little")
    all_cases = _question_cases(exercise, seed)

    # the right answers, computed here and never shown to the submission
    expected = []
    for q, cases in zip(exercise.questions, all_cases):
        expected.append([None if (c.store or q.score is not None) else q.reference(*c.args, **c.kwargs)
                         for c in cases])

    cells = [c for c in nb["cells"] if c.get("cell_type") == "code"]
    plan = {
        "cell_timeout": exercise.cell_timeout,
        "cells": [{"source": _cell_source(c),
                   "skip": "skip-grading" in c.get("metadata", {}).get("tags", [])} for c in cells],
        "questions": [{
            "name": q.name, "function": q.fn_name, "patch": q.patch,
            "calls": [{"args": encode(tuple(c.args)), "kwargs": encode(dict(c.kwargs)),
                       "store": c.store, "timeout": c.timeout or q.timeout,
                       "function": c.function} for c in cases],
        } for q, cases in zip(exercise.questions, all_cases)],
    }
    with tempfile.TemporaryDirectory(prefix="rnnlib-grade-") as workdir:
        lines, killed, returncode, tail, seconds = _run_child(plan, exercise, workdir,
                                                              exercise.wall_timeout)

    cell_reports = []
    by_question = {}
    for line in lines:
        if not isinstance(line, dict):
            continue
        if "cells" in line and isinstance(line["cells"], list):
            cell_reports = [c for c in line["cells"] if isinstance(c, dict)]
        elif isinstance(line.get("question"), str):
            by_question.setdefault(line["question"], line)

    questions = []
    for q, cases, exp in zip(exercise.questions, all_cases, expected):
        line = by_question.get(q.name)
        judged = []
        notes = []
        if line is None:
            notes.append("not graded: the submission was stopped before this question "
                         + ("(wall-clock limit)" if killed else "(it crashed)"))
        elif line.get("missing"):
            notes.append(f"no function named {q.fn_name} (renamed, or its cell failed?)")
        else:
            results = line.get("results")
            if not isinstance(results, list) or len(results) != len(cases):
                notes.append("not graded: malformed results")
            else:
                for case, e, r in zip(cases, exp, results):
                    if not isinstance(r, dict) or case.store:
                        if isinstance(r, dict) and r.get("status") not in ("stored", None):
                            judged.append(judge(q, case, r.get("status"), error=str(r.get("error", ""))))
                        continue
                    status = r.get("status")
                    value = None
                    if status == "ok":
                        try:
                            value = decode(r.get("value"))
                        except DecodeError as exc:
                            status, r = "error", {"error": f"unreadable output ({exc})"}
                    judged.append(judge(q, case, status, value, e, str(r.get("error", ""))))
        fraction, messages, hints = summarize(q, judged)
        n_ok = sum(1 for f, _, _ in judged if f >= 1.0)
        questions.append({
            "name": q.name, "title": q.title,
            "points": round(q.points * fraction, 2), "max": q.points,
            "cases_passed": n_ok, "cases": len([c for c in cases if not c.store]),
            "messages": notes + messages, "hints": hints,
        })
    score = round(sum(x["points"] for x in questions), 2)
    status = "killed at the wall-clock limit" if killed else (
        "ok" if returncode == 0 else f"crashed (exit code {returncode})" + (f": {tail[0]}" if tail else ""))
    return {
        "notebook": str(path), "exercise": exercise.id, "title": exercise.title,
        "score": score, "max": exercise.max_points, "seed": seed,
        "seconds": round(seconds, 2), "process": status,
        "cells": [c for c in cell_reports if c.get("status") in ("error", "timeout")],
        "questions": questions,
    }


def grade(paths, seed=None, jobs=1):
    """Grade several notebooks (``jobs`` at a time). Misuse raises :class:`GradingError` first.

    Each result: ``{"notebook", "exercise", "title", "score", "max", "seed", "seconds",
    "process", "cells" (the cells that failed), "questions": [{"name", "title", "points",
    "max", "cases_passed", "cases", "messages", "hints"}]}``.
    """
    for path in paths:  # every misuse is reported before anything runs
        exercise_id_of(read_notebook(path), path)
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        return list(pool.map(lambda p: grade_notebook(p, seed), paths))


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


"""The grader itself: command line, limits, isolation, learner files, in-notebook checks."""

import contextlib
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rnnlib.grading import EXERCISES, Checker, load_exercise
from rnnlib.grading.core import DecodeError, Fn, decode, encode
from rnnlib.grading.make_learner import BEGIN, END, main as make_learner_main, targets
from rnnlib.grading.runner import grade_notebook

REPO = Path(__file__).resolve().parents[1]
EXERCISES_DIR = REPO / "exercises"
PY = sys.executable


def _nb(path):
    return json.loads(Path(path).read_text())


def _write(tmp_path, name, nb):
    path = tmp_path / name
    path.write_text(json.dumps(nb))
    return path


def _with_cell(nb, source, at=None):
    nb = json.loads(json.dumps(nb))
    cell = {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
            "id": f"extra-{len(nb['cells'])}", "source": source}
    nb["cells"].insert(len(nb["cells"]) if at is None else at, cell)
    return nb


def _grade_cli(*args):
    return subprocess.run([PY, "-m", "rnnlib.grade", *map(str, args)], cwd=REPO,
                          capture_output=True, text=True, timeout=120)


# ----------------------------------------------------------------------------- the exercises

def test_registry_sources_and_learner_notebooks_agree():
    sources = {p.stem for p in (EXERCISES_DIR / "source").glob("*.ipynb")}
    learners = {p.stem for p in EXERCISES_DIR.glob("*.ipynb")}
    assert sources == learners == set(EXERCISES)
    assert len(EXERCISES) >= 8
    for ex_id in EXERCISES:
        for path in (EXERCISES_DIR / f"{ex_id}.ipynb", EXERCISES_DIR / "source" / f"{ex_id}.ipynb"):
            assert _nb(path)["metadata"]["rnnlib_exercise"]["id"] == ex_id
        exercise = load_exercise(ex_id)
        assert exercise.max_points == 10
        defined = "".join("".join(c["source"]) for c in _nb(EXERCISES_DIR / f"{ex_id}.ipynb")["cells"])
        for q in exercise.questions:
            assert f"def {q.fn_name}(" in defined, (ex_id, q.fn_name)
            assert f"check({q.fn_name})" in defined, (ex_id, q.fn_name)


def test_learner_notebooks_are_up_to_date():
    assert make_learner_main(["--check"]) == 0, "run: python -m rnnlib.grading.make_learner"


def test_make_learner_detects_a_stale_file(tmp_path):
    (tmp_path / "source").mkdir()
    src = EXERCISES_DIR / "source" / "04_clipping.ipynb"
    (tmp_path / "source" / src.name).write_text(src.read_text())
    assert make_learner_main(["--check", "--root", str(tmp_path)]) == 1      # missing
    assert make_learner_main(["--root", str(tmp_path)]) == 0                 # written
    assert make_learner_main(["--check", "--root", str(tmp_path)]) == 0
    learner = tmp_path / src.name
    learner.write_text(learner.read_text().replace("replace this line", "replace that line"))
    assert make_learner_main(["--check", "--root", str(tmp_path)]) == 1      # edited


def test_learner_notebooks_contain_no_solution_text():
    for src, dst in targets():
        source, learner = _nb(src), dst.read_text()
        assert BEGIN not in learner and END not in learner, dst
        outside = []
        inside = []
        for cell in source["cells"]:
            text = "".join(cell["source"])
            for block in re.findall(re.escape(BEGIN) + r"\n(.*?)" + re.escape(END), text, re.DOTALL):
                inside += [line.strip() for line in block.splitlines()]
            outside.append(re.sub(re.escape(BEGIN) + r".*?" + re.escape(END), "", text, flags=re.DOTALL))
        outside = "\n".join(outside)
        for line in inside:
            # a solution line may appear in the learner file only if it also appears outside
            # the solution blocks (e.g. a "return" line that is part of the stub)
            if len(line) >= 12 and line not in outside:
                assert json.dumps(line)[1:-1] not in learner, (dst.name, line)
        assert all(c.get("outputs", []) == [] for c in json.loads(learner)["cells"]), dst


# ----------------------------------------------------------------------------- command line

def test_cli_prints_table_and_json_and_low_score_exits_0(tmp_path):
    out = tmp_path / "result.json"
    proc = _grade_cli(EXERCISES_DIR / "02_rnn_forward.ipynb", "--json", out, "--seed", 1)
    assert proc.returncode == 0, proc.stderr
    assert "rnn_step" in proc.stdout and "0/3" in proc.stdout and "total" in proc.stdout
    result = json.loads(out.read_text())
    assert result["score"] == 0 and result["max"] == 10
    assert [q["name"] for q in result["questions"]] == ["rnn_step", "rnn_forward", "last_hidden"]
    assert {"name", "points", "max", "messages", "hints"} <= set(result["questions"][0])


def test_cli_several_notebooks_write_a_list(tmp_path):
    out = tmp_path / "results.json"
    proc = _grade_cli(EXERCISES_DIR / "source" / "04_clipping.ipynb",
                      EXERCISES_DIR / "04_clipping.ipynb", "--json", out, "--jobs", 2)
    assert proc.returncode == 0, proc.stderr
    results = json.loads(out.read_text())
    assert [r["score"] for r in results] == [10, 0]


@pytest.mark.parametrize("problem", ["missing", "unknown id", "no metadata", "not json",
                                     "id is a list", "cells not dicts", "tags null"])
def test_a_bad_notebook_is_one_error_line_and_the_batch_goes_on(tmp_path, problem):
    nb = _nb(EXERCISES_DIR / "source" / "04_clipping.ipynb")
    path = tmp_path / "x.ipynb"
    if problem == "unknown id":
        nb["metadata"]["rnnlib_exercise"]["id"] = "99_nothing"
    elif problem == "no metadata":
        del nb["metadata"]["rnnlib_exercise"]
    elif problem == "id is a list":
        nb["metadata"]["rnnlib_exercise"]["id"] = ["04_clipping"]
    elif problem == "cells not dicts":
        nb["cells"][:0] = [42, "x", None, {"cell_type": "code", "source": 7}]
    elif problem == "tags null":
        for cell in nb["cells"]:
            cell["metadata"] = {"tags": None}
    if problem == "not json":
        path.write_text("{ not json")
    elif problem != "missing":
        path.write_text(json.dumps(nb))
    good = EXERCISES_DIR / "source" / "02_rnn_forward.ipynb"
    out = tmp_path / "out.json"
    proc = _grade_cli(good, path, "--json", out, "--seed", 1, "--jobs", 2)
    results = json.loads(out.read_text())
    assert results[0]["score"] == 10 and "02_rnn_forward" in proc.stdout   # the other notebook
    if problem in ("cells not dicts", "tags null"):          # odd but gradable
        assert proc.returncode == 0, proc.stderr
        assert results[1]["score"] == 10
        return
    expected = {"missing": "no such file", "unknown id": "unknown exercise id '99_nothing'",
                "no metadata": "not an exercise notebook", "not json": "not a notebook",
                "id is a list": "unknown exercise id of type list"}[problem]
    assert proc.returncode == 2
    errors = proc.stderr.strip().splitlines()
    assert len(errors) == 1 and expected in errors[0] and str(path) in errors[0], proc.stderr
    assert "Traceback" not in proc.stderr
    assert results[1]["error"] and results[1]["score"] is None


def test_json_into_a_missing_folder_fails_before_grading(tmp_path):
    proc = _grade_cli(EXERCISES_DIR / "04_clipping.ipynb", "--json", tmp_path / "nope" / "r.json")
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip().count("\n") == 0 and "does not exist" in proc.stderr


# ----------------------------------------------------------------------------- limits and isolation

def test_top_level_endless_loop_costs_nothing_else(tmp_path):
    nb = _with_cell(_nb(EXERCISES_DIR / "source" / "04_clipping.ipynb"), "while True:\n    pass\n", at=2)
    result = grade_notebook(_write(tmp_path, "loop.ipynb", nb), seed=1)
    assert result["score"] == 10
    assert [c["status"] for c in result["cells"]] == ["timeout"]
    assert result["seconds"] < load_exercise("04_clipping").cell_timeout + 8


def test_loop_that_disables_the_alarm_is_killed_at_the_wall_clock(tmp_path):
    nb = _edit_source("04_clipping", "    clipped = {k: np.clip(g, -clip_value, clip_value)",
                      "    import signal\n    signal.signal(signal.SIGALRM, signal.SIG_IGN)\n"
                      "    while True:\n        pass\n    clipped = {k: np.clip(g, -clip_value, clip_value)")
    result = grade_notebook(_write(tmp_path, "stubborn.ipynb", nb), seed=1, wall_timeout=20)
    assert result["process"] == "stopped: clip_by_value did not return within 2 s"   # not the wall
    points = {q["name"]: q["points"] for q in result["questions"]}
    assert points == {"global_norm": 3, "clip_by_global_norm": 4, "clip_by_value": 0}


def test_memory_hog_costs_only_its_question(tmp_path):
    nb = _edit_source("04_clipping", "    norm = float(np.sqrt(total))",
                      "    hog = [np.empty(10**8) for _ in range(10**4)]\n    norm = float(np.sqrt(total))")
    result = grade_notebook(_write(tmp_path, "hog.ipynb", nb), seed=1)
    q = {q["name"]: q for q in result["questions"]}
    assert q["global_norm"]["points"] == 0 and "MemoryError" in " ".join(q["global_norm"]["messages"])
    assert q["clip_by_global_norm"]["points"] == 4 and q["clip_by_value"]["points"] == 3


def test_exit_in_a_cell_and_os_exit_in_a_function(tmp_path):
    nb = _with_cell(_nb(EXERCISES_DIR / "source" / "02_rnn_forward.ipynb"), "import sys\nsys.exit(3)\n", at=2)
    result = grade_notebook(_write(tmp_path, "exit.ipynb", nb), seed=1)
    assert result["score"] == 10 and result["cells"][0]["error"].startswith("SystemExit")
    nb = _edit_source("02_rnn_forward", "    lengths = np.asarray(lengths)",
                      "    import os\n    os._exit(0)")
    result = grade_notebook(_write(tmp_path, "os_exit.ipynb", nb), seed=1)
    points = {q["name"]: q["points"] for q in result["questions"]}
    assert points == {"rnn_step": 3, "rnn_forward": 4, "last_hidden": 0}


def test_reference_solutions_pass_with_other_seeds(tmp_path):
    for ex_id in ("02_rnn_forward", "05_lstm_step", "12_ctc_prefix_beam", "10_decoding"):
        for seed in (7, 8):
            result = grade_notebook(EXERCISES_DIR / "source" / f"{ex_id}.ipynb", seed=seed)
            assert result["score"] == result["max"], (ex_id, seed, result["questions"])


def _edit_source(ex_id, old, new):
    nb = _nb(EXERCISES_DIR / "source" / f"{ex_id}.ipynb")
    for cell in nb["cells"]:
        text = "".join(cell["source"])
        if old in text:
            cell["source"] = text.replace(old, new)
            return nb
    raise AssertionError(old)


# ----------------------------------------------------------------------------- values

def test_encode_decode_round_trip():
    value = (np.arange(6.0).reshape(2, 3), {"a": [1, 2.5, None, True], "b": np.array([True])},
             np.float32(1.5), np.int64(3), "s", np.zeros((0, 2)))
    back = decode(json.loads(json.dumps(encode(value))))
    assert isinstance(back, tuple) and np.array_equal(back[0], value[0]) and back[0].dtype == float
    assert back[1]["a"] == [1, 2.5, None, True] and back[1]["b"].dtype == bool
    assert back[2] == 1.5 and back[3] == 3 and back[5].shape == (0, 2)


@pytest.mark.parametrize("forged", [
    {"__nd__": "object", "shape": [1], "data": [1]},
    {"__nd__": "float64", "shape": [2, 2], "data": [1, 2, 3]},
    {"__nd__": "float64", "shape": [1], "data": ["x"]},
    {"__fn__": "os:system", "args": {"__tuple__": []}},
    {"__ref__": "model"},
    {"surprise": 1},
])
def test_decode_rejects_forged_values(forged):
    with pytest.raises(DecodeError):
        decode(forged)


def test_fn_arguments_only_name_grader_functions():
    f = Fn("rnnlib.grading.ex03_bptt:smooth_function", (np.ones(2), 0.0))
    assert f(np.zeros(2)) == 0.0
    with pytest.raises(DecodeError):
        Fn("subprocess:run").resolve()


# ----------------------------------------------------------------------------- check()

def _run_notebook(path, replace=None, skip_tagged=True):
    """Execute a notebook's code cells in-process, as a kernel would; return what they printed."""
    nb = _nb(path)
    ns = {"__name__": "__main__"}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        for cell in nb["cells"]:
            if cell["cell_type"] != "code" or (
                    skip_tagged and "skip-grading" in cell["metadata"].get("tags", [])):
                continue
            text = "".join(cell["source"])
            for old, new in (replace or []):
                text = text.replace(old, new)
            exec(compile(text, "<cell>", "exec"), ns)
    return out.getvalue()


def _run_source(ex_id, replace=None):
    return _run_notebook(EXERCISES_DIR / "source" / f"{ex_id}.ipynb", replace)


@pytest.mark.parametrize("ex_id", sorted(EXERCISES))
def test_check_passes_the_reference(ex_id, monkeypatch):
    printed = _run_source(ex_id)
    lines = [ln for ln in printed.splitlines() if "checks passed" in ln]
    assert len(lines) == len(load_exercise(ex_id).questions)
    assert all(": all " in ln for ln in lines), printed


@pytest.mark.parametrize("ex_id", sorted(EXERCISES))
def test_learner_notebook_runs_top_to_bottom(ex_id, monkeypatch):
    """Run All on an untouched notebook raises nothing: every check reports the stub."""
    printed = _run_notebook(EXERCISES_DIR / f"{ex_id}.ipynb", skip_tagged=False)
    functions = {q.fn_name for q in load_exercise(ex_id).questions}
    assert printed.count("not implemented yet") == len(functions), printed
    assert ": all " not in printed


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the planted overflow
@pytest.mark.parametrize("ex_id, replace, expected", [
    ("05_lstm_step", [("i = sigmoid(a[:, :H])", "i = sigmoid(a[:, H:2 * H])"),
                      ("f = sigmoid(a[:, H:2 * H])", "f = sigmoid(a[:, :H])")],
     "your gates match the order f, i, g, o"),
    ("05_lstm_step", [(' + params["bias_hh"]', "")], "without bias_hh"),
    ("02_rnn_forward", [("h_next = np.tanh(a)", "h_next = a[:, :-1] if a.shape[1] > 1 else a")],
     "h_next has shape (3, 4) but should be (3, 5)"),
    ("03_bptt", [("h_prev = hs[t - 1] if t > 0 else h0", "h_prev = hs[t]")],
     "off by one: step t's previous state is hs[t - 1]"),
    ("06_gru_step", [("r = sigmoid(ax[:, :H] + ah[:, :H])", "r = sigmoid(ax[:, H:2 * H] + ah[:, H:2 * H])")],
     "the reset gate r is wrong"),
    ("12_ctc_loss", [(" and l_ext[s] != l_ext[s - 2]", "")], "skip the blank between two equal labels"),
    ("11_attention", [("e = np.exp(scores - scores.max(axis=1, keepdims=True))", "e = np.exp(scores)")],
     "contains NaN or inf"),
])
def test_check_gives_targeted_hints_without_values(ex_id, replace, expected, monkeypatch):
    printed = _run_source(ex_id, replace)
    assert expected in printed, printed
    assert not re.search(r"\d\.\d{3,}", printed), printed   # no numbers from the expected output


def test_check_reports_stub(capsys):
    check = Checker("04_clipping")

    def global_norm(grads):
        raise NotImplementedError("replace this line with your code")

    check(global_norm)
    assert "not implemented yet" in capsys.readouterr().out


def test_check_names_the_functions_it_knows(capsys, monkeypatch):
    Checker("04_clipping")(print)
    assert "expected one of the exercise's functions" in capsys.readouterr().out


def test_gate_references_agree_with_rnnlib():
    """The exercises compute gates from the equations and states with rnnlib: they agree."""
    from rnnlib.grading import ex05_lstm_step as ex05
    from rnnlib.grading import ex06_gru_step as ex06
    rng = np.random.default_rng(0)
    for case in ex05.EXERCISE.questions[0].cases(rng, True):
        h, c, cache = ex05.ref_forward(*case.args)
        h2, c2, _ = ex05._forward(*case.args)
        assert np.allclose(h, h2) and np.allclose(c, c2) and np.allclose(cache["c_next"], c)
    for q, kwargs in zip(ex06.EXERCISE.questions, [{}, {"reset_inside": False, "z_on_candidate": True}]):
        for case in q.cases(rng, True):
            assert np.allclose(q.reference(*case.args)[0], ex06._gru(*case.args, **kwargs)[0])


def test_huge_or_strange_return_values_cost_only_their_question(tmp_path):
    nb = _edit_source("04_clipping", "    norm = float(np.sqrt(total))",
                      "    return np.zeros(10**7)")
    nb = _edit_source_nb(nb, "    clipped = {k: np.clip(g, -clip_value, clip_value)",
                         "    return print\n    clipped = {k: np.clip(g, -clip_value, clip_value)")
    result = grade_notebook(_write(tmp_path, "huge.ipynb", nb), seed=1)
    q = {q["name"]: q for q in result["questions"]}
    assert q["global_norm"]["points"] == 0 and "too large" in " ".join(q["global_norm"]["messages"])
    assert q["clip_by_value"]["points"] == 0 and "unusable" in " ".join(q["clip_by_value"]["messages"])
    assert q["clip_by_global_norm"]["points"] == 4 and result["process"] == "ok"


def _edit_source_nb(nb, old, new):
    for cell in nb["cells"]:
        text = "".join(cell["source"])
        if old in text:
            cell["source"] = text.replace(old, new)
            return nb
    raise AssertionError(old)


def test_check_stops_an_endless_loop(monkeypatch, capsys):
    import rnnlib.grading.check as check_module
    monkeypatch.setattr(check_module, "CHECK_SECONDS", 0.5)

    def global_norm(grads):
        while True:
            pass

    Checker("04_clipping")(global_norm)
    assert "did not finish within 0.5 s" in capsys.readouterr().out


# ----------------------------------------------------------------------------- hostile submissions

def _stub_with(ex_id, source):
    """The untouched learner notebook with one more code cell at the end."""
    return _with_cell(_nb(EXERCISES_DIR / f"{ex_id}.ipynb"), source)


def _points(result):
    return {q["name"]: q["points"] for q in result["questions"]}


STEAL_REFERENCES = r'''
import glob, json, os, sys
import rnnlib
found = []
for attempt in (
        lambda: __import__("rnnlib.grading.ex04_clipping", fromlist=["x"]),
        lambda: (sys.path.insert(0, REPO), __import__("rnnlib.grading.ex04_clipping", fromlist=["x"]))[1],
        lambda: __import__("__editable___rnnlib_0_1_0_finder").install() or
                __import__("rnnlib.grading.ex04_clipping", fromlist=["x"])):
    try:
        module = attempt()
        found.append(module)
        global_norm = module.ref_global_norm
        clip_by_global_norm = module.ref_clip_by_global_norm
        clip_by_value = module.ref_clip_by_value
    except Exception:
        pass
here = os.path.dirname(os.path.dirname(rnnlib.__file__))
for folder in (here, REPO, REPO + "/exercises/source", "/root", "/proc/1/root" + REPO,
               "/proc/%d/root%s" % (os.getppid(), REPO)):
    for path in glob.glob(folder + "/**/04_clipping.ipynb", recursive=True):
        try:
            nb = json.load(open(path))
        except Exception:
            continue
        for cell in nb["cells"]:
            if cell["cell_type"] == "code" and "BEGIN SOLUTION" in "".join(cell["source"]):
                exec("".join(cell["source"]), globals())
'''


def test_references_and_solutions_are_out_of_reach(tmp_path):
    """Importing the grader's references or reading the solution notebooks gets nothing."""
    nb = _stub_with("04_clipping", f"REPO = {str(REPO)!r}\n" + STEAL_REFERENCES)
    result = grade_notebook(_write(tmp_path, "steal.ipynb", nb), seed=1)
    if result["isolation"] == "none":
        pytest.skip("the grader is not root here: the submission runs as the same user")
    assert result["score"] == 0, result["questions"]
    if result["isolation"] == "user+mount":
        nb = _stub_with("04_clipping", f"REPO = {str(REPO)!r}\n" + r'''
def global_norm(grads):
    import os
    return float(sum(os.path.exists(p) for p in (
        REPO + "/exercises/source", REPO + "/rnnlib/grading/ex04_clipping.py", REPO + "/.git")))
''')
        result = grade_notebook(_write(tmp_path, "look.ipynb", nb), seed=1)
        assert "has a wrong value" in " ".join(result["questions"][0]["messages"]) \
            or result["questions"][0]["points"] == 0


def test_the_submission_runs_unprivileged_in_an_empty_folder_without_grading_variables(tmp_path):
    nb = _stub_with("02_rnn_forward", r'''
import os
import numpy as np
FACTS = {"uid": os.getuid(), "euid": os.geteuid(), "files": sorted(os.listdir(".")),
         "env": sorted(os.environ), "check": type(check).__module__,
         "says_grading": any(w in v.lower() for v in os.environ.values() for w in ("grad", "rnnlib"))}

def rnn_step(x, h_prev, params):
    raise RuntimeError(repr(FACTS))
''')
    result = grade_notebook(_write(tmp_path, "facts.ipynb", nb), seed=1)
    message = result["questions"][0]["messages"][0]
    facts = eval(message[message.index("{"):message.rindex("}") + 1])
    assert facts["files"] == []
    assert not [k for k in facts["env"] if "GRAD" in k.upper() or "RNNLIB" in k.upper()], facts
    assert facts["says_grading"] is False, facts
    if result["isolation"] != "none":
        assert facts["uid"] != 0 and facts["euid"] != 0
    from rnnlib.grading import sandbox
    assert result["isolation"] == sandbox.isolation() or result["isolation"] == "none"


@pytest.mark.parametrize("ex_id, code, function", [
    ("12_ctc_prefix_beam", "from rnnlib.ctc import prefix_beam_search as solved", "prefix_beam_search"),
    ("05_lstm_step", "import rnnlib\nsolved = rnnlib.LSTMCell", "lstm_step_forward"),
])
def test_forbidden_rnnlib_functions_fail_with_a_clear_message(tmp_path, ex_id, code, function):
    nb = _stub_with(ex_id, code + "\n")
    result = grade_notebook(_write(tmp_path, "forbidden.ipynb", nb), seed=1)
    assert result["score"] == 0
    errors = " ".join(c["error"] for c in result["cells"])
    assert "ImportError" in errors and "not available in a graded run" in errors, result["cells"]


FORGE_CHANNEL = r'''
import gc, json, os
channel = next(o for o in gc.get_objects() if type(o).__name__ == "_Channel")
for i in range(200):   # every case id the grader might ask, answered in advance
    channel.send({"op": "result", "id": i, "status": "ok", "value": VALUE})
channel.send({"op": "result", "id": "0", "status": "ok", "value": None})
channel.send({"op": "cells", "report": [{"index": "x", "status": "ok"}]})
for fd in range(3, 30):
    try:
        os.write(fd, b'{"question": "global_norm", "results": null}\n')
    except OSError:
        pass
'''

FORGE_IN_CALL = r'''
import gc
def clip_by_value(grads, clip_value):
    channel = next(o for o in gc.get_objects() if type(o).__name__ == "_Channel")
    frame = __import__("sys")._getframe(1)
    while frame is not None and "request" not in frame.f_locals:
        frame = frame.f_back
    my_id = frame.f_locals["request"]["id"]
    for _ in range(2):   # two answers to the case being asked
        channel.send({"op": "result", "id": my_id, "status": "ok",
                      "value": {"__dict__": []}})
    return {}
'''


@pytest.mark.parametrize("attack", ["answers in advance", "answers twice from a call"])
def test_forged_answers_score_nothing(tmp_path, attack):
    if attack == "answers in advance":
        nb = _stub_with("04_clipping", "VALUE = 1.0\n" + FORGE_CHANNEL)
    else:
        nb = _edit_source("04_clipping", "def clip_by_value(", "def _honest_clip_by_value(")
        nb = _with_cell(nb, FORGE_IN_CALL)
    result = grade_notebook(_write(tmp_path, "forge.ipynb", nb), seed=1)
    cases = {q["name"]: q["cases"] for q in result["questions"]}
    assert cases == {"global_norm": 6, "clip_by_global_norm": 6, "clip_by_value": 4}  # the plan's
    if attack == "answers in advance":
        assert result["score"] == 0, result["questions"]
    else:
        assert _points(result) == {"global_norm": 3, "clip_by_global_norm": 4, "clip_by_value": 0}
        assert "answered 3 times" in " ".join(result["questions"][2]["messages"])


def test_huge_and_malformed_answers_cost_only_their_question(tmp_path):
    nb = _edit_source("12_ctc_prefix_beam", "def prefix_beam_search(", "def _honest_pbs(")
    nb = _with_cell(nb, r'''
import gc
CALLS = []
def prefix_beam_search(log_probs, beam_width, blank=0):
    CALLS.append(1)
    return [1] * 1_300_000 if len(CALLS) <= 2 else [1]
''')
    nb = _with_cell(nb, r'''
_real_collapse = collapse
def collapse(path, blank=0):
    if not CALLS:
        channel = next(o for o in gc.get_objects() if type(o).__name__ == "_Channel")
        channel.wfile.write(b"[[[[[[ not json\n" + b"x" * (9 * 2**20) + b"\n")
        channel.wfile.flush()
    return _real_collapse(path, blank)
''')
    result = grade_notebook(_write(tmp_path, "huge.ipynb", nb), seed=1)
    points = _points(result)
    assert points["greedy_ctc"] == load_exercise("12_ctc_prefix_beam").question("greedy_ctc").points
    assert points["collapse"] == 0 and points["prefix_beam_search"] == 0
    assert "too large" in " ".join(result["questions"][2]["messages"])


def test_decode_of_a_value_naming_a_module_is_refused():
    with pytest.raises(DecodeError):
        decode({"__fn__": "nonexistent.module:f"})
    with pytest.raises(DecodeError):
        decode({"__nd__": "int64", "shape": [400_001], "data": [0] * 400_001})


DAEMONS = r'''
import os, subprocess, sys, time
SPY = {spy!r}
TARGET = {target!r}
code = ("import os, sys, time\n"
        "open(os.path.join(sys.argv[1], str(os.getpid())), 'w').close()\n"
        "time.sleep(3)\n"
        "for _ in range(100):\n"
        "    try:\n"
        "        open(sys.argv[2], 'w').write('{{\"score\": 10}}')\n"
        "    except OSError:\n"
        "        pass\n"
        "    time.sleep(0.05)\n")
subprocess.Popen([sys.executable, "-c", code, SPY, TARGET], start_new_session=True,
                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
if os.fork() == 0:          # a double fork
    if os.fork() == 0:
        os.setsid()
        os.execv(sys.executable, [sys.executable, "-c", code, SPY, TARGET])
    os._exit(0)
time.sleep(0.5)
'''


def test_nothing_the_submission_starts_survives_grading(tmp_path):
    import os
    import time
    spy = Path(__import__("tempfile").mkdtemp(prefix="spy-"))
    os.chmod(spy, 0o777)
    out = tmp_path / "result.json"
    nb = _stub_with("04_clipping", DAEMONS.format(spy=str(spy), target=str(out)))
    proc = _grade_cli(_write(tmp_path, "daemon.ipynb", nb), "--json", out, "--seed", 1)
    assert proc.returncode == 0, proc.stderr
    pids = [int(p.name) for p in spy.iterdir()]
    assert len(pids) == 2, pids
    time.sleep(4)
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            state = "gone"
        assert state in ("gone", "Z"), (pid, state)
    assert json.loads(out.read_text())["score"] == 0


# ----------------------------------------------------------------------------- partial credit

_PREFIX_MISTAKES = {
    "returns the greedy labelling": (
        [("    best = max(beam.items(), key=lambda item: np.logaddexp(*item[1]))[0]",
          "    best = tuple(collapse(np.argmax(log_probs, axis=1), blank))")], 0.25),
    "extends repeats from the total": (
        [("add(prefix + (k,), log_nb=y[k] + log_b)", "add(prefix + (k,), log_nb=y[k] + total)")], 0.5),
    "drops the stay term": (
        [("                add(prefix, log_nb=y[prefix[-1]] + log_nb)", "                pass")], 0.5),
}


@pytest.mark.parametrize("mistake", sorted(_PREFIX_MISTAKES))
def test_prefix_beam_search_mistakes_keep_little_partial_credit(tmp_path, mistake):
    """Most cases are drawn so that the labelling beats the best path's (and, for some,
    holds a repeated label): a mistake in the algorithm fails most of them."""
    replacements, at_most = _PREFIX_MISTAKES[mistake]
    nb = _nb(EXERCISES_DIR / "source" / "12_ctc_prefix_beam.ipynb")
    for old, new in replacements:
        nb = _edit_source_nb(nb, old, new)
    result = grade_notebook(_write(tmp_path, "pbs.ipynb", nb), seed=1)
    q = {q["name"]: q for q in result["questions"]}["prefix_beam_search"]
    assert q["points"] <= at_most * q["max"], (mistake, q)
    assert q["cases"] == 16


# ----------------------------------------------------------------------------- hints

@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("ex_id, replacements, question, hint, not_hint", [
    ("12_ctc_loss", [("np.full(2 * len(target) + 1, blank", "np.full(2 * len(target), blank")],
     "extend_target", "misses the final blank", "has no blanks"),
    ("12_ctc_loss", [("        log_alpha[0, 1] = log_probs[0, l_ext[1]]", "        pass")],
     "ctc_log_alpha", "a path that is allowed is missing", "work in log space"),
    ("10_decoding", [("candidates.sort(key=lambda c: -c[1])", "candidates.sort(key=lambda c: -c[1] / len(c[0]))"),
                     ("max(beam, key=lambda c: c[1])", "max(beam, key=lambda c: c[1] / len(c[0]))")],
     "beam_search", "divided by their length", "finished hypotheses are dropped"),
    ("04_clipping", [("clipped = {k: g * scale for k, g in grads.items()}",
                      "clipped = {k: np.clip(g, -max_norm, max_norm) for k, g in grads.items()}")],
     "clip_by_global_norm", "each entry is clipped", "its own norm"),
    ("04_clipping", [("        total += float(np.sum(g ** 2))\n    norm = float(np.sqrt(total))",
                      "        total += float(np.sqrt(np.sum(g ** 2)))\n    norm = total")],
     "global_norm", "adds up the arrays' norms", "that is the sum of squares"),
    ("11_attention", [("        scores = np.where(mask, scores, -np.inf)\n", "        scores = scores * mask\n")],
     "masked_softmax", "multiplied by the mask", "zeroed after the softmax"),
])
def test_grader_hints_name_the_likely_cause(tmp_path, ex_id, replacements, question, hint, not_hint):
    nb = _nb(EXERCISES_DIR / "source" / f"{ex_id}.ipynb")
    for old, new in replacements:
        nb = _edit_source_nb(nb, old, new)
    result = grade_notebook(_write(tmp_path, "hint.ipynb", nb), seed=3)
    q = {q["name"]: q for q in result["questions"]}[question]
    said = " ".join(q["messages"] + q["hints"])
    assert q["points"] < q["max"] and hint in said and not_hint not in said, said


def test_training_budget_is_counted_in_examples():
    from rnnlib.grading.temporal_order import BUDGET, MAX_BATCH, BatchSource
    case = load_exercise("09_training").questions[0].cases(np.random.default_rng(0), True)[0]
    source = case.args[0]
    assert isinstance(source, BatchSource) and source.budget == BUDGET
    seen = 0
    while (batch := source(MAX_BATCH)) is not None:
        seen += len(batch[1])
    assert seen == BUDGET and source(1) is None
    with pytest.raises(ValueError, match="next_batch"):
        BatchSource()(MAX_BATCH + 1)


@pytest.mark.parametrize("limit", ["time", "memory"])
def test_the_grading_worker_is_limited_and_its_failure_is_one_line(monkeypatch, limit):
    import rnnlib.grading.runner as runner
    if limit == "time":   # no time left for scoring
        monkeypatch.setattr(runner, "_SCORING_SECONDS", -load_exercise("04_clipping").wall_timeout + 0.3)
    else:                 # too little memory for the worker to even load NumPy
        monkeypatch.setattr(runner, "_WORKER_MEMORY_MB", 40)
    results = runner.grade([EXERCISES_DIR / "source" / "04_clipping.ipynb"] * 2, seed=1, jobs=2)
    for result in results:
        assert result["score"] is None and "\n" not in result["error"], result
        assert ("took too long" if limit == "time" else "failed") in result["error"], result


def test_forbidden_names_exist_in_rnnlib():
    """A forbidden function that was renamed would silently become usable again."""
    import importlib
    for ex_id in EXERCISES:
        for target in load_exercise(ex_id).forbidden:
            module, attr = target.split(":")
            assert hasattr(importlib.import_module(module), attr), (ex_id, target)


def test_training_time_limit_is_reported_with_the_limit_applied(tmp_path, monkeypatch):
    import rnnlib.grading.ex09_training as ex09
    monkeypatch.setattr(ex09, "TRAIN_TIMEOUT", 1.5)
    nb = _edit_source("09_training", "    while (data := next_batch(batch)) is not None:",
                      "    while True:\n        pass\n    while (data := next_batch(batch)) is not None:")
    result = grade_notebook(_write(tmp_path, "slow.ipynb", nb), seed=1)
    said = " ".join(result["questions"][0]["messages"])
    assert "train_model did not finish within 1.5 s" in said and result["score"] == 0, said


def test_prefix_beam_search_partial_credit_over_seeds():
    """Median share of prefix_beam_search's points that each mistake keeps, over 12 seeds
    of the grader's cases (scored as the grader scores them, without the processes)."""
    from rnnlib.grading import ex12_ctc_prefix_beam as ex12
    source = next("".join(c["source"]) for c in _nb(EXERCISES_DIR / "source" / "12_ctc_prefix_beam.ipynb")["cells"]
                  if "def prefix_beam_search" in "".join(c["source"]))
    bounds = {"returns the greedy labelling": 0.2, "extends repeats from the total": 0.4,
              "drops the stay term": 0.5}
    question = load_exercise("12_ctc_prefix_beam").question("prefix_beam_search")
    for mistake, bound in bounds.items():
        code = source
        for old, new in _PREFIX_MISTAKES[mistake][0]:
            code = code.replace(old, new)
        ns = {"np": np, "collapse": ex12.ref_collapse}
        exec(code, ns)
        shares = []
        for seed in range(12):
            cases = question.cases(np.random.default_rng([seed, 2]), True)
            shares.append(np.mean([question.score(ns["prefix_beam_search"](*c.args), c)[0] for c in cases]))
        assert np.median(shares) <= bound, (mistake, np.median(shares), min(shares), max(shares))

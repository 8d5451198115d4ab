"""The stored study of chapter 7 (studies/gated_vs_vanilla.py): its claims, and a re-run slice.

The full study takes tens of minutes; these tests check that the stored results file is
what the script's own summary makes of its runs, that it shows the chapter's claims, and
re-run a small slice of the grid (one seed, T = 100, about half a minute on one core) to
check that training here still gives the stored verdicts.
"""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))   # the repository root
from studies import gated_vs_vanilla as study  # noqa: E402

STORED = study.load()


def _row(task, T, cell):
    (row,) = [r for r in STORED["summary"] if (r["task"], r["T"], r["cell"]) == (task, T, cell)]
    return row


def test_stored_grid_is_the_full_grid():
    grid = study.Grid(**{k: tuple(v) if isinstance(v, list) else v
                         for k, v in STORED["grid"].items()})
    assert grid == study.FULL
    cells = len(grid.cells) * len(study.settings(grid)) * len(grid.learning_rates)
    assert len(STORED["runs"]) == cells * len(grid.seeds)


def test_stored_summary_follows_from_the_stored_runs():
    # the learning-rate choice, medians and ranges are recomputed from the runs themselves
    recomputed = study.summarise([study._run_from_json(r) for r in STORED["runs"]], study.FULL)
    stored = STORED["summary"]
    assert [(r["task"], r["T"], r["cell"], r["lr"]) for r in recomputed] == \
           [(r["task"], r["T"], r["cell"], r["lr"]) for r in stored]
    for new, old in zip(recomputed, stored):
        assert new["test_median"] == pytest.approx(old["test_median"])
        assert new["solved"] == old["solved"]


def test_stored_study_shows_the_classic_result():
    # adding problem, T = 100: both gated cells solve every seed, the vanilla RNN none
    for cell in ("LSTM", "GRU"):
        row = _row("adding", 100, cell)
        assert row["solved"] == row["seeds"] == 3, row
        assert row["test_max"] < 0.5 * study.SOLVED, row
    rnn = _row("adding", 100, "RNN")
    assert rnn["solved"] == 0 and rnn["test_min"] > 0.5, rnn


def test_quick_slice_reproduces_the_stored_verdicts():
    runs, summary, _ = study.study(study.QUICK, progress=False)
    for run in runs:
        (stored,) = [r for r in STORED["runs"]
                     if (r["task"], r["T"], r["cell"], r["lr"], r["seed"])
                     == (run.task, run.T, run.cell, run.lr, run.seed)]
        stored_verdict = (stored["steps_to_solve"] is not None
                          and stored["steps_to_solve"] <= study.QUICK.steps)
        assert (run.steps_to_solve is not None) == stored_verdict, (run, stored)
    by_cell = {row["cell"]: row for row in summary}
    assert by_cell["GRU"]["test_median"] < study.SOLVED
    assert by_cell["RNN"]["test_median"] > 0.5

"""The stored study of chapter 10: its claims, and a re-run slice of its script.

``studies/seq2seq_bottleneck.py``: the stored curves, trained to a plateau at three hidden
sizes, show the chapter's claims, and the script's 400-step run (chapter 10's live run),
re-trained here, gives the stored curve.
"""

import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))   # the repository root
from studies import seq2seq_bottleneck  # noqa: E402


def stored_study():
    study = json.loads(seq2seq_bottleneck.RESULTS.read_text())
    return study, {run["hidden_size"]: run for run in study["runs"]}


def test_bottleneck_stored_study_plateaus():
    study, runs = stored_study()
    assert tuple(runs) == seq2seq_bottleneck.SIZES
    for size, run in runs.items():
        valid = [c["valid_exact_match"] for c in run["cycles"]]
        gains = np.diff(valid)
        assert np.all(gains > 0), size  # every cycle helped a little
        if size == 16:  # stopped by the cap, still gaining a little
            assert not run["plateau"] and len(valid) == study["max_cycles"]
            assert gains[0] > 0.1 and gains[-3:].max() < 0.02
        else:  # stopped by the rule: the last cycle gained less than MIN_GAIN
            assert run["plateau"] and gains[-1] < study["min_gain"], size
            assert len(valid) < study["max_cycles"], size


def test_bottleneck_stored_study_shows_the_claims():
    _, runs = stored_study()
    last = {size: np.array(run["cycles"][-1]["test_accuracy"]) for size, run in runs.items()}
    first = {size: np.array(run["cycles"][0]["test_accuracy"]) for size, run in runs.items()}
    long = slice(6, 10)  # 7 to 10 digits
    for acc in last.values():
        assert acc[:5].min() > 0.95, "short numbers fit through every context vector"
    assert last[64][-1] > 0.9, "with H = 64, ten digits fit"
    assert last[32][-1] < 0.6 and last[16][-1] < 0.2, "with H = 32 or 16 they do not"
    assert last[16][long].mean() + 0.2 < last[32][long].mean(), "the fall is set by H"
    assert last[32][long].mean() + 0.1 < last[64][long].mean(), "the fall is set by H"
    # ten cycles of H = 16 stay below one cycle of H = 64: the budget does not close the gap
    assert last[16][long].mean() + 0.2 < first[64][long].mean()
    assert last[16][-1] + 0.3 < first[64][-1]


def test_bottleneck_chapter_run_reproduces():
    study, _ = stored_study()
    stored = np.array(study["chapter_run"]["test_accuracy"])
    again = np.array(seq2seq_bottleneck.chapter_run(progress=False))
    assert np.abs(again - stored).max() < 0.1  # kernels may differ between CPUs

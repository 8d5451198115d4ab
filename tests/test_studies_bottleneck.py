"""The stored study of chapter 10: its claims, and a re-run slice of its script.

``studies/seq2seq_bottleneck.py``: the stored accuracy curves show the chapter's claims,
and the script's 400-step run, re-trained here, gives the stored curve.
"""

import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))   # the repository root
from studies import seq2seq_bottleneck  # noqa: E402


def test_bottleneck_stored_study_shows_the_claims():
    runs = json.loads(seq2seq_bottleneck.RESULTS.read_text())["runs"]
    stored = {(r["hidden_size"], r["steps"]): np.array(r["accuracy"]) for r in runs}
    assert set(stored) == set(seq2seq_bottleneck.RUNS)
    for acc in stored.values():
        assert acc[:3].min() > 0.95, "short numbers fit through the context vector"
        assert np.all(np.diff(acc) < 0.02), "accuracy falls with length"
    assert stored[64, 3600][-1] > stored[64, 1200][-1] + 0.3, "more training moves the fall right"
    assert stored[128, 1200][-2:].mean() > stored[64, 1200][-2:].mean() + 0.2, "so does a larger H"


def test_bottleneck_400_step_run_reproduces():
    runs = json.loads(seq2seq_bottleneck.RESULTS.read_text())["runs"]
    (stored,) = [r["accuracy"] for r in runs if (r["hidden_size"], r["steps"]) == (64, 400)]
    model = seq2seq_bottleneck.train(64, 400, progress=False)
    again = np.array(seq2seq_bottleneck.test_accuracy(model))
    assert np.abs(again - np.array(stored)).max() < 0.1  # kernels may differ between CPUs

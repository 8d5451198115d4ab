"""The stored studies of chapters 9 and 10: their claims, and a re-run slice of each script.

- ``studies/char_lm.py`` (chapter 9): the stored float16 weights, loaded into the model,
  give the stored held-out bits per character; the stored curve shows the chapter's
  claims (training loss far below held-out loss, which bottomed out and rose again: the
  model overfits); and a short run of the script still trains.
- ``studies/seq2seq_bottleneck.py`` (chapter 10): the stored accuracy curves show the
  chapter's claims, and the script's 400-step run, re-trained here, gives the stored curve.
"""

import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))   # the repository root
from studies import char_lm, seq2seq_bottleneck  # noqa: E402


def test_char_lm_stored_weights_give_the_stored_result():
    summary = json.loads(char_lm.SUMMARY.read_text())
    vocab, _, valid_ids = char_lm.data()
    model = char_lm.CharLM(len(vocab))
    model.load_state_dict({k: v.float() for k, v in torch.load(char_lm.WEIGHTS).items()})
    bits = char_lm.held_out_bits(model, valid_ids)
    assert abs(bits - summary["valid_bits"]) < 0.01
    assert bits < 2.32 - 0.1, "below the chapter's 300-step model (2.32 bits held out)"
    valid = [point["valid_bits"] for point in summary["curve"]]
    train = [point["train_bits"] for point in summary["curve"]]
    assert min(valid) < valid[0] - 0.5, "held-out loss fell during training"
    assert valid[-1] > min(valid) + 0.05 and train[-1] < min(valid) - 0.5, "then it overfits"


def test_char_lm_script_trains():
    torch.manual_seed(0)
    _, summary = char_lm.train(char_lm.QUICK_STEPS, progress=False)
    assert summary["valid_bits"] < 4.0  # below the unigram entropy of about 4.7 bits


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

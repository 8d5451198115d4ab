"""The stored study of chapter 9: its claims, and a re-run slice of its script.

``studies/char_lm.py`` trains two character-level language models on the same split of the
help pages (one 4000-character block in ten held out): the chapter's 128-unit LSTM without
regularisation, and the stored model, 256 units with dropout, whose best weights (by
held-out loss) it keeps. Here: the stored float16 weights, loaded into the model, give the
stored held-out bits per character; the stored curves show the chapter's claims (the wider
model with dropout ends clearly lower, both curves had flattened, and only the model without
dropout ends with training loss far below held-out loss); and a short run of the script
still trains.
"""

import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))   # the repository root
from studies import char_lm  # noqa: E402


def _summary():
    return json.loads(char_lm.SUMMARY.read_text())


def test_char_lm_stored_weights_give_the_stored_result():
    summary = _summary()
    vocab, _, valid_ids = char_lm.data()
    assert summary["valid_chars"] == len(valid_ids), "the split the study used"
    model = char_lm.CharLM(len(vocab), hidden_size=summary["settings"]["hidden"])
    model.load_state_dict({k: v.float() for k, v in torch.load(char_lm.WEIGHTS).items()})
    bits = char_lm.held_out_bits(model, valid_ids)
    assert abs(bits - summary["valid_bits"]) < 0.01
    assert char_lm.WEIGHTS.stat().st_size < 2_000_000
    # the stored weights are those of the lowest point of the held-out curve (early stopping)
    valid = {point["step"]: point["valid_bits"] for point in summary["curve"]}
    assert summary["best_step"] == min(valid, key=valid.get)
    assert abs(valid[summary["best_step"]] - summary["valid_bits"]) < 0.01


def test_char_lm_stored_curves_show_the_chapters_claims():
    summary = _summary()
    baseline = summary["baseline"]
    model_valid = np.array([point["valid_bits"] for point in summary["curve"]])
    model_train = np.array([point["train_bits"] for point in summary["curve"]])
    base_valid = np.array([point["valid_bits"] for point in baseline["curve"]])
    base_train = np.array([point["train_bits"] for point in baseline["curve"]])
    assert summary["valid_bits"] < 1.9, "the stored model's held-out loss"
    assert summary["valid_bits"] < baseline["valid_bits"] - 0.1, "wider with dropout: lower"
    # both were trained until the held-out curve flattened: the last 1000 steps gained little
    for valid in (model_valid, base_valid):
        assert valid[-11] - valid[-1] < 0.02 and valid[-1] < valid.min() + 0.01
    # without dropout, training loss ends far below held-out loss; with it (training loss
    # measured with dropout on) the two end within a few hundredths
    assert base_train[-1] < base_valid[-1] - 0.4
    assert abs(model_train[-1] - model_valid[-1]) < 0.05
    assert (model_train > model_valid - 0.02).all()

def test_char_lm_script_trains():
    vocab, train_ids, _ = char_lm.data()
    frequencies = np.bincount(train_ids.numpy(), minlength=len(vocab)) / len(train_ids)
    frequencies = frequencies[frequencies > 0]
    unigram_bits = float(-(frequencies * np.log2(frequencies)).sum())   # about 4.7
    _, summary = char_lm.train(char_lm.QUICK_STEPS, progress=False)
    assert summary["valid_bits"] < unigram_bits - 0.5

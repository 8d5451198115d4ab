"""The stored study of chapter 9: its claims, and a re-run slice of its script.

``studies/char_lm.py``: the stored float16 weights, loaded into the model, give the stored
held-out bits per character; the stored curve shows the chapter's claims (training loss far
below held-out loss, which bottomed out and rose again: the model overfits); and a short
run of the script still trains.
"""

import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))   # the repository root
from studies import char_lm  # noqa: E402


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

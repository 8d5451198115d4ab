"""The registry of graded exercises: exercise id -> the module holding its spec.

Each module defines ``EXERCISE``, an :class:`rnnlib.grading.core.Exercise`. The id is the
notebook's file stem (``exercises/05_lstm_step.ipynb``) and is written in the notebook's
metadata as ``rnnlib_exercise.id``.
"""

import importlib

EXERCISES = {
    "02_rnn_forward": "rnnlib.grading.ex02_rnn_forward",
    "03_bptt": "rnnlib.grading.ex03_bptt",
    "04_clipping": "rnnlib.grading.ex04_clipping",
    "05_lstm_step": "rnnlib.grading.ex05_lstm_step",
    "06_gru_step": "rnnlib.grading.ex06_gru_step",
    "09_training": "rnnlib.grading.ex09_training",
    "10_decoding": "rnnlib.grading.ex10_decoding",
    "11_attention": "rnnlib.grading.ex11_attention",
    "12_ctc_loss": "rnnlib.grading.ex12_ctc_loss",
    "12_ctc_prefix_beam": "rnnlib.grading.ex12_ctc_prefix_beam",
}


def load_exercise(exercise_id):
    """The :class:`~rnnlib.grading.core.Exercise` with this id (KeyError if unknown)."""
    if exercise_id not in EXERCISES:
        raise KeyError(f"unknown exercise id {exercise_id!r}; known: {', '.join(sorted(EXERCISES))}")
    return importlib.import_module(EXERCISES[exercise_id]).EXERCISE

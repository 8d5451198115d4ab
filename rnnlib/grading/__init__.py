"""Graded exercises: specs, the in-notebook ``check`` and the grader.

- In an exercise notebook: ``from rnnlib.grading import Checker; check = Checker("05_lstm_step")``,
  then ``check(lstm_step_forward)`` runs a few quick tests and prints hints.
- From a shell: ``python -m rnnlib.grade exercises/05_lstm_step.ipynb [--json out.json]``.
- For instructors: ``python -m rnnlib.grading.make_learner`` rewrites the learner notebooks
  ``exercises/NN_name.ipynb`` from the sources with solutions ``exercises/source/``.

Modules: :mod:`~rnnlib.grading.core` (cases, comparison, hints), one ``exNN_*`` module
per exercise, :mod:`~rnnlib.grading.wire` (values between processes),
:mod:`~rnnlib.grading.sandbox` (the submission's user, folder and limits),
:mod:`~rnnlib.grading.child` (runs a submission), :mod:`~rnnlib.grading.runner` (the
plan of cases, scoring, the table), :mod:`~rnnlib.grading.check`, and
:mod:`~rnnlib.grading.temporal_order` (exercise 09's data, which a submission may use).
"""

from rnnlib.grading.check import Checker
from rnnlib.grading.exercises import EXERCISES, load_exercise

__all__ = ["Checker", "EXERCISES", "load_exercise"]

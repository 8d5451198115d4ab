"""Studies too long for a chapter: deterministic scripts that store their results in ``results/``.

Each chapter that relies on one runs a reduced version live, checks it agrees with the
stored file and plots the stored study; ``tests/test_studies.py`` re-runs a slice.
"""

"""The tutorial's digits application, built on the library: the exact splits, the presets,
the lambda search, plots, ``report.html`` and the ``tinygrad-nn`` command.

Needs the ``digits`` extra: ``pip install "tinygrad-nn[digits]"``.
"""

from .._optional import require

for _package in ("sklearn", "matplotlib", "joblib", "threadpoolctl"):
    require(_package, "digits", "the digits application")

from .data import DigitsSplits, load_digits_splits, shift_augment  # noqa: E402

__all__ = ["DigitsSplits", "load_digits_splits", "shift_augment"]

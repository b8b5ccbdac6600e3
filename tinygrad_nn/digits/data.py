"""The digits data in the tutorial's exact splits, and one-pixel shift augmentation."""

from typing import Any, NamedTuple

import numpy as np

from .._optional import require

__all__ = ["DigitsSplits", "load_digits_splits", "shift_augment"]


class DigitsSplits(NamedTuple):
    """Features (N, 64) and integer labels (N,) for the three splits (721 / 482 / 594 rows)."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_valid: np.ndarray
    y_valid: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray


def load_digits_splits(scale: bool = False, dtype: Any = np.float32) -> DigitsSplits:
    """scikit-learn's bundled 8x8 digits, split exactly as the tutorial does.

    Test = 33% (``random_state=111``); of the rest, validation = 40% (``random_state=123``).
    Pixels are raw 0..16 unless ``scale=True`` divides them by 16. Nothing is downloaded.
    Features are ``dtype`` (float32 by default), labels int64.
    """
    datasets = require("sklearn.datasets", "digits", "the digits data")
    model_selection = require("sklearn.model_selection", "digits", "the digits splits")
    digits = datasets.load_digits()
    X = digits.data.astype(dtype)
    if scale:
        X /= 16
    y = digits.target.astype(np.int64)
    X_rest, X_test, y_rest, y_test = model_selection.train_test_split(
        X, y, test_size=0.33, random_state=111
    )
    X_train, X_valid, y_train, y_valid = model_selection.train_test_split(
        X_rest, y_rest, test_size=0.4, random_state=123
    )
    return DigitsSplits(X_train, y_train, X_valid, y_valid, X_test, y_test)


def shift_augment(X: np.ndarray, rng: np.random.Generator, side: int = 8) -> np.ndarray:
    """Shift each flattened ``side x side`` image by one pixel (or not) in x and y.

    X: (N, side * side). Each image gets an independent shift in {-1, 0, 1}^2, filling the
    border with zeros; returns a new array of the same shape and dtype.
    """
    n = len(X)
    images = X.reshape(n, side, side)
    padded = np.zeros((n, side + 2, side + 2), dtype=X.dtype)
    padded[:, 1:-1, 1:-1] = images
    dy, dx = rng.integers(0, 3, size=(2, n))
    rows = dy[:, None] + np.arange(side)[None, :]
    cols = dx[:, None] + np.arange(side)[None, :]
    shifted = padded[np.arange(n)[:, None, None], rows[:, :, None], cols[:, None, :]]
    return shifted.reshape(n, side * side)

"""The digits data in the tutorial's exact splits, seeded minibatches, shift augmentation."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

__all__ = ["DigitsSplits", "load_digits_splits", "minibatches", "shift_augment"]


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
    """
    digits = load_digits()
    X = digits.data.astype(dtype)
    if scale:
        X /= 16
    y = digits.target.astype(np.int64)
    X_rest, X_test, y_rest, y_test = train_test_split(X, y, test_size=0.33, random_state=111)
    X_train, X_valid, y_train, y_valid = train_test_split(
        X_rest, y_rest, test_size=0.4, random_state=123
    )
    return DigitsSplits(X_train, y_train, X_valid, y_valid, X_test, y_test)


def minibatches(
    n: int, batch_size: int | None, rng: np.random.Generator | None = None
) -> Iterator[np.ndarray]:
    """Index arrays covering ``range(n)`` once, shuffled by ``rng`` (in order when None).

    ``batch_size=None`` (or >= n) gives one full batch, in order (nothing to shuffle: the
    mean loss does not depend on the order). The last minibatch may be smaller.
    """
    if n < 1:
        raise ValueError(f"minibatches: need at least one example, got n={n}")
    if batch_size is None or batch_size >= n:
        yield np.arange(n)
        return
    if batch_size < 1:
        raise ValueError(f"minibatches: batch_size must be positive, got {batch_size}")
    order = np.arange(n) if rng is None else rng.permutation(n)
    for start in range(0, n, batch_size):
        yield order[start : start + batch_size]


def shift_augment(X: np.ndarray, rng: np.random.Generator, side: int = 8) -> np.ndarray:
    """Shift each flattened ``side x side`` image by one pixel (or not) in x and y.

    Each image gets an independent shift in {-1, 0, 1}^2, filling the border with zeros.
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

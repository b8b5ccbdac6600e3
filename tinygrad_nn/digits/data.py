"""The digits data in the tutorial's exact splits, and one-pixel shift augmentation."""

from typing import Any, NamedTuple

import numpy as np

from .._optional import require

__all__ = ["DigitsSplits", "affine_augment", "load_digits_splits", "shift_augment"]


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


def affine_augment(
    X: np.ndarray,
    rng: np.random.Generator,
    side: int = 8,
    max_angle: float = 12.0,
    max_scale: float = 0.1,
    max_shift: float = 1.0,
) -> np.ndarray:
    """Rotate, scale and shift each flattened ``side x side`` image a little, at random.

    X: (N, side * side). Per image, independently and uniformly: an angle in
    ±``max_angle`` degrees and a scale in 1 ± ``max_scale`` about the image centre, and a
    shift of up to ±``max_shift`` pixels along each axis. Pixels are resampled bilinearly
    (zeros outside the image); returns a new array of the same shape and dtype.
    """
    n = len(X)
    padded = np.zeros((n, side + 2, side + 2), dtype=np.float64)
    padded[:, 1:-1, 1:-1] = X.reshape(n, side, side)
    angle = np.deg2rad(rng.uniform(-max_angle, max_angle, n))[:, None, None]
    scale = rng.uniform(1 - max_scale, 1 + max_scale, n)[:, None, None]
    ty, tx = rng.uniform(-max_shift, max_shift, (2, n))[:, :, None, None]
    centre = (side - 1) / 2
    yy, xx = np.mgrid[0:side, 0:side] - centre
    dy, dx = yy - ty, xx - tx
    # where each output pixel comes from: the inverse of x -> scale R(angle) x + t
    cos, sin = np.cos(angle), np.sin(angle)
    sy = (cos * dy + sin * dx) / scale + centre + 1  # + 1: the zero border of `padded`
    sx = (cos * dx - sin * dy) / scale + centre + 1
    y0, x0 = np.floor(sy), np.floor(sx)
    wy, wx = sy - y0, sx - x0
    y0 = np.clip(y0.astype(np.intp), 0, side + 1)
    x0 = np.clip(x0.astype(np.intp), 0, side + 1)
    y1, x1 = np.minimum(y0 + 1, side + 1), np.minimum(x0 + 1, side + 1)
    img = np.arange(n)[:, None, None]
    top = (1 - wx) * padded[img, y0, x0] + wx * padded[img, y0, x1]
    bottom = (1 - wx) * padded[img, y1, x0] + wx * padded[img, y1, x1]
    return ((1 - wy) * top + wy * bottom).reshape(n, side * side).astype(X.dtype)

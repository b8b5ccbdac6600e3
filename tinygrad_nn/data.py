"""Data helpers that need numpy only: seeded minibatches.

The tutorial's digits splits live in :mod:`tinygrad_nn.digits.data`;
``tinygrad_nn.data.load_digits_splits`` still reaches them (it needs the ``digits`` extra).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

__all__ = ["minibatches"]

_DIGITS = ("DigitsSplits", "load_digits_splits", "shift_augment")


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


def __getattr__(name: str) -> Any:
    # the digits splits moved to tinygrad_nn.digits.data; the old names still work
    if name in _DIGITS:
        from .digits import data

        return getattr(data, name)
    raise AttributeError(f"module 'tinygrad_nn.data' has no attribute {name!r}")

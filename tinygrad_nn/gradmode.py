"""Grad mode: the per-thread switch that says whether ops are recorded for backward.

``Tensor._apply`` reads it before recording an op; the backward driver never does, so it
lives apart from the engine (``autograd.py`` re-exports it).
"""

from __future__ import annotations

import contextlib
import threading

__all__ = ["enable_grad", "is_grad_enabled", "no_grad"]


class _State(threading.local):
    """Per-thread switch: is grad being recorded?"""

    def __init__(self) -> None:
        self.grad_enabled = True


_state = _State()


def is_grad_enabled() -> bool:
    """True unless inside :func:`no_grad` (per thread)."""
    return _state.grad_enabled


class _GradMode(contextlib.ContextDecorator):
    """Context manager and decorator that sets grad recording, restoring it on exit."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._saved: list[bool] = []

    def __enter__(self) -> _GradMode:
        self._saved.append(_state.grad_enabled)
        _state.grad_enabled = self.enabled
        return self

    def __exit__(self, *exc: object) -> None:
        _state.grad_enabled = self._saved.pop()

    def _recreate_cm(self) -> _GradMode:
        # a fresh manager per decorated call, so threads and recursion never share state
        return _GradMode(self.enabled)


def no_grad() -> _GradMode:
    """Nothing computed inside is recorded for backward.

    Use as ``with no_grad(): ...`` or as a decorator ``@no_grad()``. The switch is per
    thread and always restored, even when the body raises.
    """
    return _GradMode(False)


def enable_grad() -> _GradMode:
    """Turn recording back on inside a :func:`no_grad` block (context manager or decorator)."""
    return _GradMode(True)

"""What watches the engine: hooks, stateful methods and the in-place edit clock.

``detect_anomaly`` and ``compile`` install a :class:`Hook` to see every op's forward, every
backward pass and every gradient. Optimizers mark their ``step`` and ``zero_grad`` with
:func:`stateful`, so that ``compile`` can replay them. None of this is needed to read how
backward works: that is ``autograd.py``.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

__all__ = ["Hook", "VersionClock", "hooks_state", "installed", "stateful"]


class _HookState(threading.local):
    """The hooks installed on this thread, outermost first."""

    def __init__(self) -> None:
        self.hooks: tuple[Hook, ...] = ()


hooks_state = _HookState()


class Hook:
    """Watches the engine while installed: ``detect_anomaly`` and ``compile`` use one.

    Each method is called at one moment; the defaults do nothing.
    """

    def on_forward(self, fn: Any, inputs: tuple, settings: dict, result: Any) -> None:
        """After an op's forward (``fn`` is recorded only if ``result.op is fn``)."""

    def on_tensor(self, tensor: Any, source: Any) -> None:
        """After ``Tensor(source, ...)`` made ``tensor`` (``compile`` learns where its data
        came from: an argument, another tensor, a number)."""

    def on_backward(self, order: list, root: Any, seed: np.ndarray) -> None:
        """Before a backward pass through ``order`` (from :func:`toposort`) starts."""

    def on_grads(self, fn: Any, grads: tuple, root: Any) -> None:
        """After ``fn.backward`` returned ``grads`` (one per input, None where not needed)."""

    def on_write(self, tensor: Any) -> None:
        """Before ``tensor.data`` is assigned (outside a :func:`stateful` method)."""

    def on_call(self, call: Callable[[], Any]) -> None:
        """Before a :func:`stateful` method runs (``call()`` would run it again)."""

    def keeps_graph(self) -> bool:
        """True to keep the saved arrays after backward, as ``retain_graph=True`` does."""
        return False


@contextlib.contextmanager
def installed(hook: Hook) -> Iterator[Hook]:
    """Install ``hook`` on this thread for the duration of the ``with`` block."""
    saved = hooks_state.hooks
    hooks_state.hooks = saved + (hook,)
    try:
        yield hook
    finally:
        hooks_state.hooks = saved


def stateful(method: Callable) -> Callable:
    """Mark a method that changes tensors in place (an optimizer's ``step``, ``zero_grad``).

    Installed hooks see each call (``compile`` replays it); the tensor writes inside are
    the method's own, so hooks do not see them one by one.
    """

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        hooks = hooks_state.hooks
        if not hooks:
            return method(self, *args, **kwargs)
        for hook in hooks:
            hook.on_call(functools.partial(method, self, *args, **kwargs))
        hooks_state.hooks = ()
        try:
            return method(self, *args, **kwargs)
        finally:
            hooks_state.hooks = hooks

    return wrapper


class VersionClock:
    """Counts in-place edits of tensors; a tensor's ``_version`` is the count at its last
    edit, and each recorded op keeps the count at its forward (``fn._edits``), so backward
    checks an op's inputs only when the count has moved since."""

    now = 0

    @classmethod
    def tick(cls) -> int:
        """Count one more edit and return the new count."""
        cls.now += 1
        return cls.now

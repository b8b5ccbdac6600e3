"""Holding: arrays saved for backward stay read-only until backward has run through them.

A recorded op *holds* its leaf inputs (``Function.record`` calls ``Tensor._hold``): their
arrays are locked (``flags.writeable = False``) until the op is released by backward or
dropped. Several tensors can share one array (``detach()``, ``Tensor(t)``, two Tensors made
from one ndarray, ``t.data = u.data``), so locks are counted per array here, not per
tensor: an array is writable again only when no graph holds it through any tensor.

What this cannot catch: a view of an array made *before* the array was locked (``row =
w.data[0]``, then a forward pass, then ``row[:] = 0``) stays writable, because numpy cannot
lock views that already exist.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

import numpy as np

__all__ = [
    "ArrayHold",
    "HeldArray",
    "hold_leaves",
    "holder",
    "holds_lock",
    "let_go",
    "lock",
    "locks",
    "shared",
    "unlock",
]

#: every change of a hold count happens under this lock: graphs built in several threads may
#: hold the same tensor (a shared input), and a count two threads update at once is lost
holds_lock = threading.Lock()


def hold_leaves(inputs: Iterable[Any], op_name: str) -> list:
    """Hold the leaf tensors among an op's ``inputs`` (``Function.record`` calls this);
    returns them, for :func:`let_go`. A tensor counts its own holds (``_holds``); its first
    hold locks its array (:func:`lock`), counted per array."""
    held = [t for t in inputs if t.op is None]
    if held:
        with holds_lock:
            for t in held:
                holds = t._holds
                t._holds = holds + 1
                if holds == 0:
                    t._holder = op_name
                    data = t._data
                    if lock(data, op_name):
                        t._locked = data
    return held


def let_go(held: list) -> None:
    """Undo :func:`hold_leaves` (and any :class:`ArrayHold` an op added to its list): a
    tensor's last hold unlocks its array."""
    if held:
        with holds_lock:
            for t in held:
                if type(t) is ArrayHold:
                    t._unhold()
                    continue
                holds = t._holds - 1
                t._holds = holds
                if holds == 0 and t._locked is not None:
                    unlock(t._locked, t._holder)
                    t._locked = None


#: id(array) -> [array, op name, op name, ...]: the locked arrays, one name per hold
locks: dict[int, list] = {}
# id(base) -> views whose unlocking failed because their base was locked at the time
_waiting: dict[int, list[np.ndarray]] = {}


def lock(array: np.ndarray, op_name: str) -> bool:
    """Count one more hold on ``array`` and make it read-only. Returns False, counting
    nothing, when it was read-only for another reason (the user's own choice, or a view
    made of an array locked here): then there is nothing to unlock later."""
    entry = locks.get(id(array))
    if entry is not None:
        entry.append(op_name)
        return True
    if not array.flags.writeable:
        return False
    array.setflags(write=False)  # (setflags costs half of flags.writeable = False)
    locks[id(array)] = [array, op_name]
    return True


def unlock(array: np.ndarray, op_name: str) -> None:
    """Undo one :func:`lock` by ``op_name`` that returned True; the last one makes
    ``array`` writable again."""
    key = id(array)
    entry = locks[key]
    if len(entry) > 2:
        del entry[entry.index(op_name, 1)]
        return
    del locks[key]
    try:
        array.setflags(write=True)
    except ValueError:  # a view whose base is locked now: writable once the base is
        _waiting.setdefault(id(array.base), []).append(array)
        return
    if _waiting:
        for view in _waiting.pop(key, ()):
            if id(view) not in locks:  # not locked again meanwhile
                _unlock_view(view)


def _unlock_view(view: np.ndarray) -> None:
    try:
        view.setflags(write=True)
    except ValueError:  # its base is read-only for another reason: wait for that too
        _waiting.setdefault(id(view.base), []).append(view)


def shared(array: np.ndarray) -> bool:
    """True when more than one hold is counted on ``array`` (another tensor's graph too)."""
    entry = locks.get(id(array))
    return entry is not None and len(entry) > 2


def holder(array: np.ndarray) -> str | None:
    """The name of an op whose graph holds ``array`` (None when it is not locked)."""
    entry = locks.get(id(array))
    return None if entry is None else entry[1]


class ArrayHold:
    """One hold on an array that escaped a live graph (``detach()`` of a result, a view
    made under ``no_grad``); kept in the op's list of holds, so it ends when the op lets
    go, just as a tensor's hold does (it has the same ``_unhold`` method)."""

    __slots__ = ("array", "op_name")

    def __init__(self, array: np.ndarray, op_name: str) -> None:
        with holds_lock:
            self.array = array if lock(array, op_name) else None
        self.op_name = op_name

    def _unhold(self) -> None:
        """Called by :func:`let_go`, under :data:`holds_lock`."""
        array, self.array = self.array, None
        if array is not None:
            unlock(array, self.op_name)


class HeldArray(np.ndarray):
    """What ``.data`` and ``.numpy()`` hand out while a graph holds the tensor: a read-only
    view whose writes raise an error naming the tensor and the op. ``source`` is the
    tensor's own array (for ``Tensor(t.data)`` and ``u.data = t.data`` to share it)."""

    message = "this array is held by a graph"
    source: np.ndarray | None = None

    def __array_finalize__(self, obj: Any) -> None:
        self.message = getattr(obj, "message", HeldArray.message)
        self.source = None  # a slice or copy is not the tensor's array

    def __setitem__(self, index: Any, value: Any) -> None:
        if not self.flags.writeable:
            raise RuntimeError(self.message)
        super().__setitem__(index, value)

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        out = kwargs.get("out")
        if out:
            for o in out:
                if isinstance(o, HeldArray) and not o.flags.writeable:
                    raise RuntimeError(o.message)
            kwargs["out"] = tuple(
                o.view(np.ndarray) if isinstance(o, np.ndarray) else o for o in out
            )
        plain = tuple(x.view(np.ndarray) if isinstance(x, HeldArray) else x for x in inputs)
        return getattr(ufunc, method)(*plain, **kwargs)

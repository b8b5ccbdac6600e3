"""Module: the tutorial's layer object, now built on the autodiff engine.

A :class:`Module` holds parameters (Tensor attributes with ``requires_grad=True``) and child
modules (Module attributes, or the list inside ``Sequential``). Its ``forward`` only
describes the computation; ``backward`` comes from the engine.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from ..creation import make_rng
from ..hooks import VersionClock, stateful
from ..tensor import Tensor, pop_scope, push_scope

__all__ = ["Module", "make_rng"]


class Module:
    """Base class: parameters, child modules, ``state_dict`` and a scope for drawings.

    After construction every parameter's ``.name`` is its dotted path from the outermost
    module (``fc1.weight``), the same string :meth:`named_parameters` yields.
    """

    _path: str = ""

    def __setattr__(self, key: str, value: Any) -> None:
        object.__setattr__(self, key, value)
        if isinstance(value, Module) or (isinstance(value, Tensor) and value.requires_grad):
            self._rename()

    def _rename(self) -> None:
        for path, module in self.named_modules(self._path):
            object.__setattr__(module, "_path", path)
        for name, param in self.named_parameters(self._path):
            param.name = name

    def _children(self) -> Iterator[tuple[str, Any]]:
        """(attribute name, value) for every parameter and child module, in definition order."""
        for key, value in vars(self).items():
            if isinstance(value, (Module, Tensor)):
                yield key, value

    # ------------------------------------------------------------------ traversal
    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Tensor]]:
        """(dotted name, tensor) for every parameter, in definition order, each once."""
        seen: set[int] = set()
        # depth first without recursion: each frame is (path, iterator over its children)
        stack: list[tuple[str, Iterator[tuple[str, Any]]]] = [
            (prefix, iter(list(self._children())))
        ]
        while stack:
            path, items = stack[-1]
            for key, value in items:
                full = f"{path}.{key}" if path else key
                if isinstance(value, Module):
                    stack.append((full, iter(list(value._children()))))
                    break
                if value.requires_grad and id(value) not in seen:
                    seen.add(id(value))
                    yield full, value
            else:
                stack.pop()

    def parameters(self) -> list[Tensor]:
        """Every parameter tensor, in definition order."""
        return [p for _, p in self.named_parameters()]

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """(dotted path, module) for this module and every descendant, depth first."""
        stack: list[tuple[str, Module]] = [(prefix, self)]
        while stack:
            path, module = stack.pop()
            yield path, module
            kids = [
                (f"{path}.{key}" if path else key, value)
                for key, value in module._children()
                if isinstance(value, Module)
            ]
            stack.extend(reversed(kids))

    @property
    def scope_name(self) -> str:
        """The module's dotted path, or its class name for the outermost module."""
        return self._path or type(self).__name__

    # ------------------------------------------------------------------ running
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """The computation; subclasses define it."""
        raise NotImplementedError(f"{type(self).__name__} must define forward")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        saved = push_scope(self)  # ops made in forward record that they ran in this module
        try:
            return self.forward(*args, **kwargs)
        finally:
            pop_scope(saved)

    @stateful
    def zero_grad(self) -> None:
        """Set every parameter's ``.grad`` to None."""
        for p in self.parameters():
            p.grad = None

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of the parameter arrays, keyed by dotted name."""
        return {name: p._data.copy() for name, p in self.named_parameters()}

    def load_state_dict(self, state: dict[str, Any], strict: bool = True) -> None:
        """Copy values in (cast to each parameter's dtype); shapes must match exactly.

        With ``strict=True`` missing or unexpected keys are an error.
        """
        params = dict(self.named_parameters())
        if not isinstance(state, dict):
            raise TypeError(f"load_state_dict: expected a dict, got {type(state).__name__}")
        if strict:
            missing = [k for k in params if k not in state]
            unexpected = [k for k in state if k not in params]
            if missing or unexpected:
                raise ValueError(
                    f"load_state_dict: missing keys {missing}, unexpected keys {unexpected}"
                )
        values = {}
        for name, param in params.items():
            if name not in state:
                continue
            value = np.asarray(state[name])
            if value.shape != param.shape:
                raise ValueError(
                    f"load_state_dict: '{name}' has shape {value.shape} in the state but "
                    f"{param.shape} in the model"
                )
            if value.dtype.kind not in "biuf":
                raise TypeError(f"load_state_dict: '{name}' holds {value.dtype} values")
            values[name] = value
        edit = VersionClock.tick()  # in place, so arrays taken from p.data see the new values
        for name, value in values.items():
            params[name]._begin_update()[...] = value
            params[name]._end_update(edit)

    def extra_repr(self) -> str:
        """Settings shown inside the parentheses of ``repr``."""
        return ""

    def config(self) -> dict[str, Any] | None:
        """The constructor arguments that rebuild this module (``save`` stores them), or
        None when it cannot be rebuilt from them (then load it with ``load_state``)."""
        return None

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Module:
        """A new module built from :meth:`config`'s arguments (fresh parameter values)."""
        return cls(**config)

    @classmethod
    def _from_checkpoint(cls, arrays: dict[str, np.ndarray], meta: dict) -> Module:
        """Rebuild a saved module from its metadata's config and its arrays (``load``)."""
        model = cls.from_config(meta["config"])
        model.load_state_dict(arrays)
        return model

    def __repr__(self) -> str:
        kids = [(k, v) for k, v in self._children() if isinstance(v, Module)]
        if not kids:
            return f"{type(self).__name__}({self.extra_repr()})"
        lines = [f"  ({k}): " + repr(v).replace("\n", "\n  ") for k, v in kids]
        return f"{type(self).__name__}(\n" + "\n".join(lines) + "\n)"

"""Module: the tutorial's layer object, now built on the autodiff engine.

A :class:`Module` holds parameters (Tensor attributes with ``requires_grad=True``) and child
modules (Module attributes, or the list inside ``Sequential``). Its ``forward`` only
describes the computation; ``backward`` comes from the engine.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from typing import Any

import numpy as np

from ..creation import make_rng
from ..hooks import VersionClock, stateful
from ..tensor import Tensor, pop_scope, push_scope

__all__ = ["Module", "class_path", "make_rng", "package_class", "prefixed"]


class Module:
    """Base class: parameters, buffers, child modules, ``state_dict`` and a scope for drawings.

    After construction every parameter's ``.name`` is its dotted path from the outermost
    module (``fc1.weight``), the same string :meth:`named_parameters` yields. Buffers
    (:meth:`register_buffer`) are tensors without gradient that belong to the state, such
    as BatchNorm's running statistics. ``training`` is True until :meth:`eval`.
    """

    _path: str = ""
    _buffer_names: tuple[str, ...] = ()
    #: True in training mode (the default), False after ``eval()``; Dropout and BatchNorm
    #: behave differently in the two modes
    training: bool = True

    def __setattr__(self, key: str, value: Any) -> None:
        object.__setattr__(self, key, value)
        if isinstance(value, Module) or (
            isinstance(value, Tensor) and (value.requires_grad or key in self._buffer_names)
        ):
            self._rename()

    def _rename(self) -> None:
        for path, module in self.named_modules(self._path):
            object.__setattr__(module, "_path", path)
        for name, param in self.named_parameters(self._path):
            param.name = name
        for name, buffer in self.named_buffers(self._path):
            buffer.name = name

    def register_buffer(self, name: str, tensor: Tensor) -> None:
        """Keep ``tensor`` (no gradient) as attribute ``name``, saved in ``state_dict`` and
        loaded by ``load_state_dict`` but not among ``parameters()``."""
        if not isinstance(tensor, Tensor) or tensor.requires_grad:
            raise TypeError(
                f"register_buffer: '{name}' must be a Tensor without requires_grad, "
                f"got {type(tensor).__name__}"
            )
        if name not in self._buffer_names:
            object.__setattr__(self, "_buffer_names", (*self._buffer_names, name))
        object.__setattr__(self, name, tensor)
        self._rename()

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

    def named_buffers(self, prefix: str = "") -> Iterator[tuple[str, Tensor]]:
        """(dotted name, tensor) for every buffer, module by module (depth first)."""
        for path, module in self.named_modules(prefix):
            for key in module._buffer_names:
                buffer = getattr(module, key)
                if isinstance(buffer, Tensor):
                    yield (f"{path}.{key}" if path else key), buffer

    def buffers(self) -> list[Tensor]:
        """Every buffer tensor (see :meth:`register_buffer`)."""
        return [b for _, b in self.named_buffers()]

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

    def train(self, mode: bool = True) -> Module:
        """Set training mode (``mode=True``) or evaluation mode on this module and every
        descendant; returns the module."""
        for _, module in self.named_modules():
            object.__setattr__(module, "training", bool(mode))
        return self

    def eval(self) -> Module:
        """Evaluation mode: ``train(False)`` (Dropout passes inputs through, BatchNorm uses
        its running statistics)."""
        return self.train(False)

    @stateful
    def zero_grad(self) -> None:
        """Set every parameter's ``.grad`` to None."""
        for p in self.parameters():
            p.grad = None

    # ------------------------------------------------------------------ state
    def _named_state(self) -> Iterator[tuple[str, Tensor]]:
        yield from self.named_parameters()
        yield from self.named_buffers()

    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of the parameter and buffer arrays, keyed by dotted name."""
        return {name: t._data.copy() for name, t in self._named_state()}

    def load_state_dict(self, state: dict[str, Any], strict: bool = True) -> None:
        """Copy values in (cast to each parameter's or buffer's dtype); shapes must match.

        With ``strict=True`` missing or unexpected keys are an error.
        """
        params = dict(self._named_state())
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
    def state_shapes(cls, config: dict[str, Any]) -> dict[str, tuple[int, ...]]:
        """The shapes ``state_dict()`` would have for ``config``, computed without building
        anything: ``load`` compares them with a file's arrays before allocating. Empty here
        (no parameters or buffers); every layer that has some says which."""
        return {}

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


def prefixed(prefix: str, shapes: dict[str, tuple[int, ...]]) -> dict[str, tuple[int, ...]]:
    """``shapes`` of a child module, named as its parent's ``state_dict`` names them."""
    return {f"{prefix}.{key}": shape for key, shape in shapes.items()}


def class_path(cls: type) -> str:
    """``cls`` as the shortest import path that reaches it (``tinygrad_nn.nn.MLP``): how
    saved files name classes."""
    module = cls.__module__
    while "." in module:
        parent = module.rpartition(".")[0]
        if getattr(importlib.import_module(parent), cls.__qualname__, None) is not cls:
            break
        module = parent
    return f"{module}.{cls.__qualname__}"


class ForeignClass(ValueError):
    """A saved file names a class from outside this package (never imported)."""


def package_class(name: Any) -> type:
    """The class of this package that ``name`` (written by :func:`class_path`) names.

    Nothing outside ``tinygrad_nn`` is imported: such a name raises :class:`ForeignClass`;
    a name that reaches no class raises ValueError."""
    if not isinstance(name, str) or not name:
        raise ValueError("the metadata names no class")
    module, _, attr = name.rpartition(".")
    if module != "tinygrad_nn" and not module.startswith("tinygrad_nn."):
        raise ForeignClass(attr)
    try:
        cls = getattr(importlib.import_module(module), attr)
    except ModuleNotFoundError as err:
        if (getattr(err, "name", None) or "").startswith("tinygrad_nn"):
            raise ValueError(f"names an unknown class {name!r:.80}") from None
        raise
    except (AttributeError, ValueError):
        raise ValueError(f"names an unknown class {name!r:.80}") from None
    if not isinstance(cls, type) or not hasattr(cls, "_from_checkpoint"):
        raise ValueError(f"names {name!r:.80}, which cannot be loaded")
    return cls

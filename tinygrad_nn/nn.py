"""Modules: the tutorial's layer objects, now built on the autodiff engine.

A :class:`Module` holds parameters (Tensor attributes with ``requires_grad=True``) and child
modules (Module attributes, or the list inside :class:`Sequential`). Its ``forward`` only
describes the computation; ``backward`` comes from the engine.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from . import ops
from .hooks import VersionClock, stateful
from .tensor import Tensor, get_default_dtype, pop_scope, push_scope

__all__ = [
    "MLP",
    "Linear",
    "Module",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Tanh",
    "l2_penalty",
]


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


def _make_rng(rng: Any) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, (int, np.integer)):
        return np.random.default_rng(rng)
    raise TypeError(f"rng must be a numpy Generator, an int seed or None, got {type(rng).__name__}")


class Linear(Module):
    """y = x @ W + b, W of shape (n_in, n_out), b of shape (n_out,).

    Glorot-uniform init as in the tutorial: W ~ U(-e, e) with e = sqrt(6 / (n_in + n_out)),
    b = 0. ``rng`` is a ``np.random.Generator``, an int seed or None.
    """

    def __init__(
        self, n_in: int, n_out: int, bias: bool = True, rng: Any = None, dtype: Any = None
    ) -> None:
        for label, n in (("n_in", n_in), ("n_out", n_out)):
            if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
                raise ValueError(f"Linear: {label} must be a positive integer, got {n!r}")
        dtype = np.dtype(dtype) if dtype is not None else get_default_dtype()
        self.n_in, self.n_out = int(n_in), int(n_out)
        bound = np.sqrt(6.0 / (n_in + n_out))
        w = _make_rng(rng).uniform(-bound, bound, size=(n_in, n_out)).astype(dtype)
        self.weight = Tensor(w, requires_grad=True)
        self.bias = Tensor(np.zeros(n_out, dtype=dtype), requires_grad=True) if bias else None

    def forward(self, x: Tensor) -> Tensor:
        """x: (..., n_in) -> (..., n_out), as one fused ``linear`` op."""
        if self.bias is None:
            return ops.Linear.apply(x, self.weight)
        return ops.Linear.apply(x, self.weight, self.bias)

    def config(self) -> dict[str, Any]:
        """The constructor arguments needed to rebuild this layer (used by ``save``)."""
        return {
            "n_in": self.n_in,
            "n_out": self.n_out,
            "bias": self.bias is not None,
            "dtype": str(self.weight.dtype),
        }

    def extra_repr(self) -> str:
        return f"{self.n_in}→{self.n_out}" + ("" if self.bias is not None else ", bias=False")


class Sigmoid(Module):
    """Elementwise 1 / (1 + e^-x)."""

    def forward(self, x: Tensor) -> Tensor:
        return x.sigmoid()


class ReLU(Module):
    """Elementwise max(x, 0)."""

    def forward(self, x: Tensor) -> Tensor:
        return x.relu()


class Tanh(Module):
    """Elementwise tanh(x)."""

    def forward(self, x: Tensor) -> Tensor:
        return x.tanh()


class Sequential(Module):
    """Modules applied in order; children are named ``0``, ``1``, ..."""

    def __init__(self, *modules: Module) -> None:
        for m in modules:
            if not isinstance(m, Module):
                raise TypeError(f"Sequential: expected Modules, got {type(m).__name__}")
        self.layers = list(modules)
        self._rename()

    def _children(self) -> Iterator[tuple[str, Any]]:
        yield from ((str(i), m) for i, m in enumerate(self.layers))

    def __len__(self) -> int:
        return len(self.layers)

    def __getitem__(self, i: int) -> Module:
        return self.layers[i]

    def forward(self, x: Tensor) -> Tensor:
        for layer in self.layers:
            x = layer(x)
        return x


_ACTIVATIONS = {"sigmoid": Tensor.sigmoid, "relu": Tensor.relu, "tanh": Tensor.tanh}


class MLP(Module):
    """Linear layers ``fc1 … fcK`` with an activation between them.

    ``sizes`` = [n_in, hidden..., n_out]. The activation is applied after every layer but the
    last, and after the last too when ``output_activation`` is given. The tutorial's network
    is ``MLP([64, 48, 32, 10], "sigmoid", output_activation="sigmoid")``.
    """

    def __init__(
        self,
        sizes: Sequence[int],
        activation: str = "sigmoid",
        output_activation: str | None = None,
        rng: Any = None,
        dtype: Any = None,
    ) -> None:
        sizes = [int(s) for s in sizes]
        if len(sizes) < 2:
            raise ValueError(f"MLP: sizes needs at least input and output sizes, got {sizes}")
        for label, name in (("activation", activation), ("output_activation", output_activation)):
            if name is not None and name not in _ACTIVATIONS:
                raise ValueError(
                    f"MLP: unknown {label} {name!r}; choose from {sorted(_ACTIVATIONS)}"
                )
        if activation is None:
            raise ValueError("MLP: activation must be given")
        self.sizes = sizes
        self.activation = activation
        self.output_activation = output_activation
        gen = _make_rng(rng)
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
            setattr(self, f"fc{i}", Linear(n_in, n_out, rng=gen, dtype=dtype))

    @property
    def layers(self) -> list[Linear]:
        """The Linear layers ``fc1 … fcK`` in order."""
        return [getattr(self, f"fc{i}") for i in range(1, len(self.sizes))]

    def config(self) -> dict[str, Any]:
        """The constructor arguments needed to rebuild this network (used by ``save``)."""
        return {
            "sizes": list(self.sizes),
            "activation": self.activation,
            "output_activation": self.output_activation,
            "dtype": str(self.fc1.weight.dtype),
        }

    def forward(self, x: Tensor) -> Tensor:
        """x: (N, sizes[0]) -> (N, sizes[-1])."""
        layers = self.layers
        act, out_act = _ACTIVATIONS[self.activation], self.output_activation
        for i, layer in enumerate(layers):
            x = layer(x)
            if i < len(layers) - 1:
                x = act(x)
            elif out_act is not None:
                x = _ACTIVATIONS[out_act](x)
        return x

    def extra_repr(self) -> str:
        return f"sizes={self.sizes}, activation={self.activation!r}"


def l2_penalty(weights: Sequence[Tensor], lam: float, n: int) -> Tensor | float:
    """lam / (2 n) * sum of ||W||^2 over ``weights`` (the tutorial's L2 term).

    ``n`` is the number of examples the loss is averaged over; the gradient is
    lam / n * W. Returns 0.0 when ``lam`` is 0 or there are no weights.
    """
    if lam == 0 or not weights:
        return 0.0
    return ops.L2Penalty.apply(*weights, scale=lam / (2 * n))

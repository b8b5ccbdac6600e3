"""Layers built from Linear: ``Linear``, ``Sequential``, ``MLP``, and the tutorial's L2 term."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from .. import ops
from ..tensor import Tensor, get_default_dtype
from .module import Module, class_path, make_rng, package_class, prefixed

__all__ = ["MLP", "Linear", "Sequential", "l2_penalty"]


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
        w = make_rng(rng).uniform(-bound, bound, size=(n_in, n_out)).astype(dtype)
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

    @classmethod
    def state_shapes(cls, config: dict[str, Any]) -> dict[str, tuple[int, ...]]:
        """The shapes ``state_dict()`` would have for ``config``, without building anything."""
        n_in, n_out = _size(config["n_in"]), _size(config["n_out"])
        shapes = {"weight": (n_in, n_out)}
        if config.get("bias", True):
            shapes["bias"] = (n_out,)
        return shapes

    def extra_repr(self) -> str:
        return f"{self.n_in}→{self.n_out}" + ("" if self.bias is not None else ", bias=False")


def _size(n: Any) -> int:
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
        raise ValueError(f"a layer size must be a positive integer, got {n!r:.40}")
    return int(n)


class Sequential(Module):
    """Modules applied in order; children are named ``0``, ``1``, ..."""

    #: ``load`` refuses a saved Sequential of more layers (each one costs time and memory
    #: to build, and a layer without parameters takes no room in the file)
    max_saved_layers = 10_000

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
        """Each layer in turn: ``layers[-1](... layers[0](x))``."""
        for layer in self.layers:
            x = layer(x)
        return x

    def config(self) -> dict[str, Any] | None:
        """Each layer's class (import path) and config, so ``load`` rebuilds the whole
        stack; None when a layer has no config (your own Module: use ``load_state``)."""
        configs = [layer.config() for layer in self.layers]
        if any(c is None for c in configs):
            return None
        return {
            "layers": [
                {"class": class_path(type(m)), "config": c} for m, c in zip(self.layers, configs)
            ]
        }

    @classmethod
    def _saved_layers(cls, config: dict[str, Any]) -> list[tuple[type, dict]]:
        """(class, config) of each saved layer; only this package's classes are named."""
        layers = config["layers"]
        if not isinstance(layers, list):
            raise ValueError(f"layers must be a list, got {type(layers).__name__}")
        if len(layers) > cls.max_saved_layers:  # layers without arrays cost no file space
            raise ValueError(f"{len(layers)} layers, more than {cls.max_saved_layers}")
        found = []
        for entry in layers:
            if not isinstance(entry, dict) or not isinstance(entry.get("config"), dict):
                raise ValueError("each layer needs a class and a config")
            layer_cls = package_class(entry.get("class"))
            if not issubclass(layer_cls, Module):
                raise ValueError(f"layer class {entry['class']!r:.80} is not a Module")
            found.append((layer_cls, entry["config"]))
        return found

    @classmethod
    def state_shapes(cls, config: dict[str, Any]) -> dict[str, tuple[int, ...]]:
        """Each layer's shapes under its position (``0.weight``, ...), nothing built."""
        shapes = {}
        for i, (layer_cls, layer_config) in enumerate(cls._saved_layers(config)):
            shapes.update(prefixed(str(i), layer_cls.state_shapes(layer_config)))
        return shapes

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Sequential:
        """A new stack of fresh layers built from :meth:`config`."""
        return cls(*[k.from_config(c) for k, c in cls._saved_layers(config)])


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
        gen = make_rng(rng)
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

    @classmethod
    def state_shapes(cls, config: dict[str, Any]) -> dict[str, tuple[int, ...]]:
        """The shapes ``state_dict()`` would have for ``config``, without building anything
        (``load`` checks a file's arrays against them before allocating)."""
        sizes = config["sizes"]
        if not isinstance(sizes, (list, tuple)) or len(sizes) < 2:
            raise ValueError(f"sizes must be a list of at least 2 layer sizes, got {sizes!r:.40}")
        sizes = [_size(n) for n in sizes]
        shapes = {}
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
            shapes[f"fc{i}.weight"], shapes[f"fc{i}.bias"] = (n_in, n_out), (n_out,)
        return shapes

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

"""The digits convolutional network and its training recipe (the ``cnn`` preset).

:class:`DigitsCNN` reads the flattened 8x8 images the rest of the application uses, (N, 64),
as (N, 1, 8, 8), so ``fit``, ``evaluate`` and the lambda search take it as they take the
MLP. :class:`CNNSpec` is the :class:`~tinygrad_nn.digits.search.TrainSpec` of this net: the
same fields the training jobs read (``build``, ``schedule``, ``epochs``, ``batch_size``,
``augment``), picklable for parallel workers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..nn import Conv2d, Linear, Module, functional
from ..nn.module import make_rng, prefixed
from ..optim import SGD, Adam, Optimizer, cosine_lr
from ..tensor import Tensor

__all__ = ["CNNSpec", "CosineSchedule", "DigitsCNN"]


class DigitsCNN(Module):
    """Three 3x3 convolutions (padding 1, ReLU) on the 8x8 image, 2x2 max pooling after the
    second and the third, then Linear layers to 10 logits.

    ``channels`` = (c1, c2, c3): (N, 1, 8, 8) -> conv1 (N, c1, 8, 8) -> conv2 + pool
    (N, c2, 4, 4) -> conv3 + pool (N, c3, 2, 2) -> flatten (N, 4 c3) -> ``hidden`` Linear
    layers with ReLU (``fc1`` …) -> ``out`` (N, 10). Inputs: (N, 64) rows or (N, 1, 8, 8).
    """

    def __init__(
        self,
        channels: Sequence[int] = (16, 32, 64),
        hidden: Sequence[int] = (),
        rng: Any = None,
        dtype: Any = None,
    ) -> None:
        channels, hidden = [int(c) for c in channels], [int(h) for h in hidden]
        if len(channels) != 3 or min(channels) < 1 or (hidden and min(hidden) < 1):
            raise ValueError(
                f"DigitsCNN: channels must be three positive ints and hidden positive ints, "
                f"got {channels} and {hidden}"
            )
        self.channels, self.hidden = channels, hidden
        gen = make_rng(rng)
        c1, c2, c3 = channels
        self.conv1 = Conv2d(1, c1, 3, padding=1, rng=gen, dtype=dtype)
        self.conv2 = Conv2d(c1, c2, 3, padding=1, rng=gen, dtype=dtype)
        self.conv3 = Conv2d(c2, c3, 3, padding=1, rng=gen, dtype=dtype)
        widths = [4 * c3, *hidden]
        for i, (n_in, n_out) in enumerate(zip(widths[:-1], widths[1:]), start=1):
            setattr(self, f"fc{i}", Linear(n_in, n_out, rng=gen, dtype=dtype))
        self.out = Linear(widths[-1], 10, rng=gen, dtype=dtype)

    def forward(self, x: Tensor) -> Tensor:
        """x: (N, 64) or (N, 1, 8, 8) -> logits (N, 10)."""
        if x.ndim == 2:
            x = x.reshape(-1, 1, 8, 8)
        x = self.conv1(x).relu()
        x = functional.max_pool2d(self.conv2(x).relu(), 2)
        x = functional.max_pool2d(self.conv3(x).relu(), 2)
        x = functional.flatten(x)
        for i in range(1, len(self.hidden) + 1):
            x = getattr(self, f"fc{i}")(x).relu()
        return self.out(x)

    def config(self) -> dict[str, Any]:
        """The constructor arguments needed to rebuild this net (used by ``save``)."""
        return {
            "channels": list(self.channels),
            "hidden": list(self.hidden),
            "dtype": str(self.conv1.weight.dtype),
        }

    @classmethod
    def state_shapes(cls, config: dict[str, Any]) -> dict[str, tuple[int, ...]]:
        """The convolutions' and Linear layers' shapes for ``config``, nothing built."""
        channels, hidden = config["channels"], config.get("hidden", [])
        if not isinstance(channels, list) or len(channels) != 3 or not isinstance(hidden, list):
            raise ValueError(f"channels must be three ints and hidden a list: {config!r:.80}")
        shapes = {}
        for i, (c_in, c_out) in enumerate(zip([1, *channels], channels), start=1):
            conv = {"in_channels": c_in, "out_channels": c_out, "kernel_size": 3}
            shapes.update(prefixed(f"conv{i}", Conv2d.state_shapes(conv)))
        widths = [4 * channels[2], *hidden, 10]
        names = [f"fc{i}" for i in range(1, len(hidden) + 1)] + ["out"]
        for name, n_in, n_out in zip(names, widths[:-1], widths[1:]):
            shapes.update(prefixed(name, Linear.state_shapes({"n_in": n_in, "n_out": n_out})))
        return shapes

    def extra_repr(self) -> str:
        return f"channels={self.channels}, hidden={self.hidden}"


@dataclass(frozen=True)
class CosineSchedule:
    """Learning rate ``lr`` at epoch 0 falling along half a cosine to 0 after ``epochs``
    (:func:`tinygrad_nn.optim.cosine_lr`); picklable, for ``fit(schedule=...)``."""

    lr: float
    epochs: int

    def __call__(self, epoch: int) -> float:
        return cosine_lr(self.lr, epoch, self.epochs)


@dataclass(frozen=True)
class CNNSpec:
    """Everything needed to build and train one :class:`DigitsCNN`; picklable.

    ``optimizer``: ``"sgd"`` (momentum, optionally Nesterov) or ``"adam"``; the learning rate
    follows a cosine from ``lr`` to 0 over ``epochs`` when ``cosine`` is true. ``augment``:
    ``"affine"`` (small random rotations, scalings and shifts, bilinear), ``"shift"``
    (one-pixel shifts) or None. ``hidden``: widths of Linear layers before the
    output (the CLI's ``--hidden``). ``backend``: the compiled training step's backend
    (``"numpy"``), for training code that reads one from its spec.
    """

    channels: tuple[int, ...] = (16, 32, 64)
    hidden: tuple[int, ...] = ()
    optimizer: str = "sgd"
    lr: float = 0.05
    momentum: float = 0.9
    nesterov: bool = False
    epochs: int = 60
    batch_size: int | None = 32
    augment: str | None = "affine"
    cosine: bool = True
    dtype: str = "float32"
    backend: str = "numpy"

    def build(self, seed: int) -> tuple[DigitsCNN, Optimizer]:
        """A fresh net (initialised from ``seed``) and its optimizer."""
        model = DigitsCNN(self.channels, self.hidden, rng=seed, dtype=self.dtype)
        if self.optimizer == "sgd":
            opt: Optimizer = SGD(
                model.parameters(), lr=self.lr, momentum=self.momentum, nesterov=self.nesterov
            )
        elif self.optimizer == "adam":
            opt = Adam(model.parameters(), lr=self.lr)
        else:
            raise ValueError(f"CNNSpec: unknown optimizer {self.optimizer!r}")
        return model, opt

    def schedule(self) -> Callable[[int], float] | None:
        """The per-epoch learning rate, or None for a constant one."""
        return CosineSchedule(self.lr, self.epochs) if self.cosine else None

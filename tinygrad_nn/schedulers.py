"""Learning-rate schedulers: plain objects whose ``step()`` (once per epoch) sets the
optimizer's ``lr`` from a closed formula of the epoch count. ``tinygrad_nn.optim`` exports
them too.

Use::

    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    sched = optim.CosineAnnealingLR(opt, T_max=epochs)
    for epoch in range(epochs):
        train_one_epoch(...)
        sched.step()
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["CosineAnnealingLR", "StepLR", "cosine_lr"]


def cosine_lr(base_lr: float, epoch: int, t_max: int, eta_min: float = 0.0) -> float:
    """eta_min + (base_lr - eta_min) (1 + cos(pi epoch / t_max)) / 2: base_lr at epoch 0,
    eta_min at epoch t_max (and back up after it, as the cosine goes on)."""
    return eta_min + (base_lr - eta_min) * (1 + math.cos(math.pi * epoch / t_max)) / 2


class _Scheduler:
    """Sets ``optimizer.lr`` from the epoch count: ``step()`` after each epoch."""

    settings: tuple[str, ...] = ()

    def __init__(self, optimizer: Any) -> None:
        if not isinstance(getattr(optimizer, "lr", None), float):
            raise TypeError(
                f"{type(self).__name__}: expected an optimizer with a float lr, got "
                f"{type(optimizer).__name__}"
            )
        self.optimizer = optimizer
        self.base_lr = optimizer.lr
        self.last_epoch = 0

    def get_lr(self) -> float:
        """The learning rate for ``last_epoch``."""
        raise NotImplementedError

    def step(self) -> float:
        """Count one epoch and set the optimizer's learning rate for the next; returns it."""
        self.last_epoch += 1
        self.optimizer.lr = self.get_lr()
        return self.optimizer.lr

    def state_dict(self) -> dict[str, Any]:
        """The epoch count, the base learning rate and the settings, as plain numbers."""
        state = {"type": type(self).__name__, "base_lr": self.base_lr}
        state["last_epoch"] = self.last_epoch
        state.update({k: getattr(self, k) for k in self.settings})
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` saved and set the optimizer's learning rate."""
        kind = state.get("type", type(self).__name__)
        if kind != type(self).__name__:
            raise ValueError(f"load_state_dict: state is for {kind}, not {type(self).__name__}")
        self.base_lr = float(state["base_lr"])
        self.last_epoch = int(state["last_epoch"])
        for k in self.settings:
            setattr(self, k, type(getattr(self, k))(state[k]))
        self.optimizer.lr = self.get_lr()


class StepLR(_Scheduler):
    """lr = base_lr * gamma ** (epoch // step_size): multiplied by ``gamma`` every
    ``step_size`` epochs (``base_lr`` is the optimizer's lr when the scheduler is made)."""

    settings = ("step_size", "gamma")

    def __init__(self, optimizer: Any, step_size: int, gamma: float = 0.1) -> None:
        if not isinstance(step_size, int) or isinstance(step_size, bool) or step_size < 1:
            raise ValueError(f"StepLR: step_size must be a positive integer, got {step_size!r}")
        if not gamma > 0:
            raise ValueError(f"StepLR: gamma must be positive, got {gamma!r}")
        super().__init__(optimizer)
        self.step_size, self.gamma = step_size, float(gamma)

    def get_lr(self) -> float:
        return self.base_lr * self.gamma ** (self.last_epoch // self.step_size)


class CosineAnnealingLR(_Scheduler):
    """lr = :func:`cosine_lr` (base_lr, epoch, T_max, eta_min): half a cosine from the
    optimizer's lr down to ``eta_min`` over ``T_max`` epochs (SGDR without restarts)."""

    settings = ("T_max", "eta_min")

    def __init__(self, optimizer: Any, T_max: int, eta_min: float = 0.0) -> None:  # noqa: N803
        if not isinstance(T_max, int) or isinstance(T_max, bool) or T_max < 1:
            raise ValueError(f"CosineAnnealingLR: T_max must be a positive integer, got {T_max!r}")
        if not eta_min >= 0:
            raise ValueError(f"CosineAnnealingLR: eta_min must be >= 0, got {eta_min!r}")
        super().__init__(optimizer)
        self.T_max, self.eta_min = T_max, float(eta_min)

    def get_lr(self) -> float:
        return cosine_lr(self.base_lr, self.last_epoch, self.T_max, self.eta_min)

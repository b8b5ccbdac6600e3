"""Optimizers: SGD with momentum in the tutorial's form, and Adam. Updates are in place."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from .autograd import traced_call
from .tensor import Tensor

__all__ = ["SGD", "Adam", "Optimizer"]


class Optimizer:
    """Holds the parameters and the per-parameter state arrays; subclasses define ``step``."""

    #: names of per-parameter state arrays, saved by ``state_dict`` as ``name.i``
    slots: tuple[str, ...] = ()
    #: names of the numeric settings saved by ``state_dict``
    hyper: tuple[str, ...] = ("lr",)

    def __init__(self, params: Iterable[Tensor], lr: float) -> None:
        self.params = list(params)
        if not self.params:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        for p in self.params:
            if not isinstance(p, Tensor) or not p.requires_grad:
                raise TypeError(
                    f"{type(self).__name__}: parameters must be Tensors with requires_grad=True"
                )
        if not lr > 0:
            raise ValueError(f"{type(self).__name__}: lr must be positive, got {lr!r}")
        self.lr = float(lr)
        self._flat = _FlatParams.make(self.params)
        self._flat_state: tuple[np.ndarray, ...] = ()
        for slot in self.slots:
            if self._flat is None:
                setattr(self, slot, [np.zeros_like(p.data) for p in self.params])
            else:
                buffer = np.zeros_like(self._flat.data)
                self._flat_state += (buffer,)
                setattr(self, slot, self._flat.split(buffer))

    @traced_call
    def zero_grad(self) -> None:
        """Set every parameter's ``.grad`` to None."""
        for p in self.params:
            p.grad = None

    @traced_call
    def step(self) -> None:
        """Update every parameter that has a gradient, in place."""
        self._begin_step()
        flat = self._flat
        if flat is not None and flat.ready(self.params):
            # all parameters at once: the same arithmetic on one contiguous buffer
            flat.gather_grads(self.params)
            self._update(flat.data, flat.grad, *self._flat_state)
            flat.mark_modified(self.params)
            return
        states = [getattr(self, slot) for slot in self.slots]
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            data = p.data
            self._update(data, p.grad, *(state[i] for state in states))
            p.data = data  # marks the in-place change for the engine's version check

    def _begin_step(self) -> None:
        """Per-step bookkeeping before the updates (Adam counts steps here)."""

    def _update(self, data: np.ndarray, grad: np.ndarray, *state: np.ndarray) -> None:
        """The update rule, in place on ``data`` and the state arrays."""
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        """Settings as numbers and copies of the state arrays as ``slot.i``."""
        state: dict[str, Any] = {"type": type(self).__name__}
        state.update({h: getattr(self, h) for h in self.hyper})
        for slot in self.slots:
            for i, arr in enumerate(getattr(self, slot)):
                state[f"{slot}.{i}"] = arr.copy()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore settings and state arrays saved by :meth:`state_dict` (shapes must match)."""
        kind = state.get("type", type(self).__name__)
        if kind != type(self).__name__:
            raise ValueError(f"load_state_dict: state is for {kind}, not {type(self).__name__}")
        for h in self.hyper:
            if h in state:
                setattr(self, h, type(getattr(self, h))(state[h]))
        for slot in self.slots:
            for i, arr in enumerate(getattr(self, slot)):
                key = f"{slot}.{i}"
                if key not in state:
                    raise ValueError(f"load_state_dict: missing '{key}'")
                value = np.asarray(state[key])
                if value.shape != arr.shape:
                    raise ValueError(
                        f"load_state_dict: '{key}' has shape {value.shape}, expected {arr.shape}"
                    )
                arr[...] = value


class SGD(Optimizer):
    """Gradient descent with momentum, in the tutorial's form.

    v <- momentum * v - lr * g;  p <- p + v. With ``momentum=0`` this is plain SGD.
    ``g`` is the gradient of the mean loss, so ``lr`` is the tutorial's ``alpha``.
    """

    slots = ("velocity",)
    hyper = ("lr", "momentum")

    def __init__(self, params: Iterable[Tensor], lr: float, momentum: float = 0.0) -> None:
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"SGD: momentum must be in [0, 1), got {momentum!r}")
        self.momentum = float(momentum)
        super().__init__(params, lr)

    def _update(self, data: np.ndarray, grad: np.ndarray, velocity: np.ndarray) -> None:
        velocity *= self.momentum
        velocity -= self.lr * grad
        data += velocity


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015) with bias correction.

    m <- b1 m + (1 - b1) g;  s <- b2 s + (1 - b2) g^2;
    p <- p - lr * (m / (1 - b1^t)) / (sqrt(s / (1 - b2^t)) + eps).
    """

    slots = ("m", "s")
    hyper = ("lr", "beta1", "beta2", "eps", "t")

    def __init__(
        self,
        params: Iterable[Tensor],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ) -> None:
        b1, b2 = betas
        if not (0.0 <= b1 < 1.0 and 0.0 <= b2 < 1.0):
            raise ValueError(f"Adam: betas must be in [0, 1), got {betas!r}")
        if not eps > 0:
            raise ValueError(f"Adam: eps must be positive, got {eps!r}")
        self.beta1, self.beta2, self.eps, self.t = float(b1), float(b2), float(eps), 0
        super().__init__(params, lr)

    def _begin_step(self) -> None:
        self.t += 1
        self._step_size = self.lr / (1 - self.beta1**self.t)
        self._s_correction = 1 - self.beta2**self.t

    def _update(self, data: np.ndarray, grad: np.ndarray, m: np.ndarray, s: np.ndarray) -> None:
        b1, b2 = self.beta1, self.beta2
        m *= b1
        m += (1 - b1) * grad
        s *= b2
        s += (1 - b2) * (grad * grad)
        data -= self._step_size * m / (np.sqrt(s / self._s_correction) + self.eps)


class _FlatParams:
    """Parameters re-seated as views of one contiguous buffer.

    The update rule then runs once on the whole buffer instead of once per parameter:
    the same elementwise arithmetic, so the same numbers, in a handful of numpy calls.
    """

    def __init__(self, params: list[Tensor]) -> None:
        self.data = np.empty(sum(p.size for p in params), dtype=params[0].dtype)
        self.views = self.split(self.data, params)
        for p, view in zip(params, self.views):
            view[...] = p.data
            p.data = view
        self.grad = np.empty_like(self.data)
        self.grad_views = self.split(self.grad, params)

    #: above this many values, gathering the gradients costs more than the calls it saves
    MAX_SIZE = 1 << 16

    @classmethod
    def make(cls, params: list[Tensor]) -> _FlatParams | None:
        """None when the parameters can't or needn't share a buffer (mixed dtypes, repeats,
        just one, or so many values that per-parameter updates are as fast)."""
        unique = {id(p) for p in params}
        if len(params) < 2 or len(unique) != len(params):
            return None
        if sum(p.size for p in params) > cls.MAX_SIZE:
            return None
        if len({p.dtype for p in params}) != 1:
            return None
        return cls(params)

    def split(self, buffer: np.ndarray, params: list[Tensor] | None = None) -> list[np.ndarray]:
        """Views of ``buffer`` shaped like each parameter."""
        shapes = [v.shape for v in self.views] if params is None else [p.shape for p in params]
        views, offset = [], 0
        for shape in shapes:
            size = int(np.prod(shape, dtype=np.int64))
            views.append(buffer[offset : offset + size].reshape(shape))
            offset += size
        return views

    def ready(self, params: list[Tensor]) -> bool:
        """True while every parameter still lives in the buffer and has a gradient.

        (A copy, say after pickling, keeps the views but not their link to the buffer.)
        """
        data = self.data
        return all(
            p._data is view and view.base is data and p.grad is not None
            for p, view in zip(params, self.views)
        )

    def gather_grads(self, params: list[Tensor]) -> None:
        for view, p in zip(self.grad_views, params):
            np.copyto(view, p.grad)

    def mark_modified(self, params: list[Tensor]) -> None:
        """Bump each parameter's version, as assigning ``p.data`` would."""
        Tensor._edit_count += 1
        for p in params:
            p._version = Tensor._edit_count

"""Optimizers: SGD (momentum in the tutorial's form, Nesterov, weight decay), Adam, AdamW;
learning-rate schedulers StepLR and CosineAnnealingLR. Updates are in place."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from .hooks import VersionClock, stateful
from .schedulers import CosineAnnealingLR, StepLR, cosine_lr
from .tensor import Tensor

__all__ = ["SGD", "Adam", "AdamW", "CosineAnnealingLR", "Optimizer", "StepLR", "cosine_lr"]


class Optimizer:
    """Holds the parameters and the per-parameter state arrays; subclasses define ``step``."""

    #: names of per-parameter state arrays, saved by ``state_dict`` as ``name.i``
    slots: tuple[str, ...] = ()
    #: names of the numeric settings saved by ``state_dict``
    hyper: tuple[str, ...] = ("lr",)

    def __init__(self, params: Iterable[Tensor], lr: float) -> None:
        name = type(self).__name__
        if isinstance(params, Tensor):
            raise TypeError(f"{name}: params must be an iterable of Tensors, got one Tensor")
        self.params = list(params)
        if not self.params:
            raise ValueError(f"{name}: got an empty parameter list")
        seen: set[int] = set()
        for i, p in enumerate(self.params):
            if not isinstance(p, Tensor) or not p.requires_grad:
                raise TypeError(f"{name}: parameters must be Tensors with requires_grad=True")
            if id(p) in seen:
                label = f"'{p.name}'" if p.name else f"at position {i}"
                raise ValueError(f"{name}: parameter {label} appears more than once")
            seen.add(id(p))
        if not lr > 0:
            raise ValueError(f"{name}: lr must be positive, got {lr!r}")
        self.lr = float(lr)
        for slot in self.slots:
            setattr(self, slot, [np.zeros_like(p._data) for p in self.params])

    @stateful
    def zero_grad(self) -> None:
        """Set every parameter's ``.grad`` to None."""
        for p in self.params:
            p.grad = None

    @stateful
    def step(self) -> None:
        """Update every parameter that has a gradient, in place (each keeps its own array,
        so arrays taken from ``p.data`` see the new values)."""
        self._begin_step()
        edit = VersionClock.tick()  # backward through a graph made before this step raises
        states = [getattr(self, slot) for slot in self.slots]
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            self._update(p._begin_update(), p.grad, *[state[i] for state in states])
            p._end_update(edit)

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

    g <- g + weight_decay * p (L2, coupled);  v <- momentum * v - lr * g;  then p <- p + v,
    or with ``nesterov=True`` p <- p + momentum * v - lr * g (the update looks ahead along
    the new velocity; PyTorch's Nesterov SGD with v scaled by -lr). With ``momentum=0``
    this is plain SGD. ``g`` is the gradient of the mean loss, so ``lr`` is the tutorial's
    ``alpha``.
    """

    slots = ("velocity",)
    hyper = ("lr", "momentum", "weight_decay")

    def __init__(
        self,
        params: Iterable[Tensor],
        lr: float,
        momentum: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
    ) -> None:
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"SGD: momentum must be in [0, 1), got {momentum!r}")
        if nesterov and momentum == 0:
            raise ValueError("SGD: nesterov=True needs a momentum > 0")
        if not weight_decay >= 0:
            raise ValueError(f"SGD: weight_decay must be >= 0, got {weight_decay!r}")
        self.momentum, self.nesterov = float(momentum), bool(nesterov)
        self.weight_decay = float(weight_decay)
        super().__init__(params, lr)

    def _update(self, data: np.ndarray, grad: np.ndarray, velocity: np.ndarray) -> None:
        if self.weight_decay:
            grad = grad + self.weight_decay * data
        velocity *= self.momentum
        velocity -= self.lr * grad
        if self.nesterov:
            data += self.momentum * velocity - self.lr * grad
        else:
            data += velocity

    def step_code(self, c: Any, params: list, grads: list, tensors: list) -> None:
        """``step`` as numpy source, the same bits as ``_update``, for a ``compile`` that
        writes a step's code: ``c.line`` adds a line, ``c.state``/``c.scratch`` name the
        velocity and temporaries, ``c.opt``/``c.clock`` this optimizer and ``VersionClock``;
        ``params``/``grads`` are value names, ``tensors`` the parameters' names."""
        c.line(f"lr, momentum = {c.opt}.lr, {c.opt}.momentum")
        if self.weight_decay:
            c.line(f"decay = {c.opt}.weight_decay")
        c.line(f"edit = {c.clock}.tick()")
        for i, (p, g, t) in enumerate(zip(params, grads, tensors)):
            if g is None:
                continue
            v = c.state(self.velocity[i], f"{t.removesuffix('_tensor')}_velocity")
            if self.weight_decay:  # g + decay * p
                decayed = c.scratch(g)
                c.line(f"np.multiply({p}, decay, out={decayed})")
                c.line(f"np.add({g}, {decayed}, out={decayed})")
                g = decayed
            step = c.scratch(g)
            c.line(f"{v} *= momentum")
            c.line(f"np.multiply({g}, lr, out={step})")
            c.line(f"{v} -= {step}")
            if self.nesterov:  # p + (momentum v - lr g)
                ahead = c.scratch(g)
                c.line(f"np.multiply({v}, momentum, out={ahead})")
                c.line(f"{ahead} -= {step}")
                c.line(f"{p} += {ahead}")
            else:
                c.line(f"{p} += {v}")
            c.line(f"{t}._version = edit")


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

    def step_code(self, c: Any, params: list, grads: list, tensors: list) -> None:
        """``step`` as numpy source for ``compile`` (the same bits as ``_update``)."""
        o = c.opt
        c.line(f"{o}._begin_step()")
        c.line(f"b1, b2, eps = {o}.beta1, {o}.beta2, {o}.eps")
        c.line(f"step_size, s_correction = {o}._step_size, {o}._s_correction")
        c.line(f"edit = {c.clock}.tick()")
        for i, (p, g, t) in enumerate(zip(params, grads, tensors)):
            if g is None:
                continue
            name = t.removesuffix("_tensor")
            m, s = c.state(self.m[i], f"{name}_m"), c.state(self.s[i], f"{name}_s")
            t1, t2 = c.scratch(g), c.scratch(g)
            c.line(f"{m} *= b1")
            c.line(f"np.multiply({g}, 1 - b1, out={t1})")
            c.line(f"{m} += {t1}")
            c.line(f"{s} *= b2")
            c.line(f"np.multiply({g}, {g}, out={t1})")
            c.line(f"np.multiply({t1}, 1 - b2, out={t1})")
            c.line(f"{s} += {t1}")
            c.line(f"np.multiply({m}, step_size, out={t1})")
            c.line(f"np.divide({s}, s_correction, out={t2})")
            c.line(f"np.sqrt({t2}, out={t2})")
            c.line(f"{t2} += eps")
            c.line(f"np.divide({t1}, {t2}, out={t1})")
            c.line(f"{p} -= {t1}")
            c.line(f"{t}._version = edit")


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter, 2019): each step first
    shrinks p <- p - lr * weight_decay * p, then takes Adam's step (see :class:`Adam`)."""

    hyper = ("lr", "beta1", "beta2", "eps", "t", "weight_decay")

    def __init__(
        self,
        params: Iterable[Tensor],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
    ) -> None:
        if not weight_decay >= 0:
            raise ValueError(f"AdamW: weight_decay must be >= 0, got {weight_decay!r}")
        self.weight_decay = float(weight_decay)
        super().__init__(params, lr, betas, eps)

    def _update(self, data: np.ndarray, grad: np.ndarray, m: np.ndarray, s: np.ndarray) -> None:
        if self.weight_decay:
            data *= 1 - self.lr * self.weight_decay
        super()._update(data, grad, m, s)

"""Other frameworks, each used only when it imports: PyTorch eager, JAX ``jit``, scikit-learn.

None of them is a dependency of tinygrad_nn. Each builder writes the same math as
:mod:`benchmarks.hand_numpy` in that framework's idiomatic style, from the same first weights.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from typing import Any

import numpy as np

from .problems import Problem

__all__ = [
    "import_jax",
    "import_optional",
    "make_jax_step",
    "make_sklearn_step",
    "make_torch_step",
]

#: XLA's CPU backend has its own thread pool, which threadpoolctl cannot reach
_XLA_ONE_THREAD = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"


def import_jax(threads: int) -> Any | None:
    """jax, with XLA asked for one CPU thread when ``threads == 1``; None if it won't import.

    XLA reads ``XLA_FLAGS`` once, at import, so they are set just before; never over flags
    the user has set, and taken back when jax is not there.
    """
    pinned = threads == 1 and "XLA_FLAGS" not in os.environ
    if pinned:
        os.environ["XLA_FLAGS"] = _XLA_ONE_THREAD
    jax = import_optional("jax")
    if jax is None and pinned:
        del os.environ["XLA_FLAGS"]
    return jax


def import_optional(name: str) -> Any | None:
    """The module, or None when it is not installed or fails to import."""
    try:
        return importlib.import_module(name)
    except Exception:  # a broken install must not stop the benchmark
        return None


# ----------------------------------------------------------------------------- PyTorch


def make_torch_step(p: Problem) -> Callable[[], Any]:
    """PyTorch eager on CPU: ``nn.Sequential`` of ``nn.Linear``, ``F.cross_entropy``, SGD.

    ``torch.optim.SGD`` keeps ``v <- mu v + g; p <- p - lr v``, which for a constant lr is
    the tutorial's ``v <- mu v - lr g; p <- p + v`` with v scaled by ``-lr``.
    """
    import torch

    acts = {"sigmoid": torch.nn.Sigmoid, "relu": torch.nn.ReLU}
    layers, linears = [], []
    for i, (w, b) in enumerate(p.init):
        linear = torch.nn.Linear(*w.shape)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(w.T))  # torch stores (n_out, n_in)
            linear.bias.copy_(torch.from_numpy(b))
        layers.append(linear)
        linears.append(linear)
        last = i == len(p.init) - 1
        if not last:
            layers.append(acts[p.hidden]())
        elif p.output:
            layers.append(acts[p.output]())
    model = torch.nn.Sequential(*layers)
    opt = torch.optim.SGD(model.parameters(), lr=p.lr, momentum=p.momentum)
    x, y = torch.from_numpy(p.X), torch.from_numpy(p.y)
    cross_entropy = torch.nn.functional.cross_entropy
    l2 = p.lam / (2 * p.n)

    def step() -> Any:
        opt.zero_grad()
        loss = cross_entropy(model(x), y)
        if l2:
            loss = loss + l2 * sum(lin.weight.square().sum() for lin in linears)
        loss.backward()
        opt.step()
        return loss

    return step


# ----------------------------------------------------------------------------- JAX


def make_jax_step(p: Problem) -> Callable[[], Any]:
    """JAX: the whole step (value_and_grad and the update) under one ``jax.jit``.

    Parameters and velocities are donated, so XLA may update them in place; every call
    waits for its results (``block_until_ready``), so the time is the real step time.
    """
    import jax
    import jax.numpy as jnp

    acts = {"sigmoid": jax.nn.sigmoid, "relu": jax.nn.relu}
    n_layers, lam, n = len(p.init), p.lam, p.n
    lr, mu = p.lr, p.momentum

    def loss_fn(params: list, x: Any, y: Any) -> Any:
        h = x
        for i, (w, b) in enumerate(params):
            h = h @ w + b
            if i < n_layers - 1:
                h = acts[p.hidden](h)
            elif p.output:
                h = acts[p.output](h)
        log_p = jax.nn.log_softmax(h, axis=1)
        loss = -jnp.mean(jnp.take_along_axis(log_p, y[:, None], axis=1))
        if lam:
            loss = loss + lam / (2 * n) * sum(jnp.sum(w * w) for w, _ in params)
        return loss

    def train_step(params: list, velocity: list, x: Any, y: Any) -> tuple:
        loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
        velocity = jax.tree.map(lambda v, g: mu * v - lr * g, velocity, grads)
        params = jax.tree.map(lambda q, v: q + v, params, velocity)
        return params, velocity, loss

    jitted = jax.jit(train_step, donate_argnums=(0, 1))
    params = [(jnp.asarray(w), jnp.asarray(b)) for w, b in p.init]
    state = [params, jax.tree.map(jnp.zeros_like, params)]
    x, y = jnp.asarray(p.X), jnp.asarray(p.y.astype(np.int32))

    def step() -> Any:
        out = jax.block_until_ready(jitted(state[0], state[1], x, y))
        state[0], state[1] = out[0], out[1]
        return out[2]

    return step


# ----------------------------------------------------------------------------- scikit-learn


def make_sklearn_step(p: Problem) -> Callable[[], float]:
    """scikit-learn's ``MLPClassifier.partial_fit`` on the whole batch: one SGD step.

    Not the same math: scikit-learn puts softmax straight on the linear logits (no output
    sigmoid) and starts from its own weights, so its loss is not compared. ``alpha = lam``
    gives the same ``lam / (2 n) * sum ||W||^2`` term. The first ``partial_fit`` (which sets
    up the classes and weights) runs here, outside the timing.
    """
    from sklearn.neural_network import MLPClassifier

    clf = MLPClassifier(
        hidden_layer_sizes=p.sizes[1:-1],
        activation="logistic" if p.hidden == "sigmoid" else p.hidden,
        solver="sgd",
        alpha=p.lam,
        batch_size=p.n,
        learning_rate_init=p.lr,
        momentum=p.momentum,
        nesterovs_momentum=False,
        shuffle=False,
        random_state=0,
    )
    clf.partial_fit(p.X, p.y, classes=np.arange(p.n_classes))

    def step() -> float:
        clf.partial_fit(p.X, p.y)
        return clf.loss_

    return step

"""The training problems the contenders solve: network shape, data, settings, first weights.

A :class:`Problem` fixes everything about one training step (forward, softmax cross-entropy
plus optional L2, backward, momentum SGD update), so that every contender starts from the
same float32 weights and computes the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .cnn import cnn_problem

__all__ = [
    "WORKLOADS",
    "Problem",
    "digits_problem",
    "glorot_init",
    "mlp1024_problem",
    "mlp_problem",
]

DTYPE = np.float32


@dataclass(eq=False)
class Problem:
    """One training step, fully specified.

    ``sizes`` are the layer widths ``[n_in, hidden..., n_out]``; ``hidden`` is the activation
    after every layer but the last, ``output`` the one after the last (None: linear logits).
    The loss is the mean softmax cross-entropy of the network's output plus
    ``lam / (2 n) * sum ||W||^2`` (weights only, ``n`` = batch rows); the update is the
    tutorial's momentum SGD: ``v <- momentum v - lr g; p <- p + v``.
    """

    key: str
    title: str
    sizes: tuple[int, ...]
    hidden: str
    output: str | None
    lam: float
    lr: float
    momentum: float
    X: np.ndarray
    y: np.ndarray
    init: tuple[tuple[np.ndarray, np.ndarray], ...]

    @property
    def n(self) -> int:
        """Rows in the batch (the N of the mean loss and of the L2 term)."""
        return int(self.X.shape[0])

    @property
    def n_classes(self) -> int:
        return int(self.sizes[-1])

    def describe(self) -> str:
        """A one-line summary of the network and settings."""
        net = "-".join(str(s) for s in self.sizes)
        out = self.output or "linear"
        return (
            f"MLP {net}, {self.hidden} hidden, {out} output, batch {self.n}, softmax CE"
            f"{f' + L2 (lam={self.lam})' if self.lam else ''}, SGD lr {self.lr} momentum "
            f"{self.momentum}, float32"
        )

    def settings(self) -> dict:
        """The JSON-able settings (no arrays)."""
        return {
            "sizes": list(self.sizes),
            "hidden": self.hidden,
            "output": self.output,
            "lam": self.lam,
            "lr": self.lr,
            "momentum": self.momentum,
            "batch": self.n,
            "dtype": str(DTYPE.__name__),
        }


def glorot_init(sizes: tuple[int, ...], seed: int) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """Glorot-uniform weights ``U(-e, e)``, ``e = sqrt(6 / (n_in + n_out))``, zero biases."""
    rng = np.random.default_rng(seed)
    layers = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        bound = np.sqrt(6.0 / (n_in + n_out))
        w = rng.uniform(-bound, bound, size=(n_in, n_out)).astype(DTYPE)
        layers.append((w, np.zeros(n_out, dtype=DTYPE)))
    return tuple(layers)


def digits_problem(batch: int | None = None, seed: int = 0) -> Problem:
    """The tutorial's digits network on its 721 training rows (or the first ``batch`` rows)."""
    from tinygrad_nn.data import load_digits_splits

    splits = load_digits_splits()
    X = np.ascontiguousarray(splits.X_train, dtype=DTYPE)
    y = splits.y_train.astype(np.int64)
    if batch is not None:
        X, y = X[:batch].copy(), y[:batch].copy()
    sizes = (64, 48, 32, 10)
    if batch is None:
        key, title = "digits-full", f"digits net, full batch ({len(y)} rows)"
    else:
        key, title = f"digits-mb{batch}", f"digits net, minibatch {batch}"
    return Problem(
        key=key,
        title=title,
        sizes=sizes,
        hidden="sigmoid",
        output="sigmoid",
        lam=0.6,
        lr=0.2,
        momentum=0.9,
        X=X,
        y=y,
        init=glorot_init(sizes, seed),
    )


def mlp_problem(
    sizes: tuple[int, ...], batch: int, seed: int = 0, key: str = "", title: str = ""
) -> Problem:
    """A ReLU MLP with linear logits on seeded random data (lam 0, lr 0.01, momentum 0.9)."""
    rng = np.random.default_rng(seed + 1)
    X = rng.standard_normal((batch, sizes[0]), dtype=DTYPE)
    y = rng.integers(0, sizes[-1], size=batch).astype(np.int64)
    net = "-".join(str(s) for s in sizes)
    return Problem(
        key=key or f"mlp{net}-b{batch}",
        title=title or f"MLP {net}, batch {batch}",
        sizes=tuple(sizes),
        hidden="relu",
        output=None,
        lam=0.0,
        lr=0.01,
        momentum=0.9,
        X=X,
        y=y,
        init=glorot_init(tuple(sizes), seed),
    )


def mlp1024_problem(seed: int = 0) -> Problem:
    """MLP 784-1024-1024-10, batch 256: the BLAS-bound workload."""
    return mlp_problem(
        (784, 1024, 1024, 10),
        256,
        seed,
        key="mlp1024",
        title="MLP 784-1024-1024-10, batch 256",
    )


#: workload name -> builder, in report order
WORKLOADS = {
    "digits-full": lambda: digits_problem(None),
    "digits-mb32": lambda: digits_problem(32),
    "mlp1024": mlp1024_problem,
    "digits-cnn-b32": lambda: cnn_problem(32),
    "digits-cnn-b256": lambda: cnn_problem(256),
}

"""The contenders: who runs each workload, and which of them this machine can run."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import cnn, external, hand_numpy, tinygrad_steps
from .problems import Problem

__all__ = ["CONTENDERS", "Contender", "available", "select"]


@dataclass(frozen=True)
class Contender:
    """A way to run a training step.

    ``make(problem)`` prepares everything (weights, optimizer, compilation) and returns a
    zero-argument ``step()`` returning that step's loss (or None). ``same_math``: its loss
    is compared with hand numpy's. ``traced_memory``: tracemalloc sees its allocations
    (true for numpy; PyTorch and XLA allocate outside Python's allocator).
    """

    key: str
    label: str
    make: Callable[[Problem], Callable[[], Any]]
    same_math: bool = True
    traced_memory: bool = True
    workloads: tuple[str, ...] | None = None  # None: every workload
    needs: str | None = None  # an optional module that must import
    note: str = ""

    def runs(self, problem_key: str) -> bool:
        """True when this contender takes part in that workload."""
        return self.workloads is None or problem_key in self.workloads


#: every contender, in report order; hand numpy first: it is the baseline
CONTENDERS = (
    Contender("hand", "hand numpy f32", hand_numpy.make_hand_step),
    Contender(
        "floor",
        "GEMM-only floor (numpy)",
        hand_numpy.make_gemm_floor,
        same_math=False,
        workloads=("mlp1024", "digits-cnn-b32", "digits-cnn-b256"),
        note="the step's matrix products alone, into preallocated outputs",
    ),
    Contender(
        "tuned",
        "numpy tuned by hand",
        hand_numpy.make_tuned_step,
        note="preallocated buffers, out= and in-place chains: about the best numpy can do",
    ),
    Contender("eager", "tinygrad_nn eager", tinygrad_steps.make_eager_step),
    Contender(
        "compiled",
        "tinygrad_nn compiled (numpy)",
        tinygrad_steps.make_compiled_step,
        needs="tinygrad_nn.compile",
        note="generated numpy source, the same bits as eager",
    ),
    Contender(
        "numba",
        "tinygrad_nn compiled (numba)",
        tinygrad_steps.make_numba_step,
        needs="numba",
        note="elementwise chains fused into Numba loops; within float32 round-off of eager",
    ),
    Contender(
        "torch",
        "PyTorch eager CPU",
        external.make_torch_step,
        traced_memory=False,
        needs="torch",
    ),
    Contender("jax", "JAX jit", external.make_jax_step, traced_memory=False, needs="jax"),
    Contender(
        "sklearn",
        "scikit-learn partial_fit",
        external.make_sklearn_step,
        same_math=False,
        workloads=("digits-full",),
        needs="sklearn",
        note="softmax on linear logits (no output sigmoid), own initial weights: not compared",
    ),
)


#: the CNN workloads (``digits-cnn-*``) have their own builders for these contenders only
CNN_MAKERS = {
    "hand": cnn.make_hand_step,
    "floor": cnn.make_gemm_floor,
    "eager": cnn.make_eager_step,
    "compiled": cnn.make_compiled_step,
    "numba": cnn.make_numba_step,
    "torch": cnn.make_torch_step,
    "jax": cnn.make_jax_step,
}


def available(modules: dict[str, Any]) -> dict[str, Contender]:
    """The contenders whose optional module imported (``modules``: name -> module or None)."""
    out = {}
    for c in CONTENDERS:
        if c.needs == "tinygrad_nn.compile":
            if not tinygrad_steps.has_compile():
                continue
        elif c.needs is not None and modules.get(c.needs) is None:
            continue
        out[c.key] = c
    return out


def select(pool: dict[str, Contender], keys: list[str] | None, problem_key: str) -> list:
    """The contenders of ``pool`` for one workload, limited to ``keys`` (hand numpy always)."""
    chosen = []
    for c in pool.values():
        if problem_key.startswith("digits-cnn"):
            if c.key not in CNN_MAKERS:
                continue
            c = dataclasses.replace(c, make=CNN_MAKERS[c.key], workloads=None)
        wanted = keys is None or c.key in keys or c.key == "hand"
        if wanted and c.runs(problem_key):
            chosen.append(c)
    return chosen

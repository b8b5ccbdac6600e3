"""How things are measured: same-result check, interleaved timing rounds, peak memory.

Timing: every contender is warmed up (compilation, first-call costs, caches), then timed in
rounds; each round runs every contender for its own K steps, one after the other (the order
rotates from round to round), so slow drifts of the machine hit all of them alike. The
result per contender is the per-step time of each round; we report the median over rounds
and the min–max. The garbage collector stays on (it is part of a real training loop) but
is run before every block, so no block pays for another's garbage; the objects alive
before timing are frozen (``gc.freeze``), so those collections cost little.
"""

from __future__ import annotations

import gc
import math
import statistics
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = [
    "Check",
    "Memory",
    "Timing",
    "compare_losses",
    "peak_memory",
    "run_losses",
    "time_interleaved",
    "to_float",
]

Step = Callable[[], Any]


@dataclass
class Timing:
    """Per-step seconds of each round, and the settings that produced them."""

    per_round: list[float]
    steps_per_round: int
    warmup_steps: int

    @property
    def median(self) -> float:
        return statistics.median(self.per_round)

    @property
    def low(self) -> float:
        return min(self.per_round)

    @property
    def high(self) -> float:
        return max(self.per_round)

    def as_dict(self) -> dict:
        d = asdict(self)
        d.update(median_s=self.median, min_s=self.low, max_s=self.high)
        return d


@dataclass
class Memory:
    """Bytes seen by tracemalloc: held between steps, and the extra peak during one step."""

    held: int
    step_extra: int

    @property
    def peak(self) -> int:
        """The footprint during a step: what the contender holds plus the step's peak."""
        return self.held + self.step_extra

    def as_dict(self) -> dict:
        return {
            "held_bytes": self.held,
            "step_extra_bytes": self.step_extra,
            "peak_bytes": self.peak,
        }


@dataclass
class Check:
    """Losses of the first steps from the shared first weights, against hand numpy's."""

    losses: list[float]
    reference: list[float]
    max_rel_err: float
    tolerance: float
    ok: bool = field(init=False)

    def __post_init__(self) -> None:
        self.ok = self.max_rel_err <= self.tolerance

    def as_dict(self) -> dict:
        return asdict(self)


def to_float(value: Any) -> float:
    """A loss returned by any contender (numpy, Tensor, torch, jax, float) as a float."""
    item = getattr(value, "item", None)
    return float(item() if callable(item) else value)


# ----------------------------------------------------------------------------- same result


def run_losses(step: Step, n_steps: int) -> list[float]:
    """The loss each of the first ``n_steps`` calls returns."""
    return [to_float(step()) for _ in range(n_steps)]


def compare_losses(losses: list[float], reference: list[float], tolerance: float) -> Check:
    """Largest relative difference ``|a - b| / max(|b|, 1e-3)`` over the steps."""
    errs = [abs(a - b) / max(abs(b), 1e-3) for a, b in zip(losses, reference)]
    worst = max(errs) if all(map(math.isfinite, errs)) else math.inf
    return Check(losses, reference, worst, tolerance)


# ----------------------------------------------------------------------------- timing


def _time_block(step: Step, k: int, collect: bool = True) -> float:
    """Seconds per step over ``k`` back-to-back calls (after a garbage collection)."""
    if collect:
        gc.collect()
    start = time.perf_counter()
    for _ in range(k):
        step()
    return (time.perf_counter() - start) / k


def _warm_up(step: Step, min_steps: int, min_seconds: float) -> tuple[int, float]:
    """Run until both limits are met; returns (steps run, estimated seconds per step)."""
    steps, start, last = 0, time.perf_counter(), math.inf
    while steps < min_steps or time.perf_counter() - start < min_seconds:
        last = _time_block(step, 1, collect=False)
        steps += 1
    # the two newest calls are past any first-call cost; the faster one is the estimate
    estimate = min(last, _time_block(step, 1, collect=False))
    return steps + 1, estimate


def time_interleaved(
    steps: dict[str, Step],
    rounds: int,
    block_seconds: float,
    warmup_steps: int = 3,
    warmup_seconds: float = 0.05,
    max_steps_per_block: int = 2000,
) -> dict[str, Timing]:
    """Per-step times of every contender over ``rounds`` interleaved rounds.

    Each contender's K (steps per round) is chosen after warm-up so that one block takes
    about ``block_seconds``; K is at least 1.
    """
    k, warmed = {}, {}
    for name, step in steps.items():
        warmed[name], estimate = _warm_up(step, warmup_steps, warmup_seconds)
        k[name] = max(1, min(max_steps_per_block, round(block_seconds / max(estimate, 1e-9))))
    names = list(steps)
    per_round: dict[str, list[float]] = {name: [] for name in names}
    gc.collect()
    gc.freeze()  # everything alive now is never scanned again: collections stay cheap
    try:
        for r in range(rounds):
            order = names[r % len(names) :] + names[: r % len(names)]
            for name in order:
                per_round[name].append(_time_block(steps[name], k[name]))
    finally:
        gc.unfreeze()
    return {name: Timing(per_round[name], k[name], warmed[name]) for name in names}


# ----------------------------------------------------------------------------- memory


def peak_memory(make: Callable[[], Step], warmup_steps: int = 2) -> Memory:
    """tracemalloc's view of one training step, measured on a freshly made contender.

    ``held``: bytes the contender keeps between steps after warm-up (parameters,
    optimizer state, gradients, any preallocated buffers); ``step_extra``: the highest
    extra amount reached during one more step. Numpy registers its array buffers with
    tracemalloc, so both include array data. The training data itself is made before
    tracing starts and is not counted.
    """
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        step = make()
        for _ in range(warmup_steps):
            step()
        gc.collect()
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        step()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return Memory(held=before - base, step_extra=peak - before)

"""``Dropout``: random zeroing in training mode, the identity after ``eval()``."""

from __future__ import annotations

from typing import Any

from ..tensor import Tensor
from . import functional as F
from .module import Module, make_rng

__all__ = ["Dropout"]


class Dropout(Module):
    """In training mode each element is zeroed with probability ``p`` and the rest scaled by
    1 / (1 - p), so the expected output is the input; after ``eval()`` the input passes
    unchanged. ``rng`` (a Generator, an int seed or None) draws the masks, so a seeded run
    repeats exactly; its state is not part of ``state_dict``.
    """

    def __init__(self, p: float = 0.5, rng: Any = None) -> None:
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: p must be in [0, 1], got {p!r}")
        self.p = float(p)
        self.rng = make_rng(rng)

    def forward(self, x: Tensor) -> Tensor:
        """x of any shape -> the same shape; one ``dropout`` op in training mode."""
        return F.dropout(x, self.p, self.training, self.rng)

    def config(self) -> dict[str, Any]:
        """The constructor arguments needed to rebuild this layer."""
        return {"p": self.p}

    def extra_repr(self) -> str:
        return f"p={self.p}"

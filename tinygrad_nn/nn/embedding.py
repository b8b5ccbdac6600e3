"""``Embedding``: a table of learned vectors looked up by integer index."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..tensor import Tensor, get_default_dtype
from . import functional as F
from .module import Module, make_rng

__all__ = ["Embedding"]


class Embedding(Module):
    """weight (num_embeddings, embedding_dim), initialised N(0, 1) as in PyTorch; indices of
    shape S give (*S, embedding_dim). Rows picked several times sum their gradients."""

    def __init__(
        self, num_embeddings: int, embedding_dim: int, rng: Any = None, dtype: Any = None
    ) -> None:
        sizes = {"num_embeddings": num_embeddings, "embedding_dim": embedding_dim}
        shape = self.state_shapes(sizes)["weight"]
        dtype = np.dtype(dtype) if dtype is not None else get_default_dtype()
        self.num_embeddings, self.embedding_dim = shape
        w = make_rng(rng).standard_normal(shape)
        self.weight = Tensor(w.astype(dtype), requires_grad=True)

    @classmethod
    def state_shapes(cls, config: dict[str, Any]) -> dict[str, tuple[int, ...]]:
        """weight (num_embeddings, embedding_dim), from ``config`` alone."""
        sizes = []
        for label in ("num_embeddings", "embedding_dim"):
            n = config[label]
            if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
                raise ValueError(f"Embedding: {label} must be a positive integer, got {n!r}")
            sizes.append(int(n))
        return {"weight": tuple(sizes)}

    def forward(self, indices: Any) -> Tensor:
        """Integer indices (array, list or Tensor) of shape S -> (*S, embedding_dim)."""
        return F.embedding(indices, self.weight)

    def config(self) -> dict[str, Any]:
        """The constructor arguments needed to rebuild this layer."""
        return {
            "num_embeddings": self.num_embeddings,
            "embedding_dim": self.embedding_dim,
            "dtype": str(self.weight.dtype),
        }

    def extra_repr(self) -> str:
        return f"{self.num_embeddings}, {self.embedding_dim}"

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
        for label, n in (("num_embeddings", num_embeddings), ("embedding_dim", embedding_dim)):
            if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
                raise ValueError(f"Embedding: {label} must be a positive integer, got {n!r}")
        dtype = np.dtype(dtype) if dtype is not None else get_default_dtype()
        self.num_embeddings, self.embedding_dim = int(num_embeddings), int(embedding_dim)
        w = make_rng(rng).standard_normal((self.num_embeddings, self.embedding_dim))
        self.weight = Tensor(w.astype(dtype), requires_grad=True)

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

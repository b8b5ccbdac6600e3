"""Matrix products: matmul and the fused linear layer op.

Each op: ``forward`` on numpy arrays saves what ``backward`` needs; ``backward`` gets
d(loss)/d(output) and returns one gradient per positional input (the engine undoes
broadcasting).
"""

from __future__ import annotations

import math

import numpy as np

from ..autograd import Function

__all__ = ["Linear", "MatMul"]


class MatMul(Function):
    """a @ b with numpy's rules: 2-D, batched N-D, and 1-D vectors on either side.

    For 2-D, dA = dY B^T and dB = A^T dY; a 1-D operand is treated as a row (left) or
    column (right) matrix and the extra axis dropped again.
    """

    name = "matmul"

    def forward(self, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError(
                f"matmul: shapes {a.shape} and {b.shape}: scalars cannot be matrix-multiplied"
            )
        k_a = a.shape[-1]
        k_b = b.shape[-2] if b.ndim >= 2 else b.shape[0]
        if k_a != k_b:
            raise ValueError(
                f"matmul: shapes {a.shape} and {b.shape} do not align ({k_a} != {k_b})"
            )
        self.a, self.b = a, b
        return a @ b

    def backward(self, grad):
        a, b = self.a, self.b
        need_a, need_b = self.needs_input_grad
        if a.ndim == 2 and b.ndim == 2:  # the common case, without the general axis juggling
            return (grad @ b.T if need_a else None, a.T @ grad if need_b else None)
        if a.ndim == 1 and b.ndim == 1:
            return (grad * b if need_a else None, grad * a if need_b else None)
        if a.ndim == 1:
            g = grad[..., None, :]
            ga = (g @ np.swapaxes(b, -1, -2))[..., 0, :] if need_a else None
            gb = a[:, None] @ g if need_b else None
            return ga, gb
        if b.ndim == 1:
            g = grad[..., :, None]
            ga = g @ b[None, :] if need_a else None
            gb = (np.swapaxes(a, -1, -2) @ g)[..., :, 0] if need_b else None
            return ga, gb
        ga = grad @ np.swapaxes(b, -1, -2) if need_a else None
        gb = np.swapaxes(a, -1, -2) @ grad if need_b else None
        return ga, gb


class Linear(Function):
    """x @ W (+ b) for x (..., n_in), W (n_in, n_out), b (n_out,): the tutorial's linear update.

    dx = dY W^T, dW = x^T dY and db = sum of dY over the rows, with x and dY flattened to
    rows. One op instead of matmul + add, so a layer keeps one output array instead of two.
    """

    def forward(self, x, w, b=None):
        if x.ndim < 1 or w.ndim != 2 or (b is not None and b.ndim != 1):
            bias = "" if b is None else f" and {b.shape}"
            raise ValueError(
                f"linear: expects x (..., n_in), W (n_in, n_out) and b (n_out,), got shapes "
                f"{x.shape}, {w.shape}{bias}"
            )
        if x.shape[-1] != w.shape[0]:
            raise ValueError(
                f"linear: shapes {x.shape} and {w.shape} do not align "
                f"({x.shape[-1]} != {w.shape[0]})"
            )
        if b is not None and b.shape[0] != w.shape[1]:
            raise ValueError(f"linear: bias of shape {b.shape} for {w.shape[1]} outputs")
        self.x, self.w = x, w
        out = x @ w
        if b is None:
            return out
        if np.result_type(out, b) != out.dtype:  # keep numpy's promotion of x @ W + b
            return out + b
        out += b
        return out

    def backward(self, grad):
        need = self.needs_input_grad
        x, w = self.x, self.w
        rows = grad
        if x.ndim != 2:  # flatten the leading axes (an explicit count: one may be 0)
            n = math.prod(x.shape[:-1])
            x, rows = x.reshape(n, x.shape[-1]), grad.reshape(n, grad.shape[-1])
        gx = grad @ w.T if need[0] else None
        gw = x.T @ rows if need[1] else None
        if len(need) == 2:
            return gx, gw
        return gx, gw, rows.sum(axis=0) if need[2] else None

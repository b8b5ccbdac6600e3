"""Matrix products: matmul and the fused linear layer op.

Each op: ``forward`` on numpy arrays saves what ``backward`` needs; ``backward`` gets
d(loss)/d(output) and returns one gradient per positional input (the engine undoes
broadcasting). ``forward_code`` / ``backward_code`` are the same computations as numpy
source for ``compile`` (see ``codegen.Code``): they must compute the same bits.
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

    Rule: da = dy b^T, db = a^T dy.
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

    def tensor_backward(self, grad, out):
        a, b = self.inputs
        if a.ndim == 1 and b.ndim == 1:
            return grad * b, grad * a
        # a 1-D operand becomes a row (left) or column (right) matrix, as in forward
        a2 = a.reshape(1, a.shape[0]) if a.ndim == 1 else a
        b2 = b.reshape(b.shape[0], 1) if b.ndim == 1 else b
        g2 = grad.reshape(out.shape[:-1] + (1, out.shape[-1])) if a.ndim == 1 else grad
        g2 = g2.reshape(g2.shape + (1,)) if b.ndim == 1 else g2
        ga = g2 @ _swap_last(b2)
        gb = _swap_last(a2) @ g2
        ga = ga.reshape(ga.shape[:-2] + (ga.shape[-1],)) if a.ndim == 1 else ga
        gb = gb.reshape(gb.shape[:-1]) if b.ndim == 1 else gb
        return ga, gb

    def forward_code(self, c, a, b):
        c.saved.update(a=a, b=b)
        if len(c.shape(a)) == 2 and len(c.shape(b)) == 2:
            y = c.new(like=c.out)
            c.line(f"np.matmul({a}, {b}, out={y})")
            return y
        return c.let(f"{a} @ {b}", like=c.out)

    def backward_code(self, c, grad):
        a, b = c.saved["a"], c.saved["b"]
        need_a, need_b = self.needs_input_grad
        ga = gb = None
        if self.a.ndim == 2 and self.b.ndim == 2:
            if need_a:
                dt = np.result_type(c.dtype(grad), self.b)
                ga = c.new(like=self.a, dtype=dt, hint=f"g_{c.hint}")
                c.line(f"np.matmul({grad}, {b}.T, out={ga})")
            if need_b:
                dt = np.result_type(c.dtype(grad), self.a)
                gb = c.new(like=self.b, dtype=dt, hint=f"g_{c.hint}")
                c.line(f"np.matmul({a}.T, {grad}, out={gb})")
            return ga, gb
        grads = self.backward(np.zeros(c.shape(grad), c.dtype(grad)))  # shapes only
        exprs = _general_backward_code(self.a.ndim, self.b.ndim, a, b, grad)
        return tuple(
            c.let(e, like=g) if need and g is not None else None
            for need, e, g in zip(self.needs_input_grad, exprs, grads)
        )


def _general_backward_code(a_ndim: int, b_ndim: int, a: str, b: str, grad: str) -> tuple:
    """``MatMul.backward``'s expressions for 1-D and batched operands, as source."""
    if a_ndim == 1 and b_ndim == 1:
        return f"{grad} * {b}", f"{grad} * {a}"
    if a_ndim == 1:
        g = f"{grad}[..., None, :]"
        return f"({g} @ np.swapaxes({b}, -1, -2))[..., 0, :]", f"{a}[:, None] @ {g}"
    if b_ndim == 1:
        g = f"{grad}[..., :, None]"
        return f"{g} @ {b}[None, :]", f"(np.swapaxes({a}, -1, -2) @ {g})[..., :, 0]"
    return f"{grad} @ np.swapaxes({b}, -1, -2)", f"np.swapaxes({a}, -1, -2) @ {grad}"


class Linear(Function):
    """x @ W (+ b) for x (..., n_in), W (n_in, n_out), b (n_out,): the tutorial's linear update.

    dx = dY W^T, dW = x^T dY and db = sum of dY over the rows, with x and dY flattened to
    rows. One op instead of matmul + add, so a layer keeps one output array instead of two.

    Rule: dx = dy W^T, dW = x^T dy, db = dy summed over the rows.
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
        if b.dtype != out.dtype:  # keep numpy's promotion of x @ W + b
            return out + b
        out += b
        return out

    def backward(self, grad):
        need = self.needs_input_grad
        dy, x = grad, self.x
        if grad.ndim != 2:  # dY and x as rows: leading axes flattened (a count: it may be 0)
            rows = math.prod(grad.shape[:-1])
            dy, x = grad.reshape(rows, grad.shape[-1]), x.reshape(rows, x.shape[-1])
        grads = (
            grad @ self.w.T if need[0] else None,  # dx = dY W^T
            x.T @ dy if need[1] else None,  # dW = x^T dY
            np.add.reduce(dy, axis=0) if need[-1] and len(need) == 3 else None,  # db: dY rows
        )
        return grads[: len(need)]

    def tensor_backward(self, grad, out):
        x, w = self.inputs[0], self.inputs[1]
        rows = grad.reshape(-1, grad.shape[-1]) if grad.ndim != 2 else grad
        gx = grad @ w.T
        gw = x.reshape(-1, x.shape[-1]).T @ rows
        return (gx, gw) if len(self.inputs) == 2 else (gx, gw, rows.sum(axis=0))

    def forward_code(self, c, x, w, b=None):
        c.saved.update(x=x, w=w)
        y = c.new(shape=c.out.shape, dtype=np.result_type(self.x, self.w))
        c.line(f"np.matmul({x}, {w}, out={y})")
        if b is not None:
            if np.result_type(self.x, self.w) != c.out.dtype:  # numpy's promotion of x @ W + b
                return c.let(f"{y} + {b}", like=c.out)
            c.line(f"{y} += {b}")
        return y

    def backward_code(self, c, grad):
        need = self.needs_input_grad
        x, w, dt = c.saved["x"], c.saved["w"], c.dtype(grad)
        rows = grad
        if len(c.shape(grad)) != 2:
            n = c.shape(grad)[-1]
            shape = (int(np.prod(c.shape(grad)[:-1])), n)
            rows = c.let(f"{grad}.reshape(-1, {n})", shape=shape, dtype=dt, view_of=grad)
        gx = gw = gb = None
        if need[0]:
            gx = c.new(like=self.x, dtype=np.result_type(dt, self.w), hint=f"g_{c.hint}")
            c.line(f"np.matmul({grad}, {w}.T, out={gx})")
        if need[1]:
            xr = x if self.x.ndim == 2 else f"{x}.reshape(-1, {self.x.shape[-1]})"
            gw = c.new(like=self.w, dtype=np.result_type(dt, self.x), hint=f"g_{c.hint}")
            c.line(f"np.matmul({xr}.T, {rows}, out={gw})")
        if len(need) == 2:
            return gx, gw
        if need[2]:
            gb = c.new(shape=(c.shape(grad)[-1],), dtype=dt, hint=f"g_{c.hint}")
            c.line(f"np.add.reduce({rows}, axis=0, out={gb})")
        return gx, gw, gb


def _swap_last(t):
    """The Tensor with its last two axes swapped (the matrix transpose of a batch)."""
    axes = list(range(t.ndim))
    axes[-1], axes[-2] = axes[-2], axes[-1]
    return t.transpose(tuple(axes))

"""Every primitive operation, forward and backward side by side: the gradient table.

Each op takes numpy arrays in ``forward`` and saves on ``self`` what ``backward`` needs;
``backward`` gets d(loss)/d(output) and returns one gradient per positional input. The
engine (``autograd.py``) undoes broadcasting, so gradients may have the broadcast shape.
"""

from __future__ import annotations

import numpy as np

from .autograd import Function

# ============================================================================ elementwise


class Add(Function):
    def forward(self, a, b):
        return a + b

    def backward(self, grad):
        return grad, grad


class Sub(Function):
    def forward(self, a, b):
        return a - b

    def backward(self, grad):
        return grad, -grad if self.needs_input_grad[1] else None


class Neg(Function):
    def forward(self, x):
        return np.negative(x)

    def backward(self, grad):
        return -grad


class Mul(Function):
    def forward(self, a, b):
        self.a, self.b = a, b
        return a * b

    def backward(self, grad):
        need_a, need_b = self.needs_input_grad
        return (grad * self.b if need_a else None, grad * self.a if need_b else None)


class Div(Function):
    """a / b: d/da = 1 / b, d/db = -a / b^2."""

    def forward(self, a, b):
        self.a, self.b = a, b
        return a / b

    def backward(self, grad):
        need_a, need_b = self.needs_input_grad
        ga = grad / self.b
        return ga if need_a else None, -ga * self.a / self.b if need_b else None


class Pow(Function):
    """x ** p for a fixed number p: d/dx = p x^(p-1)."""

    def forward(self, x, exponent):
        self.x, self.p = x, exponent
        return x**exponent

    def backward(self, grad):
        p = self.p
        if p == 0:
            return np.zeros_like(grad)
        if p == 1:
            return grad
        if p == 2:
            return grad * (2 * self.x)
        return grad * (p * self.x ** (p - 1))


class Exp(Function):
    def forward(self, x):
        self.y = np.exp(x)
        return self.y

    def backward(self, grad):
        return grad * self.y


class Log(Function):
    def forward(self, x):
        self.x = x
        return np.log(x)

    def backward(self, grad):
        return grad / self.x


# ============================================================================ reduce


def _normalize_axes(axis, ndim: int) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for a in axes:
        if not -ndim <= a < ndim:
            raise ValueError(f"axis {a} is out of range for {ndim} dimensions")
        out.append(int(a) % ndim)
    return tuple(out)


def _expand_reduced(grad: np.ndarray, axes: tuple[int, ...], keepdims: bool) -> np.ndarray:
    """Put back the reduced axes as size-1 axes so ``grad`` broadcasts against the input."""
    return grad if keepdims else np.expand_dims(grad, axes)


class Sum(Function):
    def forward(self, x, axis=None, keepdims=False):
        axes = _normalize_axes(axis, x.ndim)
        self.shape = x.shape
        # the output's shape with the summed axes kept as 1s: grad broadcasts from it
        self.kept = tuple(1 if i in axes else n for i, n in enumerate(x.shape))
        return x.sum(axis=axes, keepdims=keepdims)

    def backward(self, grad):
        return np.broadcast_to(grad.reshape(self.kept), self.shape)


class Mean(Function):
    """Sum over the axes divided by their element count; NaN over no elements (as numpy)."""

    def forward(self, x, axis=None, keepdims=False):
        axes = _normalize_axes(axis, x.ndim)
        self.shape = x.shape
        self.kept = tuple(1 if i in axes else n for i, n in enumerate(x.shape))
        self.count = int(np.prod([x.shape[a] for a in axes]))
        return np.asarray(x.mean(axis=axes, keepdims=keepdims))

    def backward(self, grad):
        scale = grad.dtype.type(1.0 / self.count) if self.count else grad.dtype.type(np.nan)
        return np.broadcast_to(grad.reshape(self.kept) * scale, self.shape)


class Max(Function):
    """Values of the maximum; at ties the gradient is split evenly among the maxima."""

    def forward(self, x, axis=None, keepdims=False):
        if x.size == 0:
            raise ValueError(f"max: cannot reduce an empty tensor of shape {x.shape}")
        self.axes = _normalize_axes(axis, x.ndim)
        self.keepdims = keepdims
        self.x = x
        self.m = np.max(x, axis=self.axes, keepdims=True)
        return self.m if keepdims else np.squeeze(self.m, axis=self.axes)

    def backward(self, grad):
        mask = (self.x == self.m).astype(grad.dtype)
        mask /= mask.sum(axis=self.axes, keepdims=True)
        return _expand_reduced(grad, self.axes, self.keepdims) * mask


# ============================================================================ shape


class Reshape(Function):
    def forward(self, x, shape):
        self.in_shape = x.shape
        try:
            return x.reshape(shape)
        except ValueError:
            raise ValueError(
                f"reshape: cannot reshape tensor of shape {x.shape} ({x.size} elements) "
                f"into {tuple(shape)}"
            ) from None

    def backward(self, grad):
        return grad.reshape(self.in_shape)


class Transpose(Function):
    def forward(self, x, axes=None):
        if axes is None:
            axes = tuple(reversed(range(x.ndim)))
        if sorted(int(a) % max(x.ndim, 1) for a in axes) != list(range(x.ndim)):
            raise ValueError(
                f"transpose: axes {tuple(axes)} are not a permutation of the "
                f"{x.ndim} axes of shape {x.shape}"
            )
        self.inverse = tuple(np.argsort([int(a) % x.ndim for a in axes]))
        return np.transpose(x, axes)

    def backward(self, grad):
        return np.transpose(grad, self.inverse)


def _is_basic_index(index) -> bool:
    """True for ints, slices, None and Ellipsis only (no repeated elements possible)."""
    items = index if isinstance(index, tuple) else (index,)
    return all(isinstance(i, (int, np.integer, slice)) or i is None or i is Ellipsis for i in items)


class GetItem(Function):
    """x[index]; for integer-array indices repeated elements get their gradients summed."""

    name = "getitem"

    def forward(self, x, index):
        self.shape, self.dtype, self.index = x.shape, x.dtype, index
        try:
            return x[index]
        except IndexError as err:
            raise IndexError(f"getitem: {err} (tensor of shape {x.shape})") from None

    def backward(self, grad):
        full = np.zeros(self.shape, dtype=grad.dtype)
        if _is_basic_index(self.index):
            full[self.index] = grad
        else:
            np.add.at(full, self.index, grad)
        return full


# ============================================================================ matmul


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
        rows = grad.reshape(-1, grad.shape[-1]) if grad.ndim != 2 else grad
        gx = grad @ w.T if need[0] else None
        gw = x.reshape(-1, x.shape[-1]).T @ rows if need[1] else None
        if len(need) == 2:
            return gx, gw
        return gx, gw, rows.sum(axis=0) if need[2] else None


# ============================================================================ nonlinear


class Sigmoid(Function):
    """1 / (1 + e^-x) = 0.5 + 0.5 tanh(x / 2): the same function with one transcendental
    and no overflow for any x (tanh saturates at +-1); dy/dx = y (1 - y)."""

    def forward(self, x):
        y = np.multiply(x, 0.5, out=np.empty(x.shape, np.result_type(x, 0.5)))
        np.tanh(y, out=y)
        y *= 0.5
        y += 0.5
        self.y = y
        return y

    def backward(self, grad):
        y = self.y
        return grad * y * (1 - y)


class Tanh(Function):
    def forward(self, x):
        self.y = np.tanh(x)
        return self.y

    def backward(self, grad):
        return grad * (1 - self.y * self.y)


class Relu(Function):
    def forward(self, x):
        self.positive = x > 0
        return np.maximum(x, 0)  # (np.where is ~10x slower on mixed signs)

    def backward(self, grad):
        return grad * self.positive


def _log_softmax(x: np.ndarray, axis: int) -> np.ndarray:
    """x - logsumexp(x), with the max subtracted first so exp never overflows."""
    shifted = x - np.max(x, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


class Softmax(Function):
    """y = e^x / sum(e^x) (max subtracted first); dx = y * (dy - sum(dy * y))."""

    def forward(self, x, axis=-1):
        if x.ndim == 0:
            raise ValueError("softmax: needs at least one axis, got a scalar")
        self.axis = _normalize_axes(axis, x.ndim)[0]
        e = np.exp(x - np.max(x, axis=self.axis, keepdims=True))
        e /= np.sum(e, axis=self.axis, keepdims=True)
        self.y = e
        return e

    def backward(self, grad):
        y = self.y
        return y * (grad - np.sum(grad * y, axis=self.axis, keepdims=True))


class LogSoftmax(Function):
    """y = x - logsumexp(x); dx = dy - softmax(x) * sum(dy)."""

    def forward(self, x, axis=-1):
        if x.ndim == 0:
            raise ValueError("log_softmax: needs at least one axis, got a scalar")
        self.axis = _normalize_axes(axis, x.ndim)[0]
        self.y = _log_softmax(x, self.axis)
        return self.y

    def backward(self, grad):
        return grad - np.exp(self.y) * np.sum(grad, axis=self.axis, keepdims=True)


# ============================================================================ loss


def _check_targets(targets, n: int, k: int) -> np.ndarray:
    t = np.asarray(targets)
    if t.ndim != 1 or t.shape[0] != n:
        raise ValueError(
            f"softmax_cross_entropy: targets must have shape ({n},) to match logits with "
            f"{n} rows, got shape {t.shape}"
        )
    if t.dtype.kind == "f":
        if not np.all(np.isfinite(t)) or np.any(t != np.round(t)):
            raise ValueError("softmax_cross_entropy: targets must be integer class indices")
        t = t.astype(np.int64)
    elif t.dtype.kind not in "iu":
        raise ValueError(
            f"softmax_cross_entropy: targets must be integer class indices, got dtype {t.dtype}"
        )
    if n and (t.min() < 0 or t.max() >= k):
        raise ValueError(
            f"softmax_cross_entropy: targets must lie in [0, {k}), got values from "
            f"{t.min()} to {t.max()}"
        )
    return t


class SoftmaxCrossEntropy(Function):
    """Mean over N of -log softmax(logits)[target]; fused for stability.

    logits: (N, K), targets: (N,) integer classes. Gradient: (softmax - onehot) / N.
    """

    def forward(self, logits, targets):
        if logits.ndim != 2:
            raise ValueError(
                f"softmax_cross_entropy: logits must be 2-D (N, K), got shape {logits.shape}"
            )
        n, k = logits.shape
        if n == 0:
            raise ValueError("softmax_cross_entropy: logits have no rows (N = 0)")
        t = _check_targets(targets, n, k)
        rows = np.arange(n)
        # log p[target] = z[target] - log sum_j e^z_j with z = logits - max (log-sum-exp)
        z = logits - logits.max(axis=1, keepdims=True)
        e = np.exp(z)
        total = e.sum(axis=1, keepdims=True)
        loss = (np.log(total[:, 0]) - z[rows, t]).sum() / n
        e /= total  # softmax
        e[rows, t] -= 1
        e /= n
        self.grad_logits = e
        return loss

    def backward(self, grad):
        return grad * self.grad_logits


class L2Penalty(Function):
    """scale * sum over the inputs of ||W||^2, one op for all the weight matrices.

    d/dW = 2 scale W. (``nn.l2_penalty`` uses it with scale = lam / (2 n).)
    """

    def forward(self, *weights, scale):
        self.weights, self.scale = weights, scale
        total = sum(float(np.vdot(w, w)) for w in weights)
        return np.asarray(scale * total, dtype=np.result_type(*weights))

    def backward(self, grad):
        factor = 2 * self.scale * grad
        return tuple(factor * w for w in self.weights)

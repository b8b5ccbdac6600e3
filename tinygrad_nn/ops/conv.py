"""Convolution and pooling on NCHW arrays: sliding windows, then one matrix product.

``numpy.lib.stride_tricks.sliding_window_view`` gives every kernel window of the (padded)
input as a (N, C, OH, OW, kh, kw) view without copying; stride and dilation are slices of
that view. The gradient of "take the windows" is "add each window's gradient back where it
came from", done with one strided add per kernel position (:func:`_add_windows`).

Output size per spatial axis: ``OH = (H + 2 padding - dilation (k - 1) - 1) // stride + 1``.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..autograd import Function

__all__ = ["AvgPool2d", "Conv2d", "MaxPool2d", "pair"]


def pair(value, what: str, op: str, minimum: int) -> tuple[int, int]:
    """``value`` (an int or two ints) as a pair of ints ``>= minimum``, else a ValueError
    naming ``op`` and the setting ``what``."""
    items = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    if len(items) != 2 or not all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in items
    ):
        raise ValueError(f"{op}: {what} must be an int or a pair of ints, got {value!r}")
    if min(items) < minimum:
        raise ValueError(f"{op}: {what} must be >= {minimum}, got {value!r}")
    return int(items[0]), int(items[1])


class _Geometry:
    """Kernel, stride, padding and dilation of a windowed op on an input of ``shape``."""

    def __init__(self, op, shape, kernel, stride, padding, dilation) -> None:
        if len(shape) != 4:
            raise ValueError(f"{op}: expects an input (N, C, H, W), got shape {shape}")
        self.shape = shape
        self.kernel = pair(kernel, "kernel_size", op, 1)
        self.stride = pair(kernel if stride is None else stride, "stride", op, 1)
        self.padding = pair(padding, "padding", op, 0)
        self.dilation = pair(dilation, "dilation", op, 1)
        (kh, kw), (ph, pw), (dh, dw) = self.kernel, self.padding, self.dilation
        self.reach = (dh * (kh - 1) + 1, dw * (kw - 1) + 1)  # the dilated kernel's extent
        self.padded = (shape[2] + 2 * ph, shape[3] + 2 * pw)
        if self.padded[0] < self.reach[0] or self.padded[1] < self.reach[1]:
            raise ValueError(
                f"{op}: input of shape {shape} with padding {self.padding} is smaller than "
                f"the kernel {self.kernel} (extent {self.reach} with dilation {self.dilation})"
            )
        sh, sw = self.stride
        self.out = (
            (self.padded[0] - self.reach[0]) // sh + 1,
            (self.padded[1] - self.reach[1]) // sw + 1,
        )

    def windows(self, x: np.ndarray, fill: float = 0.0) -> np.ndarray:
        """The (N, C, OH, OW, kh, kw) windows of ``x``: a view; only padding copies ``x``."""
        (ph, pw), (sh, sw), (dh, dw) = self.padding, self.stride, self.dilation
        if ph or pw:
            n, c, h, w = x.shape
            xp = np.full((n, c, *self.padded), fill, dtype=x.dtype)
            xp[:, :, ph : ph + h, pw : pw + w] = x
            x = xp
        return sliding_window_view(x, self.reach, axis=(2, 3))[:, :, ::sh, ::sw, ::dh, ::dw]

    def add_windows(self, dwin: np.ndarray, dtype) -> np.ndarray:
        """The adjoint of :meth:`windows`: window gradients (N, C, OH, OW, kh, kw) summed
        onto an input-shaped array, one strided add per kernel position."""
        n, c, h, w = self.shape
        (kh, kw), (ph, pw), (sh, sw), (dh, dw) = (
            self.kernel,
            self.padding,
            self.stride,
            self.dilation,
        )
        oh, ow = self.out
        dxp = np.zeros((n, c, *self.padded), dtype=dtype)
        for p in range(kh):
            rows = slice(p * dh, p * dh + sh * (oh - 1) + 1, sh)
            for q in range(kw):
                dxp[:, :, rows, q * dw : q * dw + sw * (ow - 1) + 1 : sw] += dwin[..., p, q]
        return dxp[:, :, ph : ph + h, pw : pw + w] if ph or pw else dxp


class Conv2d(Function):
    """Cross-correlation of x (N, C, H, W) with w (O, C / groups, kh, kw), plus b (O,).

    out[n, o, i, j] = b[o] + sum_{c, p, q} w[o, c, p, q] x_pad[n, g(o) C/G + c,
    i s_h + p d_h, j s_w + q d_w]; output (N, O, OH, OW), a transposed view of an
    (N, OH, OW, O) array. im2col: the windows are copied once into ``cols`` (N OH OW,
    C kh kw) and multiplied by w as a (C kh kw, O) matrix (per group when ``groups`` > 1).

    Allocates: forward, the padded input (only when ``padding`` > 0), ``cols`` (kept for
    dW, dropped when w needs no gradient) and the output; backward, dW = dY^T cols and
    db, and for dx the column gradient dY W (the size of ``cols``) and the padded input
    gradient it is summed into. The output gradient is copied to rows only when it is not
    already laid out as (N, OH, OW, O) in memory.
    """

    def forward(self, x, w, b=None, *, stride=1, padding=0, dilation=1, groups=1):
        if w.ndim != 4:
            raise ValueError(
                f"conv2d: expects a weight (O, C / groups, kh, kw), got shape {w.shape} "
                f"for input {x.shape}"
            )
        geo = _Geometry("conv2d", x.shape, w.shape[2:], stride, padding, dilation)
        if not isinstance(groups, (int, np.integer)) or isinstance(groups, bool) or groups < 1:
            raise ValueError(f"conv2d: groups must be a positive int, got {groups!r}")
        n, c = x.shape[:2]
        o, cg = w.shape[:2]
        if c != cg * groups or o % groups:
            raise ValueError(
                f"conv2d: input {x.shape} and weight {w.shape} do not fit with groups={groups} "
                f"(need C = {cg} x {groups} = {cg * groups} channels, got {c}; "
                f"and O = {o} divisible by {groups})"
            )
        if b is not None and b.shape != (o,):
            raise ValueError(f"conv2d: bias of shape {b.shape} for weight {w.shape}: need ({o},)")
        (oh, ow), rows, k = geo.out, n * geo.out[0] * geo.out[1], w[0].size
        cols = geo.windows(x).transpose(0, 2, 3, 1, 4, 5).reshape(rows, k * groups)  # a copy
        if groups == 1:
            out = cols @ w.reshape(o, k).T
        else:
            per = cols.reshape(rows, groups, k).transpose(1, 0, 2)  # (G, rows, C/G kh kw)
            out = np.matmul(per, w.reshape(groups, o // groups, k).transpose(0, 2, 1))
            out = out.transpose(1, 0, 2).reshape(rows, o)
        if b is not None:
            out = out + b if np.result_type(out, b) != out.dtype else _add_inplace(out, b)
        need = getattr(self, "needs_input_grad", (True, True))
        self.cols = cols if need[1] else None
        self.w, self.geo, self.groups, self.x_dtype = w, geo, groups, x.dtype
        return out.reshape(n, oh, ow, o).transpose(0, 3, 1, 2)

    def backward(self, grad):
        need, w, geo, groups = self.needs_input_grad, self.w, self.geo, self.groups
        n, o, oh, ow = grad.shape
        g = grad.transpose(0, 2, 3, 1).reshape(-1, o)  # (N OH OW, O) rows
        gx = gw = gb = None
        k = w[0].size
        if need[1]:
            if groups == 1:
                gw = (g.T @ self.cols).reshape(w.shape)
            else:
                per = self.cols.reshape(len(g), groups, k).transpose(1, 0, 2)
                gw = np.matmul(g.reshape(-1, groups, o // groups).transpose(1, 2, 0), per)
                gw = gw.reshape(w.shape)
        if len(need) == 3 and need[2]:
            gb = g.sum(axis=0)
        if need[0]:
            if groups == 1:
                dcols = g @ w.reshape(o, k)
            else:
                wg = w.reshape(groups, o // groups, k)
                dcols = np.matmul(g.reshape(-1, groups, o // groups).transpose(1, 0, 2), wg)
                dcols = dcols.transpose(1, 0, 2)
            kh, kw = geo.kernel
            dwin = dcols.reshape(n, oh, ow, geo.shape[1], kh, kw).transpose(0, 3, 1, 2, 4, 5)
            gx = geo.add_windows(dwin, np.result_type(self.x_dtype, grad.dtype))
        return (gx, gw) if len(need) == 2 else (gx, gw, gb)


def _add_inplace(out: np.ndarray, b: np.ndarray) -> np.ndarray:
    out += b
    return out


def _check_pool_padding(op: str, geo: _Geometry) -> None:
    (kh, kw), (ph, pw) = geo.kernel, geo.padding
    if 2 * ph > kh or 2 * pw > kw:
        raise ValueError(
            f"{op}: padding {geo.padding} must be at most half the kernel {geo.kernel} "
            f"(input {geo.shape})"
        )


class MaxPool2d(Function):
    """Maximum over each kernel window of x (N, C, H, W) -> (N, C, OH, OW).

    ``stride`` defaults to the kernel size; padding counts as -inf. The gradient goes to the
    first maximum of each window (as PyTorch does); a value that is the maximum of several
    overlapping windows gets the sum of their gradients.

    Allocates: forward, the padded input (only with padding), the windows as rows
    (N, C, OH, OW, kh kw), the index of each maximum and the output; backward, the window
    gradients (that same size) and the padded input gradient.
    """

    name = "max_pool2d"

    def forward(self, x, *, kernel_size, stride=None, padding=0, dilation=1):
        geo = _Geometry("max_pool2d", x.shape, kernel_size, stride, padding, dilation)
        _check_pool_padding("max_pool2d", geo)
        low = -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min
        win = geo.windows(x, low)
        flat = win.reshape(*win.shape[:4], win.shape[4] * win.shape[5])  # a copy
        self.index = flat.argmax(axis=-1)[..., None]
        self.geo, self.dtype = geo, x.dtype
        return np.take_along_axis(flat, self.index, axis=-1)[..., 0]

    def backward(self, grad):
        geo = self.geo
        dwin = np.zeros((*grad.shape, geo.kernel[0] * geo.kernel[1]), dtype=grad.dtype)
        np.put_along_axis(dwin, self.index, grad[..., None], axis=-1)
        return geo.add_windows(dwin.reshape(*grad.shape, *geo.kernel), grad.dtype)


class AvgPool2d(Function):
    """Mean over each kernel window of x (N, C, H, W) -> (N, C, OH, OW).

    ``stride`` defaults to the kernel size; padding counts as zeros in the mean (PyTorch's
    ``count_include_pad=True``), so every window divides by kh kw.

    Allocates: forward, the padded input (only with padding) and the output; backward,
    the padded input gradient (the window gradients are a broadcast view).
    """

    name = "avg_pool2d"

    def forward(self, x, *, kernel_size, stride=None, padding=0):
        geo = _Geometry("avg_pool2d", x.shape, kernel_size, stride, padding, 1)
        _check_pool_padding("avg_pool2d", geo)
        self.geo, self.dtype = geo, x.dtype
        return geo.windows(x).mean(axis=(4, 5))

    def backward(self, grad):
        geo = self.geo
        kh, kw = geo.kernel
        share = grad * grad.dtype.type(1.0 / (kh * kw))
        dwin = np.broadcast_to(share[..., None, None], (*grad.shape, kh, kw))
        return geo.add_windows(dwin, grad.dtype)

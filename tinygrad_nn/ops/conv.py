"""Convolution and pooling on NCHW arrays: sliding windows, then one matrix product.

The windows come from :mod:`tinygrad_nn.ops.windows` (``sliding_window_view`` of the input
seen channels last, no copy); conv2d copies them once into im2col rows and multiplies,
the pools reduce over them. Output size per spatial axis:
``OH = (H + 2 padding - dilation (k - 1) - 1) // stride + 1``.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..autograd import Function
from .windows import Geometry, geometry

__all__ = ["AvgPool2d", "Conv2d", "MaxPool2d"]


def _im2col(win: np.ndarray, groups: int, ones: bool = False) -> np.ndarray:
    """Windows (N, OH, OW, C, kh, kw) copied into rows (N OH OW, C kh kw), the columns of
    each row ordered (group, p, q, channel in group): one copy moving runs of channels.
    ``ones`` appends a column of ones (a bias folded into the matrix product)."""
    n, oh, ow, c, kh, kw = win.shape
    per = win.reshape(n, oh, ow, groups, c // groups, kh, kw).transpose(0, 1, 2, 3, 5, 6, 4)
    k = c * kh * kw
    if not ones:
        return per.reshape(n * oh * ow, k)
    cols = np.empty((n * oh * ow, k + 1), dtype=win.dtype)
    cols[:, k] = 1
    body = cols[:, :k]
    body.shape = per.shape  # a view (setting .shape never copies)
    body[...] = per
    return cols


def _times(cols: np.ndarray, wk: np.ndarray) -> np.ndarray:
    """Rows (R, G K) times the per-group matrices wk (G, M, K): (R, G M)."""
    groups, m, k = wk.shape
    if groups == 1:
        return cols @ wk[0].T
    per = cols.reshape(len(cols), groups, k).transpose(1, 0, 2)  # (G, R, K)
    return np.matmul(per, wk.transpose(0, 2, 1)).transpose(1, 0, 2).reshape(len(cols), groups * m)


class Conv2d(Function):
    """Cross-correlation of x (N, C, H, W) with w (O, C / G, kh, kw), plus b (O,); G groups.

    Rule: dW = dY^T cols, db = sum of dY, dx = spread-out dY correlated with the flipped w.

    out[n, o, i, j] = b[o] + sum_{c, p, q} w[o, c, p, q] x_pad[n, g(o) C/G + c,
    i s_h + p d_h, j s_w + q d_w], output (N, O, OH, OW). im2col: the windows are copied
    once into rows ``cols`` (N OH OW, C kh kw) and multiplied by w as a (C kh kw, O)
    matrix (per group). dW = dY^T cols. dx is itself a convolution: the output gradient,
    spread out by the stride and padded by the kernel's extent, correlated with the
    flipped kernel (dx_pad[u] = sum_p dY_spread[u - p d] w[p]), again as rows times a
    matrix, so no scatter of the windows back onto the input is needed.

    A bias is folded into the product as one more column of w against a column of ones in
    ``cols`` (so dW and db come from one product too), unless groups > 1 or the dtypes
    differ.

    Allocates: forward, the padded input (only when ``padding`` > 0), ``cols`` (kept for
    dW; not kept when w and b need no gradient), w reordered and the output; backward, dW
    and db (one product), and for dx the spread-out gradient (N, H + d_h (kh - 1),
    W + d_w (kw - 1), O) when padding <= the kernel's extent - 1 (else padded by it too),
    its rows (N H W, O kh kw) and dx (N, C, H, W).
    """

    def forward(self, x, w, b=None, *, stride=1, padding=0, dilation=1, groups=1):
        if w.ndim != 4:
            raise ValueError(
                f"conv2d: expects a weight (O, C / groups, kh, kw), got shape {w.shape} "
                f"for input {x.shape}"
            )
        geo = geometry("conv2d", x.shape, w.shape[2:], stride, padding, dilation)
        if not isinstance(groups, (int, np.integer)) or isinstance(groups, bool) or groups < 1:
            raise ValueError(f"conv2d: groups must be a positive int, got {groups!r}")
        n, c = x.shape[:2]
        o, cg, kh, kw = w.shape
        if c != cg * groups or o % groups:
            raise ValueError(
                f"conv2d: input {x.shape} and weight {w.shape} do not fit with groups={groups} "
                f"(need C = {cg} x {groups} = {cg * groups} channels, got {c}; "
                f"and O = {o} divisible by {groups})"
            )
        if b is not None and b.shape != (o,):
            raise ValueError(f"conv2d: bias of shape {b.shape} for weight {w.shape}: need ({o},)")
        # the bias as one more column of w against a column of ones in cols: no extra pass
        fold = b is not None and groups == 1 and x.dtype == w.dtype == b.dtype
        cols = _im2col(geo.windows(x), groups, ones=fold)
        # w as (G, O/G, kh kw C/G): the column order of cols
        wk = w.reshape(groups, o // groups, cg, kh, kw).transpose(0, 1, 3, 4, 2)
        wk = wk.reshape(groups, o // groups, cg * kh * kw)
        if fold:
            wk = np.concatenate([wk, b.reshape(1, o, 1)], axis=2)
        out = _times(cols, wk)
        if b is not None and not fold:
            out = out + b if np.result_type(out, b) != out.dtype else _add_inplace(out, b)
        need = getattr(self, "needs_input_grad", (True, True, True))
        self.cols = cols if need[1] or (fold and need[2]) else None
        self.w, self.geo, self.groups, self.x_dtype, self.fold = w, geo, groups, x.dtype, fold
        return out.reshape(n, *geo.out, o).transpose(0, 3, 1, 2)

    def backward(self, grad):
        need, w, groups = self.needs_input_grad, self.w, self.groups
        o, cg, kh, kw = w.shape
        g = grad.transpose(0, 2, 3, 1).reshape(-1, o)  # (N OH OW, O): a view if channels last
        gx = gw = gb = None
        k = cg * kh * kw
        if self.fold and (need[1] or need[2]):
            gwb = g.T @ self.cols  # (O, k + 1): dW and, in the column of ones, db
            gw = gwb[:, :k].reshape(o, kh, kw, cg).transpose(0, 3, 1, 2) if need[1] else None
            gb = gwb[:, k] if need[2] else None
        elif need[1]:
            if groups == 1:
                gw = g.T @ self.cols
            else:
                per = self.cols.reshape(len(g), groups, k).transpose(1, 0, 2)
                gw = np.matmul(g.reshape(-1, groups, o // groups).transpose(1, 2, 0), per)
            gw = gw.reshape(o, kh, kw, cg).transpose(0, 3, 1, 2)
        if len(need) == 3 and need[2] and not self.fold:
            gb = np.ones(len(g), dtype=g.dtype) @ g  # column sums as one matrix-vector product
        if need[0]:
            gx = self._input_grad(grad, np.result_type(self.x_dtype, grad.dtype))
        return (gx, gw) if len(need) == 2 else (gx, gw, gb)

    def _input_grad(self, grad: np.ndarray, dtype) -> np.ndarray:
        w, geo, groups = self.w, self.geo, self.groups
        n, c, h, wd = geo.shape
        o, cg, kh, kw = w.shape
        (oh, ow), (sh, sw), (ph, pw), (dh, dw) = geo.out, geo.stride, geo.padding, geo.dilation
        eh, ew = dh * (kh - 1), dw * (kw - 1)  # the kernel's extent minus one
        # dY spread out by the stride, in the padded frame shifted by (eh, ew); of it only
        # rows ph .. ph + h + eh (and columns alike) are read, so only they are made when dY
        # lies inside them (padding <= extent - 1, the usual case)
        top, left = eh - ph, ew - pw
        if top < 0 or left < 0:
            full = np.zeros((n, geo.padded[0] + eh, geo.padded[1] + ew, o), dtype=grad.dtype)
            spread = full[:, ph : ph + h + eh, pw : pw + wd + ew]
            top, left, target = eh, ew, full
        else:
            spread = target = np.zeros((n, h + eh, wd + ew, o), dtype=grad.dtype)
        target[:, top : top + sh * (oh - 1) + 1 : sh, left : left + sw * (ow - 1) + 1 : sw] = (
            grad.transpose(0, 2, 3, 1)
        )
        win = sliding_window_view(spread, (eh + 1, ew + 1), axis=(1, 2))[..., ::dh, ::dw]
        # flipped kernel per group, (G, C/G, kh kw O/G) in the column order of the rows
        flipped = w.reshape(groups, o // groups, cg, kh, kw)[:, :, :, ::-1, ::-1]
        flipped = flipped.transpose(0, 2, 3, 4, 1).reshape(groups, cg, -1)
        gx = _times(_im2col(win, groups), flipped).reshape(n, h, wd, c)
        return gx.transpose(0, 3, 1, 2).astype(dtype, copy=False)


def _add_inplace(out: np.ndarray, b: np.ndarray) -> np.ndarray:
    out += b
    return out


def _check_pool_padding(op: str, geo: Geometry) -> None:
    (kh, kw), (ph, pw) = geo.kernel, geo.padding
    if 2 * ph > kh or 2 * pw > kw:
        raise ValueError(
            f"{op}: padding {geo.padding} must be at most half the kernel {geo.kernel} "
            f"(input {geo.shape})"
        )


class MaxPool2d(Function):
    """Maximum over each kernel window of x (N, C, H, W) -> (N, C, OH, OW).

    Rule: dx = dy at each window's first maximum, 0 elsewhere (summed where windows overlap).

    ``stride`` defaults to the kernel size; padding counts as -inf. The gradient goes to the
    first maximum of each window in row-major kernel order (as PyTorch's), so ties, common
    on images with few grey levels, get one gradient, not several; a value that is the
    maximum of several overlapping windows gets the sum of their gradients.

    Allocates: forward, the padded input (only with padding) and the output (a running
    maximum over the kernel positions); backward, per kernel position a mask and its
    gradient (output-sized), and the padded input gradient.
    """

    name = "max_pool2d"

    def forward(self, x, *, kernel_size, stride=None, padding=0, dilation=1):
        geo = geometry("max_pool2d", x.shape, kernel_size, stride, padding, dilation)
        _check_pool_padding("max_pool2d", geo)
        low = -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min
        win = geo.windows(x, low)
        kh, kw = geo.kernel
        out = win[..., 0, 0].copy()
        for k in range(1, kh * kw):
            np.maximum(out, win[..., k // kw, k % kw], out=out)
        self.win, self.out, self.geo = win, out, geo
        return out.transpose(0, 3, 1, 2)

    def backward(self, grad):
        win, out, geo = self.win, self.out, self.geo
        kh, kw = geo.kernel
        g = grad.transpose(0, 2, 3, 1)
        taken = np.zeros(out.shape, dtype=bool)  # windows whose first maximum was found
        parts = []
        for k in range(kh * kw):
            first = win[..., k // kw, k % kw] == out
            first &= ~taken
            taken |= first
            parts.append(g * first)
        return geo.add_windows(lambda p, q: parts[p * kw + q], grad.dtype)


class AvgPool2d(Function):
    """Mean over each kernel window of x (N, C, H, W) -> (N, C, OH, OW).

    Rule: dx = dy / (kh kw) at every element of the window (summed where windows overlap).

    ``stride`` defaults to the kernel size; padding counts as zeros in the mean (PyTorch's
    ``count_include_pad=True``), so every window divides by kh kw.

    Allocates: forward, the padded input (only with padding) and the output; backward,
    the output gradient divided by kh kw and the padded input gradient.
    """

    name = "avg_pool2d"

    def forward(self, x, *, kernel_size, stride=None, padding=0):
        geo = geometry("avg_pool2d", x.shape, kernel_size, stride, padding, 1)
        _check_pool_padding("avg_pool2d", geo)
        self.geo = geo
        return geo.windows(x).mean(axis=(4, 5)).transpose(0, 3, 1, 2)

    def backward(self, grad):
        geo = self.geo
        kh, kw = geo.kernel
        share = grad.transpose(0, 2, 3, 1) * grad.dtype.type(1.0 / (kh * kw))
        return geo.add_windows(lambda p, q: share, grad.dtype)

"""Sliding windows over NCHW images, the shared machinery of convolution and pooling.

``numpy.lib.stride_tricks.sliding_window_view`` gives every kernel window of the (padded)
input as a view without copying; stride and dilation are slices of that view. The gradient
of "take the windows" is "add each window's gradient back where it came from", one strided
add per kernel position (:meth:`Geometry.add_windows`).
"""

from __future__ import annotations

import functools

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = ["Geometry", "geometry", "pair"]


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


def _hashable(value):
    return tuple(value) if isinstance(value, list) else value


def geometry(op, shape, kernel, stride, padding, dilation) -> Geometry:
    """The (cached) :class:`Geometry` of these settings: a training loop asks for the same
    few shapes again and again."""
    key = tuple(_hashable(v) for v in (op, shape, kernel, stride, padding, dilation))
    try:
        return _cached(*key)
    except TypeError:  # unhashable settings (e.g. numpy arrays): build it, uncached
        return Geometry(op, shape, kernel, stride, padding, dilation)


class Geometry:
    """Kernel, stride, padding and dilation of a windowed op on an input of ``shape``.

    Internally channels come last: windows are cut from x seen as (N, H, W, C), so the
    copies below move runs of C contiguous values (the outputs are (N, OH, OW, C) arrays
    handed out as transposed (N, C, OH, OW) views, so the next op finds channels last too).
    """

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
        (sh, sw), (hp, wp) = self.stride, self.padded
        self.out = ((hp - self.reach[0]) // sh + 1, (wp - self.reach[1]) // sw + 1)

    def windows(self, x: np.ndarray, fill: float = 0.0) -> np.ndarray:
        """The (N, OH, OW, C, kh, kw) windows of ``x``: a view; only padding copies ``x``."""
        (ph, pw), (sh, sw), (dh, dw) = self.padding, self.stride, self.dilation
        xl = x.transpose(0, 2, 3, 1)
        if ph or pw:
            n, c, h, w = x.shape
            shape = (n, *self.padded, c)
            xp = np.zeros(shape, x.dtype) if fill == 0 else np.full(shape, fill, x.dtype)
            xp[:, ph : ph + h, pw : pw + w] = xl
            xl = xp
        return sliding_window_view(xl, self.reach, axis=(1, 2))[:, ::sh, ::sw, :, ::dh, ::dw]

    def add_windows(self, part, dtype) -> np.ndarray:
        """The adjoint of :meth:`windows`: ``part(p, q)``, the (N, OH, OW, C) gradient of
        the window elements at kernel position (p, q), summed onto an input-shaped array
        with one strided add per kernel position (written in place, without the sums, when
        the windows tile the input exactly)."""
        n, c, h, w = self.shape
        (kh, kw), (ph, pw), (sh, sw), (dh, dw) = (
            self.kernel,
            self.padding,
            self.stride,
            self.dilation,
        )
        oh, ow = self.out
        if (sh, sw, dh, dw, ph, pw) == (kh, kw, 1, 1, 0, 0) and (oh * kh, ow * kw) == (h, w):
            tiles = np.empty((n, oh, kh, ow, kw, c), dtype=dtype)
            for p in range(kh):
                for q in range(kw):
                    tiles[:, :, p, :, q] = part(p, q)
            return tiles.reshape(n, h, w, c).transpose(0, 3, 1, 2)
        dxp = np.zeros((n, *self.padded, c), dtype=dtype)
        for p in range(kh):
            rows = slice(p * dh, p * dh + sh * (oh - 1) + 1, sh)
            for q in range(kw):
                dxp[:, rows, q * dw : q * dw + sw * (ow - 1) + 1 : sw] += part(p, q)
        if ph or pw:
            dxp = dxp[:, ph : ph + h, pw : pw + w]
        return dxp.transpose(0, 3, 1, 2)


_cached = functools.lru_cache(maxsize=256)(Geometry)

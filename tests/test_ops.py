"""Every op: forward against numpy, gradient against float64 central differences.

One table, one line per case: ``case(id, fn, *inputs, ref=...)``. ``fn`` takes Tensors;
``ref`` takes the same inputs as numpy arrays (defaults to ``fn`` itself, which works for
operators and for methods numpy arrays share, like ``.sum(axis=...)`` or ``.reshape``).
Inputs are generators that draw a float64 array, chosen to keep the numerical gradient
well-conditioned: divisors and log inputs away from 0, relu inputs away from its kink,
max inputs without near-ties.
"""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from op_inputs import AWAY, DISTINCT, P, U, check_forward, check_gradient, draw

from tinygrad_nn import Tensor, gradcheck, ops, softmax_cross_entropy
from tinygrad_nn.nn import Linear, l2_penalty

# ----------------------------------------------------------------------------- references

_linear_module = Linear(6, 2, rng=0, dtype=np.float64)  # nn.Linear's fused x @ W + b path


def np_sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def np_softmax(x, axis=-1):
    e = np.exp(x)
    return e / e.sum(axis=axis, keepdims=True)


def np_log_softmax(x, axis=-1):
    return np.log(np_softmax(x, axis))


def np_cross_entropy(logits, targets):
    rows = np.arange(len(targets))
    return -np.mean(np_log_softmax(logits)[rows, targets])


# constants used as the non-Tensor side of an operator
ARR = np.array([[0.5, -1.5, 2.0], [1.0, -0.75, 1.25]])
ROW = np.array([0.8, -1.2, 1.6])
TARGETS = np.array([2, 0, 3, 3])


def case(id, fn, *inputs, ref=None, marks=()):
    return pytest.param(fn, fn if ref is None else ref, inputs, id=id, marks=marks)


# numpy's own warning for a mean over no elements (the result is NaN, as numpy gives)
EMPTY_MEAN = pytest.mark.filterwarnings("ignore:Mean of empty slice", "ignore:invalid value")


CASES = [
    # ------------------------------------------------------------------ add / sub
    case("add", lambda a, b: a + b, U(2, 3), U(2, 3)),
    case("add-method", lambda a, b: a.add(b), U(2, 3), U(2, 3), ref=np.add),
    case("add-(3,)+(2,3)", lambda a, b: a + b, U(3), U(2, 3)),
    case("add-(2,3)+(3,)", lambda a, b: a + b, U(2, 3), U(3)),
    case("add-(2,1)+(1,4)", lambda a, b: a + b, U(2, 1), U(1, 4)),
    case("add-(4,1,3)+(2,1)", lambda a, b: a + b, U(4, 1, 3), U(2, 1)),
    case("add-0d+(2,3)", lambda a, b: a + b, U(), U(2, 3)),
    case("add-(2,3)+0d", lambda a, b: a + b, U(2, 3), U()),
    case("add-same-tensor", lambda a: a + a, U(2, 3)),
    case("add-number-right", lambda a: a + 2, U(2, 3)),
    case("add-number-left", lambda a: 2.5 + a, U(2, 3)),
    case("add-array-left", lambda a: ARR + a, U(2, 3)),
    case("add-array-right", lambda a: a + ARR, U(2, 3)),
    case("add-row-array-left", lambda a: ROW + a, U(2, 3)),
    case("add-np-scalar-left", lambda a: np.float64(1.5) + a, U(2, 3)),
    case("add-0d-array-left", lambda a: np.array(1.5) + a, U(2, 3)),
    case("sub", lambda a, b: a - b, U(2, 3), U(2, 3)),
    case("sub-method", lambda a, b: a.sub(b), U(2, 3), U(2, 3), ref=np.subtract),
    case("sub-(3,)-(2,3)", lambda a, b: a - b, U(3), U(2, 3)),
    case("sub-(2,3)-(3,)", lambda a, b: a - b, U(2, 3), U(3)),
    case("sub-(2,1)-(1,4)", lambda a, b: a - b, U(2, 1), U(1, 4)),
    case("sub-0d-(2,3)", lambda a, b: a - b, U(), U(2, 3)),
    case("sub-number-right", lambda a: a - 1.5, U(2, 3)),
    case("sub-number-left", lambda a: 1.5 - a, U(2, 3)),
    case("sub-array-left", lambda a: ARR - a, U(2, 3)),
    case("sub-array-right", lambda a: a - ARR, U(2, 3)),
    case("neg", lambda a: -a, U(2, 3)),
    case("neg-method", lambda a: a.neg(), U(2, 3), ref=np.negative),
    # ------------------------------------------------------------------ mul / div
    case("mul", lambda a, b: a * b, U(2, 3), U(2, 3)),
    case("mul-method", lambda a, b: a.mul(b), U(2, 3), U(2, 3), ref=np.multiply),
    case("mul-(3,)*(2,3)", lambda a, b: a * b, U(3), U(2, 3)),
    case("mul-(2,3)*(3,)", lambda a, b: a * b, U(2, 3), U(3)),
    case("mul-(2,1)*(1,4)", lambda a, b: a * b, U(2, 1), U(1, 4)),
    case("mul-0d*(2,3)", lambda a, b: a * b, U(), U(2, 3)),
    case("mul-(2,3)*0d", lambda a, b: a * b, U(2, 3), U()),
    case("mul-0d*0d", lambda a, b: a * b, U(), U()),
    case("mul-same-tensor", lambda a: a * a, U(2, 3)),
    case("mul-number-left", lambda a: 2 * a, U(2, 3)),
    case("mul-number-right", lambda a: a * -3.5, U(2, 3)),
    case("mul-array-left", lambda a: ARR * a, U(2, 3)),
    case("mul-array-right", lambda a: a * ROW, U(2, 3)),
    case("mul-np-scalar-left", lambda a: np.float64(-2.0) * a, U(2, 3)),
    case("div", lambda a, b: a / b, U(2, 3), P(2, 3)),
    case("div-method", lambda a, b: a.div(b), U(2, 3), P(2, 3), ref=np.divide),
    case("div-(3,)/(2,3)", lambda a, b: a / b, U(3), P(2, 3)),
    case("div-(2,3)/(3,)", lambda a, b: a / b, U(2, 3), P(3)),
    case("div-(2,1)/(1,4)", lambda a, b: a / b, U(2, 1), P(1, 4)),
    case("div-0d/(2,3)", lambda a, b: a / b, U(), P(2, 3)),
    case("div-(2,3)/0d", lambda a, b: a / b, U(2, 3), P()),
    case("div-number-right", lambda a: a / 4, U(2, 3)),
    case("div-number-left", lambda a: 4 / a, P(2, 3)),
    case("div-array-left", lambda a: ARR / a, P(2, 3)),
    case("div-array-right", lambda a: a / ARR, U(2, 3)),
    # ------------------------------------------------------------------ powers, exp, log
    case("pow-2", lambda a: a**2, U(2, 3)),
    case("pow-3", lambda a: a**3, U(2, 3)),
    case("pow-0", lambda a: a**0, U(2, 3)),
    case("pow-1", lambda a: a**1, U(2, 3)),
    case("pow-0.5", lambda a: a**0.5, P(2, 3)),
    case("pow--1", lambda a: a**-1, P(2, 3)),
    case("pow--2.5", lambda a: a**-2.5, P(2, 3)),
    case("pow-method", lambda a: a.pow(1.5), P(2, 3), ref=lambda a: a**1.5),
    case("rpow-2", lambda a: 2**a, U(2, 3)),
    case("rpow-0.5", lambda a: 0.5**a, U(2, 3)),
    case("rpow-e", lambda a: np.e**a, U(2, 3), ref=np.exp),
    case("exp", lambda a: a.exp(), U(2, 3), ref=np.exp),
    case("log", lambda a: a.log(), P(2, 3), ref=np.log),
    # ------------------------------------------------------------------ reductions
    case("sum-all", lambda a: a.sum(), U(2, 3)),
    case("sum-axis0", lambda a: a.sum(axis=0), U(2, 3)),
    case("sum-axis-1", lambda a: a.sum(axis=-1), U(2, 3, 4)),
    case("sum-axis1-keepdims", lambda a: a.sum(axis=1, keepdims=True), U(2, 3, 4)),
    case("sum-axes(0,2)", lambda a: a.sum(axis=(0, 2)), U(2, 3, 4)),
    case("sum-all-keepdims", lambda a: a.sum(keepdims=True), U(2, 3)),
    case("sum-0d", lambda a: a.sum(), U()),
    case("mean-all", lambda a: a.mean(), U(2, 3)),
    case("mean-axis0", lambda a: a.mean(axis=0), U(2, 3)),
    case("mean-axis-1-keepdims", lambda a: a.mean(axis=-1, keepdims=True), U(2, 3, 4)),
    case("mean-axes(0,2)", lambda a: a.mean(axis=(0, 2)), U(2, 3, 4)),
    case("max-all", lambda a: a.max(), DISTINCT(2, 3)),
    case("max-axis0", lambda a: a.max(axis=0), DISTINCT(2, 3)),
    case("max-axis1-keepdims", lambda a: a.max(axis=1, keepdims=True), DISTINCT(2, 3, 4)),
    case("max-axes(0,2)", lambda a: a.max(axis=(0, 2)), DISTINCT(2, 3, 4)),
    case("max-axis-1", lambda a: a.max(axis=-1), DISTINCT(4, 5)),
    # ------------------------------------------------------------------ shape
    case("reshape-args", lambda a: a.reshape(3, 2), U(2, 3)),
    case("reshape-tuple", lambda a: a.reshape((6,)), U(2, 3)),
    case("reshape-minus-one", lambda a: a.reshape(-1, 2), U(2, 3, 2)),
    case("reshape-to-0d", lambda a: a.reshape(()), U(1, 1)),
    case("transpose-default", lambda a: a.transpose(), U(2, 3, 4)),
    case("transpose-axes", lambda a: a.transpose((1, 0, 2)), U(2, 3, 4)),
    case("transpose-negative-axes", lambda a: a.transpose((-1, 0, 1)), U(2, 3, 4)),
    case("T", lambda a: a.T, U(2, 3)),
    case("getitem-int", lambda a: a[1], U(3, 4)),
    case("getitem-negative-int", lambda a: a[-1, 2], U(3, 4)),
    case("getitem-slice", lambda a: a[:, 1:], U(3, 4)),
    case("getitem-step", lambda a: a[::2, ::-1], U(3, 4)),
    case("getitem-none-ellipsis", lambda a: a[None, ..., 1], U(2, 3, 4)),
    case("getitem-int-array", lambda a: a[[2, 0]], U(3, 4)),
    case("getitem-repeated", lambda a: a[[0, 0, 1]], U(3, 4)),
    case("getitem-repeated-ndarray", lambda a: a[np.array([2, 0, 2, 2])], U(3)),
    case("getitem-array-and-slice", lambda a: a[np.array([2, 0, 2]), 1:], U(3, 4)),
    case("getitem-pairs", lambda a: a[[0, 1, 1, 0], [2, 0, 0, 2]], U(3, 4)),
    case("getitem-slice-and-array", lambda a: a[:, [1, 1, 3]], U(3, 4)),
    # ------------------------------------------------------------------ matmul
    case("matmul-2d", lambda a, b: a @ b, U(2, 3), U(3, 4)),
    case("matmul-method", lambda a, b: a.matmul(b), U(2, 3), U(3, 4), ref=np.matmul),
    case("matmul-batched", lambda a, b: a @ b, U(2, 3, 4), U(2, 4, 5)),
    case("matmul-batched-broadcast", lambda a, b: a @ b, U(2, 1, 3, 4), U(5, 4, 2)),
    case("matmul-batched@2d", lambda a, b: a @ b, U(2, 3, 4), U(4, 2)),
    case("matmul-2d@batched", lambda a, b: a @ b, U(3, 4), U(2, 4, 2)),
    case("matmul-1d@2d", lambda a, b: a @ b, U(3), U(3, 4)),
    case("matmul-2d@1d", lambda a, b: a @ b, U(2, 3), U(3)),
    case("matmul-1d@batched", lambda a, b: a @ b, U(3), U(2, 3, 4)),
    case("matmul-batched@1d", lambda a, b: a @ b, U(2, 3, 4), U(4)),
    case("matmul-1d@1d", lambda a, b: a @ b, U(3), U(3)),
    case("matmul-array-left", lambda a: ARR @ a, U(3, 4)),
    case("matmul-array-right", lambda a: a @ ARR.T, U(4, 3)),
    case("matmul-same-tensor", lambda a: a @ a, U(3, 3)),
    # ------------------------------------------------------------------ nonlinear
    case("sigmoid", lambda a: a.sigmoid(), U(2, 3, lo=-5, hi=5), ref=np_sigmoid),
    case("tanh", lambda a: a.tanh(), U(2, 3), ref=np.tanh),
    case("relu", lambda a: a.relu(), AWAY(3, 4), ref=lambda a: np.maximum(a, 0)),
    case("log_softmax", lambda a: a.log_softmax(), U(3, 4), ref=np_log_softmax),
    case(
        "log_softmax-axis0",
        lambda a: a.log_softmax(axis=0),
        U(3, 4),
        ref=lambda a: np_log_softmax(a, 0),
    ),
    case(
        "log_softmax-3d-axis1",
        lambda a: a.log_softmax(axis=1),
        U(2, 3, 4),
        ref=lambda a: np_log_softmax(a, 1),
    ),
    case("log_softmax-1d", lambda a: a.log_softmax(), U(5), ref=np_log_softmax),
    case("softmax", lambda a: a.softmax(), U(3, 4), ref=np_softmax),
    case("softmax-axis0", lambda a: a.softmax(axis=0), U(3, 4), ref=lambda a: np_softmax(a, 0)),
    case(
        "softmax-3d-axis-2",
        lambda a: a.softmax(axis=-2),
        U(2, 3, 4),
        ref=lambda a: np_softmax(a, -2),
    ),
    case(
        "softmax_cross_entropy",
        lambda a: a.softmax_cross_entropy(TARGETS),
        U(4, 5),
        ref=lambda a: np_cross_entropy(a, TARGETS),
    ),
    case(
        "softmax_cross_entropy-function-list",
        lambda a: softmax_cross_entropy(a, TARGETS.tolist()),
        U(4, 5, lo=-4, hi=4),
        ref=lambda a: np_cross_entropy(a, TARGETS),
    ),
    case(
        "softmax_cross_entropy-tensor-targets",
        lambda a: softmax_cross_entropy(a, Tensor(TARGETS)),
        U(4, 5),
        ref=lambda a: np_cross_entropy(a, TARGETS),
    ),
    case(
        "linear",
        lambda x, w, b: ops.Linear.apply(x, w, b),
        U(5, 3),
        U(3, 4),
        U(4),
        ref=lambda x, w, b: x @ w + b,
    ),
    case(
        "linear-via-module",
        lambda x: _linear_module(x),
        U(3, 6),
        ref=lambda x: x @ _linear_module.weight.data + _linear_module.bias.data,
    ),
    case(
        "l2_penalty-two-weights",
        lambda w, v: l2_penalty([w, v], 0.6, 7),
        U(3, 4),
        U(4, 2),
        ref=lambda w, v: 0.6 / 14 * ((w * w).sum() + (v * v).sum()),
    ),
    case(
        "l2_penalty-one-weight",
        lambda w: l2_penalty([w], 2.0, 1),
        U(5, 3),
        ref=lambda w: (w * w).sum(),
    ),
    # ------------------------------------------------------------------ 0-d inputs
    case("0d-add-0d", lambda a, b: a + b, U(), U()),
    case("0d-sub-0d", lambda a, b: a - b, U(), U()),
    case("0d-sub-(2,3)-both-ways", lambda a, b: (a - b) + (b - a) * 2, U(), U(2, 3)),
    case("0d-div-0d", lambda a, b: a / b, U(), P()),
    case("0d-div-(3,)-both-ways", lambda a, b: a / b + b / a, P(), P(3)),
    case("0d-neg", lambda a: -a, U()),
    case("0d-add-number", lambda a: 1.5 + a - 2, U()),
    case("0d-mul-array", lambda a: a * ARR + ROW * a, U()),
    case("0d-pow-2", lambda a: a**2, U()),
    case("0d-pow-0.5", lambda a: a**0.5, P()),
    case("0d-rpow", lambda a: 3**a, U()),
    case("0d-exp", lambda a: a.exp(), U(), ref=np.exp),
    case("0d-log", lambda a: a.log(), P(), ref=np.log),
    case("0d-sigmoid", lambda a: a.sigmoid(), U(), ref=np_sigmoid),
    case("0d-tanh", lambda a: a.tanh(), U(), ref=np.tanh),
    case("0d-relu", lambda a: a.relu(), AWAY(), ref=lambda a: np.maximum(a, 0)),
    case("0d-sum-keepdims", lambda a: a.sum(keepdims=True), U()),
    case("0d-sum-axis-()", lambda a: a.sum(axis=()), U()),
    case("0d-mean", lambda a: a.mean(), U()),
    case("0d-mean-keepdims", lambda a: a.mean(keepdims=True), U()),
    case("0d-max", lambda a: a.max(), U()),
    case("0d-max-keepdims", lambda a: a.max(keepdims=True), U()),
    case("0d-reshape-(1,1)", lambda a: a.reshape(1, 1), U()),
    case("0d-reshape-(-1,)", lambda a: a.reshape(-1), U()),
    case("0d-transpose", lambda a: a.transpose(), U()),
    case("0d-T", lambda a: a.T, U()),
    case("0d-getitem-()", lambda a: a[()], U()),
    case("0d-getitem-None", lambda a: a[None], U()),
    case("0d-getitem-ellipsis", lambda a: a[...], U()),
    case("0d-getitem-true-mask", lambda a: a[np.array(True)], U()),
    case("0d-matmul-via-1d", lambda a, b: a.reshape(1) @ b.reshape(1), U(), U()),
    case("0d-l2_penalty", lambda w: l2_penalty([w], 0.5, 1), U(), ref=lambda w: 0.25 * w * w),
    case("0d-softmax-of-one", lambda a: a.reshape(1).softmax(), U(), ref=lambda a: np.ones(1)),
    # ------------------------------------------------------------------ empty (0, k) inputs
    case("empty-add", lambda a, b: a + b, U(0, 3), U(0, 3)),
    case("empty-add-(3,)-both-ways", lambda a, b: (a + b) + (b + a), U(0, 3), U(3)),
    case("empty-sub-(1,3)-both-ways", lambda a, b: (a - b) - (b - a), U(0, 3), U(1, 3)),
    case("empty-mul-0d-both-ways", lambda a, b: a * b + b * a, U(0, 3), U()),
    case("empty-div-(3,)-both-ways", lambda a, b: a / b + b / (a + 3), P(0, 3), P(3)),
    case("empty-(2,1)+(0,)", lambda a, b: a + b, U(2, 1), U(0)),
    case("empty-(0,)*(2,1)", lambda a, b: a * b, U(0), U(2, 1)),
    case("empty-neg", lambda a: -a, U(0, 3)),
    case("empty-add-number", lambda a: 1 - a + 2.5, U(0, 3)),
    case("empty-mul-array", lambda a: a * ROW, U(0, 3)),
    case("empty-pow-3", lambda a: a**3, U(0, 3)),
    case("empty-pow-0.5", lambda a: a**0.5, P(0, 3)),
    case("empty-rpow", lambda a: 2**a, U(0, 3)),
    case("empty-exp", lambda a: a.exp(), U(0, 3), ref=np.exp),
    case("empty-log", lambda a: a.log(), P(0, 3), ref=np.log),
    case("empty-sigmoid", lambda a: a.sigmoid(), U(0, 3), ref=np_sigmoid),
    case("empty-tanh", lambda a: a.tanh(), U(0, 3), ref=np.tanh),
    case("empty-relu", lambda a: a.relu(), U(0, 3), ref=lambda a: np.maximum(a, 0)),
    case("empty-sum-all", lambda a: a.sum(), U(0, 3)),
    case("empty-sum-axis0", lambda a: a.sum(axis=0), U(0, 3)),
    case("empty-sum-axis1", lambda a: a.sum(axis=1), U(0, 3)),
    case("empty-sum-keepdims", lambda a: a.sum(axis=0, keepdims=True), U(0, 3)),
    case("empty-mean-all", lambda a: a.mean(), U(0, 3), marks=EMPTY_MEAN),
    case("empty-mean-axis0", lambda a: a.mean(axis=0), U(0, 3), marks=EMPTY_MEAN),
    case("empty-mean-axis1", lambda a: a.mean(axis=1), U(0, 3)),
    case("empty-mean-axis1-keepdims", lambda a: a.mean(axis=1, keepdims=True), U(0, 3)),
    case("empty-max-axis1", lambda a: a.max(axis=1), U(0, 3)),
    case("empty-max-axis-1-keepdims", lambda a: a.max(axis=-1, keepdims=True), U(0, 3)),
    case("empty-reshape-(3,0)", lambda a: a.reshape(3, 0), U(0, 3)),
    case("empty-reshape-(-1,)", lambda a: a.reshape(-1), U(0, 3)),
    case("empty-reshape-(-1,3)", lambda a: a.reshape(-1, 3), U(0, 3)),
    case("empty-transpose", lambda a: a.transpose(), U(0, 3)),
    case("empty-T", lambda a: a.T, U(0, 3)),
    case("empty-getitem-slice", lambda a: a[:, 1:], U(0, 3)),
    case("empty-getitem-column", lambda a: a[:, 1], U(0, 3)),
    case("empty-getitem-empty-list", lambda a: a[[]], U(3, 2)),
    case("empty-getitem-empty-int-array", lambda a: a[np.zeros(0, dtype=int)], U(0, 3)),
    case("empty-getitem-false-mask", lambda a: a[np.zeros(3, dtype=bool)], U(3, 2)),
    case("empty-getitem-empty-mask", lambda a: a[np.zeros(0, dtype=bool)], U(0, 3)),
    case("empty-matmul-(0,3)@(3,4)", lambda a, b: a @ b, U(0, 3), U(3, 4)),
    case("empty-matmul-(3,0)@(0,4)", lambda a, b: a @ b, U(3, 0), U(0, 4)),
    case("empty-matmul-(2,3)@(3,0)", lambda a, b: a @ b, U(2, 3), U(3, 0)),
    case("empty-matmul-1d@1d", lambda a, b: a @ b, U(0), U(0)),
    case("empty-matmul-1d@2d", lambda a, b: a @ b, U(0), U(0, 4)),
    case("empty-matmul-2d@1d", lambda a, b: a @ b, U(2, 0), U(0)),
    case("empty-matmul-batch@2d", lambda a, b: a @ b, U(0, 2, 3), U(3, 4)),
    case("empty-matmul-2d@batch", lambda a, b: a @ b, U(2, 3), U(0, 3, 4)),
    case("empty-softmax", lambda a: a.softmax(), U(0, 3), ref=np_softmax),
    case("empty-softmax-over-empty-axis", lambda a: a.softmax(), U(3, 0), ref=np_softmax),
    case("empty-softmax-axis0", lambda a: a.softmax(axis=0), U(0, 3), ref=lambda a: a),
    case("empty-log_softmax", lambda a: a.log_softmax(), U(0, 3), ref=np_log_softmax),
    case(
        "empty-log_softmax-over-empty-axis",
        lambda a: a.log_softmax(axis=1),
        U(3, 0),
        ref=lambda a: a,
    ),
    case(
        "empty-linear-rows",
        lambda x, w, b: ops.Linear.apply(x, w, b),
        U(0, 3),
        U(3, 4),
        U(4),
        ref=lambda x, w, b: x @ w + b,
    ),
    case(
        "empty-linear-features",
        lambda x, w, b: ops.Linear.apply(x, w, b),
        U(2, 0),
        U(0, 4),
        U(4),
        ref=lambda x, w, b: x @ w + b,
    ),
    case("empty-linear-no-bias", lambda x, w: ops.Linear.apply(x, w), U(0, 3), U(3, 2)),
    case(
        "empty-l2_penalty",
        lambda w, v: l2_penalty([w, v], 0.5, 2),
        U(0, 3),
        U(3, 2),
        ref=lambda w, v: 0.125 * ((w * w).sum() + (v * v).sum()),
    ),
    # ------------------------------------------------------------------ composites
    case(
        "mlp-layer",
        lambda x, w, b: (x @ w + b).sigmoid(),
        U(4, 3),
        U(3, 2),
        U(2),
        ref=lambda x, w, b: np_sigmoid(x @ w + b),
    ),
    case(
        "diamond",
        lambda a: (a * 2 + (a * 2).exp()) * a.tanh(),
        U(2, 3),
        ref=lambda a: (a * 2 + np.exp(a * 2)) * np.tanh(a),
    ),
]


@pytest.mark.parametrize(("fn", "ref", "inputs"), CASES)
def test_forward_matches_numpy(fn, ref, inputs):
    check_forward(fn, ref, inputs)


@pytest.mark.parametrize(("fn", "ref", "inputs"), CASES)
def test_gradient_matches_numerical(fn, ref, inputs):
    check_gradient(fn, inputs)


@pytest.mark.parametrize(("fn", "ref", "inputs"), CASES)
def test_float32_inputs_get_float32_gradients(fn, ref, inputs):
    arrays = draw(inputs)
    tensors = [Tensor(a.astype(np.float32), requires_grad=True) for a in arrays]
    out = fn(*tensors)
    expected = np.asarray(ref(*[a.astype(np.float32) for a in arrays]))
    assert out.shape == expected.shape
    np.testing.assert_allclose(out.data, expected, rtol=2e-5, atol=1e-5)
    out.backward(np.ones(out.shape, dtype=out.dtype))
    for t in tensors:
        assert t.grad.shape == t.shape
        assert t.grad.dtype == np.float32


# ----------------------------------------------------------------------------- clear errors

# What has no value on 0-d or empty inputs raises an error naming the op (and the shape).
ERRORS = [
    ("matmul-0d", lambda: Tensor(2.0) @ Tensor(np.ones(2)), ValueError, r"^matmul: .*scalars"),
    ("matmul-0d-right", lambda: Tensor(np.ones(2)) @ Tensor(2.0), ValueError, r"^matmul: "),
    ("softmax-0d", lambda: Tensor(2.0).softmax(), ValueError, r"^softmax: .*scalar"),
    ("log_softmax-0d", lambda: Tensor(2.0).log_softmax(), ValueError, r"^log_softmax: .*scalar"),
    (
        "cross-entropy-0d",
        lambda: Tensor(2.0).softmax_cross_entropy([0]),
        ValueError,
        r"^softmax_cross_entropy: logits must be 2-D .*\(\)",
    ),
    (
        "cross-entropy-no-rows",
        lambda: Tensor(np.zeros((0, 3))).softmax_cross_entropy([]),
        ValueError,
        r"^softmax_cross_entropy: .*no rows",
    ),
    (
        "cross-entropy-no-classes",
        lambda: Tensor(np.zeros((2, 0))).softmax_cross_entropy([0, 0]),
        ValueError,
        r"^softmax_cross_entropy: targets must lie in \[0, 0\)",
    ),
    ("linear-0d", lambda: ops.Linear.apply(2.0, np.ones((1, 2))), ValueError, r"^linear: "),
    ("max-empty-all", lambda: Tensor(np.zeros((0, 3))).max(), ValueError, r"^max: .*\(0, 3\)"),
    (
        "max-empty-axis",
        lambda: Tensor(np.zeros((0, 3))).max(axis=0),
        ValueError,
        r"^max: cannot reduce an empty tensor of shape \(0, 3\) over axis 0",
    ),
    ("max-empty-1d", lambda: Tensor(np.zeros(0)).max(), ValueError, r"^max: "),
    ("sum-0d-axis", lambda: Tensor(2.0).sum(axis=0), ValueError, r"^sum: .*out of range"),
    ("mean-0d-axis", lambda: Tensor(2.0).mean(axis=-1), ValueError, r"^mean: .*out of range"),
    ("max-0d-axis", lambda: Tensor(2.0).max(axis=0), ValueError, r"^max: .*out of range"),
    ("transpose-0d-axes", lambda: Tensor(2.0).transpose((0,)), ValueError, r"^transpose: "),
    ("reshape-0d", lambda: Tensor(2.0).reshape(2), ValueError, r"^reshape: .*\(\)"),
    ("reshape-empty", lambda: Tensor(np.zeros((0, 3))).reshape(2), ValueError, r"^reshape: "),
    ("getitem-0d-int", lambda: Tensor(2.0)[0], IndexError, r"^getitem: .*\(\)"),
    ("getitem-empty-int", lambda: Tensor(np.zeros((0, 3)))[0], IndexError, r"^getitem: .*\(0, 3\)"),
]


@pytest.mark.parametrize(
    ("make", "error", "pattern"), [pytest.param(*e[1:], id=e[0]) for e in ERRORS]
)
def test_undefined_results_raise_naming_the_op(make, error, pattern):
    with pytest.raises(error, match=pattern):
        make()


# ----------------------------------------------------------------------------- hand-checked


def test_max_splits_gradient_evenly_at_ties():
    x = Tensor(np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]]), requires_grad=True)
    x.max(axis=1).sum().backward()
    np.testing.assert_allclose(x.grad, [[0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]])
    y = Tensor(np.array([5.0, 1.0, 5.0]), requires_grad=True)
    y.max().backward()
    np.testing.assert_allclose(y.grad, [0.5, 0.0, 0.5])


def test_softmax_cross_entropy_gradient_is_softmax_minus_onehot_over_n():
    logits = np.random.default_rng(3).normal(size=(4, 5))
    x = Tensor(logits, requires_grad=True)
    x.softmax_cross_entropy(TARGETS).backward()
    onehot = np.eye(5)[TARGETS]
    np.testing.assert_allclose(x.grad, (np_softmax(logits) - onehot) / 4, rtol=1e-12)


def test_getitem_repeated_indices_accumulate():
    x = Tensor(np.array([10.0, 20.0, 30.0]), requires_grad=True)
    x[[0, 0, 1]].sum().backward()
    np.testing.assert_array_equal(x.grad, [2.0, 1.0, 0.0])
    m = Tensor(np.zeros((2, 2)), requires_grad=True)
    m[[1, 1, 1], [0, 0, 1]].sum().backward()
    np.testing.assert_array_equal(m.grad, [[0.0, 0.0], [2.0, 1.0]])


def test_relu_gradient_is_zero_at_and_below_zero():
    x = Tensor(np.array([-1.0, 0.0, 2.0]), requires_grad=True)
    x.relu().sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.0, 1.0])


# ----------------------------------------------------------------------------- properties

BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
}

SIDES = ["tensor-tensor", "array-tensor", "tensor-array"]


def _values(rng, shape, divisor):
    if divisor:  # |b| in [0.5, 2]: the quotient's derivative stays bounded
        return rng.choice([-1.0, 1.0], size=shape) * rng.uniform(0.5, 2.0, size=shape)
    return rng.uniform(-2.0, 2.0, size=shape)


@settings(max_examples=40, deadline=None)
@given(
    shapes=hnp.mutually_broadcastable_shapes(
        num_shapes=2, min_dims=0, max_dims=3, min_side=0, max_side=3
    ),
    op=st.sampled_from(sorted(BINARY)),
    sides=st.sampled_from(SIDES),
    seed=st.integers(0, 2**32 - 1),
)
def test_binary_ops_broadcast_any_compatible_shapes(shapes, op, sides, seed):
    rng = np.random.default_rng(seed)
    shape_a, shape_b = shapes.input_shapes
    a = _values(rng, shape_a, divisor=False)
    b = _values(rng, shape_b, divisor=op == "div")
    f = BINARY[op]
    expected = f(a, b)
    if sides == "tensor-tensor":
        ta, tb = Tensor(a, requires_grad=True), Tensor(b, requires_grad=True)
        out = f(ta, tb)
        assert gradcheck(f, ta, tb)
    elif sides == "array-tensor":
        tb = Tensor(b, requires_grad=True)
        out = f(a, tb)
        assert gradcheck(lambda y: f(a, y), tb)
    else:
        ta = Tensor(a, requires_grad=True)
        out = f(ta, b)
        assert gradcheck(lambda x: f(x, b), ta)
    assert isinstance(out, Tensor)
    assert out.shape == shapes.result_shape == np.shape(expected)
    np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-12)


@settings(max_examples=30, deadline=None)
@given(
    shapes=hnp.mutually_broadcastable_shapes(
        signature=np.matmul.signature, max_dims=2, min_side=0, max_side=3
    ),
    seed=st.integers(0, 2**32 - 1),
)
def test_matmul_any_compatible_shapes(shapes, seed):
    rng = np.random.default_rng(seed)
    shape_a, shape_b = shapes.input_shapes
    a = Tensor(rng.uniform(-2, 2, size=shape_a), requires_grad=True)
    b = Tensor(rng.uniform(-2, 2, size=shape_b), requires_grad=True)
    out = a @ b
    assert out.shape == shapes.result_shape
    np.testing.assert_allclose(out.data, a.data @ b.data, rtol=1e-12, atol=1e-12)
    assert gradcheck(lambda x, y: x @ y, a, b)
    out.backward(np.ones(out.shape))
    assert a.grad.shape == shape_a
    assert b.grad.shape == shape_b


@settings(max_examples=40, deadline=None)
@given(
    shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4),
    data=st.data(),
    keepdims=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_reductions_over_any_axis(shape, data, keepdims, seed):
    axes = [None, *range(-len(shape), len(shape))]
    if len(shape) >= 2:
        axes.append((0, len(shape) - 1))
    axis = data.draw(st.sampled_from(axes), label="axis")
    x = Tensor(DISTINCT(*shape)(np.random.default_rng(seed)), requires_grad=True)
    reduced = range(len(shape)) if axis is None else np.atleast_1d(axis)
    over_nothing = any(shape[a] == 0 for a in reduced)
    for name in ("sum", "mean", "max"):
        if name == "max" and over_nothing:  # numpy's rule: no maximum of no elements
            with pytest.raises(ValueError, match=r"^max: cannot reduce an empty tensor"):
                x.max(axis=axis, keepdims=keepdims)
            continue
        with warnings.catch_warnings():  # a mean over nothing is NaN with numpy's warning
            warnings.simplefilter("ignore", RuntimeWarning)
            out = getattr(x, name)(axis=axis, keepdims=keepdims)
            expected = getattr(np, name)(x.data, axis=axis, keepdims=keepdims)
            assert out.shape == np.shape(expected)
            np.testing.assert_allclose(out.data, expected, rtol=1e-12)
            assert gradcheck(lambda t, n=name: getattr(t, n)(axis=axis, keepdims=keepdims), x)


# ------------------------------------------------------------------ methods on 0-d and empty


def test_tensor_methods_on_a_0d_tensor():
    t = Tensor(np.array(1.5), requires_grad=True, name="s")
    assert t.shape == () and t.ndim == 0 and t.size == 1
    assert t.item() == 1.5 and float(t) == 1.5 and bool(t) is True
    assert t.numpy().shape == () and np.asarray(t).shape == ()
    assert "1.5" in repr(t) and "'s'" in repr(t)
    with pytest.raises(TypeError, match="0-d"):
        len(t)
    with pytest.raises(TypeError, match="0-d"):
        list(t)
    d = t.detach()
    assert d.shape == () and not d.requires_grad and d.item() == 1.5
    h = (t * 3).retain_grad()
    y = h.exp()
    y.backward()  # a 0-d tensor is one element: the seed is implicit
    assert h.grad.shape == () and h.grad == pytest.approx(np.exp(4.5))
    assert t.grad.shape == () and t.grad.dtype == np.float64
    assert t.grad == pytest.approx(3 * np.exp(4.5))
    t.zero_grad()
    assert t.grad is None


def test_tensor_methods_on_an_empty_tensor():
    t = Tensor(np.zeros((0, 3)), requires_grad=True)
    assert t.shape == (0, 3) and t.size == 0 and len(t) == 0 and list(t) == []
    assert t.T.shape == (3, 0) and np.asarray(t).shape == (0, 3)
    assert "(0, 3)" in repr(t) or "[]" in repr(t)
    with pytest.raises(ValueError, match="0 elements"):
        t.item()
    with pytest.raises(ValueError, match="0 elements"):
        float(t)
    with pytest.raises(ValueError, match="ambiguous"):
        bool(t)
    y = (t * 2).retain_grad()
    with pytest.raises(RuntimeError, match=r"one-element tensors, got shape \(0, 3\)"):
        y.backward()
    y.backward(np.zeros((0, 3)), retain_graph=True)
    assert y.grad.shape == (0, 3) and t.grad.shape == (0, 3) and t.grad.dtype == np.float64
    s = y.sum()
    s.backward()  # the sum of nothing is a 0-d zero; its gradient flows to no element
    assert s.item() == 0.0 and t.grad.shape == (0, 3)
    d = t.detach()
    assert d.shape == (0, 3) and d.is_leaf

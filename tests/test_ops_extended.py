"""The op table for the ops beyond the MLP's (issue 11): forward against numpy or a direct
formula, float64 gradients against central differences, broadcasting both ways, 0-d and
empty inputs, non-differentiable ops, errors that name the op and the shapes, and the names
ops are drawn by.

One line per case: ``case(id, fn, *inputs, ref=...)`` as in ``test_ops.py``; ``fn`` takes
Tensors, ``ref`` the same values as numpy arrays (defaults to ``fn``).
"""

import math
import pickle
import weakref
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from op_inputs import AWAY, DISTINCT, P, U, check_forward, check_gradient, draw
from second_order import engine_grads, graph_hvp, numeric_hvp, squared_head

import tinygrad_nn as tg
from tinygrad_nn import Tensor, gradcheck, losses, viz
from tinygrad_nn import functional as F
from tinygrad_nn.higher_order import grad
from tinygrad_nn.ops.special import erf


def WITH_ZEROS(*shape):
    """Uniform values with every third element exactly 0 (prod's gradient there)."""

    def make(rng):
        x = rng.uniform(-2.0, 2.0, size=shape)
        x.reshape(-1)[::3] = 0.0
        return x

    return make


def case(id, fn, *inputs, ref=None):
    return pytest.param(fn, fn if ref is None else ref, inputs, id=id)


# constants used as non-Tensor operands
MASK = np.array([[True, False, True], [False, False, True]])
ROW_MASK = np.array([True, False, True])
ARR = np.array([[0.5, -1.5, 2.0], [1.0, -0.75, 1.25]])
INT_EXP = np.array([[2.0, 3.0, -1.0], [0.0, 1.0, 4.0]])
SQRT_HALF = math.sqrt(0.5)


def np_gelu(x):
    return x * 0.5 * (1 + np.vectorize(math.erf)(x * SQRT_HALF))


def np_gelu_tanh(x):
    return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))


def np_sigmoid(x):
    return 1 / (1 + np.exp(-x))


def np_where(cond, a, b):
    return np.where(cond, a, b)


def np_pad(a, width, value=0.0):
    return np.pad(a, width, constant_values=value)


CASES = [
    # ------------------------------------------------------------------ elementwise math
    case("sqrt", lambda a: a.sqrt(), P(2, 3), ref=np.sqrt),
    case("sqrt-0d", lambda a: a.sqrt(), P(), ref=np.sqrt),
    case("sqrt-empty", lambda a: a.sqrt(), P(0, 3), ref=np.sqrt),
    case("abs", lambda a: a.abs(), AWAY(2, 3), ref=np.abs),
    case("abs-builtin", lambda a: abs(a), AWAY(2, 3), ref=np.abs),
    case("abs-0d", lambda a: a.abs(), AWAY(), ref=np.abs),
    case(
        "abs-empty",
        lambda a: a.abs(),
        U(
            0,
        ),
        ref=np.abs,
    ),
    case("log1p", lambda a: a.log1p(), U(2, 3, lo=-0.5, hi=3), ref=np.log1p),
    case("log1p-0d", lambda a: a.log1p(), U(lo=-0.5, hi=3), ref=np.log1p),
    case("log1p-empty", lambda a: a.log1p(), U(2, 0), ref=np.log1p),
    case("expm1", lambda a: a.expm1(), U(2, 3), ref=np.expm1),
    case("expm1-0d", lambda a: a.expm1(), U(), ref=np.expm1),
    case("expm1-empty", lambda a: a.expm1(), U(0, 2), ref=np.expm1),
    case("sin", lambda a: a.sin(), U(2, 3, lo=-4, hi=4), ref=np.sin),
    case("sin-0d", lambda a: a.sin(), U(), ref=np.sin),
    case(
        "sin-empty",
        lambda a: a.sin(),
        U(
            0,
        ),
        ref=np.sin,
    ),
    case("cos", lambda a: a.cos(), U(2, 3, lo=-4, hi=4), ref=np.cos),
    case("cos-0d", lambda a: a.cos(), U(), ref=np.cos),
    case("cos-empty", lambda a: a.cos(), U(3, 0), ref=np.cos),
    case("erf", lambda a: a.erf(), U(3, 4, lo=-4, hi=4), ref=np.vectorize(math.erf)),
    case("erf-0d", lambda a: a.erf(), U(lo=2.5, hi=3), ref=np.vectorize(math.erf)),
    case("erf-empty", lambda a: a.erf(), U(0, 2), ref=lambda a: a),
    case("clip", lambda a: a.clip(-0.5, 0.7), U(3, 4), ref=lambda a: np.clip(a, -0.5, 0.7)),
    case("clip-min", lambda a: a.clip(min=0.1), U(3, 4), ref=lambda a: np.maximum(a, 0.1)),
    case("clip-max", lambda a: a.clip(max=0.1), U(3, 4), ref=lambda a: np.minimum(a, 0.1)),
    case("clip-0d", lambda a: a.clip(-1, 1), U(), ref=lambda a: np.clip(a, -1, 1)),
    case("clip-empty", lambda a: a.clip(-1, 1), U(0, 4), ref=lambda a: np.clip(a, -1, 1)),
    case("maximum", lambda a, b: a.maximum(b), U(2, 3), U(2, 3), ref=np.maximum),
    case("maximum-(3,)(2,3)", lambda a, b: a.maximum(b), U(3), U(2, 3), ref=np.maximum),
    case("maximum-(2,3)(3,)", lambda a, b: a.maximum(b), U(2, 3), U(3), ref=np.maximum),
    case("maximum-(2,1)(1,4)", lambda a, b: F.maximum(a, b), U(2, 1), U(1, 4), ref=np.maximum),
    case("maximum-0d(2,3)", lambda a, b: F.maximum(a, b), U(), U(2, 3), ref=np.maximum),
    case("maximum-0d0d", lambda a, b: F.maximum(a, b), U(), U(), ref=np.maximum),
    case("maximum-empty", lambda a, b: a.maximum(b), U(0, 3), U(3), ref=np.maximum),
    case("maximum-number", lambda a: a.maximum(0.3), U(2, 3), ref=lambda a: np.maximum(a, 0.3)),
    case(
        "maximum-array-left", lambda a: F.maximum(ARR, a), U(2, 3), ref=lambda a: np.maximum(ARR, a)
    ),
    case("minimum", lambda a, b: a.minimum(b), U(2, 3), U(2, 3), ref=np.minimum),
    case("minimum-(3,)(2,3)", lambda a, b: a.minimum(b), U(3), U(2, 3), ref=np.minimum),
    case("minimum-(2,3)(3,)", lambda a, b: a.minimum(b), U(2, 3), U(3), ref=np.minimum),
    case("minimum-0d(2,3)", lambda a, b: F.minimum(a, b), U(), U(2, 3), ref=np.minimum),
    case("minimum-empty", lambda a, b: F.minimum(a, b), U(2, 0), U(1), ref=np.minimum),
    case("minimum-number", lambda a: a.minimum(-0.3), U(2, 3), ref=lambda a: np.minimum(a, -0.3)),
    case(
        "where",
        lambda a, b: F.where(MASK, a, b),
        U(2, 3),
        U(2, 3),
        ref=lambda a, b: np_where(MASK, a, b),
    ),
    case(
        "where-tensor-mask",
        lambda a, b: F.where(Tensor(MASK), a, b),
        U(2, 3),
        U(2, 3),
        ref=lambda a, b: np_where(MASK, a, b),
    ),
    case(
        "where-from-comparison",
        lambda a: F.where(a > 0, a, 0.1 * a),
        AWAY(2, 3),
        ref=lambda a: np.where(a > 0, a, 0.1 * a),
    ),
    case(
        "where-(3,)mask-(2,3)-0d",
        lambda a, b: F.where(ROW_MASK, a, b),
        U(2, 3),
        U(),
        ref=lambda a, b: np_where(ROW_MASK, a, b),
    ),
    case(
        "where-(2,3)mask-(3,)-(2,1)",
        lambda a, b: F.where(MASK, a, b),
        U(3),
        U(2, 1),
        ref=lambda a, b: np_where(MASK, a, b),
    ),
    case(
        "where-number",
        lambda a: F.where(MASK, a, -1.0),
        U(2, 3),
        ref=lambda a: np_where(MASK, a, -1.0),
    ),
    case(
        "where-0d",
        lambda a, b: F.where(np.array(True), a, b),
        U(),
        U(),
        ref=lambda a, b: np_where(True, a, b),
    ),
    case(
        "where-empty",
        lambda a, b: F.where(np.zeros((0, 3), bool), a, b),
        U(0, 3),
        U(3),
        ref=lambda a, b: np_where(np.zeros((0, 3), bool), a, b),
    ),
    # ------------------------------------------------------------------ tensor exponents
    case("pow-tensor", lambda a, b: a**b, P(2, 3), U(2, 3)),
    case("pow-tensor-method", lambda a, b: a.pow(b), P(2, 3), U(2, 3), ref=np.power),
    case("pow-tensor-(3,)(2,3)", lambda a, b: a**b, P(3), U(2, 3)),
    case("pow-tensor-(2,3)(3,)", lambda a, b: a**b, P(2, 3), U(3)),
    case("pow-tensor-0d(2,3)", lambda a, b: a**b, P(), U(2, 3)),
    case("pow-tensor-(2,3)0d", lambda a, b: a**b, P(2, 3), U()),
    case("pow-tensor-empty", lambda a, b: a**b, P(0, 3), U(3)),
    case("pow-array-exponent", lambda a: a**ARR, P(2, 3), ref=lambda a: a**ARR),
    case("pow-array-base", lambda b: np.abs(ARR) ** b, U(2, 3), ref=lambda b: np.abs(ARR) ** b),
    case(
        "pow-negative-base-integer-exponents",
        lambda a: a ** Tensor(INT_EXP),
        AWAY(2, 3),
        ref=lambda a: a**INT_EXP,
    ),
    case("rpow-2-tensor-name", lambda b: 2**b, U(2, 3), ref=lambda b: 2.0**b),
    # ------------------------------------------------------------------ reductions
    case("min-all", lambda a: a.min(), DISTINCT(2, 3)),
    case("min-axis0", lambda a: a.min(axis=0), DISTINCT(2, 3)),
    case("min-axis-1-keepdims", lambda a: a.min(axis=-1, keepdims=True), DISTINCT(2, 3, 4)),
    case("min-axes(0,2)", lambda a: a.min(axis=(0, 2)), DISTINCT(2, 3, 4)),
    case("min-0d", lambda a: a.min(), U()),
    case("prod-all", lambda a: a.prod(), U(2, 3)),
    case("prod-axis0", lambda a: a.prod(axis=0), U(3, 4)),
    case("prod-axis1-keepdims", lambda a: a.prod(axis=1, keepdims=True), U(2, 3, 4)),
    case("prod-axes(0,2)", lambda a: a.prod(axis=(0, 2)), U(2, 3, 4)),
    case("prod-with-zeros", lambda a: a.prod(axis=1), WITH_ZEROS(3, 4)),
    case("prod-all-zeros-twice", lambda a: a.prod(), WITH_ZEROS(2, 3)),
    case("prod-0d", lambda a: a.prod(), U()),
    case("prod-empty-axis", lambda a: a.prod(axis=1), U(3, 0)),
    case("prod-empty-rows", lambda a: a.prod(axis=1), U(0, 3)),
    case("var-all", lambda a: a.var(), U(3, 4)),
    case("var-axis0", lambda a: a.var(axis=0), U(3, 4)),
    case("var-ddof1", lambda a: a.var(ddof=1), U(3, 4), ref=lambda a: np.var(a, ddof=1)),
    case(
        "var-axis1-ddof1-keepdims",
        lambda a: a.var(axis=1, ddof=1, keepdims=True),
        U(2, 3, 4),
        ref=lambda a: np.var(a, axis=1, ddof=1, keepdims=True),
    ),
    case("var-axes(0,2)", lambda a: a.var(axis=(0, 2)), U(2, 3, 4)),
    case("var-0d", lambda a: a.var(), U()),
    case("var-empty-rows", lambda a: a.var(axis=1), U(0, 3)),
    case("std-all", lambda a: a.std(), U(3, 4)),
    case("std-axis-1", lambda a: a.std(axis=-1), U(3, 4)),
    case(
        "std-ddof1",
        lambda a: a.std(axis=0, ddof=1),
        U(3, 4),
        ref=lambda a: np.std(a, axis=0, ddof=1),
    ),
    case("std-keepdims", lambda a: a.std(axis=(1, 2), keepdims=True), U(2, 3, 4)),
    case("std-empty-rows", lambda a: a.std(axis=1), U(0, 3)),
    case(
        "logsumexp-all", lambda a: a.logsumexp(), U(3, 4), ref=lambda a: np.log(np.sum(np.exp(a)))
    ),
    case(
        "logsumexp-axis1",
        lambda a: a.logsumexp(axis=1),
        U(3, 4),
        ref=lambda a: np.log(np.sum(np.exp(a), axis=1)),
    ),
    case(
        "logsumexp-keepdims",
        lambda a: a.logsumexp(axis=0, keepdims=True),
        U(3, 4),
        ref=lambda a: np.logaddexp.reduce(a, axis=0, keepdims=True),
    ),
    case(
        "logsumexp-large",
        lambda a: a.logsumexp(axis=-1),
        U(2, 5, lo=900, hi=1000),
        ref=lambda a: np.logaddexp.reduce(a, axis=-1),
    ),
    case(
        "logsumexp-very-negative",
        lambda a: a.logsumexp(axis=0),
        U(4, 2, lo=-1000, hi=-900),
        ref=lambda a: np.logaddexp.reduce(a, axis=0),
    ),
    case("logsumexp-0d", lambda a: a.logsumexp(), U(), ref=lambda a: a),
    case("logsumexp-empty-rows", lambda a: a.logsumexp(axis=1), U(0, 3), ref=lambda a: np.zeros(0)),
    # ------------------------------------------------------------------ shape
    case("flatten", lambda a: a.flatten(), U(2, 3, 4), ref=lambda a: a.reshape(-1)),
    case("flatten-start1", lambda a: a.flatten(1), U(2, 3, 4), ref=lambda a: a.reshape(2, 12)),
    case(
        "flatten-1-2", lambda a: a.flatten(1, 2), U(2, 3, 4, 5), ref=lambda a: a.reshape(2, 12, 5)
    ),
    case(
        "flatten-negative", lambda a: a.flatten(-2, -1), U(2, 3, 4), ref=lambda a: a.reshape(2, 12)
    ),
    case("flatten-0d", lambda a: a.flatten(), U(), ref=lambda a: a.reshape(1)),
    case("flatten-empty", lambda a: a.flatten(1), U(2, 0, 3), ref=lambda a: a.reshape(2, 0)),
    case("squeeze-all", lambda a: a.squeeze(), U(1, 3, 1, 2), ref=np.squeeze),
    case("squeeze-axis", lambda a: a.squeeze(2), U(1, 3, 1, 2), ref=lambda a: np.squeeze(a, 2)),
    case(
        "squeeze-axes", lambda a: a.squeeze((0, -2)), U(1, 3, 1, 2), ref=lambda a: a.reshape(3, 2)
    ),
    case("squeeze-to-0d", lambda a: a.squeeze(), U(1, 1), ref=np.squeeze),
    case("squeeze-0d", lambda a: a.squeeze(), U(), ref=np.squeeze),
    case("squeeze-empty", lambda a: a.squeeze(1), U(0, 1), ref=lambda a: a.reshape(0)),
    case("unsqueeze", lambda a: a.unsqueeze(1), U(2, 3), ref=lambda a: a[:, None]),
    case("unsqueeze-last", lambda a: a.unsqueeze(-1), U(2, 3), ref=lambda a: a[..., None]),
    case(
        "unsqueeze-tuple", lambda a: a.unsqueeze((0, 3)), U(2, 3), ref=lambda a: a[None, :, :, None]
    ),
    case("unsqueeze-0d", lambda a: a.unsqueeze(0), U(), ref=lambda a: a.reshape(1)),
    case("unsqueeze-empty", lambda a: a.unsqueeze(0), U(0, 3), ref=lambda a: a[None]),
    case(
        "expand", lambda a: a.expand(2, 3, 4), U(3, 1), ref=lambda a: np.broadcast_to(a, (2, 3, 4))
    ),
    case(
        "expand-tuple-minus-one",
        lambda a: a.expand((4, -1, 3)),
        U(2, 1),
        ref=lambda a: np.broadcast_to(a, (4, 2, 3)),
    ),
    case("expand-0d", lambda a: a.expand(2, 3), U(), ref=lambda a: np.broadcast_to(a, (2, 3))),
    case("expand-to-empty", lambda a: a.expand(0, 3), U(1, 3), ref=lambda a: np.zeros((0, 3))),
    case("pad-int", lambda a: a.pad(1), U(2, 3), ref=lambda a: np_pad(a, 1)),
    case(
        "pad-pair",
        lambda a: a.pad((2, 0), value=-1.5),
        U(2, 3),
        ref=lambda a: np_pad(a, (2, 0), -1.5),
    ),
    case(
        "pad-per-axis",
        lambda a: a.pad(((0, 1), (2, 3), (1, 1))),
        U(2, 3, 2),
        ref=lambda a: np_pad(a, ((0, 1), (2, 3), (1, 1))),
    ),
    case("pad-0d", lambda a: a.pad(()), U(), ref=lambda a: a),
    case("pad-empty", lambda a: a.pad(1), U(0, 2), ref=lambda a: np_pad(a, 1)),
    case("flip-all", lambda a: a.flip(), U(2, 3), ref=np.flip),
    case("flip-axis", lambda a: a.flip(1), U(2, 3, 4), ref=lambda a: a[:, ::-1]),
    case("flip-axes", lambda a: a.flip((0, -1)), U(2, 3, 4), ref=lambda a: a[::-1, :, ::-1]),
    case("flip-0d", lambda a: a.flip(), U(), ref=np.flip),
    case("flip-empty", lambda a: a.flip(0), U(0, 3), ref=lambda a: a),
    case("permute", lambda a: a.permute(2, 0, 1), U(2, 3, 4), ref=lambda a: a.transpose(2, 0, 1)),
    case("permute-tuple", lambda a: a.permute((1, 0)), U(2, 3), ref=lambda a: a.T),
    case(
        "permute-negative",
        lambda a: a.permute(-1, 1, 0, 2),
        U(2, 3, 4, 5),
        ref=lambda a: a.transpose(3, 1, 0, 2),
    ),
    case("permute-0d", lambda a: a.permute(), U(), ref=lambda a: a),
    case("permute-empty", lambda a: a.permute(1, 0), U(0, 3), ref=lambda a: a.T),
    case(
        "cat", lambda a, b: F.cat([a, b]), U(2, 3), U(4, 3), ref=lambda a, b: np.concatenate([a, b])
    ),
    case(
        "cat-axis1-three",
        lambda a, b, c: F.cat([a, b, c], axis=1),
        U(2, 1),
        U(2, 3),
        U(2, 2),
        ref=lambda a, b, c: np.concatenate([a, b, c], axis=1),
    ),
    case(
        "concatenate-negative-axis",
        lambda a, b: F.concatenate([a, b], axis=-1),
        U(2, 3, 1),
        U(2, 3, 2),
        ref=lambda a, b: np.concatenate([a, b], axis=-1),
    ),
    case(
        "cat-same-tensor",
        lambda a: F.cat([a, a, a]),
        U(2, 2),
        ref=lambda a: np.concatenate([a, a, a]),
    ),
    case("cat-array", lambda a: F.cat([ARR, a]), U(1, 3), ref=lambda a: np.concatenate([ARR, a])),
    case("cat-one", lambda a: F.cat([a]), U(2, 3), ref=lambda a: a),
    case(
        "cat-empty-piece",
        lambda a, b: F.cat([a, b]),
        U(0, 3),
        U(2, 3),
        ref=lambda a, b: np.concatenate([a, b]),
    ),
    case(
        "stack", lambda a, b: F.stack([a, b]), U(2, 3), U(2, 3), ref=lambda a, b: np.stack([a, b])
    ),
    case(
        "stack-axis1",
        lambda a, b, c: F.stack([a, b, c], axis=1),
        U(2, 3),
        U(2, 3),
        U(2, 3),
        ref=lambda a, b, c: np.stack([a, b, c], axis=1),
    ),
    case(
        "stack-axis-1",
        lambda a, b: F.stack([a, b], axis=-1),
        U(2, 3),
        U(2, 3),
        ref=lambda a, b: np.stack([a, b], axis=-1),
    ),
    case("stack-0d", lambda a, b: F.stack([a, b]), U(), U(), ref=lambda a, b: np.stack([a, b])),
    case(
        "stack-empty",
        lambda a, b: F.stack([a, b]),
        U(
            0,
        ),
        U(
            0,
        ),
        ref=lambda a, b: np.stack([a, b]),
    ),
    case("split-length", lambda a: a.split(2)[1], U(5, 3), ref=lambda a: a[2:4]),
    case("split-last-short", lambda a: a.split(2)[2], U(5, 3), ref=lambda a: a[4:]),
    case(
        "split-sizes-axis1", lambda a: a.split([1, 3], axis=1)[1], U(2, 4), ref=lambda a: a[:, 1:]
    ),
    case(
        "split-rejoined",
        lambda a: F.cat(a.split([2, 1, 2], axis=-1)[::-1], axis=-1),
        U(3, 5),
        ref=lambda a: np.concatenate([a[:, 3:], a[:, 2:3], a[:, :2]], axis=-1),
    ),
    case("split-empty-piece", lambda a: a.split([0, 3])[1], U(3, 2), ref=lambda a: a),
    case("split-empty", lambda a: F.cat(a.split(2, axis=1), axis=1), U(0, 4), ref=lambda a: a),
    # ------------------------------------------------------------------ boolean masks
    case("mask-from-comparison", lambda a: a[a > 0], AWAY(3, 4), ref=lambda a: a[a > 0]),
    case("mask-array", lambda a: a[MASK], U(2, 3), ref=lambda a: a[MASK]),
    case(
        "mask-tensor-rows",
        lambda a: a[Tensor(np.array([True, False, True]))],
        U(3, 2),
        ref=lambda a: a[[0, 2]],
    ),
    case("mask-all-false", lambda a: a[a > 10], U(2, 3), ref=lambda a: a[a > 10]),
    # ------------------------------------------------------------------ activations
    case(
        "leaky_relu",
        lambda a: a.leaky_relu(),
        AWAY(3, 4),
        ref=lambda a: np.where(a > 0, a, 0.01 * a),
    ),
    case(
        "leaky_relu-slope",
        lambda a: F.leaky_relu(a, 0.2),
        AWAY(3, 4),
        ref=lambda a: np.where(a > 0, a, 0.2 * a),
    ),
    case(
        "leaky_relu-0d",
        lambda a: a.leaky_relu(0.3),
        AWAY(),
        ref=lambda a: np.where(a > 0, a, 0.3 * a),
    ),
    case("leaky_relu-empty", lambda a: a.leaky_relu(), U(0, 3), ref=lambda a: a),
    case("elu", lambda a: a.elu(), AWAY(3, 4), ref=lambda a: np.where(a > 0, a, np.exp(a) - 1)),
    case(
        "elu-alpha",
        lambda a: F.elu(a, alpha=0.5),
        AWAY(3, 4),
        ref=lambda a: np.where(a > 0, a, 0.5 * (np.exp(a) - 1)),
    ),
    case("elu-0d", lambda a: a.elu(), AWAY(), ref=lambda a: np.where(a > 0, a, np.exp(a) - 1)),
    case(
        "elu-empty",
        lambda a: a.elu(),
        U(
            0,
        ),
        ref=lambda a: a,
    ),
    case("gelu", lambda a: a.gelu(), U(3, 4, lo=-4, hi=4), ref=np_gelu),
    case("gelu-function", lambda a: F.gelu(a, approximate="none"), U(3, 4), ref=np_gelu),
    case("gelu-tanh", lambda a: a.gelu(approximate="tanh"), U(3, 4, lo=-4, hi=4), ref=np_gelu_tanh),
    case("gelu-tanh-function", lambda a: F.gelu(a, "tanh"), U(2, 3), ref=np_gelu_tanh),
    case("gelu-0d", lambda a: a.gelu(), U(), ref=np_gelu),
    case("gelu-empty", lambda a: a.gelu(), U(0, 3), ref=lambda a: a),
    case("silu", lambda a: a.silu(), U(3, 4, lo=-6, hi=6), ref=lambda a: a * np_sigmoid(a)),
    case("silu-function", lambda a: F.silu(a), U(3, 4), ref=lambda a: a * np_sigmoid(a)),
    case("silu-0d", lambda a: a.silu(), U(), ref=lambda a: a * np_sigmoid(a)),
    case("silu-empty", lambda a: a.silu(), U(0, 3), ref=lambda a: a),
    case(
        "softplus",
        lambda a: a.softplus(),
        U(3, 4, lo=-6, hi=6),
        ref=lambda a: np.log(1 + np.exp(a)),
    ),
    case(
        "softplus-beta",
        lambda a: F.softplus(a, beta=2.0),
        U(3, 4),
        ref=lambda a: np.log(1 + np.exp(2 * a)) / 2,
    ),
    case(
        "softplus-large",
        lambda a: a.softplus(),
        U(2, 3, lo=-800, hi=800),
        ref=lambda a: np.logaddexp(0, a),
    ),
    case("softplus-0d", lambda a: a.softplus(), U(), ref=lambda a: np.log1p(np.exp(a))),
    case(
        "softplus-empty",
        lambda a: a.softplus(),
        U(
            0,
        ),
        ref=lambda a: a,
    ),
]


@pytest.mark.parametrize(("fn", "ref", "inputs"), CASES)
def test_forward_matches_numpy(fn, ref, inputs):
    check_forward(fn, ref, inputs)


@pytest.mark.parametrize(("fn", "ref", "inputs"), CASES)
def test_gradient_matches_numerical(fn, ref, inputs):
    check_gradient(fn, inputs)


# cases with a float64 constant beside the inputs, where numpy promotes float32 to float64
MIXED = {
    "maximum-array-left",
    "pow-array-exponent",
    "pow-array-base",
    "pow-negative-base-integer-exponents",
    "cat-array",
}


@pytest.mark.parametrize(("fn", "ref", "inputs"), [c for c in CASES if c.id not in MIXED])
def test_float32_stays_float32(fn, ref, inputs):
    tensors = [Tensor(a.astype(np.float32), requires_grad=True) for a in draw(inputs)]
    out = fn(*tensors)
    assert out.dtype == np.float32
    out.backward(np.ones(out.shape, np.float32))
    assert all(t.grad.dtype == np.float32 for t in tensors)


# ----------------------------------------------------------------------------- no gradient

# (id, fn, input, ref): fn takes a Tensor that requires grad; the result must not
NONDIFF = [
    ("sign", lambda a: a.sign(), np.array([-2.0, 0.0, 3.5, -0.0]), np.sign),
    ("sign-0d", lambda a: a.sign(), np.array(-1.5), np.sign),
    ("sign-empty", lambda a: a.sign(), np.zeros((0, 2)), np.sign),
    ("argmax", lambda a: a.argmax(), ARR, lambda a: np.argmax(a)),
    ("argmax-axis0", lambda a: a.argmax(axis=0), ARR, lambda a: np.argmax(a, axis=0)),
    (
        "argmax-axis-1-keepdims",
        lambda a: a.argmax(-1, keepdims=True),
        ARR,
        lambda a: np.argmax(a, -1, keepdims=True),
    ),
    ("argmax-ties-first", lambda a: a.argmax(), np.array([1.0, 3.0, 3.0]), lambda a: np.int64(1)),
    ("argmax-0d", lambda a: a.argmax(), np.array(2.0), lambda a: np.int64(0)),
    (
        "argmax-empty-rows",
        lambda a: a.argmax(axis=1),
        np.zeros((0, 3)),
        lambda a: np.zeros(0, np.int64),
    ),
    ("argmin", lambda a: a.argmin(), ARR, lambda a: np.argmin(a)),
    ("argmin-axis1", lambda a: a.argmin(axis=1), ARR, lambda a: np.argmin(a, axis=1)),
    ("argmin-0d", lambda a: a.argmin(), np.array(-2.0), lambda a: np.int64(0)),
    (
        "argmin-empty-rows",
        lambda a: a.argmin(axis=-1),
        np.zeros((0, 2)),
        lambda a: np.zeros(0, np.int64),
    ),
    ("lt", lambda a: a < 0.5, ARR, lambda a: a < 0.5),
    ("le", lambda a: a <= 0.5, ARR, lambda a: a <= 0.5),
    ("gt", lambda a: a > 0.5, ARR, lambda a: a > 0.5),
    ("ge", lambda a: a >= 0.5, ARR, lambda a: a >= 0.5),
    ("eq", lambda a: a == 0.5, ARR, lambda a: a == 0.5),
    ("ne", lambda a: a != 0.5, ARR, lambda a: a != 0.5),
    ("lt-reflected-number", lambda a: a > 0.5, ARR, lambda a: a > 0.5),
    ("ge-reflected-array", lambda a: a <= ARR.T[::-1].T, ARR, lambda a: ARR[:, ::-1] >= a),
    ("eq-tensor-(3,)", lambda a: a == Tensor(ARR[0]), ARR, lambda a: a == ARR[0]),
    ("ne-tensor-(2,1)", lambda a: Tensor(ARR[:, :1]) != a, ARR, lambda a: ARR[:, :1] != a),
    ("gt-0d", lambda a: a > 0, np.array(1.5), lambda a: a > 0),
    ("lt-empty", lambda a: a < 0, np.zeros((0, 3)), lambda a: a < 0),
    ("eq-bool-masks", lambda a: (a > 0) == (a < 1), ARR, lambda a: (a > 0) == (a < 1)),
]


@pytest.mark.parametrize(("fn", "x", "ref"), [pytest.param(*c[1:], id=c[0]) for c in NONDIFF])
def test_ops_without_gradient(fn, x, ref):
    t = Tensor(x.copy(), requires_grad=True)
    out = fn(t)
    expected = np.asarray(ref(x.copy()))
    assert out.shape == expected.shape
    assert out.dtype == expected.dtype  # bool masks, int64 indices, sign in x's dtype
    np.testing.assert_array_equal(out.data, expected)
    assert not out.requires_grad and out.op is None and out.is_leaf


def test_comparisons_and_argmax_do_not_block_gradients_beside_them():
    x = Tensor(np.array([-1.0, 2.0, 0.5]), requires_grad=True)
    loss = (x * (x > 0)).sum() + (x * x.sign()).sum() + x[x.argmax()]
    loss.backward()
    np.testing.assert_array_equal(x.grad, [-1.0, 3.0, 2.0])  # mask + sign(x) + one-hot


def test_tensors_stay_hashable_by_identity():
    a, b = Tensor([1.0, 2.0]), Tensor([1.0, 2.0])
    table = {a: "a", b: "b"}  # equal values, two keys (viz and compile rely on this)
    assert table[a] == "a" and table[b] == "b"
    assert len({a, b, a}) == 2
    assert hash(a) == object.__hash__(a)
    assert (a == None) is False and (a != None) is True  # noqa: E711
    with pytest.raises(TypeError):
        a < "x"  # noqa: B015


def test_weak_key_containers_cannot_hold_tensors_so_the_package_uses_none():
    # weakref.ref compares its referents with ==, elementwise for Tensors: a lookup in a
    # WeakKeyDictionary or WeakSet of Tensors asks bool() of a mask and raises. Key such
    # maps by id(t) (with weakref.finalize to drop entries), as PyTorch's WeakIdKeyDictionary.
    t = Tensor(np.zeros(2))
    table = weakref.WeakKeyDictionary({t: 1})
    with pytest.raises(ValueError, match="ambiguous"):
        table.get(t)
    package = Path(tg.__file__).parent
    users = [
        str(path.relative_to(package))
        for path in sorted(package.rglob("*.py"))
        if "WeakKeyDictionary" in path.read_text() or "WeakSet" in path.read_text()
    ]
    assert users == []


def test_accuracy_from_argmax_and_equality():
    logits = Tensor(np.array([[0.1, 2.0, -1.0], [3.0, 0.0, 1.0], [0.0, 0.0, 5.0]]))
    labels = np.array([1, 0, 0])
    correct = logits.argmax(axis=1) == labels
    assert correct.dtype == np.bool_
    assert correct.mean().item() == pytest.approx(2 / 3)


def test_no_gradient_ops_are_traced_by_compile():
    w = Tensor(np.array([0.5, -1.0, 2.0]), requires_grad=True)

    def step(x):
        y = x * w
        loss = F.where(y > 0, y, 0.1 * y).sum() + (y * y.sign()).sum()
        w.zero_grad()
        loss.backward()
        return loss

    compiled = tg.compile(step)
    for seed in range(3):
        x = np.random.default_rng(seed).normal(size=3)
        got = compiled(x)
        got_grad = w.grad.copy()
        want = step(x)
        np.testing.assert_array_equal(got.data, want.data)
        np.testing.assert_array_equal(got_grad, w.grad)


# ----------------------------------------------------------------------------- hand-checked


def test_power_gradients_at_zero_and_negative_bases():
    x = Tensor(np.array([0.0, 0.0, 0.0, -2.0, -2.0, 3.0]), requires_grad=True)
    y = Tensor(np.array([2.0, 0.0, 0.5, 3.0, 0.5, 0.0]), requires_grad=True)
    with np.errstate(invalid="ignore"):
        out = x**y
        np.testing.assert_array_equal(out.data, np.power(x.data, y.data))  # NaN at (-2)^0.5
        out.backward(np.ones(6))
    # d/dx = y x^(y-1): 0 at 0^2, 0 where y = 0, inf at 0^0.5 (as numpy's power), 12 at -2^3
    np.testing.assert_array_equal(x.grad[[0, 1, 3, 5]], [0.0, 0.0, 12.0, 0.0])
    assert x.grad[2] == np.inf and np.isnan(x.grad[4])
    # d/dy = x^y log x: 0 where x = 0 and y >= 0; NaN for a negative base; log 3 at 3^0
    np.testing.assert_array_equal(y.grad[:3], [0.0, 0.0, 0.0])
    assert np.isnan(y.grad[3]) and np.isnan(y.grad[4])
    assert y.grad[5] == pytest.approx(np.log(3.0), rel=1e-15)


def test_number_base_power_gradient_is_log_base_times_power():
    y = Tensor(np.array([-1.0, 0.0, 2.5]), requires_grad=True)
    (3.0**y).sum().backward()
    np.testing.assert_allclose(y.grad, np.log(3.0) * 3.0**y.data, rtol=1e-15)


def test_power_slopes_keep_float32():
    x = Tensor(np.array([0.5, 1.0], np.float32), requires_grad=True)
    assert (3.0**x).op.backward(np.ones(2, np.float32)).dtype == np.float32
    ga, gb = (x**x).op.backward(np.ones(2, np.float32))
    assert ga.dtype == gb.dtype == np.float32


def test_prod_gradient_is_exact_at_zeros():
    x = Tensor(np.array([[2.0, 0.0, 3.0], [0.0, 0.0, 5.0], [1.0, 2.0, 4.0]]), requires_grad=True)
    x.prod(axis=1).sum().backward()
    np.testing.assert_array_equal(x.grad, [[0.0, 6.0, 0.0], [0.0, 0.0, 0.0], [8.0, 4.0, 2.0]])


def test_min_and_maximum_split_gradients_at_ties():
    x = Tensor(np.array([1.0, -3.0, -3.0]), requires_grad=True)
    x.min().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.5, 0.5])
    a = Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    b = Tensor(np.array([1.0, 5.0, 0.0]), requires_grad=True)
    a.maximum(b).sum().backward()
    np.testing.assert_array_equal(a.grad, [0.5, 0.0, 1.0])
    np.testing.assert_array_equal(b.grad, [0.5, 1.0, 0.0])
    a.zero_grad(), b.zero_grad()
    F.minimum(a, b).sum().backward()
    np.testing.assert_array_equal(a.grad, [0.5, 1.0, 0.0])


def test_clip_passes_gradient_on_the_closed_interval():
    x = Tensor(np.array([-2.0, -1.0, 0.0, 1.0, 2.0]), requires_grad=True)
    x.clip(-1.0, 1.0).sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 1.0, 1.0, 1.0, 0.0])


def test_kinks_take_pytorchs_subgradients():
    x = Tensor(np.zeros(1), requires_grad=True)
    for f, slope in [(Tensor.abs, 0.0), (Tensor.leaky_relu, 0.01), (Tensor.elu, 1.0)]:
        x.zero_grad()
        f(x).sum().backward()
        assert x.grad[0] == slope, f.__name__
    x.zero_grad()
    with np.errstate(divide="ignore"):
        x.sqrt().sum().backward()
    assert x.grad[0] == np.inf


def test_where_sends_gradient_to_the_picked_side():
    a = Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    b = Tensor(np.array([10.0]), requires_grad=True)
    F.where(np.array([True, False, True]), a, b).sum().backward()
    np.testing.assert_array_equal(a.grad, [1.0, 0.0, 1.0])
    np.testing.assert_array_equal(b.grad, [1.0])


def test_logsumexp_of_minus_infinity_and_nothing():
    x = Tensor(np.array([[-np.inf, -np.inf], [0.0, -np.inf]]))
    np.testing.assert_array_equal(x.logsumexp(axis=1).data, [-np.inf, 0.0])
    assert Tensor(np.zeros((2, 0))).logsumexp(axis=1).data.tolist() == [-np.inf, -np.inf]
    big = Tensor(np.array([1e308, 1e308]))
    assert big.logsumexp().item() == pytest.approx(1e308 + np.log(2.0), rel=1e-15)


def test_var_and_std_with_ddof_match_numpy_and_torchs_unbiased_form():
    x = np.random.default_rng(5).normal(size=(4, 6))
    for ddof in (0, 1, 2.5):
        np.testing.assert_allclose(Tensor(x).var(axis=1, ddof=ddof).data, x.var(axis=1, ddof=ddof))
        np.testing.assert_allclose(Tensor(x).std(ddof=ddof).data, x.std(ddof=ddof))
    n = x.size
    unbiased = ((x - x.mean()) ** 2).sum() / (n - 1)  # PyTorch's default correction=1
    assert Tensor(x).var(ddof=1).item() == pytest.approx(unbiased, rel=1e-13)


def test_std_gradient_at_zero_spread_is_nan_like_sqrt_at_zero():
    x = Tensor(np.full(3, 2.0), requires_grad=True)
    with np.errstate(invalid="ignore"):
        x.std().backward()
    assert x.std().item() == 0.0 and np.isnan(x.grad).all()
    assert Tensor(np.array(1.5)).std().item() == 0.0  # 0-d: one element


REDUCTIONS = {
    "min": (lambda t, **kw: t.min(**kw), np.min),
    "prod": (lambda t, **kw: t.prod(**kw), np.prod),
    "var": (lambda t, **kw: t.var(**kw), np.var),
    "var-ddof1": (lambda t, **kw: t.var(ddof=1, **kw), lambda a, **kw: np.var(a, ddof=1, **kw)),
    "std": (lambda t, **kw: t.std(**kw), np.std),
    "logsumexp": (lambda t, **kw: t.logsumexp(**kw), np.logaddexp.reduce),
}


@settings(max_examples=40, deadline=None)
@given(
    shape=hnp.array_shapes(min_dims=1, max_dims=3, min_side=2, max_side=4),
    data=st.data(),
    name=st.sampled_from(sorted(REDUCTIONS)),
    keepdims=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_new_reductions_over_any_axis(shape, data, name, keepdims, seed):
    axis = data.draw(st.sampled_from([None, *range(-len(shape), len(shape))]), label="axis")
    x = Tensor(DISTINCT(*shape)(np.random.default_rng(seed)), requires_grad=True)
    f, ref = REDUCTIONS[name]
    out = f(x, axis=axis, keepdims=keepdims)
    if name == "logsumexp" and axis is None:  # logaddexp.reduce takes one axis at a time
        expected = np.logaddexp.reduce(x.data.ravel()).reshape((1,) * x.ndim if keepdims else ())
    else:
        expected = ref(x.data, axis=axis, keepdims=keepdims)
    assert out.shape == np.shape(expected)
    np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-14)
    assert gradcheck(lambda t: f(t, axis=axis, keepdims=keepdims), x)


def test_activations_stay_finite_for_huge_inputs():
    x = Tensor(np.array([-1000.0, -50.0, 0.0, 50.0, 1000.0]), requires_grad=True)
    for name in ("softplus", "silu", "elu", "gelu", "leaky_relu"):
        x.zero_grad()
        with np.errstate(over="raise", divide="raise", invalid="raise"):
            out = getattr(x, name)()
            out.sum().backward()
        assert np.isfinite(out.data).all() and np.isfinite(x.grad).all(), name
    np.testing.assert_array_equal(
        x.softplus().data, [0.0, np.log1p(np.exp(-50.0)), np.log(2.0), 50.0, 1000.0]
    )


def test_gelu_tanh_form_is_close_to_the_exact_one():
    x = Tensor(np.linspace(-5, 5, 101))
    gap = np.abs(x.gelu().data - x.gelu(approximate="tanh").data).max()
    assert 1e-5 < gap < 1e-3  # two different functions, close (Hendrycks and Gimpel)


def test_erf_matches_math_erf_everywhere():
    x = np.concatenate([np.linspace(-7, 7, 40001), [0.0, -0.0, 1e-300, 2.0, 6.0, 30.0]])
    expected = np.array([math.erf(v) for v in x])
    np.testing.assert_allclose(erf(x), expected, rtol=5e-15, atol=0)
    assert erf(np.float32(0.5)).dtype == np.float32
    for v in (0.3, -3.0, 7.0):  # 0-d arrays on each of the three paths
        assert erf(np.array(v)).item() == pytest.approx(math.erf(v), rel=5e-15)
    assert np.isnan(erf(np.array([np.nan]))).all()
    np.testing.assert_array_equal(erf(np.array([np.inf, -np.inf])), [1.0, -1.0])


def test_boolean_mask_from_a_comparison_selects_and_routes_gradient():
    x = Tensor(np.array([[1.0, -2.0], [-3.0, 4.0]]), requires_grad=True)
    picked = x[x > 0]
    np.testing.assert_array_equal(picked.data, [1.0, 4.0])
    (picked * picked).sum().backward()
    np.testing.assert_array_equal(x.grad, [[2.0, 0.0], [0.0, 8.0]])


def test_split_pieces_cover_the_axis():
    x = Tensor(np.arange(14.0).reshape(7, 2), requires_grad=True)
    pieces = x.split(3)
    assert [p.shape for p in pieces] == [(3, 2), (3, 2), (1, 2)]
    sum((i + 1) * p.sum() for i, p in enumerate(pieces)).backward()
    np.testing.assert_array_equal(x.grad[:, 0], [1, 1, 1, 2, 2, 2, 3])
    assert [p.shape for p in x.split([0, 7, 0])] == [(0, 2), (7, 2), (0, 2)]


# ----------------------------------------------------------------------------- errors

A23 = Tensor(np.zeros((2, 3)))
A4 = Tensor(np.zeros(4))
EMPTY = Tensor(np.zeros((0, 3)))

# (id, call, exception, message pattern): each names the op and the shapes involved
ERRORS = [
    (
        "maximum-shapes",
        lambda: A23.maximum(A4),
        ValueError,
        r"^maximum: shapes \(2, 3\) and \(4,\) cannot be broadcast",
    ),
    (
        "minimum-shapes",
        lambda: F.minimum(A4, A23),
        ValueError,
        r"^minimum: shapes \(4,\) and \(2, 3\) cannot be broadcast",
    ),
    (
        "pow-shapes",
        lambda: A23**A4,
        ValueError,
        r"^pow: shapes \(2, 3\) and \(4,\) cannot be broadcast",
    ),
    (
        "where-shapes",
        lambda: F.where(A4 > 0, A23, 0.0),
        ValueError,
        r"^where: shapes \(4,\) and \(2, 3\) and \(\) cannot be broadcast",
    ),
    (
        "where-float-condition",
        lambda: F.where(A23, A23, A23),
        ValueError,
        r"^where: the condition must be a bool tensor .*float64 of shape \(2, 3\)",
    ),
    (
        "lt-shapes",
        lambda: A23 < A4,
        ValueError,
        r"^less: shapes \(2, 3\) and \(4,\) cannot be broadcast",
    ),
    (
        "eq-shapes",
        lambda: A23 == A4,
        ValueError,
        r"^equal: shapes \(2, 3\) and \(4,\) cannot be broadcast",
    ),
    ("clip-no-bounds", lambda: A23.clip(), ValueError, r"^clip: give min, max or both"),
    ("clip-crossed", lambda: A23.clip(2, 1), ValueError, r"^clip: min 2 is greater than max 1"),
    ("clip-tensor-bound", lambda: A23.clip(A4), ValueError, r"^clip: min must be a number or None"),
    (
        "min-empty",
        lambda: EMPTY.min(),
        ValueError,
        r"^min: cannot reduce an empty tensor of shape \(0, 3\)",
    ),
    (
        "min-axis",
        lambda: A23.min(axis=2),
        ValueError,
        r"^min: .*axis 2 is out of range for 2 dimensions",
    ),
    (
        "argmax-empty",
        lambda: EMPTY.argmax(),
        ValueError,
        r"^argmax: nothing to choose from along axis None of shape \(0, 3\)",
    ),
    (
        "argmin-empty-axis",
        lambda: EMPTY.argmin(axis=0),
        ValueError,
        r"^argmin: nothing to choose from along axis 0 of shape \(0, 3\)",
    ),
    (
        "argmax-tuple-axis",
        lambda: A23.argmax(axis=(0, 1)),
        ValueError,
        r"^argmax: axis must be an int or None",
    ),
    (
        "argmax-axis-range",
        lambda: A23.argmax(axis=-3),
        ValueError,
        r"^argmax: .*\(2, 3\).*axis -3 is out of range",
    ),
    (
        "prod-axis",
        lambda: A23.prod(axis=5),
        ValueError,
        r"^prod: .*\(2, 3\).*axis 5 is out of range",
    ),
    ("var-axis", lambda: A23.var(axis=2), ValueError, r"^var: .*\(2, 3\).*axis 2 is out of range"),
    (
        "std-axis",
        lambda: A23.std(axis=(0, 4)),
        ValueError,
        r"^std: .*\(2, 3\).*axis 4 is out of range",
    ),
    (
        "logsumexp-axis",
        lambda: A23.logsumexp(axis=3),
        ValueError,
        r"^logsumexp: .*\(2, 3\).*axis 3",
    ),
    (
        "flatten-order",
        lambda: A23.flatten(1, 0),
        ValueError,
        r"^flatten: start_axis 1 comes after end_axis 0 for shape \(2, 3\)",
    ),
    (
        "flatten-axis",
        lambda: A23.flatten(3),
        ValueError,
        r"^flatten: .*\(2, 3\).*axis 3 is out of range",
    ),
    (
        "squeeze-wide",
        lambda: A23.squeeze(1),
        ValueError,
        r"^squeeze: axis 1 of shape \(2, 3\) has size 3, not 1",
    ),
    (
        "unsqueeze-axis",
        lambda: A23.unsqueeze(4),
        ValueError,
        r"^unsqueeze: .*\(2, 3\).*axis 4 is out of range for 3",
    ),
    (
        "expand-wide",
        lambda: A23.expand(4, 3),
        ValueError,
        r"^expand: cannot expand shape \(2, 3\) to \(4, 3\)",
    ),
    (
        "expand-fewer-axes",
        lambda: A23.expand(3),
        ValueError,
        r"^expand: cannot expand shape \(2, 3\) to \(3,\)",
    ),
    (
        "expand-new-minus-one",
        lambda: A4.expand(-1, 4),
        ValueError,
        r"^expand: cannot expand shape \(4,\) to \(-1, 4\)",
    ),
    ("pad-negative", lambda: A23.pad(-1), ValueError, r"^pad: pad_width must not be negative"),
    (
        "pad-axes",
        lambda: A23.pad(((1, 1), (1, 1), (1, 1))),
        ValueError,
        r"^pad: pad_width .* does not fit the 2 axes of shape \(2, 3\)",
    ),
    ("pad-float", lambda: A23.pad(1.5), ValueError, r"^pad: pad_width must be integers"),
    ("pad-value", lambda: A23.pad(1, value="x"), ValueError, r"^pad: value must be a number"),
    ("flip-axis", lambda: A23.flip(2), ValueError, r"^flip: .*\(2, 3\).*axis 2 is out of range"),
    (
        "permute-repeat",
        lambda: A23.permute(0, 0),
        ValueError,
        r"^permute: axes \(0, 0\) are not a permutation of the 2 axes of shape \(2, 3\)",
    ),
    (
        "permute-short",
        lambda: A23.permute(1),
        ValueError,
        r"^permute: axes \(1,\) are not a permutation",
    ),
    (
        "cat-shapes",
        lambda: F.cat([A23, A4]),
        ValueError,
        r"^concatenate: shapes \(2, 3\), \(4,\) differ outside axis 0",
    ),
    (
        "cat-axis1-shapes",
        lambda: F.cat([A23, EMPTY], axis=1),
        ValueError,
        r"^concatenate: shapes \(2, 3\), \(0, 3\) differ outside axis 1",
    ),
    ("cat-nothing", lambda: F.cat([]), ValueError, r"^concatenate: needs at least one tensor"),
    (
        "cat-0d",
        lambda: F.cat([Tensor(1.0), Tensor(2.0)]),
        ValueError,
        r"^concatenate: cannot join 0-d tensors \(shapes \(\), \(\)\)",
    ),
    (
        "cat-axis",
        lambda: F.cat([A23, A23], axis=2),
        ValueError,
        r"^concatenate: .*axis 2 is out of range",
    ),
    (
        "stack-shapes",
        lambda: F.stack([A23, A23.T]),
        ValueError,
        r"^stack: shapes \(2, 3\), \(3, 2\) differ",
    ),
    ("stack-nothing", lambda: F.stack([]), ValueError, r"^stack: needs at least one tensor"),
    (
        "stack-axis",
        lambda: F.stack([A4, A4], axis=2),
        ValueError,
        r"^stack: .*axis 2 is out of range for 2",
    ),
    (
        "split-sizes",
        lambda: A23.split([1, 1], axis=1),
        ValueError,
        r"^split: sizes \[1, 1\] do not add up to 3, the length of axis 1 of shape \(2, 3\)",
    ),
    (
        "split-length",
        lambda: A23.split(0),
        ValueError,
        r"^split: piece length must be at least 1, got 0",
    ),
    ("split-0d", lambda: Tensor(1.0).split(1), ValueError, r"^split: cannot split a 0-d tensor"),
    (
        "split-sections-type",
        lambda: A23.split(True),
        ValueError,
        r"^split: sections must be a piece length or a list of lengths, got True",
    ),
    (
        "split-axis",
        lambda: A23.split(1, axis=2),
        ValueError,
        r"^split: axis 2 is out of range for shape \(2, 3\)",
    ),
    (
        "gelu-approximate",
        lambda: A23.gelu(approximate="erf"),
        ValueError,
        r"^gelu: approximate must be 'none' or 'tanh', got 'erf'",
    ),
    (
        "softplus-beta",
        lambda: A23.softplus(beta=0),
        ValueError,
        r"^softplus: beta must be positive, got 0",
    ),
    (
        "leaky_relu-slope",
        lambda: A23.leaky_relu("x"),
        ValueError,
        r"^leaky_relu: negative_slope must be a number",
    ),
    ("elu-alpha", lambda: F.elu(A23, alpha=None), ValueError, r"^elu: alpha must be a number"),
    (
        "pow-exponent-type",
        lambda: A23 ** "x",
        TypeError,
        r"^pow: the exponent must be a number, got str",
    ),
    (
        "zeros-negative",
        lambda: Tensor.zeros(2, -1),
        ValueError,
        r"^zeros: negative dimension in shape \(2, -1\)",
    ),
    (
        "ones-float-shape",
        lambda: Tensor.ones((2.5, 3)),
        TypeError,
        r"^ones: shape must be integers, got \(2.5, 3\)",
    ),
    (
        "full-value",
        lambda: Tensor.full((2,), "x"),
        TypeError,
        r"^full: fill_value must be a number",
    ),
    (
        "randn-int-dtype",
        lambda: Tensor.randn(2, dtype=np.int64),
        TypeError,
        r"^randn: dtype must be a float dtype, got int64",
    ),
    (
        "rand_like-int",
        lambda: Tensor.rand_like(np.zeros(3, np.int32)),
        TypeError,
        r"^rand_like: dtype must be a float dtype, got int32",
    ),
    (
        "randn-rng",
        lambda: Tensor.randn(2, rng="seed"),
        TypeError,
        r"rng must be a numpy Generator, an int seed or None",
    ),
    ("arange-step", lambda: Tensor.arange(0, 5, 0), ValueError, r"^arange: step must not be 0"),
    ("arange-type", lambda: Tensor.arange("5"), TypeError, r"^arange: start must be a number"),
    (
        "eye-negative",
        lambda: Tensor.eye(-2),
        ValueError,
        r"^eye: negative dimension in shape \(-2, -2\)",
    ),
    (
        "int-requires-grad",
        lambda: Tensor.zeros(2, dtype=np.int64, requires_grad=True),
        TypeError,
        r"only float tensors can require grad",
    ),
]


@pytest.mark.parametrize(
    ("call", "exc", "pattern"), [pytest.param(*e[1:], id=e[0]) for e in ERRORS]
)
def test_errors_name_the_op_and_the_shapes(call, exc, pattern):
    with pytest.raises(exc, match=pattern) as info:
        call()
    again = pickle.loads(pickle.dumps(info.value))  # every exception survives pickling
    assert type(again) is type(info.value) and str(again) == str(info.value)


# ----------------------------------------------------------------------------- names in graphs

X = np.array([[0.5, 1.0, 2.0], [1.5, 0.25, 0.75]])  # in every op's domain

# (fn of a (2, 3) parameter, the op label a drawing shows for the op that made the result)
NAMES = [
    (lambda x: x.sqrt(), "sqrt"),
    (lambda x: x.abs(), "abs"),
    (lambda x: x.log1p(), "log1p"),
    (lambda x: x.expm1(), "expm1"),
    (lambda x: x.sin(), "sin"),
    (lambda x: x.cos(), "cos"),
    (lambda x: x.erf(), "erf"),
    (lambda x: x.clip(0, 1), "clip"),
    (lambda x: x.maximum(0.0), "maximum"),
    (lambda x: x.minimum(0.0), "minimum"),
    (lambda x: F.where(x > 0, x, 0.0), "where"),
    (lambda x: x**x, "pow"),
    (lambda x: 2**x, "pow"),
    (lambda x: x.min(), "min"),
    (lambda x: x.prod(), "prod"),
    (lambda x: x.var(ddof=1), "var"),
    (lambda x: x.std(), "std"),
    (lambda x: x.logsumexp(axis=1), "logsumexp"),
    (lambda x: x.flatten(), "flatten"),
    (lambda x: x.unsqueeze(0).squeeze(0), "squeeze"),
    (lambda x: x.unsqueeze(0), "unsqueeze"),
    (lambda x: x.expand(4, 2, 3), "expand"),
    (lambda x: x.pad(1), "pad"),
    (lambda x: x.flip(), "flip"),
    (lambda x: x.permute(1, 0), "permute"),
    (lambda x: F.cat([x, x]), "concatenate"),
    (lambda x: F.stack([x, x]), "stack"),
    (lambda x: x.split(1)[0], "split"),
    (lambda x: x.leaky_relu(), "leaky_relu"),
    (lambda x: x.elu(), "elu"),
    (lambda x: x.gelu(), "gelu"),
    (lambda x: x.silu(), "silu"),
    (lambda x: x.softplus(), "softplus"),
    (lambda x: losses.cross_entropy(x, [0, 2]), "cross_entropy"),
]


@pytest.mark.parametrize(("fn", "name"), NAMES, ids=[n for _, n in NAMES])
def test_each_op_is_drawn_by_its_name(fn, name):
    out = fn(Tensor(X.copy(), requires_grad=True))
    assert out.op.name == name
    assert f"[label={name} " in viz.draw(out.sum()).source


@pytest.mark.parametrize(
    ("fn", "name"),
    [
        (lambda x: losses.mse_loss(x, np.zeros((2, 3))), "mse_loss"),
        (lambda x: losses.l1_loss(x, np.zeros((2, 3))), "l1_loss"),
        (lambda x: losses.huber_loss(x, np.zeros((2, 3))), "huber_loss"),
        (
            lambda x: losses.binary_cross_entropy_with_logits(x, np.ones((2, 3))),
            "binary_cross_entropy_with_logits",
        ),
    ],
)
def test_composite_losses_are_drawn_under_their_name(fn, name):
    out = fn(Tensor(X.copy(), requires_grad=True))
    assert [entry.name for entry in out.op.scope] == [name]
    assert name in viz.draw(out).source  # the label read 'Composite()' before


# ----------------------------------------------------------------------------- broadcasting

BINARY = {
    "maximum": (lambda a, b: a.maximum(b), np.maximum),
    "minimum": (lambda a, b: F.minimum(a, b), np.minimum),
    "pow": (lambda a, b: abs(a) ** b, lambda a, b: np.abs(a) ** b),
    "where": (lambda a, b: F.where(a > b, a, b * 2), lambda a, b: np.where(a > b, a, b * 2)),
}


@settings(max_examples=40, deadline=None)
@given(
    shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3),
    op=st.sampled_from(sorted(BINARY)),
    seed=st.integers(0, 2**32 - 1),
)
def test_binary_ops_broadcast_any_compatible_shapes(shapes, op, seed):
    rng = np.random.default_rng(seed)
    shape_a, shape_b = shapes.input_shapes
    a = rng.choice([-1.0, 1.0], size=shape_a) * rng.uniform(0.5, 2.0, size=shape_a)  # |a|: a base
    b = rng.uniform(-2.0, 2.0, size=shape_b)
    f, ref = BINARY[op]
    ta, tb = Tensor(a, requires_grad=True), Tensor(b, requires_grad=True)
    out = f(ta, tb)
    assert out.shape == shapes.result_shape
    np.testing.assert_allclose(out.data, ref(a, b), rtol=1e-12, atol=1e-12)
    if op in ("maximum", "minimum", "where") and np.any(
        np.isclose(*np.broadcast_arrays(a, b), atol=1e-4)
    ):
        return  # a near-tie: the numerical gradient straddles the kink
    assert gradcheck(f, ta, tb)


# ----------------------------------------------------------------------------- constructors


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda **kw: Tensor.zeros(2, 3, **kw), np.zeros((2, 3))),
        (lambda **kw: Tensor.zeros((2, 3), **kw), np.zeros((2, 3))),
        (lambda **kw: Tensor.zeros(**kw), np.zeros(())),
        (lambda **kw: Tensor.ones([0, 4], **kw), np.ones((0, 4))),
        (lambda **kw: Tensor.ones(3, **kw), np.ones(3)),
        (lambda **kw: Tensor.full((2, 2), -1.5, **kw), np.full((2, 2), -1.5)),
        (lambda **kw: Tensor.full(3, 7, **kw), np.full(3, 7.0)),
        (lambda **kw: Tensor.full((), 2.0, **kw), np.array(2.0)),
        (lambda **kw: Tensor.arange(5, **kw), np.arange(5.0)),
        (lambda **kw: Tensor.arange(1, 2, 0.25, **kw), np.arange(1, 2, 0.25)),
        (lambda **kw: Tensor.arange(3, 0, -1, **kw), np.array([3.0, 2.0, 1.0])),
        (lambda **kw: Tensor.arange(0, **kw), np.zeros(0)),
        (lambda **kw: Tensor.eye(3, **kw), np.eye(3)),
        (lambda **kw: Tensor.eye(2, 4, **kw), np.eye(2, 4)),
        (lambda **kw: Tensor.zeros_like(Tensor(np.ones((2, 3))), **kw), np.zeros((2, 3))),
        (lambda **kw: Tensor.ones_like(np.zeros((3, 1)), **kw), np.ones((3, 1))),
        (lambda **kw: Tensor.full_like(Tensor(np.ones(4)), 0.5, **kw), np.full(4, 0.5)),
    ],
)
def test_constructors_values_dtypes_and_requires_grad(make, expected):
    default = make()
    np.testing.assert_array_equal(default.data, expected)
    assert default.shape == expected.shape and not default.requires_grad
    like = any("like" in name for name in make.__code__.co_names)  # float64 like the other
    assert default.dtype == (np.float64 if like else np.float32)  # else the default dtype
    p = make(dtype=np.float64, requires_grad=True)
    assert p.dtype == np.float64 and p.requires_grad and p.is_leaf
    i = make(dtype=np.int64)
    assert i.dtype == np.int64
    np.testing.assert_array_equal(i.data, expected.astype(np.int64))


def test_random_constructors_follow_the_rng_and_the_dtype():
    a = Tensor.randn(3, 4, rng=7)
    assert a.shape == (3, 4) and a.dtype == np.float32
    expected = np.random.default_rng(7).standard_normal((3, 4)).astype(np.float32)
    np.testing.assert_array_equal(a.data, expected)
    gen = np.random.default_rng(1)
    b = Tensor.rand((2, 5), rng=gen, dtype=np.float64, requires_grad=True)
    assert b.requires_grad and b.dtype == np.float64
    np.testing.assert_array_equal(b.data, np.random.default_rng(1).random((2, 5)))
    assert ((b.data >= 0) & (b.data < 1)).all()
    assert not np.array_equal(Tensor.rand(5, rng=gen).data, Tensor.rand(5, rng=gen).data)
    c = Tensor.randn_like(Tensor(np.zeros((2, 2))), rng=3)
    assert c.dtype == np.float64 and c.shape == (2, 2)
    np.testing.assert_array_equal(c.data, np.random.default_rng(3).standard_normal((2, 2)))
    d = Tensor.rand_like(np.zeros(4, np.float32), rng=3, requires_grad=True)
    assert d.dtype == np.float32 and d.requires_grad
    assert Tensor.randn(0, 3).shape == (0, 3) and Tensor.randn().shape == ()
    assert Tensor.randn(2, dtype=np.float16, rng=0).dtype == np.float16


def test_constructors_follow_set_default_dtype():
    tg.set_default_dtype(np.float64)
    assert Tensor.zeros(2).dtype == Tensor.randn(2).dtype == Tensor.arange(3).dtype == np.float64
    assert Tensor.eye(2).dtype == Tensor.full(1, 3).dtype == np.float64


# ----------------------------------------------------------------------------- nn modules


@pytest.mark.parametrize(
    ("module", "method"),
    [
        (tg.nn.LeakyReLU(), lambda x: x.leaky_relu()),
        (tg.nn.LeakyReLU(0.2), lambda x: x.leaky_relu(0.2)),
        (tg.nn.ELU(alpha=0.5), lambda x: x.elu(0.5)),
        (tg.nn.GELU(), lambda x: x.gelu()),
        (tg.nn.GELU(approximate="tanh"), lambda x: x.gelu(approximate="tanh")),
        (tg.nn.SiLU(), lambda x: x.silu()),
        (tg.nn.Softplus(beta=2.0), lambda x: x.softplus(2.0)),
    ],
    ids=lambda v: repr(v) if isinstance(v, tg.nn.Module) else "",
)
def test_activation_modules_apply_their_op_and_rebuild_from_config(module, method, tmp_path):
    x = Tensor(np.linspace(-3, 3, 12).reshape(3, 4), requires_grad=True)
    np.testing.assert_array_equal(module(x).data, method(x).data)
    assert module.parameters() == []
    out = module(x)
    assert out.op.scope == (module,)  # drawn inside the module's cluster
    twin = type(module).from_config(module.config())
    np.testing.assert_array_equal(twin(x).data, out.data)
    tg.save(module, tmp_path / "act.npz")
    again = tg.load(tmp_path / "act.npz")
    assert type(again) is type(module) and repr(again) == repr(module)


def test_activation_modules_in_a_sequential_network_train():
    rng = np.random.default_rng(0)
    net = tg.nn.Sequential(
        tg.nn.Linear(4, 8, rng=rng), tg.nn.GELU(), tg.nn.Linear(8, 8, rng=rng), tg.nn.SiLU(),
        tg.nn.Linear(8, 3, rng=rng), tg.nn.LeakyReLU(0.1),
    )  # fmt: skip
    x = Tensor(rng.normal(size=(16, 4)).astype(np.float32))
    y = rng.integers(0, 3, size=16)
    opt = tg.optim.Adam(net.parameters(), lr=0.02)
    first = None
    for _ in range(60):
        loss = losses.cross_entropy(net(x), y, label_smoothing=0.05)
        first = loss.item() if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.5 * first


def test_activation_module_arguments_are_checked():
    with pytest.raises(ValueError, match=r"^GELU: approximate must be 'none' or 'tanh', got 'x'"):
        tg.nn.GELU("x")
    with pytest.raises(ValueError, match=r"^Softplus: beta must be a positive number, got -1"):
        tg.nn.Softplus(beta=-1)


# ----------------------------------------------------------------------------- second order


def _r(*shape, lo=-1.0, hi=1.0, seed=0):
    return np.random.default_rng(seed).uniform(lo, hi, size=shape)


def _away(*shape, seed=0):
    rng = np.random.default_rng(seed)
    return rng.choice([-1.0, 1.0], size=shape) * rng.uniform(0.3, 1.5, size=shape)


# (id, fn of Tensors, input arrays): each op's tensor_backward (its rule as Tensor ops) is
# checked against the numpy backward and, differentiated again, against central differences
SECOND_ORDER = [
    ("sqrt", lambda a: a.sqrt(), [_r(5, lo=0.5, hi=2)]),
    ("abs", lambda a: a.abs(), [_away(5)]),
    ("log1p", lambda a: a.log1p(), [_r(5, lo=-0.5, hi=2)]),
    ("expm1", lambda a: a.expm1(), [_r(2, 3)]),
    ("sin", lambda a: a.sin(), [_r(4)]),
    ("cos", lambda a: a.cos(), [_r(4)]),
    ("erf", lambda a: a.erf(), [_r(2, 3, lo=-2, hi=2)]),
    ("clip", lambda a: a.clip(-0.5, 0.5), [_r(6)]),
    ("maximum", lambda a, b: a.maximum(b), [_r(2, 3), _r(3, seed=1)]),
    ("minimum", lambda a, b: F.minimum(a, b), [_r(3, 1), _r(1, 4, seed=1)]),
    ("where", lambda a, b: F.where(MASK, a, b), [_r(2, 3), _r(3, seed=1)]),
    ("pow tensors", lambda a, b: a**b, [_r(2, 3, lo=0.5, hi=2), _r(3, seed=1)]),
    ("pow negative base", lambda a: a ** Tensor(INT_EXP), [_away(2, 3)]),
    ("number ** tensor", lambda a: 3.0**a, [_r(4)]),
    ("min", lambda a: a.min(axis=1), [DISTINCT(2, 3)(np.random.default_rng(0))]),
    ("prod", lambda a: a.prod(axis=0), [_away(3, 2)]),
    ("var", lambda a: a.var(axis=1, ddof=1), [_r(2, 4)]),
    ("std", lambda a: a.std(), [_r(2, 3)]),
    ("logsumexp", lambda a: a.logsumexp(axis=-1, keepdims=True), [_r(2, 3)]),
    ("flatten", lambda a: a.flatten(), [_r(2, 3)]),
    ("squeeze unsqueeze", lambda a: a.unsqueeze(0).squeeze(), [_r(2, 1)]),
    ("expand", lambda a: a.expand(2, 3, 2), [_r(3, 1)]),
    ("pad", lambda a: a.pad(((1, 0), (2, 1))), [_r(2, 3)]),
    ("flip", lambda a: a.flip(0), [_r(2, 3)]),
    ("permute", lambda a: a.permute(1, 0), [_r(2, 3)]),
    ("cat", lambda a, b: F.cat([a, b], axis=1), [_r(2, 1), _r(2, 3, seed=1)]),
    ("stack", lambda a, b: F.stack([a, b], axis=-1), [_r(2, 3), _r(2, 3, seed=1)]),
    ("split", lambda a: a.split([1, 2], axis=1)[1], [_r(2, 3)]),
    ("leaky_relu", lambda a: a.leaky_relu(0.2), [_away(5)]),
    ("elu", lambda a: a.elu(0.7), [_away(5)]),
    ("gelu", lambda a: a.gelu(), [_r(5, lo=-2, hi=2)]),
    ("gelu tanh", lambda a: a.gelu(approximate="tanh"), [_r(5, lo=-2, hi=2)]),
    ("silu", lambda a: a.silu(), [_r(5, lo=-2, hi=2)]),
    ("softplus", lambda a: a.softplus(beta=2.0), [_r(5, lo=-2, hi=2)]),
    ("cross_entropy", lambda z: losses.cross_entropy(z, [2, 0, 1]), [_r(3, 3)]),
    (
        "cross_entropy probabilities",
        lambda z: losses.cross_entropy(
            z, np.full((3, 4), 0.25), weight=np.array([1.0, 2.0, 0.5, 1.0]), reduction="none"
        ),
        [_r(3, 4)],
    ),
    ("mse_loss", lambda a: losses.mse_loss(a, np.zeros((2, 3))), [_r(2, 3)]),
    ("huber_loss", lambda a: losses.huber_loss(a, np.zeros(5), delta=0.5), [_away(5)]),
    (
        "bce_with_logits",
        lambda a: losses.binary_cross_entropy_with_logits(a, np.array([0.0, 1.0, 0.3])),
        [_r(3)],
    ),
]


@pytest.mark.parametrize(("fn", "arrays"), [pytest.param(*c[1:], id=c[0]) for c in SECOND_ORDER])
def test_second_order_rules(fn, arrays):
    f = squared_head(fn)
    ts = [Tensor(np.array(a, dtype=np.float64), requires_grad=True) for a in arrays]
    for got, want in zip(grad(f(*ts), ts), engine_grads(f, arrays)):
        np.testing.assert_allclose(got.data, want, rtol=1e-12, atol=1e-12)
    vs = [_r(*np.shape(a), seed=11 + i) for i, a in enumerate(arrays)]
    for got, want in zip(graph_hvp(f, arrays, vs), numeric_hvp(f, arrays, vs)):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)

"""Every op's code template computes the same bits as its forward and backward, alone and in
random graphs, in float32 and float64 (arguments with gradients, broadcasting both ways)."""

import numpy as np
import pytest

import tinygrad_nn as tg
from tinygrad_nn import Tensor, softmax_cross_entropy
from tinygrad_nn.nn import l2_penalty

F = tg.Function


def _sum(t):
    return t.sum() if t.ndim else t


# name -> (function of Tensors, input shapes); positive inputs where log/pow/div need them
CASES = {
    "add": (lambda a, b: a + b, [(3, 4), (4,)]),
    "add_broadcast_left": (lambda a, b: a + b, [(1, 4), (3, 1)]),
    "sub": (lambda a, b: a - b, [(3, 4), (3, 4)]),
    "sub_scalar": (lambda a: 2.5 - a, [(3,)]),
    "neg": (lambda a: -a, [(2, 3)]),
    "mul": (lambda a, b: a * b, [(3, 4), (3, 1)]),
    "mul_0d": (lambda a, b: a * b, [(), (3,)]),
    "div": (lambda a, b: a / b, [(3, 4), (4,)]),
    "pow2": (lambda a: a**2, [(3, 4)]),
    "pow_half": (lambda a: a**0.5, [(3, 4)]),
    "pow_3": (lambda a: a**3.0, [(5,)]),
    "rpow": (lambda a: 2.0**a, [(4,)]),
    "exp": (lambda a: a.exp(), [(3, 4)]),
    "log": (lambda a: a.log(), [(3, 4)]),
    "sum_axis": (lambda a: a.sum(axis=1), [(3, 4)]),
    "sum_keepdims": (lambda a: a.sum(axis=0, keepdims=True), [(3, 4)]),
    "mean": (lambda a: a.mean(axis=(0, 2)), [(2, 3, 4)]),
    "max": (lambda a: a.max(axis=1), [(3, 4)]),
    "max_all": (lambda a: a.max(), [(3, 4)]),
    "reshape": (lambda a: a.reshape(4, 3) * 2, [(3, 4)]),
    "transpose": (lambda a: a.transpose((1, 0, 2)) * 2, [(2, 3, 4)]),
    "getitem_basic": (lambda a: a[1:, ::2] * 2, [(3, 4)]),
    "matmul": (lambda a, b: a @ b, [(3, 4), (4, 2)]),
    "matmul_vec": (lambda a, b: a @ b, [(4,), (4, 2)]),
    "matmul_batched": (lambda a, b: a @ b, [(2, 3, 4), (4, 5)]),
    "linear": (lambda x, w, b: tg.ops.Linear.apply(x, w, b), [(5, 3), (3, 4), (4,)]),
    "linear_3d": (lambda x, w: tg.ops.Linear.apply(x, w), [(2, 5, 3), (3, 4)]),
    "sigmoid": (lambda a: a.sigmoid(), [(3, 4)]),
    "tanh": (lambda a: a.tanh(), [(3, 4)]),
    "relu": (lambda a: a.relu(), [(3, 4)]),
    "softmax": (lambda a: a.softmax(axis=0), [(3, 4)]),
    "log_softmax": (lambda a: a.log_softmax(), [(3, 4)]),
    "cross_entropy": (lambda a: softmax_cross_entropy(a, [0, 2, 1]), [(3, 4)]),
    "l2": (lambda a, b: l2_penalty([a, b], 0.3, 7), [(3, 4), (2, 2)]),
    "empty": (lambda a: (a * 2).sum(axis=0), [(0, 3)]),
}
POSITIVE = {"log", "pow_half", "div", "rpow"}


def _inputs(name, shapes, dtype, seed):
    rng = np.random.default_rng(seed)
    arrays = [rng.normal(size=s).astype(dtype) for s in shapes]
    if name in POSITIVE:
        arrays = [np.abs(a) + np.asarray(0.5, dtype) for a in arrays]
    return arrays


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(CASES))
def test_each_op_template_is_exact(name, dtype):
    build, shapes = CASES[name]

    def step(*ts):
        out = build(*ts)
        _sum(out * out).backward()
        return out

    compiled = tg.compile(step)
    for seed in range(3):  # the first call traces, the others run the generated code
        arrays = _inputs(name, shapes, dtype, seed)
        eager_in = [Tensor(a, requires_grad=True) for a in arrays]
        comp_in = [Tensor(a, requires_grad=True) for a in arrays]
        expected = step(*eager_in)
        got = compiled(*comp_in)
        assert got.dtype == expected.dtype
        assert np.array_equal(got.data, expected.data, equal_nan=True), name
        for e, c in zip(eager_in, comp_in):
            assert np.array_equal(c.grad, e.grad, equal_nan=True), name
    assert compiled.traces == 1


_UNARY = [
    lambda t: t.sigmoid(),
    lambda t: t.tanh(),
    lambda t: t.relu(),
    lambda t: -t,
    lambda t: t * 0.7,
    lambda t: (t * t + 1.0).log(),
    lambda t: t.softmax(),
    lambda t: t.exp() * 0.1,
    lambda t: t - t.mean(axis=0, keepdims=True),
]
_BINARY = [
    lambda a, b: a + b,
    lambda a, b: a - b,
    lambda a, b: a * b,
    lambda a, b: a / (b * b + 1.0),
    lambda a, b: a @ b.T @ a,
]


def _random_graph(seed, dtype):
    """A random graph of ops over an argument x and two parameters (weights shared)."""
    rng = np.random.default_rng(seed)
    params = [Tensor(rng.normal(size=(4, 4)).astype(dtype), requires_grad=True) for _ in range(2)]
    plan = [
        (int(rng.integers(2)), int(rng.integers(9)), int(rng.integers(5)), rng.integers(0, 9, 2))
        for _ in range(8)
    ]

    def fn(x):
        pool = [Tensor(x), *params]
        for kind, u, b, (i, j) in plan:
            a, c = pool[i % len(pool)], pool[j % len(pool)]
            pool.append(_UNARY[u](a) if kind == 0 else _BINARY[b](a, c))
        loss = sum((t * t).mean() for t in pool[3:])
        for p in params:
            p.zero_grad()
        loss.backward()
        return loss, pool[-1]

    return params, fn


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("seed", range(12))
def test_random_graphs_replay_exactly(seed, dtype):
    eager_params, eager = _random_graph(seed, dtype)
    comp_params, fn = _random_graph(seed, dtype)
    compiled = tg.compile(fn)
    rng = np.random.default_rng(100 + seed)
    for _ in range(3):
        x = rng.normal(size=(4, 4)).astype(dtype)
        (e_loss, e_out), (c_loss, c_out) = eager(x), compiled(x)
        assert np.array_equal(c_loss.data, e_loss.data, equal_nan=True)
        assert np.array_equal(c_out.data, e_out.data, equal_nan=True)
        for e, c in zip(eager_params, comp_params):
            assert np.array_equal(c.grad, e.grad, equal_nan=True)


def test_the_source_printed_in_how_it_works_is_what_compile_writes_today():
    from pathlib import Path

    from tinygrad_nn import nn, optim, train

    doc = (Path(__file__).resolve().parent.parent / "docs" / "how-it-works.md").read_text()
    printed = doc.split("```python\ndef step(x, y):", 1)[1].split("```", 1)[0]
    model = nn.MLP([64, 48, 32, 10], "sigmoid", output_activation="sigmoid", rng=0)
    step = train.training_step(model, optim.SGD(model.parameters(), 0.2, 0.9), 0.6, compiled=True)
    rng = np.random.default_rng(0)
    step(rng.random((721, 64), dtype=np.float32), rng.integers(0, 10, 721))
    assert ("def step(x, y):" + printed).rstrip() == step.source.rstrip()

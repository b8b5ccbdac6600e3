"""conv2d, max_pool2d and avg_pool2d: forward against direct loops, gradients against
float64 central differences, errors that name the op and the shapes."""

import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_nn as tg
from tinygrad_nn import Tensor, gradcheck, ops
from tinygrad_nn.nn import functional as F

# ----------------------------------------------------------------------------- loop references


def _pad(x, padding, fill=0.0):
    ph, pw = padding
    return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=fill)


def _out_size(size, k, s, p, d):
    return (size + 2 * p - d * (k - 1) - 1) // s + 1


def loop_conv2d(x, w, b, stride, padding, dilation, groups):
    """out[n, o, i, j] = b[o] + sum over c, p, q of w[o, c, p, q] x_pad[n, c', i s + p d, ...]."""
    n, _, h, wd = x.shape
    o, cg, kh, kw = w.shape
    (sh, sw), (dh, dw) = stride, dilation
    xp = _pad(x, padding)
    oh = _out_size(h, kh, sh, padding[0], dh)
    ow = _out_size(wd, kw, sw, padding[1], dw)
    out = np.zeros((n, o, oh, ow))
    per_group = o // groups
    for ni in range(n):
        for oi in range(o):
            first = (oi // per_group) * cg
            for i in range(oh):
                for j in range(ow):
                    total = 0.0 if b is None else b[oi]
                    for ci in range(cg):
                        for p in range(kh):
                            for q in range(kw):
                                pixel = xp[ni, first + ci, i * sh + p * dh, j * sw + q * dw]
                                total += w[oi, ci, p, q] * pixel
                    out[ni, oi, i, j] = total
    return out


def loop_pool(x, kernel, stride, padding, dilation, reduce, fill):
    n, c, h, wd = x.shape
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    xp = _pad(x, padding, fill)
    oh = _out_size(h, kh, sh, padding[0], dh)
    ow = _out_size(wd, kw, sw, padding[1], dw)
    out = np.zeros((n, c, oh, ow))
    for ni in range(n):
        for ci in range(c):
            for i in range(oh):
                for j in range(ow):
                    window = [
                        xp[ni, ci, i * sh + p * dh, j * sw + q * dw]
                        for p in range(kh)
                        for q in range(kw)
                    ]
                    out[ni, ci, i, j] = reduce(window)
    return out


def loop_max_pool(x, kernel, stride, padding, dilation=(1, 1)):
    return loop_pool(x, kernel, stride, padding, dilation, max, -np.inf)


def loop_avg_pool(x, kernel, stride, padding):
    return loop_pool(x, kernel, stride, padding, (1, 1), np.mean, 0.0)


# ----------------------------------------------------------------------------- conv2d cases

# (x shape, weight shape, stride, padding, dilation, groups, bias)
CONV_CASES = [
    pytest.param((2, 3, 6, 5), (4, 3, 3, 3), (1, 1), (0, 0), (1, 1), 1, True, id="plain"),
    pytest.param((2, 3, 6, 5), (4, 3, 3, 3), (1, 1), (1, 1), (1, 1), 1, False, id="same-no-bias"),
    pytest.param((1, 2, 7, 7), (3, 2, 3, 2), (2, 3), (0, 0), (1, 1), 1, True, id="stride"),
    pytest.param((2, 2, 6, 7), (3, 2, 2, 3), (1, 2), (2, 1), (1, 1), 1, True, id="padding"),
    pytest.param((1, 2, 8, 7), (2, 2, 3, 2), (1, 1), (1, 0), (2, 3), 1, True, id="dilation"),
    pytest.param((2, 4, 5, 5), (6, 2, 3, 3), (1, 1), (1, 1), (1, 1), 2, True, id="groups-2"),
    pytest.param((1, 3, 5, 6), (6, 1, 2, 2), (2, 1), (1, 0), (1, 2), 3, True, id="depthwise-x2"),
    pytest.param((2, 1, 4, 4), (2, 1, 1, 1), (1, 1), (0, 0), (1, 1), 1, True, id="1x1"),
    pytest.param((1, 2, 3, 3), (2, 2, 3, 3), (1, 1), (0, 0), (1, 1), 1, True, id="kernel=input"),
]


def _draw_conv(rng, xs, ws, bias):
    x = rng.uniform(-2, 2, size=xs)
    w = rng.uniform(-1, 1, size=ws)
    b = rng.uniform(-1, 1, size=ws[0]) if bias else None
    return x, w, b


@pytest.mark.parametrize(
    ("xs", "ws", "stride", "padding", "dilation", "groups", "bias"), CONV_CASES
)
def test_conv2d_matches_loops(rng, xs, ws, stride, padding, dilation, groups, bias):
    x, w, b = _draw_conv(rng, xs, ws, bias)
    out = F.conv2d(
        Tensor(x), Tensor(w), None if b is None else Tensor(b), stride, padding, dilation, groups
    )
    expected = loop_conv2d(x, w, b, stride, padding, dilation, groups)
    assert out.shape == expected.shape
    assert out.dtype == np.float64
    np.testing.assert_allclose(out.data, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(
    ("xs", "ws", "stride", "padding", "dilation", "groups", "bias"), CONV_CASES
)
def test_conv2d_gradcheck(rng, xs, ws, stride, padding, dilation, groups, bias):
    x, w, b = _draw_conv(rng, xs, ws, bias)
    tensors = [Tensor(a, requires_grad=True) for a in (x, w, b) if a is not None]

    def f(*t):
        return F.conv2d(*t, stride=stride, padding=padding, dilation=dilation, groups=groups)

    assert gradcheck(f, *tensors)


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(1, 2),
    groups=st.sampled_from([1, 2]),
    cg=st.integers(1, 2),
    og=st.integers(1, 2),
    size=st.tuples(st.integers(3, 7), st.integers(3, 7)),
    k=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    s=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    p=st.tuples(st.integers(0, 2), st.integers(0, 2)),
    d=st.tuples(st.integers(1, 2), st.integers(1, 2)),
    seed=st.integers(0, 2**16),
)
def test_conv2d_any_geometry_matches_loops_and_gradcheck(n, groups, cg, og, size, k, s, p, d, seed):
    reach = [d[i] * (k[i] - 1) + 1 for i in range(2)]
    if any(size[i] + 2 * p[i] < reach[i] for i in range(2)):
        return  # no output: the error case has its own test
    rng = np.random.default_rng(seed)
    x, w, b = _draw_conv(rng, (n, cg * groups, *size), (og * groups, cg, *k), True)
    out = F.conv2d(Tensor(x), Tensor(w), Tensor(b), s, p, d, groups)
    np.testing.assert_allclose(out.data, loop_conv2d(x, w, b, s, p, d, groups), atol=1e-10)
    t = [Tensor(a, requires_grad=True) for a in (x, w, b)]
    assert gradcheck(lambda *a: F.conv2d(*a, stride=s, padding=p, dilation=d, groups=groups), *t)


def test_conv2d_float32_keeps_dtype_and_grads(rng):
    x = Tensor(rng.normal(size=(2, 3, 5, 5)).astype(np.float32), requires_grad=True)
    w = Tensor(rng.normal(size=(4, 3, 3, 3)).astype(np.float32), requires_grad=True)
    b = Tensor(np.zeros(4, dtype=np.float32), requires_grad=True)
    out = F.conv2d(x, w, b, padding=1)
    assert out.dtype == np.float32 and out.shape == (2, 4, 5, 5)
    out.sum().backward()
    assert x.grad.dtype == w.grad.dtype == b.grad.dtype == np.float32
    np.testing.assert_allclose(b.grad, np.full(4, 2 * 25.0))


def test_conv2d_empty_batch(rng):
    x = Tensor(np.zeros((0, 2, 5, 5)), requires_grad=True)
    w = Tensor(rng.normal(size=(3, 2, 3, 3)), requires_grad=True)
    b = Tensor(rng.normal(size=3), requires_grad=True)
    out = F.conv2d(x, w, b)
    assert out.shape == (0, 3, 3, 3)
    out.sum().backward()
    assert x.grad.shape == (0, 2, 5, 5)
    np.testing.assert_array_equal(w.grad, np.zeros(w.shape))
    np.testing.assert_array_equal(b.grad, np.zeros(3))
    assert gradcheck(lambda w, b: F.conv2d(Tensor(np.zeros((0, 2, 5, 5))), w, b), w, b)


def test_conv2d_only_the_needed_gradients(rng):
    x = Tensor(rng.normal(size=(2, 1, 4, 4)))  # data: no gradient wanted
    w = Tensor(rng.normal(size=(2, 1, 3, 3)), requires_grad=True)
    F.conv2d(x, w, padding=1).sum().backward()
    assert x.grad is None and w.grad.shape == (2, 1, 3, 3)
    frozen = Tensor(rng.normal(size=(2, 1, 3, 3)))
    y = Tensor(rng.normal(size=(2, 1, 4, 4)), requires_grad=True)
    F.conv2d(y, frozen).sum().backward()
    assert y.grad.shape == (2, 1, 4, 4) and frozen.grad is None


def test_conv2d_replays_when_compiled(rng):
    w = Tensor(rng.normal(size=(3, 2, 3, 3)), requires_grad=True)

    def step(x):
        w.zero_grad()
        loss = (F.conv2d(Tensor(x), w, padding=1) ** 2).mean()
        loss.backward()
        return loss

    compiled = tg.compile(step)
    for _ in range(3):
        x = rng.normal(size=(2, 2, 4, 4))
        loss = compiled(x)
        grad = w.grad.copy()
        expected = step(x)
        assert loss.item() == expected.item()
        np.testing.assert_array_equal(grad, w.grad)


# ----------------------------------------------------------------------------- pooling

# (x shape, kernel, stride, padding, dilation)
POOL_CASES = [
    pytest.param((2, 3, 6, 6), (2, 2), (2, 2), (0, 0), (1, 1), id="2x2"),
    pytest.param((1, 2, 7, 5), (3, 3), (2, 2), (1, 1), (1, 1), id="overlap-pad"),
    pytest.param((2, 1, 5, 6), (2, 3), (1, 2), (1, 0), (1, 1), id="rect"),
    pytest.param((1, 2, 7, 7), (2, 2), (1, 1), (0, 1), (2, 3), id="dilation"),
    pytest.param((1, 1, 5, 5), (5, 5), (5, 5), (0, 0), (1, 1), id="global"),
]


def _distinct(rng, shape):
    """Values at least 0.01 apart: a window's maximum is never within eps of another."""
    count = int(np.prod(shape))
    return (rng.permutation(count) * 0.01 - 1.0).reshape(shape)


@pytest.mark.parametrize(("xs", "k", "s", "p", "d"), POOL_CASES)
def test_max_pool2d_matches_loops_and_gradcheck(rng, xs, k, s, p, d):
    x = _distinct(rng, xs)
    out = F.max_pool2d(Tensor(x), k, s, p, d)
    np.testing.assert_array_equal(out.data, loop_max_pool(x, k, s, p, d))
    assert gradcheck(lambda t: F.max_pool2d(t, k, s, p, d), Tensor(x, requires_grad=True))


@pytest.mark.parametrize(("xs", "k", "s", "p", "d"), [c for c in POOL_CASES if c.id != "dilation"])
def test_avg_pool2d_matches_loops_and_gradcheck(rng, xs, k, s, p, d):
    x = rng.uniform(-2, 2, size=xs)
    out = F.avg_pool2d(Tensor(x), k, s, p)
    np.testing.assert_allclose(out.data, loop_avg_pool(x, k, s, p), rtol=1e-12)
    assert gradcheck(lambda t: F.avg_pool2d(t, k, s, p), Tensor(x, requires_grad=True))


@settings(max_examples=25, deadline=None)
@given(
    size=st.tuples(st.integers(2, 7), st.integers(2, 7)),
    k=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    s=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    p=st.tuples(st.integers(0, 1), st.integers(0, 1)),
    d=st.tuples(st.integers(1, 2), st.integers(1, 2)),
    seed=st.integers(0, 2**16),
)
def test_pools_any_geometry_match_loops_and_gradcheck(size, k, s, p, d, seed):
    reach = [d[i] * (k[i] - 1) + 1 for i in range(2)]
    if any(size[i] + 2 * p[i] < reach[i] or 2 * p[i] > k[i] for i in range(2)):
        return  # no output, or more padding than half a kernel: the error tests cover these
    x = _distinct(np.random.default_rng(seed), (2, 2, *size))
    out = F.max_pool2d(Tensor(x), k, s, p, d)
    np.testing.assert_array_equal(out.data, loop_max_pool(x, k, s, p, d))
    assert gradcheck(lambda t: F.max_pool2d(t, k, s, p, d), Tensor(x, requires_grad=True))
    out = F.avg_pool2d(Tensor(x), k, s, p)
    np.testing.assert_allclose(out.data, loop_avg_pool(x, k, s, p), rtol=1e-12, atol=1e-15)
    assert gradcheck(lambda t: F.avg_pool2d(t, k, s, p), Tensor(x, requires_grad=True))


def test_pool_stride_defaults_to_kernel(rng):
    x = rng.normal(size=(1, 1, 4, 4))
    assert F.max_pool2d(Tensor(x), 2).shape == (1, 1, 2, 2)
    np.testing.assert_allclose(
        F.avg_pool2d(Tensor(x), 2).data, loop_avg_pool(x, (2, 2), (2, 2), (0, 0))
    )


def test_max_pool2d_gradient_goes_to_the_first_maximum_and_adds_over_overlaps():
    x = Tensor(
        np.array([[[[1.0, 3.0, 3.0], [0.0, 2.0, 1.0], [5.0, 0.0, 0.0]]]]), requires_grad=True
    )
    F.max_pool2d(x, 2, stride=1).sum().backward()  # windows' maxima: 3 (twice at (0,1)), 3, 5, 2
    np.testing.assert_array_equal(x.grad[0, 0], [[0, 2, 0], [0, 1, 0], [1, 0, 0]])


def test_pools_on_empty_batch():
    x = Tensor(np.zeros((0, 2, 4, 4)), requires_grad=True)
    for out in (F.max_pool2d(x, 2), F.avg_pool2d(x, 2)):
        assert out.shape == (0, 2, 2, 2)
        out.sum().backward()
        assert x.grad.shape == (0, 2, 4, 4)


# ----------------------------------------------------------------------------- errors

X4 = np.zeros((2, 3, 6, 6))
W4 = np.zeros((4, 3, 3, 3))


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda: F.conv2d(Tensor(np.zeros(())), Tensor(W4)), ["conv2d", "()"]),
        (lambda: F.conv2d(Tensor(np.zeros((3, 6, 6))), Tensor(W4)), ["conv2d", "(3, 6, 6)"]),
        (lambda: F.conv2d(Tensor(X4), Tensor(np.zeros((4, 3, 3)))), ["conv2d", "(4, 3, 3)"]),
        (
            lambda: F.conv2d(Tensor(X4), Tensor(np.zeros((4, 2, 3, 3)))),
            ["conv2d", "(2, 3, 6, 6)", "(4, 2, 3, 3)"],
        ),
        (
            lambda: F.conv2d(Tensor(X4), Tensor(np.zeros((4, 1, 3, 3))), groups=2),
            ["conv2d", "(2, 3, 6, 6)", "groups=2"],
        ),
        (lambda: F.conv2d(Tensor(X4), Tensor(W4), Tensor(np.zeros(3))), ["conv2d", "(3,)"]),
        (lambda: F.conv2d(Tensor(X4), Tensor(W4), stride=0), ["conv2d", "stride"]),
        (lambda: F.conv2d(Tensor(X4), Tensor(W4), padding=-1), ["conv2d", "padding"]),
        (lambda: F.conv2d(Tensor(X4), Tensor(W4), dilation=(1, 2, 3)), ["conv2d", "dilation"]),
        (lambda: F.conv2d(Tensor(X4), Tensor(W4), stride=1.5), ["conv2d", "stride"]),
        (lambda: F.conv2d(Tensor(X4), Tensor(W4), groups=0), ["conv2d", "groups"]),
        (
            lambda: F.conv2d(Tensor(X4), Tensor(W4), dilation=4),
            ["conv2d", "(2, 3, 6, 6)", "(3, 3)", "smaller"],
        ),
        (lambda: F.max_pool2d(Tensor(np.zeros((6, 6))), 2), ["max_pool2d", "(6, 6)"]),
        (lambda: F.max_pool2d(Tensor(X4), 2, padding=2), ["max_pool2d", "padding", "(2, 3, 6, 6)"]),
        (lambda: F.max_pool2d(Tensor(X4), 7), ["max_pool2d", "(2, 3, 6, 6)", "smaller"]),
        (lambda: F.avg_pool2d(Tensor(X4), 0), ["avg_pool2d", "kernel_size"]),
        (lambda: F.avg_pool2d(Tensor(np.zeros(())), 2), ["avg_pool2d", "()"]),
        (lambda: F.flatten(Tensor(X4), 3, 1), ["flatten", "(2, 3, 6, 6)"]),
    ],
)
def test_errors_name_the_op_and_the_shapes(call, words):
    with pytest.raises(ValueError) as info:
        call()
    message = str(info.value)
    for word in words:
        assert word in message, message
    again = pickle.loads(pickle.dumps(info.value))
    assert str(again) == message


def test_op_names_are_drawn_by_name():
    assert (ops.Conv2d.name, ops.MaxPool2d.name, ops.AvgPool2d.name) == (
        "conv2d",
        "max_pool2d",
        "avg_pool2d",
    )


def test_flatten(rng):
    x = Tensor(rng.normal(size=(2, 3, 4, 5)), requires_grad=True)
    assert F.flatten(x).shape == (2, 60)
    assert F.flatten(x, 0, 1).shape == (6, 4, 5)
    assert F.flatten(x, -2).shape == (2, 3, 20)
    assert gradcheck(lambda t: F.flatten(t, 1, 2), x)


def test_conv2d_bias_gradient_alone_and_mixed_dtypes(rng):
    x = Tensor(rng.normal(size=(2, 2, 4, 4)))
    w = Tensor(rng.normal(size=(3, 2, 3, 3)))  # frozen weight, trainable bias
    b = Tensor(rng.normal(size=3), requires_grad=True)
    F.conv2d(x, w, b, padding=1).sum().backward()
    np.testing.assert_allclose(b.grad, np.full(3, 2 * 16.0))
    assert w.grad is None
    # a float64 bias on float32 data: numpy's promotion, the same values
    x32, w32 = Tensor(x.data.astype(np.float32)), Tensor(w.data.astype(np.float32))
    mixed = F.conv2d(x32, w32, Tensor(b.data), padding=1)
    same = F.conv2d(x32, w32, Tensor(b.data.astype(np.float32)), padding=1)
    assert mixed.dtype == np.float64 and same.dtype == np.float32
    np.testing.assert_allclose(mixed.data, same.data, rtol=1e-5, atol=1e-5)
    assert gradcheck(lambda b: F.conv2d(x, w, b, padding=1), b)


@pytest.mark.parametrize(
    "name", ["Conv2d", "MaxPool2d", "AvgPool2d", "BatchNorm", "LayerNorm", "Dropout"]
)
def test_each_new_op_states_its_rule_on_one_line(name):
    lines = [line for line in getattr(ops, name).__doc__.splitlines() if "Rule:" in line]
    assert len(lines) == 1
    rule = lines[0].split("Rule:", 1)[1].strip()
    assert rule.startswith("d") and "=" in rule

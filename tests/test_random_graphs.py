"""Random op graphs against an independent oracle.

Each graph is a small program: leaves of random shapes that broadcast together, then random
ops (with reused nodes, so diamonds and repeated inputs are common), then a weighted sum of
a few nodes as the loss. The same program runs twice: once with Tensors (the engine's
forward and backward), once with plain numpy functions written here, independently of
``tinygrad_nn.ops``. The engine's values must equal numpy's, and its gradients must equal
float64 central differences of the numpy program.
"""

from __future__ import annotations

import operator

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_nn import Tensor, no_grad, ops
from tinygrad_nn.nn import l2_penalty

N_GRAPHS = 240
EPS = 1e-6  # central-difference step
KINK = 1e-4  # relu inputs and max gaps must stay further than this from a kink

# ----------------------------------------------------------------------------- numpy oracle


def np_softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def np_cross_entropy(x, targets):
    log_p = x - x.max(axis=1, keepdims=True)
    log_p = log_p - np.log(np.exp(log_p).sum(axis=1, keepdims=True))
    return -log_p[np.arange(len(targets)), targets].mean()


# ----------------------------------------------------------------------------- the op menu
# Each entry: (name, arity, make) where make(rng, shapes, base) returns the op's settings
# or None when it does not apply to operands of these shapes. run(name, backend, args, p)
# then computes it with Tensors (backend "t") or numpy arrays (backend "np").


def _sub_shape(rng, base):
    """A shape that broadcasts to ``base``: leading axes dropped, some axes set to 1."""
    shape = base[rng.integers(0, len(base) + 1) :]
    return tuple(1 if rng.random() < 0.3 else n for n in shape)


def _axes(rng, ndim):
    """Axes to reduce, and keepdims: any axes with keepdims, or the leading axis without
    (either way the result still broadcasts against the graph's base shape)."""
    if ndim == 0 or rng.random() < 0.25:
        return None, True
    if rng.random() < 0.4:
        return 0, False
    k = int(rng.integers(1, ndim + 1))
    return tuple(sorted(rng.choice(ndim, size=k, replace=False).tolist())), True


def _make(name, rng, shapes, base):
    s = shapes[0]
    if name in ("exp", "sigmoid", "tanh", "relu", "neg", "square", "cube", "rpow", "log"):
        return {"b": float(rng.choice([0.5, 2.0])), "c": float(rng.uniform(0.3, 1.0))}
    if name in ("pow", "num_left", "num_right"):
        return {
            "p": float(rng.choice([-1.0, -0.5, 0.5, 1.5])),
            "c": float(rng.uniform(0.3, 1.5)),
            "k": str(rng.choice(["add", "sub", "mul", "div"])),
        }
    if name in ("array_left", "array_right"):
        shape = _sub_shape(rng, base)
        return {
            "arr": rng.uniform(0.5, 1.5, size=shape) * rng.choice([-1, 1], size=shape),
            "k": str(rng.choice(["add", "sub", "mul", "div"])),
        }
    if name in ("add", "sub", "mul", "div"):
        return {"c": float(rng.uniform(0.3, 1.0))}
    if name in ("sum", "mean", "max"):
        axis, keepdims = _axes(rng, len(s))
        return {"axis": axis, "keepdims": keepdims}
    if name in ("softmax", "log_softmax"):
        return {"axis": int(rng.integers(-len(s), len(s)))} if s else None
    if name in ("matmul", "linear"):
        if not s:
            return None
        w = rng.uniform(-1, 1, size=(s[-1], base[-1]))
        return {"w": w, "b": rng.uniform(-1, 1, size=base[-1])}
    if name == "transpose":
        perm = tuple(rng.permutation(len(s)).tolist())
        return {"perm": perm, "inverse": tuple(np.argsort(perm).tolist())}
    if name == "reshape":
        return {}
    if name == "gather":
        return {"idx": rng.integers(0, s[0], size=s[0])} if s and s[0] else None
    if name == "flip":
        return {} if s else None
    if name == "masked_sum":
        return {"mask": rng.random(s) < 0.6}
    if name == "l2":
        return {"lam": float(rng.uniform(0.1, 2.0)), "n": int(rng.integers(1, 5))}
    if name == "cross_entropy":
        if len(s) != 2 or 0 in s:
            return None
        return {"targets": rng.integers(0, s[1], size=s[0])}
    raise AssertionError(name)


UNARY = [
    "exp", "sigmoid", "tanh", "relu", "neg", "square", "cube", "rpow", "log", "pow",
    "num_left", "num_right", "array_left", "array_right", "sum", "mean", "max", "softmax",
    "log_softmax", "matmul", "linear", "transpose", "reshape", "gather", "flip",
    "masked_sum", "cross_entropy",
]  # fmt: skip
BINARY = ["add", "sub", "mul", "div", "l2"]


ARITHMETIC = {
    "add": operator.add,
    "sub": operator.sub,
    "mul": operator.mul,
    "div": operator.truediv,
}


def _number_op(k, a, b):
    return ARITHMETIC[k](a, b)


def run(name, t, args, p):
    """Op ``name`` on ``args`` with settings ``p``; ``t`` is True for Tensors."""
    x = args[0]
    if name == "exp":
        return x.exp() if t else np.exp(x)
    if name == "sigmoid":
        return x.sigmoid() if t else 1 / (1 + np.exp(-x))
    if name == "tanh":
        return x.tanh() if t else np.tanh(x)
    if name == "relu":
        return x.relu() if t else np.maximum(x, 0)
    if name == "neg":
        return -x
    if name == "square":
        return x**2 if t else x * x
    if name == "cube":
        return x**3 if t else x * x * x
    if name == "rpow":
        return p["b"] ** x if t else np.exp(x * np.log(p["b"]))
    if name == "log":
        return (x * x + p["c"]).log() if t else np.log(x * x + p["c"])
    if name == "pow":
        return (x * x + p["c"]) ** p["p"] if t else np.power(x * x + p["c"], p["p"])
    if name == "num_left":  # number op x; the divisor is kept away from 0
        return _number_op(p["k"], p["c"], x * x + 0.5 if p["k"] == "div" else x)
    if name == "num_right":
        return _number_op(p["k"], x, p["c"])
    if name == "array_left":
        return _number_op(p["k"], p["arr"], x * x + 0.5 if p["k"] == "div" else x)
    if name == "array_right":
        return _number_op(p["k"], x, p["arr"])
    if name in ("sum", "mean", "max"):
        return getattr(x, name)(axis=p["axis"], keepdims=p["keepdims"])
    if name == "softmax":
        return x.softmax(axis=p["axis"]) if t else np_softmax(x, p["axis"])
    if name == "log_softmax":
        return x.log_softmax(axis=p["axis"]) if t else np.log(np_softmax(x, p["axis"]))
    if name == "matmul":
        return x @ p["w"]
    if name == "linear":
        return ops.Linear.apply(x, p["w"], p["b"]) if t else x @ p["w"] + p["b"]
    if name == "transpose":
        return x.transpose(p["perm"]).transpose(p["inverse"])
    if name == "reshape":
        return x.reshape(-1).reshape(x.shape)
    if name == "gather":  # repeated rows: their gradients must add up
        return x[p["idx"]]
    if name == "flip":
        return x[::-1]
    if name == "masked_sum":
        return x[Tensor(p["mask"])].sum() if t else x[p["mask"]].sum()
    if name == "cross_entropy":
        if t:
            return x.softmax_cross_entropy(p["targets"])
        return np_cross_entropy(x, p["targets"])
    y = args[1]
    if name == "l2":
        if t:
            return l2_penalty([x, y], p["lam"], p["n"])
        return p["lam"] / (2 * p["n"]) * ((x * x).sum() + (y * y).sum())
    if name == "div":
        return x / (y * y + p["c"])
    return _number_op(name, x, y)


# ----------------------------------------------------------------------------- programs


def make_program(seed):
    """A random program: leaf shapes and values, steps (op, operand nodes, settings), and
    the weighted outputs that make the loss."""
    rng = np.random.default_rng(seed)
    base = tuple(rng.integers(1, 4, size=int(rng.integers(0, 4))).tolist())
    n_leaves = int(rng.integers(1, 4))
    leaves = [rng.uniform(-1.5, 1.5, size=_sub_shape(rng, base)) for _ in range(n_leaves)]
    grads = [bool(rng.random() < 0.85) for _ in leaves]
    grads[0] = True
    shapes = [x.shape for x in leaves]
    steps = []

    def pick():  # favour recent nodes, but reuse older ones too (diamonds, repeated inputs)
        return len(shapes) - min(int(rng.geometric(0.45)), len(shapes))

    for _ in range(int(rng.integers(2, 9))):
        binary = rng.random() < 0.35
        name = str(rng.choice(BINARY if binary else UNARY))
        args = (pick(), pick()) if binary else (pick(),)
        settings_ = _make(name, rng, [shapes[i] for i in args], base)
        if settings_ is None:
            continue
        steps.append((name, args, settings_))
        zeros = [np.zeros(shapes[i]) for i in args]
        shapes.append(np.shape(run(name, False, zeros, settings_)))
    last = len(shapes) - 1
    chosen = sorted({last, *rng.choice(len(shapes), size=int(rng.integers(0, 3))).tolist()})
    outputs = [(i, rng.uniform(0.5, 1.5, size=shapes[i])) for i in chosen]
    return leaves, grads, steps, outputs


def evaluate(steps, values, t):
    """All node values, leaves first; ``t`` selects Tensors or numpy."""
    values = list(values)
    for name, args, p in steps:
        out = run(name, t, [values[i] for i in args], p)
        values.append(out if t else np.asarray(out))
    return values


def loss_of(values, outputs, t):
    total = 0.0
    for i, w in outputs:
        total = total + (values[i] * w).sum()
    return total


def well_conditioned(leaves, steps, outputs):
    """Finite, moderate values, and every relu / max input away from its kink."""
    with np.errstate(all="ignore"):
        values = evaluate(steps, leaves, False)
        loss = loss_of(values, outputs, False)
    if not np.isfinite(loss) or abs(loss) > 1e4:
        return False
    for v in values:
        if not np.all(np.isfinite(v)) or np.max(np.abs(v), initial=0) > 1e3:
            return False
    for name, args, p in steps:
        x = values[args[0]]
        if name == "relu" and np.min(np.abs(x), initial=1.0) < KINK:
            return False
        if name == "max" and not _max_gap_ok(x, p["axis"]):
            return False
    return True


def _max_gap_ok(x, axis):
    axes = tuple(range(x.ndim)) if axis is None else np.atleast_1d(axis)
    moved = np.moveaxis(x, list(axes), list(range(-len(axes), 0)))
    for row in moved.reshape(-1, int(np.prod([x.shape[a] for a in axes], dtype=int))):
        top = np.unique(row)[::-1]  # exact copies (a gathered row twice) are one value
        if len(top) > 1 and top[0] - top[1] < KINK:
            return False
    return True


def central_differences(leaves, steps, outputs, k):
    """d loss / d leaves[k] by (f(x + eps) - f(x - eps)) / (2 eps), numpy only."""
    grad = np.zeros(leaves[k].shape)
    for i in np.ndindex(*leaves[k].shape):
        moved = [x.copy() for x in leaves]
        moved[k][i] += EPS
        plus = loss_of(evaluate(steps, moved, False), outputs, False)
        moved[k][i] -= 2 * EPS
        minus = loss_of(evaluate(steps, moved, False), outputs, False)
        grad[i] = (plus - minus) / (2 * EPS)
    return grad


def program(seed):
    """The first well-conditioned program drawn from ``seed``'s sub-seeds."""
    for attempt in range(50):
        prog = make_program((seed, attempt))
        if well_conditioned(prog[0], prog[2], prog[3]):
            return prog
    raise AssertionError(f"no well-conditioned program for seed {seed}")


# ----------------------------------------------------------------------------- the checks


def check_program(seed):
    leaves, grads, steps, outputs = program(seed)
    tensors = [Tensor(x.copy(), requires_grad=g) for x, g in zip(leaves, grads)]
    values = evaluate(steps, tensors, True)
    expected = evaluate(steps, leaves, False)
    for got, want in zip(values, expected):
        got = got if isinstance(got, Tensor) else Tensor(got)
        assert got.shape == np.shape(want) and got.dtype == np.float64
        np.testing.assert_allclose(got.data, want, rtol=1e-10, atol=1e-12)
    loss = loss_of(values, outputs, True)
    if not (isinstance(loss, Tensor) and loss.requires_grad):
        return steps, False  # no path from a leaf that requires grad to the loss
    loss.backward()
    for k, t in enumerate(tensors):
        if not t.requires_grad:
            assert t.grad is None
            continue
        analytic = np.zeros(t.shape) if t.grad is None else t.grad
        assert analytic.shape == t.shape and analytic.dtype == np.float64
        numeric = central_differences(leaves, steps, outputs, k)
        np.testing.assert_allclose(
            analytic, numeric, rtol=1e-4, atol=1e-5, err_msg=f"leaf {k} of {steps}"
        )
    return steps, True


def test_random_graphs_match_central_differences():
    used, checked = set(), 0
    for seed in range(N_GRAPHS):
        steps, had_gradient = check_program(seed)
        used.update(name for name, _, _ in steps)
        checked += had_gradient
    assert checked >= 200  # graphs whose gradients were compared
    missing = (set(UNARY) | set(BINARY)) - used
    assert not missing, f"ops never drawn: {missing}"


@pytest.mark.parametrize("seed", [3, 17, 101])
def test_one_random_graph_by_seed(seed):
    """A single graph, to rerun one seed when the sweep above fails."""
    check_program(seed)


# ----------------------------------------------------------------------------- properties


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10**6), split=st.floats(0.1, 0.9))
def test_gradients_are_linear_in_the_seed_and_accumulate(seed, split):
    """backward(s1, retain_graph) then backward(s2) leaves the gradient of backward(s1 + s2)
    on a fresh graph: accumulation and retain_graph compose linearly."""
    leaves, grads, steps, outputs = program(seed)
    i, w = outputs[-1]

    def grads_for(seeds):
        tensors = [Tensor(x.copy(), requires_grad=g) for x, g in zip(leaves, grads)]
        out = evaluate(steps, tensors, True)[i]
        if not (isinstance(out, Tensor) and out.requires_grad):
            return None
        for k, s in enumerate(seeds):
            out.backward(s, retain_graph=k < len(seeds) - 1)
        return [t.grad for t in tensors]

    together = grads_for([w])
    if together is None:
        return
    apart = grads_for([w * split, w * (1 - split)])
    for a, b in zip(together, apart):
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_allclose(b, a, rtol=1e-10, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10**6))
def test_recording_does_not_change_values(seed):
    """The same program under no_grad and recorded gives identical bits; afterwards every
    leaf array is as it was (nothing wrote into inputs) and writable again."""
    leaves, grads, steps, outputs = program(seed)
    tensors = [Tensor(x.copy(), requires_grad=g) for x, g in zip(leaves, grads)]
    with no_grad():
        plain = evaluate(steps, tensors, True)
    recorded = evaluate(steps, tensors, True)
    for a, b in zip(plain, recorded):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    loss = loss_of(recorded, outputs, True)
    if isinstance(loss, Tensor) and loss.requires_grad:
        loss.backward()
    del recorded, loss  # nodes off the loss's path could still backprop until dropped
    for t, x in zip(tensors, leaves):
        np.testing.assert_array_equal(t.data, x)
        assert t.data.flags.writeable  # nothing holds the leaves: they may be written again

"""The engine: reused nodes, accumulation, no_grad, deep graphs, memory, guards, anomalies."""

import gc
import sys
import threading
import tracemalloc
import weakref

import numpy as np
import pytest

import tinygrad_nn as tg
from tinygrad_nn import Function, Tensor, detect_anomaly, gradcheck, no_grad
from tinygrad_nn.autograd import toposort, unbroadcast
from tinygrad_nn.tensor import scope as module_scope


def leaf(values, name=None):
    return Tensor(np.array(values, dtype=np.float64), requires_grad=True, name=name)


# ----------------------------------------------------------------------------- reused nodes


def test_a_plus_a_counts_both_uses():
    a = leaf([1.0, -2.0, 3.0])
    (a + a).sum().backward()
    np.testing.assert_array_equal(a.grad, [2.0, 2.0, 2.0])


def test_a_times_a_counts_both_uses():
    a = leaf([1.0, -2.0, 3.0])
    (a * a).sum().backward()
    np.testing.assert_array_equal(a.grad, 2 * a.data)


def test_diamond_accumulates_through_both_paths():
    a = leaf([0.3, -0.7, 1.1])
    b = a * 2
    c = b + b.exp()
    d = (c * b).sum()
    d.backward()
    bv = 2 * a.data
    # d = (b + e^b) b  =>  dd/db = (1 + e^b) b + b + e^b, and db/da = 2
    expected = 2 * ((1 + np.exp(bv)) * bv + bv + np.exp(bv))
    np.testing.assert_allclose(a.grad, expected, rtol=1e-12)
    assert gradcheck(lambda x: ((x * 2) + (x * 2).exp()) * (x * 2), a)


def test_weight_used_twice():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 3))
    w = leaf(rng.normal(size=(3, 3)))
    y = (Tensor(x) @ w) @ w
    y.sum().backward()
    g = np.ones((2, 3))
    w_ = w.data
    # y = x W W: dW = x^T (g W^T) + (x W)^T g
    expected = x.T @ (g @ w_.T) + (x @ w_).T @ g
    np.testing.assert_allclose(w.grad, expected, rtol=1e-12)
    assert gradcheck(lambda v: (Tensor(x) @ v) @ v, w)


def test_constants_get_no_grad():
    a = leaf([1.0, 2.0])
    c = Tensor(np.array([3.0, 4.0]))
    (a * c).sum().backward()
    assert c.grad is None
    np.testing.assert_array_equal(a.grad, c.data)


# ----------------------------------------------------------------------------- accumulation


def test_second_backward_with_retain_graph_doubles_grad():
    a = leaf([1.0, 2.0, 3.0])
    loss = (a * a).sum()
    loss.backward(retain_graph=True)
    first = a.grad.copy()
    np.testing.assert_array_equal(first, 2 * a.data)
    loss.backward(retain_graph=True)
    np.testing.assert_array_equal(a.grad, 2 * first)
    loss.backward()  # the last pass may release the graph
    np.testing.assert_array_equal(a.grad, 3 * first)


def test_grads_accumulate_across_separate_graphs_until_zero_grad():
    a = leaf([1.0, 2.0])
    (a * 3).sum().backward()
    (a * 4).sum().backward()
    np.testing.assert_array_equal(a.grad, [7.0, 7.0])
    a.zero_grad()
    assert a.grad is None
    (a * 5).sum().backward()
    np.testing.assert_array_equal(a.grad, [5.0, 5.0])


def test_leaf_grad_does_not_alias_the_seed():
    a = leaf([1.0, 2.0])
    seed = np.array([1.0, 1.0])
    a.backward(seed)
    a.grad += 10
    np.testing.assert_array_equal(seed, [1.0, 1.0])


def test_retain_grad_on_intermediate():
    a = leaf([1.0, -2.0])
    h = a * 3
    h.retain_grad()
    other = a * 5  # a non-retained intermediate
    loss = (h * h).sum() + other.sum()
    loss.retain_grad()
    loss.backward()
    np.testing.assert_allclose(h.grad, 2 * h.data)
    np.testing.assert_allclose(a.grad, 3 * 2 * h.data + 5)
    assert other.grad is None
    assert loss.grad.shape == () and loss.grad == 1.0
    assert not h.is_leaf


def test_retain_grad_accumulates_over_two_backward_calls():
    a = leaf([2.0])
    h = (a * 3).retain_grad()
    loss = (h * 2).sum()
    loss.backward(retain_graph=True)
    loss.backward()
    np.testing.assert_array_equal(h.grad, [4.0])


def test_backward_with_explicit_seed():
    a = leaf([1.0, 2.0, 3.0])
    y = a * 2
    y.backward(np.array([1.0, 10.0, 100.0]))
    np.testing.assert_array_equal(a.grad, [2.0, 20.0, 200.0])
    b = leaf([[1.0, 2.0]])
    (b * 3).backward(Tensor(np.array([[2.0, 1.0]])))
    np.testing.assert_array_equal(b.grad, [[6.0, 3.0]])


def test_backward_on_one_element_non_scalar_tensor():
    a = leaf([[1.5]])
    (a * a).backward()
    np.testing.assert_array_equal(a.grad, [[3.0]])


# ----------------------------------------------------------------------------- no_grad, detach


def test_no_grad_context_records_nothing():
    a = leaf([1.0, 2.0])
    with no_grad():
        assert not tg.is_grad_enabled()
        y = (a * 2).exp().sum()
    assert tg.is_grad_enabled()
    assert not y.requires_grad
    assert y.op is None and y.is_leaf
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.backward()


def test_no_grad_decorator_records_nothing():
    calls = []

    @no_grad()
    def double(t):
        calls.append(tg.is_grad_enabled())
        return t * 2

    a = leaf([1.0])
    y = double(a)
    assert not y.requires_grad and y.op is None
    assert calls == [False]
    assert tg.is_grad_enabled()
    z = double(double(a))  # a decorated function reused, also nested in itself
    assert not z.requires_grad
    assert tg.is_grad_enabled()


def test_no_grad_flag_restored_after_exception():
    with pytest.raises(ZeroDivisionError), no_grad():
        assert not tg.is_grad_enabled()
        raise ZeroDivisionError
    assert tg.is_grad_enabled()

    @no_grad()
    def boom():
        raise KeyError("x")

    with pytest.raises(KeyError):
        boom()
    assert tg.is_grad_enabled()


def test_enable_grad_inside_no_grad():
    a = leaf([1.0])
    with no_grad():
        with tg.enable_grad():
            y = a * 2
        z = a * 2
        assert not tg.is_grad_enabled()
    assert y.requires_grad and not z.requires_grad


def test_same_no_grad_object_nested():
    guard = no_grad()
    with guard:
        with guard:
            assert not tg.is_grad_enabled()
        assert not tg.is_grad_enabled()
    assert tg.is_grad_enabled()


def test_no_grad_in_one_thread_does_not_affect_another():
    a = leaf([1.0, 2.0])
    inside = threading.Event()
    release = threading.Event()
    seen = {}

    def worker():
        with no_grad():
            inside.set()
            release.wait(10)
            seen["worker"] = (a * 2).requires_grad

    thread = threading.Thread(target=worker)
    thread.start()
    try:
        assert inside.wait(10)
        # the worker holds no_grad right now; this thread still records
        assert tg.is_grad_enabled()
        assert (a * 2).requires_grad
    finally:
        release.set()
        thread.join(10)
    assert seen == {"worker": False}


def test_no_grad_in_main_thread_does_not_affect_worker():
    a = leaf([1.0])
    seen = {}

    def worker():
        seen["enabled"] = tg.is_grad_enabled()
        seen["records"] = (a * 2).requires_grad

    with no_grad():
        thread = threading.Thread(target=worker)
        thread.start()
        thread.join(10)
    assert seen == {"enabled": True, "records": True}


def test_detach_shares_data_and_cuts_the_graph():
    a = leaf([1.0, 2.0, 3.0], name="a")
    d = a.detach()
    assert d.is_leaf and not d.requires_grad
    assert np.shares_memory(d.data, a.data)
    (d * a).sum().backward()
    np.testing.assert_array_equal(a.grad, a.data)  # d is a constant: only one path
    assert d.grad is None
    h = (a * 2).detach()
    assert h.op is None and not h.requires_grad


# ----------------------------------------------------------------------------- deep graphs


def test_100k_op_chain_backprops_at_default_recursion_limit():
    saved = sys.getrecursionlimit()
    sys.setrecursionlimit(1000)  # CPython's default
    try:
        x0 = Tensor(np.array([1.0, 2.0]), requires_grad=True)
        x = x0
        for _ in range(100_000):
            x = x * 1.0001
        x.sum().backward()
        np.testing.assert_allclose(x0.grad, [1.0001**100_000] * 2, rtol=1e-9)
        np.testing.assert_allclose(x.data, x0.data * 1.0001**100_000, rtol=1e-9)
        del x  # freeing the chain must not recurse either
    finally:
        sys.setrecursionlimit(saved)


def test_toposort_orders_inputs_first_and_is_stable():
    def build():
        a = leaf([1.0, 2.0], name="a")
        b = a * 2
        c = b + b.exp()
        return (c * a).sum()

    first, second = build(), build()
    order = toposort(first)
    names = [fn.name for fn in order]
    assert names == [fn.name for fn in toposort(second)]
    assert names[-1] == "sum"
    position = {fn: i for i, fn in enumerate(order)}
    for fn in order:
        for t in fn.inputs:
            if t.op is not None:
                assert position[t.op] < position[fn]
    assert len(set(order)) == len(order) == 5


def test_graph_inputs_are_an_ordered_tuple_with_repeats():
    a = leaf([1.0])
    b = leaf([2.0])
    y = a + a
    assert y.op.inputs == (a, a)
    z = b - a
    assert isinstance(z.op.inputs, tuple) and z.op.inputs[0] is b


# ----------------------------------------------------------------------------- memory


def test_intermediate_freed_without_gc_after_del_loss():
    gc.collect()
    gc.disable()
    try:
        x = Tensor(np.ones((4, 3)))
        w = leaf(np.full((3, 2), 0.5))
        h = (x @ w).sigmoid()
        ref = weakref.ref(h)
        loss = (h * h).mean()
        loss.backward()
        del h
        assert ref() is not None  # still held by the graph
        del loss
        assert ref() is None  # no reference cycles: freed by refcounting alone
        assert w.grad is not None
    finally:
        gc.enable()


def test_intermediate_with_retain_grad_freed_without_gc():
    gc.collect()
    gc.disable()
    try:
        a = leaf([1.0, 2.0])
        h = (a * 2).retain_grad()
        ref = weakref.ref(h)
        loss = h.sum()
        loss.backward(retain_graph=True)
        del h, loss
        assert ref() is None
    finally:
        gc.enable()


class SaveDouble(Function):
    """2x, saving a fresh array so the test can watch it being released."""

    def forward(self, x):
        self.saved = x * 2.0
        return self.saved.copy()

    def backward(self, grad):
        return grad * 2.0


def test_saved_arrays_released_after_backward_but_data_stays():
    a = leaf([1.0, 2.0])
    y = SaveDouble.apply(a)
    saved = weakref.ref(y.op.saved)
    loss = y.sum()
    loss.backward()
    assert saved() is None
    np.testing.assert_array_equal(y.data, [2.0, 4.0])  # each Tensor's own data stays
    assert loss.op.inputs[0] is y  # the structure stays, so it can still be drawn
    assert y.op.inputs[0] is a


def test_saved_arrays_kept_with_retain_graph():
    a = leaf([1.0, 2.0])
    y = SaveDouble.apply(a)
    saved = weakref.ref(y.op.saved)
    y.sum().backward(retain_graph=True)
    assert saved() is not None


def test_memory_flat_over_2000_training_steps():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 4))
    y = rng.integers(0, 3, size=16)
    w1 = Tensor(rng.normal(size=(4, 8)) * 0.5, requires_grad=True)
    b1 = Tensor(np.zeros(8), requires_grad=True)
    w2 = Tensor(rng.normal(size=(8, 3)) * 0.5, requires_grad=True)
    params = [w1, b1, w2]

    def step():
        h = (x @ w1 + b1).tanh()
        loss = (h @ w2).softmax_cross_entropy(y) + (w2 * w2).sum() * 1e-3
        loss.backward()
        for p in params:
            p.data -= 0.1 * p.grad
            p.zero_grad()
        return loss.item()

    tracemalloc.start()
    try:
        # warm-up first: CPython's free lists of small tuples fill up to a fixed size
        # (about 100 KB, up to 2000 tuples) early on; that is bounded, a leak is not
        first = [step() for _ in range(3000)][0]
        early = tracemalloc.get_traced_memory()[0]
        for _ in range(2000):
            last = step()
        late = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    # 2000 steps: a leak of even 25 bytes per step would show
    assert late - early < 50_000, f"memory grew by {late - early} bytes"
    assert last < first


# ----------------------------------------------------------------------------- stability


@pytest.mark.parametrize("big", [1000.0, -1000.0])
def test_stable_at_large_magnitude(big):
    x = Tensor(np.array([[big, -big, 0.0], [big, big, -big]]), requires_grad=True)
    # stable means no overflow at all, not an inf that happens to round back to 0 or 1
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        outputs = {
            "sigmoid": x.sigmoid(),
            "log_softmax": x.log_softmax(),
            "softmax": x.softmax(),
            "softmax_cross_entropy": x.softmax_cross_entropy([0, 2]),
        }
        for name, out in outputs.items():
            assert np.all(np.isfinite(out.data)), name
            x.zero_grad()
            out.sum().backward()
            assert np.all(np.isfinite(x.grad)), name
    np.testing.assert_array_equal(outputs["sigmoid"].data > 0.5, x.data > 0)
    expected = np.where(x.data > 0, 1.0, np.where(x.data < 0, 0.0, 0.5))
    np.testing.assert_allclose(outputs["sigmoid"].data, expected, atol=1e-300)
    np.testing.assert_allclose(outputs["softmax"].data.sum(axis=-1), 1.0)


def test_sigmoid_exact_extremes_float32():
    x = Tensor([1000.0, -1000.0, 0.0], requires_grad=True)
    y = x.sigmoid()
    np.testing.assert_array_equal(y.data, np.array([1.0, 0.0, 0.5], dtype=np.float32))
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, np.array([0.0, 0.0, 0.25], dtype=np.float32))


def test_softmax_cross_entropy_large_logits_value():
    x = Tensor(np.array([[1000.0, 0.0], [0.0, -1000.0]]), requires_grad=True)
    loss = x.softmax_cross_entropy([1, 1])
    # row 0: log-sum-exp = 1000, target logit 0; row 1: log-sum-exp = 0, target -1000
    np.testing.assert_allclose(loss.item(), (1000.0 + 1000.0) / 2)
    loss.backward()
    np.testing.assert_allclose(x.grad, [[0.5, -0.5], [0.5, -0.5]])


# ----------------------------------------------------------------------------- guards


def test_inplace_change_between_forward_and_backward_is_refused_at_once():
    w = leaf([1.0, 2.0], name="w")
    x = leaf([3.0, 4.0])
    loss = (w * x).sum()
    with pytest.raises(RuntimeError, match=r"tensor 'w' is held for backward by 'mul'"):
        w.data -= 1
    loss.backward()
    np.testing.assert_array_equal(w.grad, [3.0, 4.0])


def test_reassigned_data_between_forward_and_backward_is_caught():
    w = leaf([1.0, 2.0], name="w")
    x = leaf([3.0, 4.0])
    loss = (w * x).sum()
    w.data = w.data - 1
    with pytest.raises(RuntimeError, match=r"mul: input tensor 'w' was modified in place"):
        loss.backward()


def test_inplace_change_on_unnamed_tensor_names_its_shape():
    w = leaf([[1.0, 2.0]])
    loss = w.exp().sum()
    w.data = np.zeros((1, 2))
    with pytest.raises(RuntimeError, match=r"exp: input tensor of shape \(1, 2\) was modified"):
        loss.backward()


def test_inplace_change_after_backward_is_fine():
    w = leaf([1.0, 2.0], name="w")
    (w * 2).sum().backward()
    w.data -= 1  # an optimizer step
    w.zero_grad()
    (w * w).sum().backward()
    np.testing.assert_array_equal(w.grad, [0.0, 2.0])


def test_second_backward_through_released_graph_raises():
    a = leaf([1.0, 2.0])
    loss = (a * a).sum()
    loss.backward()
    with pytest.raises(RuntimeError, match="retain_graph"):
        loss.backward()


def test_new_graph_through_released_part_raises():
    a = leaf([1.0, 2.0])
    h = a.exp()
    h.sum().backward()
    with pytest.raises(RuntimeError, match=r"exp.*retain_graph"):
        (h * 2).sum().backward()


def test_non_scalar_backward_without_grad_raises():
    a = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match=r"one-element.*\(2,\)"):
        (a * 2).backward()


def test_backward_seed_of_wrong_shape_raises():
    a = leaf([1.0, 2.0])
    with pytest.raises(ValueError, match=r"grad of shape \(3,\) does not match .*\(2,\)"):
        (a * 2).backward(np.ones(3))
    with pytest.raises(ValueError, match=r"\(1, 2\)"):
        (a * 2).backward(np.ones((1, 2)))


def test_backward_on_tensor_without_grad_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        (Tensor([1.0]) * 2).backward()


# ----------------------------------------------------------------------------- anomalies


def test_detect_anomaly_forward_names_op_shapes_and_scope():
    x = Tensor(np.array([[1.0, -1.0]]), requires_grad=True)
    pattern = r"log: forward .*nan.*\(1, 2\).*top level"
    with (
        np.errstate(all="ignore"),
        detect_anomaly(),
        pytest.raises(FloatingPointError, match=pattern),
    ):
        x.log()
    with np.errstate(all="ignore"):
        y = x.log()  # off again: nan passes through silently
    assert np.isnan(y.data[0, 1])
    assert not tg.anomaly.is_anomaly_enabled()


def test_detect_anomaly_backward_names_op_shapes_and_scope():
    x = Tensor(np.array([0.0, 4.0]), requires_grad=True)
    with np.errstate(all="ignore"), detect_anomaly():
        y = x**0.5  # finite forward: sqrt(0) = 0
        np.testing.assert_array_equal(y.data, [0.0, 2.0])
        with pytest.raises(FloatingPointError, match=r"pow: backward .*inf.*\(2,\).*top level"):
            y.sum().backward()


def test_detect_anomaly_names_the_module_scope():
    class Scope:
        scope_name = "fc2"

    pattern = r"exp: forward produced inf .* in fc2"
    with (
        np.errstate(all="ignore"),
        detect_anomaly(),
        module_scope(Scope()),
        pytest.raises(FloatingPointError, match=pattern),
    ):
        Tensor(np.array([1e5])).exp()


def test_detect_anomaly_restored_after_exception():
    with pytest.raises(KeyError), detect_anomaly():
        raise KeyError("x")
    assert not tg.anomaly.is_anomaly_enabled()


def test_detect_anomaly_passes_finite_graphs():
    a = leaf([0.5, 1.5])
    with detect_anomaly():
        (a.log() * a.sigmoid()).sum().backward()
    assert np.all(np.isfinite(a.grad))


# ----------------------------------------------------------------------------- unbroadcast


@pytest.mark.parametrize(
    ("grad_shape", "shape"),
    [((2, 3), (3,)), ((2, 3), (2, 1)), ((4, 2, 3), (1, 3)), ((2, 3), ()), ((2, 3), (2, 3))],
)
def test_unbroadcast_sums_back_to_shape(grad_shape, shape):
    grad = np.arange(np.prod(grad_shape), dtype=np.float64).reshape(grad_shape)
    out = unbroadcast(grad, shape)
    assert out.shape == shape
    # summing the result over everything gives the same total as the broadcast gradient
    np.testing.assert_allclose(out.sum(), grad.sum())
    x = np.zeros(shape)
    expected = np.zeros(shape)
    # reference: d/dx sum(grad * broadcast(x)) by unit perturbations
    for i in np.ndindex(*shape):
        x[i] = 1.0
        expected[i] = np.sum(grad * np.broadcast_to(x, grad_shape))
        x[i] = 0.0
    np.testing.assert_allclose(out, expected)


def test_unbroadcast_rejects_wrong_shape_naming_op():
    with pytest.raises(RuntimeError, match=r"myop: .*\(2, 3\).*\(4,\)"):
        unbroadcast(np.ones((2, 3)), (4,), "myop")


class WrongCount(Function):
    def forward(self, a, b):
        return a + b

    def backward(self, grad):
        return (grad,)


class WrongShape(Function):
    def forward(self, x):
        return x.sum()

    def backward(self, grad):
        return np.ones(5)


def test_backward_returning_wrong_number_of_grads_raises():
    a, b = leaf([1.0]), leaf([2.0])
    with pytest.raises(RuntimeError, match=r"wrong_count: backward returned 1 gradients for 2"):
        WrongCount.apply(a, b).backward()


def test_backward_returning_wrong_shape_raises_naming_op():
    a = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match=r"wrong_shape: .*\(5,\).*\(2,\)"):
        WrongShape.apply(a).backward()


# ----------------------------------------------------------------------------- issue 9 regressions
# Each test below failed on the engine before the redesign (commit 0902d34).


def _set(array, index, value):
    array[index] = value


@pytest.mark.parametrize(
    ("write", "error", "pattern"),
    [
        (lambda w: _set(w.data, 0, 100.0), RuntimeError, "'w' is held for backward by 'mul'"),
        (lambda w: _set(w.numpy(), slice(None), 5.0), RuntimeError, "'w' is held .* 'mul'"),
        (lambda w: np.add(w.data, 1.0, out=w.data), RuntimeError, "'w' is held .* 'mul'"),
        (lambda w: w.data.__imul__(2.0), RuntimeError, "'w' is held .* 'mul'"),
        (lambda w: _set(w.data[1:], 0, 7.0), RuntimeError, "'w' is held .* 'mul'"),
        (lambda w: w.data.fill(0.0), ValueError, "read-only"),  # numpy's own check
        (lambda w: np.copyto(w.data, 0.0), ValueError, "read-only"),
    ],
    ids=["data[0]=", "numpy()[:]=", "ufunc-out", "imul", "slice-of-data", "fill", "copyto"],
)
def test_element_write_between_forward_and_backward_raises(write, error, pattern):
    w = leaf([1.0, 2.0], name="w")
    loss = (w * w).sum()
    with pytest.raises(error, match=pattern):
        write(w)
    np.testing.assert_array_equal(w.data, [1.0, 2.0])
    loss.backward()
    np.testing.assert_array_equal(w.grad, [2.0, 4.0])  # not [200, 4]


def test_element_write_error_message_names_tensor_and_op():
    w = leaf([1.0, 2.0], name="w")
    loss = w.exp().sum()
    with pytest.raises(RuntimeError, match=r"^tensor 'w' is held for backward by 'exp'"):
        w.data[0] = 100.0
    unnamed = leaf([[1.0, 2.0]])
    loss2 = (unnamed * 3).sum()
    with pytest.raises(RuntimeError, match=r"tensor of shape \(1, 2\) is held .* by 'mul'"):
        unnamed.numpy()[0, 0] = 1.0
    loss.backward()
    loss2.backward()
    np.testing.assert_allclose(w.grad, np.exp([1.0, 2.0]))


def test_writing_the_array_a_tensor_was_built_from_raises_numpys_read_only_error():
    arr = np.array([1.0, 2.0])
    w = Tensor(arr, requires_grad=True)
    loss = (w * w).sum()
    with pytest.raises(ValueError, match="read-only"):
        arr[0] = 100.0
    loss.backward()
    np.testing.assert_array_equal(w.grad, [2.0, 4.0])
    arr[0] = 3.0  # released by backward: the user's array is writable again
    assert w.data[0] == 3.0


def test_held_arrays_are_writable_again_after_backward_or_when_the_graph_is_dropped():
    arr = np.array([1.0, 2.0])
    w = Tensor(arr, requires_grad=True, name="w")
    loss = (w * w).sum()
    del loss  # dropped without backward: nothing can use the saved arrays any more
    w.data[0] = 5.0
    arr[1] = 6.0
    np.testing.assert_array_equal(w.data, [5.0, 6.0])
    loss = (w * 2).sum()
    loss.backward(retain_graph=True)
    with pytest.raises(RuntimeError, match="held for backward"):  # may still run backward
        w.data[0] = 1.0
    loss.backward()
    w.data[0] = 1.0
    assert arr.flags.writeable


def test_model_minus_input_graph_has_a_sub_op_fed_by_the_input_itself():
    model = tg.nn.MLP([3, 4, 3], "tanh", rng=0)
    x = Tensor(np.ones((2, 3)), name="x")
    out = model(x) - x
    assert out.op.name == "sub"
    assert out.op.inputs[1] is x  # x itself, not an unnamed negated copy
    names = [fn.name for fn in toposort(out)]
    assert "neg" not in names and "add" not in names


@pytest.mark.parametrize(
    ("expr", "name", "arity"),
    [
        (lambda a, b: a - b, "sub", 2),
        (lambda a, b: a / b, "div", 2),
        (lambda a, b: -a, "neg", 1),
        (lambda a, b: a.mean(), "mean", 1),
        (lambda a, b: a.mean(axis=0), "mean", 1),
        (lambda a, b: a.softmax(), "softmax", 1),
    ],
)
def test_composite_spellings_are_one_op_of_their_own(expr, name, arity):
    a, b = leaf([[1.0, 2.0]], name="a"), leaf([[3.0, 4.0]], name="b")
    out = expr(a, b)
    order = toposort(out)
    assert [fn.name for fn in order] == [name]
    assert out.op.inputs == (a, b)[:arity]
    assert (
        gradcheck(lambda u, v: expr(u, v), a, b)
        if arity == 2
        else gradcheck(lambda u: expr(u, None), a)
    )


# ----------------------------------------------------------------------------- holding, attacked
# Defects found by attacking the redesigned engine; each test failed before its fix.


def test_tensors_sharing_one_array_keep_it_locked_until_every_graph_is_done():
    w = leaf([1.0, 2.0], name="w")
    x = leaf([3.0, 4.0], name="x")
    d = w.detach()  # shares w's array, as Tensor(w) and Tensor(arr) twice do
    first = (w * w).sum()
    second = (d * x).sum()
    first.backward()  # w's own graph is done, but d's still needs the array
    with pytest.raises(RuntimeError, match="'w' is held for backward by 'mul'"):
        w.data[0] = 100.0
    with pytest.raises(ValueError, match="read-only"):
        np.add(w._data, 1.0, out=w._data)
    second.backward()
    np.testing.assert_array_equal(x.grad, [1.0, 2.0])  # not [100, 2]
    w.data[0] = 5.0  # both graphs done: writable again
    assert d.data[0] == 5.0


@pytest.mark.parametrize(
    "share",
    [lambda arr, w: Tensor(arr), lambda arr, w: Tensor(w), lambda arr, w: Tensor(w.data)],
    ids=["Tensor(arr)-twice", "Tensor(t)", "Tensor(t.data)-while-held"],
)
def test_other_ways_of_sharing_an_array_are_counted_too(share):
    arr = np.array([1.0, 2.0])
    w = Tensor(arr, requires_grad=True)
    x = leaf([3.0, 4.0])
    first = (w * 2).sum()
    other = share(arr, w)
    assert np.shares_memory(other.data, arr)
    second = (other * x).sum()
    first.backward()
    with pytest.raises(ValueError, match="read-only"):
        arr[0] = 100.0
    second.backward()
    np.testing.assert_array_equal(x.grad, [1.0, 2.0])
    arr[0] = 7.0
    assert other.data[0] == 7.0 and w.data[0] == 7.0


@pytest.mark.parametrize(
    "escape",
    [
        lambda y: y.detach().data,
        lambda y: Tensor(y).data,
        lambda y: np.asarray(y),
        lambda y: y.detach().numpy()[1:],
    ],
    ids=["detach", "Tensor(y)", "asarray", "detach-slice"],
)
def test_writes_through_an_escaped_result_array_are_refused(escape):
    """exp keeps its output for backward: that array must not change through an alias."""
    w = leaf([1.0, 2.0])
    y = w.exp()
    alias = escape(y)
    with pytest.raises((RuntimeError, ValueError), match="held for backward by 'exp'|read-only"):
        alias[0] = 100.0
    y.sum().backward()
    np.testing.assert_allclose(w.grad, np.exp([1.0, 2.0]))  # not [100, e^2]


@pytest.mark.parametrize(
    "view",
    [lambda y: y.reshape(4), lambda y: y.T, lambda y: y[1:], lambda y: y[0]],
    ids=["reshape", "T", "slice", "row"],
)
def test_views_made_under_no_grad_of_a_held_result_are_locked_until_backward(view):
    w = leaf([[1.0, 2.0], [3.0, 4.0]])
    y = w.exp()
    with no_grad():
        r = view(y)
    with pytest.raises(RuntimeError, match="held for backward by 'exp'"):
        r.data[...] = 0.0
    y.sum().backward()
    np.testing.assert_allclose(w.grad, np.exp(w.data))
    r.data[...] = 0.0  # the graph is done: the view is an ordinary array again
    assert np.all(y.data[...] >= 0)


def test_a_view_whose_base_was_locked_meanwhile_is_unlocked_with_its_base():
    big = np.arange(4.0)
    part = Tensor(big[:2], requires_grad=True)  # a view of big
    whole = Tensor(big, requires_grad=True)
    first = (part * 2).sum()
    second = (whole * 3).sum()
    first.backward()  # part's view cannot be made writable while big is locked
    second.backward()
    part.data[0] = 10.0  # both done: writable again, not read-only forever
    whole.data[3] = 20.0
    np.testing.assert_array_equal(big, [10.0, 1.0, 2.0, 20.0])


def test_getitem_keeps_its_own_copy_of_the_index():
    x = leaf([0.0, 0.0, 0.0])
    idx = np.array([0, 0])
    y = x[idx]
    idx[0] = 2  # the caller reuses its index array before backward
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [2.0, 0.0, 0.0])
    m = leaf([[0.0, 0.0], [0.0, 0.0]])
    rows, mask = np.array([1]), np.array([True, False])
    z = m[rows, mask]
    rows[0], mask[:] = 0, [False, True]
    z.sum().backward()
    np.testing.assert_array_equal(m.grad, [[0.0, 0.0], [1.0, 0.0]])


class FailOnce(Function):
    """The identity, whose first backward raises (as an anomaly check or a bug would)."""

    failed = False

    def forward(self, x):
        return x.copy()

    def backward(self, grad):
        if not FailOnce.failed:
            FailOnce.failed = True
            raise RuntimeError("backward failed")
        return grad


@pytest.mark.parametrize("failing_first", [True, False])
def test_a_failed_backward_leaves_no_half_summed_gradients_behind(failing_first):
    FailOnce.failed = False
    w = leaf([1.0])
    h = w * 2
    branches = [FailOnce.apply(h).sum(), (h * 3).sum()]
    loss = branches[0] + branches[1] if failing_first else branches[1] + branches[0]
    with pytest.raises(RuntimeError, match="backward failed"):
        loss.backward()
    w.grad = None
    (h * 5).sum().backward()  # shares h with the failed graph
    np.testing.assert_array_equal(w.grad, [10.0])  # not 16: the failed pass's 3 is gone


def test_a_failed_backward_with_retain_graph_can_be_run_again():
    FailOnce.failed = False
    w = leaf([1.0])
    h = w * 2
    loss = (h * 3).sum() + FailOnce.apply(h).sum()
    with pytest.raises(RuntimeError, match="backward failed"):
        loss.backward(retain_graph=True)
    w.grad = None
    loss.backward()
    np.testing.assert_array_equal(w.grad, [8.0])


def test_threads_sharing_an_input_unlock_it_when_all_are_done():
    x = Tensor(np.ones((3, 2)))  # a constant input every thread's graphs hold
    errors, barrier = [], threading.Barrier(4)

    def worker(seed):
        try:
            w = leaf(np.random.default_rng(seed).normal(size=(2, 2)))
            barrier.wait(10)
            for _ in range(200):
                w.grad = None
                ((x @ w).tanh() * x[:, :1]).sum().backward()
                dz = (1 - np.tanh(x.data @ w.data) ** 2) * x.data[:, :1]
                np.testing.assert_allclose(w.grad, x.data.T @ dz, rtol=1e-12)
        except Exception as err:  # noqa: BLE001 (reported below, in the main thread)
            errors.append(err)

    threads = [threading.Thread(target=worker, args=(s,)) for s in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors[0]
    x.data[0, 0] = 2.0  # no graph is left: writable
    assert x._holds == 0


def test_detaching_a_result_many_times_adds_one_hold():
    w = leaf([1.0, 2.0])
    y = w.exp()
    aliases = [y.detach() for _ in range(50)]
    assert len(y.op._held) == 2  # w, and y's own array once
    y.sum().backward()
    aliases[0].data[0] = 0.0  # released: every alias is writable again
    assert aliases[-1].data[0] == 0.0


def test_an_escaped_result_array_is_writable_again_when_its_graph_is_dropped():
    y = leaf([1.0, 2.0]).exp()
    alias = y.detach()
    with pytest.raises(RuntimeError, match="held for backward by 'exp'"):
        alias.data[0] = 5.0
    del y  # nothing can run backward through exp any more
    alias.data[0] = 5.0
    assert alias.data[0] == 5.0

"""Tensor: construction and dtype policy, attributes, operators, errors, float32 end to end."""

import copy
import operator
import pickle
import re
import warnings

import numpy as np
import pytest

import tinygrad_nn as tg
from tinygrad_nn import Tensor, softmax_cross_entropy
from tinygrad_nn.autograd import toposort

# ----------------------------------------------------------------------------- dtype policy


@pytest.mark.parametrize(
    "data",
    [[1, 2, 3], [1.5, 2.5], 3, 2.5, np.arange(4), [[1, 2]]],
    ids=["int-list", "float-list", "int", "float", "int-array", "nested"],
)
def test_numbers_lists_and_int_arrays_become_float32(data):
    t = Tensor(data)
    assert t.dtype == np.float32
    np.testing.assert_array_equal(t.data, np.asarray(data, dtype=np.float64))


@pytest.mark.parametrize("data", [True, np.array([True, False]), [False, True]])
def test_bool_data_stays_a_bool_mask(data):
    t = Tensor(data)
    assert t.dtype == np.bool_
    np.testing.assert_array_equal(t.data, np.asarray(data))
    with pytest.raises(TypeError, match="only float tensors can require grad, got dtype bool"):
        Tensor(data, requires_grad=True)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_numpy_float_arrays_keep_their_dtype(dtype):
    arr = np.array([1.0, 2.0], dtype=dtype)
    assert Tensor(arr).dtype == dtype
    assert Tensor(arr[0]).dtype == dtype  # numpy scalars too


def test_explicit_dtype():
    t = Tensor([1, 2], dtype=np.float64)
    assert t.dtype == np.float64
    assert Tensor(np.ones(2, dtype=np.float64), dtype="float32").dtype == np.float32


def test_set_default_dtype_changes_new_tensors():
    assert tg.get_default_dtype() == np.float32
    try:
        tg.set_default_dtype(np.float64)
        assert tg.get_default_dtype() == np.float64
        assert Tensor([1, 2]).dtype == np.float64
        assert Tensor(3).dtype == np.float64
        assert Tensor(np.ones(2, dtype=np.float32)).dtype == np.float32
    finally:
        tg.set_default_dtype(np.float32)
    assert Tensor([1, 2]).dtype == np.float32


@pytest.mark.parametrize("dtype", [np.int64, np.bool_, "complex128", object])
def test_bad_default_dtype_raises(dtype):
    with pytest.raises(TypeError, match="set_default_dtype: expected a float dtype"):
        tg.set_default_dtype(dtype)
    assert tg.get_default_dtype() == np.float32


def test_integer_tensors_only_by_explicit_dtype_and_without_grad():
    assert Tensor([1, 2], dtype=np.int32).dtype == np.int32
    with pytest.raises(TypeError, match="only float tensors can require grad, got dtype int64"):
        Tensor([1, 2], dtype=np.int64, requires_grad=True)


def test_bad_tensor_dtype_or_data_raises():
    with pytest.raises(TypeError, match="dtype must be a float, integer or bool dtype, got"):
        Tensor([1, 2], dtype=np.complex128)
    with pytest.raises(TypeError, match="cannot make a tensor from str"):
        Tensor("abc")
    with pytest.raises(TypeError, match="cannot make a tensor"):
        Tensor(None)
    with pytest.raises(TypeError, match="cannot make a float64 tensor"):
        Tensor(["a", "b"], dtype=np.float64)


# ----------------------------------------------------------------------------- float32 end to end


def test_python_scalars_do_not_upcast_float32():
    t = Tensor([1.0, 2.0, 4.0], requires_grad=True)
    results = [
        t + 1.5,
        2.5 + t,
        t - 1,
        1 - t,
        t * 0.1,
        3 * t,
        t / 7,
        7.0 / t,
        -t,
        t**2.5,
        t**-1,
        2**t,
        t.mean(),
        t.mean(axis=0, keepdims=True),
    ]
    for r in results:
        assert r.dtype == np.float32, r
    sum(r.sum() for r in results).backward()
    assert t.grad.dtype == np.float32


def test_float32_stays_float32_through_a_network():
    rng = np.random.default_rng(0)
    x = Tensor(rng.normal(size=(6, 4)).astype(np.float32))
    w1 = Tensor(rng.normal(size=(4, 5)).astype(np.float32), requires_grad=True)
    b1 = Tensor(np.zeros(5, dtype=np.float32), requires_grad=True)
    w2 = Tensor(rng.normal(size=(5, 3)).astype(np.float32), requires_grad=True)
    h = (x @ w1 + b1).sigmoid()
    h = h.tanh() + h.relu() * 0.5 - h.max(axis=1, keepdims=True) / 3
    logits = h @ w2
    loss = (
        logits.softmax_cross_entropy([0, 1, 2, 0, 1, 2])
        + logits.softmax().mean()
        + (w1**2).sum() * 1e-3
        + (2 ** logits[::2, [0, 0]]).log().sum() * 1e-2
        + logits.T.reshape(-1).sum() * 0
    )
    assert loss.dtype == np.float32
    loss.backward()
    for fn in toposort(loss):
        for t in fn.inputs:
            assert t.dtype == np.float32, fn
    for p in (w1, b1, w2):
        assert p.grad.dtype == np.float32
        assert p.grad.shape == p.shape
        assert np.all(np.isfinite(p.grad))


def test_float64_stays_float64():
    a = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = (a * 2 + 1).sigmoid().log_softmax().sum()
    assert y.dtype == np.float64
    y.backward()
    assert a.grad.dtype == np.float64


def test_mixed_float32_float64_promote_like_numpy_and_grads_keep_own_dtype():
    a = Tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True)
    b = Tensor(np.array([3.0, 4.0], dtype=np.float64), requires_grad=True)
    y = a * b
    assert y.dtype == np.result_type(a.data, b.data) == np.float64
    (y + a).sum().backward()
    assert a.grad.dtype == np.float32
    assert b.grad.dtype == np.float64
    np.testing.assert_array_equal(a.grad, [4.0, 5.0])
    np.testing.assert_array_equal(b.grad, [1.0, 2.0])


def test_float32_tensor_with_float64_array_promotes():
    a = Tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True)
    arr = np.array([0.5, 0.25])
    for y in (a + arr, arr * a, a - arr, arr / a, arr @ a):
        assert y.dtype == np.float64
    (arr - a).sum().backward()
    assert a.grad.dtype == np.float32
    np.testing.assert_array_equal(a.grad, [-1.0, -1.0])


def test_retained_grad_keeps_intermediate_dtype():
    a = Tensor(np.array([1.0], dtype=np.float32), requires_grad=True)
    h = (a * 2).retain_grad()
    (h * np.array([3.0])).sum().backward()
    assert h.grad.dtype == np.float32
    assert a.grad.dtype == np.float32


# ----------------------------------------------------------------------------- attributes


def test_attributes_of_a_leaf_and_a_result():
    a = Tensor(np.zeros((2, 3)), requires_grad=True, name="a")
    assert a.shape == (2, 3) and a.ndim == 2 and a.size == 6 and len(a) == 2
    assert a.name == "a" and a.requires_grad and a.is_leaf and a.op is None
    assert a.grad is None
    y = a * 2
    assert not y.is_leaf and y.requires_grad and y.op is not None and y.name is None
    assert y.op.name == "mul" and y.op.inputs[0] is a
    c = Tensor([1.0]) * 2  # nothing requires grad: not recorded
    assert c.is_leaf and not c.requires_grad and c.op is None
    with pytest.raises(TypeError, match="0-d"):
        len(Tensor(1.0))


def test_transpose_property_T():
    a = Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    np.testing.assert_array_equal(a.T.data, a.data.T)
    (a.T * np.arange(6.0).reshape(3, 2)).sum().backward()
    np.testing.assert_array_equal(a.grad, np.arange(6.0).reshape(3, 2).T)


def test_item():
    v = Tensor(np.array([[2.5]])).item()
    assert v == 2.5 and type(v) is float
    assert Tensor(3).item() == 3.0
    with pytest.raises(ValueError, match=r"item: tensor of shape \(2,\) has 2 elements"):
        Tensor([1.0, 2.0]).item()


def test_numpy_returns_the_data():
    arr = np.array([1.0, 2.0])
    t = Tensor(arr)
    assert isinstance(t.numpy(), np.ndarray)
    np.testing.assert_array_equal(t.numpy(), arr)
    assert t.numpy() is t.data


def test_repr_mentions_dtype_name_shape_and_op():
    small = Tensor([1.0, 2.0], requires_grad=True, name="w1")
    text = repr(small)
    assert text.startswith("Tensor(")
    assert "float32" in text and "'w1'" in text and "requires_grad=True" in text
    assert "1." in text and "2." in text
    big = Tensor(np.zeros((7, 5)), name="big")
    text = repr(big)
    assert "(7, 5)" in text and "float64" in text and "'big'" in text
    assert "op=mul" in repr(small * 2)


def test_zero_grad_sets_none():
    a = Tensor([1.0, 2.0], requires_grad=True)
    assert a.grad is None
    (a * 2).sum().backward()
    assert a.grad is not None
    a.zero_grad()
    assert a.grad is None


def test_data_setter_bumps_version_and_converts():
    a = Tensor([1.0, 2.0])
    before = a._version
    a.data -= 1
    middle = a._version
    a.data = [5, 6]
    # each write moves the version (the global edit count at the tensor's last change)
    assert before < middle < a._version
    assert a.dtype == np.float32
    np.testing.assert_array_equal(a.data, [5.0, 6.0])


def test_getitem_repeated_integer_indices_grad():
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    x[[0, 0, 1]].sum().backward()
    np.testing.assert_array_equal(x.grad, [2.0, 1.0, 0.0])
    x.zero_grad()
    x[Tensor([0, 0, 1])].sum().backward()  # an index given as a (float) Tensor
    np.testing.assert_array_equal(x.grad, [2.0, 1.0, 0.0])


def test_getitem_out_of_range_raises():
    with pytest.raises(IndexError, match=r"getitem: .*\(3,\)"):
        Tensor([1.0, 2.0, 3.0])[5]


# ----------------------------------------------------------------------------- operand errors


BINARY_OPERATORS = [operator.add, operator.sub, operator.mul, operator.truediv, operator.matmul]


@pytest.mark.parametrize("other", ["a", None, [1.0, 2.0], object()])
@pytest.mark.parametrize("op", BINARY_OPERATORS, ids=lambda f: f.__name__)
def test_unsupported_operand_types_raise_type_error(op, other):
    t = Tensor([1.0, 2.0])
    # Tensor declines; for `*` a str or list then tries sequence repetition itself
    with pytest.raises(TypeError, match="unsupported operand|multiply sequence"):
        op(t, other)
    with pytest.raises(TypeError):  # str and list may word their own message
        op(other, t)


def test_tensor_exponent_gives_numpy_values():
    # issue 11: a Tensor or array exponent is an op now (it used to raise TypeError)
    t = Tensor(np.array([1.0, 2.0, -2.0, -2.0]))
    y = np.array([0.5, 3.0, 2.0, 0.5])
    with np.errstate(invalid="ignore"):
        expected = np.power(t.data, y)  # NaN for (-2) ** 0.5
        np.testing.assert_array_equal((t ** Tensor(y)).data, expected)
        np.testing.assert_array_equal(t.pow(y).data, expected)
    with pytest.raises(TypeError, match="pow: the exponent must be a number, got str"):
        t ** "2"
    with pytest.raises(TypeError, match="pow: the exponent must be a number, got list"):
        t.pow([1.0, 2.0])


@pytest.mark.parametrize("base", [-2.0, 0, 3])
def test_number_to_tensor_power_gives_numpy_values_for_any_base(base):
    # issue 11: negative and zero bases follow numpy (they used to raise TypeError)
    y = np.array([1.0, 2.0, 0.5, 0.0, -1.0])
    with np.errstate(invalid="ignore", divide="ignore"):
        out = base ** Tensor(y)
        np.testing.assert_array_equal(out.data, np.power(float(base), y))


def test_non_number_base_raises_type_error():
    with pytest.raises(TypeError, match="unsupported operand"):
        "x" ** Tensor([1.0, 2.0])


# ----------------------------------------------------------------------------- shape errors


def test_matmul_misalignment_message():
    a = Tensor(np.zeros((721, 64)))
    b = Tensor(np.zeros((48, 32)))
    expected = "matmul: shapes (721, 64) and (48, 32) do not align (64 != 48)"
    with pytest.raises(ValueError, match=f"^{re.escape(expected)}$"):
        a @ b
    with pytest.raises(ValueError, match=re.escape("matmul: shapes (3,) and (4,) do not align")):
        Tensor(np.zeros(3)) @ Tensor(np.zeros(4))
    with pytest.raises(ValueError, match=re.escape("(2, 3, 4) and (5,) do not align (4 != 5)")):
        Tensor(np.zeros((2, 3, 4))) @ np.zeros(5)
    with pytest.raises(ValueError, match="matmul: .*scalars"):
        Tensor(np.zeros(3)) @ Tensor(2.0)


def test_linear_layer_misalignment_message():
    from tinygrad_nn.nn import Linear

    layer = Linear(48, 32)
    expected = "linear: shapes (721, 64) and (48, 32) do not align (64 != 48)"
    with pytest.raises(ValueError, match=f"^{re.escape(expected)}$"):
        layer(Tensor(np.zeros((721, 64))))
    with pytest.raises(ValueError, match=re.escape("linear: bias of shape (3,) for 32 outputs")):
        from tinygrad_nn import ops

        ops.Linear.apply(np.zeros((2, 48)), layer.weight, np.zeros(3))


@pytest.mark.parametrize(
    ("op", "name", "left", "right"),
    [
        (operator.add, "add", (2, 3), (4,)),
        (operator.mul, "mul", (2, 3), (4,)),
        (operator.add, "add", (4,), (2, 3)),
        (operator.mul, "mul", (2, 3), (4, 1, 2)),
        (operator.matmul, "matmul", (2, 3, 4), (5, 4, 2)),
    ],
)
@pytest.mark.parametrize("right_is_array", [False, True])
def test_broadcast_error_names_op_and_shapes(op, name, left, right, right_is_array):
    a = Tensor(np.ones(left), requires_grad=True)
    b = np.ones(right) if right_is_array else Tensor(np.ones(right))
    pattern = rf"^{name}: shapes {re.escape(str(left))} and {re.escape(str(right))} cannot be"
    with pytest.raises(ValueError, match=pattern):
        op(a, b)


def test_broadcast_error_in_composites_names_both_shapes():
    a = Tensor(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"\(2, 3\) and \(2,\) cannot be broadcast"):
        a - np.zeros(2)
    with pytest.raises(ValueError, match=r"\(2, 3\) and \(5,\) cannot be broadcast"):
        a / np.ones(5)


def test_reshape_error():
    with pytest.raises(
        ValueError,
        match=re.escape("reshape: cannot reshape tensor of shape (2, 3) (6 elements) into (4, 2)"),
    ):
        Tensor(np.zeros((2, 3))).reshape(4, 2)


def test_transpose_and_axis_errors():
    with pytest.raises(ValueError, match=r"transpose: axes \(0, 0\) .*\(2, 3\)"):
        Tensor(np.zeros((2, 3))).transpose((0, 0))
    with pytest.raises(ValueError, match=r"sum: .*\(2, 3\).*axis 2 is out of range"):
        Tensor(np.zeros((2, 3))).sum(axis=2)
    with pytest.raises(ValueError, match=r"max: cannot reduce an empty tensor"):
        Tensor(np.zeros((0, 3))).max()


# ----------------------------------------------------------------------------- cross-entropy


LOGITS = np.array([[1.0, 2.0, 0.5], [0.1, -1.0, 3.0]])


def test_cross_entropy_method_and_function_agree():
    a = Tensor(LOGITS).softmax_cross_entropy([1, 2]).item()
    b = softmax_cross_entropy(Tensor(LOGITS), np.array([1, 2])).item()
    c = softmax_cross_entropy(Tensor(LOGITS), Tensor([1.0, 2.0])).item()  # integral floats
    log_p = LOGITS - np.log(np.exp(LOGITS).sum(axis=1, keepdims=True))
    expected = -(log_p[0, 1] + log_p[1, 2]) / 2
    assert a == pytest.approx(expected, rel=1e-12)
    assert b == pytest.approx(expected, rel=1e-12)
    assert c == pytest.approx(expected, rel=1e-12)


def test_cross_entropy_integral_float_tensor_targets_gradient():
    x = Tensor(LOGITS, requires_grad=True)
    x.softmax_cross_entropy(Tensor(np.array([1.0, 2.0]))).backward()
    y = Tensor(LOGITS, requires_grad=True)
    y.softmax_cross_entropy([1, 2]).backward()
    np.testing.assert_array_equal(x.grad, y.grad)


@pytest.mark.parametrize(
    ("targets", "pattern"),
    [
        ([0, 3], r"targets must lie in \[0, 3\), got values from 0 to 3"),
        ([-1, 0], r"targets must lie in \[0, 3\), got values from -1 to 0"),
        ([0, 1, 2], r"targets must have shape \(2,\) .* got shape \(3,\)"),
        ([[0], [1]], r"targets must have shape \(2,\) .* got shape \(2, 1\)"),
        (3, r"targets must have shape \(2,\)"),
        ([0.5, 1.0], "targets must be integer class indices"),
        (np.array([0.0, np.nan]), "targets must be integer class indices"),
        (Tensor([0.0, 1.5]), "targets must be integer class indices"),
        (["a", "b"], "targets must be integer class indices, got dtype"),
    ],
)
def test_cross_entropy_rejects_bad_targets(targets, pattern):
    with pytest.raises(ValueError, match=f"^softmax_cross_entropy: {pattern}"):
        Tensor(LOGITS, requires_grad=True).softmax_cross_entropy(targets)


def test_cross_entropy_rejects_bad_logits():
    with pytest.raises(ValueError, match=r"logits must be 2-D \(N, K\), got shape \(3,\)"):
        Tensor([1.0, 2.0, 3.0]).softmax_cross_entropy([0, 1, 2])
    with pytest.raises(ValueError, match="no rows"):
        Tensor(np.zeros((0, 3))).softmax_cross_entropy([])


def test_plus_str_and_none_name_both_types():
    t = Tensor([1.0, 2.0])
    with pytest.raises(TypeError, match=r"for \+: 'Tensor' and 'str'"):
        t + "a"
    with pytest.raises(TypeError, match=r"for \+: 'Tensor' and 'NoneType'"):
        t + None
    with pytest.raises(TypeError, match=r"for -: 'NoneType' and 'Tensor'"):
        None - t


# ----------------------------------------------------------------------------- issue 9 regressions
# Each test below failed on the engine before the redesign (commit 0902d34).

ROWS = np.arange(8.0).reshape(4, 2)
MASK = np.array([True, False, True, False])


@pytest.mark.parametrize(
    "mask",
    [Tensor(MASK), MASK, MASK.tolist()],
    ids=["bool-tensor", "bool-array", "bool-list"],
)
def test_boolean_mask_index_selects_like_numpy(mask):
    x = Tensor(ROWS, requires_grad=True)
    out = x[mask]
    np.testing.assert_array_equal(out.data, ROWS[MASK])  # rows 0 and 2, not rows [1, 0, 1, 0]
    out.sum().backward()
    np.testing.assert_array_equal(x.grad, np.repeat(MASK[:, None], 2, axis=1).astype(float))


def test_boolean_mask_tensor_inside_a_tuple_index_and_two_dimensional():
    x = Tensor(ROWS, requires_grad=True)
    np.testing.assert_array_equal(x[Tensor(MASK), 1].data, ROWS[MASK, 1])
    grid = ROWS > 2.5
    out = x[Tensor(grid)]
    np.testing.assert_array_equal(out.data, ROWS[grid])
    (out * out).sum().backward()
    np.testing.assert_array_equal(x.grad, np.where(grid, 2 * ROWS, 0.0))


@pytest.mark.parametrize(
    ("index", "shown"),
    [
        (Tensor([1.7]), "1.7"),
        (Tensor(1.1), "1.1"),
        (Tensor([0.0, 2.5]), "2.5"),
        (Tensor(np.nan), "nan"),
    ],
    ids=["list-1.7", "0d-1.1", "second-of-two", "nan"],
)
def test_non_integer_float_index_raises_index_error_naming_the_value(index, shown):
    x = Tensor(ROWS)
    with pytest.raises(IndexError, match=rf"getitem: .*non-integer value .*{re.escape(shown)}"):
        x[index]


def test_integral_float_tensor_index_still_picks_those_rows():
    x = Tensor(ROWS)
    np.testing.assert_array_equal(x[Tensor(1.0)].data, ROWS[1])
    np.testing.assert_array_equal(x[Tensor([3.0, 0.0])].data, ROWS[[3, 0]])


def test_data_setter_casts_integers_to_the_tensor_float_dtype():
    t = Tensor([1.0, 2.0], requires_grad=True)
    t.data = np.array([1, 2])
    assert t.dtype == np.float32 and t.data.dtype == np.float32
    np.testing.assert_array_equal((t * 0.5).data, [0.5, 1.0])  # not integer [0, 0]
    (t * 0.5).sum().backward()
    assert t.grad.dtype == np.float32
    np.testing.assert_array_equal(t.grad, [0.5, 0.5])
    d = Tensor(np.array([1.0, 2.0]))
    d.data = np.array([0.25, 0.5], dtype=np.float32)
    assert d.dtype == np.float64  # never changes a tensor's dtype
    d.data = [True, False]
    assert d.dtype == np.float64
    np.testing.assert_array_equal(d.data, [1.0, 0.0])


@pytest.mark.parametrize("value", [np.array(["a", "b"]), np.array([1j, 2j]), [object(), 1]])
def test_data_setter_refuses_non_numeric_data(value):
    t = Tensor([1.0, 2.0])
    with pytest.raises(TypeError, match=r"data: cannot store .* in a float32 tensor"):
        t.data = value
    assert t.dtype == np.float32
    np.testing.assert_array_equal(t.data, [1.0, 2.0])


def test_sigmoid_of_a_0d_tensor():
    x = Tensor(0.5, requires_grad=True)
    y = x.sigmoid()
    assert y.shape == () and y.dtype == np.float32
    expected = 1 / (1 + np.exp(-0.5))
    assert y.item() == pytest.approx(expected, rel=1e-6)
    y.backward()
    assert x.grad.shape == () and x.grad.dtype == np.float32
    assert float(x.grad) == pytest.approx(expected * (1 - expected), rel=1e-6)


def test_mean_of_empty_is_nan_with_numpy_warning():
    x = Tensor(np.zeros((0, 3)), requires_grad=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        m = x.mean()
        cols = x.mean(axis=0)
    messages = [str(w.message) for w in caught if w.category is RuntimeWarning]
    assert messages.count("Mean of empty slice") == 2, messages  # numpy's own warning
    assert m.shape == () and np.isnan(m.item())
    assert cols.shape == (3,) and np.all(np.isnan(cols.data))
    rows = x.mean(axis=1)  # a mean over 3 elements for each of no rows: no warning
    assert rows.shape == (0,)
    m.backward()
    assert x.grad.shape == (0, 3) and x.grad.dtype == np.float64


@pytest.mark.parametrize(
    ("expr", "name"),
    [
        (lambda a, b: a - b, "sub"),
        (lambda a, b: b - a, "sub"),
        (lambda a, b: a.sub(b), "sub"),
        (lambda a, b: a / b, "div"),
        (lambda a, b: b / a, "div"),
        (lambda a, b: a.div(b), "div"),
    ],
)
def test_shape_errors_name_what_the_user_wrote(expr, name):
    a = Tensor(np.ones((2, 3)), requires_grad=True)
    b = Tensor(np.ones(4))
    with pytest.raises(ValueError, match=rf"^{name}: shapes \(\d(, \d)?,?\) and \(\d(, \d)?,?\)"):
        expr(a, b)


def test_mean_and_softmax_errors_name_mean_and_softmax():
    with pytest.raises(ValueError, match=r"^mean: .*axis 3 is out of range"):
        Tensor(np.ones(2)).mean(axis=3)
    with pytest.raises(ValueError, match=r"^softmax: needs at least one axis"):
        Tensor(2.0).softmax()
    with pytest.raises(ValueError, match=r"^softmax: .*axis 2 is out of range"):
        Tensor(np.ones((2, 2))).softmax(axis=2)


def test_anomaly_in_a_negation_names_neg():
    x = Tensor(np.array([np.inf, 1.0]), requires_grad=True)
    with tg.detect_anomaly(), pytest.raises(FloatingPointError, match=r"^neg: forward"):
        _ = -x


@pytest.mark.parametrize(
    ("data", "truth"),
    [([0.0], False), ([2.0], True), (0.0, False), (-1.0, True), ([[0.0]], False)],
)
def test_bool_of_one_element_tensor_is_its_truth_value(data, truth):
    assert bool(Tensor(data)) is truth


@pytest.mark.parametrize("data", [[0.0, 1.0], [[1.0, 1.0]], np.zeros((0, 2))])
def test_bool_of_larger_or_empty_tensor_raises_like_numpy(data):
    with pytest.raises(ValueError, match="ambiguous"):
        bool(Tensor(data))


def test_iterating_a_0d_tensor_raises_and_1d_yields_rows_in_the_graph():
    with pytest.raises(TypeError, match="0-d"):
        list(Tensor(5.0))
    with pytest.raises(TypeError, match="0-d"):
        iter(Tensor(5.0))
    x = Tensor(ROWS, requires_grad=True)
    rows = list(x)
    assert len(rows) == 4 and all(isinstance(r, Tensor) and r.shape == (2,) for r in rows)
    np.testing.assert_array_equal(rows[3].data, ROWS[3])
    (rows[0] * 3 + rows[2]).sum().backward()
    np.testing.assert_array_equal(x.grad, [[3, 3], [0, 0], [1, 1], [0, 0]])


def test_numpy_sees_a_tensor_as_its_values_not_an_object_array():
    t = Tensor([1.0, 2.0], requires_grad=True)
    u = Tensor(np.array([3.0]))
    arr = np.asarray(t)
    assert type(arr) is np.ndarray and arr.dtype == np.float32
    np.testing.assert_array_equal(arr, [1.0, 2.0])
    both = np.concatenate([t, u])
    assert both.dtype == np.float64  # numpy's promotion of float32 and float64, not object
    np.testing.assert_array_equal(both, [1.0, 2.0, 3.0])
    assert np.array(t, dtype=np.float64).dtype == np.float64
    stacked = np.stack([Tensor(1.0), Tensor(2.0)])
    assert stacked.dtype == np.float32 and stacked.shape == (2,)
    assert float(Tensor([2.5])) == 2.5 and float(Tensor(np.array([[4.0]]))) == 4.0
    with pytest.raises(ValueError, match="2 elements"):
        float(Tensor([1.0, 2.0]))


# ----------------------------------------------------------------------------- pickling, copying
# Defects found by attacking the redesigned engine; each test failed before its fix.


@pytest.mark.parametrize(
    "copier",
    [lambda t: pickle.loads(pickle.dumps(t)), copy.deepcopy],
    ids=["pickle", "deepcopy"],
)
def test_a_copy_of_a_held_tensor_is_an_independent_writable_leaf(copier):
    w = Tensor(np.array([1.0, 2.0]), requires_grad=True, name="w")
    w.grad = np.array([0.5, 0.5])
    loss = (w * w).sum()
    c = copier(w)
    assert c is not w and c.name == "w" and c.requires_grad and c.dtype == np.float64
    np.testing.assert_array_equal(c.grad, [0.5, 0.5])
    c.data[0] = 9.0  # not held: nothing of w's graph came along
    c.data = c.data * 2
    np.testing.assert_array_equal(w.data, [1.0, 2.0])
    with pytest.raises(RuntimeError, match="held for backward"):
        w.data[0] = 9.0  # the original is still held
    loss.backward()
    np.testing.assert_array_equal(w.grad, [2.5, 4.5])


def test_results_pickle_as_leaves_without_their_graph():
    w = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    h = (w * 3).retain_grad()  # retain_grad keeps a weak reference, which cannot pickle
    c = pickle.loads(pickle.dumps(h))
    assert c.is_leaf and c.op is None and c.requires_grad
    np.testing.assert_array_equal(c.data, [3.0, 6.0])
    for dtype in (np.bool_, np.int32, np.float32):
        t = pickle.loads(pickle.dumps(Tensor([1, 0], dtype=dtype)))
        assert t.dtype == dtype and not t.requires_grad


def test_a_shallow_copy_shares_the_array():
    t = Tensor(np.array([1.0, 2.0]))
    c = copy.copy(t)
    assert c is not t and np.shares_memory(c.data, t.data)


def test_ops_refuse_to_be_pickled_or_copied_with_a_clear_error():
    y = Tensor(np.array([1.0]), requires_grad=True) * 2
    with pytest.raises(TypeError, match="cannot pickle or copy the op 'mul'"):
        pickle.dumps(y.op)
    with pytest.raises(TypeError, match="cannot pickle or copy the op 'mul'"):
        copy.deepcopy(y.op)


def test_a_module_deep_copied_while_held_trains_on_its_own():
    model = tg.nn.MLP([2, 3, 1], "tanh", rng=0, dtype=np.float64)
    x = Tensor(np.ones((4, 2)))
    loss = model(x).sum()
    twin = copy.deepcopy(model)
    opt = tg.optim.SGD(twin.parameters(), lr=0.1)
    twin(x).sum().backward()
    opt.step()  # the copy's parameters are its own and writable
    assert not np.array_equal(twin.fc1.weight.data, model.fc1.weight.data)
    loss.backward()


# ---------------------------------------------------------------------------- data setter, attacked


def test_assigning_a_held_tensors_data_shares_its_array_and_stays_updatable():
    w = Tensor(np.array([1.0, 2.0]), requires_grad=True, name="w")
    u = Tensor(np.zeros(2), requires_grad=True, name="u")
    loss = (w * w).sum()
    u.data = w.data  # shares w's array, as the assignment says
    assert np.shares_memory(u.data, w.data)
    with pytest.raises(RuntimeError, match="'u' is held for backward by 'mul'"):
        u.data[0] = 5.0
    loss.backward()
    u.grad = np.ones(2)
    tg.optim.SGD([u], lr=0.5).step()  # not read-only forever
    np.testing.assert_array_equal(w.data, [0.5, 1.5])


def test_assigning_a_tensor_its_own_held_data_keeps_it_updatable():
    w = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    loss = (w * w).sum()
    w.data = w.data
    w.data = w.numpy()
    del loss
    w.grad = np.ones(2)
    tg.optim.SGD([w], lr=0.5).step()
    np.testing.assert_array_equal(w.data, [0.5, 1.5])


def test_assigning_a_read_only_array_stores_a_writable_copy():
    frozen = np.array([1.0, 2.0])
    frozen.flags.writeable = False
    t = Tensor(np.zeros(2), requires_grad=True)
    t.data = frozen
    t.data[0] = 3.0
    np.testing.assert_array_equal(frozen, [1.0, 2.0])
    y = Tensor(np.array([1.0]), requires_grad=True).exp()
    t2 = Tensor(np.zeros(1))
    t2.data = np.asarray(y)  # read-only while y's graph is alive
    t2.data[0] = 0.0
    assert y.item() == pytest.approx(np.e)

"""gradcheck itself, and user-defined ops through Function subclasses."""

import re

import numpy as np
import pytest

from tinygrad_nn import Function, Tensor, gradcheck
from tinygrad_nn.gradcheck import GradcheckError, numerical_grad


class Square(Function):
    def forward(self, x):
        self.x = x
        return x * x

    def backward(self, grad):
        return grad * 2 * self.x


class WrongSquare(Function):
    """Deliberately wrong: claims d(x^2)/dx = x."""

    def forward(self, x):
        self.x = x
        return x * x

    def backward(self, grad):
        return grad * self.x


class ScaledSoftplus(Function):
    """scale * log(1 + e^x); the setting arrives as a keyword of forward."""

    def forward(self, x, scale=1.0):
        self.x, self.scale = x, scale
        return scale * np.logaddexp(0.0, x)

    def backward(self, grad):
        return grad * self.scale / (1.0 + np.exp(-self.x))  # a bare array: one input


class WeightedSum(Function):
    """a * w + b with b's gradient deliberately wrong (and a constant w)."""

    def forward(self, a, w, b):
        self.w = w
        return a * w + b

    def backward(self, grad):
        return grad * self.w, None, grad * 0.5


def test_gradcheck_returns_true_for_correct_ops():
    x = Tensor(np.array([0.3, -1.2, 2.0]), requires_grad=True)
    assert gradcheck(lambda t: Square.apply(t), x) is True
    y = Tensor(np.array([[0.5], [1.5]]), requires_grad=True)
    assert gradcheck(lambda a, b: (a * b).sigmoid(), x, y) is True


def test_gradcheck_names_input_and_both_values_for_wrong_backward():
    x = Tensor(np.array([0.5, -1.0, 2.0]), requires_grad=True)
    with pytest.raises(GradcheckError) as info:
        gradcheck(lambda t: WrongSquare.apply(t), x)
    message = str(info.value)
    # the worst element is the largest |x|: analytic w*x vs numerical 2*w*x, where w is
    # gradcheck's fixed random weight for that output element
    match = re.fullmatch(
        r"gradcheck: input 0 element \(2,\): analytic (\S+) vs numerical (\S+) \(.*\)", message
    )
    assert match, message
    weight = np.random.default_rng(0).uniform(0.5, 1.5, size=3)[2]
    assert float(match.group(1)) == pytest.approx(weight * 2.0, rel=1e-12)
    assert float(match.group(2)) == pytest.approx(weight * 4.0, rel=1e-6)


def test_gradcheck_error_is_an_assertion_error():
    assert issubclass(GradcheckError, AssertionError)
    x = Tensor(np.array([1.0]), requires_grad=True)
    with pytest.raises(AssertionError):
        gradcheck(lambda t: WrongSquare.apply(t), x)


def test_gradcheck_names_the_right_input_index():
    a = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    w = np.array([3.0, -1.0])
    b = Tensor(np.array([0.1, 0.2]), requires_grad=True)
    with pytest.raises(GradcheckError, match=r"^gradcheck: input 2 element \(\d,\): analytic"):
        gradcheck(lambda x, ww, y: WeightedSum.apply(x, ww, y), a, w, b)


def test_gradcheck_requires_some_input_with_grad():
    with pytest.raises(ValueError, match="no input has requires_grad=True"):
        gradcheck(lambda t: t * 2, Tensor([1.0]))


def test_gradcheck_requires_tensor_output():
    with pytest.raises(TypeError, match="fn must return a Tensor, got float"):
        gradcheck(lambda t: 1.0, Tensor([1.0], requires_grad=True))


def test_gradcheck_works_in_float64_without_touching_inputs():
    x = Tensor(np.array([0.1, 0.2], dtype=np.float32), requires_grad=True)
    seen = []

    def fn(t):
        seen.append(t.dtype)
        return t.exp()

    assert gradcheck(fn, x)
    assert set(seen) == {np.dtype(np.float64)}
    assert x.grad is None  # the caller's tensor is untouched
    assert x.dtype == np.float32


def test_gradcheck_tolerance_is_configurable():
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)

    def nearly(t):
        return t * 2 + (t * 1e-4).detach() * 0  # exact gradient 2

    assert gradcheck(nearly, x)

    # a gradient off by 1%: passes a loose rtol, fails a tight one
    class OffByOnePercent(Function):
        def forward(self, v):
            return 2 * v

        def backward(self, grad):
            return grad * 2.02

    assert gradcheck(lambda t: OffByOnePercent.apply(t), x, rtol=0.02)
    with pytest.raises(GradcheckError):
        gradcheck(lambda t: OffByOnePercent.apply(t), x, rtol=1e-3)


def test_numerical_grad_matches_known_derivative():
    x = Tensor(np.array([[0.5, -1.0], [2.0, 0.0]]))
    weights = np.array([[1.0, 2.0], [3.0, 4.0]])
    grad = numerical_grad(lambda t: t * t * t, [x], 0, weights, eps=1e-6)
    np.testing.assert_allclose(grad, weights * 3 * x.data**2, rtol=1e-6, atol=1e-8)
    np.testing.assert_array_equal(x.data, [[0.5, -1.0], [2.0, 0.0]])  # restored


def test_custom_function_with_settings_and_bare_array_backward():
    x = Tensor(np.array([-3.0, 0.0, 2.5]), requires_grad=True)
    y = ScaledSoftplus.apply(x, scale=3.0)
    np.testing.assert_allclose(y.data, 3.0 * np.log1p(np.exp(x.data)))
    assert y.op.name == "scaled_softplus"
    y.sum().backward()
    np.testing.assert_allclose(x.grad, 3.0 / (1.0 + np.exp(-x.data)))
    assert gradcheck(lambda t: ScaledSoftplus.apply(t, scale=0.5), x)


def test_custom_function_accepts_arrays_and_numbers():
    y = ScaledSoftplus.apply(np.array([0.0, 1.0]), scale=2)
    assert isinstance(y, Tensor) and not y.requires_grad
    np.testing.assert_allclose(y.data, 2 * np.logaddexp(0, [0.0, 1.0]))
    z = ScaledSoftplus.apply(0.0)
    assert z.dtype == np.float32
    assert z.item() == pytest.approx(np.log(2.0))


def test_custom_function_name_can_be_set():
    class Thing(Function):
        name = "my thing"

        def forward(self, x):
            return x

        def backward(self, grad):
            return grad

    assert Thing.apply(Tensor([1.0], requires_grad=True)).op.name == "my thing"


def test_unimplemented_function_raises():
    class Empty(Function):
        pass

    with pytest.raises(NotImplementedError, match="Empty must define forward"):
        Empty.apply(Tensor([1.0]))

"""losses: each loss against a direct numpy formula written from PyTorch's documentation,
float64 gradients against central differences, every reduction, and shape errors (a
target never broadcasts against the prediction)."""

import pickle

import numpy as np
import pytest

from tinygrad_nn import Tensor, gradcheck, softmax_cross_entropy
from tinygrad_nn.losses import (
    binary_cross_entropy_with_logits,
    cross_entropy,
    huber_loss,
    l1_loss,
    mse_loss,
)

RNG = np.random.default_rng(11)
PRED = RNG.normal(size=(5, 3))
TARGET = RNG.normal(size=(5, 3))
LOGITS = RNG.normal(size=(6, 4)) * 2
LABELS = np.array([3, 0, 1, 1, 2, 0])
PROBS = RNG.dirichlet(np.ones(4), size=6)
CLASS_WEIGHT = np.array([0.5, 2.0, 1.0, 3.0])
BINARY = (RNG.uniform(size=(5, 3)) > 0.5).astype(float)
SOFT_BINARY = RNG.uniform(size=(5, 3))


def reduce(losses, reduction):
    return {"mean": np.mean, "sum": np.sum, "none": lambda v: v}[reduction](losses)


def np_log_softmax(z):
    shifted = z - z.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def np_huber(d, delta):
    # PyTorch's HuberLoss: 0.5 d^2 if |d| < delta, else delta (|d| - 0.5 delta)
    return np.where(np.abs(d) < delta, 0.5 * d**2, delta * (np.abs(d) - 0.5 * delta))


def np_bce(x, y, w=1.0, p=1.0):
    # PyTorch's BCEWithLogitsLoss: -w [p y log sigmoid(x) + (1 - y) log(1 - sigmoid(x))]
    s = 1 / (1 + np.exp(-x))
    return -w * (p * y * np.log(s) + (1 - y) * np.log(1 - s))


def np_cross_entropy_indices(z, y, weight=None, eps=0.0, reduction="mean"):
    # PyTorch's cross_entropy with class indices, in the shape of its implementation:
    # (1 - eps) * nll_loss(logp, y, weight) + eps / K * smooth, both normalised by the
    # summed weights of the targets' classes under "mean"
    n, k = z.shape
    logp = np_log_softmax(z)
    w = np.ones(k) if weight is None else weight
    nll = -w[y] * logp[np.arange(n), y]
    smooth = -(logp * w).sum(axis=1)
    if reduction == "mean":
        return ((1 - eps) * nll.sum() + eps / k * smooth.sum()) / w[y].sum()
    return reduce((1 - eps) * nll + eps / k * smooth, reduction)


def np_cross_entropy_probs(z, q, weight=None, eps=0.0, reduction="mean"):
    # with class probabilities: l_n = -sum_k w_k q'_nk log softmax(z_n)_k, q' smoothed;
    # "mean" divides by N
    k = z.shape[1]
    w = np.ones(k) if weight is None else weight
    q = (1 - eps) * q + eps / k
    return reduce(-(w * q * np_log_softmax(z)).sum(axis=1), reduction)


def case(id, loss, ref, *inputs):
    return pytest.param(loss, ref, inputs, id=id)


CASES = []
for red in ("mean", "sum", "none"):
    CASES += [
        case(
            f"mse-{red}",
            lambda p, t, r=red: mse_loss(p, t, reduction=r),
            lambda p, t, r=red: reduce((p - t) ** 2, r),
            PRED,
            TARGET,
        ),
        case(
            f"l1-{red}",
            lambda p, t, r=red: l1_loss(p, t, reduction=r),
            lambda p, t, r=red: reduce(np.abs(p - t), r),
            PRED,
            TARGET,
        ),
        case(
            f"huber-{red}",
            lambda p, t, r=red: huber_loss(p, t, reduction=r),
            lambda p, t, r=red: reduce(np_huber(p - t, 1.0), r),
            PRED,
            TARGET,
        ),
        case(
            f"bce-{red}",
            lambda x, y, r=red: binary_cross_entropy_with_logits(x, y, reduction=r),
            lambda x, y, r=red: reduce(np_bce(x, y), r),
            PRED,
            BINARY,
        ),
        case(
            f"ce-indices-{red}",
            lambda z, r=red: cross_entropy(z, LABELS, reduction=r),
            lambda z, r=red: np_cross_entropy_indices(z, LABELS, reduction=r),
            LOGITS,
        ),
        case(
            f"ce-indices-weight-smoothing-{red}",
            lambda z, r=red: cross_entropy(
                z, LABELS, weight=CLASS_WEIGHT, label_smoothing=0.2, reduction=r
            ),
            lambda z, r=red: np_cross_entropy_indices(z, LABELS, CLASS_WEIGHT, 0.2, r),
            LOGITS,
        ),
        case(
            f"ce-probs-{red}",
            lambda z, r=red: cross_entropy(z, PROBS, reduction=r),
            lambda z, r=red: np_cross_entropy_probs(z, PROBS, reduction=r),
            LOGITS,
        ),
        case(
            f"ce-probs-weight-smoothing-{red}",
            lambda z, r=red: cross_entropy(
                z, PROBS, weight=CLASS_WEIGHT, label_smoothing=0.3, reduction=r
            ),
            lambda z, r=red: np_cross_entropy_probs(z, PROBS, CLASS_WEIGHT, 0.3, r),
            LOGITS,
        ),
    ]
CASES += [
    case(
        "huber-delta-0.5",
        lambda p, t: huber_loss(p, t, delta=0.5),
        lambda p, t: np.mean(np_huber(p - t, 0.5)),
        PRED,
        TARGET,
    ),
    case(
        "huber-delta-3",
        lambda p, t: huber_loss(p, t, delta=3.0, reduction="sum"),
        lambda p, t: np.sum(np_huber(p - t, 3.0)),
        PRED,
        TARGET,
    ),
    case(
        "bce-soft-targets",
        lambda x, y: binary_cross_entropy_with_logits(x, y),
        lambda x, y: np.mean(np_bce(x, y)),
        PRED,
        SOFT_BINARY,
    ),
    case(
        "bce-weight",
        lambda x: binary_cross_entropy_with_logits(x, BINARY, weight=np.array([1.0, 0.5, 2.0])),
        lambda x: np.mean(np_bce(x, BINARY, w=np.array([1.0, 0.5, 2.0]))),
        PRED,
    ),
    case(
        "bce-pos-weight",
        lambda x: binary_cross_entropy_with_logits(
            x, SOFT_BINARY, pos_weight=np.array([3.0, 1.0, 0.25]), reduction="sum"
        ),
        lambda x: np.sum(np_bce(x, SOFT_BINARY, p=np.array([3.0, 1.0, 0.25]))),
        PRED,
    ),
    case(
        "bce-0d",
        lambda x: binary_cross_entropy_with_logits(x, np.array(1.0)),
        lambda x: np_bce(x, 1.0),
        np.array(0.3),
    ),
    case(
        "ce-weight",
        lambda z: cross_entropy(z, LABELS, weight=CLASS_WEIGHT),
        lambda z: np_cross_entropy_indices(z, LABELS, CLASS_WEIGHT),
        LOGITS,
    ),
    case(
        "ce-smoothing",
        lambda z: cross_entropy(z, LABELS, label_smoothing=0.1),
        lambda z: np_cross_entropy_indices(z, LABELS, eps=0.1),
        LOGITS,
    ),
    case(
        "ce-smoothing-1",
        lambda z: cross_entropy(z, LABELS, label_smoothing=1.0),
        lambda z: -np_log_softmax(z).mean(),
        LOGITS,
    ),
    case(
        "ce-targets-tensor",
        lambda z: cross_entropy(z, Tensor(LABELS.astype(float))),
        lambda z: np_cross_entropy_indices(z, LABELS),
        LOGITS,
    ),
    case(
        "ce-targets-list",
        lambda z: cross_entropy(z, LABELS.tolist()),
        lambda z: np_cross_entropy_indices(z, LABELS),
        LOGITS,
    ),
    case(
        "ce-one-hot-probs",
        lambda z: cross_entropy(z, np.eye(4)[LABELS]),
        lambda z: np_cross_entropy_indices(z, LABELS),
        LOGITS,
    ),
    case(
        "mse-target-requires-grad",
        lambda p, t: mse_loss(p, t),
        lambda p, t: np.mean((p - t) ** 2),
        PRED,
        TARGET,
    ),
    case(
        "mse-0d",
        lambda p, t: mse_loss(p, t),
        lambda p, t: (p - t) ** 2,
        np.array(1.5),
        np.array(-0.5),
    ),
    case(
        "l1-0d",
        lambda p, t: l1_loss(p, t, reduction="sum"),
        lambda p, t: abs(p - t),
        np.array(1.5),
        np.array(-0.5),
    ),
]


@pytest.mark.parametrize(("loss", "ref", "inputs"), CASES)
def test_loss_matches_pytorchs_definition(loss, ref, inputs):
    out = loss(*[Tensor(a.copy()) for a in inputs])
    expected = np.asarray(ref(*[a.copy() for a in inputs]))
    assert out.shape == expected.shape
    assert out.dtype == np.float64
    np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize(("loss", "ref", "inputs"), CASES)
def test_loss_gradient_matches_numerical(loss, ref, inputs):
    tensors = [Tensor(a.copy(), requires_grad=True) for a in inputs]
    if len(tensors) == 2 and inputs[1] is BINARY:  # hard 0/1 labels: not a variable
        tensors[1] = Tensor(inputs[1].copy())
    assert gradcheck(loss, *tensors)


# ----------------------------------------------------------------------------- hand-checked


def test_mse_with_a_column_prediction_and_a_flat_target_raises():
    # the case: (200, 1) - (200,) broadcast silently to a (200, 200) loss
    pred = Tensor(np.zeros((200, 1)))
    with pytest.raises(
        ValueError,
        match=r"^mse_loss: target shape \(200,\) differs from the "
        r"prediction's shape \(200, 1\)",
    ) as info:
        mse_loss(pred, np.zeros(200))
    assert str(pickle.loads(pickle.dumps(info.value))) == str(info.value)


@pytest.mark.parametrize(
    "loss",
    [mse_loss, l1_loss, huber_loss, binary_cross_entropy_with_logits],
    ids=lambda f: f.__name__,
)
def test_every_elementwise_loss_refuses_other_shapes(loss):
    name = loss.__name__
    with pytest.raises(ValueError, match=rf"^{name}: target shape \(3, 1\) differs .* \(3,\)"):
        loss(Tensor(np.zeros(3)), np.zeros((3, 1)))
    with pytest.raises(ValueError, match=rf"^{name}: target shape \(\) differs .* \(2, 2\)"):
        loss(Tensor(np.zeros((2, 2))), 0.0)
    with pytest.raises(ValueError, match=rf"^{name}: reduction must be 'mean', 'sum' or 'none'"):
        loss(Tensor(np.zeros(3)), np.zeros(3), reduction="avg")


@pytest.mark.parametrize(
    ("call", "pattern"),
    [
        (
            lambda: cross_entropy(Tensor(LOGITS), LABELS[:4]),
            r"target of shape \(4,\) fits neither class indices \(6,\) nor class "
            r"probabilities \(6, 4\) for logits of shape \(6, 4\)",
        ),
        (lambda: cross_entropy(Tensor(LOGITS), PROBS.T), r"target of shape \(4, 6\) fits neither"),
        (
            lambda: cross_entropy(Tensor(LOGITS[0]), LABELS[:1]),
            r"logits must be 2-D \(N, K\), got shape \(4,\)",
        ),
        (
            lambda: cross_entropy(Tensor(LOGITS), LABELS + 1),
            r"targets must lie in \[0, 4\), got values from 1 to 4",
        ),
        (
            lambda: cross_entropy(Tensor(LOGITS), LABELS + 0.5),
            r"targets must be integer class indices",
        ),
        (
            lambda: cross_entropy(Tensor(LOGITS), LABELS, weight=np.ones(3)),
            r"weight must have shape \(4,\) for 4 classes, got \(3,\)",
        ),
        (
            lambda: cross_entropy(Tensor(LOGITS), LABELS, label_smoothing=1.5),
            r"label_smoothing must be in \[0, 1\], got 1.5",
        ),
        (
            lambda: cross_entropy(Tensor(LOGITS), LABELS, reduction="mean "),
            r"reduction must be 'mean', 'sum' or 'none'",
        ),
    ],
)
def test_cross_entropy_errors_name_it_and_the_shapes(call, pattern):
    with pytest.raises(ValueError, match="^cross_entropy: " + pattern):
        call()


def test_other_loss_argument_errors():
    x = Tensor(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"^huber_loss: delta must be a positive number, got 0"):
        huber_loss(x, np.zeros((2, 3)), delta=0)
    with pytest.raises(
        ValueError,
        match=r"^binary_cross_entropy_with_logits: weight of shape \(2,\) does not broadcast "
        r"to the input's shape \(2, 3\)",
    ):
        binary_cross_entropy_with_logits(x, np.zeros((2, 3)), weight=np.ones(2))
    with pytest.raises(ValueError, match=r"pos_weight of shape \(4, 3\) does not broadcast"):
        binary_cross_entropy_with_logits(x, np.zeros((2, 3)), pos_weight=np.ones((4, 3)))


def test_cross_entropy_equals_the_fused_softmax_cross_entropy():
    z = Tensor(LOGITS.copy(), requires_grad=True)
    cross_entropy(z, LABELS).backward()
    grad = z.grad.copy()
    z.zero_grad()
    fused = softmax_cross_entropy(z, LABELS)
    fused.backward()
    assert cross_entropy(Tensor(LOGITS), LABELS).item() == pytest.approx(fused.item(), rel=1e-14)
    np.testing.assert_allclose(grad, z.grad, rtol=1e-13, atol=1e-16)


def test_cross_entropy_of_uniform_logits_is_log_k_and_smoothing_mixes_in_uniform():
    assert cross_entropy(Tensor(np.zeros((3, 5))), [0, 4, 2]).item() == pytest.approx(np.log(5))
    # eps = 1 turns any target into the uniform distribution
    a = cross_entropy(Tensor(LOGITS), LABELS, label_smoothing=1.0).item()
    b = cross_entropy(Tensor(LOGITS), np.full((6, 4), 0.25)).item()
    assert a == pytest.approx(b, rel=1e-14)


def test_losses_are_stable_for_huge_logits():
    x = Tensor(np.array([-1000.0, 1000.0, -1000.0, 1000.0]), requires_grad=True)
    y = np.array([1.0, 0.0, 0.0, 1.0])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        bce = binary_cross_entropy_with_logits(x, y, reduction="none")
        bce.sum().backward()
    np.testing.assert_array_equal(bce.data, [1000.0, 1000.0, 0.0, 0.0])
    np.testing.assert_array_equal(x.grad, [-1.0, 1.0, 0.0, 0.0])
    z = Tensor(np.array([[1000.0, -1000.0], [-1000.0, 1000.0]]), requires_grad=True)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        ce = cross_entropy(z, [1, 1], reduction="none")
        ce.sum().backward()
    np.testing.assert_array_equal(ce.data, [2000.0, 0.0])
    np.testing.assert_array_equal(z.grad, [[1.0, -1.0], [0.0, 0.0]])


def test_huber_is_quadratic_inside_and_linear_outside():
    d = np.array([-3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0])
    pred = Tensor(d.copy(), requires_grad=True)
    out = huber_loss(pred, np.zeros(7), delta=1.0, reduction="none")
    np.testing.assert_array_equal(out.data, [2.5, 0.5, 0.125, 0.0, 0.125, 0.5, 2.5])
    out.sum().backward()
    np.testing.assert_array_equal(pred.grad, [-1.0, -1.0, -0.5, 0.0, 0.5, 1.0, 1.0])


def test_targets_take_the_predictions_float_dtype():
    pred = Tensor(np.zeros((2, 3), np.float32), requires_grad=True)
    for loss in (mse_loss, l1_loss, huber_loss, binary_cross_entropy_with_logits):
        out = loss(pred, np.ones((2, 3)))  # float64 labels
        assert out.dtype == np.float32, loss.__name__
        out.backward()
        assert pred.grad.dtype == np.float32
        pred.zero_grad()
    ce = cross_entropy(Tensor(np.zeros((2, 3), np.float32)), np.full((2, 3), 1 / 3))
    assert ce.dtype == np.float32


def test_reduction_none_keeps_the_shape_and_mean_of_nothing_is_nan():
    assert mse_loss(Tensor(PRED), TARGET, reduction="none").shape == (5, 3)
    assert cross_entropy(Tensor(LOGITS), LABELS, reduction="none").shape == (6,)
    with np.errstate(invalid="ignore"), pytest.warns(RuntimeWarning):
        assert np.isnan(mse_loss(Tensor(np.zeros((0, 2))), np.zeros((0, 2))).item())
    assert l1_loss(Tensor(np.zeros((0, 2))), np.zeros((0, 2)), reduction="sum").item() == 0.0


def test_cross_entropy_of_no_rows():
    none = Tensor(np.zeros((0, 3)))
    assert cross_entropy(none, [], reduction="sum").item() == 0.0
    assert cross_entropy(none, np.zeros((0, 3)), reduction="none").shape == (0,)
    with np.errstate(invalid="ignore"):
        assert np.isnan(cross_entropy(none, np.zeros(0, np.int64)).item())  # 0 / 0, as torch

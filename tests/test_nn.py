"""Tests for tinygrad_nn.nn: Module, Linear, Sequential, MLP, l2_penalty."""

import numpy as np
import pytest

import tinygrad_nn as tg
from tinygrad_nn.anomaly import scope_name
from tinygrad_nn.nn import MLP, Linear, Module, ReLU, Sequential, Sigmoid, Tanh, l2_penalty


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _ops(t):
    """Every op in the graph behind ``t`` (iterative walk, each once)."""
    seen, out, stack = set(), [], [t]
    while stack:
        node = stack.pop()
        op = node.op
        if op is None or id(op) in seen:
            continue
        seen.add(id(op))
        out.append(op)
        stack.extend(op.inputs)
    return out


class Net(Module):
    """A module holding an MLP, a Linear and a bare parameter."""

    def __init__(self):
        self.body = MLP([4, 3, 2], rng=0)
        self.head = Linear(2, 2, rng=1)
        self.scale = tg.Tensor(np.ones(2, dtype=np.float32), requires_grad=True)
        self.constant = tg.Tensor(np.ones(2, dtype=np.float32))  # not a parameter

    def forward(self, x):
        return self.head(self.body(x)) * self.scale


# ----------------------------------------------------------------------------- Linear


def test_linear_shapes_and_zero_bias():
    layer = Linear(5, 3, rng=0)
    assert layer.weight.shape == (5, 3)
    assert layer.bias.shape == (3,)
    assert np.all(layer.bias.data == 0)
    assert layer.weight.requires_grad and layer.bias.requires_grad


def test_linear_glorot_bounds_are_respected_and_reached():
    n_in, n_out = 300, 200
    layer = Linear(n_in, n_out, rng=0)
    bound = np.sqrt(6.0 / (n_in + n_out))
    w = layer.weight.data
    assert np.abs(w).max() <= bound
    # 60,000 uniform draws: the extremes come within 1% of the bound on both sides
    assert w.max() > 0.99 * bound
    assert w.min() < -0.99 * bound
    assert abs(float(w.mean())) < 0.01 * bound
    # uniform on (-e, e) has standard deviation e / sqrt(3)
    assert abs(float(w.std()) - bound / np.sqrt(3)) < 0.02 * bound


def test_linear_small_layer_bound():
    layer = Linear(64, 48, rng=5)
    assert np.abs(layer.weight.data).max() <= np.sqrt(6.0 / (64 + 48))


def test_linear_seeded_rng_is_reproducible():
    a, b, c = Linear(6, 4, rng=7), Linear(6, 4, rng=7), Linear(6, 4, rng=8)
    assert np.array_equal(a.weight.data, b.weight.data)
    assert not np.array_equal(a.weight.data, c.weight.data)
    g1, g2 = np.random.default_rng(3), np.random.default_rng(3)
    assert np.array_equal(Linear(6, 4, rng=g1).weight.data, Linear(6, 4, rng=g2).weight.data)
    # a Generator is consumed: a second layer from the same generator differs
    assert not np.array_equal(Linear(6, 4, rng=g1).weight.data, a.weight.data)


def test_linear_dtype():
    assert Linear(3, 2).weight.dtype == np.float32
    layer = Linear(3, 2, dtype=np.float64)
    assert layer.weight.dtype == np.float64
    assert layer.bias.dtype == np.float64
    saved = tg.get_default_dtype()
    try:
        tg.set_default_dtype(np.float64)
        assert Linear(3, 2).weight.dtype == np.float64
    finally:
        tg.set_default_dtype(saved)


def test_linear_forward_is_x_w_plus_b():
    layer = Linear(4, 3, rng=0, dtype=np.float64)
    layer.bias.data = np.array([0.5, -1.0, 2.0])
    x = np.random.default_rng(1).normal(size=(5, 4))
    y = layer(tg.Tensor(x))
    assert y.shape == (5, 3)
    np.testing.assert_allclose(y.data, x @ layer.weight.data + layer.bias.data, rtol=1e-12)


def test_linear_without_bias():
    layer = Linear(4, 3, bias=False, rng=0)
    assert [n for n, _ in layer.named_parameters()] == ["weight"]
    x = np.ones((2, 4), dtype=np.float32)
    np.testing.assert_allclose(layer(tg.Tensor(x)).data, x @ layer.weight.data, rtol=1e-6)


@pytest.mark.parametrize("n_in,n_out", [(0, 3), (3, 0), (-1, 2), (2.5, 2), (True, 2)])
def test_linear_bad_sizes_raise(n_in, n_out):
    with pytest.raises(ValueError):
        Linear(n_in, n_out)


def test_linear_bad_rng_raises():
    with pytest.raises(TypeError):
        Linear(3, 2, rng="seed")


# ----------------------------------------------------------------------------- names


def test_mlp_named_parameters_in_definition_order():
    model = MLP([4, 3, 2, 5], rng=0)
    names = [n for n, _ in model.named_parameters()]
    assert names == [
        "fc1.weight",
        "fc1.bias",
        "fc2.weight",
        "fc2.bias",
        "fc3.weight",
        "fc3.bias",
    ]
    for name, p in model.named_parameters():
        assert p.name == name
    assert model.fc2.weight.shape == (3, 2)


def test_parameters_match_named_parameters():
    model = MLP([4, 3, 2], rng=0)
    params = model.parameters()
    named = [p for _, p in model.named_parameters()]
    assert len(params) == 4
    assert all(a is b for a, b in zip(params, named))
    assert params[0] is model.fc1.weight and params[3] is model.fc2.bias


def test_nested_module_names():
    net = Net()
    names = [n for n, _ in net.named_parameters()]
    assert names == [
        "body.fc1.weight",
        "body.fc1.bias",
        "body.fc2.weight",
        "body.fc2.bias",
        "head.weight",
        "head.bias",
        "scale",
    ]
    assert net.body.fc1.weight.name == "body.fc1.weight"
    assert net.head.bias.name == "head.bias"
    assert net.scale.name == "scale"
    for name, p in net.named_parameters():
        assert p.name == name
    # a Tensor attribute without requires_grad is not a parameter
    assert all(p is not net.constant for p in net.parameters())


def test_definition_order_not_alphabetical():
    class Backwards(Module):
        def __init__(self):
            self.zeta = Linear(2, 2, rng=0)
            self.alpha = Linear(2, 2, rng=1)

    names = [n for n, _ in Backwards().named_parameters()]
    assert names == ["zeta.weight", "zeta.bias", "alpha.weight", "alpha.bias"]


def test_sequential_names():
    seq = Sequential(Linear(4, 3, rng=0), Sigmoid(), Linear(3, 2, rng=1))
    names = [n for n, _ in seq.named_parameters()]
    assert names == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert seq[0].weight.name == "0.weight"
    assert seq[2].bias.name == "2.bias"
    assert len(seq) == 3

    class Wrapper(Module):
        def __init__(self):
            self.seq = Sequential(Linear(4, 3, rng=0), ReLU())

    wrapped = Wrapper()
    assert [n for n, _ in wrapped.named_parameters()] == ["seq.0.weight", "seq.0.bias"]
    assert wrapped.seq[0].weight.name == "seq.0.weight"


def test_sequential_forward_applies_in_order():
    l1, l2 = Linear(4, 3, rng=0, dtype=np.float64), Linear(3, 2, rng=1, dtype=np.float64)
    seq = Sequential(l1, Tanh(), l2, Sigmoid())
    x = np.random.default_rng(0).normal(size=(6, 4))
    expected = _sigmoid(np.tanh(x @ l1.weight.data) @ l2.weight.data)
    np.testing.assert_allclose(seq(tg.Tensor(x)).data, expected, rtol=1e-12)


def test_sequential_rejects_non_modules():
    with pytest.raises(TypeError):
        Sequential(Linear(2, 2), "not a module")


def test_shared_parameter_listed_once():
    class Tied(Module):
        def __init__(self):
            self.a = Linear(3, 3, rng=0)
            self.b = Linear(3, 3, rng=1)
            self.b.weight = self.a.weight

    params = Tied().parameters()
    assert len(params) == 3
    assert len({id(p) for p in params}) == 3


def test_zero_grad_sets_none():
    model = MLP([4, 3, 2], rng=0)
    x = tg.Tensor(np.ones((2, 4), dtype=np.float32))
    model(x).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


# ----------------------------------------------------------------------------- state


def test_state_dict_returns_copies():
    model = MLP([4, 3, 2], rng=0)
    state = model.state_dict()
    assert list(state) == ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]
    before = model.fc1.weight.data.copy()
    state["fc1.weight"][...] = 123.0
    assert np.array_equal(model.fc1.weight.data, before)
    model.fc1.bias.data = model.fc1.bias.data + 1.0
    assert np.all(state["fc1.bias"] == 0)


def test_load_state_dict_round_trip():
    src, dst = MLP([4, 3, 2], rng=0), MLP([4, 3, 2], rng=1)
    x = tg.Tensor(np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32))
    assert not np.array_equal(src(x).data, dst(x).data)
    state = src.state_dict()
    dst.load_state_dict(state)
    assert np.array_equal(src(x).data, dst(x).data)
    for k, v in dst.state_dict().items():
        assert np.array_equal(v, state[k])
    # values were copied in: changing the dict afterwards leaves the model alone
    state["fc1.weight"][...] = 0
    assert not np.all(dst.fc1.weight.data == 0)


def test_load_state_dict_casts_to_parameter_dtype():
    model = MLP([4, 3, 2], rng=0)  # float32
    rng = np.random.default_rng(2)
    state = {k: rng.normal(size=v.shape).astype(np.float64) for k, v in model.state_dict().items()}
    model.load_state_dict(state)
    for name, p in model.named_parameters():
        assert p.dtype == np.float32
        assert np.array_equal(p.data, state[name].astype(np.float32))


def test_load_state_dict_shape_mismatch_names_key_and_shapes():
    model = MLP([4, 3, 2], rng=0)
    state = model.state_dict()
    state["fc2.weight"] = np.zeros((2, 3), dtype=np.float32)
    with pytest.raises(ValueError) as info:
        model.load_state_dict(state)
    msg = str(info.value)
    assert "fc2.weight" in msg
    assert "(2, 3)" in msg and "(3, 2)" in msg


def test_load_state_dict_strict_missing_and_unexpected():
    model = MLP([4, 3, 2], rng=0)
    state = model.state_dict()
    del state["fc1.bias"]
    with pytest.raises(ValueError, match="fc1.bias"):
        model.load_state_dict(state)
    state = model.state_dict()
    state["fc9.weight"] = np.zeros((1, 1))
    with pytest.raises(ValueError, match="fc9.weight"):
        model.load_state_dict(state)


def test_load_state_dict_non_strict_loads_what_matches():
    model = MLP([4, 3, 2], rng=0)
    other = MLP([4, 3, 2], rng=1)
    state = other.state_dict()
    del state["fc2.weight"]
    state["extra"] = np.zeros(3)
    before_fc2 = model.fc2.weight.data.copy()
    model.load_state_dict(state, strict=False)
    assert np.array_equal(model.fc1.weight.data, other.fc1.weight.data)
    assert np.array_equal(model.fc2.weight.data, before_fc2)


# ----------------------------------------------------------------------------- MLP


def test_mlp_forward_shape():
    model = MLP([64, 48, 32, 10], rng=0)
    out = model(tg.Tensor(np.zeros((7, 64), dtype=np.float32)))
    assert out.shape == (7, 10)
    assert out.dtype == np.float32


def test_mlp_tutorial_network_layout():
    model = MLP([64, 48, 32, 10], "sigmoid", output_activation="sigmoid", rng=0)
    shapes = [(n, p.shape) for n, p in model.named_parameters()]
    assert shapes == [
        ("fc1.weight", (64, 48)),
        ("fc1.bias", (48,)),
        ("fc2.weight", (48, 32)),
        ("fc2.bias", (32,)),
        ("fc3.weight", (32, 10)),
        ("fc3.bias", (10,)),
    ]
    assert [layer.n_out for layer in model.layers] == [48, 32, 10]


def _random_mlp(activation, output_activation):
    model = MLP([5, 4, 3], activation, output_activation, rng=0, dtype=np.float64)
    rng = np.random.default_rng(9)
    for p in model.parameters():
        p.data = rng.normal(size=p.shape) * 2
    return model


@pytest.mark.parametrize(
    "activation,fn",
    [("sigmoid", _sigmoid), ("relu", lambda z: np.maximum(z, 0)), ("tanh", np.tanh)],
)
def test_mlp_linear_output_layer(activation, fn):
    model = _random_mlp(activation, None)
    x = np.random.default_rng(4).normal(size=(50, 5)) * 3
    h = fn(x @ model.fc1.weight.data + model.fc1.bias.data)
    expected = h @ model.fc2.weight.data + model.fc2.bias.data
    out = model(tg.Tensor(x)).data
    np.testing.assert_allclose(out, expected, rtol=1e-10, atol=1e-12)
    # a linear last layer: logits are not squashed into (0, 1)
    assert out.min() < 0 or out.max() > 1


def test_mlp_sigmoid_output_layer():
    model = _random_mlp("relu", "sigmoid")
    x = np.random.default_rng(4).normal(size=(50, 5)) * 0.3
    h = np.maximum(x @ model.fc1.weight.data + model.fc1.bias.data, 0)
    expected = _sigmoid(h @ model.fc2.weight.data + model.fc2.bias.data)
    out = model(tg.Tensor(x)).data
    np.testing.assert_allclose(out, expected, rtol=1e-10, atol=1e-12)
    assert np.all((out > 0) & (out < 1))


def test_mlp_seeded_and_dtype():
    a, b = MLP([4, 3, 2], rng=3), MLP([4, 3, 2], rng=3)
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert np.array_equal(pa.data, pb.data)
    # layers get different weights from one generator
    assert not np.array_equal(a.fc1.weight.data[:3, :2], a.fc2.weight.data)
    m64 = MLP([4, 3, 2], dtype="float64")
    assert all(p.dtype == np.float64 for p in m64.parameters())
    assert m64.config()["dtype"] == "float64"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"activation": "swish"},
        {"output_activation": "softmaxx"},
        {"activation": None},
    ],
)
def test_mlp_bad_activation_raises(kwargs):
    with pytest.raises(ValueError):
        MLP([4, 3, 2], **kwargs)


def test_mlp_needs_two_sizes():
    with pytest.raises(ValueError):
        MLP([4])


def test_mlp_config_rebuilds_same_architecture():
    model = MLP([6, 5, 4, 3], "tanh", output_activation="sigmoid", rng=0)
    clone = MLP(**model.config())
    assert [p.shape for p in clone.parameters()] == [p.shape for p in model.parameters()]
    assert clone.activation == "tanh" and clone.output_activation == "sigmoid"


# ----------------------------------------------------------------------------- l2 penalty


def test_l2_penalty_value_and_gradient():
    rng = np.random.default_rng(0)
    w1 = tg.Tensor(rng.normal(size=(4, 3)), requires_grad=True)
    w2 = tg.Tensor(rng.normal(size=(3, 2)), requires_grad=True)
    lam, n = 0.7, 11
    pen = l2_penalty([w1, w2], lam, n)
    expected = lam / (2 * n) * (np.sum(w1.data**2) + np.sum(w2.data**2))
    np.testing.assert_allclose(pen.item(), expected, rtol=1e-12)
    pen.backward()
    np.testing.assert_allclose(w1.grad, lam / n * w1.data, rtol=1e-12)
    np.testing.assert_allclose(w2.grad, lam / n * w2.data, rtol=1e-12)


def test_l2_penalty_zero_lambda():
    w = tg.Tensor(np.ones((2, 2)), requires_grad=True)
    assert float(l2_penalty([w], 0.0, 5)) == 0.0


# ----------------------------------------------------------------------------- scopes


def test_ops_record_their_module_scope():
    model = MLP([4, 3, 2], rng=0)
    x = tg.Tensor(np.ones((2, 4), dtype=np.float32))
    y = model(x)
    ops = _ops(y)
    assert len(ops) == 3  # fc1: linear; sigmoid; fc2: linear

    def inputs_of(op):
        return {id(t) for t in op.inputs}

    fc1_ops = [op for op in ops if inputs_of(op) & {id(model.fc1.weight), id(model.fc1.bias)}]
    fc2_ops = [op for op in ops if inputs_of(op) & {id(model.fc2.weight), id(model.fc2.bias)}]
    assert len(fc1_ops) == 1 and len(fc2_ops) == 1
    for op in fc1_ops:
        assert op.scope[-1].scope_name == "fc1"
        assert op.scope[-1] is model.fc1
        assert scope_name(op.scope) == "fc1"
    for op in fc2_ops:
        assert op.scope[-1].scope_name == "fc2"
    (act,) = [op for op in ops if op not in fc1_ops and op not in fc2_ops]
    assert act.scope[-1] is model
    assert act.scope[-1].scope_name == "MLP"
    assert scope_name(act.scope) == "MLP"


def test_nested_module_scopes():
    net = Net()
    y = net(tg.Tensor(np.ones((2, 4), dtype=np.float32)))
    by_scope = {}
    for op in _ops(y):
        by_scope.setdefault(scope_name(op.scope), []).append(op)
    assert set(by_scope) == {"body.fc1", "body.fc2", "body", "head", "Net"}
    assert net.body.fc1.scope_name == "body.fc1"
    assert net.body.scope_name == "body"
    assert net.scope_name == "Net"
    # the multiply by ``scale`` runs directly in Net.forward
    (mul,) = by_scope["Net"]
    assert any(t is net.scale for t in mul.inputs)


def test_ops_outside_modules_are_top_level():
    a = tg.Tensor(np.ones(3), requires_grad=True)
    (op,) = _ops(a * 2)
    assert op.scope == ()
    assert scope_name(op.scope) == "top level"

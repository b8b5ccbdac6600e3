"""The layers beyond the MLP: Conv2d, pools, Flatten, Dropout, BatchNorm1d/2d, LayerNorm,
Embedding; Module buffers and train/eval; names, save/load and drawings."""

import pickle

import numpy as np
import pytest

import tinygrad_nn as tg
from tinygrad_nn import Tensor, gradcheck, nn
from tinygrad_nn.nn import functional as F

# ----------------------------------------------------------------------------- helpers


class Net(nn.Module):
    """A small image net using every new layer, for naming, modes and state tests."""

    def __init__(self):
        self.conv = nn.Conv2d(1, 4, 3, padding=1, rng=0, dtype=np.float64)
        self.bn = nn.BatchNorm2d(4, dtype=np.float64)
        self.pool = nn.MaxPool2d(2)
        self.flat = nn.Flatten()
        self.drop = nn.Dropout(0.5, rng=1)
        self.norm = nn.LayerNorm(16, dtype=np.float64)
        self.fc = nn.Linear(16, 3, rng=2, dtype=np.float64)

    def forward(self, x):
        x = self.pool(self.bn(self.conv(x)).relu())
        return self.fc(self.norm(self.drop(self.flat(x))))


def _roundtrip(module, tmp_path):
    path = tmp_path / "layer.npz"
    tg.save(module, path)
    return tg.load(path)


# ----------------------------------------------------------------------------- Module


def test_parameters_and_buffers_are_named_by_module_path():
    net = Net()
    names = [name for name, _ in net.named_parameters()]
    assert names == [
        "conv.weight",
        "conv.bias",
        "bn.weight",
        "bn.bias",
        "norm.weight",
        "norm.bias",
        "fc.weight",
        "fc.bias",
    ]
    assert [name for name, _ in net.named_buffers()] == ["bn.running_mean", "bn.running_var"]
    for name, t in [*net.named_parameters(), *net.named_buffers()]:
        assert t.name == name
    assert all(not b.requires_grad for b in net.buffers())
    assert not any(b is p for b in net.buffers() for p in net.parameters())


def test_state_dict_holds_buffers_and_load_restores_them():
    net = Net()
    net(Tensor(np.random.default_rng(0).normal(size=(5, 1, 4, 4))))  # moves running stats
    state = net.state_dict()
    assert set(state) == {n for n, _ in net.named_parameters()} | {
        "bn.running_mean",
        "bn.running_var",
    }
    assert not np.allclose(state["bn.running_mean"], 0)
    other = Net()
    other.load_state_dict(state)
    np.testing.assert_array_equal(other.bn.running_mean.data, state["bn.running_mean"])
    np.testing.assert_array_equal(other.bn.running_var.data, state["bn.running_var"])
    del state["bn.running_var"]
    with pytest.raises(ValueError, match="missing keys.*bn.running_var"):
        other.load_state_dict(state)
    state["bn.running_var"] = np.ones(5)
    with pytest.raises(ValueError, match="bn.running_var.*\\(5,\\).*\\(4,\\)"):
        other.load_state_dict(state)


def test_register_buffer_refuses_parameters():
    module = nn.Module()
    with pytest.raises(TypeError, match="register_buffer: 'w'"):
        module.register_buffer("w", Tensor(np.ones(2), requires_grad=True))
    module.register_buffer("count", Tensor(np.zeros(1)))
    assert module.parameters() == [] and [n for n, _ in module.named_buffers()] == ["count"]
    module.count = Tensor(np.ones(3))  # reassigned: still a buffer, renamed
    assert module.state_dict()["count"].shape == (3,) and module.count.name == "count"


def test_train_and_eval_switch_every_submodule():
    net = Net()
    assert net.training and all(m.training for _, m in net.named_modules())
    assert net.eval() is net
    assert not any(m.training for _, m in net.named_modules())
    assert net.train() is net
    assert all(m.training for _, m in net.named_modules())
    net.train(False)
    assert not net.drop.training


def test_eval_output_is_deterministic_and_train_output_is_not():
    net = Net()
    x = Tensor(np.random.default_rng(3).normal(size=(6, 1, 4, 4)))
    net.train()
    a, b = net(x).data, net(x).data
    assert not np.allclose(a, b)  # dropout masks differ
    net.eval()
    np.testing.assert_array_equal(net(x).data, net(x).data)


def test_graph_draws_each_layer_as_a_cluster():
    pytest.importorskip("graphviz", reason="the viz extra (graphviz) is not installed")
    from tinygrad_nn import viz

    net = Net()
    loss = net(Tensor(np.ones((2, 1, 4, 4)), name="x")).sum()
    source = viz.draw(loss).source
    assert source.count("subgraph cluster_") == 8  # Net and its seven layers
    for label in ("conv: Conv2d", "bn: BatchNorm2d", "pool: MaxPool2d", "flat: Flatten"):
        assert f"label=<{label}" in source
    for op in ("conv2d", "batch_norm", "max_pool2d", "dropout", "layer_norm", "linear"):
        assert f"[label={op} " in source
    for name in ("conv.weight", "bn.bias", "norm.weight", "fc.bias"):
        assert f"<b>{name}</b>" in source
    loss = net(Tensor(np.ones((2, 1, 4, 4)), name="x")).sum()
    collapsed = viz.draw(loss, collapse=True).source
    assert "<b>conv: Conv2d" in collapsed and "[label=conv2d " not in collapsed


# ----------------------------------------------------------------------------- Conv2d and pools


def test_conv2d_layer_matches_the_function_and_its_init_bound():
    conv = nn.Conv2d(4, 6, (3, 2), stride=2, padding=1, groups=2, rng=0, dtype=np.float64)
    assert conv.weight.shape == (6, 2, 3, 2) and conv.bias.shape == (6,)
    bound = np.sqrt(6.0 / (2 * 3 * 2))
    assert np.abs(conv.weight.data).max() <= bound
    assert np.abs(conv.weight.data).max() > 0.8 * bound
    np.testing.assert_array_equal(conv.bias.data, 0)
    x = Tensor(np.random.default_rng(1).normal(size=(2, 4, 5, 5)))
    expected = F.conv2d(x, conv.weight, conv.bias, 2, 1, 1, 2)
    np.testing.assert_array_equal(conv(x).data, expected.data)
    assert conv(x).dtype == np.float64
    assert nn.Conv2d(1, 2, 3, bias=False).bias is None
    assert nn.Conv2d(1, 2, 3).weight.dtype == tg.get_default_dtype()


def test_conv2d_layer_gradcheck():
    conv = nn.Conv2d(2, 3, 3, padding=1, rng=0, dtype=np.float64)
    x = Tensor(np.random.default_rng(2).normal(size=(2, 2, 4, 4)), requires_grad=True)
    assert gradcheck(lambda x, w, b: F.conv2d(x, w, b, padding=1), x, conv.weight, conv.bias)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: nn.Conv2d(3, 4, 3, groups=2), "Conv2d: in_channels 3 and out_channels 4"),
        (lambda: nn.Conv2d(0, 4, 3), "Conv2d: in_channels"),
        (lambda: nn.Conv2d(1, 4, 0), "Conv2d: kernel_size"),
        (lambda: nn.Conv2d(1, 4, 3, stride=(1, 0)), "Conv2d: stride"),
        (lambda: nn.MaxPool2d((2, 2, 2)), "MaxPool2d: kernel_size"),
        (lambda: nn.AvgPool2d(2, padding=-1), "AvgPool2d: padding"),
        (lambda: nn.Dropout(1.5), "Dropout: p"),
        (lambda: nn.BatchNorm2d(0), "BatchNorm2d: num_features"),
        (lambda: nn.BatchNorm1d(3, momentum=2), "BatchNorm1d: momentum"),
        (lambda: nn.LayerNorm(()), "LayerNorm: normalized_shape"),
        (lambda: nn.Embedding(0, 3), "Embedding: num_embeddings"),
    ],
)
def test_layer_arguments_are_checked(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_conv_layer_wrong_input_names_the_op_and_shapes():
    conv = nn.Conv2d(3, 4, 3)
    with pytest.raises(ValueError, match=r"conv2d: input \(2, 1, 5, 5\) and weight \(4, 3, 3, 3\)"):
        conv(Tensor(np.zeros((2, 1, 5, 5))))


def test_pool_and_flatten_layers(rng):
    x = Tensor(rng.normal(size=(2, 3, 6, 6)))
    np.testing.assert_array_equal(nn.MaxPool2d(2)(x).data, F.max_pool2d(x, 2).data)
    np.testing.assert_array_equal(
        nn.AvgPool2d(3, stride=1, padding=1)(x).data, F.avg_pool2d(x, 3, 1, 1).data
    )
    assert nn.MaxPool2d(3, stride=1, dilation=2)(x).shape == (2, 3, 2, 2)
    assert nn.Flatten()(x).shape == (2, 108)
    assert nn.Flatten(0, 1)(x).shape == (6, 6, 6)


@pytest.mark.parametrize(
    "make",
    [
        lambda: nn.Conv2d(2, 4, (3, 2), stride=(2, 1), padding=1, dilation=2, groups=2, rng=3),
        lambda: nn.Conv2d(1, 2, 3, bias=False, dtype=np.float64),
        lambda: nn.MaxPool2d(3, stride=2, padding=1, dilation=1),
        lambda: nn.AvgPool2d((2, 3), stride=1, padding=(1, 1)),
        lambda: nn.Flatten(2, 3),
        lambda: nn.Dropout(0.25),
        lambda: nn.BatchNorm1d(3, eps=1e-3, momentum=0.2, dtype=np.float64),
        lambda: nn.BatchNorm2d(3, affine=False),
        lambda: nn.LayerNorm((2, 3), elementwise_affine=False),
        lambda: nn.LayerNorm(5, eps=1e-6),
        lambda: nn.Embedding(7, 3, rng=4),
    ],
)
def test_every_layer_saves_and_loads(make, tmp_path):
    layer = make()
    for t in [*layer.parameters(), *layer.buffers()]:  # values a fresh layer would not have
        t._begin_update()[...] = np.random.default_rng(5).normal(size=t.shape)
        t._end_update(0)
    again = _roundtrip(layer, tmp_path)
    assert type(again) is type(layer)
    assert again.config() == layer.config()
    state, loaded = layer.state_dict(), again.state_dict()
    assert list(state) == list(loaded)
    for key in state:
        np.testing.assert_array_equal(state[key], loaded[key])
        assert state[key].dtype == loaded[key].dtype


# ----------------------------------------------------------------------------- Dropout


def test_dropout_zeroes_about_p_and_scales_the_rest():
    drop = nn.Dropout(0.3, rng=0)
    x = Tensor(np.ones((200, 100)), requires_grad=True)
    out = drop(x)
    kept = out.data != 0
    assert abs(1 - kept.mean() - 0.3) < 0.02
    np.testing.assert_allclose(out.data[kept], 1 / 0.7)
    out.sum().backward()
    np.testing.assert_allclose(x.grad, out.data)  # d(sum x * mask)/dx = mask
    again = nn.Dropout(0.3, rng=0)(Tensor(np.ones((200, 100))))
    np.testing.assert_array_equal(again.data, out.data)  # seeded: repeatable


def test_dropout_eval_passes_the_input_through():
    drop = nn.Dropout(0.5).eval()
    x = Tensor(np.ones(4))
    assert drop(x) is x
    assert F.dropout(x, 0.5, training=False) is x
    assert F.dropout(x, 0.0) is x


def test_dropout_edges_and_gradcheck():
    x = Tensor(np.random.default_rng(0).normal(size=(3, 4)), requires_grad=True)
    np.testing.assert_array_equal(F.dropout(x, 1.0).data, 0)
    assert gradcheck(lambda t: F.dropout(t, 0.4, rng=np.random.default_rng(7)), x)
    assert F.dropout(Tensor(np.array(2.0)), 0.5, rng=1).shape == ()
    assert F.dropout(Tensor(np.zeros((0, 3))), 0.5, rng=1).shape == (0, 3)
    x32 = Tensor(np.ones(5, dtype=np.float32))
    assert F.dropout(x32, 0.5, rng=0).dtype == np.float32
    with pytest.raises(
        ValueError, match=r"dropout: p must be in \[0, 1\], got -0.1 \(input \(5,\)\)"
    ):
        F.dropout(x32, -0.1)


def test_dropout_draws_new_masks_when_compiled():
    drop = nn.Dropout(0.5, rng=0)
    w = Tensor(np.ones(50), requires_grad=True)

    def step(x):
        w.zero_grad()
        out = (drop(Tensor(x) * w)).sum()
        out.backward()
        return out

    compiled = tg.compile(step)
    grads = []
    for _ in range(3):
        compiled(np.ones(50))
        grads.append(w.grad.copy())
    assert not np.array_equal(grads[1], grads[2])
    assert set(np.unique(grads[2])) <= {0.0, 2.0}


# ----------------------------------------------------------------------------- BatchNorm


def _bn_reference(x, gamma, beta, eps):
    axes = (0, *range(2, x.ndim))
    shape = (1, -1) + (1,) * (x.ndim - 2)
    mean, var = x.mean(axis=axes), x.var(axis=axes)
    x_hat = (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + eps)
    return gamma.reshape(shape) * x_hat + beta.reshape(shape), mean, var


@pytest.mark.parametrize(
    ("layer", "shape"),
    [
        (nn.BatchNorm1d, (6, 3)),
        (nn.BatchNorm1d, (4, 3, 5)),
        (nn.BatchNorm2d, (4, 3, 2, 5)),
    ],
)
def test_batchnorm_training_normalizes_and_moves_running_stats(layer, shape, rng):
    bn = layer(3, momentum=0.25, dtype=np.float64)
    bn.weight.data = rng.uniform(0.5, 1.5, size=3)
    bn.bias.data = rng.normal(size=3)
    x = rng.normal(2.0, 3.0, size=shape)
    out = bn(Tensor(x))
    expected, mean, var = _bn_reference(x, bn.weight.data, bn.bias.data, bn.eps)
    np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-12)
    m = x.size // 3
    np.testing.assert_allclose(bn.running_mean.data, 0.75 * 0 + 0.25 * mean, rtol=1e-12)
    np.testing.assert_allclose(bn.running_var.data, 0.75 * 1 + 0.25 * var * m / (m - 1))
    # evaluation: the running statistics, and no more updates
    bn.eval()
    running = bn.running_mean.data.copy(), bn.running_var.data.copy()
    out = bn(Tensor(x))
    sh = (1, 3) + (1,) * (x.ndim - 2)
    x_hat = (x - running[0].reshape(sh)) / np.sqrt(running[1].reshape(sh) + bn.eps)
    np.testing.assert_allclose(
        out.data, bn.weight.data.reshape(sh) * x_hat + bn.bias.data.reshape(sh), rtol=1e-12
    )
    np.testing.assert_array_equal(bn.running_mean.data, running[0])


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("shape", [(5, 3), (3, 3, 4), (2, 3, 2, 3)])
def test_batchnorm_gradcheck(training, shape, rng):
    mean, var = Tensor(rng.normal(size=3)), Tensor(rng.uniform(0.5, 2, size=3))
    x = Tensor(rng.normal(size=shape), requires_grad=True)
    gamma = Tensor(rng.uniform(0.5, 1.5, size=3), requires_grad=True)
    beta = Tensor(rng.normal(size=3), requires_grad=True)

    def f(x, g, b):
        return F.batch_norm(x, mean, var, g, b, training=training, momentum=0.1)

    assert gradcheck(f, x, gamma, beta)
    assert gradcheck(lambda x: F.batch_norm(x, None, None, training=True), x)


def test_batchnorm_float32_and_affine_false(rng):
    bn = nn.BatchNorm2d(2, affine=False)
    assert bn.parameters() == [] and len(bn.buffers()) == 2
    x = Tensor(rng.normal(size=(3, 2, 2, 2)).astype(np.float32), requires_grad=True)
    out = bn(x)
    assert out.dtype == np.float32 and bn.running_var.dtype == np.float32
    out.sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_allclose(x.grad, 0, atol=1e-5)  # the mean is subtracted out


def test_batchnorm_errors_name_the_op_and_shapes():
    bn = nn.BatchNorm2d(3)
    with pytest.raises(ValueError, match=r"BatchNorm2d: expects an input \(N, C, H, W\), got"):
        bn(Tensor(np.zeros((2, 3))))
    with pytest.raises(ValueError, match=r"batch_norm: weight of shape \(3,\) for input"):
        bn(Tensor(np.zeros((2, 4, 2, 2))))
    with pytest.raises(ValueError, match=r"more than one value per channel.*\(1, 3\)") as info:
        nn.BatchNorm1d(3)(Tensor(np.zeros((1, 3))))
    assert str(pickle.loads(pickle.dumps(info.value))) == str(info.value)
    bn1 = nn.BatchNorm1d(3).eval()  # evaluation works on one example, and on none
    assert bn1(Tensor(np.zeros((1, 3)))).shape == (1, 3)
    assert bn1(Tensor(np.zeros((0, 3)))).shape == (0, 3)
    with pytest.raises(ValueError, match="batch_norm: expects an input"):
        F.batch_norm(Tensor(np.array(1.0)), None, None, training=True)


# ----------------------------------------------------------------------------- LayerNorm


@pytest.mark.parametrize(("shape", "normalized"), [((4, 5), (5,)), ((2, 3, 4), (3, 4))])
def test_layernorm_matches_formula_and_gradcheck(shape, normalized, rng):
    ln = nn.LayerNorm(normalized, dtype=np.float64)
    ln.weight.data = rng.uniform(0.5, 1.5, size=normalized)
    ln.bias.data = rng.normal(size=normalized)
    x = rng.normal(size=shape)
    axes = tuple(range(len(shape) - len(normalized), len(shape)))
    mean, var = x.mean(axis=axes, keepdims=True), x.var(axis=axes, keepdims=True)
    expected = ln.weight.data * (x - mean) / np.sqrt(var + ln.eps) + ln.bias.data
    np.testing.assert_allclose(ln(Tensor(x)).data, expected, rtol=1e-12, atol=1e-12)
    xt = Tensor(x, requires_grad=True)
    assert gradcheck(lambda a, g, b: F.layer_norm(a, normalized, g, b), xt, ln.weight, ln.bias)
    assert gradcheck(lambda a: F.layer_norm(a, normalized), xt)


def test_layernorm_edges_and_errors():
    ln = nn.LayerNorm(3)
    assert ln(Tensor(np.zeros((0, 3)))).shape == (0, 3)
    assert ln(Tensor(np.arange(3.0))).shape == (3,)
    with pytest.raises(ValueError, match=r"layer_norm: input of shape \(2, 4\) does not end in"):
        ln(Tensor(np.zeros((2, 4))))
    with pytest.raises(ValueError, match=r"layer_norm: input of shape \(\) does not end in"):
        ln(Tensor(np.array(1.0)))


# ----------------------------------------------------------------------------- Embedding


def test_embedding_looks_up_rows_and_sums_repeated_gradients():
    emb = nn.Embedding(5, 3, rng=0, dtype=np.float64)
    idx = np.array([[1, 4], [1, 0]])
    out = emb(idx)
    assert out.shape == (2, 2, 3)
    np.testing.assert_array_equal(out.data, emb.weight.data[idx])
    out.sum().backward()
    np.testing.assert_array_equal(emb.weight.grad[:, 0], [1, 2, 0, 0, 1])
    assert emb(Tensor(np.array([2, 3]), dtype=np.int64)).shape == (2, 3)
    assert emb(np.zeros((0,), dtype=int)).shape == (0, 3)
    assert gradcheck(lambda w: F.embedding(idx, w), emb.weight)


@pytest.mark.parametrize(
    ("indices", "message"),
    [
        (np.array([0, 5]), r"embedding: indices of shape \(2,\) must lie in \[0, 5\)"),
        (np.array([-1]), r"embedding: indices .* got values from -1"),
        (np.array([0.5]), "embedding: indices must be integers"),
    ],
)
def test_embedding_errors(indices, message):
    with pytest.raises(ValueError, match=message):
        nn.Embedding(5, 3)(indices)


# ----------------------------------------------------------------------------- training helpers


class _Mixed(nn.Module):
    def __init__(self):
        self.lin1 = nn.Linear(4, 8, rng=0, dtype=np.float64)
        self.bn = nn.BatchNorm1d(8, dtype=np.float64)
        self.drop = nn.Dropout(0.5, rng=1)
        self.lin2 = nn.Linear(8, 3, rng=2, dtype=np.float64)

    def forward(self, x):
        return self.lin2(self.drop(self.bn(self.lin1(x)).relu()))


@pytest.mark.parametrize("compiled", [False, True])
def test_fit_and_evaluate_score_in_eval_mode(compiled):
    from tinygrad_nn.optim import SGD
    from tinygrad_nn.train import evaluate, fit

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(40, 4)), rng.integers(0, 3, 40)
    Xv, yv = rng.normal(5.0, 1.0, size=(20, 4)), rng.integers(0, 3, 20)

    def trained(valid):
        model = _Mixed()
        opt = SGD(model.parameters(), lr=0.1, momentum=0.9)
        fit(model, opt, X, y, 3, batch_size=10, valid=valid, progress=False, compiled=compiled)
        return model

    plain, scored = trained(None), trained((Xv, yv))
    # scoring the validation set neither moved the running statistics nor drew dropout masks
    for (name, a), (_, b) in zip(plain.state_dict().items(), scored.state_dict().items()):
        np.testing.assert_array_equal(a, b, err_msg=name)
    assert scored.training and scored.drop.training  # the mode is given back
    _, acc = evaluate(scored, Xv, yv)
    with tg.no_grad():
        logits = scored.eval()(Tensor(Xv)).data
    assert acc == np.mean(np.argmax(logits, axis=1) == yv)

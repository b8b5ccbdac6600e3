"""compile: replays equal eager mode exactly, retrace on new shapes, refuse what can't replay."""

import numpy as np
import pytest

import tinygrad_nn as tg
from tinygrad_nn import Tensor, softmax_cross_entropy
from tinygrad_nn.compile import TraceError
from tinygrad_nn.nn import MLP, l2_penalty
from tinygrad_nn.optim import SGD, Adam


def make_run(dtype, optimizer="sgd", seed=0, lam=0.5):
    model = MLP([6, 8, 5, 3], "sigmoid", "sigmoid", rng=seed, dtype=dtype)
    params = model.parameters()
    opt = SGD(params, 0.3, 0.9) if optimizer == "sgd" else Adam(params, 0.01)
    weights = [layer.weight for layer in model.layers]

    def step(x, y):
        loss = softmax_cross_entropy(model(Tensor(x)), y) + l2_penalty(weights, lam, len(y))
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    return model, step


def data(n, dtype, seed=1):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 6)).astype(dtype), rng.integers(0, 3, size=n)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_replay_is_bit_identical_to_eager(dtype, optimizer):
    eager_model, eager_step = make_run(dtype, optimizer)
    comp_model, step = make_run(dtype, optimizer)
    compiled = tg.compile(step)
    rng = np.random.default_rng(5)
    for i in range(30):
        x, y = data(16, dtype, seed=i)
        x = x + rng.normal(size=x.shape).astype(dtype) * 0.01
        loss_eager = eager_step(x, y)
        loss_comp = compiled(x, y)
        assert loss_comp.item() == loss_eager.item()
        assert loss_comp.dtype == dtype
    for (name, a), (_, b) in zip(
        eager_model.named_parameters(), comp_model.named_parameters(), strict=True
    ):
        assert np.array_equal(a.data, b.data), name
        assert np.array_equal(a.grad, b.grad), name
    assert compiled.traces == 1


def test_new_shape_or_dtype_retraces_and_stays_exact():
    eager_model, eager_step = make_run(np.float64)
    comp_model, step = make_run(np.float64)
    compiled = tg.compile(step)
    for n in (16, 16, 5, 16, 5):
        x, y = data(n, np.float64, seed=n)
        assert compiled(x, y).item() == eager_step(x, y).item()
    assert compiled.traces == 2
    assert np.array_equal(comp_model.fc1.weight.data, eager_model.fc1.weight.data)
    compiled(*data(16, np.float32))
    assert compiled.traces == 3


def test_returns_fresh_detached_tensors():
    _, step = make_run(np.float64)
    compiled = tg.compile(step)
    x, y = data(8, np.float64)
    first = compiled(x, y)
    second = compiled(x, y)
    third = compiled(x, y)
    assert first is not second
    assert second.op is None and not second.requires_grad
    # an earlier result keeps its value after later replays
    assert second.item() != third.item()
    value = second.item()
    compiled(x, y)
    assert second.item() == value


def test_targets_given_as_argument_are_replaced_on_replay():
    _, step = make_run(np.float64, lam=0.0)
    compiled = tg.compile(step)
    x, y = data(8, np.float64)
    compiled(x, y)
    # same x, other targets: the loss must follow the new targets, not the traced ones
    other = (y + 1) % 3
    _, ref_step = make_run(np.float64, lam=0.0)
    ref_step(x, y)
    assert compiled(x, other).item() == ref_step(x, other).item()


def test_data_not_passed_as_argument_is_refused():
    model = MLP([6, 3], rng=0, dtype=np.float64)
    x_fixed, y = data(8, np.float64)

    def step(y):
        return softmax_cross_entropy(model(Tensor(x_fixed * 2)), y)

    with pytest.raises(
        TraceError, match=r"linear used a tensor of shape \(8, 6\).*neither an argument"
    ):
        tg.compile(step)(y)


def test_in_place_update_outside_an_optimizer_is_refused():
    w = Tensor(np.ones((6, 3)), requires_grad=True, name="w")

    def step(x, y):
        loss = softmax_cross_entropy(Tensor(x) @ w, y)
        loss.backward()
        w.data -= 0.1 * w.grad
        return loss

    with pytest.raises(TraceError, match=r"\(w\).*modified in place"):
        tg.compile(step)(*data(4, np.float64))
    w.data -= 0.0  # outside a trace it is allowed again


def test_non_tensor_output_is_refused():
    model = MLP([6, 3], rng=0, dtype=np.float64)

    def step(x, y):
        return softmax_cross_entropy(model(Tensor(x)), y).item()

    with pytest.raises(TraceError, match="must return Tensors"):
        tg.compile(step)(*data(4, np.float64))


def test_bad_argument_type():
    with pytest.raises(TypeError, match="arguments must be"):
        tg.compile(lambda x: x)({"a": 1})


def test_forward_only_function_under_no_grad():
    model = MLP([6, 4, 3], "tanh", rng=0, dtype=np.float64)

    @tg.compile
    @tg.no_grad()
    def predict(x):
        return model(Tensor(x)).softmax()

    for seed in range(3):
        x, _ = data(5, np.float64, seed=seed)
        with tg.no_grad():
            expected = model(Tensor(x)).softmax().data
        assert np.array_equal(predict(x).data, expected)


@pytest.mark.parametrize("batch_size", [None, 50])
def test_fit_compiled_equals_eager(batch_size):
    from tinygrad_nn.data import load_digits_splits, shift_augment
    from tinygrad_nn.train import fit

    d = load_digits_splits(scale=True)
    X, y = d.X_train[:200], d.y_train[:200]
    runs = []
    for compiled in (False, True):
        model = MLP([64, 16, 10], "relu", rng=3)
        opt = Adam(model.parameters(), 0.01)
        history = fit(
            model,
            opt,
            X,
            y,
            4,
            batch_size=batch_size,
            lam=0.1,
            valid=(d.X_valid, d.y_valid),
            seed=2,
            progress=False,
            augment=shift_augment,
            compiled=compiled,
        )
        runs.append((model.state_dict(), history))
    (eager_state, eager_hist), (comp_state, comp_hist) = runs
    assert eager_hist.train_loss == comp_hist.train_loss
    assert eager_hist.valid_accuracy == comp_hist.valid_accuracy
    for key in eager_state:
        assert np.array_equal(eager_state[key], comp_state[key]), key


# ----------------------------------------------------------------------------- generated source


def test_source_is_plain_numpy_with_preallocated_buffers():
    _, step = make_run(np.float32)
    compiled = tg.compile(step)
    assert compiled.source == ""
    compiled(*data(16, np.float32))
    src = compiled.source
    assert src.startswith("def step(x, y):")
    assert "out=" in src and "np.matmul" in src and "np.tanh" in src
    for word in ("Tensor(", "forward(", "backward(", ".apply("):
        assert word not in src, word


def test_an_op_without_template_runs_its_function_and_stays_exact():
    class Cube(tg.Function):  # no forward_code: the generated code calls it
        def forward(self, x):
            self.x = x
            return x**3

        def backward(self, grad):
            return grad * 3 * self.x**2

    w = Tensor(np.linspace(-1, 1, 12).reshape(3, 4), requires_grad=True)

    def step(x):
        loss = (Cube.apply(Tensor(x) @ w).sigmoid() * 2).sum()
        w.zero_grad()
        loss.backward()
        return loss

    compiled = tg.compile(step)
    for seed in range(3):
        x = np.random.default_rng(seed).normal(size=(5, 3))
        got = compiled(x).item()
        got_grad = w.grad.copy()
        assert got == step(x).item()
        assert np.array_equal(got_grad, w.grad)
    assert "Cube()" in compiled.source


# ---------------------------------------------------------------- defects of the first compile


def test_arguments_are_bound_by_position_not_by_identity():
    @tg.compile
    def diff(a, b):
        return (Tensor(a) - Tensor(b)).sum()

    x = np.ones(3)
    assert diff(x, x).item() == 0.0
    assert diff(np.ones(3), np.zeros(3)).item() == 3.0
    assert diff(np.zeros(3), np.ones(3)).item() == -3.0


def test_one_element_data_made_from_an_argument_follows_it():
    @tg.compile
    def f(v):
        return Tensor(v.mean(keepdims=True)) * 2

    assert f(Tensor([1.0, 3.0])).item() == 4.0
    assert f(Tensor([10.0, 30.0])).item() == 40.0

    @tg.compile
    def g(x):
        return (Tensor(x) * 2).sum()

    assert g(np.array([[1]], dtype=np.int64)).item() == 2.0
    assert g(np.array([[5]], dtype=np.int64)).item() == 10.0


def test_a_small_array_made_inside_is_refused_by_name():
    rng = np.random.default_rng(0)

    @tg.compile
    def f(x):
        noise = Tensor(rng.normal(size=(1,)), name="noise")
        return (Tensor(x) + noise).sum()

    with pytest.raises(TraceError, match="'noise'.*frozen"):
        f(np.ones(2))


def test_replacing_a_layer_or_a_parameter_array_retraces():
    models, steps = [], []
    for _ in range(2):
        model = MLP([6, 8, 3], "tanh", rng=0, dtype=np.float64)
        opt = SGD(model.parameters(), 0.1)

        def step(x, y, model=model, opt=opt):
            loss = softmax_cross_entropy(model(Tensor(x)), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            return loss

        models.append(model)
        steps.append(step)
    compiled = tg.compile(steps[1])
    x, y = data(8, np.float64)
    assert compiled(x, y).item() == steps[0](x, y).item()
    for model in models:
        model.fc1 = tg.nn.Linear(6, 8, rng=5, dtype=np.float64)
    assert compiled(x, y).item() == steps[0](x, y).item()
    assert compiled.traces == 1  # the same signature, traced again
    for model in models:
        model.fc2.weight.data = np.full((8, 3), 0.1)
    assert compiled(x, y).item() == steps[0](x, y).item()
    assert compiled(x, y).item() == steps[0](x, y).item()


def test_integer_arguments_images_and_label_tensors():
    rng = np.random.default_rng(0)
    model = MLP([6, 4, 3], rng=0, dtype=np.float32)

    def step(images, labels):
        return softmax_cross_entropy(model(Tensor(images) / 255.0), labels)

    compiled = tg.compile(step)
    for _ in range(3):
        images = rng.integers(0, 256, size=(5, 6), dtype=np.uint8)
        labels = Tensor(rng.integers(0, 3, size=5), dtype=np.int64)
        assert compiled(images, labels).item() == step(images, labels).item()


def test_training_step_compiled_takes_integer_images():
    from tinygrad_nn.train import training_step

    runs = []
    for compiled in (False, True):
        model = MLP([6, 5, 3], rng=1, dtype=np.float32)
        step = training_step(model, SGD(model.parameters(), 0.1), 0.1, compiled=compiled)
        rng = np.random.default_rng(3)
        runs.append(
            [
                step(rng.integers(0, 16, size=(4, 6)), rng.integers(0, 3, size=4)).item()
                for _ in range(4)
            ]
        )
    assert runs[0] == runs[1]


def test_bad_targets_raise_the_eager_error_on_replay():
    model = MLP([6, 3], rng=0, dtype=np.float64)
    compiled = tg.compile(lambda x, y: softmax_cross_entropy(model(Tensor(x)), y))
    x, y = data(4, np.float64)
    compiled(x, y)
    with pytest.raises(ValueError, match=r"targets must lie in \[0, 3\)"):
        compiled(x, np.array([0, 1, 3, 0]))
    with pytest.raises(ValueError, match=r"targets must lie in \[0, 3\)"):
        compiled(x, np.array([0, -1, 2, 0]))


def test_a_gradient_changed_behind_the_trace_is_refused():
    w = Tensor(np.ones((3, 2)), requires_grad=True, name="w")
    w.grad = np.ones((3, 2))

    def step(x):
        loss = (Tensor(x) @ w).sum()
        w.grad = None  # not a zero_grad(): the trace cannot see it
        loss.backward()
        return loss

    with pytest.raises(TraceError, match="gradient of tensor 'w' was changed"):
        tg.compile(step)(np.ones((4, 3)))


# ----------------------------------------------------------------------------- numba backend

#: the numba backend's fused loops round differently from numpy's: float32 round-off,
#: compounded over the steps below, stays within this relative tolerance
NUMBA_RTOL = 1e-5


@pytest.mark.parametrize("activation", ["sigmoid", "relu"])
def test_numba_backend_matches_eager_within_float32_round_off(activation):
    runs = []
    for backend in (None, "numba"):
        model = MLP([6, 8, 5, 3], activation, "sigmoid", rng=0, dtype=np.float32)
        opt = SGD(model.parameters(), 0.3, 0.9)
        weights = [layer.weight for layer in model.layers]

        def step(x, y, model=model, opt=opt, weights=weights):
            loss = softmax_cross_entropy(model(Tensor(x)), y) + l2_penalty(weights, 0.5, len(y))
            opt.zero_grad()
            loss.backward()
            opt.step()
            return loss

        run = step if backend is None else tg.compile(step, backend=backend)
        losses = [run(*data(16, np.float32, seed=i)).item() for i in range(10)]
        runs.append((losses, model.state_dict(), run))
    (eager_losses, eager_state, _), (losses, state, compiled) = runs
    np.testing.assert_allclose(losses, eager_losses, rtol=NUMBA_RTOL)
    for key in eager_state:
        np.testing.assert_allclose(state[key], eager_state[key], rtol=NUMBA_RTOL, atol=1e-6)
    # every chain the backend knows is fused (a template change that breaks a pattern fails)
    fused = {
        "sigmoid": ["nb.sigmoid_grad_colsum("],
        "relu": ["nb.bias_relu(", "nb.mask_grad_colsum(", "nb.sigmoid_grad_colsum("],
    }[activation]
    for kernel in ["nb.shift_rows(", "nb.xent_finish(", "nb.momentum_step(", *fused]:
        assert kernel in compiled.source, kernel
    assert "np.add.reduce(" not in compiled.source  # every bias gradient summed in a kernel
    assert compiled.compile_seconds > 0


def test_numba_backend_without_numba_names_the_extra(monkeypatch):
    import sys

    from tinygrad_nn._optional import MissingExtraError

    monkeypatch.setitem(sys.modules, "numba", None)
    with pytest.raises(MissingExtraError, match=r'pip install "tinygrad-nn\[fast\]"'):
        tg.compile(lambda x: x, backend="numba")


def test_unknown_backend():
    with pytest.raises(ValueError, match="unknown backend 'jax'"):
        tg.compile(lambda x: x, backend="jax")


def test_cli_graph_source_prints_the_generated_step(tmp_path, capsys):
    from tinygrad_nn.digits.cli import main

    model = MLP([64, 8, 10], "sigmoid", "sigmoid", rng=0)
    tg.save(model, tmp_path / "model.npz")
    assert main(["graph", "--model", str(tmp_path / "model.npz"), "--source"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("def step(x, y):")
    assert "np.matmul(x, fc1_weight, out=fc1)" in out


def test_fit_with_the_numba_backend_is_close_to_eager():
    from tinygrad_nn.train import fit

    X, y = data(40, np.float32)
    states = []
    for backend in ("numpy", "numba"):
        model = MLP([6, 5, 3], rng=2, dtype=np.float32)
        opt = SGD(model.parameters(), 0.1, 0.9)
        fit(model, opt, X, y, 3, batch_size=8, progress=False, compiled=True, backend=backend)
        states.append(model.state_dict())
    for key in states[0]:
        np.testing.assert_allclose(states[1][key], states[0][key], rtol=NUMBA_RTOL, atol=1e-6)


@pytest.mark.parametrize("shape", [(1, 1), (32, 48), (7, 300)])
def test_numba_bias_sum_kernels_match_the_numpy_chains_they_replace(shape):
    from tinygrad_nn import _numba_kernels as nb

    rng = np.random.default_rng(0)
    g = rng.normal(size=shape).astype(np.float32)
    y = rng.random(shape).astype(np.float32)
    mask = g > 0.2
    out, colsum = np.empty_like(g), np.full(shape[1], np.nan, np.float32)
    nb.sigmoid_grad_colsum(g, y, out, colsum)
    expected = g * y * (1 - y)
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_allclose(colsum, expected.sum(axis=0), rtol=1e-6, atol=1e-7)
    inplace = g.copy()
    nb.mask_grad_colsum(inplace, mask, inplace, colsum)  # in place, as the step calls it
    np.testing.assert_array_equal(inplace, g * mask)
    np.testing.assert_allclose(colsum, (g * mask).sum(axis=0), rtol=1e-6, atol=1e-7)

"""The digits CNN: the net, its spec, the ``cnn`` preset and its place in the CLI (short
smoke runs; the full 5-seed run is measured, not tested)."""

import dataclasses
import json

import numpy as np
import pytest

import tinygrad_nn as tg
from tinygrad_nn import Tensor
from tinygrad_nn.digits.cli import main
from tinygrad_nn.digits.cnn import CNNSpec, CosineSchedule, DigitsCNN
from tinygrad_nn.digits.data import affine_augment, load_digits_splits
from tinygrad_nn.digits.experiment import PRESETS, run_preset
from tinygrad_nn.train import evaluate


def test_digits_cnn_shapes_names_and_inputs():
    net = DigitsCNN(channels=(4, 6, 8), hidden=(12,), rng=0)
    names = [n for n, _ in net.named_parameters()]
    assert names == [
        "conv1.weight",
        "conv1.bias",
        "conv2.weight",
        "conv2.bias",
        "conv3.weight",
        "conv3.bias",
        "fc1.weight",
        "fc1.bias",
        "out.weight",
        "out.bias",
    ]
    assert net.fc1.weight.shape == (32, 12) and net.out.weight.shape == (12, 10)
    x = np.random.default_rng(0).random((5, 64)).astype(np.float32)
    rows = net(Tensor(x))
    images = net(Tensor(x.reshape(5, 1, 8, 8)))
    assert rows.shape == (5, 10) and rows.dtype == np.float32
    np.testing.assert_array_equal(rows.data, images.data)
    with pytest.raises(ValueError, match="DigitsCNN: channels"):
        DigitsCNN(channels=(4, 6))


def test_digits_cnn_saves_and_loads(tmp_path):
    net = DigitsCNN(channels=(3, 4, 5), hidden=(7,), rng=1, dtype=np.float64)
    tg.save(net, tmp_path / "cnn.npz")
    again = tg.load(tmp_path / "cnn.npz")
    assert isinstance(again, DigitsCNN) and again.config() == net.config()
    x = Tensor(np.random.default_rng(2).random((3, 64)))
    np.testing.assert_array_equal(again(x).data, net(x).data)


def test_digits_cnn_gradients_flow_to_every_parameter():
    net = DigitsCNN(channels=(2, 3, 4), rng=0, dtype=np.float64)
    x = Tensor(np.random.default_rng(3).random((4, 64)))
    net(x).softmax_cross_entropy(np.array([0, 1, 2, 3])).backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and np.any(p.grad != 0), name


def test_cnn_spec_builds_and_schedules():
    spec = CNNSpec(channels=(2, 3, 4), lr=0.1, epochs=4, nesterov=True)
    model, opt = spec.build(0)
    assert isinstance(model, DigitsCNN) and opt.nesterov and opt.lr == 0.1
    schedule = spec.schedule()
    assert isinstance(schedule, CosineSchedule)
    assert schedule(0) == 0.1 and schedule(2) == pytest.approx(0.05)
    assert CNNSpec(cosine=False).schedule() is None
    with pytest.raises(ValueError, match="unknown optimizer"):
        CNNSpec(optimizer="rmsprop").build(0)
    model_a, _ = spec.build(5)
    model_b, _ = spec.build(5)
    np.testing.assert_array_equal(model_a.conv2.weight.data, model_b.conv2.weight.data)


def test_cnn_preset_smoke_run():
    preset = PRESETS["cnn"]
    assert preset.refit and preset.scale and isinstance(preset.spec, CNNSpec)
    quick = dataclasses.replace(preset, spec=dataclasses.replace(preset.spec, epochs=1))
    (result,) = run_preset(quick, [0], n_jobs=1, progress=False)
    assert isinstance(result.model, DigitsCNN)
    assert result.best_lambda == preset.lambdas[0]
    assert 0.3 < result.valid_accuracy <= 1 and 0.3 < result.test_accuracy <= 1
    splits = load_digits_splits(scale=True)
    _, acc = evaluate(result.model, splits.X_test, splits.y_test)
    assert acc == result.test_accuracy
    assert len(result.history.valid_accuracy) == 1


def test_cli_cnn_preset_and_graph(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["digits", "--preset", "cnn", "--epochs", "1", "--seeds", "1", "--hidden", "8"]
    assert main([*args, "--jobs", "1", "--no-progress", "--out", str(out)]) == 0
    table = capsys.readouterr().out
    assert "CNN (1 seeds)" in table
    res = json.loads((out / "results.json").read_text())
    assert list(res["presets"]) == ["cnn"]
    assert res["settings"]["presets"]["cnn"]["hidden"] == [8]
    model = tg.load(out / "model.npz")
    assert isinstance(model, DigitsCNN) and model.hidden == [8]
    assert "CNN (1 seeds)" in (out / "report.html").read_text()
    assert main(["graph", "--model", str(out / "model.npz"), "--out", str(tmp_path / "g.svg")]) == 0


def test_cli_all_runs_three_presets(tmp_path):
    args = ["digits", "--preset", "all", "--epochs", "1", "--seeds", "1", "--lambdas", "0.01"]
    assert main([*args, "--jobs", "1", "--no-progress", "--out", str(tmp_path)]) == 0
    res = json.loads((tmp_path / "results.json").read_text())
    assert list(res["presets"]) == ["tutorial", "best", "cnn"]


class _Largest:
    """A stand-in Generator whose uniform draws are always the upper bound."""

    def uniform(self, low, high, size):
        return np.broadcast_to(np.asarray(high, dtype=float), size).copy()


def test_affine_augment_identity_shift_and_rotation():
    X = np.random.default_rng(0).random((3, 64)).astype(np.float32)
    same = affine_augment(X, np.random.default_rng(1), max_angle=0, max_scale=0, max_shift=0)
    assert same.dtype == np.float32 and same.shape == (3, 64)
    np.testing.assert_array_equal(same, X)
    shifted = affine_augment(X, _Largest(), max_angle=0, max_scale=0, max_shift=1).reshape(3, 8, 8)
    images = X.reshape(3, 8, 8)
    np.testing.assert_allclose(shifted[:, 1:, 1:], images[:, :-1, :-1], atol=1e-6)
    np.testing.assert_array_equal(shifted[:, 0, :], 0)  # zeros come in at the border
    turned = affine_augment(X, _Largest(), max_angle=90, max_scale=0, max_shift=0)
    quarter = [np.rot90(images, k, axes=(1, 2)).reshape(3, 64) for k in (1, -1)]
    assert any(np.allclose(turned, q, atol=1e-5) for q in quarter)


def test_affine_augment_is_seeded_and_moves_the_digits_a_little():
    X = load_digits_splits(scale=True).X_train[:200]
    a = affine_augment(X, np.random.default_rng(4))
    np.testing.assert_array_equal(a, affine_augment(X, np.random.default_rng(4)))
    assert not np.allclose(a, affine_augment(X, np.random.default_rng(5)))
    assert a.min() >= 0 and a.max() <= 1 + 1e-6  # bilinear: within the pixel range
    # each image still looks like itself, and keeps most of its ink
    corr = [np.corrcoef(x, y)[0, 1] for x, y in zip(X, a)]
    assert np.mean(corr) > 0.5 and min(corr) > 0
    assert 0.85 < np.mean(a.sum(axis=1) / X.sum(axis=1)) < 1.05


def test_compiled_training_step_equals_eager():
    from tinygrad_nn.train import training_step

    X = load_digits_splits(scale=True).X_train[:16]
    y = np.arange(16) % 10
    runs = []
    for compiled in (False, True):
        model, opt = CNNSpec(channels=(3, 4, 5)).build(0)
        step = training_step(model, opt, lam=0.01, compiled=compiled)
        losses = [step(X, y).item() for _ in range(3)]
        runs.append((losses, model.state_dict()))
    assert runs[0][0] == runs[1][0]
    for key in runs[0][1]:
        np.testing.assert_array_equal(runs[0][1][key], runs[1][1][key], err_msg=key)

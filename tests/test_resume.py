"""Resuming ``fit`` from a checkpoint: the same run or a refusal, never a silent mix.

Only ``tinygrad_nn.train``, ``nn``, ``optim`` and ``serialize`` are imported (on synthetic
data), so these tests also run against older versions of the package.
"""

import json

import numpy as np
import pytest

from tinygrad_nn import serialize
from tinygrad_nn.nn import MLP
from tinygrad_nn.optim import SGD, Adam
from tinygrad_nn.serialize import CheckpointError
from tinygrad_nn.train import fit

BASE = {"epochs": 3, "batch_size": 16, "lam": 0.01, "seed": 3, "progress": False}


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 5))
    y = (X[:, 0] + X[:, 1] > 0).astype(np.int64) + (X[:, 2] > 1)
    return X, y, X[:20] * 0.5, y[:20]


def noisy(xb, rng):
    """A seeded augmentation (uses the run's generator, like shift augmentation)."""
    return xb + rng.normal(scale=0.1, size=xb.shape)


def other_noise(xb, rng):
    return xb + rng.normal(scale=0.2, size=xb.shape)


def slow(epoch):
    return 0.05


def decaying(epoch):
    return 0.1 / (1 + epoch)


def build(activation="relu", dtype="float64", optimizer="sgd", lr=0.1, momentum=0.9, **opt):
    model = MLP([5, 8, 3], activation, rng=0, dtype=dtype)
    if optimizer == "sgd":
        return model, SGD(model.parameters(), lr=lr, momentum=momentum)
    return model, Adam(model.parameters(), lr=lr, **opt)


def run(path, data, model_kw=None, **fit_kw):
    X, y, Xv, yv = data
    model, opt = build(**(model_kw or {}))
    kwargs = {**BASE, "valid": (Xv, yv), **fit_kw}
    history = fit(model, opt, X, y, checkpoint=path, **kwargs)
    return model, history


def weights(model):
    return model.state_dict()


def same_weights(a, b):
    sa, sb = weights(a), weights(b)
    return list(sa) == list(sb) and all(np.array_equal(sa[k], sb[k]) for k in sa)


# ----------------------------------------------------------------------------- refusals

CHANGES = {
    # name in the message: (model settings, fit settings, data change)
    "lr": ({"lr": 0.05}, {}, None),
    "momentum": ({"momentum": 0.5}, {}, None),
    "optimizer": ({"optimizer": "adam"}, {}, None),
    "beta1": ({"optimizer": "adam", "betas": (0.8, 0.999)}, {}, "adam"),
    "activation": ({"activation": "tanh"}, {}, None),
    "dtype": ({"dtype": "float32"}, {}, None),
    "augment": ({}, {"augment": other_noise}, None),
    "schedule": ({}, {"schedule": slow}, None),
    "batch_size": ({}, {"batch_size": 8}, None),
    "lam": ({}, {"lam": 0.5}, None),
    "seed": ({}, {"seed": 4}, None),
    "training data": ({}, {}, "train"),
    "validation data": ({}, {}, "valid"),
}


@pytest.mark.parametrize("name", list(CHANGES))
def test_resume_with_a_changed_setting_is_refused_naming_it(tmp_path, data, name):
    model_kw, fit_kw, change = CHANGES[name]
    path = tmp_path / "ck.npz"
    first_model = {"optimizer": "adam"} if change == "adam" else {}
    run(path, data, first_model, augment=noisy)
    before = path.read_bytes()
    X, y, Xv, yv = data
    if change == "train":
        X = X.copy()
        X[0, 0] += 1.0  # same shapes, other numbers
    elif change == "valid":
        Xv = Xv + 1.0
    with pytest.raises(CheckpointError) as info:
        run(path, (X, y, Xv, yv), model_kw, **{"augment": noisy, **fit_kw})
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    assert f"{name} " in message, message
    assert path.read_bytes() == before  # the checkpoint is left as it was


def test_message_names_every_differing_setting_with_both_values(tmp_path, data):
    path = tmp_path / "ck.npz"
    run(path, data)
    with pytest.raises(CheckpointError) as info:
        run(path, data, {"lr": 0.05, "momentum": 0.5})
    message = str(info.value)
    assert "lr 0.05 (checkpoint: 0.1)" in message
    assert "momentum 0.5 (checkpoint: 0.9)" in message
    assert "seed" not in message and "\n" not in message


def test_resume_with_the_same_settings_goes_on(tmp_path, data, monkeypatch):
    path = tmp_path / "ck.npz"
    kwargs = {"schedule": decaying, "augment": noisy, "epochs": 5, "checkpoint_every": 2}
    whole, _ = run(tmp_path / "whole.npz", data, **kwargs)
    calls = {"n": 0}
    real = SGD.step

    def crashing_step(self):  # 4 steps an epoch: the 14th is in epoch 4
        calls["n"] += 1
        if calls["n"] == 14:
            raise KeyboardInterrupt
        real(self)

    monkeypatch.setattr(SGD, "step", crashing_step)
    with pytest.raises(KeyboardInterrupt):
        run(path, data, **kwargs)
    monkeypatch.undo()
    assert serialize.read_file(path)[1]["epoch"] == 2
    again, _ = run(path, data, **kwargs)
    assert same_weights(whole, again)


def test_checkpoint_without_recorded_settings_is_refused(tmp_path, data):
    path = tmp_path / "ck.npz"
    run(path, data)
    arrays, meta = serialize.read_file(path)
    meta = {k: v for k, v in meta.items() if k not in ("format", "version", "library")}
    meta["settings"] = {k: meta["settings"][k] for k in ("epochs", "batch_size", "lam", "seed")}
    serialize.write_file(path, arrays, meta)  # what older versions recorded
    with pytest.raises(CheckpointError) as info:
        run(path, data)
    assert "lr 0.1 (checkpoint: not recorded)" in str(info.value)


@pytest.mark.parametrize(
    "rng_state",
    [{"bit_generator": "os.system", "state": {}}, {"bit_generator": "PCG64", "state": 5}, "x"],
)
def test_checkpoint_with_a_bad_random_state_is_refused(tmp_path, data, rng_state):
    path = tmp_path / "ck.npz"
    run(path, data)
    arrays, meta = serialize.read_file(path)
    meta = {k: v for k, v in meta.items() if k not in ("format", "version", "library")}
    meta["rng"] = rng_state
    serialize.write_file(path, arrays, meta)
    with pytest.raises(CheckpointError) as info:
        run(path, data, epochs=4)
    assert "\n" not in str(info.value)


# ----------------------------------------------------------------------------- epochs


@pytest.mark.parametrize("longer", [5, 8])
def test_more_epochs_extend_a_run_without_schedule_exactly(tmp_path, data, longer):
    path = tmp_path / "ck.npz"
    run(path, data, augment=noisy)  # 3 epochs, finished
    extended, hist = run(path, data, augment=noisy, epochs=longer)
    scratch, hist_scratch = run(tmp_path / "scratch.npz", data, augment=noisy, epochs=longer)
    assert same_weights(extended, scratch)
    assert hist.train_loss == hist_scratch.train_loss
    assert hist.valid_accuracy == hist_scratch.valid_accuracy
    _, meta = serialize.read_file(path)
    assert meta["epoch"] == longer and meta["settings"]["epochs"] == longer


def test_fewer_epochs_than_trained_is_refused(tmp_path, data):
    path = tmp_path / "ck.npz"
    run(path, data, epochs=5)
    with pytest.raises(CheckpointError) as info:
        run(path, data, epochs=3)
    assert "already trained 5 epochs" in str(info.value)


def test_interrupted_run_may_end_sooner(tmp_path, data):
    path = tmp_path / "ck.npz"
    run(path, data, epochs=7, checkpoint_every=2)
    arrays, meta = serialize.read_file(path)
    assert meta["epoch"] == 7
    # a checkpoint from epoch 2 of the 7-epoch run, finished as a 4-epoch run
    early = tmp_path / "early.npz"
    run(early, data, epochs=2)
    arrays, meta = serialize.read_file(early)
    meta = {k: v for k, v in meta.items() if k not in ("format", "version", "library")}
    meta["settings"]["epochs"] = 7
    serialize.write_file(early, arrays, meta)
    finished, _ = run(early, data, epochs=4)
    scratch, _ = run(tmp_path / "scratch.npz", data, epochs=4)
    assert same_weights(finished, scratch)


def test_changed_epochs_with_a_schedule_are_refused(tmp_path, data):
    path = tmp_path / "ck.npz"
    run(path, data, schedule=decaying)
    with pytest.raises(CheckpointError) as info:
        run(path, data, schedule=decaying, epochs=5)
    message = str(info.value)
    assert "epochs 5 (checkpoint: 3)" in message and "schedule" in message


def test_settings_are_recorded_as_json(tmp_path, data):
    path = tmp_path / "ck.npz"
    run(path, data, augment=noisy, schedule=decaying, settings={"note": "mine"})
    _, meta = serialize.read_file(path)
    settings = meta["settings"]
    json.dumps(settings)
    assert settings["sizes"] == [5, 8, 3] and settings["activation"] == "relu"
    assert settings["optimizer"] == "SGD" and settings["lr"] == 0.1
    assert settings["augment"].endswith("test_resume.noisy")
    assert settings["note"] == "mine"
    assert len(settings["training data"]) == 16

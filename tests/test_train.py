"""Tests for tinygrad_nn.train: fit, evaluate, checkpoints and resume, lambda search."""

import numpy as np
import pytest

import tinygrad_nn as tg
from tinygrad_nn.data import load_digits_splits, shift_augment
from tinygrad_nn.digits.search import TrainSpec, best_of, search_lambda, train_spec
from tinygrad_nn.nn import MLP, Module
from tinygrad_nn.optim import SGD, Adam
from tinygrad_nn.serialize import CheckpointError, read_file, save
from tinygrad_nn.train import History, evaluate, fit, predict


@pytest.fixture(scope="module")
def digits():
    return load_digits_splits(scale=True)


@pytest.fixture(scope="module")
def small(digits):
    """A small slice of the digits: 200 training and 100 validation examples."""
    return digits.X_train[:200], digits.y_train[:200], digits.X_valid[:100], digits.y_valid[:100]


def _model_and_opt(kind="adam", seed=0):
    model = MLP([64, 16, 10], "relu", rng=seed)
    if kind == "adam":
        return model, Adam(model.parameters(), lr=0.01)
    return model, SGD(model.parameters(), lr=0.1, momentum=0.9)


def _weights(model):
    return {k: v.copy() for k, v in model.state_dict().items()}


# ----------------------------------------------------------------------------- fit


def test_fit_returns_history_of_the_right_length(small):
    X, y, Xv, yv = small
    model, opt = _model_and_opt()
    hist = fit(model, opt, X, y, epochs=3, batch_size=50, valid=(Xv, yv), progress=False)
    assert isinstance(hist, History)
    assert len(hist.train_loss) == 3
    assert len(hist.valid_loss) == 3
    assert len(hist.valid_accuracy) == 3
    assert len(hist.seconds) == 3
    assert all(s >= 0 for s in hist.seconds)
    assert all(0.0 <= a <= 1.0 for a in hist.valid_accuracy)
    # the recorded validation numbers are those of the final model
    loss, acc = evaluate(model, Xv, yv)
    assert hist.valid_loss[-1] == pytest.approx(loss)
    assert hist.valid_accuracy[-1] == pytest.approx(acc)


def test_fit_without_validation(small):
    X, y, _, _ = small
    model, opt = _model_and_opt()
    hist = fit(model, opt, X, y, epochs=2, progress=False)
    assert len(hist.train_loss) == 2
    assert hist.valid_loss == [] and hist.valid_accuracy == []


def test_fit_zero_epochs_changes_nothing(small):
    X, y, _, _ = small
    model, opt = _model_and_opt()
    before = _weights(model)
    hist = fit(model, opt, X, y, epochs=0, progress=False)
    assert hist.train_loss == []
    for k, v in model.state_dict().items():
        assert np.array_equal(v, before[k])


def test_loss_falls_on_digits(digits):
    model = MLP([64, 32, 10], "relu", rng=0)
    opt = Adam(model.parameters(), lr=0.01)
    hist = fit(
        model,
        opt,
        digits.X_train,
        digits.y_train,
        epochs=5,
        batch_size=64,
        valid=(digits.X_valid, digits.y_valid),
        progress=False,
    )
    assert hist.train_loss[-1] < 0.5 * hist.train_loss[0]
    assert hist.valid_loss[-1] < hist.valid_loss[0]
    assert hist.valid_accuracy[-1] > 0.8  # chance is 0.1


def test_full_batch_sgd_loss_falls(small):
    X, y, _, _ = small
    model, opt = _model_and_opt("sgd")
    hist = fit(model, opt, X, y, epochs=8, progress=False)
    assert hist.train_loss[-1] < hist.train_loss[0]


def test_l2_term_shrinks_weights(small):
    X, y, _, _ = small
    norms = []
    for lam in (0.0, 50.0):
        model, opt = _model_and_opt("sgd")
        fit(model, opt, X, y, epochs=5, lam=lam, progress=False)
        norms.append(sum(float(np.sum(w.data**2)) for w in (model.fc1.weight, model.fc2.weight)))
    assert norms[1] < norms[0]


def test_fit_is_deterministic_for_a_seed(small):
    X, y, _, _ = small
    runs = []
    for seed in (3, 3, 4):
        model, opt = _model_and_opt()
        fit(
            model,
            opt,
            X,
            y,
            epochs=2,
            batch_size=32,
            seed=seed,
            augment=shift_augment,
            progress=False,
        )
        runs.append(_weights(model))
    assert all(np.array_equal(runs[0][k], runs[1][k]) for k in runs[0])
    assert not all(np.array_equal(runs[0][k], runs[2][k]) for k in runs[0])


def test_schedule_sets_the_learning_rate_each_epoch(small):
    X, y, _, _ = small
    model, opt = _model_and_opt("sgd")
    seen = []

    def schedule(epoch):
        seen.append(epoch)
        return 0.1 / (epoch + 1)

    fit(model, opt, X, y, epochs=4, schedule=schedule, progress=False)
    assert seen == [0, 1, 2, 3]
    assert opt.lr == pytest.approx(0.1 / 4)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"epochs": -1},
        {"epochs": 2.0},
        {"epochs": 2, "X": np.zeros((5, 64))},
        {"epochs": 2, "y": np.zeros((5, 1), dtype=int)},
        {"epochs": 2, "valid": (np.zeros((3, 64)), np.zeros(4, dtype=int))},
    ],
)
def test_fit_bad_arguments_raise(small, kwargs):
    X, y, _, _ = small
    args = {"X": X, "y": y, **kwargs}
    model, opt = _model_and_opt()
    with pytest.raises(ValueError):
        fit(model, opt, progress=False, **args)


def test_history_dict_round_trip():
    h = History([1.0, 0.5], [1.1, 0.6], [0.3, 0.7], [0.01, 0.02])
    d = h.to_dict()
    assert d["train_loss"] == [1.0, 0.5]
    assert History.from_dict(d) == h


# ----------------------------------------------------------------------------- evaluate


class _Spy(Module):
    """Wraps a model and keeps the outputs it produced."""

    def __init__(self, inner):
        self.inner = inner
        self.outputs = []
        self.grad_enabled = []

    def forward(self, x):
        out = self.inner(x)
        self.outputs.append(out)
        self.grad_enabled.append(tg.is_grad_enabled())
        return out


def test_evaluate_records_no_graph(small):
    X, y, Xv, yv = small
    spy = _Spy(MLP([64, 16, 10], "relu", rng=0))
    loss, acc = evaluate(spy, Xv, yv)
    assert spy.outputs, "evaluate did not call the model"
    assert spy.grad_enabled == [False] * len(spy.outputs)
    for out in spy.outputs:
        assert out.op is None
        assert not out.requires_grad
    assert tg.is_grad_enabled()
    assert all(p.grad is None for p in spy.parameters())
    assert 0.0 <= acc <= 1.0
    assert loss > 0


def test_evaluate_matches_hand_computation(small):
    X, y, Xv, yv = small
    model, opt = _model_and_opt()
    fit(model, opt, X, y, epochs=2, batch_size=50, progress=False)
    loss, acc = evaluate(model, Xv, yv)
    logits = model.fc2(model.fc1(tg.Tensor(Xv)).relu()).data.astype(np.float64)
    assert acc == pytest.approx(np.mean(np.argmax(logits, axis=1) == yv))
    shifted = logits - logits.max(axis=1, keepdims=True)
    logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    assert loss == pytest.approx(-np.mean(logp[np.arange(len(yv)), yv]), rel=1e-4)


def test_predict_batches_and_no_grad(small):
    X, _, _, _ = small
    model = MLP([64, 16, 10], "relu", rng=0)
    whole = predict(model, X)
    chunked = predict(model, X, batch_size=7)
    assert whole.shape == (200, 10)
    np.testing.assert_allclose(chunked, whole, rtol=1e-6, atol=1e-6)
    assert isinstance(whole, np.ndarray)


# ----------------------------------------------------------------------------- checkpoints


def _crash_at_step(monkeypatch, cls, at_call):
    """Make ``cls.step`` raise KeyboardInterrupt on its ``at_call``-th call; returns the count.

    The crash comes from outside the training settings (a changed ``augment`` would be a
    changed setting, which a resume refuses)."""
    calls = {"n": 0}
    real = cls.step

    def step(self):
        calls["n"] += 1
        if calls["n"] == at_call:
            raise KeyboardInterrupt
        real(self)

    monkeypatch.setattr(cls, "step", step)
    return calls


@pytest.mark.parametrize("kind", ["adam", "sgd"])
def test_resume_after_crash_is_bit_identical(tmp_path, small, kind, monkeypatch):
    X, y, Xv, yv = small
    settings = {
        "epochs": 7,
        "batch_size": 32,
        "lam": 0.01,
        "seed": 5,
        "valid": (Xv, yv),
        "progress": False,
        "checkpoint_every": 3,
    }
    # A: uninterrupted
    model_a, opt_a = _model_and_opt(kind, seed=0)
    hist_a = fit(
        model_a, opt_a, X, y, augment=shift_augment, checkpoint=tmp_path / "a.npz", **settings
    )

    # B: crash in the middle of epoch 5 (index 4), after the checkpoint of epoch 3
    path = tmp_path / "b.npz"
    batches_per_epoch = -(-len(X) // 32)
    model_b, opt_b = _model_and_opt(kind, seed=0)
    at_call = 4 * batches_per_epoch + 3
    calls = _crash_at_step(monkeypatch, type(opt_b), at_call)
    with pytest.raises(KeyboardInterrupt):
        fit(model_b, opt_b, X, y, augment=shift_augment, checkpoint=path, **settings)
    monkeypatch.undo()
    assert calls["n"] == at_call
    _, meta = read_file(path)
    assert meta["kind"] == "checkpoint"
    assert meta["epoch"] == 3

    # resume on a fresh model (initialised differently: everything must come from the file)
    model_c, opt_c = _model_and_opt(kind, seed=99)
    hist_c = fit(model_c, opt_c, X, y, augment=shift_augment, checkpoint=path, **settings)
    state_a, state_c = model_a.state_dict(), model_c.state_dict()
    assert list(state_a) == list(state_c)
    for k in state_a:
        assert np.array_equal(state_a[k], state_c[k]), k
    assert hist_c.train_loss == hist_a.train_loss
    assert hist_c.valid_accuracy == hist_a.valid_accuracy
    assert len(hist_c.seconds) == 7
    _, meta = read_file(path)
    assert meta["epoch"] == 7


def test_resume_without_the_rng_state_would_differ(tmp_path, small):
    # guards the test above: with a different seed the same run ends elsewhere
    X, y, _, _ = small
    ends = []
    for seed in (5, 6):
        model, opt = _model_and_opt(seed=0)
        fit(
            model,
            opt,
            X,
            y,
            epochs=2,
            batch_size=32,
            seed=seed,
            augment=shift_augment,
            progress=False,
        )
        ends.append(model.fc1.weight.data.copy())
    assert not np.array_equal(ends[0], ends[1])


def test_checkpoint_written_every_k_epochs(tmp_path, small, monkeypatch):
    X, y, _, _ = small
    import tinygrad_nn.train as train_mod

    saved_epochs = []
    real = train_mod._save_checkpoint

    def spy(path, model, optimizer, rng, history, epoch, settings):
        saved_epochs.append(epoch)
        real(path, model, optimizer, rng, history, epoch, settings)

    monkeypatch.setattr(train_mod, "_save_checkpoint", spy)
    model, opt = _model_and_opt()
    fit(
        model,
        opt,
        X,
        y,
        epochs=7,
        checkpoint=tmp_path / "c.npz",
        checkpoint_every=3,
        progress=False,
    )
    assert saved_epochs == [3, 6, 7]


def test_completed_checkpoint_resumes_to_the_end(tmp_path, small):
    X, y, Xv, yv = small
    path = tmp_path / "done.npz"
    model, opt = _model_and_opt()
    hist = fit(model, opt, X, y, epochs=3, valid=(Xv, yv), checkpoint=path, progress=False)
    fresh, fresh_opt = _model_and_opt(seed=42)
    again = fit(fresh, fresh_opt, X, y, epochs=3, valid=(Xv, yv), checkpoint=path, progress=False)
    for k, v in model.state_dict().items():
        assert np.array_equal(fresh.state_dict()[k], v)
    assert again.train_loss == hist.train_loss


@pytest.mark.parametrize(
    "change",
    [{"batch_size": 16}, {"lam": 0.5}, {"seed": 1}],
)
def test_checkpoint_from_other_settings_is_refused(tmp_path, small, change):
    # (a changed number of epochs extends a run without a schedule: see test_resume.py)
    X, y, _, _ = small
    path = tmp_path / "ck.npz"
    base = {"epochs": 3, "batch_size": 32, "lam": 0.0, "seed": 0}
    model, opt = _model_and_opt()
    fit(model, opt, X, y, checkpoint=path, progress=False, **base)
    model2, opt2 = _model_and_opt()
    with pytest.raises(CheckpointError) as info:
        fit(model2, opt2, X, y, checkpoint=path, progress=False, **{**base, **change})
    assert str(path) in str(info.value)
    assert f"{next(iter(change))} " in str(info.value)


def test_checkpoint_for_another_model_or_optimizer_is_refused(tmp_path, small):
    X, y, _, _ = small
    path = tmp_path / "ck.npz"
    model, opt = _model_and_opt("adam")
    fit(model, opt, X, y, epochs=1, checkpoint=path, progress=False)
    other = MLP([64, 8, 10], "relu", rng=0)
    with pytest.raises(CheckpointError):
        fit(other, Adam(other.parameters()), X, y, epochs=1, checkpoint=path, progress=False)
    model2, _ = _model_and_opt("adam")
    with pytest.raises(CheckpointError):
        fit(
            model2,
            SGD(model2.parameters(), lr=0.1),
            X,
            y,
            epochs=1,
            checkpoint=path,
            progress=False,
        )


def test_model_file_is_not_a_training_checkpoint(tmp_path, small):
    X, y, _, _ = small
    path = tmp_path / "model.npz"
    model, opt = _model_and_opt()
    save(model, path)
    with pytest.raises(CheckpointError, match="checkpoint"):
        fit(model, opt, X, y, epochs=1, checkpoint=path, progress=False)


# ----------------------------------------------------------------------------- augmentation


def test_shift_augment_shifts_by_at_most_one_pixel():
    rng = np.random.default_rng(0)
    # every pixel nonzero, so the zero border shows exactly where the image moved
    X = rng.uniform(1, 16, size=(300, 64)).astype(np.float32)
    out = shift_augment(X, np.random.default_rng(1))
    assert out.shape == X.shape
    assert out.dtype == X.dtype
    found = set()
    for src, dst in zip(X.reshape(-1, 8, 8), out.reshape(-1, 8, 8)):
        matches = []
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                padded = np.zeros((10, 10), dtype=X.dtype)
                padded[1 + dy : 9 + dy, 1 + dx : 9 + dx] = src
                if np.array_equal(padded[1:9, 1:9], dst):
                    matches.append((dy, dx))
        assert len(matches) == 1
        found.add(matches[0])
    # with 300 images every one of the nine shifts turns up, the identity included
    assert found == {(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)}


def test_shift_augment_zero_border_and_mass():
    X = np.ones((50, 64))
    out = shift_augment(X, np.random.default_rng(2)).reshape(-1, 8, 8)
    for img in out:
        ones = int(img.sum())
        assert ones in (64, 56, 49)  # no shift, one axis shifted, both shifted
        assert set(np.unique(img).tolist()) <= {0.0, 1.0}


def test_shift_augment_is_seeded():
    X = np.random.default_rng(0).uniform(size=(20, 64))
    a = shift_augment(X, np.random.default_rng(7))
    b = shift_augment(X, np.random.default_rng(7))
    assert np.array_equal(a, b)
    assert np.array_equal(X, np.random.default_rng(0).uniform(size=(20, 64)))  # input untouched


# ----------------------------------------------------------------------------- specs and search


_SPEC = TrainSpec(
    sizes=(64, 8, 10),
    activation="relu",
    output_activation=None,
    optimizer="adam",
    lr=0.01,
    epochs=2,
    batch_size=64,
    augment="shift",
    lr_decay=0.5,
)


def test_train_spec_schedule():
    assert TrainSpec().schedule() is None
    sched = TrainSpec(lr=0.2, epochs=11, lr_decay=0.1).schedule()
    assert sched(0) == pytest.approx(0.2)
    assert sched(10) == pytest.approx(0.02)
    assert sched(5) == pytest.approx(0.11)


def test_train_spec_builds_and_rejects_unknown_optimizer():
    model, opt = TrainSpec().build(0)
    assert model.sizes == [64, 48, 32, 10] and model.output_activation == "sigmoid"
    assert isinstance(opt, SGD) and opt.lr == 0.2 and opt.momentum == 0.9
    model2, _ = TrainSpec().build(0)
    assert np.array_equal(model.fc1.weight.data, model2.fc1.weight.data)
    with pytest.raises(ValueError):
        TrainSpec(optimizer="rmsprop").build(0)


def test_train_spec_runs(small):
    model, hist = train_spec(_SPEC, 0.01, small, seed=0)
    assert isinstance(model, MLP)
    assert len(hist.train_loss) == 2 and len(hist.valid_accuracy) == 2


def test_search_lambda_same_with_one_or_two_jobs(small):
    lambdas = [0.0, 0.1, 1.0]
    one = search_lambda(lambdas, _SPEC, small, seeds=(0, 1), n_jobs=1)
    two = search_lambda(lambdas, _SPEC, small, seeds=(0, 1), n_jobs=2)
    assert [(r["seed"], r["lam"]) for r in one] == [(s, lam) for s in (0, 1) for lam in lambdas]
    assert [(r["seed"], r["lam"]) for r in two] == [(r["seed"], r["lam"]) for r in one]
    for a, b in zip(one, two):
        assert a["valid_accuracy"] == b["valid_accuracy"]
        assert a["valid_loss"] == b["valid_loss"]
        assert a["history"].train_loss == b["history"].train_loss
        assert list(a["state"]) == list(b["state"])
        for k in a["state"]:
            assert np.array_equal(a["state"][k], b["state"][k])
    # each row's state is the model its accuracy was measured on
    row = one[2]
    model, _ = _SPEC.build(0)
    model.load_state_dict(row["state"])
    assert evaluate(model, small[2], small[3])[1] == pytest.approx(row["valid_accuracy"])
    best = best_of(one)
    assert best["valid_accuracy"] == max(r["valid_accuracy"] for r in one)


@pytest.mark.parametrize("lambdas", [[], [-1.0], [0.1, -0.01], [float("nan")], [float("inf")]])
def test_search_lambda_rejects_bad_lambdas(small, lambdas):
    with pytest.raises(ValueError):
        search_lambda(lambdas, _SPEC, small)

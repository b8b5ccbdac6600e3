"""Tests for tinygrad_nn.estimator.MLPClassifier: scikit-learn compatibility, labels, input
validation, partial_fit, clone / pickle / save, and the lambda search through GridSearchCV,
locally and on a Dask cluster, checked against search.search_lambda."""

import json
import os
import pickle
import subprocess
import sys
import textwrap
import tracemalloc
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from distributed import Client, LocalCluster, get_task_stream
from sklearn.base import clone
from sklearn.datasets import make_blobs
from sklearn.exceptions import NotFittedError
from sklearn.metrics import accuracy_score
from sklearn.model_selection import GridSearchCV, PredefinedSplit
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

import tinygrad_nn as tg
from tinygrad_nn.data import load_digits_splits
from tinygrad_nn.digits.search import TrainSpec, best_of, search_lambda
from tinygrad_nn.estimator import MLPClassifier

ROOT = Path(__file__).resolve().parents[1]

# the tutorial-equivalence runs: few epochs and lambdas so the tests stay quick
EPOCHS = 150
SEED = 3
LAMBDAS = [float(lam) for lam in np.logspace(-2, 2, 4)]


@pytest.fixture(scope="module")
def blobs():
    """Three well separated Gaussian blobs in 4 dimensions; y holds 0, 1, 2."""
    X, y = make_blobs(n_samples=150, n_features=4, centers=3, cluster_std=1.0, random_state=0)
    return X, y


def fast(**params):
    """A small estimator that learns the blobs in well under a second."""
    settings = {
        "hidden_layer_sizes": (16,),
        "activation": "relu",
        "solver": "adam",
        "learning_rate": 0.01,
        "max_iter": 60,
        "tol": None,
        "random_state": 0,
    }
    settings.update(params)
    return MLPClassifier(**settings)


# ----------------------------------------------------------------------------- check_estimator

_CHECK_SCRIPT = textwrap.dedent(
    """
    import json, warnings
    warnings.simplefilter("ignore")
    from sklearn.utils.estimator_checks import check_estimator
    from tinygrad_nn.estimator import MLPClassifier
    results = check_estimator(MLPClassifier(), on_fail=None)
    rows = [
        {"check": r["check_name"], "status": r["status"],
         "error": None if r["exception"] is None else repr(r["exception"])[:500]}
        for r in results
    ]
    print("CHECKS=" + json.dumps(rows))
    """
)


def test_check_estimator_passes_every_check():
    # check_array_api_input only runs when SCIPY_ARRAY_API=1 is set before scipy and
    # scikit-learn are first imported, so the checks run in a fresh interpreter
    env = {**os.environ, "SCIPY_ARRAY_API": "1"}
    proc = subprocess.run(
        [sys.executable, "-c", _CHECK_SCRIPT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("CHECKS="))
    rows = json.loads(line[len("CHECKS=") :])
    names = {row["check"] for row in rows}
    assert len(rows) >= 40
    assert {"check_array_api_input", "check_estimators_pickle", "check_fit2d_1sample"} <= names
    not_passed = [row for row in rows if row["status"] != "passed"]
    assert not_passed == []


# ----------------------------------------------------------------------------- labels


@pytest.mark.parametrize(
    "labels",
    [
        np.array([3, 7, 11]),
        np.array([-5, 0, 1000]),
        np.array(["zebra", "emu", "ant"]),  # sorted order differs from the blob order
        np.array(["b", "a", "c"], dtype=object),
    ],
    ids=["ints-3-7-11", "negative-ints", "strings", "object-strings"],
)
def test_any_labels_round_trip(blobs, labels):
    X, codes = blobs
    y = labels[codes]
    est = fast().fit(X, y)
    np.testing.assert_array_equal(est.classes_, np.sort(labels))
    pred = est.predict(X)
    assert set(pred.tolist()) <= set(labels.tolist())
    assert accuracy_score(y, pred) > 0.95
    proba = est.predict_proba(X)
    assert proba.shape == (len(X), 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    assert np.all(proba >= 0)
    # column j is the probability of classes_[j]: each label's rows put their mass there
    for label in labels:
        column = list(est.classes_).index(label)
        assert proba[y == label, column].mean() > 0.9
    np.testing.assert_array_equal(est.classes_[np.argmax(proba, axis=1)], pred)
    assert est.score(X, y) == pytest.approx(accuracy_score(y, pred))


def test_pandas_inputs(blobs):
    X, codes = blobs
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    y = pd.Series(np.array(["x", "y", "z"])[codes])
    est = fast().fit(frame, y)
    np.testing.assert_array_equal(est.feature_names_in_, ["a", "b", "c", "d"])
    np.testing.assert_array_equal(est.classes_, ["x", "y", "z"])
    assert est.score(frame, y) > 0.95


def test_fitted_attributes(blobs):
    X, y = blobs
    est = fast(max_iter=25).fit(X, y)
    assert est.n_features_in_ == 4
    assert est.n_iter_ == 25  # tol=None always runs max_iter epochs
    assert len(est.loss_curve_) == est.n_iter_
    assert all(np.isfinite(est.loss_curve_))
    assert est.loss_curve_[-1] < est.loss_curve_[0]
    assert est.validation_scores_ is None
    assert est.best_validation_score_ is None


def test_tol_stops_early_and_records_every_epoch(blobs):
    X, y = blobs
    est = fast(max_iter=500, tol=1e-3, n_iter_no_change=5).fit(X, y)
    assert est.n_iter_ < 500
    assert len(est.loss_curve_) == est.n_iter_


def test_early_stopping_records_validation_scores(blobs):
    X, y = blobs
    est = fast(early_stopping=True, max_iter=30).fit(X, y)
    assert isinstance(est.validation_scores_, list)
    assert len(est.validation_scores_) == est.n_iter_ == len(est.loss_curve_)
    assert all(0.0 <= s <= 1.0 for s in est.validation_scores_)
    assert est.best_validation_score_ == max(est.validation_scores_)


def test_random_state_makes_fits_repeatable(blobs):
    X, y = blobs
    a = fast(random_state=5).fit(X, y).predict_proba(X)
    b = fast(random_state=5).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(a, b)


# ----------------------------------------------------------------------------- partial_fit


def test_partial_fit_accumulates(blobs):
    X, codes = blobs
    labels = np.array([3, 7, 11])
    y = labels[codes]
    est = fast()
    with pytest.raises(ValueError, match="classes"):
        est.partial_fit(X[:20], y[:20])
    # the first batch need not hold every class; classes names them all
    first = y != 11
    est.partial_fit(X[first][:30], y[first][:30], classes=[11, 3, 7])
    np.testing.assert_array_equal(est.classes_, labels)
    assert est.n_iter_ == 1
    est.partial_fit(X, y)
    assert est.n_iter_ == 2
    assert len(est.loss_curve_) == 2
    for _ in range(40):
        est.partial_fit(X, y)
    assert est.n_iter_ == 42
    assert len(est.loss_curve_) == 42
    assert est.score(X, y) > 0.95


def test_partial_fit_rejects_unknown_labels_and_new_feature_counts(blobs):
    X, y = blobs
    est = fast().partial_fit(X, y, classes=[0, 1, 2])
    with pytest.raises(ValueError, match="not seen"):
        est.partial_fit(X[:5], np.array([0, 1, 2, 99, 0]))
    with pytest.raises(ValueError, match="features"):
        est.partial_fit(X[:, :3], y)
    with pytest.raises(ValueError, match="differ"):
        est.partial_fit(X, y, classes=[0, 1, 2, 3])
    assert est.n_iter_ == 1  # the rejected calls did not train


def test_fit_after_partial_fit_starts_over(blobs):
    X, y = blobs
    est = fast(max_iter=5)
    for _ in range(3):
        est.partial_fit(X, y, classes=[0, 1, 2])
    est.fit(X, y)
    assert est.n_iter_ == 5
    np.testing.assert_array_equal(est.predict_proba(X), fast(max_iter=5).fit(X, y).predict_proba(X))


# ----------------------------------------------------------------------------- bad inputs


def _bad_inputs(X):
    nan = X.copy()
    nan[3, 1] = np.nan
    inf = X.copy()
    inf[0, 0] = np.inf
    return {
        "nan": (nan, ValueError, "NaN"),
        "inf": (inf, ValueError, "infinity"),
        "empty": (X[:0], ValueError, "0 sample"),
        "3-d": (X.reshape(len(X), 2, 2), ValueError, "dim 3"),
        "1-d": (X[:, 0], ValueError, "Expected 2D array"),
        "sparse": (sp.csr_matrix(X), (TypeError, ValueError), "(?i)sparse"),
    }


BAD = ["nan", "inf", "empty", "3-d", "1-d", "sparse"]


@pytest.mark.parametrize("kind", BAD)
def test_fit_rejects_bad_X(blobs, kind):
    X, y = blobs
    bad, error, match = _bad_inputs(X)[kind]
    with pytest.raises(error, match=match):
        fast(max_iter=2).fit(bad, y[: bad.shape[0]])


@pytest.mark.parametrize("method", ["predict", "predict_proba"])
@pytest.mark.parametrize("kind", BAD)
def test_predict_rejects_bad_X(blobs, kind, method):
    X, y = blobs
    est = fast(max_iter=2).fit(X, y)
    bad, error, match = _bad_inputs(X)[kind]
    with pytest.raises(error, match=match):
        getattr(est, method)(bad)


@pytest.mark.parametrize("method", ["predict", "predict_proba"])
def test_wrong_feature_count_at_predict(blobs, method):
    X, y = blobs
    est = fast(max_iter=2).fit(X, y)
    with pytest.raises(ValueError, match="3 features.*expecting 4 features"):
        getattr(est, method)(X[:, :3])


def test_bad_targets(blobs):
    X, y = blobs
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        fast().fit(X, y[:-1])
    with pytest.raises(ValueError, match="Unknown label type"):
        fast().fit(X, np.linspace(0, 1, len(X)))


@pytest.mark.parametrize("method", ["predict", "predict_proba", "score"])
def test_unfitted_raises_not_fitted(blobs, method):
    X, y = blobs
    args = (X, y) if method == "score" else (X,)
    with pytest.raises(NotFittedError):
        getattr(MLPClassifier(), method)(*args)


@pytest.mark.parametrize(
    "params",
    [
        {"solver": "foo"},
        {"max_iter": 0},
        {"max_iter": 2.5},
        {"alpha": -1.0},
        {"alpha": "big"},
        {"learning_rate": 0.0},
        {"batch_size": 0},
        {"tol": -1.0},
        {"n_iter_no_change": 0},
        {"validation_fraction": 1.0},
        {"dtype": "int32"},
        {"dtype": "no-such-dtype"},
        {"activation": "foo"},
        {"output_activation": "foo"},
        {"hidden_layer_sizes": (8, 0)},
    ],
    ids=lambda p: "-".join(f"{k}={v}" for k, v in p.items()),
)
def test_bad_params_raise_value_error_at_fit(blobs, params):
    X, y = blobs
    est = MLPClassifier(**params)  # the constructor only stores them, as scikit-learn asks
    assert est.get_params()[next(iter(params))] == next(iter(params.values()))
    with pytest.raises(ValueError):
        est.fit(X, y)


# ----------------------------------------------------------------------------- copies and files


def test_clone_gives_an_unfitted_copy_with_the_same_params(blobs):
    X, y = blobs
    est = fast(alpha=0.3).fit(X, y)
    copy = clone(est)
    assert copy.get_params() == est.get_params()
    with pytest.raises(NotFittedError):
        copy.predict(X)
    np.testing.assert_array_equal(copy.fit(X, y).predict_proba(X), est.predict_proba(X))


def test_pickle_round_trip(blobs):
    X, codes = blobs
    y = np.array(["a", "b", "c"])[codes]
    est = fast(solver="sgd", learning_rate=0.05).fit(X, y)
    back = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(back.predict(X), est.predict(X))
    np.testing.assert_array_equal(back.predict_proba(X), est.predict_proba(X))
    assert back.n_iter_ == est.n_iter_
    assert back.loss_curve_ == est.loss_curve_
    # the optimizer still drives the unpickled model: training on continues identically
    est.partial_fit(X, y)
    back.partial_fit(X, y)
    np.testing.assert_array_equal(back.predict_proba(X), est.predict_proba(X))


@pytest.mark.parametrize("labels", [np.array([3, 7, 11]), np.array(["cat", "dog", "emu"])])
def test_save_and_load_round_trip(blobs, tmp_path, labels):
    X, codes = blobs
    y = labels[codes]
    est = fast(dtype="float32", early_stopping=True, max_iter=20).fit(X, y)
    path = tmp_path / "model.npz"
    tg.save(est, path)
    back = tg.load(path)
    assert isinstance(back, MLPClassifier)
    np.testing.assert_array_equal(back.predict(X), est.predict(X))
    np.testing.assert_array_equal(back.predict_proba(X), est.predict_proba(X))
    np.testing.assert_array_equal(back.classes_, est.classes_)
    assert back.n_features_in_ == est.n_features_in_
    assert back.n_iter_ == est.n_iter_
    assert back.loss_curve_ == pytest.approx(est.loss_curve_)
    assert back.validation_scores_ == pytest.approx(est.validation_scores_)
    params = back.get_params()
    assert tuple(params.pop("hidden_layer_sizes")) == (16,)
    expected = est.get_params()
    expected.pop("hidden_layer_sizes")
    assert params == expected


@pytest.mark.parametrize("solver", ["sgd", "adam"])
@pytest.mark.parametrize("random_state", ["int", "generator"])
def test_save_load_then_partial_fit_equals_partial_fit_straight_on(
    blobs, tmp_path, solver, random_state
):
    # the optimizer's state (momentum, Adam's moments and step count) and the generator
    # that shuffles the minibatches are saved, so training goes on as if never saved
    X, y = blobs
    seed = 5 if random_state == "int" else np.random.default_rng(5)
    est = fast(solver=solver, batch_size=16, learning_rate=0.05, max_iter=4, random_state=seed)
    est.fit(X, y)
    path = tmp_path / "model.npz"
    tg.save(est, path)
    back = tg.load(path)
    if random_state == "generator":
        assert isinstance(back.random_state, np.random.Generator)
    for _ in range(3):
        est.partial_fit(X, y)
        back.partial_fit(X, y)
    assert back.loss_curve_ == est.loss_curve_
    assert back.n_iter_ == est.n_iter_ == 7
    for name, value in est.model_.state_dict().items():
        np.testing.assert_array_equal(back.model_.state_dict()[name], value, err_msg=name)


@pytest.mark.parametrize(
    "change",
    [
        lambda m: m["params"].update(hidden_layer_sizes=[100000]),
        lambda m: m.update(n_features_in=100000),
        lambda m: m["params"].update(hidden_layer_sizes="16"),
        lambda m: m["params"].update(turbo=True),
        lambda m: m.update(rng={"bit_generator": "os.system"}),
    ],
    ids=["hidden", "features", "hidden-type", "unknown-param", "rng"],
)
def test_hostile_estimator_file_is_refused_before_building(blobs, tmp_path, change):
    X, y = blobs
    path = tmp_path / "model.npz"
    tg.save(fast(max_iter=2).fit(X, y), path)
    arrays, meta = tg.serialize.read_file(path)
    meta = {k: v for k, v in meta.items() if k not in ("format", "version", "library")}
    change(meta)
    tg.serialize.write_file(path, arrays, meta)
    tracemalloc.start()
    try:
        with pytest.raises(tg.serialize.CheckpointError) as info:
            tg.load(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert str(path) in str(info.value) and "\n" not in str(info.value)
    assert peak < 4 << 20, f"{peak / 2**20:.1f} MiB allocated before refusing"


def test_save_with_numpy_scalar_params(blobs, tmp_path):
    # grids built with numpy hand numpy scalars to set_params; the JSON metadata takes them
    X, y = blobs
    est = fast(learning_rate=np.float32(0.01), max_iter=np.int64(10), random_state=np.int64(4)).fit(
        X, y
    )
    path = tmp_path / "model.npz"
    tg.save(est, path)
    back = tg.load(path)
    assert back.random_state == 4
    assert back.max_iter == 10
    np.testing.assert_array_equal(back.predict_proba(X), est.predict_proba(X))


def test_save_unfitted_raises(tmp_path):
    with pytest.raises(NotFittedError):
        tg.save(MLPClassifier(), tmp_path / "model.npz")


# ----------------------------------------------------------------------------- model selection


def test_grid_search_in_parallel(blobs):
    X, y = blobs
    grid = {"alpha": [1e-4, 1.0, 100.0]}
    parallel = GridSearchCV(fast(), grid, cv=3, n_jobs=2).fit(X, y)
    with threadpool_limits(1):  # as in the worker processes
        serial = GridSearchCV(fast(), grid, cv=3, n_jobs=1).fit(X, y)
    np.testing.assert_array_equal(
        parallel.cv_results_["mean_test_score"], serial.cv_results_["mean_test_score"]
    )
    assert parallel.best_params_ == serial.best_params_
    assert parallel.best_params_["alpha"] in grid["alpha"]
    assert parallel.best_score_ > 0.9
    assert parallel.score(X, y) > 0.9


def test_pipeline(blobs):
    X, y = blobs
    pipe = Pipeline([("scale", StandardScaler()), ("mlp", fast())]).fit(X, y)
    assert pipe.score(X, y) > 0.95


def _tutorial_estimator():
    """The estimator set up exactly as TrainSpec(epochs=EPOCHS) trains the tutorial's net."""
    return MLPClassifier(
        hidden_layer_sizes=(48, 32),
        activation="sigmoid",
        output_activation="sigmoid",
        solver="sgd",
        learning_rate=0.2,
        momentum=0.9,
        batch_size=None,
        dtype="float32",
        tol=None,
        random_state=SEED,
        max_iter=EPOCHS,
    )


@pytest.fixture(scope="module")
def tutorial():
    """The tutorial's splits, train+valid stacked, and the PredefinedSplit between them."""
    d = load_digits_splits()
    X = np.concatenate([d.X_train, d.X_valid])
    y = np.concatenate([d.y_train, d.y_valid])
    test_fold = np.concatenate([np.full(len(d.y_train), -1), np.zeros(len(d.y_valid), int)])
    return {
        "data": (d.X_train, d.y_train, d.X_valid, d.y_valid),
        "X": X,
        "y": y,
        "cv": PredefinedSplit(test_fold),
    }


@pytest.fixture(scope="module")
def reference(tutorial):
    """search_lambda with one job: the numbers every other route must reproduce.

    BLAS runs single-threaded here, as it does in joblib's and Dask's worker processes: a
    float32 matrix product split over several threads may differ in the last bit.
    """
    with threadpool_limits(1):
        return search_lambda(LAMBDAS, TrainSpec(epochs=EPOCHS), tutorial["data"], seeds=(SEED,))


def _grid(tutorial):
    return GridSearchCV(
        _tutorial_estimator(),
        {"alpha": LAMBDAS},
        cv=tutorial["cv"],
        n_jobs=-1,
        refit=False,
    )


@pytest.fixture(scope="module")
def local_grid(tutorial):
    return _grid(tutorial).fit(tutorial["X"], tutorial["y"])


def test_grid_search_matches_search_lambda(reference, local_grid):
    accuracies = [r["valid_accuracy"] for r in reference]
    # a tie at the top would be broken differently (best_of: lower loss; GridSearchCV:
    # first in the grid), so the comparison below needs a unique best
    assert accuracies.count(max(accuracies)) == 1
    assert [r["lam"] for r in reference] == LAMBDAS
    np.testing.assert_allclose(
        local_grid.cv_results_["mean_test_score"], accuracies, rtol=0, atol=1e-12
    )
    assert local_grid.best_params_["alpha"] == best_of(reference)["lam"]
    assert local_grid.best_score_ == pytest.approx(best_of(reference)["valid_accuracy"], abs=1e-12)


def test_estimator_weights_match_train_spec(tutorial, reference):
    """Not only the accuracies: the fitted weights equal those of TrainSpec.build + fit."""
    X_train, y_train, _, _ = tutorial["data"]
    result = reference[1]
    with threadpool_limits(1):
        est = _tutorial_estimator().set_params(alpha=result["lam"]).fit(X_train, y_train)
    state = est.model_.state_dict()
    assert state.keys() == result["state"].keys()
    for key, value in result["state"].items():
        np.testing.assert_array_equal(state[key], value, err_msg=key)
    assert est.loss_curve_ == result["history"].train_loss


# ----------------------------------------------------------------------------- Dask


@pytest.fixture(scope="module")
def dask_client():
    """A real two-process cluster on the loopback interface, closed whatever happens."""
    cluster = LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        host="127.0.0.1",
    )
    try:
        client = Client(cluster)
        try:
            yield client
        finally:
            client.close()
    finally:
        cluster.close()


def test_grid_search_on_dask_matches_local(dask_client, tutorial, local_grid):
    with get_task_stream(dask_client) as stream, joblib.parallel_backend("dask"):
        on_dask = _grid(tutorial).fit(tutorial["X"], tutorial["y"])
    assert len(stream.data) >= len(LAMBDAS)  # the fits really ran on the cluster
    np.testing.assert_array_equal(
        on_dask.cv_results_["mean_test_score"], local_grid.cv_results_["mean_test_score"]
    )
    assert on_dask.best_params_ == local_grid.best_params_


def test_search_lambda_on_dask_matches_one_job(dask_client, tutorial, reference):
    with get_task_stream(dask_client) as stream, joblib.parallel_backend("dask"):
        on_dask = search_lambda(LAMBDAS, TrainSpec(epochs=EPOCHS), tutorial["data"], (SEED,), -1)
    assert len(stream.data) >= len(LAMBDAS)
    assert [r["lam"] for r in on_dask] == [r["lam"] for r in reference]
    for got, want in zip(on_dask, reference):
        assert got["valid_accuracy"] == want["valid_accuracy"]
        assert got["valid_loss"] == want["valid_loss"]
        for key, value in want["state"].items():
            np.testing.assert_array_equal(got["state"][key], value, err_msg=key)
    assert best_of(on_dask)["lam"] == best_of(reference)["lam"]

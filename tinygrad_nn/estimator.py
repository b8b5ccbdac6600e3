"""A scikit-learn classifier on the engine: drop-in where ``MLPClassifier`` is used.

It validates input with scikit-learn's own validators, accepts any label type, and works
with ``clone``, pickling, pipelines and ``GridSearchCV`` (whose ``n_jobs`` runs through
joblib, so the same search scales out on a Dask cluster with joblib's ``"dask"`` backend).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ._optional import require

require("sklearn", "sklearn", "MLPClassifier")
from sklearn.base import BaseEstimator, ClassifierMixin  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.utils.multiclass import check_classification_targets  # noqa: E402
from sklearn.utils.validation import check_is_fitted, validate_data  # noqa: E402

from .autograd import no_grad  # noqa: E402
from .checkpoint import (  # noqa: E402
    generator_from_state,
    generator_state,
    model_arrays,
    restore_training_state,
    training_state,
)
from .nn import MLP  # noqa: E402
from .optim import SGD, Adam, Optimizer  # noqa: E402
from .serialize import shape_mismatch  # noqa: E402
from .tensor import Tensor  # noqa: E402
from .train import predict, train_epoch, training_step  # noqa: E402

__all__ = ["MLPClassifier"]

_FLOATS = (np.float64, np.float32)


def _is_real(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


class MLPClassifier(ClassifierMixin, BaseEstimator):
    """Multi-layer perceptron classifier trained with the tinygrad_nn engine.

    Parameters
    ----------
    hidden_layer_sizes : widths of the hidden layers, default (48, 32) as in the tutorial.
    activation : "sigmoid", "relu" or "tanh" between layers.
    output_activation : None for linear logits, or "sigmoid" (the tutorial's choice).
    alpha : L2 strength, the tutorial's lambda: loss += alpha / (2 n) * sum ||W||^2.
    solver : "adam" or "sgd" (momentum in the tutorial's form).
    learning_rate : step size (Adam's lr or SGD's alpha).
    momentum : SGD momentum.
    batch_size : examples per step; None trains on the full batch.
    max_iter : maximum number of epochs.
    tol, n_iter_no_change : stop when the training loss (or, with early stopping, the
        validation accuracy) has not improved by ``tol`` for ``n_iter_no_change`` epochs;
        ``tol=None`` always runs ``max_iter`` epochs.
    early_stopping : hold out ``validation_fraction`` of the data, record
        ``validation_scores_`` and keep the weights of the best epoch.
    random_state : seed for initialisation, shuffling and the validation split.
    dtype : "float64" or "float32" for the parameters and computation.
    verbose : print the loss after every epoch.

    Attributes
    ----------
    classes_, n_features_in_, n_iter_, loss_curve_ (training cross-entropy per epoch),
    validation_scores_ (None without early stopping), best_validation_score_, model_
    (the underlying :class:`tinygrad_nn.nn.MLP`).
    """

    def __init__(
        self,
        hidden_layer_sizes: Any = (48, 32),
        activation: str = "sigmoid",
        output_activation: str | None = None,
        alpha: float = 1e-4,
        solver: str = "adam",
        learning_rate: float = 1e-2,
        momentum: float = 0.9,
        batch_size: int | None = None,
        max_iter: int = 200,
        tol: float | None = 1e-4,
        n_iter_no_change: int = 10,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        random_state: Any = None,
        dtype: str = "float64",
        verbose: bool = False,
    ) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.output_activation = output_activation
        self.alpha = alpha
        self.solver = solver
        self.learning_rate = learning_rate
        self.momentum = momentum
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.random_state = random_state
        self.dtype = dtype
        self.verbose = verbose

    # ------------------------------------------------------------------ checks
    def _check_params(self) -> None:
        if self.solver not in ("adam", "sgd"):
            raise ValueError(f"solver must be 'adam' or 'sgd', got {self.solver!r}")
        if not (isinstance(self.max_iter, (int, np.integer)) and self.max_iter >= 1):
            raise ValueError(f"max_iter must be a positive integer, got {self.max_iter!r}")
        if not (_is_real(self.alpha) and np.isfinite(self.alpha) and self.alpha >= 0):
            raise ValueError(f"alpha must be >= 0, got {self.alpha!r}")
        if not (
            _is_real(self.learning_rate)
            and np.isfinite(self.learning_rate)
            and self.learning_rate > 0
        ):
            raise ValueError(f"learning_rate must be positive, got {self.learning_rate!r}")
        if self.tol is not None and not (_is_real(self.tol) and self.tol >= 0):
            raise ValueError(f"tol must be None or >= 0, got {self.tol!r}")
        if not (
            isinstance(self.n_iter_no_change, (int, np.integer)) and self.n_iter_no_change >= 1
        ):
            raise ValueError(f"n_iter_no_change must be >= 1, got {self.n_iter_no_change!r}")
        if self.batch_size is not None and not (
            isinstance(self.batch_size, (int, np.integer)) and self.batch_size >= 1
        ):
            raise ValueError(f"batch_size must be None or >= 1, got {self.batch_size!r}")
        if not 0 < self.validation_fraction < 1:
            raise ValueError(
                f"validation_fraction must be in (0, 1), got {self.validation_fraction!r}"
            )
        try:
            ok = np.dtype(self.dtype) in (np.dtype(np.float32), np.dtype(np.float64))
        except TypeError:
            ok = False
        if not ok:
            raise ValueError(f"dtype must be 'float32' or 'float64', got {self.dtype!r}")

    def _sizes(self, n_features: int, n_classes: int) -> list[int]:
        hidden = self.hidden_layer_sizes
        hidden = [hidden] if isinstance(hidden, (int, np.integer)) else list(hidden)
        if any(int(h) < 1 for h in hidden):
            raise ValueError(f"hidden_layer_sizes must be positive, got {self.hidden_layer_sizes}")
        return [n_features, *(int(h) for h in hidden), n_classes]

    def _validate_X(self, X: Any, reset: bool) -> np.ndarray:
        X = validate_data(self, X, reset=reset, dtype=_FLOATS)
        return np.asarray(X, dtype=self.dtype)

    # ------------------------------------------------------------------ fitting
    def _initialize(self, n_features: int, classes: np.ndarray) -> None:
        self._rng = np.random.default_rng(self.random_state)
        self.classes_ = classes
        sizes = self._sizes(n_features, len(classes))
        self.model_ = MLP(
            sizes, self.activation, self.output_activation, rng=self._rng, dtype=self.dtype
        )
        params = self.model_.parameters()
        if self.solver == "sgd":
            self._optimizer: Optimizer = SGD(params, self.learning_rate, self.momentum)
        else:
            self._optimizer = Adam(params, self.learning_rate)
        self.n_iter_ = 0
        self.loss_curve_: list[float] = []
        self.validation_scores_: list[float] | None = [] if self.early_stopping else None
        self.best_validation_score_: float | None = None

    def _encode(self, y: np.ndarray) -> np.ndarray:
        codes = np.searchsorted(self.classes_, y)
        codes = np.clip(codes, 0, len(self.classes_) - 1)
        if not np.all(self.classes_[codes] == y):
            unknown = sorted(set(np.asarray(y).tolist()) - set(self.classes_.tolist()))
            raise ValueError(f"y contains labels not seen in classes: {unknown[:5]}")
        return codes

    def fit(self, X: Any, y: Any) -> MLPClassifier:
        """Train from scratch on X (n_samples, n_features) and labels y (n_samples,)."""
        self._check_params()
        X, y = validate_data(self, X, y, dtype=_FLOATS)
        X = np.asarray(X, dtype=self.dtype)
        check_classification_targets(y)
        self._initialize(X.shape[1], np.unique(y))
        self._run(X, self._encode(y), self.max_iter)
        return self

    def partial_fit(self, X: Any, y: Any, classes: Any = None) -> MLPClassifier:
        """One epoch over (X, y); the first call needs ``classes`` (all labels to expect)."""
        first = not hasattr(self, "model_")
        self._check_params()
        X, y = validate_data(self, X, y, dtype=_FLOATS, reset=first)
        X = np.asarray(X, dtype=self.dtype)
        check_classification_targets(y)
        if first:
            if classes is None:
                raise ValueError("partial_fit: classes must be given on the first call")
            self._initialize(X.shape[1], np.unique(np.asarray(classes)))
        elif classes is not None and not np.array_equal(np.unique(classes), self.classes_):
            raise ValueError(
                f"partial_fit: classes {np.unique(classes)} differ from the first call's "
                f"{self.classes_}"
            )
        self._run(X, self._encode(y), 1)
        return self

    def _run(self, X: np.ndarray, y: np.ndarray, epochs: int) -> None:
        valid = None
        if self.early_stopping and self.validation_scores_ is not None:
            n_valid = max(1, int(round(self.validation_fraction * len(X))))
            if len(X) - n_valid < 1:
                raise ValueError("early_stopping needs at least 2 samples")
            order = self._rng.permutation(len(X))
            valid = (X[order[:n_valid]], y[order[:n_valid]])
            X, y = X[order[n_valid:]], y[order[n_valid:]]
        step = training_step(self.model_, self._optimizer, self.alpha, compiled=True)
        best_score, stale, best_state = -np.inf, 0, None
        for _ in range(epochs):
            loss = train_epoch(
                self.model_,
                self._optimizer,
                X,
                y,
                self.batch_size,
                self.alpha,
                self._rng,
                step=step,
            )
            self.n_iter_ += 1
            self.loss_curve_.append(loss)
            if self.verbose:
                print(f"Iteration {self.n_iter_}, loss = {loss:.8f}")
            if not np.isfinite(loss):
                raise FloatingPointError(
                    f"training diverged at epoch {self.n_iter_} (loss {loss}); lower learning_rate"
                )
            if valid is not None:
                score = float(np.mean(np.argmax(predict(self.model_, valid[0]), 1) == valid[1]))
                self.validation_scores_.append(score)
                improved = score > best_score + (self.tol or 0.0)
                if score > best_score:
                    best_score, best_state = score, self.model_.state_dict()
            else:
                improved = -loss > best_score + (self.tol or 0.0)
                best_score = max(best_score, -loss)
            stale = 0 if improved else stale + 1
            if self.tol is not None and stale >= self.n_iter_no_change and epochs > 1:
                break
        else:
            if epochs > 1 and self.tol is not None and valid is None:
                warnings.warn(
                    f"MLPClassifier: max_iter={self.max_iter} reached before the loss converged",
                    ConvergenceWarning,
                    stacklevel=3,
                )
        if best_state is not None:
            self.model_.load_state_dict(best_state)
            self.best_validation_score_ = best_score

    # ------------------------------------------------------------------ predicting
    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities (n_samples, n_classes), columns in the order of ``classes_``."""
        check_is_fitted(self)
        outputs = predict(self.model_, self._validate_X(X, reset=False)).astype(np.float64)
        with no_grad():
            return Tensor(outputs).softmax(axis=1).numpy()

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class label for each row of X."""
        check_is_fitted(self)
        outputs = predict(self.model_, self._validate_X(X, reset=False))
        return self.classes_[np.argmax(outputs, axis=1)]

    # ------------------------------------------------------------------ files
    def _checkpoint_payload(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Arrays and JSON metadata for ``tinygrad_nn.save``: the weights, the classes, the
        optimizer's state and the random generator's state, so that training goes on after
        ``load`` exactly as it would have without saving."""
        check_is_fitted(self)
        arrays, saved = training_state(self.model_, self._optimizer)
        classes = np.asarray(self.classes_)
        if classes.dtype == object:
            classes = classes.astype(str)
        arrays["classes_"] = classes
        # numpy scalars (a grid from np.arange, say) become Python numbers for the JSON
        params = {
            k: v.item() if isinstance(v, np.generic) else v for k, v in self.get_params().items()
        }
        params["hidden_layer_sizes"] = self._sizes(1, 1)[1:-1]
        params["dtype"] = str(np.dtype(self.dtype))
        shared = isinstance(self.random_state, np.random.Generator)
        if not isinstance(params["random_state"], (int, type(None))):
            params["random_state"] = None  # a Generator: its state is saved under "rng"
        meta = {
            "kind": "estimator",
            "params": params,
            "n_features_in": int(self.n_features_in_),
            "n_iter": int(self.n_iter_),
            "loss_curve": [float(v) for v in self.loss_curve_],
            "validation_scores": self.validation_scores_,
            "best_validation_score": self.best_validation_score_,
            "optimizer": saved["optimizer"],
            "rng": generator_state(self._rng),
            "random_state_is_generator": shared,
        }
        return arrays, meta

    @classmethod
    def _from_checkpoint(cls, arrays: dict, meta: dict) -> MLPClassifier:
        """Rebuild a fitted estimator saved by ``tinygrad_nn.save`` (``load`` calls it).

        The layer sizes the metadata gives are checked against the saved arrays before the
        network is built; the optimizer and random generator continue where they were."""
        params = meta["params"]
        if not isinstance(params, dict):
            raise ValueError("its estimator settings are not a mapping")
        unknown = sorted(set(params) - set(cls._get_param_names()))
        if unknown:
            raise ValueError(f"its estimator settings name unknown parameters {unknown[:5]}")
        est = cls(**params)
        est._check_params()
        classes = arrays.get("classes_")
        if classes is None or classes.ndim != 1 or len(classes) < 1:
            raise ValueError("it holds no 1-D array of classes")
        hidden = params.get("hidden_layer_sizes")
        if not isinstance(hidden, list):
            raise ValueError(f"hidden_layer_sizes should be a list, got {hidden!r:.40}")
        n_features = meta["n_features_in"]
        expected = MLP.state_shapes({"sizes": [n_features, *hidden, len(classes)]})
        reason = shape_mismatch(expected, model_arrays(arrays))
        if reason:
            raise ValueError(reason)
        est.n_features_in_ = n_features
        est._initialize(n_features, classes)
        if "optimizer" not in meta:  # older files kept no optimizer or generator state
            est.model_.load_state_dict(model_arrays(arrays))
        else:
            restore_training_state(arrays, meta, est.model_, est._optimizer)
            est._rng = generator_from_state(meta["rng"])
            if meta.get("random_state_is_generator"):
                est.random_state = est._rng
        est.n_iter_ = meta["n_iter"]
        est.loss_curve_ = list(meta["loss_curve"])
        est.validation_scores_ = meta["validation_scores"]
        est.best_validation_score_ = meta["best_validation_score"]
        return est

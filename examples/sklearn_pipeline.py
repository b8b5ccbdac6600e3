"""tinygrad_nn's MLPClassifier inside a scikit-learn pipeline, next to scikit-learn's own.

Both classifiers sit in the same Pipeline (MinMaxScaler -> MLP) and the same GridSearchCV
over alpha (the tutorial's lambda; both libraries add alpha / (2 n) * sum ||W||^2 to the
loss). The search trains on the tutorial's training split and scores on its validation
split (a PredefinedSplit); the best alpha is then refitted on train + valid and scored on
the test split.

Run: python examples/sklearn_pipeline.py        (about a minute)
"""

import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, PredefinedSplit
from sklearn.neural_network import MLPClassifier as SklearnMLP
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler

from tinygrad_nn import MLPClassifier
from tinygrad_nn.data import load_digits_splits

EPOCHS = 100
ALPHAS = [1e-4, 1e-2, 1e-1, 1.0, 10.0]

d = load_digits_splits()
X = np.concatenate([d.X_train, d.X_valid])
y = np.concatenate([d.y_train, d.y_valid])
# -1: always in the training part; 0: the one validation fold
split = PredefinedSplit(np.r_[np.full(len(d.y_train), -1), np.zeros(len(d.y_valid), int)])

shared = {"hidden_layer_sizes": (128, 64), "activation": "relu", "batch_size": 32}
models = {
    "tinygrad_nn": MLPClassifier(
        **shared,
        output_activation=None,  # linear logits
        solver="adam",
        learning_rate=1e-3,
        max_iter=EPOCHS,
        tol=None,  # always run every epoch
        random_state=0,
    ),
    "scikit-learn": SklearnMLP(
        **shared, solver="adam", learning_rate_init=1e-3, max_iter=EPOCHS, random_state=0
    ),
}

rows = []
for name, mlp in models.items():
    pipe = Pipeline([("scale", MinMaxScaler()), ("mlp", mlp)])
    search = GridSearchCV(pipe, {"mlp__alpha": ALPHAS}, cv=split, n_jobs=-1)
    began = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # stopping at max_iter is intended
        search.fit(X, y)
    seconds = time.perf_counter() - began
    rows.append(
        (
            name,
            search.best_params_["mlp__alpha"],
            search.best_score_,
            search.score(d.X_test, d.y_test),
            search.refit_time_,
            seconds,
        )
    )

print(f"digits: {len(d.y_train)} train / {len(d.y_valid)} valid / {len(d.y_test)} test")
print(f"MinMaxScaler -> MLP (128, 64) relu, adam lr 1e-3, batch 32, {EPOCHS} epochs")
print(f"alpha grid: {ALPHAS}\n")
header = ("model", "best alpha", "valid acc", "test acc", "refit s", "search s")
print("{:<14}{:>12}{:>11}{:>10}{:>9}{:>10}".format(*header))
for name, alpha, valid, test, refit, total in rows:
    print(f"{name:<14}{alpha:>12g}{valid:>11.4f}{test:>10.4f}{refit:>9.1f}{total:>10.1f}")

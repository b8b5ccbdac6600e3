"""The lambda search moved to :mod:`tinygrad_nn.digits.search`; these names still work here."""

from .digits.search import TrainSpec, best_of, search_lambda, train_spec

__all__ = ["TrainSpec", "best_of", "search_lambda", "train_spec"]

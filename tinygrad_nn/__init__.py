"""tinygrad_nn: a small, fast, solid autodiff framework on numpy.

Every operation is an object with ``forward`` and ``backward`` (:class:`Function`); a
:class:`Tensor` remembers the op that made it and ``loss.backward()`` walks the graph back.
"""

from . import data, nn, optim, search, serialize, train, viz
from .autograd import AnomalyError, Function, detect_anomaly, enable_grad, is_grad_enabled, no_grad
from .compile import compile
from .estimator import MLPClassifier
from .gradcheck import gradcheck
from .serialize import load, load_state, save
from .tensor import Tensor, get_default_dtype, set_default_dtype, softmax_cross_entropy
from .version import __version__

__all__ = [
    "AnomalyError",
    "Function",
    "MLPClassifier",
    "Tensor",
    "__version__",
    "compile",
    "data",
    "detect_anomaly",
    "enable_grad",
    "get_default_dtype",
    "gradcheck",
    "is_grad_enabled",
    "load",
    "load_state",
    "nn",
    "no_grad",
    "optim",
    "save",
    "search",
    "serialize",
    "set_default_dtype",
    "softmax_cross_entropy",
    "train",
    "viz",
]

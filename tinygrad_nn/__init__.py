"""tinygrad_nn: a small, fast, solid autodiff framework on numpy.

Every operation is an object with ``forward`` and ``backward`` (:class:`Function`); a
:class:`Tensor` remembers the op that made it and ``loss.backward()`` walks the graph back.
The core needs numpy alone. ``viz`` (graphviz), ``MLPClassifier`` (scikit-learn) and
``digits`` (the tutorial's application) are imported when first used.
"""

from typing import Any

from . import data, functional, losses, nn, optim, serialize, train
from .anomaly import AnomalyError, detect_anomaly
from .autograd import Function, enable_grad, is_grad_enabled, no_grad
from .compile import compile
from .gradcheck import gradcheck
from .higher_order import grad
from .serialize import load, load_state, save
from .tensor import (
    Tensor,
    composite,
    get_default_dtype,
    set_default_dtype,
    softmax_cross_entropy,
)
from .version import __version__

__all__ = [
    "AnomalyError",
    "Function",
    "MLPClassifier",
    "Tensor",
    "__version__",
    "compile",
    "composite",
    "data",
    "detect_anomaly",
    "digits",
    "enable_grad",
    "functional",
    "get_default_dtype",
    "grad",
    "gradcheck",
    "is_grad_enabled",
    "load",
    "load_state",
    "losses",
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

# imported on first use: each needs an extra (graphviz, scikit-learn, the digits stack)
_LAZY = {
    "viz": ("tinygrad_nn.viz", None),
    "MLPClassifier": ("tinygrad_nn.estimator", "MLPClassifier"),
    "digits": ("tinygrad_nn.digits", None),
    "search": ("tinygrad_nn.search", None),
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'tinygrad_nn' has no attribute {name!r}")
    import importlib

    module_name, attr = _LAZY[name]
    module = importlib.import_module(module_name)
    value = module if attr is None else getattr(module, attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)

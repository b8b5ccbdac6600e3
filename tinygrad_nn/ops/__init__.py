"""Every primitive operation, forward and backward side by side: the gradient table.

One module per family of ops; each op is one :class:`~tinygrad_nn.autograd.Function`
subclass whose ``forward`` takes numpy arrays and saves on ``self`` what ``backward`` needs,
and whose ``backward`` gets d(loss)/d(output) and returns one gradient per positional input.
The engine (``autograd.py``) undoes broadcasting, so gradients may have the broadcast shape.
Each op's docstring states its local derivative in one ``Rule:`` line (``dx = dy * y (1 - y)``),
which ``viz.explain_backward`` shows at each step.
"""

from .elementwise import Add, Div, Exp, Log, Mul, Neg, Pow, Sub
from .loss import L2Penalty, SoftmaxCrossEntropy
from .matmul import Linear, MatMul
from .nonlinear import LogSoftmax, Relu, Sigmoid, Softmax, Tanh
from .reduce import Max, Mean, Sum
from .shape import GetItem, Reshape, Transpose

__all__ = [
    "Add",
    "Div",
    "Exp",
    "GetItem",
    "L2Penalty",
    "Linear",
    "Log",
    "LogSoftmax",
    "MatMul",
    "Max",
    "Mean",
    "Mul",
    "Neg",
    "Pow",
    "Relu",
    "Reshape",
    "Sigmoid",
    "Softmax",
    "SoftmaxCrossEntropy",
    "Sub",
    "Sum",
    "Tanh",
    "Transpose",
]

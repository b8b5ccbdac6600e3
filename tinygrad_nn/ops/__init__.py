"""Every primitive operation, forward and backward side by side: the gradient table.

One module per family of ops; each op is one :class:`~tinygrad_nn.autograd.Function`
subclass whose ``forward`` takes numpy arrays and saves on ``self`` what ``backward`` needs,
and whose ``backward`` gets d(loss)/d(output) and returns one gradient per positional input.
The engine (``autograd.py``) undoes broadcasting, so gradients may have the broadcast shape.
"""

from .conv import AvgPool2d, Conv2d, MaxPool2d
from .elementwise import Add, Div, Exp, Log, Mul, Neg, Pow, Sub
from .loss import L2Penalty, SoftmaxCrossEntropy
from .matmul import Linear, MatMul
from .nonlinear import LogSoftmax, Relu, Sigmoid, Softmax, Tanh
from .norm import BatchNorm, Dropout, LayerNorm
from .reduce import Max, Mean, Sum
from .shape import GetItem, Reshape, Transpose

__all__ = [
    "Add",
    "AvgPool2d",
    "BatchNorm",
    "Conv2d",
    "Div",
    "Dropout",
    "Exp",
    "GetItem",
    "L2Penalty",
    "LayerNorm",
    "Linear",
    "Log",
    "LogSoftmax",
    "MatMul",
    "Max",
    "MaxPool2d",
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

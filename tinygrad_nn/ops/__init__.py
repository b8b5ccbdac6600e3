"""Every primitive operation, forward and backward side by side: the gradient table.

One module per family of ops; each op is one :class:`~tinygrad_nn.autograd.Function`
subclass whose ``forward`` takes numpy arrays and saves on ``self`` what ``backward`` needs,
and whose ``backward`` gets d(loss)/d(output) and returns one gradient per positional input.
The engine (``autograd.py``) undoes broadcasting, so gradients may have the broadcast shape.
Each op's docstring states its local derivative in one ``Rule:`` line (``dx = dy * y (1 - y)``),
which ``viz.explain_backward`` shows at each step.
"""

from .conv import AvgPool2d, Conv2d, MaxPool2d
from .elementwise import Add, Div, Exp, Log, Mul, Neg, Pow, Sub
from .join import Concatenate, Pad, Split, Stack
from .loss import CrossEntropy, L2Penalty, SoftmaxCrossEntropy
from .matmul import Linear, MatMul
from .nograd import (
    Argmax,
    Argmin,
    Equal,
    Greater,
    GreaterEqual,
    Less,
    LessEqual,
    NotEqual,
    Sign,
)
from .nonlinear import (
    Elu,
    Gelu,
    LeakyRelu,
    LogSoftmax,
    Relu,
    Sigmoid,
    Silu,
    Softmax,
    Softplus,
    Tanh,
)
from .norm import BatchNorm, Dropout, LayerNorm
from .pointwise import Abs, Cos, Erf, Expm1, Log1p, NumberPow, Power, Sin, Sqrt
from .reduce import LogSumExp, Max, Mean, Min, Prod, Std, Sum, Var
from .select import Clip, Maximum, Minimum, Where
from .shape import Expand, Flatten, Flip, GetItem, Permute, Reshape, Squeeze, Transpose, Unsqueeze

__all__ = [
    "Abs",
    "Add",
    "Argmax",
    "Argmin",
    "AvgPool2d",
    "BatchNorm",
    "Clip",
    "Concatenate",
    "Conv2d",
    "Cos",
    "CrossEntropy",
    "Div",
    "Dropout",
    "Elu",
    "Equal",
    "Erf",
    "Exp",
    "Expand",
    "Expm1",
    "Flatten",
    "Flip",
    "Gelu",
    "GetItem",
    "Greater",
    "GreaterEqual",
    "L2Penalty",
    "LayerNorm",
    "LeakyRelu",
    "Less",
    "LessEqual",
    "Linear",
    "Log",
    "Log1p",
    "LogSoftmax",
    "LogSumExp",
    "MatMul",
    "Max",
    "MaxPool2d",
    "Maximum",
    "Mean",
    "Min",
    "Minimum",
    "Mul",
    "Neg",
    "NotEqual",
    "NumberPow",
    "Pad",
    "Permute",
    "Pow",
    "Power",
    "Prod",
    "Relu",
    "Reshape",
    "Sigmoid",
    "Sign",
    "Silu",
    "Sin",
    "Softmax",
    "SoftmaxCrossEntropy",
    "Softplus",
    "Split",
    "Sqrt",
    "Squeeze",
    "Stack",
    "Std",
    "Sub",
    "Sum",
    "Tanh",
    "Transpose",
    "Unsqueeze",
    "Var",
    "Where",
]

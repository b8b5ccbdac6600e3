"""Computation graphs as pictures: ``draw`` gives a ``graphviz.Digraph``, ``save_svg`` an SVG.

Legend (fill colours):

- gold boxes: parameters (leaves with ``requires_grad``), named by module path (``fc1.weight``)
- light blue boxes: inputs (other leaves); grey boxes: constants (unnamed one-element leaves)
- white boxes: intermediate tensors; red box: the tensor ``draw`` started from (the loss)
- grey ellipses: operations (``matmul``, ``sigmoid``, ...); a red ellipse: the op an
  anomaly was raised in; a bold-rimmed ellipse: a composite (``@composite``, such as a loss
  written with other ops), drawn as one op named as written (its primitives in a small
  dotted frame with ``expand_composites=True``)
- dashed frames: the module an op ran in (``fc1: Linear(64→48)``); with ``collapse`` a
  module is one double-bordered box with its input and output shapes
- in the frames of :func:`explain_backward`: the red op is the one whose backward runs,
  green ops have run, green tensors have their gradient known (a thick border: just sent)

Deep graphs (a network's layers) are drawn top to bottom, short ones left to right
(``rankdir="auto"``), so that they fit a page.

Gradient health (``health=True``, after ``backward``): a tensor's border is blue when its
gradient is *vanishing* (rms(grad) / rms(data) < 1e-4), red when *exploding* (> 10), green
otherwise; all-zero tensors (fresh biases) are judged by rms(grad) alone and one-element
tensors not at all. Sigmoid and tanh outputs are
filled orange and marked *saturated* when more than 25% of their units have a derivative
below 0.01 (sigmoid: y (1 - y) < 0.01; tanh: 1 - y^2 < 0.01): such units pass almost no
gradient back. The thresholds are the fields of :class:`HealthThresholds`.
"""

from .drawing import (
    FILL,
    HEALTH_BORDER,
    Frame,
    GraphvizNotFoundError,
    draw,
    render_svg,
    save_svg,
)
from .explain import Explanation, explain_backward
from .health import HealthThresholds, gradient_health, retain_all_grads, saturation

__all__ = [
    "FILL",
    "HEALTH_BORDER",
    "Explanation",
    "Frame",
    "GraphvizNotFoundError",
    "HealthThresholds",
    "draw",
    "explain_backward",
    "gradient_health",
    "render_svg",
    "retain_all_grads",
    "saturation",
    "save_svg",
]

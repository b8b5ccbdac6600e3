"""Draw the README's explain_backward picture and print its table.

Run: python docs/draw_explain.py   (writes docs/explain_step.svg; needs Graphviz's dot)
"""

from pathlib import Path

import numpy as np

from tinygrad_nn import Tensor, softmax_cross_entropy, viz
from tinygrad_nn.nn import MLP, l2_penalty

here = Path(__file__).parent
model = MLP([3, 2, 2], "sigmoid", rng=0)
x = Tensor(np.random.default_rng(1).normal(size=(4, 3)).astype(np.float32), name="x")
loss = softmax_cross_entropy(model(x), [0, 1, 1, 0]) + l2_penalty([model.fc2.weight], 0.5, 4)
explanation = viz.explain_backward(loss)
print(explanation)
viz.render_svg(explanation.draw(4), here / "explain_step.svg")
print("wrote", here / "explain_step.svg")

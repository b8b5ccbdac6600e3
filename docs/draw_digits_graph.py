"""Draw the README's pictures: one training step of the tutorial's digits network.

Run: python docs/draw_digits_graph.py   (writes docs/digits_graph.svg and
docs/digits_graph_full.svg; needs Graphviz's dot)
"""

from pathlib import Path

from tinygrad_nn import Tensor, softmax_cross_entropy, viz
from tinygrad_nn.data import load_digits_splits
from tinygrad_nn.nn import MLP, l2_penalty

here = Path(__file__).parent
data = load_digits_splits()  # raw pixels 0..16, as in the tutorial
model = MLP([64, 48, 32, 10], "sigmoid", output_activation="sigmoid", rng=0)
x, y = Tensor(data.X_train[:32], name="x"), data.y_train[:32]
weights = [layer.weight for layer in model.layers]
loss = softmax_cross_entropy(model(x), y) + l2_penalty(weights, 0.6, len(y))
viz.retain_all_grads(loss)
loss.backward()
viz.save_svg(loss, here / "digits_graph.svg", collapse=True)
viz.save_svg(loss, here / "digits_graph_full.svg")
print("wrote", here / "digits_graph.svg", "and", here / "digits_graph_full.svg")

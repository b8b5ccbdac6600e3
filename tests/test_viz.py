"""viz: DOT text of drawn graphs, clusters, collapse, determinism, escaping, gradient
health, SVG output with and without Graphviz, anomaly drawings, and ``tinygrad-nn graph``."""

from __future__ import annotations

import contextlib
import html
import os
import re
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

import graphviz
import numpy as np
import pytest

import tinygrad_nn as tg
from tinygrad_nn import Tensor, viz
from tinygrad_nn.autograd import toposort
from tinygrad_nn.digits.cli import main
from tinygrad_nn.nn import MLP, Module
from tinygrad_nn.viz import FILL, HEALTH_BORDER, HealthThresholds

needs_dot = pytest.mark.skipif(
    shutil.which("dot") is None and not os.environ.get("CI"),
    reason="Graphviz 'dot' not installed",
)

SVG_NS = "{http://www.w3.org/2000/svg}"
EVIL = '<script>alert(1)</script>"x'


# ----------------------------------------------------------------------------- a DOT reader


@dataclass
class Node:
    id: str
    lines: list[str]
    attrs: dict[str, str]
    clusters: tuple[str, ...]  # labels of the enclosing clusters, outermost first

    @property
    def title(self) -> str:
        return self.lines[0]

    @property
    def is_op(self) -> bool:
        return self.attrs.get("shape") == "ellipse"

    @property
    def is_module_box(self) -> bool:
        return self.attrs.get("peripheries") == "2"

    @property
    def is_tensor(self) -> bool:
        return self.attrs.get("shape") == "box" and not self.is_module_box


@dataclass
class Graph:
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: list[tuple[str, str]] = field(default_factory=list)
    clusters: dict[str, tuple[str, str | None]] = field(default_factory=dict)  # name: label, parent

    def ops(self) -> list[Node]:
        return [n for n in self.nodes.values() if n.is_op]

    def tensors(self) -> list[Node]:
        return [n for n in self.nodes.values() if n.is_tensor]

    def boxes(self) -> list[Node]:
        return [n for n in self.nodes.values() if n.is_module_box]

    def one(self, title: str) -> Node:
        """The one tensor node titled ``title``."""
        found = [n for n in self.tensors() if n.title == title]
        assert len(found) == 1, f"expected one tensor titled {title!r}, found {len(found)}"
        return found[0]

    def op(self, title: str) -> Node:
        """The one op node labelled ``title``."""
        found = [n for n in self.ops() if n.title == title]
        assert len(found) == 1, f"expected one op labelled {title!r}, found {len(found)}"
        return found[0]

    def sources(self, node_id: str) -> list[Node]:
        return [self.nodes[a] for a, b in self.edges if b == node_id]

    def targets(self, node_id: str) -> list[Node]:
        return [self.nodes[b] for a, b in self.edges if a == node_id]


_LABEL = r'(<.*>|"(?:[^"\\]|\\.)*"|[^\s\]"]+)'
_ATTRS = r'((?: \w+=(?:"(?:[^"\\]|\\.)*"|[^\s\]"]+))*)'
_NODE_RE = re.compile(r"^\s*(\w+) \[label=" + _LABEL + _ATTRS + r"\]$")
_EDGE_RE = re.compile(r"^\s*(\w+) -> (\w+)")
_CLUSTER_RE = re.compile(r"^\s*subgraph (cluster_\w+) \{$")
_CLUSTER_LABEL_RE = re.compile(r"label=(<.*>)(?= \w+=|$)")


def label_lines(label: str) -> list[str]:
    """The text lines a label shows: HTML-like labels lose their tags, entities decoded."""
    if label.startswith("<"):
        inner = label[1:-1].replace("<br/>", "\n")
        return [html.unescape(re.sub(r"<[^>]+>", "", line)) for line in inner.split("\n")]
    if label.startswith('"'):
        return [label[1:-1].replace('\\"', '"')]
    return [label]


def parse_dot(source: str) -> Graph:
    g = Graph()
    stack: list[str] = []
    labels: dict[str, str] = {}
    for line in source.splitlines()[1:]:
        if m := _CLUSTER_RE.match(line):
            g.clusters[m.group(1)] = ("", stack[-1] if stack else None)
            stack.append(m.group(1))
        elif line.strip() == "}":
            if stack:
                stack.pop()
        elif m := _NODE_RE.match(line):
            node_id, label, attr_text = m.groups()
            attrs = {k: v.strip('"') for k, v in re.findall(r'(\w+)=("[^"]*"|\S+)', attr_text)}
            chain = tuple(labels.get(name, "") for name in stack)
            g.nodes[node_id] = Node(node_id, label_lines(label), attrs, chain)
        elif m := _EDGE_RE.match(line):
            g.edges.append((m.group(1), m.group(2)))
        elif stack and (m := _CLUSTER_LABEL_RE.search(line)):
            labels[stack[-1]] = label_lines(m.group(1))[0]
            g.clusters[stack[-1]] = (labels[stack[-1]], g.clusters[stack[-1]][1])
    # a cluster's attributes come before its nodes, so every chain has its labels
    for node in g.nodes.values():
        assert "" not in node.clusters, f"unlabelled cluster around {node.id}"
    return g


# ----------------------------------------------------------------------------- fixtures


def digits_mlp(seed: int = 0) -> tuple[MLP, Tensor, Tensor]:
    """The tutorial's network on a batch of 4 random "images"; returns model, x, loss."""
    model = MLP([64, 48, 32, 10], "sigmoid", rng=seed)
    rng = np.random.default_rng(seed + 1)
    x = Tensor(rng.normal(size=(4, 64)).astype(np.float32), name="x")
    loss = tg.softmax_cross_entropy(model(x), [1, 2, 3, 4])
    return model, x, loss


def svg_texts(svg: bytes | ET.Element) -> list[str]:
    """Every <text> element's text in an SVG document (bytes) or parsed root."""
    root = ET.fromstring(svg) if isinstance(svg, bytes) else svg
    return ["".join(el.itertext()) for el in root.iter(f"{SVG_NS}text")]


def assert_valid_svg(data: bytes) -> ET.Element:
    root = ET.fromstring(data)
    assert root.tag == f"{SVG_NS}svg"
    assert b"<script" not in data.lower()
    return root


# ----------------------------------------------------------------------------- nodes and edges


def test_every_tensor_and_op_is_a_node_and_every_use_an_edge():
    _, _, loss = digits_mlp()
    g = parse_dot(viz.draw(loss).source)
    ops = toposort(loss)
    tensors = {id(t) for fn in ops for t in fn.inputs} | {id(loss)}
    # per layer one linear op (x @ W + b); two sigmoids; the loss
    assert len(g.ops()) == len(ops) == 6
    assert len(g.tensors()) == len(tensors) == 13
    assert sorted(n.title for n in g.ops()) == sorted(fn.name for fn in ops)
    assert len(g.edges) == sum(len(fn.inputs) for fn in ops) + len(ops)
    # every edge joins a tensor and an op, never two of a kind
    for a, b in g.edges:
        assert g.nodes[a].is_op != g.nodes[b].is_op


def test_op_labels_are_plain_names():
    _, _, loss = digits_mlp()
    source = viz.draw(loss).source
    g = parse_dot(source)
    assert {n.title for n in g.ops()} == {"linear", "sigmoid", "softmax_cross_entropy"}
    for node in g.ops():
        assert node.lines == [node.title]
    # no memory addresses or object reprs leak into the drawing
    assert not re.search(r"0x[0-9a-fA-F]{4,}", source)
    assert "object at" not in source and "<tinygrad_nn" not in source


def test_edges_follow_the_dataflow():
    _, _, loss = digits_mlp()
    g = parse_dot(viz.draw(loss).source)
    w1 = g.one("fc1.weight")
    (linear,) = g.targets(w1.id)
    assert linear.title == "linear"
    assert sorted(n.title for n in g.sources(linear.id)) == ["fc1.bias", "fc1.weight", "x"]
    (product,) = g.targets(linear.id)
    assert product.title == "linear" and product.lines[1] == "(4, 48) float32"
    sce = g.op("softmax_cross_entropy")
    assert [n.title for n in g.targets(sce.id)] == ["loss"]
    assert [n.lines[1] for n in g.sources(sce.id)] == ["(4, 10) float32"]


def test_a_plus_a_draws_two_edges():
    a = Tensor([1.0, 2.0], requires_grad=True, name="a")
    g = parse_dot(viz.draw(a + a).source)
    (add,) = g.ops()
    a_node = g.one("a")
    assert g.edges.count((a_node.id, add.id)) == 2
    assert len(g.tensors()) == 2


def test_parameter_names_come_from_module_paths():
    model, _, loss = digits_mlp()
    g = parse_dot(viz.draw(loss).source)
    titles = {n.title for n in g.tensors()}
    for name, _ in model.named_parameters():
        assert name in titles
    assert {"fc1.weight", "fc1.bias", "fc2.weight", "fc3.bias", "x", "loss"} <= titles
    for name in ("fc1.weight", "fc2.bias"):
        assert g.one(name).attrs["fillcolor"] == FILL["parameter"]
    assert g.one("x").attrs["fillcolor"] == FILL["input"]
    assert g.one("loss").attrs["fillcolor"] == FILL["loss"]


def test_tensor_labels_show_shape_and_dtype():
    _, _, loss = digits_mlp()
    g = parse_dot(viz.draw(loss).source)
    assert g.one("fc1.weight").lines[1] == "(64, 48) float32"
    assert g.one("fc1.bias").lines[1] == "(48,) float32"
    assert g.one("x").lines[1] == "(4, 64) float32"
    assert g.one("loss").lines[1] == "() float32"
    w = Tensor(np.ones((2, 3)), requires_grad=True, name="w64")
    g64 = parse_dot(viz.draw((w * w).sum()).source)
    assert g64.one("w64").lines[1] == "(2, 3) float64"


def test_grad_line_before_and_after_backward():
    w = Tensor(np.ones(4, dtype=np.float32), requires_grad=True, name="w")
    loss = (w * 3.0).sum()
    before = parse_dot(viz.draw(loss).source)
    assert "grad: not computed" in before.one("w").lines
    loss.backward()
    after = parse_dot(viz.draw(loss).source)
    lines = after.one("w").lines
    assert "grad: not computed" not in lines
    assert "‖grad‖ 6" in lines  # grad is 3 everywhere: norm sqrt(4 * 9) = 6
    # the intermediate w * 3 kept no grad (no retain_grad): said so, not "not computed"
    assert "grad: not retained" in after.one("mul").lines
    # show_grads=False: no grad line at all
    quiet = parse_dot(viz.draw(loss, show_grads=False).source)
    assert not any("grad" in line for line in quiet.one("w").lines)


def test_retained_intermediate_grads_are_shown():
    _, _, loss = digits_mlp()
    viz.retain_all_grads(loss)
    loss.backward()
    g = parse_dot(viz.draw(loss).source)
    for node in g.tensors():
        if node.title != "x":
            assert "grad: not computed" not in node.lines, node.lines
            assert any(line.startswith("‖grad‖ ") for line in node.lines), node.lines
    assert g.one("loss").lines[2] == "‖grad‖ 1"


def test_show_values_summary():
    w = Tensor([1.0, 2.0], requires_grad=True, name="w")
    loss = (w * 2.0).sum()
    plain = parse_dot(viz.draw(loss).source)
    assert not any("mean" in line for n in plain.tensors() for line in n.lines)
    g = parse_dot(viz.draw(loss, show_values=True).source)
    assert "mean 1.5  min 1  max 2" in g.one("w").lines
    assert "value 6" in g.one("loss").lines
    assert "value 2" in g.one("constant").lines
    assert g.one("constant").attrs["fillcolor"] == FILL["constant"]


def test_leaf_alone_and_bad_argument():
    w = Tensor([[1.0, 2.0]], requires_grad=True, name="w")
    g = parse_dot(viz.draw(w).source)
    assert list(g.nodes) == ["t0"] and g.edges == []
    with pytest.raises(TypeError, match="Tensor"):
        viz.draw(np.ones(3))


def test_rankdir_is_passed_through():
    _, _, loss = digits_mlp()
    assert "rankdir=TB" in viz.draw(loss, rankdir="TB").source
    assert "rankdir=LR" in viz.draw(loss, rankdir="LR").source
    with pytest.raises(ValueError, match="rankdir"):
        viz.draw(loss, rankdir="sideways")


def test_rankdir_auto_follows_the_graph_shape():
    # the digits network is a deep chain: top to bottom (left to right it is ~2,000 pt wide)
    _, _, loss = digits_mlp()
    assert "rankdir=TB" in viz.draw(loss).source
    assert "rankdir=TB" in viz.draw(loss, collapse=True).source
    # a short graph fits left to right, however many inputs meet in it
    w = Tensor(np.ones(3), requires_grad=True, name="w")
    assert "rankdir=LR" in viz.draw((w * 2.0).sum()).source
    terms = [Tensor(np.ones(3), name=f"x{i}") * w for i in range(30)]
    assert "rankdir=LR" in viz.draw(tg.nn.l2_penalty(terms, 1.0, 1)).source


def test_choose_rankdir_on_chosen_shapes():
    from tinygrad_nn.viz.layout import choose_rankdir

    chain = {f"n{i}": 100.0 for i in range(20)}
    chain_edges = [(f"n{i}", f"n{i + 1}") for i in range(19)]
    assert choose_rankdir(chain, chain_edges) == "TB"
    assert choose_rankdir(dict(list(chain.items())[:5]), chain_edges[:4]) == "LR"
    # a fan of 30 inputs into one node: left to right stacks them (narrow), top to bottom not
    fan = {"out": 100.0} | {f"x{i}": 100.0 for i in range(30)}
    assert choose_rankdir(fan, [(f"x{i}", "out") for i in range(30)]) == "LR"

    # too wide either way: the narrower one (40 side-by-side chains of 10: 1,324 pt left to
    # right against 4,702 pt top to bottom; 3 chains of 20: 2,684 against 336)
    def chains(n: int, length: int) -> tuple[dict, list]:
        nodes = {f"c{j}_{i}": 100.0 for j in range(n) for i in range(length)}
        edges = [(f"c{j}_{i}", f"c{j}_{i + 1}") for j in range(n) for i in range(length - 1)]
        return nodes, edges

    assert choose_rankdir(*chains(40, 10)) == "LR"
    assert choose_rankdir(*chains(3, 20)) == "TB"


# ----------------------------------------------------------------------------- clusters


def test_modules_are_nested_clusters():
    _, _, loss = digits_mlp()
    source = viz.draw(loss).source
    g = parse_dot(source)
    assert source.count("subgraph cluster_") == 4
    by_label = {label: (name, parent) for name, (label, parent) in g.clusters.items()}
    mlp = "MLP(sizes=[64, 48, 32, 10], activation='sigmoid')"
    assert mlp in by_label and by_label[mlp][1] is None
    mlp_cluster = by_label[mlp][0]
    for label in ("fc1: Linear(64→48)", "fc2: Linear(48→32)", "fc3: Linear(32→10)"):
        assert by_label[label][1] == mlp_cluster, label
    # each layer's ops and parameters sit in its own cluster, inside the MLP's
    w1 = g.one("fc1.weight")
    assert w1.clusters == (mlp, "fc1: Linear(64→48)")
    (matmul,) = g.targets(w1.id)
    assert matmul.clusters == (mlp, "fc1: Linear(64→48)")
    assert g.one("fc3.bias").clusters == (mlp, "fc3: Linear(32→10)")
    # activations belong to the MLP itself; the loss and the input to no module
    assert {n.clusters for n in g.ops() if n.title == "sigmoid"} == {(mlp,)}
    assert g.op("softmax_cross_entropy").clusters == ()
    assert g.one("loss").clusters == () and g.one("x").clusters == ()


def test_group_modules_false_draws_no_clusters():
    _, _, loss = digits_mlp()
    source = viz.draw(loss, group_modules=False).source
    assert "subgraph" not in source and "cluster_" not in source
    g = parse_dot(source)
    assert len(g.ops()) == 6 and len(g.tensors()) == 13


def test_module_labels_are_escaped():
    class Evil(Module):
        def forward(self, x):
            return x.tanh()

        def extra_repr(self):
            return EVIL

    x = Tensor([0.5, -0.5], requires_grad=True, name="x")
    source = viz.draw(Evil()(x)).source
    assert EVIL not in source and "<script" not in source
    g = parse_dot(source)
    ((label, _),) = g.clusters.values()
    assert label == f"Evil({EVIL})"


# ----------------------------------------------------------------------------- collapse


def test_collapse_true_draws_one_box_per_layer():
    _, _, loss = digits_mlp()
    g = parse_dot(viz.draw(loss, collapse=True).source)
    boxes = {n.title: n for n in g.boxes()}
    assert set(boxes) == {"fc1: Linear(64→48)", "fc2: Linear(48→32)", "fc3: Linear(32→10)"}
    fc1 = boxes["fc1: Linear(64→48)"]
    assert "in x (4, 64)" in fc1.lines and "out (4, 48)" in fc1.lines
    assert "1 op, 3120 parameters" in fc1.lines
    assert "in (4, 48)" in boxes["fc2: Linear(48→32)"].lines
    assert "out (4, 32)" in boxes["fc2: Linear(48→32)"].lines
    assert "out (4, 10)" in boxes["fc3: Linear(32→10)"].lines
    # nothing of a layer's inside is drawn: no linear op, no weights, no bias
    assert not [n for n in g.ops() if n.title == "linear"]
    titles = {n.title for n in g.tensors()}
    assert not any(t.endswith((".weight", ".bias")) for t in titles)
    # a layer's result is named after the layer
    assert {"fc1 output", "fc2 output", "fc3 output"} <= titles
    assert [n.title for n in g.ops()].count("sigmoid") == 2
    # data flows x -> fc1 box -> (4, 48) tensor
    assert [n.title for n in g.sources(fc1.id)] == ["x"]
    assert [n.lines[1] for n in g.targets(fc1.id)] == ["(4, 48) float32"]
    # the boxes stay inside the MLP's cluster; the layer clusters are gone
    assert all(len(b.clusters) == 1 and b.clusters[0].startswith("MLP(") for b in g.boxes())
    assert not any(label.startswith("fc") for label, _ in g.clusters.values())


def test_collapse_a_list_collapses_only_those():
    _, _, loss = digits_mlp()
    g = parse_dot(viz.draw(loss, collapse=["fc2"]).source)
    assert [b.title for b in g.boxes()] == ["fc2: Linear(48→32)"]
    assert [n.title for n in g.ops()].count("linear") == 2
    titles = {n.title for n in g.tensors()}
    assert {"fc1.weight", "fc3.weight"} <= titles
    assert "fc2.weight" not in titles and "fc2.bias" not in titles
    cluster_labels = {label for label, _ in g.clusters.values()}
    assert "fc1: Linear(64→48)" in cluster_labels and "fc2: Linear(48→32)" not in cluster_labels
    # any iterable of names works, a tuple too
    assert viz.draw(loss, collapse=("fc2",)).source == viz.draw(loss, collapse=["fc2"]).source


def test_collapse_keeps_weights_used_outside_the_layer():
    model, x, _ = digits_mlp()
    out = model(x)
    loss = tg.softmax_cross_entropy(out, [0, 1, 2, 3]) + (model.fc1.weight**2).sum() * 0.01
    g = parse_dot(viz.draw(loss, collapse=True).source)
    w1 = g.one("fc1.weight")
    targets = {n.title for n in g.targets(w1.id)}
    assert "fc1: Linear(64→48)" in targets and "pow" in targets


# ----------------------------------------------------------------------------- composites


@tg.composite
def mse(pred, target):
    return ((pred - target) ** 2).mean()


@tg.composite(name="smooth_l1")
def smooth(x):
    return (x * x + 1.0).log()


def test_composite_is_one_node_named_as_written():
    pred = Tensor([1.0, 2.0, 4.0], requires_grad=True, name="pred")
    target = Tensor([1.5, 2.0, 3.0], name="target")
    loss = mse(pred, target)
    g = parse_dot(viz.draw(loss).source)
    (node,) = g.ops()
    assert node.title == "mse" and node.lines == ["mse"]
    assert node.attrs["tooltip"] == "mse: sub, pow, mean"
    # its inputs keep their names; nothing made inside it is drawn
    assert sorted(n.title for n in g.sources(node.id)) == ["pred", "target"]
    assert [n.title for n in g.targets(node.id)] == ["loss"]
    assert sorted(n.title for n in g.tensors()) == ["loss", "pred", "target"]
    assert g.clusters == {}


def test_expand_composites_shows_the_primitives_in_a_small_cluster():
    pred = Tensor([1.0, 2.0, 4.0], requires_grad=True, name="pred")
    loss = mse(pred, np.array([1.5, 2.0, 3.0]))
    g = parse_dot(viz.draw(loss, expand_composites=True).source)
    assert sorted(n.title for n in g.ops()) == ["mean", "pow", "sub"]
    assert all(n.clusters == ("mse",) for n in g.ops())
    ((label, parent),) = g.clusters.values()
    assert label == "mse" and parent is None
    assert "dotted" in viz.draw(loss, expand_composites=True).source
    assert g.one("pred").clusters == ()
    # without it the same graph is one op
    assert [n.title for n in parse_dot(viz.draw(loss).source).ops()] == ["mse"]


def test_composite_output_used_further_and_its_constants():
    x = Tensor([0.5, -1.0], requires_grad=True, name="x")
    out = smooth(x) * 3.0
    g = parse_dot(viz.draw(out.sum()).source)
    assert sorted(n.title for n in g.ops()) == ["mul", "smooth_l1", "sum"]
    node = g.op("smooth_l1")
    # the constant 1.0 made inside is hidden; the result is titled after the composite
    assert [n.title for n in g.sources(node.id)] == ["x"]
    assert [n.title for n in g.targets(node.id)] == ["smooth_l1"]
    # two calls are two nodes; number ** tensor is the composite "pow"
    twice = parse_dot(viz.draw((smooth(x) + smooth(x) + 2.0**x).sum()).source)
    assert sorted(n.title for n in twice.ops()) == [
        "add",
        "add",
        "pow",
        "smooth_l1",
        "smooth_l1",
        "sum",
    ]
    assert [n.title for n in twice.sources(twice.op("pow").id)] == ["x"]


def test_nested_composites_draw_the_outermost():
    @tg.composite
    def outer(a, b):
        return mse(a, b) + smooth(a).sum()

    a = Tensor([1.0, 2.0], requires_grad=True, name="a")
    b = Tensor([0.0, 1.0], name="b")
    loss = outer(a, b)
    assert [n.title for n in parse_dot(viz.draw(loss).source).ops()] == ["outer"]
    g = parse_dot(viz.draw(loss, expand_composites=True).source)
    assert {n.clusters for n in g.ops()} == {
        ("outer",),
        ("outer", "mse"),
        ("outer", "smooth_l1"),
    }


def test_composite_inside_a_module_and_collapse():
    class Block(Module):
        def __init__(self):
            self.lin = tg.nn.Linear(3, 2, rng=0)

        def forward(self, x):
            return smooth(self.lin(x))

    model = tg.nn.Sequential(Block())
    x = Tensor(np.ones((4, 3)), name="x")
    loss = model(x).sum()
    g = parse_dot(viz.draw(loss).source)
    node = g.op("smooth_l1")
    assert node.clusters == ("Sequential()", "0: Block()")
    assert [n.title for n in g.sources(node.id)] == ["linear"]
    # collapsing the module hides the composite inside its box
    boxes = parse_dot(viz.draw(loss, collapse=True).source).boxes()
    assert [b.title for b in boxes] == ["0: Block()"]
    assert "4 ops, 8 parameters" in boxes[0].lines  # linear, mul, add, log


def test_composite_parameters_and_highlight():
    @tg.composite
    def affine(x, w):
        return x @ w + 1.0

    w = Tensor(np.ones((3, 2)), requires_grad=True, name="w")
    x = Tensor(np.ones((4, 3)), name="x")
    loss = affine(x, w).sum()
    g = parse_dot(viz.draw(loss).source)
    node = g.op("affine")
    assert sorted(n.title for n in g.sources(node.id)) == ["w", "x"]  # a parameter input stays
    # an op inside a composite lights up the composite's node
    inner = loss.op.inputs[0].op
    lit = parse_dot(viz.draw(loss, highlight=inner).source).op("affine")
    assert lit.attrs["fillcolor"] == FILL["anomaly"]


@needs_dot
def test_digits_graphs_fit_a_page(tmp_path):
    """The report's graphs (both presets' networks, full and collapsed) are at most 1,100 px
    (825 pt) wide, so they fit the report's column at their own size."""
    from tinygrad_nn.digits.cli import training_step_graph
    from tinygrad_nn.digits.data import load_digits_splits

    splits = load_digits_splits()
    nets = [MLP([64, 48, 32, 10], "sigmoid", "sigmoid", rng=0), MLP([64, 384, 192, 10], "relu")]
    for model in nets:
        loss = training_step_graph(model, splits.X_train[:32], splits.y_train[:32], 0.5)
        for collapse in (None, True):
            svg = viz.save_svg(loss, tmp_path / "g.svg", collapse=collapse).read_bytes()
            width = float(assert_valid_svg(svg).get("width").removesuffix("pt"))
            assert width <= 825, (model.sizes, collapse, width)


# ----------------------------------------------------------------------------- determinism

DETERMINISM_SCRIPT = """
import numpy as np
import tinygrad_nn as tg
from tinygrad_nn import viz
from tinygrad_nn.nn import MLP

def build():
    model = MLP([6, 5, 4, 3], "tanh", rng=3)
    x = tg.Tensor(np.random.default_rng(4).normal(size=(5, 6)), name="x")
    loss = tg.softmax_cross_entropy(model(x), [0, 1, 2, 0, 1]) + (model.fc1.weight ** 2).sum()
    viz.retain_all_grads(loss)
    loss.backward()
    return "\\n".join(
        viz.draw(loss, show_values=True, **extra).source
        for extra in ({}, {"collapse": True}, {"collapse": ["fc2"]}, {"group_modules": False})
    )

if __name__ == "__main__":
    print(build(), end="")
"""


def _build_in_process() -> str:
    namespace: dict = {"__name__": "in_process"}
    exec(DETERMINISM_SCRIPT, namespace)
    return namespace["build"]()


def test_identical_graphs_built_separately_give_identical_dot():
    first = _build_in_process()
    # unrelated graphs in between would shift any global counter or reused id()
    junk = [Tensor(np.ones(3), requires_grad=True) * 2 for _ in range(50)]
    _, _, other = digits_mlp()
    viz.draw(other)
    second = _build_in_process()
    assert first == second
    assert viz.draw(junk[0]).source == viz.draw(junk[-1]).source
    # and a different graph does give different text
    assert viz.draw(other).source not in first


def test_identical_graphs_in_two_processes_give_identical_dot():
    def start(seed: str) -> subprocess.Popen:
        env = dict(os.environ, PYTHONHASHSEED=seed)
        return subprocess.Popen(
            [sys.executable, "-c", DETERMINISM_SCRIPT],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )

    procs = [start("1"), start("987654")]
    outputs = []
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        outputs.append(out)
    assert outputs[0] == outputs[1]
    assert outputs[0] == _build_in_process()
    assert outputs[0].count("digraph tinygrad_nn") == 4


# ----------------------------------------------------------------------------- escaping


def test_hostile_tensor_name_is_escaped_in_dot():
    t = Tensor([1.0, 2.0], requires_grad=True, name=EVIL)
    source = viz.draw((t * 2.0).sum(), show_values=True).source
    assert EVIL not in source
    assert "<script" not in source
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&quot;x" in source
    g = parse_dot(source)
    assert g.one(EVIL).attrs["fillcolor"] == FILL["parameter"]


@needs_dot
def test_hostile_tensor_name_renders_as_text_in_svg():
    t = Tensor([1.0, 2.0], requires_grad=True, name=EVIL)
    svg = viz.draw((t * 2.0).sum()).pipe(format="svg")
    assert_valid_svg(svg)
    assert EVIL in svg_texts(svg)  # shown literally, not interpreted


def test_deep_chain_draws_quickly():
    x = Tensor([0.5, -0.25], requires_grad=True, name="x")
    y = x
    for _ in range(10_000):
        y = y.tanh()
    start = time.perf_counter()
    source = viz.draw(y).source
    elapsed = time.perf_counter() - start
    assert elapsed < 10, f"drawing a 10,000-op chain took {elapsed:.1f} s"
    assert len(re.findall(r"^\s*op\d+ \[label=tanh ", source, flags=re.M)) == 10_000
    assert len(re.findall(r"^\s*t\d+ -> op\d+$", source, flags=re.M)) == 10_000


# ----------------------------------------------------------------------------- health


def with_grad(data, grad) -> Tensor:
    t = Tensor(np.asarray(data, dtype=np.float64), requires_grad=True)
    t.grad = np.asarray(grad, dtype=np.float64)
    return t


def test_gradient_health_on_chosen_grads():
    ones = np.ones((3, 4))
    assert viz.gradient_health(with_grad(ones, ones * 1e-6)) == "vanishing"
    assert viz.gradient_health(with_grad(ones, ones * 0.1)) == "healthy"
    assert viz.gradient_health(with_grad(ones, ones * 100.0)) == "exploding"
    # the ratio is relative to the tensor's own size
    assert viz.gradient_health(with_grad(ones * 1e4, ones * 100.0)) == "healthy"
    # no grad, or a single number: not judged
    assert viz.gradient_health(Tensor(ones, requires_grad=True)) is None
    assert viz.gradient_health(with_grad([5.0], [1e9])) is None
    # all-zero data (a fresh bias) is judged by rms(grad) alone: 0.05 is healthy
    assert viz.gradient_health(with_grad(np.zeros(5), np.full(5, 0.05))) == "healthy"
    assert viz.gradient_health(with_grad(np.zeros(5), np.full(5, 50.0))) == "exploding"


def test_gradient_health_thresholds_are_configurable():
    ones = np.ones((3, 4))
    tiny, huge = with_grad(ones, ones * 1e-6), with_grad(ones, ones * 100.0)
    assert viz.gradient_health(tiny, HealthThresholds(vanishing=1e-8)) == "healthy"
    assert viz.gradient_health(huge, HealthThresholds(exploding=1000.0)) == "healthy"
    normal = with_grad(ones, ones * 0.1)
    assert viz.gradient_health(normal, HealthThresholds(vanishing=0.5)) == "vanishing"
    assert viz.gradient_health(normal, HealthThresholds(exploding=0.05)) == "exploding"
    # data below the floor is judged against 1: raising the floor changes the verdict
    small = with_grad(np.full(5, 0.002), np.full(5, 0.05))
    assert viz.gradient_health(small, HealthThresholds(data_floor=0.001)) == "exploding"
    assert viz.gradient_health(small, HealthThresholds(data_floor=0.01)) == "healthy"


def saturating(kind: str, scale: float) -> Tensor:
    x = Tensor(np.random.default_rng(0).normal(size=(8, 16)), requires_grad=True, name="x")
    return getattr(x * scale, kind)()


@pytest.mark.parametrize("kind", ["sigmoid", "tanh"])
def test_saturation_fraction(kind):
    assert viz.saturation(saturating(kind, 100.0)) > 0.9
    assert viz.saturation(saturating(kind, 0.1)) == 0.0
    # the derivative threshold is configurable: sigmoid' <= 0.25 and tanh' <= 1 everywhere
    strict = HealthThresholds(derivative=1.01)
    assert viz.saturation(saturating(kind, 0.1), strict) == 1.0
    # other ops and leaves are not activations
    x = Tensor(np.ones(3), requires_grad=True)
    assert viz.saturation(x) is None
    assert viz.saturation(x.relu()) is None
    assert viz.saturation(x * 2.0) is None


@pytest.mark.parametrize("kind", ["sigmoid", "tanh"])
def test_saturated_activation_is_marked_in_the_drawing(kind):
    g = parse_dot(viz.draw(saturating(kind, 100.0).sum()).source)
    node = g.one(kind)
    assert node.attrs["fillcolor"] == FILL["saturated"]
    assert any(line.startswith("saturated ") and line.endswith("%") for line in node.lines)

    healthy = parse_dot(viz.draw(saturating(kind, 0.1).sum()).source).one(kind)
    assert healthy.attrs["fillcolor"] == FILL["intermediate"]
    assert not any("saturated" in line for line in healthy.lines)


def test_saturation_marking_follows_thresholds_and_health_switch():
    loss = saturating("sigmoid", 100.0).sum()
    lenient = HealthThresholds(saturated_fraction=1.0)
    node = parse_dot(viz.draw(loss, thresholds=lenient).source).one("sigmoid")
    assert node.attrs["fillcolor"] == FILL["intermediate"]
    off = parse_dot(viz.draw(loss, health=False).source).one("sigmoid")
    assert off.attrs["fillcolor"] == FILL["intermediate"]
    # mild inputs count as saturated once the derivative threshold is above sigmoid's max
    mild = saturating("sigmoid", 0.1).sum()
    strict = HealthThresholds(derivative=0.3)
    node = parse_dot(viz.draw(mild, thresholds=strict).source).one("sigmoid")
    assert node.attrs["fillcolor"] == FILL["saturated"] and "saturated 100%" in node.lines


@pytest.mark.parametrize(
    ("scale", "state"), [(1e-9, "vanishing"), (0.5, "healthy"), (1e3, "exploding")]
)
def test_health_border_in_the_drawing(scale, state):
    w = Tensor(np.ones((2, 3), dtype=np.float32), requires_grad=True, name="w")
    loss = (w * scale).sum()
    loss.backward()
    node = parse_dot(viz.draw(loss).source).one("w")
    assert node.attrs["color"] == HEALTH_BORDER[state]
    assert (state in node.lines) == (state != "healthy")
    plain = parse_dot(viz.draw(loss, health=False).source).one("w")
    assert "color" not in plain.attrs
    assert not any(s in plain.lines for s in HEALTH_BORDER)


def test_health_border_follows_thresholds():
    w = Tensor(np.ones((2, 3), dtype=np.float32), requires_grad=True, name="w")
    loss = (w * 1e-9).sum()
    loss.backward()
    node = parse_dot(viz.draw(loss, thresholds=HealthThresholds(vanishing=1e-12)).source).one("w")
    assert node.attrs["color"] == HEALTH_BORDER["healthy"]


# ----------------------------------------------------------------------------- SVG


@needs_dot
def test_save_svg_writes_parseable_svg(tmp_path):
    _, _, loss = digits_mlp()
    loss.backward()
    path = viz.save_svg(loss, tmp_path / "graph.svg")
    assert path == tmp_path / "graph.svg"
    data = path.read_bytes()
    root = assert_valid_svg(data)
    assert root.find(f"{SVG_NS}g") is not None
    texts = svg_texts(data)
    assert "fc1.weight" in texts and "softmax_cross_entropy" in texts
    assert "fc1: Linear(64→48)" in texts
    assert not (tmp_path / "graph.dot").exists()


@needs_dot
def test_save_svg_passes_options(tmp_path):
    _, _, loss = digits_mlp()
    path = viz.save_svg(loss, tmp_path / "collapsed.svg", collapse=True, show_values=True)
    texts = svg_texts(assert_valid_svg(path.read_bytes()))
    assert "fc2: Linear(48→32)" in texts and "linear" not in texts
    assert any(t.startswith("value ") for t in texts)


@pytest.mark.parametrize("how", ["pipe_raises", "empty_path"])
def test_save_svg_without_dot_writes_dot_file_and_explains(tmp_path, monkeypatch, how):
    if how == "pipe_raises":

        def pipe(self, *args, **kwargs):
            raise graphviz.ExecutableNotFound(["dot", "-Kdot", "-Tsvg"])

        monkeypatch.setattr(graphviz.Digraph, "pipe", pipe)
    else:
        empty = tmp_path / "empty-bin"
        empty.mkdir()
        monkeypatch.setenv("PATH", str(empty))
    _, _, loss = digits_mlp()
    out = tmp_path / "graph.svg"
    with pytest.raises(viz.GraphvizNotFoundError) as info:
        viz.save_svg(loss, out)
    assert isinstance(info.value, RuntimeError)
    message = str(info.value)
    for word in ("apt-get", "brew", "conda", str(tmp_path / "graph.dot")):
        assert word in message
    assert "\n" not in message
    assert not out.exists()
    assert (tmp_path / "graph.dot").read_text() == viz.draw(loss).source


# ----------------------------------------------------------------------------- anomalies


@contextlib.contextmanager
def anomaly_raised(match: str | None = None):
    """Anomaly detection on, numpy's own warnings off, and an AnomalyError expected."""
    with (
        tg.detect_anomaly(),
        np.errstate(all="ignore"),
        pytest.raises(tg.AnomalyError, match=match) as info,
    ):
        yield info


def test_forward_anomaly_graph_highlights_the_op():
    w = Tensor([1.0, -2.0, 3.0], requires_grad=True, name="w")
    with anomaly_raised() as info:
        ((w * 2.0).log() + 1.0).sum()
    err = info.value
    assert isinstance(err, FloatingPointError)
    assert "log" in str(err) and "forward" in str(err)
    graph = err.graph
    assert isinstance(graph, graphviz.Digraph)
    assert FILL["anomaly"] in graph.source
    g = parse_dot(graph.source)
    red = [n for n in g.nodes.values() if n.attrs.get("fillcolor") == FILL["anomaly"]]
    assert [n.title for n in red] == ["log"]
    assert g.op("mul").attrs["fillcolor"] == FILL["op"]
    assert g.one("w").attrs["fillcolor"] == FILL["parameter"]


def test_forward_anomaly_inside_a_module_names_it():
    model = MLP([3, 4, 2], rng=0)
    model.fc2.weight.data[:] = np.inf
    x = Tensor(np.ones((2, 3)), name="x")
    with anomaly_raised("fc2") as info:
        model(x)
    g = parse_dot(info.value.graph.source)
    (red,) = [n for n in g.nodes.values() if n.attrs.get("fillcolor") == FILL["anomaly"]]
    assert red.title == "linear"
    assert red.clusters[-1] == "fc2: Linear(4→2)"


def test_backward_anomaly_graph_highlights_the_op():
    x = Tensor([0.0, 1.0], requires_grad=True, name="x")
    loss = (x**0.5).sum()  # forward is finite; d/dx sqrt(x) at 0 is inf
    with anomaly_raised() as info:
        loss.backward()
    err = info.value
    assert "pow" in str(err) and "backward" in str(err)
    assert isinstance(err.graph, graphviz.Digraph)
    g = parse_dot(err.graph.source)
    red = [n for n in g.nodes.values() if n.attrs.get("fillcolor") == FILL["anomaly"]]
    assert [n.title for n in red] == ["pow"]
    assert {n.title for n in g.ops()} == {"pow", "sum"}
    assert g.one("loss").attrs["fillcolor"] == FILL["loss"]


@needs_dot
def test_anomaly_graph_renders(tmp_path):
    x = Tensor([-1.0], requires_grad=True, name="x")
    with anomaly_raised() as info:
        x.log()
    assert_valid_svg(info.value.graph.pipe(format="svg"))


# ----------------------------------------------------------------------------- CLI


@pytest.fixture
def saved_models(tmp_path):
    digits = MLP([64, 48, 32, 10], "sigmoid", output_activation="sigmoid", rng=0)
    small = MLP([5, 4, 3], "relu", rng=1)
    paths = {"digits": tmp_path / "digits.npz", "small": tmp_path / "small.npz"}
    tg.save(digits, paths["digits"], best_lambda=0.5)
    tg.save(small, paths["small"])
    return paths


@needs_dot
@pytest.mark.parametrize("which", ["digits", "small"])
def test_cli_graph_writes_svg(saved_models, tmp_path, capsys, which):
    out = tmp_path / f"{which}.svg"
    assert main(["graph", "--model", str(saved_models[which]), "--out", str(out)]) == 0
    assert str(out) in capsys.readouterr().out
    texts = svg_texts(assert_valid_svg(out.read_bytes()))
    assert "linear" in texts and "softmax_cross_entropy" in texts
    assert "fc1.weight" in texts and "x" in texts
    assert any(t.startswith("‖grad‖ ") for t in texts)
    if which == "digits":
        assert "fc1: Linear(64→48)" in texts
        assert "(32, 64) float32" in texts
    else:
        assert "fc1: Linear(5→4)" in texts and "relu" in texts


@needs_dot
@pytest.mark.parametrize("which", ["digits", "small"])
def test_cli_graph_collapse(saved_models, tmp_path, which):
    out = tmp_path / "collapsed.svg"
    args = ["graph", "--model", str(saved_models[which]), "--out", str(out), "--collapse"]
    assert main(args) == 0
    texts = svg_texts(assert_valid_svg(out.read_bytes()))
    first = "fc1: Linear(64→48)" if which == "digits" else "fc1: Linear(5→4)"
    assert first in texts
    assert "linear" not in texts


@pytest.mark.parametrize("problem", ["missing", "corrupt", "empty"])
def test_cli_graph_bad_model_exits_1_with_one_line(tmp_path, capsys, problem):
    model = tmp_path / "model.npz"
    if problem == "corrupt":
        model.write_bytes(b"PK\x03\x04 this is not a real archive" * 20)
    elif problem == "empty":
        model.write_bytes(b"")
    out = tmp_path / "graph.svg"
    assert main(["graph", "--model", str(model), "--out", str(out)]) == 1
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("tinygrad-nn: error:") and str(model) in lines[0]
    assert "Traceback" not in captured.err + captured.out
    assert not out.exists()


def test_cli_graph_without_dot_exits_1_with_one_line(saved_models, tmp_path, capsys, monkeypatch):
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    out = tmp_path / "graph.svg"
    assert main(["graph", "--model", str(saved_models["small"]), "--out", str(out)]) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "apt-get" in lines[0]
    assert (tmp_path / "graph.dot").exists() and not out.exists()


def test_cli_graph_bad_arguments_exit_2(saved_models, capsys):
    with pytest.raises(SystemExit) as info:
        main(["graph", "--model", str(saved_models["small"]), "--batch", "0"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "usage:" in err and "Traceback" not in err

"""explain_backward: the steps are the engine's, the gradients are untouched, the numbers
shown are the engine's numbers, and the table, HTML and SVG frames show them."""

from __future__ import annotations

import re
import subprocess
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from test_viz import EVIL, SVG_NS, needs_dot, parse_dot

import tinygrad_nn as tg
from tinygrad_nn import Function, Tensor, ops, viz
from tinygrad_nn.autograd import toposort
from tinygrad_nn.nn import MLP, l2_penalty
from tinygrad_nn.viz import FILL
from tinygrad_nn.viz.explain import derivative_rule, explain_backward


def tiny_net(seed: int = 0) -> tuple[MLP, Tensor]:
    """A 4-3-2 sigmoid network on 5 examples: cross-entropy plus the L2 term."""
    model = MLP([4, 3, 2], "sigmoid", rng=seed)
    x = Tensor(np.random.default_rng(seed + 1).normal(size=(5, 4)).astype(np.float32), name="x")
    loss = tg.softmax_cross_entropy(model(x), [0, 1, 1, 0, 1])
    loss = loss + l2_penalty([model.fc1.weight, model.fc2.weight], 0.1, 5)
    return model, loss


# ----------------------------------------------------------------------------- rules


@pytest.mark.parametrize("name", ops.__all__)
def test_every_op_states_its_rule_on_one_line(name):
    cls = getattr(ops, name)
    rule = derivative_rule(cls)
    assert not rule.startswith("(no"), f"ops.{name} has no 'Rule:' line in its docstring"
    assert rule.startswith("d") and "=" in rule, rule


def test_rule_of_an_op_without_one():
    class Plain(Function):
        def forward(self, x):
            return x

        def backward(self, grad):
            return grad

    assert derivative_rule(Plain) == "(no 'Rule:' line in its docstring)"
    assert derivative_rule(ops.Sigmoid()) == "dx = dy * y (1 - y), from the saved output y"


# ----------------------------------------------------------------------------- the steps


def assert_same_grads(a: MLP, b: MLP) -> None:
    for (name, p), (_, q) in zip(a.named_parameters(), b.named_parameters()):
        assert p.grad.dtype == q.grad.dtype and np.array_equal(p.grad, q.grad), name


def test_gradients_are_those_of_plain_backward():
    plain_model, plain_loss = tiny_net()
    plain_loss.backward()
    model, loss = tiny_net()
    assert len(explain_backward(loss)) == 6
    assert_same_grads(model, plain_model)
    # accumulating onto the .grad of an earlier backward, graph kept
    plain_model, plain_loss = tiny_net()
    model, loss = tiny_net()
    plain_loss.backward(retain_graph=True)
    loss.backward(retain_graph=True)
    plain_loss.backward(retain_graph=True)
    explain_backward(loss, retain_graph=True)
    assert_same_grads(model, plain_model)
    # without retain_graph the graph is freed, as by backward()
    explain_backward(loss)
    with pytest.raises(RuntimeError, match="freed"):
        loss.backward()


def test_steps_are_the_engines_order():
    _, loss = tiny_net()
    order = toposort(loss)
    explanation = explain_backward(loss)
    assert [s.op for s in explanation.steps] == list(reversed(order))
    assert [s.number for s in explanation.steps] == list(range(1, len(order) + 1))
    assert [s.op.name for s in explanation.steps] == [
        "add",
        "l2_penalty",
        "softmax_cross_entropy",
        "linear",
        "sigmoid",
        "linear",
    ]
    assert [s.where for s in explanation.steps] == [
        "top level",
        "top level",
        "top level",
        "fc2",
        "MLP",
        "fc1",
    ]


def test_incoming_gradients_are_the_engines():
    """What a step shows arriving at its op's output is the gradient the engine computed
    there (kept with retain_grad on an identical graph)."""
    _, kept = tiny_net()
    viz.retain_all_grads(kept)
    outputs = {t.op: t for fn in toposort(kept) for t in fn.inputs if t.op is not None}
    outputs[kept.op] = kept
    engine = [outputs[fn] for fn in reversed(toposort(kept))]
    kept.backward()
    _, loss = tiny_net()
    explanation = explain_backward(loss)
    for step, out in zip(explanation.steps, engine):
        assert step.incoming.shape == out.shape
        assert step.incoming.norm == pytest.approx(float(np.linalg.norm(out.grad)), rel=1e-6)
        assert step.incoming.head == tuple(float(v) for v in out.grad.reshape(-1)[:3])
    # each leaf's last total is its .grad
    totals = {}
    for step in explanation.steps:
        for c in step.contributions:
            if c.total is not None and c.tensor.op is None:
                totals[c.tensor] = c.total
    for t, total in totals.items():
        assert total.norm == pytest.approx(float(np.linalg.norm(t.grad)), rel=1e-6)


def test_accumulation_is_reported():
    a = Tensor([1.0, 2.0], requires_grad=True, name="a")
    explanation = explain_backward((a + a).sum())
    add = explanation.steps[1]
    assert add.op.name == "add"
    assert [c.accumulated for c in add.contributions] == [False, True]
    assert [c.note() for c in add.contributions] == ["new", "accumulated"]
    assert add.contributions[1].total.norm == pytest.approx(np.sqrt(8))
    # a diamond: y is used twice, its op gets the sum of both
    x = Tensor([0.5, -1.0], requires_grad=True, name="x")
    y = x.tanh()
    explanation = explain_backward((y * 2.0 + y.exp()).sum())
    sends = [c for s in explanation.steps for c in s.contributions if c.tensor is y]
    assert [c.accumulated for c in sends] == [False, True]
    tanh = explanation.steps[-1]
    expected = 2.0 + np.exp(np.tanh([0.5, -1.0]))
    assert tanh.incoming.norm == pytest.approx(float(np.linalg.norm(expected)), rel=1e-6)


def test_a_gradient_left_from_an_earlier_backward_is_named():
    w = Tensor([1.0, 2.0], requires_grad=True, name="w")
    (w * 3.0).sum().backward()
    explanation = explain_backward((w * 3.0).sum())
    (sent,) = [c for c in explanation.steps[-1].contributions if c.tensor is w]
    assert sent.earlier and sent.accumulated
    assert "zero_grad() not called" in sent.note()
    assert "zero_grad() not called" in str(explanation)
    np.testing.assert_allclose(w.grad, [6.0, 6.0])
    w.zero_grad()
    explanation = explain_backward((w * 3.0).sum())
    (sent,) = [c for c in explanation.steps[-1].contributions if c.tensor is w]
    assert not sent.earlier and sent.note() == "new"


def test_an_op_no_gradient_reaches_is_a_skipped_step():
    class Stop(Function):
        """Rule: dx = 0 (nothing goes back)."""

        def forward(self, x):
            return x.copy()

        def backward(self, grad):
            return None

    x = Tensor([1.0, 2.0], requires_grad=True, name="x")
    loss = Stop.apply(x.exp()).sum()
    explanation = explain_backward(loss)
    assert [s.op.name for s in explanation.steps] == ["sum", "stop", "exp"]
    assert explanation.steps[-1].incoming is None
    assert explanation.steps[-1].contributions == ()
    assert "no gradient reached this op: skipped" in str(explanation)
    assert x.grad is None


def test_inputs_that_need_no_gradient_are_listed():
    _, loss = tiny_net()
    explanation = explain_backward(loss)
    first_layer = explanation.steps[-1]
    x_sent = first_layer.contributions[0]
    assert x_sent.label == "x (5, 4)" and x_sent.grad is None
    assert x_sent.note() == "no gradient (does not require grad)"


# ----------------------------------------------------------------------------- text, HTML


def test_text_table():
    _, loss = tiny_net()
    text = str(explain_backward(loss))
    lines = text.splitlines()
    assert lines[0] == (
        "backward from loss () float32, seed () ‖g‖ 1 [1]: 6 steps, the reverse of toposort(loss)"
    )
    assert len(re.findall(r"^step \d+  ", text, flags=re.M)) == 6
    assert "step 5  sigmoid  (in MLP)" in lines
    assert "    rule            dx = dy * y (1 - y), from the saved output y" in lines
    assert any(line.startswith("    → sigmoid output (5, 3) [step 5]  ‖g‖ ") for line in lines)
    assert any(
        line.startswith("    → fc2.weight (3, 2)  ‖g‖ ") and "accumulated" in line for line in lines
    )


def test_max_steps_on_a_long_chain():
    x = Tensor([0.5, -0.25], requires_grad=True, name="x")
    y = x
    for _ in range(2_000):
        y = y.tanh()
    explanation = explain_backward(y.sum(), max_steps=5)
    assert len(explanation.steps) == 2_001
    text = str(explanation)
    assert len(re.findall(r"^step \d+  ", text, flags=re.M)) == 5
    assert text.endswith("… 1996 more steps (max_steps=5)")
    assert explanation._repr_html_().count("<tr>") == 6
    with pytest.raises(ValueError, match="max_steps"):
        explain_backward(x.sum(), max_steps=0)


def test_html_table_is_escaped():
    w = Tensor([1.0, 2.0], requires_grad=True, name=EVIL)
    page = explain_backward((w * 2.0).sum())._repr_html_()
    assert EVIL not in page and "<script" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&quot;x" in page
    assert page.count("<tr>") == 3  # header, sum, mul
    assert "da = dy * b, db = dy * a" in page


class Block(tg.nn.Module):
    """Three ops in one module: linear, tanh, mul."""

    def __init__(self, n_in: int, n_out: int, seed: int) -> None:
        self.lin = tg.nn.Linear(n_in, n_out, rng=seed)

    def forward(self, x: Tensor) -> Tensor:
        return self.lin(x).tanh() * 2.0


def test_collapse_merges_a_modules_steps():
    def build() -> Tensor:
        model = tg.nn.Sequential(Block(4, 3, 0), Block(3, 2, 1))
        return model(Tensor(np.ones((2, 4)), name="x")).sum()

    collapsed = explain_backward(build(), collapse=True)
    plain = explain_backward(build())
    assert [s.op for s in collapsed.steps] != [] and len(collapsed) == len(plain) == 7
    text = str(collapsed)
    blocks = re.findall(r"^step (\S+)  (.*)$", text, flags=re.M)
    assert blocks == [
        ("1", "sum  (top level)"),
        ("2-4", "1: Block (3 ops)  (in Sequential)"),
        ("5-7", "0: Block (3 ops)  (in Sequential)"),
    ]
    # what leaves a module is listed (its parameters too), what stays inside is not
    assert "→ 0.lin.weight (4, 3)" in text and "→ mul output (2, 3) [step 5]" in text
    assert "tanh output" not in text and "tanh output" in str(plain)
    assert "mul: da = dy * b, db = dy * a ; tanh: dx = dy * (1 - y^2) ; linear:" in text
    assert collapsed._repr_html_().count("<tr>") == 4


def test_composite_steps_name_it():
    @tg.composite
    def mse(pred, target):
        return ((pred - target) ** 2).mean()

    p = Tensor([1.0, 2.0], requires_grad=True, name="p")
    explanation = explain_backward(mse(p, np.array([0.0, 0.0])))
    assert [s.where for s in explanation.steps] == ["mse", "mse", "mse"]
    np.testing.assert_allclose(p.grad, [1.0, 2.0])


def test_a_leaf_and_bad_arguments():
    w = Tensor([1.0, 2.0], requires_grad=True)
    explanation = explain_backward(w, grad=np.ones(2))
    assert explanation.steps == [] and np.array_equal(w.grad, [1.0, 1.0])
    with pytest.raises(TypeError, match="Tensor"):
        explain_backward(np.ones(2))
    with pytest.raises(RuntimeError, match="one-element"):
        explain_backward(w * 2.0)
    out = explain_backward(w * 2.0, grad=np.array([1.0, 3.0]))
    assert out.seed.head == (1.0, 3.0)
    with pytest.raises(IndexError, match="step 2"):
        out.draw(2)


def test_explain_needs_no_graphviz():
    code = (
        "import sys; sys.modules['graphviz'] = None\n"
        "from tinygrad_nn import Tensor\n"
        "from tinygrad_nn.viz.explain import explain_backward\n"
        "w = Tensor([1.0, 2.0], requires_grad=True, name='w')\n"
        "print(explain_backward((w * w).sum()))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "step 2  mul  (top level)" in done.stdout


# ----------------------------------------------------------------------------- frames


def test_frames_highlight_the_op_and_the_known_gradients():
    _, loss = tiny_net()
    explanation = explain_backward(loss)
    known_counts = []
    for step in explanation.steps:
        g = parse_dot(explanation.draw(step.number).source)
        red = [n for n in g.nodes.values() if n.attrs.get("fillcolor") == FILL["anomaly"]]
        assert [n.title for n in red] == [step.op.name]
        done = [n for n in g.ops() if n.attrs.get("fillcolor") == FILL["known"]]
        assert len(done) == step.number - 1
        known = [n for n in g.tensors() if n.attrs.get("fillcolor") == FILL["known"]]
        known_counts.append(len(known))
        fresh = [n for n in known if n.attrs.get("penwidth") == "3"]
        assert len(fresh) == sum(c.grad is not None for c in step.contributions)
    assert known_counts == sorted(known_counts) and known_counts[0] == 3  # loss and the add's two
    last = parse_dot(explanation.draw(len(explanation)).source)
    for name in ("fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"):
        assert last.one(name).attrs["fillcolor"] == FILL["known"]
    assert last.one("x").attrs["fillcolor"] == FILL["input"]
    assert "‖grad‖ 1 (seed)" in last.one("loss").lines


def test_frames_keep_one_direction_and_collapse():
    _, loss = tiny_net()
    explanation = explain_backward(loss, collapse=True)
    sources = [explanation.draw(s.number).source for s in explanation.steps]
    assert len({re.search(r"rankdir=(\w+)", s).group(1) for s in sources}) == 1
    g = parse_dot(sources[3])  # step 4: fc2's linear, inside its box
    (box,) = [b for b in g.boxes() if b.attrs.get("fillcolor") == FILL["anomaly"]]
    assert box.title == "fc2: Linear(3→2)"


@needs_dot
def test_save_frames_writes_wellformed_svg(tmp_path):
    _, loss = tiny_net()
    explanation = explain_backward(loss, max_steps=4)
    paths = explanation.save_frames(tmp_path / "frames")
    assert [p.name for p in paths] == [f"step_00{i}.svg" for i in range(1, 5)]
    for path, step in zip(paths, explanation.steps):
        root = ET.fromstring(path.read_bytes())
        assert root.tag == f"{SVG_NS}svg"
        texts = ["".join(el.itertext()) for el in root.iter(f"{SVG_NS}text")]
        assert f"step {step.number} of 6: {step.op.name} ({step.where})" in texts
        assert step.rule in texts


def test_save_frames_without_dot_explains(tmp_path, monkeypatch):
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    _, loss = tiny_net()
    with pytest.raises(viz.GraphvizNotFoundError, match="apt-get"):
        explain_backward(loss).save_frames(tmp_path / "frames")
    assert (tmp_path / "frames" / "step_001.dot").exists()

"""viz label escaping: names with control characters, surrogates or noncharacters still give a
well-formed SVG, and show what they hold (``\\x1b``) instead of breaking Graphviz."""

from __future__ import annotations

import os
import shutil
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import tinygrad_nn as tg
from tinygrad_nn import viz
from tinygrad_nn.nn import Linear, Module
from tinygrad_nn.viz.drawing import _escape

needs_dot = pytest.mark.skipif(
    shutil.which("dot") is None and not os.environ.get("CI"),
    reason="Graphviz 'dot' not installed",
)

SVG_NS = "{http://www.w3.org/2000/svg}"
# the four from the issue, then more of each kind
HOSTILE = {
    "\x1b": "\\x1b",
    "\x0b": "\\x0b",
    "\x00": "\\x00",
    "\ufffe": "\\ufffe",
    "\x0c": "\\x0c",
    "\x7f": "\\x7f",
    "\x9b": "\\x9b",
    "\n": "\\x0a",
    "\ud800": "\\ud800",
    "\ufdd0": "\\ufdd0",
    "\U0010ffff": "\\U0010ffff",
}


class Named(Module):
    """One Linear layer stored under an arbitrary attribute name."""

    def __init__(self, attr: str) -> None:
        self.attr = attr
        setattr(self, attr, Linear(3, 2, rng=0, dtype=np.float64))

    def forward(self, x):
        return getattr(self, self.attr)(x)


def _texts(svg: bytes) -> str:
    root = ET.fromstring(svg)  # well-formed XML, or this raises
    return "\n".join("".join(t.itertext()) for t in root.iter(f"{SVG_NS}text"))


@pytest.mark.parametrize("char", list(HOSTILE), ids=[repr(c) for c in HOSTILE])
def test_escape_shows_invisible_characters(char):
    label = _escape(f"a{char}b<c>")
    assert label == f"a{HOSTILE[char]}b&lt;c&gt;"


def test_escape_keeps_ordinary_unicode():
    text = "fc1 → Gewicht λ_ü 重み 🙂 \u00a0"
    assert _escape(text) == text


@needs_dot
@pytest.mark.parametrize("char", list(HOSTILE), ids=[repr(c) for c in HOSTILE])
@pytest.mark.parametrize("collapse", [None, True])
def test_save_svg_with_hostile_tensor_and_module_names(tmp_path, char, collapse):
    model = Named(f"fc{char}1")
    x = tg.Tensor(np.ones((4, 3)), name=f"x{char}in")
    loss = model(x).sum()
    loss.backward()
    path = viz.save_svg(loss, tmp_path / "g.svg", collapse=collapse)
    text = _texts(path.read_bytes())
    assert f"fc{HOSTILE[char]}1" in text
    if collapse is None:
        assert f"x{HOSTILE[char]}in" in text

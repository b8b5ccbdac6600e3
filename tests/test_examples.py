"""The short examples run as a user runs them (python examples/NAME.py) and print what they
promise; the long ones (digits, cnn, the scikit-learn comparison) are at least valid Python
that imports only public names that exist."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run(name: str) -> str:
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / name)], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_quickstart_fits_the_sine():
    lines = run("quickstart.py").splitlines()
    first, last = (float(line.split()[-1]) for line in (lines[0], lines[-1]))
    assert last < 0.1 * first


def test_custom_op_passes_gradcheck():
    assert "gradcheck: True" in run("custom_op.py")


def test_autoencoder_beats_the_mean_image():
    head = run("autoencoder.py").splitlines()[0]  # "test reconstruction MSE a (... mean: b)"
    ours, mean = float(head.split()[3]), float(head.rstrip(")").split()[-1])
    assert ours < 0.5 * mean


@pytest.mark.parametrize("name", ["digits.py", "cnn.py", "sklearn_pipeline.py"])
def test_long_examples_import_names_that_exist(name):
    tree = ast.parse((EXAMPLES / name).read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module.startswith("tinygrad_nn"):
            module = importlib.import_module(node.module)
            for alias in node.names:
                assert hasattr(module, alias.name), f"{name}: {node.module}.{alias.name}"


README = EXAMPLES.parent / "README.md"


@pytest.mark.parametrize("section", ["## Fifteen lines", "## Models without writing ops"])
def test_the_readmes_self_contained_examples_run_as_written(section, tmp_path, monkeypatch):
    text = README.read_text(encoding="utf-8")
    block = text[text.index(section) :].split("```python\n", 1)[1].split("```", 1)[0]
    monkeypatch.chdir(tmp_path)  # the CNN example saves cnn.npz into the working directory
    namespace: dict = {}
    exec(compile(block, f"README.md {section}", "exec"), namespace)  # noqa: S102
    assert "loss" in namespace

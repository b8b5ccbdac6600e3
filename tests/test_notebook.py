"""examples/tutorial.ipynb runs headless without errors or warnings, and progress bars in
Jupyter need no ipywidgets."""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from tinygrad_nn import _optional

NOTEBOOK = Path(__file__).parent.parent / "examples" / "tutorial.ipynb"


def code_cells(nb) -> list:
    return [cell for cell in nb.cells if cell.cell_type == "code"]


def test_notebook_is_stored_without_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    for cell in code_cells(nb):
        assert cell.outputs == [] and cell.execution_count is None, cell.source[:60]


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """The notebook run top to bottom in a fresh kernel (about a minute); any error fails."""
    nb = nbformat.read(NOTEBOOK, as_version=4)
    workdir = tmp_path_factory.mktemp("notebook")
    client = NotebookClient(
        nb,
        timeout=600,
        kernel_name="python3",
        # the kernel's own notice that its local TCP sockets are unencrypted is not ours
        extra_arguments=["--IPKernelApp.log_level=ERROR"],
        resources={"metadata": {"path": workdir}},
    )
    client.execute()
    return nb


def test_notebook_runs_without_errors_or_warnings(executed):
    for cell in code_cells(executed):
        for out in cell.outputs:
            assert out.output_type != "error", out
            text = out.get("text", "") + str(out.get("data", {}).get("text/plain", ""))
            for bad in ("Warning", "Traceback", "IProgress"):
                assert bad not in text, (cell.source[:60], text)


def test_graph_cell_shows_an_svg(executed):
    (cell,) = [c for c in code_cells(executed) if "graph" in c.metadata.get("tags", [])]
    svg = [
        out.data["image/svg+xml"] for out in cell.outputs if "image/svg+xml" in out.get("data", {})
    ]
    assert len(svg) == 1 and svg[0].lstrip().startswith(("<?xml", "<svg", "<!--"))
    assert "fc1.weight" in svg[0] and "saturated" in svg[0]


def test_notebook_results(executed):
    text = "\n".join(out.get("text", "") for cell in code_cells(executed) for out in cell.outputs)
    assert "train  X (721, 64)" in text and "test   X (594, 64)" in text
    assert "gradcheck" not in text  # returned True, shown as a result
    assert "(vanishing)" in text and "saturated sigmoid units per layer" in text
    assert "accumulated onto .grad from an earlier backward" in text
    assert "best lambda" in text and "test 0.9" in text
    html = [
        out.data["text/html"]
        for cell in code_cells(executed)
        for out in cell.outputs
        if "text/html" in out.get("data", {})
    ]
    assert any("tg-explain" in page for page in html)


def test_progress_bar_in_a_notebook_without_ipywidgets_warns_nothing(monkeypatch):
    from tqdm.std import tqdm as plain_tqdm

    monkeypatch.setattr(_optional, "_in_notebook", lambda: True)
    real_find_spec = _optional.importlib.util.find_spec
    monkeypatch.setattr(
        _optional.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "ipywidgets" else real_find_spec(name, *a),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a TqdmWarning would raise here
        bar = _optional.progress_bar(range(3), desc="test")
        assert type(bar) is plain_tqdm
        assert list(bar) == [0, 1, 2]
        bar.close()


def test_importing_the_package_loads_no_progress_bar():
    code = "import sys, tinygrad_nn; print('tqdm' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() == "False", done.stderr

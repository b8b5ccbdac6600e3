"""The package as a library: numpy-only core, one-line messages for missing extras, no
import cycles and no upward imports, and a docstring on every public name."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import tinygrad_nn

PACKAGE = Path(tinygrad_nn.__file__).parent
# everything the extras bring; the core must work with all of them missing
EXTRAS = [
    "sklearn",
    "scipy",
    "graphviz",
    "matplotlib",
    "tqdm",
    "joblib",
    "threadpoolctl",
    "pandas",
    "dask",
    "distributed",
    "numba",
    "IPython",
    "ipywidgets",
]

BLOCKER = textwrap.dedent(
    f"""
    import sys
    BLOCKED = {EXTRAS!r}

    class Block:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ModuleNotFoundError(f"No module named {{name!r}} (blocked)", name=name)
            return None

    sys.meta_path.insert(0, Block())
    """
)


def run_blocked(code: str, *args: str) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh Python where every extra's package fails to import."""
    return subprocess.run(
        [sys.executable, "-c", BLOCKER + textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_core_imports_and_trains_with_numpy_alone():
    result = run_blocked(
        """
        import numpy as np
        import tinygrad_nn as tg
        from tinygrad_nn import Tensor, nn, optim

        third_party = sorted(
            {m.split(".")[0] for m in sys.modules}
            - set(sys.stdlib_module_names) - {"tinygrad_nn", "numpy", "_distutils_hack"}
        )
        # numpy's compiled parts register cython_runtime; "_"-names are interpreter internals
        assert not [m for m in third_party if m[0] != "_" and m != "cython_runtime"], third_party

        rng = np.random.default_rng(0)
        X = rng.normal(size=(64, 4)).astype(np.float32)
        y = (X[:, 0] > 0).astype(np.int64)
        model = nn.MLP([4, 16, 2], "relu", rng=0)
        opt = optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
        first = None
        for _ in range(50):
            loss = tg.softmax_cross_entropy(model(Tensor(X)), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            first = loss.item() if first is None else first
        assert loss.item() < 0.5 * first, (first, loss.item())
        step = tg.compile(lambda x: (model(Tensor(x)) ** 2).mean())
        step(X)
        tg.save(model, sys.argv[1])
        assert np.array_equal(tg.load(sys.argv[1]).fc1.weight.data, model.fc1.weight.data)
        print("ok")
        """,
        str(Path(pytest.importorskip("tempfile").mkdtemp()) / "m.npz"),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


@pytest.mark.parametrize(
    "code, extra",
    [
        ("tinygrad_nn.viz.draw(tinygrad_nn.Tensor([1.0]))", "viz"),
        ("tinygrad_nn.viz.save_svg(tinygrad_nn.Tensor([1.0]), 'g.svg')", "viz"),
        ("tinygrad_nn.MLPClassifier", "sklearn"),
        ("from tinygrad_nn.digits import load_digits_splits", "digits"),
        ("tinygrad_nn.data.load_digits_splits()", "digits"),
        ("import tinygrad_nn.digits.plots", "digits"),
    ],
)
def test_missing_extra_raises_one_line_naming_the_install(code, extra):
    result = run_blocked(
        f"""
        import tinygrad_nn
        try:
            {code}
        except ImportError as err:
            print(type(err).__name__, err)
        """
    )
    assert result.returncode == 0, result.stderr
    line = result.stdout.strip()
    assert "\n" not in line
    assert line.startswith("MissingExtraError ")
    assert f'pip install "tinygrad-nn[{extra}]"' in line


def test_cli_without_the_digits_extra_exits_1_with_one_line():
    result = run_blocked(
        """
        from tinygrad_nn.__main__ import main
        sys.exit(main(["digits", "--seeds", "1"]))
        """
    )
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert 'pip install "tinygrad-nn[digits]"' in result.stderr


# ----------------------------------------------------------------------------- import graph


def _modules() -> dict[str, Path]:
    found = {"tinygrad_nn": PACKAGE / "__init__.py"}
    for info in pkgutil.walk_packages([str(PACKAGE)], prefix="tinygrad_nn."):
        module = importlib.util.find_spec(info.name)
        found[info.name] = Path(module.origin)
    return found


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Package modules that ``name`` imports anywhere in its source (lazy imports too)."""
    is_package = path.name == "__init__.py"
    base = name if is_package else name.rpartition(".")[0]
    out: set[str] = set()
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):  # imports for type checkers only never run
        if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING":
            node.body = []
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = base.split(".")
                anchor = ".".join(parts[: len(parts) - (node.level - 1)])
                src = f"{anchor}.{node.module}" if node.module else anchor
            else:
                src = node.module or ""
            targets = [
                f"{src}.{a.name}" if f"{src}.{a.name}" in modules else src for a in node.names
            ]
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", "") == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            targets = [node.args[0].value]
        for t in targets:
            if t in modules and t != name:
                out.add(t)
    return out


def test_no_import_cycles_and_the_engine_imports_nothing_above_it():
    modules = _modules()
    graph = {name: _imports(name, path, modules) for name, path in modules.items()}
    # the package's own __init__ and lazy re-export shims sit on top of everything
    graph["tinygrad_nn"] = set()
    for shim in ("tinygrad_nn.search", "tinygrad_nn.data"):
        graph[shim] = {m for m in graph.get(shim, set()) if not m.startswith("tinygrad_nn.digits")}
    # depth-first search for a cycle
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                raise AssertionError("import cycle: " + " -> ".join(path + [node, nxt]))
            if nxt not in state:
                visit(nxt, path + [node])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [])
    engine = {
        "tinygrad_nn.autograd",
        "tinygrad_nn.gradmode",
        "tinygrad_nn.hooks",
        "tinygrad_nn.holding",
    }
    for name in engine:
        assert graph[name] <= engine, f"{name} imports {graph[name] - engine}"
    for name, deps in graph.items():
        if name.startswith("tinygrad_nn.ops"):
            allowed = engine | {m for m in modules if m.startswith("tinygrad_nn.ops")}
            assert deps <= allowed, f"{name} imports {deps - allowed}"


# ----------------------------------------------------------------------------- docstrings


def _public_objects():
    for name in sorted(_modules()):
        if any(part.startswith("_") for part in name.split(".")[1:]):
            continue
        module = importlib.import_module(name)
        yield name, module
        for attr in getattr(module, "__all__", []):
            obj = getattr(module, attr)
            if (
                inspect.ismodule(obj)
                or getattr(obj, "__module__", "").split(".")[0] != "tinygrad_nn"
            ):
                continue
            yield f"{name}.{attr}", obj
            if inspect.isclass(obj):
                for key, member in vars(obj).items():
                    if key.startswith("_"):
                        continue
                    if callable(member) or isinstance(
                        member, (property, classmethod, staticmethod)
                    ):
                        yield f"{name}.{attr}.{key}", getattr(obj, key)


def test_every_public_name_has_a_docstring():
    missing = [qual for qual, obj in _public_objects() if not (inspect.getdoc(obj) or "").strip()]
    assert not missing, f"{len(missing)} public names without a docstring: {missing}"


def test_api_reference_documents_every_public_module(tmp_path):
    from tinygrad_nn import _apidocs

    index = _apidocs.write(tmp_path)
    assert index.exists()
    for name in _apidocs.public_modules():
        page = tmp_path / (name.replace(".", "/") + ".html")
        assert page.exists(), name
    expected = {
        "tinygrad_nn/tensor.html": ["Tensor", "softmax_cross_entropy", "set_default_dtype"],
        "tinygrad_nn/nn.html": ["MLP", "Linear", "Module", "l2_penalty"],
        "tinygrad_nn/optim.html": ["SGD", "Adam"],
        "tinygrad_nn/data.html": ["minibatches"],
        "tinygrad_nn/autograd.html": ["Function", "toposort", "no_grad"],
    }
    for page, names in expected.items():
        text = (tmp_path / page).read_text()
        for name in names:
            assert f'id="{name}"' in text, (page, name)

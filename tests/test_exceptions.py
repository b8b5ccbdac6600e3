"""Every exception class the package defines survives a pickle round trip.

Worker processes (joblib, Dask) send exceptions back pickled: one that cannot be rebuilt
arrives as "A result has failed to un-serialize" instead of its message. The classes are
found by walking every module of the package, so a new one is checked without being listed;
one whose ``__init__`` takes more than a message needs an example below.
"""

from __future__ import annotations

import importlib
import inspect
import pickle
import pkgutil
from pathlib import Path

import pytest

import tinygrad_nn

# classes whose constructor is not (message): one instance each, with every argument given
EXAMPLES = {
    "tinygrad_nn.archive.CheckpointError": lambda cls: cls(Path("runs/x.npz"), "is damaged"),
    "tinygrad_nn.serialize.CheckpointError": lambda cls: cls("runs/x.npz", "is damaged"),
    "tinygrad_nn.anomaly.AnomalyError": lambda cls: cls("sigmoid made nan", None, None),
    "tinygrad_nn.digits.folder.FolderInUseError": lambda cls: cls(Path("runs/d"), 4242),
}


def _modules() -> list[str]:
    names = [tinygrad_nn.__name__]
    for info in pkgutil.walk_packages(tinygrad_nn.__path__, prefix="tinygrad_nn."):
        names.append(info.name)
    return sorted(names)


def _exception_classes() -> dict[str, type]:
    found: dict[str, type] = {}
    for name in _modules():
        module = importlib.import_module(name)
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if issubclass(obj, BaseException) and obj.__module__.startswith("tinygrad_nn"):
                found.setdefault(f"{obj.__module__}.{obj.__qualname__}", obj)
    return found


CLASSES = _exception_classes()


def _own_init(cls: type) -> bool:
    return any("__init__" in vars(k) for k in cls.__mro__ if k.__module__.startswith("tinygrad_nn"))


def _example(cls: type) -> BaseException:
    make = next((m for key, m in EXAMPLES.items() if _resolve(key) is cls), None)
    if make is not None:
        return make(cls)
    assert not _own_init(cls), f"{cls.__qualname__} takes more than a message: add it to EXAMPLES"
    return cls(f"{cls.__name__}: something went wrong (shapes (2, 3) and (4,))")


def _resolve(dotted: str) -> object:
    module, _, attr = dotted.rpartition(".")
    try:
        return getattr(importlib.import_module(module), attr, None)
    except ImportError:
        return None


def test_the_walk_finds_the_package_exceptions():
    qualnames = {cls.__qualname__ for cls in CLASSES.values()}
    assert {"CheckpointError", "AnomalyError", "GraphvizNotFoundError"} <= qualnames
    assert {"MissingExtraError", "GradcheckError", "TraceError"} <= qualnames


def test_every_example_names_a_real_class():
    for name in EXAMPLES:
        assert _resolve(name) in CLASSES.values(), f"EXAMPLES names {name}, not a package class"


@pytest.mark.parametrize("name", sorted(CLASSES))
@pytest.mark.parametrize("protocol", [0, pickle.HIGHEST_PROTOCOL])
def test_exception_survives_pickling(name, protocol):
    cls = CLASSES[name]
    err = _example(cls)
    back = pickle.loads(pickle.dumps(err, protocol=protocol))
    assert type(back) is type(err)
    assert str(back) == str(err)
    assert back.args == err.args
    assert vars(back) == vars(err)


def test_a_raised_checkpoint_error_survives_pickling(tmp_path):
    path = tmp_path / "model.npz"
    path.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(tinygrad_nn.serialize.CheckpointError) as info:
        tinygrad_nn.load(path)
    back = pickle.loads(pickle.dumps(info.value))
    assert str(back) == str(info.value) and back.path == path and back.reason

"""Saving and loading: one ``.npz`` of arrays with JSON metadata inside, never pickle.

The raw files (atomic writes; reads that check every size before allocating) are
:mod:`tinygrad_nn.archive`; this module turns modules and estimators into files and back.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from .archive import FORMAT_VERSION, CheckpointError, read_file, write_file
from .nn.module import ForeignClass, Module, class_path, package_class

__all__ = [
    "CheckpointError",
    "FORMAT_VERSION",
    "load",
    "load_state",
    "read_file",
    "save",
    "shape_mismatch",
    "write_file",
]


# ----------------------------------------------------------------------------- models


def save(obj: Any, path: str | os.PathLike, **metadata: Any) -> None:
    """Save a Module (or a fitted ``MLPClassifier``) to ``path``, atomically.

    The metadata records the class and its ``config()``, so :func:`load` can rebuild the
    package's own modules; extra keyword arguments are stored as JSON metadata
    (``load_state`` returns them under ``"user"``).
    """
    if isinstance(obj, Module):
        arrays = obj.state_dict()
        meta = {"kind": "module", "class": class_path(type(obj)), "config": obj.config()}
    elif hasattr(obj, "_checkpoint_payload"):
        arrays, meta = obj._checkpoint_payload()
        meta["class"] = class_path(type(obj))
    else:
        raise TypeError(f"save: expected a Module or a fitted estimator, got {type(obj).__name__}")
    meta["user"] = metadata
    write_file(path, arrays, meta)


def load_state(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], dict]:
    """The saved parameter arrays and the metadata of any saved Module.

    Use this for your own Module classes: build the model, then
    ``model.load_state_dict(load_state(path)[0])``.
    """
    arrays, meta = read_file(path)
    if meta.get("kind") != "module":
        raise CheckpointError(path, f"holds a {meta.get('kind', 'unknown')!r}, not a module")
    return arrays, meta


_CUSTOM = (
    "build it yourself and use model.load_state_dict(tinygrad_nn.serialize.load_state(path)[0])"
)


def _saved_class(path: Any, meta: dict) -> type:
    """The class a file was saved from; only the package's own classes are rebuilt."""
    name = meta.get("class")
    if isinstance(name, str) and name and "." not in name:  # version 0.1 named the class alone
        home = "nn" if meta.get("kind") == "module" else "estimator"
        name = f"tinygrad_nn.{home}.{name}"
    try:
        cls = package_class(name)
    except ForeignClass as err:
        raise CheckpointError(path, f"holds a custom module {str(err)!r}; {_CUSTOM}") from None
    except ValueError as err:
        raise CheckpointError(path, str(err)) from None
    if issubclass(cls, Module) != (meta.get("kind") == "module"):
        raise CheckpointError(path, f"says it holds a {meta.get('kind')!r:.20} but names {name!r}")
    return cls


def shape_mismatch(expected: dict[str, tuple[int, ...]], arrays: dict[str, np.ndarray]) -> str:
    """Why ``arrays`` do not have exactly the ``expected`` names and shapes ("" if they do)."""
    missing = sorted(set(expected) - set(arrays))
    extra = sorted(set(arrays) - set(expected))
    if missing or extra:
        return (
            "its metadata describes other arrays than the ones it holds "
            f"(missing {missing[:5]}, unexpected {extra[:5]})"
        )
    for key, shape in expected.items():
        if tuple(arrays[key].shape) != tuple(shape):
            return (
                f"its metadata gives {key!r} the shape {tuple(shape)}, "
                f"but the array has shape {arrays[key].shape}"
            )
    return ""


def _check_config(path: Any, cls: type, config: dict, arrays: dict[str, np.ndarray]) -> None:
    """Compare the shapes a module's config implies (its class's ``state_shapes``) with the
    file's arrays, before anything is built."""
    try:
        expected = cls.state_shapes(config)
    except KeyError as err:
        raise CheckpointError(path, f"its {cls.__name__} config lacks the setting {err}") from None
    except ForeignClass as err:
        raise CheckpointError(path, f"holds a custom module {str(err)!r}; {_CUSTOM}") from None
    except (TypeError, ValueError) as err:
        raise CheckpointError(path, f"its {cls.__name__} config is invalid: {err}") from None
    reason = shape_mismatch(expected, arrays)
    if reason:
        raise CheckpointError(path, reason)


def load(path: str | os.PathLike) -> Any:
    """Rebuild what :func:`save` wrote: a module of this package (``MLP``, ``Conv2d``, a
    ``Sequential`` of them, ...) or a fitted estimator. A file holding your own Module class raises
    :class:`CheckpointError` pointing to :func:`load_state`.

    The sizes in the metadata are checked against the arrays' shapes before anything is
    built, so a file cannot make ``load`` allocate more than its own arrays take."""
    arrays, meta = read_file(path)
    kind = meta.get("kind")
    if kind not in ("module", "estimator"):
        raise CheckpointError(path, f"holds a {kind!r:.40}; load it with what wrote it")
    cls = _saved_class(path, meta)
    if kind == "module":
        if not isinstance(meta.get("config"), dict):
            raise CheckpointError(path, f"holds a custom module {cls.__name__!r}; {_CUSTOM}")
        _check_config(path, cls, meta["config"], arrays)
    try:
        return cls._from_checkpoint(arrays, meta)
    except KeyError as err:
        raise CheckpointError(path, f"its metadata lacks the entry {err}") from None
    except (TypeError, ValueError) as err:
        if isinstance(err, CheckpointError):
            raise
        raise CheckpointError(path, f"does not match its own metadata: {err}") from None

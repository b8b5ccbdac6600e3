"""Saving and loading: one ``.npz`` of arrays with JSON metadata inside, never pickle.

Every file is written to a temporary file in the same folder and then ``os.replace``d onto
the target, so a crash midway leaves the previous file intact. The metadata is the entry
``__meta__`` (a 0-d unicode array) holding ``{"format": "tinygrad_nn", "version": ..., ...}``.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from .nn import Module
from .version import __version__

__all__ = [
    "CheckpointError",
    "FORMAT_VERSION",
    "load",
    "load_state",
    "read_file",
    "save",
    "write_file",
]

FORMAT = "tinygrad_nn"
FORMAT_VERSION = 2  # 2: "class" is an import path (tinygrad_nn.nn.MLP)
META_KEY = "__meta__"


class CheckpointError(ValueError):
    """A file that is truncated, foreign, or does not fit what it is loaded into."""

    def __init__(self, path: Any, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


# ----------------------------------------------------------------------------- raw files


def write_file(path: str | os.PathLike, arrays: dict[str, np.ndarray], meta: dict) -> None:
    """Atomically write ``arrays`` and JSON-able ``meta`` to ``path`` (exactly that name)."""
    path = Path(path)
    if META_KEY in arrays:
        raise ValueError(f"save: the array name {META_KEY!r} is reserved")
    meta = {"format": FORMAT, "version": FORMAT_VERSION, "library": __version__, **meta}
    entries = {k: np.asarray(v) for k, v in arrays.items()}
    entries[META_KEY] = np.array(json.dumps(meta))
    directory = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual file mode
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **entries)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def read_file(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], dict]:
    """Read a file written by :func:`write_file`: ``(arrays, metadata)``.

    Raises ``FileNotFoundError`` for a missing file and :class:`CheckpointError` for a
    truncated, corrupt or foreign one.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            raise CheckpointError(path, "not a tinygrad_nn file (a single .npy array, not an .npz)")
        with loaded as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError) as err:
        if isinstance(err, CheckpointError):
            raise
        raise CheckpointError(path, f"not a readable tinygrad_nn file ({err})") from None
    if META_KEY not in arrays:
        raise CheckpointError(path, "not a tinygrad_nn file (no metadata entry)")
    try:
        meta = json.loads(str(arrays.pop(META_KEY)))
    except json.JSONDecodeError as err:
        raise CheckpointError(path, f"metadata is not valid JSON ({err})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(path, "not a tinygrad_nn file (wrong format tag)")
    version = meta.get("version", 0)
    if not isinstance(version, int) or isinstance(version, bool):
        raise CheckpointError(path, f"metadata has an invalid format version {version!r}")
    if version > FORMAT_VERSION:
        raise CheckpointError(
            path,
            f"written by a newer format (version {meta.get('version')}); "
            f"this library reads up to {FORMAT_VERSION}",
        )
    return arrays, meta


# ----------------------------------------------------------------------------- models


def _class_path(obj: Any) -> str:
    """``obj``'s class as the shortest import path that reaches it (``tinygrad_nn.nn.MLP``)."""
    cls = type(obj)
    module = cls.__module__
    while "." in module:
        parent = module.rpartition(".")[0]
        if getattr(importlib.import_module(parent), cls.__qualname__, None) is not cls:
            break
        module = parent
    return f"{module}.{cls.__qualname__}"


def save(obj: Any, path: str | os.PathLike, **metadata: Any) -> None:
    """Save a Module (or a fitted ``MLPClassifier``) to ``path``, atomically.

    The metadata records the class and its ``config()``, so :func:`load` can rebuild the
    package's own modules; extra keyword arguments are stored as JSON metadata
    (``load_state`` returns them under ``"user"``).
    """
    if isinstance(obj, Module):
        arrays = obj.state_dict()
        meta = {"kind": "module", "class": _class_path(obj), "config": obj.config()}
    elif hasattr(obj, "_checkpoint_payload"):
        arrays, meta = obj._checkpoint_payload()
        meta["class"] = _class_path(obj)
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
    if not isinstance(name, str) or not name:
        raise CheckpointError(path, "the metadata names no class")
    if "." not in name:  # files written by version 0.1 name the class alone
        home = "nn" if meta.get("kind") == "module" else "estimator"
        name = f"tinygrad_nn.{home}.{name}"
    module, _, attr = name.rpartition(".")
    if module != "tinygrad_nn" and not module.startswith("tinygrad_nn."):
        raise CheckpointError(path, f"holds a custom module {attr!r}; {_CUSTOM}")
    try:
        cls = getattr(importlib.import_module(module), attr)
    except ModuleNotFoundError as err:
        if getattr(err, "name", "").startswith("tinygrad_nn"):
            raise CheckpointError(path, f"names an unknown class {name!r}") from None
        raise
    except AttributeError:
        raise CheckpointError(path, f"names an unknown class {name!r}") from None
    if not isinstance(cls, type) or not hasattr(cls, "_from_checkpoint"):
        raise CheckpointError(path, f"names {name!r}, which cannot be loaded")
    return cls


def load(path: str | os.PathLike) -> Any:
    """Rebuild what :func:`save` wrote: a module of this package (``MLP``, ``Linear``, ...)
    or a fitted estimator. A file holding your own Module class raises
    :class:`CheckpointError` pointing to :func:`load_state`."""
    arrays, meta = read_file(path)
    kind = meta.get("kind")
    if kind not in ("module", "estimator"):
        raise CheckpointError(path, f"holds a {kind!r}; load it with the function that wrote it")
    cls = _saved_class(path, meta)
    if kind == "module" and not isinstance(meta.get("config"), dict):
        raise CheckpointError(path, f"holds a custom module {cls.__name__!r}; {_CUSTOM}")
    try:
        return cls._from_checkpoint(arrays, meta)
    except (KeyError, TypeError, ValueError) as err:
        if isinstance(err, CheckpointError):
            raise
        raise CheckpointError(path, f"does not match its own metadata ({err})") from None

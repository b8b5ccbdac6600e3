"""Training checkpoints: what ``fit`` saves, and the check that a resume continues the same run.

A checkpoint holds the model, the optimizer's state, the random generator's state, the
history, the epoch reached and every setting that changes the numbers (see
:func:`run_settings`). Resuming with any of those settings changed would silently mix two
runs, so :func:`resume` refuses it with one line naming each setting that differs. The
number of epochs is the one setting that may change: without a learning-rate schedule,
training on from epoch k gives exactly the run a longer (or shorter, if k is not past it)
run from scratch would, so the run is extended; with a schedule (which depends on the
number of epochs) it is refused like any other change.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .archive import CheckpointError, read_file, write_file

__all__ = [
    "generator_from_state",
    "generator_state",
    "model_arrays",
    "restore_training_state",
    "resume",
    "run_settings",
    "save_checkpoint",
    "training_state",
]

_BIT_GENERATORS = ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")
_MISSING = object()
_SIMPLE = (int, float, str, bool, type(None))


def generator_state(rng: np.random.Generator) -> dict[str, Any]:
    """The state of ``rng`` as plain JSON values (arrays become lists)."""

    def plain(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, np.ndarray):
            return value.tolist()
        return value.item() if isinstance(value, np.generic) else value

    return plain(rng.bit_generator.state)


def generator_from_state(state: Any) -> np.random.Generator:
    """A ``np.random.Generator`` in the state :func:`generator_state` recorded.

    Only numpy's own bit generators are accepted; a bad state raises ``ValueError``.
    """
    name = state.get("bit_generator") if isinstance(state, dict) else None
    if name not in _BIT_GENERATORS:
        raise ValueError(f"unknown random generator {name!r:.40}")
    bits = getattr(np.random, name)()
    try:
        bits.state = state
    except (TypeError, ValueError, KeyError, IndexError, OverflowError):
        raise ValueError(f"the saved {name} random generator state is invalid") from None
    return np.random.Generator(bits)


def describe(fn: Any) -> str | None:
    """A stable text for a schedule or augmentation: a dataclass's repr (it shows the
    numbers), else the function's qualified name with the simple values it closes over.

    Two closures of one function that capture other objects are not told apart: pass such
    settings to ``fit(settings=...)``.
    """
    if fn is None:
        return None
    if dataclasses.is_dataclass(fn):
        return repr(fn)
    if isinstance(fn, functools.partial):
        args = [a for a in (*fn.args, *fn.keywords.values()) if isinstance(a, _SIMPLE)]
        return f"{describe(fn.func)} with {args}"
    name = getattr(fn, "__qualname__", type(fn).__qualname__)
    name = f"{getattr(fn, '__module__', None) or type(fn).__module__}.{name}"
    cells = [c.cell_contents for c in getattr(fn, "__closure__", None) or ()]
    values = [v for v in cells if isinstance(v, _SIMPLE)]
    return f"{name} with {values}" if values else name


def fingerprint(*arrays: np.ndarray | None) -> str | None:
    """A short SHA-256 of the arrays' dtypes, shapes and bytes (None when all are None)."""
    if all(a is None for a in arrays):
        return None
    digest = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        digest.update(f"{a.dtype.str}{a.shape};".encode())
        digest.update(a.tobytes())
    return digest.hexdigest()[:16]


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (tuple, set)):
        return list(value)
    return str(value)


def run_settings(
    model: Any,
    optimizer: Any,
    data: tuple[np.ndarray, np.ndarray],
    valid: tuple[np.ndarray, np.ndarray] | None,
    epochs: int,
    schedule: Callable[[int], float] | None,
    augment: Any,
    extra: dict[str, Any],
    **numbers: Any,
) -> dict[str, Any]:
    """Every setting of a ``fit`` run that changes its numbers, as plain JSON values.

    The model's class and config (sizes, activation, dtype; or its parameters' shapes and
    dtypes when it has no config), the optimizer's type and float settings (lr, momentum,
    betas, ...), the schedule and augmentation (:func:`describe`), ``numbers`` (batch
    size, lambda, seed), fingerprints of the training and validation data, and ``extra``.
    """
    settings: dict[str, Any] = {"epochs": epochs, "model": type(model).__qualname__}
    config = model.config() if hasattr(model, "config") else None
    if config is None:
        settings["parameters"] = {
            name: [list(p.shape), str(p.dtype)] for name, p in model.named_parameters()
        }
    else:
        settings.update(config)
    settings["optimizer"] = type(optimizer).__qualname__
    for name in getattr(optimizer, "hyper", ()):
        value = getattr(optimizer, name)
        if isinstance(value, float):  # settings; integer hypers (Adam's t) are state
            settings[name] = value
    settings["schedule"] = describe(schedule)
    settings["augment"] = describe(augment)
    settings.update(numbers)
    settings["training data"] = fingerprint(*data)
    settings["validation data"] = None if valid is None else fingerprint(*valid)
    settings.update(extra)
    return json.loads(json.dumps(settings, default=_plain))


def training_state(model: Any, optimizer: Any) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """A model and its optimizer for a file: the arrays (``model:<name>``, ``optim:<key>``)
    and the optimizer's other settings as JSON (``{"optimizer": {...}}``)."""
    arrays = {f"model:{k}": v for k, v in model.state_dict().items()}
    opt_state = optimizer.state_dict()
    arrays.update({f"optim:{k}": v for k, v in opt_state.items() if isinstance(v, np.ndarray)})
    settings = {k: v for k, v in opt_state.items() if not isinstance(v, np.ndarray)}
    return arrays, {"optimizer": settings}


def model_arrays(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The model's state dict inside arrays written by :func:`training_state`."""
    return {k[6:]: v for k, v in arrays.items() if k.startswith("model:")}


def restore_training_state(arrays: dict, meta: dict, model: Any, optimizer: Any) -> None:
    """Load what :func:`training_state` wrote back into ``model`` and ``optimizer``."""
    model.load_state_dict(model_arrays(arrays))
    opt_state = dict(meta["optimizer"])
    opt_state.update({k[6:]: v for k, v in arrays.items() if k.startswith("optim:")})
    optimizer.load_state_dict(opt_state)


def save_checkpoint(path, model, optimizer, rng, history, epoch, settings) -> None:
    """Write the model, optimizer, random state, history, epoch and settings to ``path``."""
    arrays, meta = training_state(model, optimizer)
    meta.update(
        kind="checkpoint",
        epoch=epoch,
        settings=settings,
        rng=generator_state(rng),
        history=history.to_dict(),
    )
    write_file(path, arrays, meta)


def _show(value: Any) -> str:
    text = "not recorded" if value is _MISSING else json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."


def check_settings(path: Any, saved: Any, now: dict[str, Any], done: int) -> None:
    """Refuse (one line naming every differing setting) unless going on from epoch ``done``
    of a run with ``saved`` settings gives the same numbers as a fresh run with ``now``."""
    if not isinstance(saved, dict):
        raise CheckpointError(path, "records no training settings; delete it to train afresh")
    keys = [*now, *(k for k in saved if k not in now)]
    differ = [k for k in keys if k != "epochs" and saved.get(k, _MISSING) != now.get(k, _MISSING)]
    extend = ""
    if saved.get("epochs", _MISSING) != now["epochs"]:
        if now.get("schedule") is not None:
            differ.insert(0, "epochs")
            extend = " (its learning-rate schedule depends on the number of epochs)"
        elif done > now["epochs"]:
            raise CheckpointError(
                path,
                f"has already trained {done} epochs, more than the {now['epochs']} asked for; "
                "delete it to train afresh",
            )
    if differ:
        parts = [
            f"{k} {_show(now.get(k, _MISSING))} (checkpoint: {_show(saved.get(k, _MISSING))})"
            for k in differ
        ]
        raise CheckpointError(
            path,
            f"was trained with other settings{extend}: {'; '.join(parts)}; "
            "delete it to train afresh",
        )


def resume(path: str | Path, model: Any, optimizer: Any, settings: dict[str, Any]) -> tuple:
    """Load a checkpoint into ``model`` and ``optimizer`` after :func:`check_settings`;
    returns ``(epoch, history dict, random generator)``."""
    arrays, meta = read_file(path)
    if meta.get("kind") != "checkpoint":
        raise CheckpointError(path, "is not a training checkpoint")
    done = meta.get("epoch")
    if not isinstance(done, int) or isinstance(done, bool) or done < 0:
        raise CheckpointError(path, f"records an invalid epoch {done!r:.40}")
    check_settings(path, meta.get("settings"), settings, done)
    try:
        restore_training_state(arrays, meta, model, optimizer)
        rng = generator_from_state(meta["rng"])
        history = {str(k): [float(x) for x in v] for k, v in dict(meta["history"]).items()}
    except KeyError as err:
        raise CheckpointError(path, f"lacks the entry {err}") from None
    except (ValueError, TypeError) as err:
        raise CheckpointError(path, f"does not fit this model or optimizer: {err}") from None
    return done, history, rng

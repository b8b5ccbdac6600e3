"""The file format's raw layer: ``write_file`` and ``read_file``; never pickle.

A file is an ``.npz`` (a zip of ``.npy`` entries) with JSON metadata in the entry
``__meta__`` (a 0-d unicode array) holding ``{"format": "tinygrad_nn", "version": ...}``.
``write_file`` writes a temporary file in the same folder and ``os.replace``s it onto the
target, so a crash midway leaves the previous file intact.

``read_file`` trusts nothing in the file. Before it decompresses or allocates anything it
reads the zip's directory and each entry's ``.npy`` header and refuses: entries that hold
Python objects (they could only be unpickled), sizes that disagree with the zip's record,
entries that together would take more than :data:`MAX_EXPANSION` times the file's size in
memory (plus 1 MiB), metadata larger than :data:`MAX_META_BYTES` or nested deeper than
:data:`MAX_JSON_DEPTH`. Every refusal is a :class:`CheckpointError`.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import struct
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from .version import __version__

__all__ = [
    "CheckpointError",
    "FORMAT_VERSION",
    "MAX_EXPANSION",
    "MAX_JSON_DEPTH",
    "MAX_META_BYTES",
    "read_file",
    "temp_files",
    "write_file",
]

FORMAT = "tinygrad_nn"
FORMAT_VERSION = 2  # 2: "class" is an import path (tinygrad_nn.nn.MLP)
META_KEY = "__meta__"
MAX_EXPANSION = 16  # the entries may take at most this many times the file's size in memory
SLACK_BYTES = 1 << 20  # ... plus this, so that tiny compressed files are not refused
MAX_META_BYTES = 16 << 20
MAX_JSON_DEPTH = 64
_KINDS = "biufcSU"  # bool, integers, floats, complex, bytes and text: no objects, no records
_TEMP_SUFFIX = ".tmp"


class CheckpointError(ValueError):
    """A file that is truncated, foreign, hostile, or does not fit what it is loaded into.

    ``path`` is the file and ``reason`` says what is wrong with it; ``str(err)`` is
    ``"<path>: <reason>"``. It survives pickling (a worker process can raise it).
    """

    def __init__(self, path: Any, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason

    def __reduce__(self) -> tuple:
        return type(self), (self.path, self.reason)


# ----------------------------------------------------------------------------- writing


def write_file(path: str | os.PathLike, arrays: dict[str, np.ndarray], meta: dict) -> None:
    """Atomically write ``arrays`` and JSON-able ``meta`` to ``path`` (exactly that name).

    The temporary file is ``.<name>.<random>.tmp`` in the same folder (see
    :func:`temp_files`); it is removed when writing fails.
    """
    path = Path(path)
    if META_KEY in arrays:
        raise ValueError(f"save: the array name {META_KEY!r} is reserved")
    meta = {"format": FORMAT, "version": FORMAT_VERSION, "library": __version__, **meta}
    entries = {k: np.asarray(v) for k, v in arrays.items()}
    entries[META_KEY] = np.array(json.dumps(meta))
    directory = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=_TEMP_SUFFIX)
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


def temp_files(folder: str | os.PathLike) -> list[Path]:
    """The temporary files :func:`write_file` left in ``folder`` when its process was killed
    (``.<name>.<random>.tmp``), sorted; only safe to delete while no one writes there."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted(
        p
        for p in folder.iterdir()
        if p.name.startswith(".") and p.name.endswith(_TEMP_SUFFIX) and p.is_file()
    )


# ----------------------------------------------------------------------------- reading

_DAMAGED = "is truncated or damaged (its zip structure cannot be read)"
# the zip and npy readers raise these on malformed input
_READ_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    EOFError,
    OSError,
    struct.error,
    NotImplementedError,
    RuntimeError,
    UnicodeError,
    ValueError,
)


def read_file(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], dict]:
    """Read a file written by :func:`write_file`: ``(arrays, metadata)``.

    Raises ``FileNotFoundError`` for a missing file and :class:`CheckpointError` for one
    that is truncated, corrupt, foreign or hostile (see the module docstring for the
    limits), always before allocating more than the limits allow.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    if path.is_dir():
        raise CheckpointError(path, "is a folder, not a file")
    with open(path, "rb") as f:
        head = f.read(6)
    if not head:
        raise CheckpointError(path, "is empty")
    if head == b"\x93NUMPY":
        raise CheckpointError(path, "is a single .npy array, not a tinygrad_nn file")
    if not head.startswith(b"PK"):
        raise CheckpointError(path, "is not a tinygrad_nn file (not an .npz archive)")
    try:
        with zipfile.ZipFile(path) as zf:
            infos = _check_directory(path, zf, path.stat().st_size)
            arrays = {key: _read_entry(path, zf, key, info) for key, info in infos.items()}
    except CheckpointError:
        raise
    except _READ_ERRORS:
        raise CheckpointError(path, _DAMAGED) from None
    if META_KEY not in arrays:
        raise CheckpointError(path, "is not a tinygrad_nn file (it has no metadata entry)")
    return arrays, _parse_meta(path, arrays.pop(META_KEY))


def _check_directory(path: Path, zf: zipfile.ZipFile, file_size: int) -> dict[str, Any]:
    """The entries by array name, after checking names, compression and total size."""
    infos: dict[str, zipfile.ZipInfo] = {}
    for info in zf.infolist():
        name = info.filename
        if not name.endswith(".npy"):
            raise CheckpointError(path, f"holds an entry {name!r} that is not a numpy array")
        key = name[: -len(".npy")]
        if key in infos:
            raise CheckpointError(path, f"holds two entries named {key!r}")
        if info.flag_bits & 0x1:
            raise CheckpointError(path, f"entry {key!r} is encrypted")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise CheckpointError(path, f"entry {key!r} uses a compression this reader lacks")
        infos[key] = info
    total = sum(info.file_size for info in infos.values())
    limit = MAX_EXPANSION * file_size + SLACK_BYTES
    if total > limit:
        raise CheckpointError(
            path,
            f"its entries would take {total} bytes in memory, more than {MAX_EXPANSION} times "
            f"the file's {file_size} bytes; refused before reading them",
        )
    meta = infos.get(META_KEY)
    if meta is not None and meta.file_size > MAX_META_BYTES:
        raise CheckpointError(
            path, f"its metadata takes {meta.file_size} bytes, more than {MAX_META_BYTES}"
        )
    return infos


def _read_header(f: Any) -> tuple[tuple[int, ...], bool, np.dtype]:
    version = np.lib.format.read_magic(f)
    if version == (1, 0):
        return np.lib.format.read_array_header_1_0(f)
    if version == (2, 0):
        return np.lib.format.read_array_header_2_0(f)
    raise ValueError(f"npy format version {version}")


def _read_entry(path: Path, zf: zipfile.ZipFile, key: str, info: zipfile.ZipInfo) -> np.ndarray:
    """One entry's array, read only after its header agrees with the zip's record."""
    with zf.open(info) as f:
        try:
            shape, _, dtype = _read_header(f)
        except _READ_ERRORS:
            raise CheckpointError(path, f"entry {key!r} is not a readable numpy array") from None
        if dtype.hasobject:
            raise CheckpointError(
                path,
                f"entry {key!r} holds Python objects, which could only be read by unpickling; "
                "this library never unpickles",
            )
        if dtype.kind not in _KINDS or dtype.fields is not None or dtype.subdtype is not None:
            raise CheckpointError(path, f"entry {key!r} has an unsupported type {dtype}")
        data_bytes = math.prod(shape) * dtype.itemsize
        if f.tell() + data_bytes != info.file_size:
            raise CheckpointError(
                path,
                f"entry {key!r} is damaged: its header describes {data_bytes} bytes of data, "
                f"the archive holds {info.file_size - f.tell()}",
            )
    with zf.open(info) as f:
        try:
            return np.lib.format.read_array(f, allow_pickle=False)
        except _READ_ERRORS:
            raise CheckpointError(path, f"entry {key!r} is truncated or damaged") from None


_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)


def _json_depth(text: str) -> int:
    """How deeply ``[`` and ``{`` nest in ``text`` (brackets inside strings do not count)."""
    skeleton = np.frombuffer(_JSON_STRING.sub("", text).encode("utf-8", "replace"), np.uint8)
    steps = np.isin(skeleton, (ord("["), ord("{"))).astype(np.int64)
    steps -= np.isin(skeleton, (ord("]"), ord("}")))
    return int(np.cumsum(steps).max(initial=0))


def _parse_meta(path: Path, entry: np.ndarray) -> dict:
    if entry.ndim != 0 or entry.dtype.kind != "U":
        raise CheckpointError(path, "is not a tinygrad_nn file (its metadata is not text)")
    text = str(entry)
    if _json_depth(text) > MAX_JSON_DEPTH:
        raise CheckpointError(path, f"its metadata is nested more than {MAX_JSON_DEPTH} deep")
    try:
        meta = json.loads(text)
    except (ValueError, RecursionError):
        raise CheckpointError(path, "its metadata is not valid JSON") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(path, "is not a tinygrad_nn file (wrong format tag)")
    version = meta.get("version", 0)
    if not isinstance(version, int) or isinstance(version, bool):
        raise CheckpointError(path, f"its metadata has an invalid format version {version!r:.40}")
    if version > FORMAT_VERSION:
        raise CheckpointError(
            path,
            f"was written by a newer format (version {version}); "
            f"this library reads up to {FORMAT_VERSION}",
        )
    return meta

"""The run folder of ``tinygrad-nn digits``: one run at a time, no stale temporary files.

:func:`locked` holds the folder's lock file ``.tinygrad-nn.lock``, which records the owner's
pid, with an exclusive ``flock``. The system releases that lock when the owner exits, however
it exits, so a lock file left behind by a dead process is simply taken over. A second run on
a folder in use raises :class:`FolderInUseError` naming the owner's pid. While the lock is
held, :func:`clean_temp_files` removes the temporary files a killed run left behind.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from ..archive import temp_files

try:
    import fcntl
except ImportError:  # Windows: the lock file alone, without taking over stale ones
    fcntl = None

__all__ = ["LOCK_NAME", "FolderInUseError", "clean_temp_files", "locked"]

LOCK_NAME = ".tinygrad-nn.lock"
_HELD: dict[Path, int] = {}  # folders this process has locked, and how many times


class FolderInUseError(RuntimeError):
    """Another process holds the run folder's lock; ``pid`` is its process id (or None)."""

    def __init__(self, folder: str | os.PathLike, pid: int | None) -> None:
        owner = f"pid {pid}" if pid else "another process"
        super().__init__(
            f"{folder}: in use by another tinygrad-nn run ({owner}); "
            "wait for it to end or choose another --out"
        )
        self.folder = folder
        self.pid = pid

    def __reduce__(self) -> tuple:
        return type(self), (self.folder, self.pid)


def _owner(fd: int) -> int | None:
    os.lseek(fd, 0, os.SEEK_SET)
    text = os.read(fd, 32).decode("ascii", "replace").strip()
    return int(text) if text.isdigit() else None


def _acquire(folder: Path, path: Path) -> int:
    """An open descriptor of ``path`` holding its lock; raises FolderInUseError."""
    if fcntl is None:
        try:
            return os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            raise FolderInUseError(folder, None) from None
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _owner(fd)
            os.close(fd)
            raise FolderInUseError(folder, pid) from None
        # the previous owner may have removed the file between our open and flock
        with contextlib.suppress(FileNotFoundError):
            if os.path.samestat(os.fstat(fd), os.stat(path)):
                return fd
        os.close(fd)


@contextlib.contextmanager
def locked(folder: str | os.PathLike) -> Iterator[Path]:
    """Hold ``folder``'s lock for the ``with`` block (re-entrant within one process); yields
    the lock file's path. Raises :class:`FolderInUseError` if another process holds it."""
    folder = Path(folder)
    key = folder.resolve()
    if key in _HELD:
        _HELD[key] += 1
        try:
            yield folder / LOCK_NAME
        finally:
            _HELD[key] -= 1
        return
    path = folder / LOCK_NAME
    fd = _acquire(folder, path)
    _HELD[key] = 1
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode("ascii"))
        yield path
    finally:
        del _HELD[key]
        with contextlib.suppress(OSError):
            os.unlink(path)  # before closing: the lock is released only after
        os.close(fd)


def clean_temp_files(folder: str | os.PathLike) -> list[Path]:
    """Remove the temporary files a killed run left in ``folder`` and its ``checkpoints``;
    returns them. Call it only while holding the folder's lock."""
    folder = Path(folder)
    stale = [*temp_files(folder), *temp_files(folder / "checkpoints")]
    for path in stale:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    return stale

"""Files the project writes: paths from outside values kept inside their folder, private folders and files,
and writes that readers see whole (the old content or the new, never a part) and that survive a crash.
"""
from __future__ import annotations

import fcntl
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def inside(root: str | Path, *parts: str) -> Path:
    """`root / parts`, resolved; ValueError when the result is not inside `root` (`..`, absolute parts, links)."""
    base = Path(root).resolve()
    path = base.joinpath(*parts).resolve()
    if path != base and base not in path.parents:
        raise ValueError(f"path {os.path.join(*parts)!r} leaves {base}")
    return path


def private_dir(path: str | Path) -> Path:
    """Create a folder (and its parents) readable by its owner only; an existing one is made 0700."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)
    return path


def fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_durable(path: Path, data: bytes) -> None:
    """Write a new file and fsync it (a file no reader knows yet: a segment, a deletion file)."""
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def write_atomic(path: Path, data: bytes, mode: int | None = None) -> None:
    """Replace `path` atomically and durably: a temporary file beside it (with `mode` from its first byte, if
    given), fsync, rename, fsync the folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        if mode is not None:
            os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def write_private(path: Path, data: bytes) -> None:
    """`write_atomic` of a file readable by its owner only (0600), in a private folder."""
    private_dir(path.parent)
    write_atomic(path, data, 0o600)


def append_private(path: Path, data: bytes) -> None:
    """Append `data` in one write and fsync it; the file is created 0600."""
    private_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        written = os.write(fd, data)
        if written != len(data):
            raise OSError(f"short write to {path}: {written} of {len(data)} bytes")
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """An exclusive lock on the file `path` (created 0600), across processes of this machine."""
    private_dir(path.parent)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)

"""Paths built from outside values stay inside their folder."""
from __future__ import annotations

import os
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
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    return path

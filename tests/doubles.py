"""Test doubles: stand-ins for failures that real components cannot be asked to produce on cue."""
from __future__ import annotations

import os


def crash_at_commit(batch_number: int):
    """A `before_commit` hook for index.writer.consume that kills the process (as kill -9 would) just
    before the commit of batch `batch_number`: nothing of that batch is committed or acknowledged."""
    def hook(number: int) -> None:
        if number >= batch_number:
            os._exit(1)
    return hook

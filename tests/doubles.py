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


def non_atomic_staff_searcher(index_dir):
    """A StaffSearcher whose refresh publishes a swap in two steps (the old run's rows out, then the new run's
    rows in), the bug an atomic swap guards against: a search from another thread in between sees the site
    missing. Used to show that the swap test can fail."""
    import time

    from index.search import StaffSearcher

    class NonAtomic(StaffSearcher):
        def _refresh(self):
            view = self._view
            real = view.changed

            def two_steps(remove, add):
                self._view = real(remove, [])  # the site is gone...
                time.sleep(0.02)               # ...for a moment
                return self._view.changed([], add)

            view.changed = two_steps
            return super()._refresh()

    return NonAtomic(index_dir)

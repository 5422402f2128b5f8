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
    """A StaffSearcher whose refresh publishes a swap in two steps (first a view without the sites whose
    run changed, then the new view), the bug an atomic swap guards against: a search from another thread
    in between sees the site missing. Used to show that the swap test can fail."""
    import copy
    import time

    from index.search import StaffSearcher

    class NonAtomic(StaffSearcher):
        def _refresh(self):
            old = self._view
            changed = super()._refresh()
            if changed:
                new = self._view
                runs = {(r.site, r.run_id) for r in new.ranges}
                half = copy.copy(old)  # the old view without the sites whose run changed...
                half.ranges = [r for r in old.ranges if (r.site, r.run_id) in runs]
                self._view = half
                time.sleep(0.02)       # ...for a moment
                self._view = new
            return changed

    return NonAtomic(index_dir)

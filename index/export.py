"""Every stored record, for audits and spreadsheets: the live staff rows of every site, every live post."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from index.post_search import PostSearcher
from index.search import StaffSearcher


def staff_rows(index_dir: str | Path) -> Iterator[dict]:
    """The live directory of every site, in organization order, each row as stored."""
    searcher = StaffSearcher(index_dir)
    view = searcher._view.view
    for rng in view.ranges:
        for i in range(rng.base, rng.end):
            yield view.row(rng, i)


def post_rows(index_dir: str | Path) -> Iterator[dict]:
    """Every live post, segment by segment (oldest first), each row as stored."""
    searcher = PostSearcher(index_dir)
    for part in searcher._parts:
        for i in range(part.seg.docs):
            if part.live[i]:
                yield part.seg.row(i)

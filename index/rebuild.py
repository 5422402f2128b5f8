"""The search caches from the store of record: staff snapshots and post segments written anew from Whoosh.

`nugo index --rebuild` rebuilds both (and the staff view merged from the snapshots); the writer, at
start, rebuilds what is missing or of an older format (a deleted snapshot of a live run, a staff view
missing or not of the live snapshots, a post segment of another version, no post segments while
records exist). Searchers pick the new files up on their next refresh.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from index.documents import stored_post
from index.post_store import MANIFEST, PostStore
from index.records import PostRecords
from index.runs import run_rows, snapshot_stem
from index.segment import StaleSegment
from index.snapshot import MAGIC, write_snapshot
from index.staff_view import update_view, view_current
from index.state import LiveState
from index.store import Store

logger = logging.getLogger(__name__)


@dataclass
class Rebuilt:
    snapshots: int = 0
    staff_rows: int = 0
    posts: int = 0


def _snapshot_paths(store: Store, site: str, stem: str) -> tuple[Path, Path]:
    folder = store.paths.site_snapshots(site)
    return folder / f"{stem}.rows", folder / f"{stem}.idx"


def _snapshot_ok(rows_path: Path, index_path: Path) -> bool:
    try:
        with open(index_path, "rb") as fh:
            return fh.read(len(MAGIC)) == MAGIC and rows_path.is_file()
    except OSError:
        return False


def rebuild_snapshots(store: Store, state: LiveState, *, only_missing: bool = False,
                      progress: Callable[[str], None] = logger.info) -> Rebuilt:
    """Write the snapshot of every live site from its run's rows in Whoosh (`only_missing`: of the
    sites whose snapshot is missing or unreadable)."""
    done = Rebuilt()
    changed = False
    for site, entry in sorted(state.sites.items()):
        run_id = entry.get("run_id")
        if not run_id:
            continue
        stem = entry.get("snapshot") or snapshot_stem(run_id)
        rows_path, index_path = _snapshot_paths(store, site, stem)
        if only_missing and _snapshot_ok(rows_path, index_path):
            continue
        rows = run_rows(store, run_id)
        if not rows:
            logger.error("site %s: live run %s has no rows in the store of record; its snapshot is not rebuilt",
                         site, run_id)
            continue
        write_snapshot(rows_path, index_path, rows)
        if entry.get("snapshot") != stem:
            entry["snapshot"], changed = stem, True
        done.snapshots += 1
        done.staff_rows += len(rows)
        progress(f"직원 스냅샷 {site}: {len(rows):,}명 / staff snapshot of {site}: {len(rows):,} rows")
    if changed or done.snapshots or not view_current(store.paths, state):
        update_view(store.paths, state)
        progress(f"직원 검색 파일 {state.view} / staff view {state.view}")
        state.save()  # searchers re-read the live map
    return done


def rebuild_posts(store: Store, records: PostRecords, progress: Callable[[str], None] = logger.info) -> PostStore:
    """Write every post segment anew from the records; the old segments go when the new manifest is written."""
    posts = PostStore(store.paths.posts, fresh=True)

    def stream():
        for n, record in enumerate(records.scan(), 1):
            if n % 50_000 == 0:
                progress(f"게시글 {n:,}건 / {n:,} posts")
            yield stored_post(record.row, record.first_seen_us, record.seq)

    count = posts.replace_all(stream(), records_block=records.last_block)
    progress(f"게시글 세그먼트 {len(posts.segments)}개, {count:,}건 / {count:,} posts in {len(posts.segments)} segments")
    return PostStore(store.paths.posts)


def apply_unreflected(records: PostRecords, posts: PostStore) -> int:
    """Bring the segments up to the records: the posts of the blocks after the segments' last one (a
    block committed just before a crash or a failed segment commit) whose segment version differs are
    written, in one segment commit; returns how many (nothing to do when the segments reflect the last block)."""
    if posts.records_block == records.last_block:
        return 0
    newer = records.latest(after=posts.records_block)
    held = posts.lookup(list(newer))
    changed = [stored_post(r.row, r.first_seen_us, r.seq) for post_id, r in newer.items()
               if post_id not in held or held[post_id].chash != r.chash]
    posts.commit(changed, [held[p.id] for p in changed if p.id in held], records_block=records.last_block)
    if changed:
        logger.warning("%d post(s) of the records were missing from the segments and are written now", len(changed))
    return len(changed)


def open_caches(store: Store, state: LiveState, records: PostRecords) -> PostStore:
    """The writer's start: rebuild missing snapshots, and the post segments when they cannot be opened
    or are missing while records exist; then the segments take the records' newest blocks if they lack
    them (apply_unreflected); returns the open post segments."""
    fixed = rebuild_snapshots(store, state, only_missing=True)
    if fixed.snapshots:
        logger.warning("rebuilt %d staff snapshot(s) from the store of record", fixed.snapshots)
    reason = None
    try:
        posts = PostStore(store.paths.posts)
    except (StaleSegment, OSError, ValueError, KeyError) as exc:
        reason = str(exc)
    else:
        if not (store.paths.posts / MANIFEST).exists() and not records.empty():
            reason = "no post segments"
    if reason is None:
        apply_unreflected(records, posts)
        return posts
    logger.warning("post segments are rebuilt from the store of record (%s)", reason)
    return rebuild_posts(store, records)


def rebuild(index_dir: str | Path, *, lock_wait: float = 0.0, progress: Callable[[str], None] = print) -> Rebuilt:
    """`nugo index --rebuild`: every cache anew, holding the writer lock (raises IndexerBusy)."""
    store = Store(index_dir)
    store.acquire_writer(wait=lock_wait)
    try:
        state = LiveState.load(store.paths)
        done = rebuild_snapshots(store, state, progress=progress)
        posts = rebuild_posts(store, PostRecords(store), progress=progress)
        done.posts = len(posts)
        return done
    finally:
        store.release_writer()

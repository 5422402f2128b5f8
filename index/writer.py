"""The single index writer: items stream -> Whoosh (the store of record) and the search caches,
committed before acknowledged."""
from __future__ import annotations

import logging
import shutil
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

import redis

from conf.keys import Keys
from conf.wire import BadEntry, RunEvent, decode_entry
from conf.defaults import HEALTHY_RATIO
from index.documents import post_doc, staff_doc
from index.post_store import PostStore
from index.rebuild import apply_unreflected, open_caches
from index.records import PostRecords
from index.runs import handle_run_event, purge_retired, write_stale_view
from index.state import LiveState
from index.stream import GROUP, Backoff, ensure_group, is_transient, read, trim
from index.store import STAFF, Store

logger = logging.getLogger(__name__)

@dataclass
class ConsumeStats:
    """What one consume() call did."""

    batches: int = 0
    read: int = 0
    staff: int = 0
    posts: int = 0
    runs: int = 0
    swapped: int = 0
    dropped: int = 0
    late: int = 0
    bad: int = 0
    acked: int = 0
    recovered: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return asdict(self)


def _text(value) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else ("" if value is None else str(value))


class _Batch:
    """Applies stream entries: documents pend by unique key, committed before anything is acked."""

    def __init__(self, store: Store, records: PostRecords, posts: PostStore, state: LiveState, stats: ConsumeStats, *,
                 client, prefix, healthy_ratio, sites: set[str] | None, before_commit=None):
        self.store, self.records, self.posts, self.state, self.stats = store, records, posts, state, stats
        self.client, self.prefix, self.healthy_ratio = client, prefix, healthy_ratio
        self.sites = sites
        self.before_commit = before_commit
        self.staff: dict[str, dict] = {}  # unique key -> Whoosh document
        self.post_items: dict[str, tuple[dict, str]] = {}  # post id -> (item, run id), the last delivery
        self.now_us = int(datetime.now(timezone.utc).timestamp() * 1_000_000)
        self.committed_posts: list[dict] = []  # rows (with first_seen) of the posts this batch committed

    def commit(self) -> None:
        """Write the pending staff rows (the last version of each key: Whoosh would keep both copies
        of a key added twice in one writer) and posts, each store committed durably."""
        if not self.staff and not self.post_items:
            return
        if self.before_commit is not None:
            self.before_commit(self.stats.batches + 1)
        if self.staff:
            ix = self.store.open(STAFF)
            with ix.reader() as reader:  # one lookup per key, cheaper than update_document's delete query
                present = [key for key in self.staff if ("key", key) in reader]
            writer = ix.writer()
            for key in present:
                writer.delete_by_term("key", key)
            for doc in self.staff.values():
                writer.add_document(**doc)
            writer.commit()
            self.store.sync(STAFF)
            self.staff.clear()
        if self.post_items:
            self._commit_posts()

    def _commit_posts(self) -> None:
        """Records first (one block), then segments. The segments reflect every block (see
        index.records), so a post is looked up in them: a re-delivered post keeps its first_seen; an
        unchanged one (only its run id differs) is not written again."""
        apply_unreflected(self.records, self.posts)
        ids = list(self.post_items)
        held_by_id = self.posts.lookup(ids)
        changed, replaced, rows = [], [], []
        for post_id, (item, run_id) in self.post_items.items():
            held = held_by_id.get(post_id)
            doc = post_doc(item, run_id, held.first_seen_us if held is not None else self.now_us)
            rows.append(doc.row)
            if held is not None and held.chash == doc.chash:
                continue
            if held is not None:
                replaced.append(held)
            changed.append(doc)
        if changed:
            first = self.posts.take_seq(len(changed))
            for k, doc in enumerate(changed):
                doc.seq = first + k
        block = self.records.write(changed)
        self.posts.commit(changed, replaced, records_block=block)
        self.committed_posts += rows
        self.post_items.clear()

    def close(self) -> None:
        pass

    def apply(self, entry_id: str, fields: dict) -> None:
        try:
            kind, item = decode_entry(fields)
        except BadEntry as exc:
            logger.warning("entry %s refused: %s", entry_id, exc)
            self.stats.bad += 1
            return
        site = item.site if isinstance(item, RunEvent) else item["site"]
        if self.sites is not None and site not in self.sites:
            logger.warning("entry %s refused: site %r is not configured", entry_id, site)
            self.stats.bad += 1
            return
        if isinstance(item, RunEvent):
            self.commit()  # the run's rows must be committed before the run is judged
            outcome = handle_run_event(self.store, self.state, item, healthy_ratio=self.healthy_ratio,
                                       client=self.client, prefix=self.prefix)
            self.stats.runs += 1
            self.stats.swapped += outcome == "live"
            self.stats.dropped += outcome in ("dropped", "flagged")
            if outcome != "seen":
                log_run_end(item, self.state.sites.get(item.site, {}), outcome)
            return
        run_id = item["run_id"]
        if kind == "staff":
            if run_id in self.state.outcomes:  # the run was judged already: its snapshot is immutable
                self.stats.late += 1
                return
            doc = staff_doc(item, run_id, entry_id)
            self.staff[doc["key"]] = doc
            self.stats.staff += 1
        else:
            post_id = item["id"]
            self.post_items.pop(post_id, None)  # the last delivery, in its stream position
            self.post_items[post_id] = (item, run_id)
            self.stats.posts += 1


RESULT_KO = {"live": "정상(교체)", "board": "정상", "dropped": "보류", "flagged": "경고"}


def log_run_end(event: RunEvent, entry: dict, outcome: str) -> None:
    """One line per run per site: site, result, pages, rows or posts, errors, seconds (and why, when refused)."""
    try:
        seconds = max(0.0, event.ended_at - float(event.run.get("started_at") or event.ended_at))
    except ValueError:
        seconds = 0.0
    rows = (entry.get("last_run") or {}).get("rows", 0) if event.kind != "board" else event.number("items")
    flag = (entry.get("flag") or {}).get("reason") if outcome in ("dropped", "flagged") else None
    logger.warning("수집 종료 site=%s result=%s(%s) pages=%d %s=%d errors=%d seconds=%.1f%s", event.site,
                   RESULT_KO.get(outcome, outcome), outcome, event.number("pages"),
                   "posts" if event.kind == "board" else "rows", rows, event.number("errors"), seconds,
                   f" reason={flag}" if flag else "")


def _stopped(stop) -> bool:
    if stop is None:
        return False
    return stop.is_set() if hasattr(stop, "is_set") else bool(stop())


def consume(client: redis.Redis, prefix: str, index_dir: str | Path, *, batch: int = 500, block_ms: int = 1000,
            stop=None, once: bool = False, healthy_ratio: float = HEALTHY_RATIO, consumer: str = "writer",
            lock_wait: float = 0.0, before_commit=None, on_commit=None, sites=None,
            trim_seconds: float = 5.0, max_seconds: float | None = None, heartbeat=None,
            min_free_mb: float = 0) -> ConsumeStats:
    """Index the items stream until `stop` (an Event or a callable) is set, or, with `once`, until
    the stream is drained. Entries are acknowledged only after their documents are committed, and
    entries every consumer group acknowledged are trimmed (at most every `trim_seconds`).

    Raises IndexerBusy when another writer holds the index (after waiting `lock_wait` seconds).
    A Redis outage of any length is waited out: the batch in hand is dropped (nothing was acknowledged)
    and read again from the pending entries when Redis is back; commits are idempotent.
    `sites`: the configured site ids (a set, or a callable returning the current set): entries of other
    sites are refused. `before_commit(batch_number)` is called before each commit (tests: a crash there).
    `max_seconds`: take no new batch after this long (a scheduled task; the next one continues).
    `heartbeat(**info)` is called on every turn. While the index's disk has less than `min_free_mb` free,
    nothing is read (so nothing is half-written or acknowledged) and the heartbeat says so.
    `on_commit(posts, sites)` is called with the committed post rows (first_seen included) and the writer's live
    state of the sites (index.state.LiveState.sites: baselines, flags) after each commit and before the
    acknowledgement, so a crash re-delivers them; it must be idempotent (the notifier is)."""
    started = time.monotonic()
    stream = Keys(prefix).items
    stats = ConsumeStats()
    store = Store(index_dir)
    store.acquire_writer(wait=lock_wait)
    backoff = Backoff("index writer")
    try:
        state = LiveState.load(store.paths)
        purge_retired(store, state)  # finish a swap interrupted by a crash
        records = PostRecords(store)
        posts = open_caches(store, state, records)  # rebuilt from the records when missing or of an older format
        cursor: str | None = "0-0"
        grouped = False
        last_trim = 0.0
        while not _stopped(stop):
            if max_seconds is not None and time.monotonic() - started >= max_seconds:
                break
            free_mb = shutil.disk_usage(store.paths.root).free / 2**20
            if heartbeat is not None:
                heartbeat(disk_free_mb=round(free_mb), batches=stats.batches)
            if free_mb < min_free_mb:
                logger.error("색인 디스크 여유 %.0f MB < %d MB: 쓰기 보류 / index disk has %.0f MB free, less than %d MB: "
                             "not writing until there is room", free_mb, min_free_mb, free_mb, min_free_mb)
                if once:
                    break
                backoff.failed(OSError("disk full"), stop)
                continue
            try:
                if not grouped:
                    ensure_group(client, stream)
                    grouped = True
                recovering = cursor is not None
                entries, cursor = read(client, stream, consumer, batch, None if once else block_ms, cursor)
                backoff.ok()
                if not entries:
                    if recovering:
                        continue
                    if once:
                        break
                    continue
                known = sites() if callable(sites) else sites
                job = _Batch(store, records, posts, state, stats, client=client, prefix=prefix, healthy_ratio=healthy_ratio,
                             sites=known, before_commit=before_commit)
                ids = []
                for entry_id, fields in entries:
                    entry_id = _text(entry_id)
                    ids.append(entry_id)
                    if fields:
                        job.apply(entry_id, fields)
                job.commit()
                write_stale_view(store, state)  # one staff view for all the swaps of the batch
                if on_commit and job.committed_posts:
                    on_commit(job.committed_posts, state.sites)
                stats.acked += client.xack(stream, GROUP, *ids)
                posts.maybe_merge()
                stats.batches += 1
                stats.read += len(entries)
                if recovering:
                    stats.recovered += len(entries)
                if time.monotonic() - last_trim >= trim_seconds:
                    trim(client, stream)
                    last_trim = time.monotonic()
            except Exception as exc:
                if not is_transient(exc):
                    raise
                backoff.failed(exc, stop)
                cursor, grouped = "0-0", False  # read what was in hand again from the pending entries
        if stats.acked:
            try:
                trim(client, stream)
            except Exception as exc:  # noqa: BLE001 - trimming is housekeeping; the next pass does it
                if not is_transient(exc):
                    raise
    finally:
        store.release_writer()
    stats.seconds = round(time.monotonic() - started, 3)
    return stats

"""The single index writer: items stream -> Whoosh (staff) and post segments, committed before acknowledged."""
from __future__ import annotations

import logging
import re
import shutil
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

import redis
from whoosh.writing import CLEAR

from conf.keys import Keys
from conf.timezone import SEOUL

from conf.wire import BadEntry, RunEvent, decode_entry
from index.post_store import NewPost, PostStore
from index.runs import handle_run_event, purge_retired
from index.state import LiveState
from index.stream import GROUP, Backoff, ensure_group, is_transient, read, trim
from index.store import POSTS, STAFF, Store
from index.text import POST_SEARCH_FIELDS, SEP, clean, fold

logger = logging.getLogger(__name__)

STAFF_TEXT = ("organization", "region", "org_kind", "url", "bureau", "department", "team", "position", "name",
              "phone", "duties", "email")
EXTRA_NAME = re.compile(r"[0-9A-Za-z_\uac00-\ud7a3]{1,20}")  # as conf.specs.EXTRA_NAME
POST_TEXT = ("organization", "region", "org_kind", "board_kind", "url", "title", "department", "author", "body")


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


def _seq(entry_id: str) -> list[int]:
    ms, _, n = entry_id.partition("-")
    return [int(ms), int(n or 0)]


def http_url(value) -> str:
    """A stored link: an http(s) URL, or empty (a file:, javascript: or data: link from a page never reaches a reader)."""
    url = clean(value)
    return url if re.match(r"(?i)https?://[^\s/]", url) else ""


def _lines(value) -> dict[str, list[str]]:
    """`lines` of a staff row: the items of its multi-line fields (field name -> texts)."""
    if not isinstance(value, dict):
        return {}
    out = {}
    for name, items in value.items():
        if name in STAFF_TEXT and isinstance(items, list):
            kept = [clean(i) for i in items[:200] if isinstance(i, str) and clean(i)]
            if kept:
                out[name] = kept
    return out


def _extra(value) -> dict[str, str]:
    """`extra` of a post: more fields by their (Korean) names, text values."""
    if not isinstance(value, dict):
        return {}
    return {name: clean(text)[:2000] for name, text in list(value.items())[:30]
            if isinstance(name, str) and EXTRA_NAME.fullmatch(name) and clean(text)}


def _attachment_links(value) -> list[dict]:
    """Attachments as {name, url} pairs; a URL that is not http(s) is kept empty (never a javascript: link)."""
    out = []
    for item in value if isinstance(value, list) else []:
        if isinstance(item, dict) and (clean(item.get("name")) or http_url(item.get("url"))):
            out.append({"name": clean(item.get("name")), "url": http_url(item.get("url"))})
    return out[:100]


def staff_doc(item: dict, run_id: str, entry_id: str) -> dict:
    row = {name: clean(item.get(name)) for name in STAFF_TEXT}
    row["url"] = http_url(item.get("url"))
    lines = _lines(item.get("lines"))
    if lines:
        row["lines"] = lines
    row.update(type="staff", id=str(item["id"]), site=str(item.get("site") or ""), run_id=run_id)
    return {"key": f"{run_id}:{row['id']}", "run_id": run_id, "seq": _seq(entry_id), "row": row}


def _parse_date(value) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=SEOUL)


def post_doc(item: dict, run_id: str, first_seen_us: int) -> NewPost:
    """The stored row (first_seen included) and searchable text of a post item."""
    first_seen = datetime.fromtimestamp(first_seen_us / 1_000_000, timezone.utc)
    row = {name: clean(item.get(name)) for name in POST_TEXT}
    row["url"] = http_url(item.get("url"))
    date = _parse_date(item.get("date"))
    row.update(type="post", id=str(item["id"]), site=str(item.get("site") or ""), run_id=run_id,
               post_id=clean(item.get("post_id")), date=date.isoformat() if date else None,
               attachments=[clean(a) for a in item.get("attachments") or [] if clean(a)],
               first_seen=first_seen.isoformat(timespec="microseconds"))
    for name, value in (("attachment_links", _attachment_links(item.get("attachment_links"))),
                        ("extra", _extra(item.get("extra"))), ("pinned", item.get("pinned") is True)):
        if value:
            row[name] = value
    extra = row.get("extra") if isinstance(row.get("extra"), dict) else {}
    text = SEP.join([*(fold(row[f]) for f in POST_SEARCH_FIELDS), " ".join(fold(str(v)) for v in extra.values())])
    return NewPost(id=row["id"], row=row, text=text,
                   date_sort=int((date or first_seen).timestamp()), first_seen_us=first_seen_us)


class _Batch:
    """Applies stream entries: documents pend by unique key, committed before anything is acked."""

    def __init__(self, store: Store, posts: PostStore, state: LiveState, stats: ConsumeStats, *, client, prefix,
                 healthy_ratio, sites: set[str] | None, before_commit=None):
        self.store, self.posts, self.state, self.stats = store, posts, state, stats
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
            self.staff.clear()
        if self.post_items:
            self._commit_posts()

    def _commit_posts(self) -> None:
        """New and changed posts go to a new segment; a re-delivered post keeps its first_seen, and
        an unchanged one (only its run id differs) is not written again."""
        stored = self.posts.lookup(list(self.post_items))
        new, replaced, rows = [], [], []
        for post_id, (item, run_id) in self.post_items.items():
            old = stored.get(post_id)
            doc = post_doc(item, run_id, old.first_seen_us if old else self.now_us)
            rows.append(doc.row)
            if old is not None:
                if old.chash == doc.chash:
                    continue
                replaced.append(old)
            new.append(doc)
        self.posts.commit(new, replaced)
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


def migrate_whoosh_posts(store: Store, posts: PostStore) -> int:
    """Move posts indexed by an older version (in the Whoosh `posts` index) into the post segments,
    first_seen kept; then empty the Whoosh index. Idempotent: a crash midway is finished next start."""
    ix = store.open(POSTS)
    if not ix.doc_count():
        return 0
    moved = {}
    with ix.searcher() as searcher:
        for stored in searcher.all_stored_fields():
            row = stored.get("row")
            if isinstance(row, dict) and row.get("id"):
                moved[str(row["id"])] = (row, int(stored.get("first_seen_us") or 0))
    present = posts.lookup(list(moved))
    docs = []
    for post_id, (row, first_us) in moved.items():
        if post_id in present:
            continue
        first_seen = datetime.fromtimestamp(first_us / 1_000_000, timezone.utc)
        date = _parse_date(row.get("date"))
        docs.append(NewPost(id=post_id, row=row, text=SEP.join(fold(row.get(f) or "") for f in POST_SEARCH_FIELDS),
                            date_sort=int((date or first_seen).timestamp()), first_seen_us=first_us))
    posts.commit(docs, [])
    writer = ix.writer()
    writer.commit(mergetype=CLEAR)
    logger.info("moved %d posts from the Whoosh posts index into post segments", len(docs))
    return len(docs)


def _stopped(stop) -> bool:
    if stop is None:
        return False
    return stop.is_set() if hasattr(stop, "is_set") else bool(stop())


def consume(client: redis.Redis, prefix: str, index_dir: str | Path, *, batch: int = 500, block_ms: int = 1000,
            stop=None, once: bool = False, healthy_ratio: float = 0.5, consumer: str = "writer",
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
    `on_commit(posts)` is called with the committed post rows (first_seen included) after each commit and
    before the acknowledgement, so a crash re-delivers them; it must be idempotent (the notifier is)."""
    started = time.monotonic()
    stream = Keys(prefix).items
    stats = ConsumeStats()
    store = Store(index_dir)
    store.acquire_writer(wait=lock_wait)
    backoff = Backoff("index writer")
    try:
        state = LiveState.load(store.paths)
        purge_retired(store, state)  # finish a swap interrupted by a crash
        posts = PostStore(store.paths.posts)
        migrate_whoosh_posts(store, posts)
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
                job = _Batch(store, posts, state, stats, client=client, prefix=prefix, healthy_ratio=healthy_ratio,
                             sites=known, before_commit=before_commit)
                ids = []
                for entry_id, fields in entries:
                    entry_id = _text(entry_id)
                    ids.append(entry_id)
                    if fields:
                        job.apply(entry_id, fields)
                job.commit()
                if on_commit and job.committed_posts:
                    on_commit(job.committed_posts)
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

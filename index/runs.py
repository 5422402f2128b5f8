"""End of a crawl run: switch a site's staff directory to a healthy run, or keep the old one and flag."""
from __future__ import annotations

import hashlib
import json
import logging
import re

from whoosh.query import Term

from conf.keys import Keys
from conf.wire import RunEvent
from conf.defaults import HEALTHY_RATIO

from index.snapshot import write_snapshot
from index.staff_view import update_view
from index.state import LiveState, utc_iso
from index.store import STAFF, Store

logger = logging.getLogger(__name__)

# run counters kept with a site's last run (status page, operator alerts)
RUN_FIGURES = ("pages", "items", "errors", "retries", "failed", "gave_up", "list_rows", "empty_lists", "not_modified",
               "bounds_hit", "bytes")


def snapshot_stem(run_id: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", run_id)[:80]
    return f"{safe}-{hashlib.sha1(run_id.encode('utf-8')).hexdigest()[:8]}"


def run_rows(store: Store, run_id: str) -> list[dict]:
    """The committed rows of a run, in stream order."""
    ix = store.open(STAFF)
    with ix.searcher() as searcher:
        hits = searcher.search(Term("run_id", run_id), limit=None, scored=False)
        docs = [(tuple(hit["seq"]), hit["row"]) for hit in hits]
    docs.sort(key=lambda d: d[0])
    return [row for _, row in docs]


def purge_retired(store: Store, state: LiveState) -> None:
    """Delete the Whoosh rows of retired runs (again after a crash: deletion is idempotent)."""
    if not state.retired:
        return
    writer = store.open(STAFF).writer()
    for run_id in state.retired:
        writer.delete_by_term("run_id", run_id)
    writer.commit()
    state.retired = []
    state.save()


def write_stale_view(store: Store, state: LiveState) -> bool:
    """Write the staff view of every live snapshot after the swaps `handle_run_event` made, and save
    the live map naming it (the switch searchers see); True when there was one to write."""
    if not state.view_stale:
        return False
    update_view(store.paths, state)
    state.view_stale = False
    state.save()
    return True


def _remove_stale_snapshots(store: Store, site: str, keep: set[str]) -> None:
    folder = store.paths.site_snapshots(site)
    for path in folder.glob("*"):
        if path.name.split(".")[0] not in keep and not path.name.startswith("."):
            path.unlink(missing_ok=True)


def _mirror_flag(client, prefix: str | None, site: str, flag: dict | None) -> None:
    if client is None or not prefix:
        return
    if flag:
        client.hset(Keys(prefix).flags, site, json.dumps(flag, ensure_ascii=False))
    else:
        client.hdel(Keys(prefix).flags, site)


def _iso(epoch) -> str | None:
    try:
        return utc_iso(float(epoch)) if epoch not in (None, "") else None
    except (TypeError, ValueError):
        return None


def judge(event: RunEvent, rows: int, live_rows: int, healthy_ratio: float) -> str | None:
    """The healthy-run rule, in one place: why a run must not be trusted, or None when it is healthy.

    Any run: it failed or was cancelled; every page failed; list pages matched no rows where rows
    were expected (layout changed?). A board run also: its list pages held no rows at all. A
    directory run also: it hit a crawl bound (pages, depth, list pages); pages stayed unreachable
    after every retry; it has no rows; it has fewer than `healthy_ratio` of the live rows."""
    rid = event.run_id
    if event.status != "finished":
        return f"run {rid} {event.status}" + (f": {event.reason}" if event.reason else "")
    pages, failed = event.number("pages"), event.number("failed") + event.number("gave_up")
    if not pages and failed:
        return f"run {rid} finished but every page failed ({failed} failed)"
    if event.number("empty_lists"):
        return f"run {rid} has {event.number('empty_lists')} list page(s) with no rows (layout changed?)"
    if event.kind == "board":
        if pages and "list_rows" in event.run and not event.number("list_rows") and not event.number("not_modified"):
            return f"run {rid} found no rows on any list page (layout changed?)"
        return None
    if event.number("bounds_hit"):  # a board's history may be longer than its bounds; a directory's may not
        return f"run {rid} stopped at a crawl bound ({event.run.get('bound') or 'max_pages/max_depth/max_list_pages'})"
    if event.number("gave_up"):
        return f"run {rid} finished but {event.number('gave_up')} page(s) could not be fetched after retries"
    if not rows:
        return f"run {rid} finished with 0 rows"
    if rows < healthy_ratio * live_rows:
        return f"run {rid} has {rows} rows, fewer than {healthy_ratio:.0%} of the {live_rows} live rows"
    return None


def handle_run_event(store: Store, state: LiveState, event: RunEvent, *, healthy_ratio: float = HEALTHY_RATIO,
                     client=None, prefix: str | None = None) -> str:
    """Apply a run event; returns "live", "dropped" (a refused directory run), "board", "flagged" (an
    unhealthy board run) or "seen" (already handled). A directory swap marks the staff view stale:
    `write_stale_view` writes it (the writer: once per batch) and saves the live map naming it."""
    run_id, site = event.run_id, event.site
    if run_id in state.outcomes:
        return "seen"
    ended_at = utc_iso(event.ended_at)
    entry = state.site(site)
    rows = run_rows(store, run_id)
    kind = event.kind or ("directory" if rows or entry.get("run_id") else "board")
    entry["last_run"] = {"run_id": run_id, "kind": kind, "status": event.status, "rows": len(rows), "ended_at": ended_at,
                         "started_at": _iso(event.run.get("started_at")), "slot": event.run.get("slot"),
                         "stats": {k: event.number(k) for k in RUN_FIGURES if k in event.run}}
    live_rows = entry.get("rows", 0) if entry.get("run_id") else 0
    reason = judge(event, len(rows), live_rows, healthy_ratio)
    flag = {"reason": reason, "run_id": run_id, "at": ended_at} if reason else None
    entry["last_run"]["reason"] = reason
    entry["last_run"]["outcome"] = ("flagged" if reason else "board") if kind == "board" else ("dropped" if reason else "live")

    if kind == "board":
        if reason is None:
            entry["healthy_at"] = ended_at
            if not entry.get("baseline"):
                # the board's first healthy crawl: its posts are the backlog, later ones are news
                entry["baseline"] = {"run_id": run_id, "ended_at": ended_at}
        entry["flag"] = flag
        state.outcomes[run_id] = "flagged" if reason else "board"
        state.save()
        _mirror_flag(client, prefix, site, flag)
        return state.outcomes[run_id]

    if reason:
        logger.warning("site %s: %s; the live rows stay", site, reason)
        entry["flag"] = flag
        state.outcomes[run_id] = "dropped"
        state.retired.append(run_id)
        state.save()
        _mirror_flag(client, prefix, site, flag)
        purge_retired(store, state)
        return "dropped"

    stem = snapshot_stem(run_id)
    folder = store.paths.site_snapshots(site)
    write_snapshot(folder / f"{stem}.rows", folder / f"{stem}.idx", rows)
    first = rows[0]
    old_run, old_stem = entry.get("run_id"), entry.get("snapshot")
    entry.update(run_id=run_id, rows=len(rows), snapshot=stem, previous=old_stem,
                 organization=first.get("organization"), region=first.get("region"),
                 org_kind=first.get("org_kind"), healthy_at=ended_at, flag=None)
    state.outcomes[run_id] = "live"
    if old_run:
        state.retired.append(old_run)
    state.view_stale = True  # searchers map the new rows once write_stale_view has written the view
    state.save()
    logger.info("site %s: run %s is live with %d rows (was %s)", site, run_id, len(rows), old_run)
    _mirror_flag(client, prefix, site, None)
    purge_retired(store, state)
    _remove_stale_snapshots(store, site, {stem, old_stem} - {None})
    return "live"

"""End of a crawl run: switch a site's staff directory to a healthy run, or keep the old one and flag."""
from __future__ import annotations

import hashlib
import json
import logging
import re

from whoosh.query import Term

from index.snapshot import write_snapshot
from index.state import LiveState, utc_iso
from index.store import STAFF, Store

logger = logging.getLogger(__name__)


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


def _remove_stale_snapshots(store: Store, site: str, keep: set[str]) -> None:
    folder = store.paths.snapshots / site
    for path in folder.glob("*"):
        if path.name.split(".")[0] not in keep and not path.name.startswith("."):
            path.unlink(missing_ok=True)


def _mirror_flag(client, prefix: str | None, site: str, flag: dict | None) -> None:
    if client is None or not prefix:
        return
    if flag:
        client.hset(f"{prefix}:flags", site, json.dumps(flag, ensure_ascii=False))
    else:
        client.hdel(f"{prefix}:flags", site)


def _failure_reason(client, prefix: str | None, run_id: str, status: str) -> str:
    detail = None
    if client is not None and prefix:
        detail = client.hget(f"{prefix}:run:{run_id}", "reason")
    detail = detail.decode("utf-8", "replace") if isinstance(detail, bytes) else detail
    return f"run {run_id} {status}" + (f": {detail}" if detail else "")


def _pages_given_up(client, prefix: str | None, run_id: str) -> int:
    """Pages of the run that stayed unreachable after every retry: its data may be incomplete."""
    if client is None or not prefix:
        return 0
    return int(client.hget(f"{prefix}:run:{run_id}", "gave_up") or 0)


def handle_run_event(store: Store, state: LiveState, event: dict, *, healthy_ratio: float = 0.5,
                     client=None, prefix: str | None = None) -> str:
    """Apply a run_end / run_failed event; returns "live", "dropped", "board" or "seen"."""
    run_id, site = str(event.get("run_id") or ""), str(event.get("site") or "")
    if not run_id or not site:
        logger.warning("run event without run id or site ignored: %r", event)
        return "seen"
    if run_id in state.outcomes:
        return "seen"
    status = event.get("status") or ("finished" if event.get("type") == "run_end" else "failed")
    ended = event.get("ended_at")
    ended_at = utc_iso(ended) if isinstance(ended, (int, float)) else (ended or utc_iso())
    entry = state.site(site)
    rows = run_rows(store, run_id)
    kind = event.get("kind") or ("directory" if rows or entry.get("run_id") else "board")
    entry["last_run"] = {"run_id": run_id, "kind": kind, "status": status, "rows": len(rows), "ended_at": ended_at}

    if kind == "board":
        flag = None
        if status != "finished":
            flag = {"reason": _failure_reason(client, prefix, run_id, status), "run_id": run_id, "at": ended_at}
        elif not entry.get("baseline"):
            # the board's first finished crawl: its posts are the backlog, later ones are news
            entry["baseline"] = {"run_id": run_id, "ended_at": ended_at}
        entry["flag"] = flag
        state.outcomes[run_id] = "board"
        state.save()
        _mirror_flag(client, prefix, site, flag)
        return "board"

    live_rows = entry.get("rows", 0) if entry.get("run_id") else 0
    gave_up = _pages_given_up(client, prefix, run_id)
    if status != "finished":
        reason = _failure_reason(client, prefix, run_id, status)
    elif gave_up:
        reason = f"run {run_id} finished but {gave_up} page(s) could not be fetched after retries"
    elif not rows:
        reason = f"run {run_id} finished with 0 rows"
    elif len(rows) < healthy_ratio * live_rows:
        reason = (f"run {run_id} has {len(rows)} rows, fewer than {healthy_ratio:.0%} "
                  f"of the {live_rows} live rows")
    else:
        reason = None

    if reason:
        logger.warning("site %s: %s; the live rows stay", site, reason)
        flag = {"reason": reason, "run_id": run_id, "at": ended_at}
        entry["flag"] = flag
        state.outcomes[run_id] = "dropped"
        state.retired.append(run_id)
        state.save()
        _mirror_flag(client, prefix, site, flag)
        purge_retired(store, state)
        return "dropped"

    stem = snapshot_stem(run_id)
    folder = store.paths.snapshots / site
    write_snapshot(folder / f"{stem}.rows", folder / f"{stem}.idx", rows)
    first = rows[0]
    old_run, old_stem = entry.get("run_id"), entry.get("snapshot")
    entry.update(run_id=run_id, rows=len(rows), snapshot=stem, previous=old_stem,
                 organization=first.get("organization"), region=first.get("region"),
                 org_kind=first.get("org_kind"), healthy_at=ended_at, flag=None)
    state.outcomes[run_id] = "live"
    if old_run:
        state.retired.append(old_run)
    state.save()  # the switch: searchers now load the new snapshot of this site
    logger.info("site %s: run %s is live with %d rows (was %s)", site, run_id, len(rows), old_run)
    _mirror_flag(client, prefix, site, None)
    purge_retired(store, state)
    _remove_stale_snapshots(store, site, {stem, old_stem} - {None})
    return "live"

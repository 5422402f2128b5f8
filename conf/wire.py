"""What crosses Redis between the crawlers and the index: the item stream's entries and the run events.

The stream `{prefix}:items` (conf.keys) holds entries of three fields, all text:

    type    "staff" | "post" | "run_end" | "run_failed"
    run_id  the crawl run the entry belongs to
    json    the item or event as one JSON object (UTF-8, never pickle)

Items are the records of `crawlers.extract` (`staff_record`, `post_record`): a dict with `type`,
`id` (stable), `site`, `run_id` and their fields. A run event is written by the frontier's Lua
script when the run ends (`crawlers.frontier_lua`, `end_run`); it carries everything the index
needs to judge the run, so the index never reads the crawler's run hash:

    {"type": "run_end"|"run_failed", "run_id", "site", "kind": "directory"|"board",
     "status": "finished"|"failed"|"cancelled", "ended_at": epoch seconds,
     "run": {every field of the run hash, as text: started_at, slot, reason, pages, items,
             errors, retries, failed, gave_up, empty_lists, bounds_hit, …}}

Whatever is read back is hostile input: `decode_entry` refuses anything that is not this shape.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from conf.keys import Keys, check_run_id, check_site

ITEM_TYPES = ("staff", "post")
RUN_EVENTS = ("run_end", "run_failed")
MAX_ENTRY_BYTES = 2_000_000  # larger JSON is refused (a page is capped at max_page_bytes before it is parsed)


class BadEntry(ValueError):
    """A stream entry that is not an item or event of this wire format."""


@dataclass
class RunEvent:
    """A run_end / run_failed event, decoded and validated."""

    type: str
    run_id: str
    site: str
    kind: str
    status: str
    ended_at: float
    run: dict[str, str] = field(default_factory=dict)

    def number(self, name: str) -> int:
        """A counter of the run (0 when absent or not a number)."""
        try:
            return int(float(self.run.get(name) or 0))
        except (TypeError, ValueError):
            return 0

    @property
    def reason(self) -> str | None:
        return self.run.get("reason") or None


def _text(value) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else ("" if value is None else str(value))


def item_fields(item: dict) -> dict[str, str]:
    """The stream fields of one item or event."""
    return {"type": str(item["type"]), "run_id": str(item.get("run_id") or ""),
            "json": json.dumps(item, ensure_ascii=False, separators=(",", ":"))}


def run_event(run_id: str, site: str, *, status: str = "finished", kind: str = "directory",
              ended_at: float | None = None, **run: Any) -> dict:
    """A run event as the frontier writes it (for tools and tests that stand in for a crawl)."""
    return {"type": "run_end" if status == "finished" else "run_failed", "run_id": run_id, "site": site, "kind": kind,
            "status": status, "ended_at": time.time() if ended_at is None else ended_at,
            "run": {k: str(v) for k, v in run.items()}}


def append(client, prefix: str, entries: list[dict]) -> None:
    """XADD items or events to the stream, in order (one round trip)."""
    stream = Keys(prefix).items
    pipe = client.pipeline(transaction=False)
    for entry in entries:
        pipe.xadd(stream, item_fields(entry))
    pipe.execute()


def decode_entry(fields: dict) -> tuple[str, dict | RunEvent]:
    """(type, item dict or RunEvent) of a stream entry; BadEntry when it is not one of ours."""
    kind = _text(fields.get(b"type") if b"type" in fields else fields.get("type"))
    raw = fields.get(b"json") if b"json" in fields else fields.get("json")
    if raw is None:
        raise BadEntry("no json field")
    if len(raw) > MAX_ENTRY_BYTES:
        raise BadEntry(f"entry of {len(raw)} bytes is larger than {MAX_ENTRY_BYTES}")
    try:
        item = json.loads(_text(raw))
    except ValueError as exc:
        raise BadEntry(f"not JSON ({exc})") from None
    if not isinstance(item, dict):
        raise BadEntry("JSON but not an object")
    kind = kind or str(item.get("type") or "")
    if kind in RUN_EVENTS:
        return kind, _run_event(kind, item)
    if kind not in ITEM_TYPES:
        raise BadEntry(f"unknown type {kind!r}")
    if not isinstance(item.get("id"), str) or not item["id"] or len(item["id"]) > 128:
        raise BadEntry("item without a valid id")
    try:
        check_site(str(item.get("site") or ""))
    except ValueError as exc:
        raise BadEntry(str(exc)) from None
    run_id = item.get("run_id") or _text(fields.get(b"run_id") if b"run_id" in fields else fields.get("run_id"))
    try:
        item["run_id"] = check_run_id(str(run_id))
    except ValueError as exc:
        raise BadEntry(str(exc)) from None
    return kind, item


def _run_event(kind: str, item: dict) -> RunEvent:
    try:
        run_id, site = check_run_id(str(item.get("run_id") or "")), check_site(str(item.get("site") or ""))
    except ValueError as exc:
        raise BadEntry(str(exc)) from None
    status = str(item.get("status") or ("finished" if kind == "run_end" else "failed"))
    if status not in ("finished", "failed", "cancelled"):
        raise BadEntry(f"unknown run status {status!r}")
    run = item.get("run") if isinstance(item.get("run"), dict) else {}
    try:
        ended_at = float(item.get("ended_at") or time.time())
    except (TypeError, ValueError):
        raise BadEntry(f"bad ended_at {item.get('ended_at')!r}") from None
    if ended_at != ended_at or ended_at in (float("inf"), float("-inf")):
        raise BadEntry("ended_at is not a finite number")
    kind_ = str(item.get("kind") or run.get("kind") or "")
    return RunEvent(kind, run_id, site, kind_ if kind_ in ("directory", "board") else "", status, ended_at,
                    {str(k): _text(v)[:2000] for k, v in run.items()})

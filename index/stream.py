"""The index writer's side of the item stream: its consumer group, reading, recovery and trimming."""
from __future__ import annotations

import logging
import time

import redis

from conf.connection import TRANSIENT, is_transient  # noqa: F401 (re-exported for the writer)

logger = logging.getLogger(__name__)

GROUP = "indexer"
def _text(value) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def ensure_group(client: redis.Redis, stream: str) -> None:
    """Create the consumer group (from the start of the stream) unless it exists."""
    try:
        client.xgroup_create(stream, GROUP, id="0", mkstream=True)
    except redis.ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


def read(client: redis.Redis, stream: str, consumer: str, batch: int, block_ms: int | None, cursor: str | None):
    """(entries, next recovery cursor). Recovery claims every pending entry (the writer lock says no other
    writer lives) in stream order; then new entries are read."""
    if cursor is not None:
        reply = client.xautoclaim(stream, GROUP, consumer, min_idle_time=0, start_id=cursor, count=batch)
        next_cursor, entries = _text(reply[0]), reply[1]
        deleted = reply[2] if len(reply) > 2 else []
        if deleted:
            client.xack(stream, GROUP, *deleted)
        return entries, (None if next_cursor == "0-0" else next_cursor)
    reply = client.xreadgroup(GROUP, consumer, {stream: ">"}, count=batch, block=block_ms)
    return (reply[0][1] if reply else []), None


def _seq(entry_id: str) -> tuple[int, int]:
    ms, _, n = entry_id.partition("-")
    return int(ms), int(n or 0)


def trim_point(client: redis.Redis, stream: str) -> str | None:
    """The smallest id some consumer group still needs: its oldest pending entry, or the entry after the
    last one it was given. None when the stream has no group yet (then nothing may go)."""
    try:
        groups = client.xinfo_groups(stream)
    except redis.ResponseError:  # no such stream
        return None
    if not groups:
        return None
    floor: tuple[int, int] | None = None
    for group in groups:
        name = _text(group["name"])
        if int(group.get("pending") or 0):
            bound = _seq(_text(client.xpending(stream, name)["min"]))
        else:
            ms, n = _seq(_text(group["last-delivered-id"]))
            bound = (ms, n + 1)
        floor = bound if floor is None else min(floor, bound)
    return f"{floor[0]}-{floor[1]}"


def trim(client: redis.Redis, stream: str) -> int:
    """Delete the entries every consumer group has acknowledged (XTRIM MINID); returns how many went.
    With `noeviction` an untrimmed stream grows until Redis refuses every write."""
    point = trim_point(client, stream)
    if point is None:
        return 0
    removed = int(client.xtrim(stream, minid=point, approximate=False))
    if removed:
        logger.debug("stream %s: %d acknowledged entries trimmed (kept from %s)", stream, removed, point)
    return removed


def lag(client: redis.Redis, stream: str) -> dict:
    """Entries in the stream, read but not acknowledged by the writer, and not yet read."""
    out = {"length": 0, "pending": 0, "unread": 0}
    try:
        out["length"] = int(client.xlen(stream))
        for group in client.xinfo_groups(stream):
            if _text(group["name"]) == GROUP:
                out["pending"] = int(group.get("pending") or 0)
                behind = group.get("lag")
                out["unread"] = int(behind) if behind is not None else out["length"] - out["pending"]
    except redis.ResponseError:
        pass
    return out


class Backoff:
    """Waits between reconnection attempts: 0.5 s doubling to `cap`, one log line per outage."""

    def __init__(self, what: str, cap: float = 10.0):
        self.what, self.cap = what, cap
        self.delay = 0.0
        self.since: float | None = None

    def failed(self, exc: BaseException, stop=None) -> None:
        if self.since is None:
            self.since = time.monotonic()
            logger.warning("%s: Redis unavailable (%s); waiting for it to come back / Redis 연결 끊김, 재접속 대기",
                           self.what, exc)
        self.delay = min(self.cap, max(0.5, self.delay * 2))
        if stop is not None and hasattr(stop, "wait"):
            stop.wait(self.delay)
        else:
            time.sleep(self.delay)

    def ok(self) -> None:
        if self.since is not None:
            logger.warning("%s: Redis back after %.0f s / Redis 재접속", self.what, time.monotonic() - self.since)
        self.since, self.delay = None, 0.0

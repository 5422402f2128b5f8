"""Heartbeats: each long-running process says every few seconds that it lives (and how much memory it uses)."""
from __future__ import annotations

import json
import os
import socket
import time

from conf.keys import Keys

TTL = 30          # seconds a heartbeat lives: a process silent for longer is gone
ROLES = ("crawl", "celery", "indexer", "scheduler", "web")


def process_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def memory_mb(children: bool = False) -> float:
    import psutil

    me = psutil.Process()
    total = me.memory_info().rss
    if children:
        for child in me.children(recursive=True):
            try:
                total += child.memory_info().rss
            except psutil.Error:
                pass
    return round(total / 2**20, 1)


def beat(client, prefix: str, role: str, name: str | None = None, ttl: int = TTL, **info) -> None:
    """Record that this process lives (JSON: role, host, pid, at, memory_mb and `info`)."""
    name = name or process_name()
    record = {"role": role, "name": name, "host": name.rsplit(":", 1)[0], "at": time.time(), **info}
    client.set(Keys(prefix).heartbeat(role, name), json.dumps(record, ensure_ascii=False), ex=ttl)


def alive(client, prefix: str, role: str | None = None) -> list[dict]:
    """Every live heartbeat (of one role), newest first."""
    keys = Keys(prefix)
    pattern = keys.heartbeat(role, "*") if role else keys.heartbeat_pattern
    found = []
    for key in client.scan_iter(match=pattern, count=500):
        raw = client.get(key)
        if raw:
            try:
                found.append(json.loads(raw))
            except ValueError:
                continue
    return sorted(found, key=lambda r: -float(r.get("at") or 0))


class Throttled:
    """A heartbeat sent at most every `every` seconds, whatever the caller's loop does."""

    def __init__(self, client, prefix: str, role: str, every: float = 5.0, ttl_seconds: int = TTL, **info):
        self.client, self.prefix, self.role, self.every, self.info = client, prefix, role, every, info
        self.ttl = ttl_seconds
        self._last = 0.0

    def __call__(self, **more) -> None:
        now = time.monotonic()
        if now - self._last >= self.every:
            self._last = now
            try:
                beat(self.client, self.prefix, self.role, ttl=self.ttl, memory_mb=memory_mb(), **{**self.info, **more})
            except Exception:  # noqa: BLE001 - a heartbeat never stops the work it reports on
                self._last = 0.0

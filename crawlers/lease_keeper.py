"""A worker's heartbeat for the work in its hands: it renews the leases it holds and the send slots of its downloads.

A lease is short (`lease_seconds`, 15 s by default) and lives as long as its worker works on it: every
`lease_renew_seconds` the worker's reactor pushes the deadline of each lease it holds, and the time-to-live of
each host slot it holds, `lease_seconds` ahead, in one Redis call each. A slow download keeps its lease and
its host; a worker killed with `kill -9` (or whose reactor hangs) stops renewing, so its requests go back to
the queue, and its hosts are free again, within `lease_seconds`.

A lease is held from the moment the queue hands it to Scrapy until the spider is done with its response or
failure (`hold` / `let_go`). One held longer than `max_hold_seconds` is a lease the spider lost track of: it
is no longer renewed, so it expires and is fetched again (at-least-once), instead of keeping its run open.
"""
from __future__ import annotations

import logging
import threading
import time

import redis

logger = logging.getLogger(__name__)


class LeaseKeeper:
    """The leases and send slots of one worker process, renewed from its reactor (`start`)."""

    def __init__(self, frontier, gate, worker: str, *, lease_seconds: float, renew_seconds: float | None = None,
                 max_hold_seconds: float = 180.0):
        self.frontier, self.gate, self.worker = frontier, gate, worker
        self.lease_seconds = float(lease_seconds)
        self.renew_seconds = float(renew_seconds or self.lease_seconds / 3)
        self.max_hold_seconds = float(max_hold_seconds)
        self.renewals = 0
        self._held: dict[str, float] = {}
        self._lock = threading.Lock()  # parsing threads let go of leases while the reactor renews them
        self._loop = None
        self._stopped = False
        self._logged = 0.0

    def hold(self, lease_id: str) -> None:
        with self._lock:
            self._held.setdefault(lease_id, time.monotonic())

    def let_go(self, lease_id: str) -> None:
        with self._lock:
            self._held.pop(lease_id, None)

    def held(self) -> list[str]:
        with self._lock:
            return list(self._held)

    def renew(self) -> None:
        """One heartbeat: every lease and send slot this worker holds gets `lease_seconds` more."""
        if self._stopped:
            return
        now = time.monotonic()
        with self._lock:
            stale = [lid for lid, since in self._held.items() if now - since > self.max_hold_seconds]
            for lid in stale:
                del self._held[lid]
            ids = list(self._held)
        for lid in stale:
            logger.warning("lease %s held for over %.0f s: no longer renewed (it will be fetched again)",
                           lid, self.max_hold_seconds)
        try:
            for lid in self.frontier.renew(self.worker, ids, self.lease_seconds):
                self.let_go(lid)
            self.gate.renew()
            self.renewals += 1
        except redis.RedisError as exc:  # Redis away: the leases may expire, and their pages are fetched again
            if now - self._logged > 10:
                self._logged = now
                logger.warning("could not renew leases (%s); they expire %.0f s after the last renewal",
                               exc, self.lease_seconds)

    def start(self) -> None:
        """Renew every `renew_seconds` from the reactor: a hung reactor renews nothing, so its work goes back."""
        from twisted.internet import task

        self._loop = task.LoopingCall(self.renew)
        self._loop.start(self.renew_seconds, now=False)

    def stop(self) -> None:
        """No more renewals (a stopping worker returns its leases itself)."""
        self._stopped = True
        if self._loop is not None and self._loop.running:
            self._loop.stop()

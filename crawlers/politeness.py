"""The send gate: the last word on politeness, around each download on every worker.

The frontier's lease already spaces requests per host, but a busy worker may put a leased request
on the wire some milliseconds late, so lease times alone cannot promise the spacing a site sees.
The gate can: a request to a host may start only when no other request to that host is in flight
anywhere in the cluster and `interval` seconds have passed since the previous one *finished*
(its response arrived, so it had certainly reached the site). Arrivals at the site are therefore
at least `interval` apart, whatever the workers' delays. A worker that dies holding a host's slot
frees it when the slot's time-to-live (download timeout + margin) runs out.
"""
from __future__ import annotations

import asyncio
import logging
import secrets
import time
from urllib.parse import urlsplit

from conf.keys import Keys

logger = logging.getLogger(__name__)

INTERVAL_CACHE_SECONDS = 5.0
BUSY_POLL = 0.02  # seconds between two looks at a slot held by another request

CLAIM = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local holder = KEYS[1] .. ':' .. ARGV[1]
if redis.call('EXISTS', holder) == 1 then return '-1' end
local done = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')
local ready = done + tonumber(ARGV[2])
if now < ready then return string.format('%.6f', ready - now) end
redis.call('SET', holder, ARGV[3], 'PX', ARGV[4])
-- while the slot is held, the frontier leases nothing more for this host
redis.call('HSET', KEYS[3], ARGV[1], string.format('%.6f', now + tonumber(ARGV[4]) / 1000))
return '0'
"""

RELEASE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local holder = KEYS[1] .. ':' .. ARGV[1]
if redis.call('GET', holder) == ARGV[2] then
  redis.call('DEL', holder)
  redis.call('HSET', KEYS[2], ARGV[1], string.format('%.6f', now))
  -- the frontier may lease this host again once its interval after this request has passed
  local ready = string.format('%.6f', now + tonumber(ARGV[3]))
  redis.call('HSET', KEYS[3], ARGV[1], ready)
  redis.call('ZADD', KEYS[4], 'XX', 'LT', ready, ARGV[1])
  return 1
end
return 0
"""


class SendGate:
    """Per-host send slots in Redis, shared by every worker of the cluster."""

    def __init__(self, client, prefix: str, frontier, slot_seconds: float = 60.0):
        self.frontier = frontier
        # our slots and finish times, then the frontier's next-allowed times and ready hosts
        keys = Keys(prefix)
        self.keys = [keys.sending, keys.done, keys.next, keys.ready]
        self.slot_ms = int(slot_seconds * 1000)
        self._claim = client.register_script(CLAIM)
        self._release = client.register_script(RELEASE)
        self._intervals: dict[str, tuple[float, float]] = {}
        self.held: set[tuple[str, str]] = set()  # (host, token) of the slots this process holds now

    def interval(self, host: str) -> float:
        cached = self._intervals.get(host)
        now = time.monotonic()
        if cached and now - cached[1] < INTERVAL_CACHE_SECONDS:
            return cached[0]
        value = self.frontier.interval(host)
        self._intervals[host] = (value, now)
        return value

    def claim(self, host: str, token: str) -> float:
        """0 when the slot is ours; otherwise seconds to wait before asking again."""
        wait = float(self._claim(keys=self.keys, args=[host, repr(self.interval(host)), token, self.slot_ms]))
        if wait == 0:
            self.held.add((host, token))
        return BUSY_POLL if wait < 0 else wait

    def release(self, host: str, token: str) -> None:
        self.held.discard((host, token))
        self._release(keys=self.keys, args=[host, token, repr(self.interval(host))])

    def release_all(self) -> int:
        """Free every slot this process holds (a clean stop: the hosts need not wait for the slots to expire)."""
        held = list(self.held)
        for host, token in held:
            self.release(host, token)
        return len(held)


class PoliteSendMiddleware:
    """Downloader middleware: holds the host's slot from just before the download until its outcome."""

    def __init__(self, crawler):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    async def process_request(self, request, spider=None):
        gate: SendGate = self.crawler.spider.send_gate
        host = urlsplit(request.url).netloc
        token = secrets.token_hex(8)
        while True:
            wait = gate.claim(host, token)
            if wait <= 0:
                request.meta["_send_slot"] = (host, token)
                return None
            await asyncio.sleep(wait)

    def process_response(self, request, response, spider=None):
        self._release(request)
        return response

    def process_exception(self, request, exception, spider=None):
        self._release(request)
        return None

    def _release(self, request) -> None:
        slot = request.meta.pop("_send_slot", None)
        if slot:
            self.crawler.spider.send_gate.release(*slot)

"""The send gate: the last word on politeness, around each download on every worker (`PoliteDownloadHandler`).

The frontier's lease already spaces requests per host, but a busy worker may put a leased request
on the wire late, so lease times alone cannot promise the spacing a site sees. The gate can: a request
to a host may start only when no other request to that host is in flight anywhere in the cluster, and
not before `max(previous start + interval, previous finish)`. The download handler records every start
at its request's finish (see `PoliteDownloadHandler` for why), so today the rule is "interval after the
previous finish": measured at the site, consecutive arrivals are at least `interval` apart. robots.txt,
fetched synchronously at seeding, starts at its finish. A slot lives `slot_seconds` (see `slot_seconds()`:
the download timeout plus the pause tolerance) and is renewed by the worker's heartbeat while its download
runs (`renew`), so a slow download keeps its host to itself. A slot must not expire while its holder may
still put bytes on the wire: a worker frozen (SIGSTOP, swap) or cut off from the LAN after it claimed a slot
writes its request when it wakes or the link is back, until its download timeout aborts the connection.
With slots as short as the leases, the multi-host test saw two requests to a host 3 ms apart after such a
cut, and with download_timeout + lease_seconds (10 s there) 11 ms apart after a 15 s freeze. So a pause of
up to `PAUSE_TOLERANCE` seconds is covered; a longer one (a PC suspended) is not, and the heartbeat logs
the lost slots when the worker wakes. A worker that dies is reaped by its supervisor, which frees its slots
at once (crawlers.reclaim); only a whole PC that goes away keeps its hosts for the slot's lifetime.
"""
from __future__ import annotations

import asyncio
import logging
import secrets
import time
from urllib.parse import urlsplit

from scrapy.core.downloader.handlers.http11 import HTTP11DownloadHandler

from conf.keys import Keys
from crawlers.queue import worker_name

logger = logging.getLogger(__name__)

INTERVAL_CACHE_SECONDS = 5.0
BUSY_POLL = 0.02  # seconds between two looks at a slot held by another request
AT_FINISH = 1e9   # a `sent_after` beyond any download: the start is recorded at the release, in Redis time
PAUSE_TOLERANCE = 30.0  # seconds a worker may be frozen or cut off mid-request without a site seeing two at once

CLAIM = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local holder = KEYS[1] .. ':' .. ARGV[1]
if redis.call('EXISTS', holder) == 1 then return '-1' end
local done = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')
local started = redis.call('HGET', KEYS[5], ARGV[1])
local ready = done + tonumber(ARGV[2])  -- a host last served before starts were kept: the old rule
if started then ready = math.max(tonumber(started) + tonumber(ARGV[2]), done) end
if now < ready then return string.format('%.6f', ready - now) end
redis.call('SET', holder, ARGV[3], 'PX', ARGV[4])
redis.call('HSET', KEYS[5], ARGV[1], string.format('%.6f', now))
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
  -- the start is when the request left: the claim, plus what the worker measured until it was on the wire
  local started = math.min(tonumber(redis.call('HGET', KEYS[5], ARGV[1]) or '0') + tonumber(ARGV[4]), now)
  redis.call('HSET', KEYS[5], ARGV[1], string.format('%.6f', started))
  -- the frontier may lease this host again once its next start is allowed
  local ready = string.format('%.6f', math.max(started + tonumber(ARGV[3]), now))
  redis.call('HSET', KEYS[3], ARGV[1], ready)
  redis.call('ZADD', KEYS[4], 'XX', 'LT', ready, ARGV[1])
  return 1
end
return 0
"""

# ARGV: slot ms, then (host, token) pairs -> the hosts whose slot was no longer ours
RENEW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local lost = {}
for i = 2, #ARGV, 2 do
  local holder = KEYS[1] .. ':' .. ARGV[i]
  if redis.call('GET', holder) == ARGV[i + 1] then
    redis.call('PEXPIRE', holder, ARGV[1])
    local until_ = now + tonumber(ARGV[1]) / 1000
    if (tonumber(redis.call('HGET', KEYS[3], ARGV[i]) or '0')) < until_ then
      redis.call('HSET', KEYS[3], ARGV[i], string.format('%.6f', until_))
    end
  else
    table.insert(lost, ARGV[i])
  end
end
return lost
"""


def slot_seconds(download_timeout: float, lease_seconds: float = 0.0) -> float:
    """How long a send slot lives unrenewed: its download may still be written to the wire after a pause of up
    to PAUSE_TOLERANCE (or a lease's time, if longer), and runs until the download timeout at most."""
    return download_timeout + max(lease_seconds, PAUSE_TOLERANCE)


def slot_token(worker: str, nonce: str) -> str:
    """The token a worker's download handler holds a send slot under: the worker's name first, so that
    the supervisor can free the slots of a worker it saw die (crawlers.reclaim)."""
    return f"{worker}|{nonce}"


class SendGate:
    """Per-host send slots in Redis, shared by every worker of the cluster."""

    def __init__(self, client, prefix: str, frontier, slot_seconds: float = 15.0):
        self.frontier, self.client = frontier, client
        # our slots and finish times, the frontier's next-allowed times and ready hosts, our start times
        keys = Keys(prefix)
        self.keys = [keys.sending, keys.done, keys.next, keys.ready, keys.started]
        self.slot_ms = int(slot_seconds * 1000)
        self._claim = client.register_script(CLAIM)
        self._release = client.register_script(RELEASE)
        self._renew = client.register_script(RENEW)
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

    def release(self, host: str, token: str, sent_after: float = AT_FINISH) -> None:
        """Free the host's slot. Its start is recorded now (the finish) unless `sent_after` says how long after
        the claim the request was seen on the wire (politeness by arrival; no caller can measure it reliably
        today: see PoliteDownloadHandler)."""
        self.held.discard((host, token))
        self._release(keys=self.keys, args=[host, token, repr(self.interval(host)), repr(max(0.0, sent_after))])

    def renew(self) -> list[str]:
        """Extend every slot this process holds by `slot_seconds` (the heartbeat); returns the hosts whose
        slot had already expired or gone to another worker (their downloads are no longer covered)."""
        held = list(self.held)
        if not held:
            return []
        args = [self.slot_ms] + [part for pair in held for part in pair]
        lost = [h.decode() if isinstance(h, bytes) else h for h in self._renew(keys=self.keys, args=args)]
        if lost:
            logger.warning("send slot(s) expired while their download ran: %s", ", ".join(lost))
        return lost

    def hold(self, host: str, seconds: float) -> None:
        """The host asked us to wait (Retry-After): no request to it is leased before then (Redis time)."""
        secs, micros = self.client.time()
        until = secs + micros / 1e6 + seconds
        current = self.client.hget(self.keys[2], host)
        if current is None or float(current) < until:
            self.client.hset(self.keys[2], host, f"{until:.6f}")

    def release_all(self) -> int:
        """Free every slot this process holds (a clean stop: the hosts need not wait for the slots to expire)."""
        held = list(self.held)
        for host, token in held:
            self.release(host, token)
        return len(held)


class PoliteDownloadHandler(HTTP11DownloadHandler):
    """Scrapy's HTTP/1.1 download handler behind the send gate (DOWNLOAD_HANDLERS for http and https).

    The host's slot is claimed immediately before the request is handed to the HTTP client, and released as
    soon as its outcome is known (response, error, timeout), with the request counted as sent at its finish:
    the next request to the host starts `interval` after the previous response (or error) at the earliest.

    The gate can space starts instead (`release(sent_after=...)`, politeness by arrival), but a worker
    cannot tell reliably when its request reached the site: marks taken a few event-loop turns after the
    claim, and then after the pool handed over the connection, were still early — a new connection's connect,
    the HTTP client's resend on a fresh connection after a stale kept-alive one, and above all a LAN link
    that drops: across the multi-host test's namespaces, arrivals came 33-38 ms inside a 100 ms interval.
    A response is proof that the request arrived; nothing earlier is.
    """

    async def download_request(self, request):
        spider = self._crawler.spider
        gate: SendGate = spider.send_gate
        host = urlsplit(request.url).netloc
        token = slot_token(worker_name(spider.name), secrets.token_hex(8))  # named: reclaimable if we die
        while True:
            wait = gate.claim(host, token)
            if wait <= 0:
                break
            await asyncio.sleep(wait)
        try:
            return await super().download_request(request)
        finally:
            gate.release(host, token)

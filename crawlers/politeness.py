"""The send gate: the last word on politeness, around each download on every worker (`PoliteDownloadHandler`).

The frontier's lease already spaces requests per host, but a busy worker may put a leased request
on the wire late, so lease times alone cannot promise the spacing a site sees. The gate can: a request
to a host may start only when no other request to that host is in flight anywhere in the cluster, and
not before `max(previous start + interval, previous finish)` — politeness by arrival: a host's requests
leave `interval` apart (the latency of one is not added to the wait for the next), and never overlap.

A start is the Redis time of the claim plus the delay the worker measured from the claim until the request
had left (an event-loop mark taken after the write was flushed): a worker stalled between the two — a
saturated CPU, a garbage collection — moves its own start later instead of shortening the gap the site
sees. What remains is the jitter between the flush and the mark and on the network (on a new TLS
connection, the handshake: the request leaves after it); the farm test states its margin. robots.txt,
fetched synchronously at seeding, starts at its finish. A slot lives `slot_seconds` (the download timeout plus
the lease time) and is renewed by the worker's heartbeat while its download runs (`renew`), so a slow download
keeps its host to itself. A slot must not expire while its holder may still put bytes on the wire: a worker
frozen (SIGSTOP, swap) or cut off from the LAN after its request was written sends it when it wakes or the
link is back, until its download timeout aborts the connection. With slots as short as the leases, the
multi-host test saw two requests to a host 3 ms apart after such a cut. A worker killed with `kill -9` (its
sockets closed by the kernel) therefore also keeps its hosts for that long; its leases come back sooner.
"""
from __future__ import annotations

import asyncio
import logging
import secrets
import time
from urllib.parse import urlsplit

from scrapy.core.downloader.handlers.http11 import HTTP11DownloadHandler

from conf.keys import Keys

logger = logging.getLogger(__name__)

INTERVAL_CACHE_SECONDS = 5.0
BUSY_POLL = 0.02  # seconds between two looks at a slot held by another request
SEND_TURNS = 3    # event-loop turns after its connection is in hand by which a request has left (write, flush, margin)

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

    def release(self, host: str, token: str, sent_after: float = 0.0) -> None:
        """Free the host's slot; `sent_after` is how long after the claim the request was seen on the wire
        (its start moves that much later, so the next request starts `interval` after the real departure)."""
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


def after_turns(reactor, turns: int, mark) -> None:
    """Call `mark` once the event loop has turned `turns` times from now."""
    if turns <= 0:
        mark()
    else:
        reactor.callLater(0, after_turns, reactor, turns - 1, mark)


class PoliteDownloadHandler(HTTP11DownloadHandler):
    """Scrapy's HTTP/1.1 download handler behind the send gate (DOWNLOAD_HANDLERS for http and https).

    The host's slot is claimed immediately before the request is handed to the HTTP client, and released as
    soon as its outcome is known (response, error, timeout). When the request left is marked from the moment
    its connection is in hand (the connection pool's callback, just before the request is written), SEND_TURNS
    turns of the event loop later: on a kept-alive connection that is within microseconds of the claim; on a
    new plain-HTTP connection it waits for the TCP connect (under load, across a LAN, longer than any number
    of turns). A new HTTPS connection writes the request only after its TLS handshake, which the pool does not
    report: its request counts as sent at its finish (the next request to the host waits `interval` after the
    response, as before politeness by arrival). So does a request the pool sent again on a new connection
    because the kept-alive one turned out closed by the site (it left after the mark). Without a mark, the
    same: a recorded start is never earlier than the real departure, only later.
    """

    _on_connection = None  # set just before a request is handed to the agent, taken by the pool's getConnection

    def _watch_pool(self) -> None:
        pool = self._pool
        if getattr(pool, "_nugo_watched", False):
            return
        get_connection = pool.getConnection

        def watched(key, endpoint):
            on_connection, self._on_connection = self._on_connection, None
            new = not pool._connections.get(key)
            deferred = get_connection(key, endpoint)
            if on_connection is not None and not (new and key and key[0] == b"https"):
                deferred.addCallback(lambda protocol: (on_connection(protocol), protocol)[1])
            return deferred
        pool.getConnection = watched
        pool._nugo_watched = True

    async def download_request(self, request):
        from twisted.internet import reactor

        gate: SendGate = self._crawler.spider.send_gate
        host = urlsplit(request.url).netloc
        token = secrets.token_hex(8)
        while True:
            wait = gate.claim(host, token)
            if wait <= 0:
                break
            await asyncio.sleep(wait)
        claimed, sent = time.monotonic(), []
        self._watch_pool()
        # The agent asks the pool for a connection synchronously inside the call below; the request is written
        # when the connection is in hand and leaves when the loop turns once more: the mark is taken SEND_TURNS
        # turns after that, so a worker stalled on the way moves its own start, not the site's spacing (a mark
        # taken two turns after the claim showed arrivals 20 ms inside daejeon's 2 s Crawl-delay on loopback,
        # and 22 ms inside 100 ms across the multi-host test's network namespaces).
        retried: list[bool] = []

        def on_connection(protocol) -> None:
            new_connection = getattr(protocol, "_newConnection", None)
            if new_connection is not None:
                # a kept-alive connection: if it turns out stale, the pool sends the request again on a new one,
                # after this mark; such a request counts as sent at its finish
                def again():
                    retried.append(True)
                    return new_connection()
                protocol._newConnection = again
            after_turns(reactor, SEND_TURNS, lambda: sent.append(time.monotonic()))
        self._on_connection = on_connection
        try:
            return await super().download_request(request)
        finally:
            self._on_connection = None
            gate.release(host, token, (sent[0] if sent and not retried else time.monotonic()) - claimed)

"""A dead worker's share of the cluster back at once: its send slots and its leases.

A worker that dies (SIGKILL, a crash, the memory cap) holds, for each request it had in flight, a
lease (returned by the reaper when it is not renewed, after lease_seconds) and a host's send slot
(which expires after download_timeout + the pause tolerance, since a frozen worker may still send). When the
supervisor on the worker's own PC has reaped the process, it cannot send anything any more, so both
can be returned now: the slot is freed with the host's last request counted as finished now (the next
request to the host starts an interval later, as after any response), and the leases go back to the
front of their host queues. A worker on another PC, cut off or frozen, is not dead to anyone: its share
still comes back by expiry.
"""
from __future__ import annotations

import json
import logging

from crawlers.frontier import Frontier, _s
from crawlers.politeness import SendGate, slot_token

logger = logging.getLogger(__name__)


def reclaim(client, prefix: str, worker: str) -> tuple[int, int]:
    """Free the send slots and return the leases of `worker` (crawlers.queue.worker_name of its pid), a
    process known to be dead; returns (slots freed, leases returned)."""
    frontier = Frontier(client, prefix)
    gate = SendGate(client, prefix, frontier)
    keys = frontier.keys
    mine = [lid for lid, who in client.hgetall(keys.workers).items() if _s(who) == worker]
    hosts = set()
    for entry in client.hmget(keys.inflight, mine) if mine else []:
        try:
            host = json.loads(entry).get("host") if entry else None
        except ValueError:
            host = None
        if isinstance(host, str):
            hosts.add(host)
    freed = 0
    for host in sorted(hosts):
        held = client.get(f"{keys.sending}:{host}")
        token = _s(held) if held is not None else ""
        if token and token.startswith(slot_token(worker, "")):  # still the dead worker's (not expired, not retaken)
            gate.release(host, token)
            freed += 1
    returned = frontier.release_worker(worker)
    if freed or returned:
        logger.warning("작업자 %s 종료: 보내기 슬롯 %d개, 작업 %d개를 바로 돌려놓음 / dead worker %s: %d send slot(s) "
                       "freed, %d lease(s) returned", worker, freed, returned, worker, freed, returned)
    return freed, returned

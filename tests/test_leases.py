"""Lease renewal, the arrival-based send gate and the collapse of re-emitted items, against a real redis-server."""
from __future__ import annotations

import json
import time

from crawlers.frontier import Frontier
from crawlers.lease_keeper import LeaseKeeper
from crawlers.politeness import BUSY_POLL, SendGate

SITE = {"id": "demo"}
HOST = "127.0.1.9:8123"


def req(path: str) -> dict:
    return {"url": f"http://{HOST}{path}", "method": "GET", "headers": {}, "body": "", "meta": {}}


def redis_now(client) -> float:
    secs, micros = client.time()
    return secs + micros / 1e6


def wait_redis_time(client, at: float, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while redis_now(client) < at:
        assert time.monotonic() < deadline, "Redis time did not advance"
        time.sleep(0.01)


def field(client, key: str, name: str) -> float:
    return float(client.hget(key, name))


def test_the_next_start_is_an_interval_after_the_previous_start_not_after_its_finish(redis_client, prefix):
    """Politeness by arrival: a request that took 0.3 s of a 1 s interval leaves the next start at its start + 1 s
    (the finish-based gate made it finish + 1 s, so every request also paid its latency); a request longer than
    the interval lets the next one start at its finish, never while it is in flight. Catches a gate that still
    adds the latency to the interval, and one that lets a second request to the host start during the first."""
    f = Frontier(redis_client, prefix)
    f.set_interval(HOST, 1.0)
    gate = SendGate(redis_client, prefix, f, slot_seconds=5)
    started, done, nxt = f"{prefix}:started", f"{prefix}:done", f"{prefix}:next"
    assert gate.claim(HOST, "a") == 0
    assert gate.claim(HOST, "b") == BUSY_POLL                       # in flight: nobody else, however long
    start = field(redis_client, started, HOST)
    wait_redis_time(redis_client, start + 0.3)
    gate.release(HOST, "a", sent_after=0.0)                         # seen on the wire at the claim
    assert field(redis_client, nxt, HOST) == round(start + 1.0, 6)  # the frontier leases at start + interval
    wait = gate.claim(HOST, "b")                                    # too early: told how long to wait
    assert 0 < wait <= 1.0 and abs(redis_now(redis_client) + wait - (start + 1.0)) < 0.05
    wait_redis_time(redis_client, start + 1.0)
    assert gate.claim(HOST, "b") == 0
    second = field(redis_client, started, HOST)
    assert second >= start + 1.0
    wait_redis_time(redis_client, second + 1.2)                     # slower than the interval
    gate.release(HOST, "b", sent_after=0.0)
    finish = field(redis_client, done, HOST)
    assert finish >= second + 1.2 and field(redis_client, nxt, HOST) == finish
    # a worker that saw its request leave 0.25 s after the claim moves the start, and the next one, that much
    wait_redis_time(redis_client, finish + 1.0)
    assert gate.claim(HOST, "c") == 0
    third = field(redis_client, started, HOST)
    wait_redis_time(redis_client, third + 0.3)
    gate.release(HOST, "c", sent_after=0.25)
    assert field(redis_client, started, HOST) == round(third + 0.25, 6)
    assert field(redis_client, nxt, HOST) == round(third + 1.25, 6)


def test_a_renewed_lease_outlives_lease_seconds_and_an_abandoned_one_comes_back(redis_client, prefix):
    """The heartbeat: a lease renewed by its worker is not reaped after lease_seconds; once renewals stop it is
    reaped within lease_seconds of the last one. A worker renews only its own leases, and learns which it lost.
    Catches renewal that does not push the deadline, and a worker extending another worker's lease."""
    f = Frontier(redis_client, prefix, lease_seconds=0.6)
    run = f.start_run("demo", SITE, kind="board")
    f.set_interval(HOST, 0)
    f.push(run, req("/slow"))
    f.push(run, req("/other"))
    mine, theirs = f.lease("w1"), f.lease("w2")
    gate = SendGate(redis_client, prefix, f, slot_seconds=0.6)
    keeper = LeaseKeeper(f, gate, "w1", lease_seconds=0.6, renew_seconds=0.2)
    keeper.hold(mine.id)
    keeper.hold(theirs.id)                                          # not w1's: reported lost, not extended
    end = redis_now(redis_client) + 1.5
    while redis_now(redis_client) < end:                            # 2.5 lease times, renewed every 0.2 s
        keeper.renew()
        assert f.reap() <= 1
        time.sleep(0.2)
    assert keeper.held() == [mine.id]
    assert f.in_flight() == 1 and f.run(run)["expired"] == 1       # w2's lease expired; w1's is alive
    assert f.ack(mine)
    keeper.stop()
    again = f.lease("w3")                                          # w2's request came back
    assert again and again.request["url"].endswith("/other") and again.attempt == 2


def test_items_of_a_page_fetched_twice_are_put_on_the_stream_once(redis_client, prefix):
    """At-least-once fetching, collapsed before the stream: a page fetched again after a lost lease gives the
    same items, which the running run does not append again; a changed item is appended. Catches duplicate
    rows in the stream after every re-fetch (12-20 per killed worker before)."""
    f = Frontier(redis_client, prefix)
    run = f.start_run("demo", SITE, kind="directory")
    rows = [{"type": "staff", "id": f"demo:{i}", "name": f"김{i}"} for i in range(3)]
    assert f.emit(run, rows) == 3
    assert f.emit(run, rows) == 0
    assert f.emit(run, rows[:1] + [{**rows[1], "name": "이서연"}]) == 1
    stream = [json.loads(fields[b"json"]) for _, fields in redis_client.xrange(f"{prefix}:items")]
    assert [r["id"] for r in stream] == ["demo:0", "demo:1", "demo:2", "demo:1"]
    assert f.run(run)["items"] == 4 and f.run(run)["items_repeated"] == 4
    f.push(run, req("/x"))
    f.set_interval(HOST, 0)
    f.ack(f.lease("w"))                                            # the run ends: its digests go with it
    assert f.run(run)["status"] == "finished" and not redis_client.exists(f"{prefix}:run:{run}:emitted")


def test_a_dead_workers_slots_and_leases_come_back_at_once_and_no_one_elses(redis_client, prefix):
    """What the supervisor does when it reaps a dead worker (crawlers.reclaim): the dead worker's send
    slot is freed with the host's last request counted as finished now (the next one waits an interval),
    its lease is back at the front of the queue; a live worker's slot and lease stay. Without the reclaim
    the slot would block the host for its lifetime, download_timeout + 30 s (asserted first, as the TTL)."""
    from crawlers.politeness import slot_token
    from crawlers.queue import worker_name
    from crawlers.reclaim import reclaim
    f = Frontier(redis_client, prefix, lease_seconds=60)
    run = f.start_run("demo", SITE, kind="board")
    other = "127.0.1.10:8123"
    f.set_interval(HOST, 1.0)
    f.set_interval(other, 1.0)
    f.push(run, req("/a"))
    f.push(run, {**req("/b"), "url": f"http://{other}/b"})
    dead, alive = worker_name(pid=4242, host="pc1"), worker_name(pid=4343, host="pc1")
    lease_dead, lease_alive = f.lease(dead), f.lease(alive)
    assert lease_dead and lease_alive
    gate = SendGate(redis_client, prefix, f, slot_seconds=45)
    host_dead, host_alive = lease_dead.host, lease_alive.host
    assert gate.claim(host_dead, slot_token(dead, "x1")) == 0 and gate.claim(host_alive, slot_token(alive, "y1")) == 0
    slot = f"{f.keys.sending}:{host_dead}"
    assert redis_client.pttl(slot) > 40_000                      # left alone, the host waits ~45 s
    before = redis_now(redis_client)
    assert reclaim(redis_client, prefix, dead) == (1, 1)
    assert redis_client.get(slot) is None                         # freed now
    assert redis_client.get(f"{f.keys.sending}:{host_alive}") is not None  # the live worker's stays
    assert field(redis_client, f.keys.done, host_dead) >= before  # counted as finished now
    assert f.in_flight() == 1                                     # only the live worker's lease
    assert gate.claim(host_dead, slot_token(alive, "y2")) > 0.5   # an interval after the reclaim, not before
    wait_redis_time(redis_client, before + 1.05)
    again = f.lease(alive)
    assert again and again.host == host_dead and again.request["url"] == lease_dead.request["url"]
    assert reclaim(redis_client, prefix, dead) == (0, 0)          # twice is harmless

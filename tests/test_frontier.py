"""The Redis frontier against a real redis-server: leases, politeness, runs, poison, crashes."""
from __future__ import annotations

import json
import logging
import multiprocessing
import pickle
import threading
import time
from collections import defaultdict

import pytest
import redis

from crawlers.frontier import Frontier, Lease, UnknownRun

SITE = {"id": "demo", "name": "Demo site", "start_urls": ["http://127.0.1.5:8123/"]}


def req(url: str, **kw) -> dict:
    return {"url": url, "method": "GET", "headers": {}, "body": "", "meta": {}, **kw}


def lease_wait(frontier: Frontier, worker: str = "w", timeout: float = 5.0) -> Lease:
    """Poll lease() until a request is granted (sleeping by wait_hint), or fail."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = frontier.lease(worker)
        if got:
            return got
        hint = frontier.wait_hint()
        time.sleep(min(0.05, hint if hint is not None else 0.05))
    raise AssertionError(f"nothing leased within {timeout} s")


def events(client: redis.Redis, prefix: str, run_id: str) -> list[dict]:
    out = []
    for _, fields in client.xrange(f"{prefix}:items"):
        if fields[b"run_id"].decode() == run_id and fields[b"type"].decode().startswith("run_"):
            out.append(json.loads(fields[b"json"]))
    return out


def test_round_trip_dedup_and_run_end(redis_client, prefix):
    f = Frontier(redis_client, prefix=prefix, lease_seconds=5)
    pubsub = redis_client.pubsub()
    pubsub.subscribe(f"{prefix}:events")
    run = f.start_run("demo", SITE, kind="directory")
    assert f.start_run("demo", SITE, kind="directory") == run   # one active run per site
    assert f.active_runs() == [run] and f.run_site(run) == SITE
    other = f.start_run("other", {"id": "other"}, kind="board")
    f.set_interval("127.0.1.5:8123", 0)

    assert f.push(run, req("http://127.0.1.5:8123/a?b=2&a=1"))
    assert not f.push(run, req("http://127.0.1.5:8123/a?a=1&b=2"))     # same canonical URL
    assert f.push(run, req("http://127.0.1.5:8123/a?a=1&b=2"), dedup=False)
    assert f.push(run, req("http://127.0.1.5:8123/form", method="POST", body="q=1"))
    assert f.push(other, req("http://127.0.1.5:8123/a?a=1&b=2"))       # another run: not deduped
    assert f.pending(run) == 3 and f.queued() == 4
    f.add_stats(run, pages=0, bytes=10)
    f.note_error(run, "http://127.0.1.5:8123/x", "HTTP 500")
    f.emit(run, [{"type": "person", "id": "demo:1", "name": "김윤도"}])

    seen = []
    for _ in range(3):                                                   # one host, FIFO
        lease = lease_wait(f)
        assert lease.attempt == 1 and lease.host == "127.0.1.5:8123" and lease.deadline > lease.leased_at
        seen.append((lease.run_id, lease.request["method"], lease.request["body"]))
        assert f.in_flight() == 1
        assert f.ack(lease, pages=1, bytes=100)
        assert not f.ack(lease, pages=1)                                 # duplicate ack: no-op
    assert seen == [(run, "GET", ""), (run, "GET", ""), (run, "POST", "q=1")]
    info = f.run(run)
    assert info["status"] == "finished" and info["pending"] == 0 and isinstance(info["ended_at"], float)
    assert info["pages"] == 3 and info["bytes"] == 310 and info["errors"] == 1 and info["items"] == 1
    assert run not in f.active_runs() and f.latest_runs("demo")[0]["run_id"] == run
    assert f.run_errors(run)[0]["reason"] == "HTTP 500"
    assert not f.push(run, req("http://127.0.1.5:8123/late"))           # run over: refused
    ends = events(redis_client, prefix, run)
    assert [(e["type"], e["site"], e["status"]) for e in ends] == [("run_end", "demo", "finished")]
    items = [json.loads(fl[b"json"]) for _, fl in redis_client.xrange(f"{prefix}:items") if fl[b"type"] == b"person"]
    assert items == [{"type": "person", "id": "demo:1", "name": "김윤도"}]
    deadline = time.monotonic() + 2
    msg = None
    while time.monotonic() < deadline and not (msg and msg["type"] == "message"):
        msg = pubsub.get_message(timeout=0.1)
    assert msg and json.loads(msg["data"])["run_id"] == run
    pubsub.close()
    with pytest.raises(UnknownRun):
        f.push("no-such-run", req("http://127.0.1.5:8123/"))


def test_expired_lease_is_released_and_late_ack_is_noop(redis_client, prefix):
    f = Frontier(redis_client, prefix=prefix, lease_seconds=0.5)
    run = f.start_run("demo", SITE, kind="board")
    f.set_interval("h1:80", 0)
    assert f.push(run, req("http://h1:80/page"))
    first = f.lease("worker-a")
    assert first and first.attempt == 1
    assert f.lease("worker-b") is None and f.in_flight() == 1
    second = lease_wait(f, "worker-b", timeout=3)        # after 0.5 s the lease is reaped, re-leased
    assert second.attempt == 2 and second.id != first.id and second.request == first.request
    assert not f.ack(first, pages=1)                      # late ack of the expired lease: nothing
    assert not f.extend(first)
    assert f.pending(run) == 1 and f.run(run)["pages"] == 0 and f.run(run)["expired"] == 1
    assert f.extend(second, 5)
    assert f.ack(second, pages=1)
    assert f.pending(run) == 0 and f.run(run)["status"] == "finished" and f.run(run)["pages"] == 1
    assert len(events(redis_client, prefix, run)) == 1


def test_lease_expiring_too_often_goes_to_poison(redis_client, prefix):
    f = Frontier(redis_client, prefix=prefix, lease_seconds=0.05, max_attempts=2)
    run = f.start_run("demo", SITE, kind="board")
    f.set_interval("h1:80", 0)
    f.push(run, req("http://h1:80/crashes-workers"))
    assert lease_wait(f).attempt == 1
    assert lease_wait(f).attempt == 2
    deadline = time.monotonic() + 3
    while f.run(run)["status"] == "running" and time.monotonic() < deadline:
        time.sleep(0.06)
        f.reap()
    assert f.run(run)["status"] == "finished" and f.run(run)["errors"] == 1
    assert "expired 2 times" in f.poison()[0]["reason"]


def test_delay_and_wait_hint(redis_client, prefix):
    f = Frontier(redis_client, prefix=prefix)
    run = f.start_run("demo", SITE, kind="board")
    assert f.wait_hint() is None
    f.set_interval("h1:80", 0)
    f.push(run, req("http://h1:80/retry"), delay=0.3)
    assert f.lease("w") is None and 0.1 < f.wait_hint() <= 0.3
    lease = lease_wait(f, timeout=2)
    sec, usec = redis_client.time()
    assert abs(lease.leased_at - (sec + usec / 1e6)) < 1
    assert f.ack(lease) and f.wait_hint() is None


def test_cancel_run_drops_its_queued_requests(redis_client, prefix):
    f = Frontier(redis_client, prefix=prefix)
    run = f.start_run("demo", SITE, kind="directory")
    keep = f.start_run("other", {"id": "other"}, kind="directory")
    f.set_interval("h1:80", 0)
    for i in range(5):
        f.push(run, req(f"http://h1:80/{i}"), delay=0.5 if i == 4 else 0)
    f.push(keep, req("http://h1:80/keep"))
    held = f.lease("w")
    assert held.run_id == run
    assert f.cancel_run(run, "site changed its layout") == 4        # 3 ready + 1 delayed
    assert f.run(run)["status"] == "failed" and f.run(run)["reason"] == "site changed its layout"
    assert run not in f.active_runs() and f.start_run("demo", SITE, kind="directory") != run
    assert events(redis_client, prefix, run)[0]["type"] == "run_failed"
    f.ack(held)
    left = [lease_wait(f) for _ in range(f.queued())]
    assert [lease.run_id for lease in left] == [keep] * len(left)
    assert f.pending(run) == 0


# politeness ---------------------------------------------------------------------------------
def test_politeness_across_threads_uses_redis_time(redis_server, redis_client, prefix):
    hosts = ["127.0.1.1:8001", "127.0.1.2:8002", "127.0.1.3:8003"]
    setup = Frontier(redis_client, prefix=prefix)
    run = setup.start_run("demo", SITE, kind="board")
    for host in hosts:
        setup.set_interval(host, 0.2)
        for i in range(5):
            setup.push(run, req(f"http://{host}/{i}"))
    grants: dict[str, list[tuple[float, float, float]]] = defaultdict(list)
    lock = threading.Lock()
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        f = Frontier(redis_server.client(), prefix=prefix)   # one client per worker, as on separate PCs
        try:
            deadline = time.monotonic() + 10
            while f.pending(run) and time.monotonic() < deadline:
                t0 = time.time()
                lease = f.lease(f"w{n}")
                t1 = time.time()
                if lease is None:
                    time.sleep(min(0.02, f.wait_hint() or 0.02))
                    continue
                with lock:
                    grants[lease.host].append((lease.leased_at, t0, t1))
                f.ack(lease)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(15)
    assert not errors and setup.pending(run) == 0 and setup.run(run)["status"] == "finished"
    for host in hosts:
        got = sorted(grants[host])
        assert len(got) == 5
        for (g1, start1, _), (g2, _, end2) in zip(got, got[1:]):
            assert g2 - g1 >= 0.2 - 1e-6, (host, g2 - g1)          # Redis TIME of the grants
            assert end2 - start1 >= 0.2 - 0.001, (host, end2 - start1)  # as seen from Python
        for g, start, end in got:                                    # grant times are Redis TIME
            assert start - 0.05 <= g <= end + 0.05


# concurrency ----------------------------------------------------------------------------------
def _process_worker(port: int, password: str, prefix: str, run: str, n: int, out) -> None:
    f = Frontier(redis.Redis(host="127.0.0.1", port=port, password=password), prefix=prefix, lease_seconds=30)
    acked, deadline = [], time.monotonic() + 40
    while time.monotonic() < deadline:
        lease = f.lease(f"p{n}")
        if lease is None:
            if f.run(run)["status"] != "running":
                break
            time.sleep(0.005)
            continue
        if lease.request["meta"].get("depth") == 0:               # children pushed before the ack
            for c in range(4):
                url = f"{lease.request['url']}/c{c}"
                f.push(run, {**req(url), "meta": {"depth": 1}})
        assert f.ack(lease, pages=1)
        assert not f.ack(lease, pages=1)
        acked.append(lease.request["url"])
    out.put(acked)


def test_four_processes_ack_every_request_exactly_once(redis_server, redis_client, prefix):
    f = Frontier(redis_client, prefix=prefix)
    run = f.start_run("demo", SITE, kind="directory")
    hosts = [f"127.0.2.{i}:80" for i in range(5)]
    expected = []
    for host in hosts:
        f.set_interval(host, 0)
    for i in range(100):
        url = f"http://{hosts[i % 5]}/p{i}"
        f.push(run, {**req(url), "meta": {"depth": 0}})
        expected += [url] + [f"{url}/c{c}" for c in range(4)]
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_process_worker,
                         args=(redis_server.port, redis_server.password, prefix, run, n, out)) for n in range(4)]
    for p in procs:
        p.start()
    results = [out.get(timeout=50) for _ in procs]
    for p in procs:
        p.join(10)
        assert p.exitcode == 0
    acked = [url for part in results for url in part]
    assert len(acked) == 500 and sorted(acked) == sorted(expected)
    info = f.run(run)
    assert info["status"] == "finished" and info["pending"] == 0 and info["pages"] == 500
    assert len(events(redis_client, prefix, run)) == 1
    assert f.queued() == 0 and f.in_flight() == 0


# poison -------------------------------------------------------------------------------------
class Exploit:
    """Unpickling this creates a marker file: proof that a pickle was loaded."""

    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_planted_pickle_goes_to_poison_and_is_never_loaded(redis_client, prefix, tmp_path, caplog):
    marker = tmp_path / "pwned"
    f = Frontier(redis_client, prefix=prefix)
    run = f.start_run("demo", SITE, kind="board")
    host = "127.0.1.5:8123"
    f.set_interval(host, 0)
    f.push(run, req(f"http://{host}/1"))
    redis_client.rpush(f"{prefix}:q:{host}", pickle.dumps(Exploit(str(marker))))
    redis_client.rpush(f"{prefix}:q:{host}", json.dumps({"url": f"http://{host}/scrapy-redis-style"}))
    f.push(run, req(f"http://{host}/2"))
    with caplog.at_level(logging.ERROR, logger="crawlers.frontier"):
        urls = []
        while f.pending(run):
            lease = lease_wait(f)
            urls.append(lease.request["url"])
            f.ack(lease)
    assert urls == [f"http://{host}/1", f"http://{host}/2"]
    assert not marker.exists()
    poison = f.poison()
    assert [p["reason"] for p in poison] == ["JSON but not a frontier entry", "not JSON"]
    assert poison[1]["payload"].startswith(b"\x80") and poison[1]["host"] == host
    assert f.poisoned_count() == 2
    assert sum("poison payload" in r.getMessage() for r in caplog.records if r.levelno == logging.ERROR) == 2
    assert not marker.exists()


# crash --------------------------------------------------------------------------------------
def test_queue_survives_kill_9_of_redis(private_redis):
    f = Frontier(private_redis.client(), prefix="nugo", lease_seconds=0.5)
    run = f.start_run("demo", SITE, kind="directory")
    for host in ("h1:80", "h2:80"):
        f.set_interval(host, 0)
        for i in range(10):
            f.push(run, req(f"http://{host}/{i}"))
    held = f.lease("w")
    # appendfsync everysec: a write reaches the AOF file (kernel page cache) before Redis replies,
    # except when a background fsync is slow, in which case the write may be postponed up to ~2 s.
    # A finished BGREWRITEAOF makes the on-disk AOF hold everything above deterministically.
    # (What everysec can lose is the last second on a crash of the machine, not of the process.)
    client = private_redis.client()
    client.bgrewriteaof()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        info = client.info("persistence")
        if not info["aof_rewrite_in_progress"] and not info["aof_rewrite_scheduled"]:
            break
        time.sleep(0.02)
    private_redis.kill()
    private_redis.restart()
    f = Frontier(private_redis.client(), prefix="nugo", lease_seconds=0.5)
    assert f.queued() == 19 and f.in_flight() == 1 and f.pending(run) == 20
    assert f.run(run)["status"] == "running" and f.run_site(run) == SITE
    urls = set()
    while f.pending(run):
        lease = lease_wait(f)       # the lease held at the crash is reaped and re-leased too
        urls.add(lease.request["url"])
        f.ack(lease)
    assert len(urls) == 20 and held.request["url"] in urls
    assert f.run(run)["status"] == "finished"

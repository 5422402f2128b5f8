"""The JSON serializer and the scrapy-redis plug-ins (LeasedQueue, NoDupeFilter) on a real Redis."""
from __future__ import annotations

import json
import pickle
import time

import pytest
import scrapy
from scrapy.utils.request import request_from_dict
from scrapy.utils.test import get_crawler
from scrapy_redis.scheduler import Scheduler

from crawlers import serializer
from crawlers.frontier import Frontier
from crawlers.queue import LeasedQueue, NoDupeFilter
from crawlers.serializer import PoisonPayload

SITE = {"id": "demo", "name": "Demo"}


class DemoSpider(scrapy.Spider):
    name = "demo"

    def parse_detail(self, response):
        pass

    def on_error(self, failure):
        pass


class Exploit:
    """Unpickling this creates a marker file."""

    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def make_spider(prefix: str, **settings) -> DemoSpider:
    crawler = get_crawler(DemoSpider, {"NUGO_REDIS_PREFIX": prefix, "NUGO_LEASE_SECONDS": 30, **settings})
    return DemoSpider.from_crawler(crawler)


def post_request(spider: DemoSpider, run_id: str, **meta) -> scrapy.FormRequest:
    return scrapy.FormRequest("http://127.0.1.5:8123/search", formdata={"q": "민원 운영", "page": "2"},
                              headers={"X-Test": "1"}, callback=spider.parse_detail, errback=spider.on_error,
                              meta={"run_id": run_id, "kind": "board", **meta})


# serializer -----------------------------------------------------------------------------------
def test_serializer_round_trips_a_scrapy_post_request(prefix):
    spider = make_spider(prefix)
    request = post_request(spider, "run-1")
    data = request.to_dict(spider=spider)
    assert isinstance(data["body"], bytes)
    text = serializer.dumps(data)
    assert isinstance(text, str) and json.loads(text)["body"] == {"__bytes__": "cT0lRUIlQUYlQkMlRUMlOUIlOTArJUVDJTlBJUI0JUVDJTk4JTgxJnBhZ2U9Mg=="}
    assert serializer.loads(text) == data == serializer.loads(text.encode())
    again = request_from_dict(serializer.loads(text), spider=spider)
    assert (again.method, again.url, again.body) == ("POST", request.url, request.body)
    assert again.headers == request.headers and again.callback == spider.parse_detail
    assert type(again) is scrapy.FormRequest and again.meta == request.meta
    odd = {"__bytes__": "not a tag", 1: (b"\x00\xff", None)}
    assert serializer.loads(serializer.dumps(odd)) == {"__bytes__": "not a tag", 1: [b"\x00\xff", None]}


def test_serializer_refuses_pickle_without_loading_it(tmp_path):
    marker = tmp_path / "pwned"
    payload = pickle.dumps(Exploit(str(marker)))
    with pytest.raises(PoisonPayload, match="pickle"):
        serializer.loads(payload)
    with pytest.raises(PoisonPayload):
        serializer.loads(payload.decode("latin-1"))
    with pytest.raises(PoisonPayload):
        serializer.loads(b'{"body": {"__bytes__": "***"}}')
    assert not marker.exists()


# LeasedQueue ------------------------------------------------------------------------------------
def test_leased_queue_push_pop_ack(redis_client, prefix):
    spider = make_spider(prefix)
    frontier = Frontier(redis_client, prefix=prefix)
    run = frontier.start_run("demo", SITE, kind="board")
    queue = LeasedQueue(redis_client, spider, "%(spider)s:requests", serializer=serializer)
    assert queue.frontier.prefix == prefix and queue.frontier.lease_seconds == 30
    old_lease = {"id": "x.1", "run_id": run, "host": "h", "attempt": 1}
    assert queue.push(post_request(spider, run, lease=old_lease, not_json=object(), depth=1))
    assert not queue.push(post_request(spider, run))                   # same POST: deduped in the run
    with pytest.raises(ValueError, match="run_id"):
        queue.push(scrapy.Request("http://127.0.1.5:8123/no-run"))
    assert len(queue) == 1
    queue.clear()                                                      # never flushes the shared queue
    assert len(queue) == 1

    got = queue.pop()
    assert isinstance(got, scrapy.Request) and got.method == "POST" and got.dont_filter
    assert got.body == post_request(spider, run).body and got.headers[b"X-Test"] == b"1"
    assert got.headers[b"Content-Type"] == b"application/x-www-form-urlencoded"
    assert got.callback == spider.parse_detail and got.errback == spider.on_error
    lease = got.meta["lease"]
    assert set(lease) == {"id", "run_id", "host", "attempt"} and lease["id"] != "x.1"
    assert lease["run_id"] == run and lease["host"] == "127.0.1.5:8123" and lease["attempt"] == 1
    assert got.meta["run_id"] == run and got.meta["kind"] == "board" and got.meta["depth"] == 1
    assert "not_json" not in got.meta
    assert queue.pop() is None
    assert frontier.ack(got.meta["lease"], pages=1)
    assert frontier.run(run)["status"] == "finished"


def test_leased_queue_pop_waits_for_a_delayed_request(redis_server, redis_client, prefix):
    spider = make_spider(prefix)
    client = redis_server.client(decode_responses=True)                # as scrapy-redis may configure it
    queue = LeasedQueue(client, spider, "%(spider)s:requests")
    run = queue.frontier.start_run("demo", SITE, kind="board")
    queue.push(scrapy.Request("http://127.0.1.6:80/retry", meta={"run_id": run, "nugo_delay": 0.3}))
    assert queue.pop() is None
    t0 = time.monotonic()
    got = queue.pop(timeout=3)
    assert got is not None and 0.1 < time.monotonic() - t0 < 2
    assert "nugo_delay" not in got.meta and got.callback is None
    assert queue.frontier.ack(got.meta["lease"])


def test_scrapy_redis_scheduler_uses_leased_queue_and_no_dupefilter(redis_server, redis_client, prefix):
    spider = make_spider(prefix, REDIS_URL=redis_server.url, SCHEDULER_PERSIST=False,
                         SCHEDULER_QUEUE_CLASS="crawlers.queue.LeasedQueue",
                         DUPEFILTER_CLASS="crawlers.queue.NoDupeFilter",
                         SCHEDULER_SERIALIZER="crawlers.serializer")
    scheduler = Scheduler.from_crawler(spider.crawler)
    scheduler.open(spider)
    assert isinstance(scheduler.queue, LeasedQueue) and isinstance(scheduler.df, NoDupeFilter)
    frontier = Frontier(redis_client, prefix=prefix)
    run = frontier.start_run("demo", SITE, kind="board")
    assert scheduler.enqueue_request(scrapy.Request("http://127.0.1.7:80/", meta={"run_id": run}))
    assert scheduler.has_pending_requests()
    request = scheduler.next_request()
    assert request.url == "http://127.0.1.7:80/" and request.meta["lease"]["run_id"] == run
    scheduler.enqueue_request(scrapy.Request("http://127.0.1.7:80/next", meta={"run_id": run}))
    scheduler.close("finished")                                        # SCHEDULER_PERSIST=False
    assert frontier.queued() == 1 and frontier.in_flight() == 1        # nothing flushed (#149)
    assert frontier.ack(request.meta["lease"])
    assert frontier.pending(run) == 1

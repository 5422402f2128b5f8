"""어딨노 for the official (issue 14): the first alert of a new topic, and one query language in search and alerts."""
from __future__ import annotations

import pytest

from farm import Farm
from tests.crawlkit import CrawlKit
from workers.indexer import run_indexer

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def farm():
    with Farm(seed=1) as running:
        yield running


def test_a_new_topics_first_matching_post_is_never_missed(farm, private_redis, tmp_path):
    """Bug: a topic's start was recorded when an index commit containing posts first met it, which is after
    those posts' first-seen time (truncated to whole seconds too): the first matching post after a topic
    was added was never alerted. Twenty rounds of add topic -> publish -> crawl -> index, no miss."""
    folder = tmp_path / "officials"
    folder.mkdir()
    (folder / "base.yaml").write_text("name: 기준\ntopics: [{name: 기준, query: 기준주제}]\n", encoding="utf-8")
    kit = CrawlKit(tmp_path, farm, private_redis, extra=f"subscriptions: {folder}\n")
    kit.start_workers(1)
    missed = []
    try:
        kit.seed(["gyeongnam-press"])
        kit.wait()
        run_indexer(kit.cluster, once=True, client=kit.client)  # the board's baseline
        for n in range(20):
            word = f"새주제{n:02d}번"
            (folder / f"o{n}.yaml").write_text(f"name: 담당{n}\ntopics: [{{name: 주제, query: {word}}}]\n",
                                               encoding="utf-8")
            post = farm.publish("gyeongnam-press", title=f"{word} 안내", body=f"{word} 관련 공고입니다.")
            kit.runs.clear()
            kit.seed(["gyeongnam-press"])
            kit.wait()
            run_indexer(kit.cluster, once=True, client=kit.client)
            alerts = {a.decode() for a in kit.client.zrange(f"nugo:notifier:alerts:o{n}", 0, -1)}
            if len(alerts) != 1:
                missed.append((n, post["title"], alerts))
    finally:
        kit.stop_workers()
    assert not missed, f"first posts of new topics missed: {missed}"

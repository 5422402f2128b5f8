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


AGREEMENT_QUERIES = [
    "청년", "일자리", "청년 일자리", '"청년 일자리"', "청년 -일자리", "드론 OR 수소", "드론 OR 수소 지원",
    "조례 -전부개정조례안", '입법예고 -"일부개정"', "제목:청년", "본문:청년", "제목:조례 본문:의견", "부서:투자유치과",
    "dept:세정과 OR dept:감사위원회", "부서:교통정책과 개최", "-부서:자연재난과 재난", "title:설명회", "body:시범사업",
    '제목:"기본 계획"', "기업 -제목:기업", "공고번호:2026", "담당자:박", "공고 -공고번호:528", "강화 OR 조성 OR 확대",
    "2026년 선정", "현장 간담회", "행정기구 설치", "시행규칙 OR 일부개정규칙안", "활성화 -경기도", "위원회 부서:감사위원회",
    "ai", "e-모빌리티", "055", "고시", "착수 OR 착공",
]


def test_search_and_alerts_agree_on_the_farms_posts(redis_client, prefix, tmp_path, farm):
    """The same query gives the same posts in the post search (index.post_search, over segments) and in the
    alerts (notifier.match, over each post as it is committed), for queries using every operator and scope."""
    from conf.wire import append
    from index.post_search import PostSearcher
    from index.query import parse_query
    from index.writer import consume
    from notifier.match import Matcher
    from notifier.subscription import Subscription, Topic

    posts = []
    for n, p in enumerate(farm.manifest()["posts"]):
        posts.append({**p, "type": "post", "id": f"farm-{n}", "run_id": f"{p['site']}-r1", "region": "경남",
                      "org_kind": "province", "board_kind": "press", "post_id": str(p["post_id"])})
    append(redis_client, prefix, posts)
    consume(redis_client, prefix, tmp_path, once=True)
    searcher = PostSearcher(tmp_path)
    topics = tuple(Topic(f"q{i}", parse_query(q)) for i, q in enumerate(AGREEMENT_QUERIES))
    alerts: dict[str, set] = {t.name: set() for t in topics}
    for match in Matcher([Subscription("kim", "김민수", topics)]).match(posts):
        alerts[match.topic_name].add(match.post_id)
    seen = 0
    for i, query in enumerate(AGREEMENT_QUERIES):
        found = searcher.search(query, per_page=100_000)
        assert found.error is None, query
        assert {h["id"] for h in found.hits} == alerts[f"q{i}"], query
        seen += bool(found.total)
    assert seen >= 28  # nearly every query finds something: the comparison is not of empty sets


def test_a_post_published_again_with_the_same_title_is_one_alert_noted_as_reposted(farm, private_redis, tmp_path):
    """A board that publishes the same notice twice (same title, new post id) shows it once in the feed and the
    digest, with a 재게시 note; the same title on another board is its own alert."""
    import feedparser

    from notifier.digest import compose
    from notifier.feed import render_feed
    from notifier.store import AlertStore
    from notifier.subscription import load_subscriptions

    subs = tmp_path / "subs.yaml"
    subs.write_text("officials:\n  - id: kim\n    name: 김민수\n    email: kim@x.kr\n"
                    "    topics: [{name: 설명회, query: 재게시시험}]\n", encoding="utf-8")
    kit = CrawlKit(tmp_path, farm, private_redis, extra=f"subscriptions: {subs}\n")
    kit.start_workers(1)
    try:
        kit.seed(["gyeongnam-press", "busan-announce"])
        kit.wait()
        run_indexer(kit.cluster, once=True, client=kit.client)  # baselines
        for board in ("gyeongnam-press", "gyeongnam-press", "busan-announce"):
            farm.publish(board, title="재게시시험 사업 설명회 개최", body="설명회를 엽니다.")
            kit.runs.clear()
            kit.seed([board])
            kit.wait()
            run_indexer(kit.cluster, once=True, client=kit.client)
    finally:
        kit.stop_workers()
    official = load_subscriptions(subs)[0]
    alerts = AlertStore(kit.client, "nugo").alerts("kim")
    assert sorted(a["site"] for a in alerts) == ["busan-announce", "gyeongnam-press"]
    feed = feedparser.parse(render_feed(official, alerts, "rss"))
    assert len(feed.entries) == 2 and sum("재게시 1회" in e.summary for e in feed.entries) == 1
    mail = compose(official, alerts, "nugo@x.kr", "오늘").get_body(("plain",)).get_content()
    assert mail.count("재게시시험 사업 설명회 개최") == 2 and "(재게시 1회)" in mail

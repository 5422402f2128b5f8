"""The whole chain over real HTTP: farm -> crawl workers -> Redis -> index -> search and feeds."""
from __future__ import annotations

import feedparser
import pytest

from index.search import StaffSearcher
from notifier.feed import render_feed
from notifier.store import AlertStore
from notifier.subscription import load_subscriptions
from tests.crawlkit import CrawlKit
from farm import Farm
from workers.indexer import run_indexer

pytestmark = pytest.mark.slow
DIRECTORIES = ["gyeongnam", "ulsan", "incheon", "sejong"]   # four layout families
BOARDS = ["gyeongnam-press", "busan-announce", "korea-kr-press", "ulsan-press"]


def squash(text: str) -> str:
    return "".join((text or "").split()).lower()


def staff_truth(farm, query: str) -> set[tuple]:
    words = [squash(w) for w in query.split()]
    out = set()
    for row in farm.manifest()["staff"]:
        if row["site"] not in DIRECTORIES:
            continue
        text = squash(" ".join(row.get(k) or "" for k in ("department", "team", "position", "name", "phone", "duties")))
        if all(w in text for w in words):
            out.add((row["site"], row["name"], row["phone"], row["duties"]))
    return out


# A fixed list of Korean queries: compounds, two-word AND, department, position, names, phones, one syllable.
QUERIES = [
    "드론", "드론산업", "청년 일자리", "일자리", "청년일자리지원사업", "탄소중립", "탄소", "한부모", "한부모가족지원",
    "스마트산업단지", "청렴도향상", "중소기업지원", "적극행정", "R&D기획", "산업단지분양", "도로건설", "기업유치",
    "건강증진", "공직감찰", "공공보건의료", "역학조사", "항공우주", "투자협약", "귀농귀촌", "개인정보보호",
    "예산 편성", "보조금 정산", "민원 처리", "공모사업 대응", "국비 확보", "위원회 운영 총괄",
    "산업혁신과", "감사위원회", "기후환경정책과 주무관", "미래산업과 팀장", "도로과", "담당관",
    "양철상", "김빈환", "032-440", "055-211", "1035", "정산", "홍보 교육", "alert",
]


@pytest.fixture(scope="module")
def farm():
    with Farm(seed=1) as running:
        yield running


def test_directory_crawl_is_searchable_exactly(farm, private_redis, tmp_path):
    kit = CrawlKit(tmp_path, farm, private_redis)
    kit.seed(DIRECTORIES)
    kit.start_workers(2)
    try:
        kit.wait()
    finally:
        kit.stop_workers()
    stats = run_indexer(kit.cluster, once=True, client=kit.client)
    assert stats.swapped == len(DIRECTORIES)
    searcher = StaffSearcher(kit.cluster.index_dir)
    for query in QUERIES:
        results = searcher.search(query, per_page=10_000)
        found = {(h["site"], h["name"], h["phone"], h["duties"]) for h in results.hits}
        expected = staff_truth(farm, query)
        assert expected, f"{query!r} must find someone on the farm"
        assert found == expected, query
        assert results.total == len(found)
    # ranking: a whole-word match comes before the same word buried inside another noun
    results = searcher.search("정산", per_page=10_000)
    whole = [i for i, h in enumerate(results.hits) if any(w.startswith("정산") for w in h["duties"].split())]
    assert whole and whole == list(range(len(whole)))
    # the stored <script> text comes back as text (escaping is each renderer's job; see test_web)
    assert any("<script>alert(1)</script>" in h["duties"] for h in searcher.search("alert", per_page=100).hits)


SUBSCRIPTIONS = """\
officials:
  - id: drone-fan
    name: 드론 담당
    topics:
      - {name: 드론, query: 드론}
  - id: youth
    name: 청년 담당
    topics:
      - {name: 청년, query: '"청년 일자리"'}
  - id: carbon-not-seminar
    name: 탄소 담당
    topics:
      - {name: 탄소, query: 탄소중립 -설명회, board_kinds: [press]}
  - id: nobody
    name: 무관
    topics:
      - {name: 없음, query: 우주정거장}
"""

NEW_POSTS = [
    ("gyeongnam-press", "드론 실증 특구 지정", "경남도는 드론산업육성 계획을 밝혔다."),
    ("busan-announce", "청년 일자리 박람회 개최", "청년일자리 지원 설명회가 열린다."),
    ("korea-kr-press", "탄소중립 이행 점검", "온실가스 감축을 점검했다."),
    ("ulsan-press", "탄소중립 설명회 안내", "탄소중립 설명회를 연다."),
    ("gyeongnam-press", "수산물 안전 관리", "여름철 위생 점검을 실시한다."),
]


def expected_alerts(published: list[dict]) -> dict[str, set[str]]:
    def text(post):
        return squash(" ".join([post["title"], post["body"], post.get("department") or ""]))
    kinds = {"gyeongnam-press": "press", "busan-announce": "announcement", "korea-kr-press": "press", "ulsan-press": "press"}
    out = {"drone-fan": set(), "youth": set(), "carbon-not-seminar": set(), "nobody": set()}
    for post in published:
        t = text(post)
        if "드론" in t:
            out["drone-fan"].add(post["url"])
        if "청년일자리" in t:
            out["youth"].add(post["url"])
        if "탄소중립" in t and "설명회" not in t and kinds[post["site"]] == "press":
            out["carbon-not-seminar"].add(post["url"])
    return out


def test_new_posts_reach_exactly_the_matching_feeds_within_one_cycle(farm, private_redis, tmp_path):
    (tmp_path / "subs.yaml").write_text(SUBSCRIPTIONS, encoding="utf-8")
    kit = CrawlKit(tmp_path, farm, private_redis, extra="subscriptions: subs.yaml\n")
    kit.start_workers(2)
    try:
        kit.seed(BOARDS)
        kit.wait()
        first = run_indexer(kit.cluster, once=True, client=kit.client)
        assert first.posts > 0
        store = AlertStore(kit.client, kit.cluster.key_prefix)
        officials = load_subscriptions(tmp_path / "subs.yaml")
        assert all(store.alerts(o.id) == [] for o in officials)  # posts seen before the subscriptions began
        published = [farm.publish(site, title=title, body=body) for site, title, body in NEW_POSTS]
        kit.runs.clear()
        kit.seed(BOARDS)  # the next board cycle
        runs = kit.wait()
        assert {r["status"] for r in runs.values()} == {"finished"}
        run_indexer(kit.cluster, once=True, client=kit.client)
    finally:
        kit.stop_workers()
    expected = expected_alerts(published)
    assert expected["drone-fan"] and expected["youth"] and expected["carbon-not-seminar"]
    for official in officials:
        alerts = store.alerts(official.id)
        assert {a["url"] for a in alerts} == expected[official.id], official.id
        body = render_feed(official, alerts, kind="rss", base_url="http://nugo.test")
        parsed = feedparser.parse(body)
        assert not parsed.bozo
        assert {e.link for e in parsed.entries} == expected[official.id]
    # a third cycle with nothing new adds nothing (recrawl: details already collected are skipped)
    assert sum(int(r.get("pages", 0)) for r in runs.values()) < 60


def test_incomplete_directory_crawl_never_replaces_good_rows(farm, private_redis, tmp_path):
    from index.state import site_status

    kit = CrawlKit(tmp_path, farm, private_redis, retries=1)
    kit.start_workers(2)
    try:
        kit.seed(["ulsan", "sejong"])
        kit.wait()
        run_indexer(kit.cluster, once=True, client=kit.client)
        searcher = StaffSearcher(kit.cluster.index_dir)
        before = {s: searcher.search("주무관", organization=o, per_page=10_000).total
                  for s, o in (("ulsan", "울산광역시"), ("sejong", "세종특별자치시"))}
        assert all(before.values())
        farm.set_faults("ulsan", failure_rate=0.5, fail_attempts=100)  # some pages stay down through every retry
        farm.set_faults("sejong", broken_layout=True)                   # the layout changed: nothing matches
        kit.runs.clear()
        kit.seed(["ulsan", "sejong"])
        kit.wait()
        run_indexer(kit.cluster, once=True, client=kit.client)
    finally:
        farm.clear_faults()
        kit.stop_workers()
    searcher.refresh()
    after = {s: searcher.search("주무관", organization=o, per_page=10_000).total
             for s, o in (("ulsan", "울산광역시"), ("sejong", "세종특별자치시"))}
    assert after == before  # the good rows are still searchable
    status = site_status(kit.cluster.index_dir)
    assert "could not be fetched" in status["ulsan"]["flagged"]
    assert "layout changed" in status["sejong"]["flagged"]

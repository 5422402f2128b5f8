"""Notifier: subscriptions, query semantics, reverse matching, alert store, e-mail digests."""
from __future__ import annotations

import datetime as dt
import importlib.util
import itertools
import os
import unicodedata
from pathlib import Path

import pytest

from conf.yamlsource import ConfigError
from notifier.digest import send_digests
from notifier.match import Matcher
from notifier.process import Notifier, is_news
from notifier.query import PostFields, QuerySyntaxError, parse_query
from notifier.store import AlertStore, register
from notifier.subscription import Subscription, SubscriptionSet, Topic, load_subscriptions

ROOT = Path(__file__).resolve().parent.parent

GOOD = """\
officials:
  - id: kim
    name: 김민수
    email: kim@example.go.kr
    topics:
      - name: 드론
        query: 드론 -채용
  - id: lee
    name: 이서연
    topics:
      - name: 탄소
        query: 탄소중립 OR 온실가스
        board_kinds: press
"""


_edits = itertools.count(1)


def write(path: Path, text: str) -> Path:
    """Write a file with an mtime later than any before (edits within one clock tick stay visible)."""
    path.write_text(text, encoding="utf-8")
    stamp = path.stat().st_mtime_ns + next(_edits) * 1_000_000_000
    os.utime(path, ns=(stamp, stamp))
    return path


def post(number: int, title: str, body: str = "", first_seen: str = "2024-05-01T00:00:00+00:00", **extra) -> dict:
    record = {"type": "post", "id": f"p{number}", "site": "gyeongnam-press", "organization": "경상남도", "region": "경남",
              "org_kind": "province", "board_kind": "press", "url": f"https://www.gyeongnam.go.kr/board/{number}",
              "title": title, "date": "2024-05-01T10:00:00+09:00", "department": "경제정책과", "author": "",
              "body": body, "attachments": [], "post_id": str(number), "first_seen": first_seen}
    record.update(extra)
    return record


# --- subscriptions --------------------------------------------------------

def test_demo_subscriptions_are_valid():
    subs = load_subscriptions(ROOT / "conf" / "subscriptions.yaml")
    assert 4 <= len(subs) <= 5 and all(s.topics for s in subs)


@pytest.mark.parametrize("broken, line, field, reason", [
    ("        query: '\"청년 일자리'\n", 7, "officials[0].topics[0].query", "unbalanced quote"),
    ("        query: 드론 OR\n", 7, "officials[0].topics[0].query", "OR needs"),
    ("        query: -채용\n", 7, "officials[0].topics[0].query", "at least one word"),
    ("        qurey: 드론\n", 7, "officials[0].topics[0].qurey", "unknown key"),
    ("        query: 드론\n        regions: [화성]\n", 8, "officials[0].topics[0].regions[0]", "unknown region"),
])
def test_validation_errors_name_file_line_field(tmp_path, broken, line, field, reason):
    text = GOOD.replace("        query: 드론 -채용\n", broken)
    path = write(tmp_path / "subscriptions.yaml", text)
    with pytest.raises(ConfigError) as info:
        load_subscriptions(path)
    problem = next(p for p in info.value.problems if field in p)
    assert problem.startswith(f"{path}:{line}: {field}: ") and reason in problem


def test_missing_name_unknown_official_key_and_duplicate_id(tmp_path):
    text = GOOD.replace("    name: 김민수\n", "").replace("    email: kim@example.go.kr\n", "    emial: kim@example.go.kr\n")
    path = write(tmp_path / "subs.yaml", text)
    with pytest.raises(ConfigError) as info:
        load_subscriptions(path)
    problems = "\n".join(info.value.problems)
    assert f"{path}:2: officials[0]: missing required field 'name'" in problems
    assert f"{path}:3: officials[0].emial: unknown key" in problems
    dup = write(tmp_path / "dup.yaml", GOOD.replace("id: lee", "id: kim"))
    with pytest.raises(ConfigError, match=r"dup.yaml:8: officials\[1\].id: official id 'kim' also defined in .*dup.yaml:2"):
        load_subscriptions(dup)


def test_folder_of_per_official_files(tmp_path):
    folder = tmp_path / "subs"
    folder.mkdir()
    write(folder / "kim.yaml", "name: 김민수\ntopics:\n  - name: 드론\n    query: 드론\n")
    write(folder / "lee.yaml", "id: lee\nname: 이서연\nsince: 2024-03-01\ntopics:\n  - {name: 수소, query: 수소 충전소}\n")
    subs = {s.id: s for s in load_subscriptions(folder)}
    assert set(subs) == {"kim", "lee"}
    assert subs["lee"].since == dt.datetime(2024, 3, 1, tzinfo=dt.timezone(dt.timedelta(hours=9)))
    write(folder / "park.yaml", "id: other\nname: 박\ntopics: [{name: a, query: b}]\n")
    with pytest.raises(ConfigError, match=r"park.yaml:1: id: must be the file name 'park'"):
        load_subscriptions(folder)


def test_hot_reload_picks_up_edits_and_keeps_the_last_valid_version(tmp_path):
    path = write(tmp_path / "subscriptions.yaml", GOOD)
    subs = SubscriptionSet(path)
    notifier = Notifier(subs, "unused")
    assert [s.id for s in subs.current()] == ["kim", "lee"] and subs.version == 1
    matcher = notifier.matcher()
    assert notifier.matcher() is matcher
    write(path, GOOD.replace("드론 -채용", "무인기 OR 드론 -채용").replace("name: 이서연", "name: 이서연 사무관"))
    assert subs.get("lee").name == "이서연 사무관" and subs.version == 2
    assert [[t.text for t in g] for g in subs.get("kim").topics[0].query.groups] == [["무인기", "드론"]]
    assert notifier.matcher() is not matcher
    write(path, GOOD.replace("query: 드론 -채용", "query: '\"드론'"))
    assert subs.get("lee").name == "이서연 사무관" and subs.version == 2  # broken edit: old version kept
    assert subs.problems and f"{path}:7: officials[0].topics[0].query" in subs.problems[0]
    write(path, GOOD)
    assert subs.get("lee").name == "이서연" and subs.version == 3 and not subs.problems


# --- query semantics ------------------------------------------------------

QUERY_CASES = [
    # query, title, body, department, matches
    ("드론", "드론산업육성 계획", "", "", True),                     # inside a compound
    ("드론 산업", "드론산업육성 계획", "", "", True),                # AND, both inside one compound
    ("드론 예산", "드론산업육성 계획", "", "", False),
    ('"청년 일자리"', "청년일자리 박람회", "", "", True),             # phrase = words with spaces removed
    ('"청년 일자리"', "청년  일자리 박람회", "", "", True),
    ('"청년 일자리"', "일자리 지원 청년 모집", "", "", False),       # words present, not adjacent
    ("청년 일자리", "일자리 지원 청년 모집", "", "", True),
    ("탄소중립 OR 온실가스", "온실 가스 감축", "", "", True),          # spaces in the text are ignored
    ("탄소중립 OR 온실가스", "기후 대응", "", "", False),
    ("드론 OR 무인기 예산", "무인기 예산 확보", "", "", True),        # OR binds tighter than AND
    ("드론 OR 무인기 예산", "무인기 도입", "", "", False),
    ("드론 -채용", "드론 교육생 채용", "", "", False),                # NOT
    ("드론 -채용", "드론 교육", "", "", True),
    ('드론 -"단순 채용"', "드론 단순채용 안내", "", "", False),
    ("경제정책과", "공고", "", "경제 정책과", False),                  # the department only when named
    ("부서:경제정책과", "공고", "", "경제 정책과", True),
    ("dept:경제정책과 공고", "공고", "", "경제 정책과", True),
    ("업무협약 -투자", "업무협약 체결", "", "투자유치과", True),          # a department never excludes by itself
    ("업무협약 -부서:투자", "업무협약 체결", "", "투자유치과", False),
    ("제목:드론", "정책 안내", "드론 산업", "", False),                 # scoped to the title
    ("본문:드론", "정책 안내", "드론 산업", "", True),
    ('제목:"청년 일자리" OR 본문:청년고용', "안내", "청년 고용 지원", "", True),
    ("10:30", "10:30 회의", "", "", True),                              # a colon that is no field
    ("보도", "공고", "보도 자료 배포", "", True),                       # body is searched
    ("AI", "ai 인재 양성", "", "", True),                              # case-insensitive
    ("고양이", "고", "양이", "", False),                                # never across two fields
    ("드론", unicodedata.normalize("NFD", "드론 산업"), "", "", True),  # decomposed Hangul (NFD)
    ("드론", "드\u200b론 산업", "", "", True),                            # zero-width space
]


@pytest.mark.parametrize("query, title, body, department, expected", QUERY_CASES)
def test_query_semantics(query, title, body, department, expected):
    fields = PostFields({"title": title, "body": body, "department": department})
    assert parse_query(query).matches(fields) is expected


@pytest.mark.parametrize("query, reason", [
    ('"청년 일자리', "unbalanced quote"), ('""', "empty phrase"), ("OR 드론", "OR needs"), ("드론 OR OR 예산", "OR needs"),
    ("-", "must be followed"), ("드론 OR -채용", "cannot be part of OR"), ("-드론 -채용", "at least one"),
    ("드론 -드론", "both required and excluded"), ('드"론', "quote inside a word"), ("   ", "empty query"),
])
def test_query_syntax_errors(query, reason):
    with pytest.raises(QuerySyntaxError, match=reason):
        parse_query(query)


FILTER_CASES = [
    # sites, regions, board_kinds of the topic; site, region, board_kind of the post; accepted
    (None, None, None, "seoul-press", "서울", "press", True),
    ({"seoul-press"}, None, None, "seoul-press", "서울", "press", True),
    ({"seoul-press"}, None, None, "busan-notice", "부산", "notice", False),
    (None, {"경남", "부산"}, None, "busan-notice", "부산", "notice", True),
    (None, {"경남", "부산"}, None, "seoul-press", "서울", "press", False),
    (None, None, {"legislation"}, "gyeonggi-legislation", "경기", "legislation", True),
    (None, None, {"legislation"}, "gyeonggi-press", "경기", "press", False),
    (None, {"경기"}, {"press"}, "gyeonggi-legislation", "경기", "legislation", False),  # filters are ANDed
]


@pytest.mark.parametrize("sites, regions, board_kinds, site, region, board_kind, expected", FILTER_CASES)
def test_topic_filters(sites, regions, board_kinds, site, region, board_kind, expected):
    topic = Topic("t", parse_query("드론"), *(frozenset(v) if v else None for v in (sites, regions, board_kinds)))
    candidate = post(1, "드론", site=site, region=region, board_kind=board_kind)
    assert topic.accepts(candidate) is expected
    subscription = Subscription("kim", "김민수", (topic,))
    assert bool(Matcher([subscription]).match([candidate])) is expected


def test_matched_terms_and_filters(tmp_path):
    subs = load_subscriptions(write(tmp_path / "s.yaml", GOOD))
    matcher = Matcher(subs)
    posts = [post(1, "드론 산업 육성", "온실가스 감축"), post(2, "탄소중립 선언", board_kind="notice"),
             post(3, "탄소 중립 보도자료"), post(4, "드론 조종사 채용")]
    got = sorted(matcher.match(posts))
    assert got == [("kim", "드론", "p1", ("드론",)), ("lee", "탄소", "p1", ("온실가스",)), ("lee", "탄소", "p3", ("탄소중립",))]


# --- reverse matching equals brute force ----------------------------------

def _bench():
    spec = importlib.util.spec_from_file_location("bench_match", ROOT / "bench" / "bench_match.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_matcher_equals_brute_force_on_generated_data():
    posts, subs = _bench().generate(2000, 500, seed=11)
    fast = set(Matcher(subs).match(posts))
    slow = set()
    for p in posts:
        fields = PostFields(p)
        for sub in subs:
            for topic in sub.topics:
                if topic.accepts(p):
                    terms = topic.query.matched_terms(fields)
                    if terms is not None:
                        slow.add((sub.id, topic.name, p["id"], terms))
    assert fast == slow
    topics = {(s.id, t.name): t for s in subs for t in s.topics}
    features = {"phrase": lambda t: '"' in t.query.source, "OR": lambda t: any(len(g) > 1 for g in t.query.groups),
                "NOT": lambda t: bool(t.query.excluded), "AND": lambda t: len(t.query.groups) > 1,
                "filter": lambda t: bool(t.sites or t.regions or t.board_kinds)}
    for name, has in features.items():  # the generated data exercises every feature
        assert sum(1 for m in slow if has(topics[m[0], m[1]])) > 50, name
    # anchored on the groups that occurred least in posts seen (learned, then carried to a new matcher):
    # the anchors move, the answers do not (a check left out of the new anchor index would be missed)
    learned = Matcher(subs)
    before = {i: c.anchor for i, c in enumerate(learned.checks)}
    learned.learn(posts[:700])
    moved = sum(1 for i, c in enumerate(learned.checks) if c.anchor != before[i])
    assert moved > 20
    assert set(learned.match(posts)) == slow
    assert set(Matcher(subs, stats=learned.stats()).match(posts)) == slow


def test_the_matcher_anchors_on_the_rarer_group_once_it_has_seen_posts():
    """A long noun that is in every post must not make every "keyword AND noun" topic a candidate."""
    from notifier.match import FIRST_REANCHOR
    subs = [Subscription("o1", "관리자", (Topic("t", parse_query("드론 사회적경제기업")),))]
    matcher = Matcher(subs)
    anchor_text = lambda m: [m.terms[n] for n, _ in m.checks[0].anchor]  # noqa: E731
    assert anchor_text(matcher) == ["사회적경제기업"]           # before any post: the longest term
    common = [{"id": f"p{i}", "title": "사회적경제기업 지원", "body": "안내"} for i in range(FIRST_REANCHOR)]
    assert matcher.match(common) == []                          # a batch end past 100 posts re-anchors
    assert anchor_text(matcher) == ["드론"]
    hit = {"id": "x", "title": "드론 사회적경제기업", "body": ""}
    assert [m.post_id for m in matcher.match([hit])] == ["x"]
    assert matcher.stats().counts == {"사회적경제기업": FIRST_REANCHOR + 1, "드론": 1}


# --- alert store ----------------------------------------------------------

def test_store_records_once_and_only_after_the_start(redis_client, prefix, tmp_path):
    subs = load_subscriptions(write(tmp_path / "s.yaml", GOOD))
    start = dt.datetime(2024, 5, 1, tzinfo=dt.timezone.utc).timestamp()
    register(redis_client, prefix, subs, now=start)
    store = AlertStore(redis_client, prefix)
    old = post(1, "드론 산업 (등록 전)", first_seen="2024-04-30T23:59:00+00:00")
    new = post(2, "드론 산업 (등록 후)", first_seen="2024-05-01T00:01:00+00:00")
    newer = post(3, "드론 산업 온실가스", first_seen="2024-05-01T00:02:00+00:00")
    batch = [old, new, newer]
    matches = Matcher(subs).match(batch)
    assert store.record(matches, batch, now=start + 200) == 3  # kim: p2, p3; lee: p3 (p1 predates both topics)
    assert store.record(matches, batch, now=start + 300) == 0  # re-delivered: no second alert
    assert [a["id"] for a in store.alerts("kim")] == ["p3", "p2"]
    assert store.alerts("kim")[0]["terms"] == ["드론"] and store.alerts("lee")[0]["topics"] == ["탄소"]
    assert store.alerts("kim", topic="없는 주제") == []
    assert store.last_modified("kim") == dt.datetime.fromtimestamp(start + 200, dt.timezone.utc)
    # An explicit `since` wins over the first-seen time of the topic.
    subs2 = load_subscriptions(write(tmp_path / "s2.yaml", GOOD.replace("    email:", "    since: 2024-04-01\n    email:")))
    register(redis_client, prefix, subs2, now=start)
    assert store.record(Matcher(subs2).match([old]), [old], now=start + 400) == 1
    assert [a["id"] for a in store.alerts("kim")] == ["p3", "p2", "p1"]


def test_the_notifier_with_a_hot_reloaded_set(redis_client, prefix, tmp_path):
    path = write(tmp_path / "s.yaml", GOOD)
    notifier = Notifier(SubscriptionSet(path), prefix)
    assert notifier.process(redis_client, []) == 0  # registers the topics now
    future = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=1)).isoformat()
    assert notifier.process(redis_client, [post(1, "드론 시연회", first_seen=future)]) == 1
    assert notifier.process(redis_client, [post(1, "드론 시연회", first_seen=future)]) == 0
    assert Notifier(list(SubscriptionSet(path)), prefix).process(redis_client, [post(2, "온실가스 통계", first_seen=future)]) == 1


def test_a_boards_first_crawl_is_not_news(redis_client, prefix, tmp_path):
    """The baseline rule, fed by the writer's live state: before a baseline and from the baseline run, no alert."""
    notifier = Notifier(SubscriptionSet(write(tmp_path / "s.yaml", GOOD)), prefix)
    future = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=1)).isoformat()
    first = dict(post(1, "드론 시연회", first_seen=future), site="b", run_id="b-r1")
    later = dict(post(2, "드론 실증 사업", first_seen=future), site="b", run_id="b-r2")
    assert notifier.on_commit(redis_client, [first], {}) == 0  # no baseline yet
    baseline = {"run_id": "b-r1", "ended_at": dt.datetime.now(dt.timezone.utc).isoformat()}
    assert not is_news(first, baseline) and is_news(later, baseline)
    assert not is_news(dict(later, first_seen="2020-01-01T00:00:00+00:00"), baseline)  # an old post seen again
    assert notifier.on_commit(redis_client, [first, later], {"b": {"baseline": baseline}}) == 1


# --- e-mail digests -------------------------------------------------------

@pytest.fixture
def smtp_server():
    """A real SMTP server (aiosmtpd) on a free port; yields (inbox, port)."""
    from tests.smtp import smtp_server as running

    with running() as server:
        yield server


def mailer(port: int):
    """A Mailer for the test SMTP server on `port`."""
    from types import SimpleNamespace

    from notifier.mail import Mailer

    return Mailer(SimpleNamespace(smtp={"host": "127.0.0.1", "port": port, "sender": "nugo@example.go.kr",
                                        "security": "none", "username": None}))


def digest(store, subs, port: int, label: str) -> dict:
    with mailer(port) as mail:
        report = send_digests(store, subs, mail, label)
    return report.sent if not report.failed else {"failed": report.failed}


def test_digest_sends_each_post_once(redis_client, prefix, tmp_path, smtp_server):
    inbox, port = smtp_server
    text = GOOD.replace("    name: 이서연\n", "    name: 이서연\n    email: lee@example.go.kr\n")
    text += "  - id: park\n    name: 박지훈\n    topics:\n      - {name: 드론, query: 드론}\n"  # no e-mail: feeds only
    subs = load_subscriptions(write(tmp_path / "s.yaml", text))
    register(redis_client, prefix, subs, now=0)
    store = AlertStore(redis_client, prefix)
    batch = [post(1, "드론 <b>시연회</b> 개최", "경남 드론 산업 육성 & 시연 <script>x</script>"),
             post(2, "온실가스 감축 보도", first_seen="2024-05-02T00:00:00+00:00"), post(3, "드론 택배")]
    store.record(Matcher(subs).match(batch), batch)
    sent = digest(store, subs, port, "5월 1일")
    assert sent == {"kim": 2, "lee": 1}
    assert sorted(r[0] for r in inbox.recipients) == ["kim@example.go.kr", "lee@example.go.kr"]
    kim = next(m for m in inbox.messages if "kim@" in m["To"])
    assert kim["Subject"] == "[어딨노] 김민수님의 키워드 브리핑 (5월 1일) 새 글 2건"
    plain = kim.get_body(("plain",)).get_content()
    html_part = kim.get_body(("html",)).get_content()
    assert "드론 <b>시연회</b> 개최" in plain and "https://www.gyeongnam.go.kr/board/1" in plain and "드론 택배" in plain
    assert "<script>" not in html_part and "&lt;b&gt;시연회&lt;/b&gt;" in html_part and "<b>드론</b>" in html_part
    assert digest(store, subs, port, "5월 2일") == {}
    assert len(inbox.messages) == 2
    later = [post(4, "드론 규제 특구", first_seen="2024-05-03T00:00:00+00:00")]
    store.record(Matcher(subs).match(later + batch), later + batch)  # p1..p3 again: no new alert
    assert digest(store, subs, port, "5월 3일") == {"kim": 1}
    assert "드론 규제 특구" in inbox.messages[-1].get_body(("plain",)).get_content()


def test_digest_failure_keeps_the_alerts_for_the_next_send(redis_client, prefix, tmp_path, smtp_server):
    inbox, port = smtp_server
    subs = load_subscriptions(write(tmp_path / "s.yaml", GOOD))
    register(redis_client, prefix, subs, now=0)
    store = AlertStore(redis_client, prefix)
    batch = [post(1, "드론 시연회")]
    store.record(Matcher(subs).match(batch), batch)
    import socket

    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        dead_port = closed.getsockname()[1]
    failed = digest(store, subs, dead_port, "오늘")["failed"]
    assert set(failed) == {"kim"} and "SMTP 서버에 연결할 수 없음" in failed["kim"]  # one clear line, no traceback
    assert digest(store, subs, port, "오늘") == {"kim": 1}

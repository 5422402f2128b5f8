"""Post search on the segment store: equal to a brute-force substring scan through re-delivery,
updates, merges, filters, sorts and paging; the writer's crash leftovers and the Whoosh migration."""
from __future__ import annotations

import time
import uuid
from datetime import datetime, timezone

import pytest

import index.post_search as post_search
import index.segment as segment
from index.postings import LONG_GRAM
from index.post_search import PostSearcher
from index.post_store import MANIFEST, PostStore, read_manifest
from index.store import Store
from tests.synthetic import post_items
from conf.wire import append
from index.writer import consume
from tests.conftest import delete_prefix

FIELDS = ("title", "body")  # a term without a field scope searches the title and the body


def fold(text) -> str:
    return "".join((text or "").split()).lower()


def has(post: dict, word: str) -> bool:
    word = fold(word)
    return any(word in fold(post.get(f)) for f in FIELDS)


def truth(posts: dict[str, dict], query: str, exclude=(), **filters) -> set[str]:
    out = set()
    for pid, p in posts.items():
        if not all(has(p, w) for w in query.split()) or any(has(p, w) for e in exclude for w in e.split()):
            continue
        if any(v is not None and p[k] not in ({v} if isinstance(v, str) else set(v)) for k, v in filters.items()):
            continue
        out.add(pid)
    return out


def handmade(i: int, title: str, body: str, department: str = "", **extra) -> dict:
    item = {"type": "post", "id": f"hand-{i}", "site": "gyeongnam-press", "organization": "경상남도", "region": "경남",
            "org_kind": "province", "board_kind": "press", "url": f"https://example.kr/{i}", "title": title,
            "date": f"2026-03-{1 + i % 28:02d}T09:00:00+09:00", "department": department, "author": "",
            "body": body, "attachments": [], "post_id": str(i), "run_id": "gyeongnam-press-r1"}
    item.update(extra)
    return item


HANDMADE = [
    handmade(1, "드 론 산업 육성", "띄어 쓴 드 론도 드론이다", "미래산업과"),
    handmade(2, "제목 끝말", "잇기 본문", "과"),  # '끝말잇기' spans title and body: must not match
    handmade(3, "Hong GilDong 영문", "MiXeD Case 본문", "정보통신과"),
    handmade(4, "한", "", ""),  # one character, empty body
    handmade(5, "𝔘 non-BMP 글자 🚀로켓", "이모지 🚀 발사", "우주항공과"),
    handmade(6, "날짜 없는 글", "청년일자리지원사업 안내", "일자리경제과", date=None),
    handmade(7, "괄호(특수)문자 [공지]", "전화 055-211-3456, 메일 a@b.kr", "자치행정과"),
    # The UTF-16 bytes of 가나다라 occur at an odd offset of x颬\ue4b0粲· (never the word itself): only
    # the second post holds it.
    handmade(8, "가나다X나다라", "x\u98ac\ue4b0\u7cb2\u00b7", ""),
    handmade(9, "가나다X나다라", "x\u98ac\ue4b0\u7cb2\u00b7 가나다라", ""),
]

QUERIES = [
    "드론", "드론산업", "드 론", "일자리", "청년 일자리", "지역경제 활성화", "사회적경제", "한국전력공사",
    "관계기관 회의", "과", "수", "🚀", "𝔘", "로켓", "끝말잇기", "끝말", "hong", "gildong", "mixed case", "055-211",
    "055-211-3456", "[공지]", "괄호(특수)", "청년일자리지원사업", "자세한 사항은", "누리집", "업무협약", "경관",
    "정산", "기본계획 수립", "없는단어", "드론 없는단어", "보고회", "테크노파크 협약", "행정복지센터", "한",
    "우수기관 선정", "추진 계획", "만족도 9", "억 원", "가나다라", "가나다",
]


@pytest.fixture(scope="module")
def corpus(redis_server, tmp_path_factory):
    """~3,000 posts in three rounds (new, re-delivered, changed), small batches: many segments and merges."""
    client = redis_server.client()
    prefix = f"t{uuid.uuid4().hex[:12]}"
    index_dir = tmp_path_factory.mktemp("posts")
    first = post_items(2400, seed=5) + HANDMADE
    append(client, prefix, first)
    consume(client, prefix, index_dir, once=True, batch=150)
    time.sleep(1.1)
    between = time.time()
    second = post_items(600, seed=6, start=5000)
    changed = [dict(p, body=p["body"] + " 추가된 문장: 개정 드론특별법 안내", run_id=p["run_id"] + "-2")
               for p in first[:2400:7]]
    unchanged = [dict(p, run_id=p["run_id"] + "-2") for k, p in enumerate(first[:2400]) if k % 5 == 1 and k % 7]
    append(client, prefix, second + changed + unchanged)
    consume(client, prefix, index_dir, once=True, batch=150)
    final = {p["id"]: p for p in first}
    final.update({p["id"]: p for p in second + changed})
    yield {"dir": index_dir, "posts": final, "first": {p["id"] for p in first}, "second": {p["id"] for p in second},
           "changed": {p["id"] for p in changed}, "between": between, "searcher": PostSearcher(index_dir)}
    delete_prefix(client, prefix)
    client.close()


def moments(hits: list[dict], key: str = "date") -> list[datetime]:
    if key == "date":
        return [datetime.fromisoformat(h["date"] or h["first_seen"]) for h in hits]
    return [datetime.fromisoformat(h["first_seen"]) for h in hits]


@pytest.mark.parametrize("query", QUERIES)
def test_equals_brute_force_newest_first(corpus, query):
    found = corpus["searcher"].search(query, per_page=10_000)
    assert {h["id"] for h in found.hits} == truth(corpus["posts"], query)
    assert found.total == len(found.hits)
    assert moments(found.hits) == sorted(moments(found.hits), reverse=True)
    assert sum(found.facets["region"].values()) == sum(found.facets["board_kind"].values()) == found.total


def test_the_store_merged_and_kept_one_version_per_post(corpus):
    manifest = read_manifest(corpus["dir"] / "posts")
    batches = -(-len(corpus["first"]) // 150) + -(-(600 + len(corpus["changed"]) + 480) // 150)
    assert len(manifest["segments"]) < batches / 2  # merges happened
    assert sum(s["docs"] - s["deleted"] for s in manifest["segments"]) == len(corpus["posts"])
    assert len(corpus["searcher"]) == len(corpus["posts"])
    ids = [h["id"] for h in corpus["searcher"].search("다", per_page=10_000).hits]
    assert len(ids) == len(set(ids))


def test_updates_replace_text_and_keep_first_seen(corpus):
    searcher = corpus["searcher"]
    hits = searcher.search("개정 드론특별법", per_page=10_000).hits
    assert {h["id"] for h in hits} == corpus["changed"]
    assert all(datetime.fromisoformat(h["first_seen"]).timestamp() < corpus["between"] for h in hits)
    assert all(h["run_id"].endswith("-2") for h in hits)  # a changed post is the new delivery
    new = searcher.search("다", since_first_seen=corpus["between"], per_page=10_000)
    assert {h["id"] for h in new.hits} == corpus["second"]  # changed and unchanged posts keep first_seen
    iso = datetime.fromtimestamp(corpus["between"], timezone.utc).isoformat()
    assert searcher.search("다", since_first_seen=iso).total == len(corpus["second"])


def test_filters_exclusion_sort_and_pages(corpus):
    searcher, posts = corpus["searcher"], corpus["posts"]
    for kwargs in ({"site": "busan-press"}, {"region": ["경남", "부산"]}, {"board_kind": "notice"},
                   {"region": "서울", "board_kind": ["press", "notice"]}, {"site": "nowhere"}):
        found = searcher.search("일자리", per_page=10_000, **kwargs)
        assert {h["id"] for h in found.hits} == truth(posts, "일자리", **kwargs), kwargs
        assert found.total == len(found.hits)
    found = searcher.search('지역경제 -드론 -"청년 관광"', per_page=10_000)
    assert {h["id"] for h in found.hits} == truth(posts, "지역경제", exclude=["드론", "청년관광"])
    by_seen = searcher.search("드론", sort="first_seen", per_page=10_000)
    assert {h["id"] for h in by_seen.hits} == truth(posts, "드론")
    assert moments(by_seen.hits, "first_seen") == sorted(moments(by_seen.hits, "first_seen"), reverse=True)
    everything = searcher.search("드론", per_page=10_000).hits
    pages = [searcher.search("드론", page=n, per_page=37) for n in range(1, 40)]
    assert [h["id"] for p in pages for h in p.hits] == [h["id"] for h in everything]
    assert all(p.total == len(everything) for p in pages)
    hit = everything[0]
    assert all("드론" in fold(hit[f][s:e]) for f, spans in hit["highlights"].items() for s, e in spans)


def test_checked_word_cache_gives_the_same_answers(corpus, monkeypatch):
    monkeypatch.setattr(post_search, "CACHE_MIN_DOCS", 0)
    post_search.CHECKED.clear()
    searcher = corpus["searcher"]
    for query in ("지역경제 활성화", "한국전력공사", "관계기관", "청년일자리지원사업"):
        expected = truth(corpus["posts"], query)
        for _ in range(2):  # the second time from the cache
            assert {h["id"] for h in searcher.search(query, per_page=10_000).hits} == expected
        found = searcher.search(query, region="경남", per_page=10_000)
        assert {h["id"] for h in found.hits} == truth(corpus["posts"], query, region="경남")
    assert post_search.CHECKED.used > 0
    post_search.CHECKED.clear()


def test_common_long_words_are_exact_from_their_bitsets(redis_client, prefix, tmp_path, monkeypatch):
    """Large segments keep bitsets of their common grams of 4..LONG_GRAM units: such a word, typed
    without spaces, is answered without the substring check; a longer one is narrowed by them and
    checked; all equal the brute force."""
    monkeypatch.setattr(segment, "LONG_MIN_DOCS", 0)
    items = post_items(1200, seed=21) + HANDMADE
    append(redis_client, prefix, items)
    consume(redis_client, prefix, tmp_path, once=True, batch=500)
    posts = {p["id"]: p for p in items}
    searcher = PostSearcher(tmp_path)
    assert all(len(p.seg.long_keys) == LONG_GRAM - 3 for p in searcher._parts)  # lengths 4..LONG_GRAM
    original, checked = post_search.holding, []

    def spy(seg, cand, term):
        checked.append(term.text)
        return original(seg, cand, term)

    monkeypatch.setattr(post_search, "holding", spy)
    monkeypatch.setattr(post_search, "CACHE_MIN_DOCS", 0)
    post_search.CHECKED.clear()
    longer = "활성화와주민삶의질향상"  # LONG_GRAM + 1 units of a common sentence
    assert len(longer) == LONG_GRAM + 1
    for word in ("지역경제", "행정복지센터", "지역경제활성화", "누리집을참고하거나", longer[:LONG_GRAM]):
        assert searcher.search(word).total == len(truth(posts, word)) > len(posts) / 16, word
    assert checked == []  # up to LONG_GRAM units: no check
    assert searcher.search(longer).total == len(truth(posts, longer)) > len(posts) / 16
    assert checked == [longer] * len(searcher._parts)
    for query in ("지역경제", "관계기관", "행정복지센터", "업무협약", "기본계획 수립", "드론산업", "가나다라", "🚀발사", "🚀",
                  "지역경제활성화", "사회적경제", "한국전력공사", "누리집을참고하거나", "2025년", "세부추진방안",
                  "x\u98ac\ue4b0\u7cb2", "055-211-3456", "누리집을 참고", "지역경제 관계기관"):
        found = searcher.search(query, per_page=10_000)
        assert {h["id"] for h in found.hits} == truth(posts, query), query
        assert found.total == len(found.hits)
    found = searcher.search("지원 -지역경제", per_page=10_000)
    assert {h["id"] for h in found.hits} == truth(posts, "지원", exclude=["지역경제"])
    post_search.CHECKED.clear()


def test_refresh_sees_commits_and_deletions(redis_client, prefix, tmp_path):
    items = post_items(300, seed=9)
    append(redis_client, prefix, items[:200])
    consume(redis_client, prefix, tmp_path, once=True, batch=100)
    searcher = PostSearcher(tmp_path)
    before = searcher.search("지원").total
    assert before == len(truth({p["id"]: p for p in items[:200]}, "지원"))
    append(redis_client, prefix, items[200:] + [dict(items[0], title="완전히 바뀐 제목", body="본문 없음", department="")])
    consume(redis_client, prefix, tmp_path, once=True, batch=100)
    assert searcher.search("완전히바뀐").total == 0  # not refreshed yet: the old view
    assert searcher.refresh() and not searcher.refresh()
    final = {p["id"]: p for p in items[1:]}
    final[items[0]["id"]] = dict(items[0], title="완전히 바뀐 제목", body="본문 없음", department="")
    assert searcher.search("완전히바뀐").total == 1
    assert searcher.search("지원").total == len(truth(final, "지원"))
    assert len(searcher) == 300


def test_a_crash_leaves_only_garbage_that_the_next_writer_removes(redis_client, prefix, tmp_path):
    append(redis_client, prefix, post_items(50, seed=3))
    consume(redis_client, prefix, tmp_path, once=True)
    root = Store(tmp_path).paths.posts
    (root / "99999999.seg").write_bytes(b"half a segment")  # written, never named by a manifest
    (root / "00000001.00000099.del").write_bytes(b"\0\0")
    manifest = (root / MANIFEST).read_bytes()
    assert PostSearcher(tmp_path).search("다").total == 50
    PostStore(root)
    assert sorted(p.name for p in root.iterdir()) == sorted(["00000001.seg", MANIFEST])
    assert (root / MANIFEST).read_bytes() == manifest


def test_a_segment_of_an_older_format_is_rebuilt_from_the_records(redis_client, prefix, tmp_path):
    """A cache format change is a rebuild, never a migration of the only copy: the writer finds a segment
    it cannot read (an older version's) and writes the segments anew from the post records."""
    items = post_items(120, seed=4)
    append(redis_client, prefix, items)
    consume(redis_client, prefix, tmp_path, once=True, batch=50)
    before = PostSearcher(tmp_path).search("지원", per_page=1000)
    root = Store(tmp_path).paths.posts
    first = sorted(root.glob("*.seg"))[0]
    data = bytearray(first.read_bytes())
    at = data.index(b'"grams_fields": 2')
    data[at:at + 17] = b'"grams_fields": 3'  # as written before field scopes
    first.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="older version"):
        PostStore(root)
    append(redis_client, prefix, [dict(items[0], title="새로 바뀐 제목")])
    consume(redis_client, prefix, tmp_path, once=True)
    after = PostSearcher(tmp_path)
    assert not (root / first.name).exists()
    assert after.search("새로바뀐").total == 1
    assert len(after) == 120
    again = after.search("지원", per_page=1000)
    changed = {items[0]["id"]}
    assert {h["id"] for h in again.hits} - changed == {h["id"] for h in before.hits} - changed
    kept = {h["id"]: h["first_seen"] for h in before.hits}
    assert all(kept[h["id"]] == h["first_seen"] for h in again.hits)


def test_member_and_intersect_equal_numpy_on_every_path():
    """member() picks binary search (either way round) or a mask by the lists' lengths and id range:
    each path, and intersect() over them, equals numpy's set operations on random sorted lists."""
    import numpy as np
    from index.postings import intersect, member

    rng = np.random.default_rng(2)
    paths = set()
    for _ in range(3000):
        na, nb = (int(x) for x in rng.integers(0, 3000, 2))
        dtype = rng.choice([np.uint16, np.int64, np.uint32])
        high = int(rng.choice([10, 1000, 65536, 1 << 22]))
        if dtype == np.uint16:
            high = min(high, 65536)
        a = np.unique(rng.integers(0, high, na)).astype(dtype)
        b = np.unique(rng.integers(0, high, nb)).astype(dtype)
        assert (member(a, b) == np.isin(a, b)).all(), (na, nb, dtype, high)
        c = np.unique(rng.integers(0, high, int(rng.integers(0, 3000)))).astype(dtype)
        assert (intersect([a, b, c]) == np.intersect1d(np.intersect1d(a, b), c)).all()
        if len(a) and len(b):
            paths.add("a in b" if len(a) * 32 <= len(b) else "b in a" if len(b) * 32 <= len(a) else
                      "mask" if dtype != np.int64 and high <= 1 << 20 else "search")
    assert paths == {"a in b", "b in a", "mask", "search"}


def test_field_bounds_from_the_segment_equal_a_scan_of_its_texts(corpus):
    """Segments store where each post's fields begin (so a fresh process does not scan every text on
    its first checked word); the stored bounds equal those computed from the texts."""
    import numpy as np
    from index import post_fields

    for part in corpus["searcher"]._parts:
        seg = part.seg
        assert getattr(seg, "field_starts", None) is not None
        stored = post_fields.bounds(seg)
        some = np.arange(0, seg.docs, 7, dtype=np.int64)
        assert (post_fields.bounds_of(seg, some) == stored[some]).all()
        offs = seg.text_off.astype(np.int64)
        units = np.frombuffer(seg.mm, dtype="<u2", count=int(offs[-1]) // 2, offset=seg.text_base)
        scanned = post_fields.field_starts(units, offs)
        assert (stored[:, 1:post_fields.MAX_FIELDS] - offs[:-1, None] - seg.text_base == scanned).all()
        for i in range(0, seg.docs, max(1, seg.docs // 50)):  # and they cut the text where SEP does
            text = seg.raw_text(i).decode("utf-16-le", "surrogatepass")
            fields = text.split("\n")
            for k in range(1, post_fields.MAX_FIELDS):
                begin = int(stored[i, k] - stored[i, 0]) // 2
                expected = len("\n".join(fields[:k])) + 1 if k < len(fields) else len(text) + 1
                assert begin == expected, (i, k)

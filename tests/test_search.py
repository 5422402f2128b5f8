"""Korean search: exact substring semantics checked against a brute-force ground truth, and ranking."""
from __future__ import annotations

import random
import re
import time
import uuid
from datetime import datetime

import pytest

from conf.specs import REGIONS
import index.gramview as gramview
from index.cli_search import format_table
from index.results import Results, mark, segments
from index.search import PostSearcher, StaffSearcher
from tests.synthetic import ORGANIZATIONS, _duties, staff_rows
from conf.wire import append, run_event
from index.writer import consume
from tests.conftest import delete_prefix

FIELDS = ("department", "team", "position", "name", "phone", "duties", "email")
REST = ("position", "name", "phone", "duties", "email")
PROVINCES = ("서울특별시", "부산광역시", "대구광역시", "인천광역시", "광주광역시", "대전광역시", "울산광역시", "세종특별자치시",
             "경기도", "강원특별자치도", "충청북도", "충청남도", "전북특별자치도", "전라남도", "경상북도", "경상남도", "제주특별자치도")
XSS = "<script>alert(1)</script>"


def gyeongnam(i: int, **fields) -> dict:
    row = {"type": "staff", "site": "gyeongnam", "organization": "경상남도", "region": "경남", "org_kind": "province",
           "url": "https://gyeongnam.example.kr/staff", "department": "", "team": "", "position": "주무관", "name": "",
           "phone": "", "duties": "", "email": "", "run_id": "gyeongnam-r1", "id": f"hand-{i:03d}"}
    row.update(fields)
    return row


HANDMADE = [
    gyeongnam(1, department="미래전략국 드론산업과", name="김드론", phone="055-211-3456", duties="드론산업육성 종합계획 수립"),
    gyeongnam(2, department="경제통상국 일자리정책과", name="박청년", phone="055-211-7001", duties="청년일자리지원사업 추진"),
    gyeongnam(3, department="일자리정책과", name="홍길동", phone="055-211-1234", duties="청년 일자리 지원 총괄"),
    gyeongnam(4, department="일자리정책과", name="이*수", phone="055-211-1235", duties="일자리 청년 정책 홍보"),
    gyeongnam(5, department="행정국 자치행정과", name="최행정", phone="055-211-2000", duties="행정산업 지원 업무"),
    gyeongnam(6, department="회계과", name="정회계", phone="055-211-2001", duties="정산 업무, 보조금 정산"),
    gyeongnam(7, department="정보통신과", name="문보안", phone="055-211-2002", duties=XSS),
    gyeongnam(8, department="드론산업과", name="윤부서", phone="055-211-2003", duties="서무 및 예산"),
    gyeongnam(9, department="교통과", name="강무인", phone="055-211-2004", duties="무인 드론 교통 관리"),
    gyeongnam(10, department="교통과", name="한소형", phone="055-211-2005", duties="소형드론 안전 관리"),
    gyeongnam(11, department="총무과", name="송메일", phone="055-211-2006", duties="대외협력",
              email="Hong.GilDong@Gyeongnam.go.kr"),
]

QUERIES = [
    "드론", "드론산업", "드론산업육성", "일자리", "청년일자리지원사업", "청년 일자리", "일자리 청년", "청년 일자리 지원",
    "홍길동", "이*수", "055-211", "055-211-3456", "051-2", "02-21", "정산", "행정산업", "보조금 정산", "경관",
    "민원운영", "한부모", "팀장", "주무관 예산", "과장 기획", "과", "팀", "수", "김 민", "드 론", "행정국",
    "자치행정국 청년", "미래전략국", "사회적경제", "국회·도의회", "도의회", "시스템운영", "hong.gildong", "<script>",
    "alert(1)", "없는단어", "드론 없는단어", "교통물류국 철도", "에너지 수소", "예산 편성", "통계 관리", "서무",
    "주택 재생 도시", "소형 드론", "055-211 드론",
]


def fold(text: str) -> str:
    return "".join((text or "").split()).lower()


def truth(rows: list[dict], query: str) -> set[str]:
    """Brute force: every word a substring of some field with spaces removed."""
    words = [w.lower() for w in query.split()]
    return {r["id"] for r in rows if all(any(w in fold(r.get(f)) for f in FIELDS) for w in words)}


def stands(text: str, word: str) -> bool:
    """The word starts at a word boundary of the original (spaced) text."""
    pattern = r"(?<![^\W_])" + r"\s*".join(re.escape(c) for c in word)
    return re.search(pattern, text or "", re.IGNORECASE) is not None


def rank_key(row: dict, query: str) -> tuple:
    words = list(dict.fromkeys(w.lower() for w in query.split()))
    phrase = fold(query)
    phrase_miss = 0 if len(words) > 1 and any(phrase in fold(row.get(f)) for f in FIELDS) else 1
    buried = sum(1 for w in words if not any(stands(row.get(f), w) for f in FIELDS))
    dept_only = 0 if any(w in fold(row.get(f)) for w in words for f in REST) else 1
    return phrase_miss, buried, dept_only


def org_key(row: dict) -> tuple:
    if row["organization"] in PROVINCES:
        return 0, PROVINCES.index(row["organization"]), ""
    kind = 1 if row["org_kind"] == "city" else 2
    return kind, REGIONS.index(row["region"]), row["organization"]


@pytest.fixture(scope="module")
def indexed(redis_server, tmp_path_factory):
    """A few thousand staff rows and a few hundred posts, indexed through the stream like the crawler feeds it."""
    client = redis_server.client()
    prefix = f"t{uuid.uuid4().hex[:12]}"
    index_dir = tmp_path_factory.mktemp("index")
    rows = staff_rows(4000, seed=11) + HANDMADE
    append(client, prefix, rows + [run_event(f"{site}-r1", site) for site in sorted({r["site"] for r in rows})])
    consume(client, prefix, index_dir, once=True)
    try:
        yield {"rows": rows, "order": {r["id"]: i for i, r in enumerate(rows)}, "dir": index_dir,
               "searcher": StaffSearcher(index_dir), "client": client, "prefix": prefix}
    finally:
        delete_prefix(client, prefix)
        client.close()


@pytest.mark.parametrize("query", QUERIES)
def test_staff_search_equals_brute_force_and_ranks(indexed, query):
    expected = truth(indexed["rows"], query)
    found = indexed["searcher"].search(query, per_page=100_000)
    ids = [h["id"] for h in found.hits]
    assert len(ids) == len(set(ids)) == found.total
    assert set(ids) == expected
    keys = [(rank_key(h, query), org_key(h), indexed["order"][h["id"]]) for h in found.hits]
    assert keys == sorted(keys), "phrase, then whole words, then duties before department, then organization"
    for hit in found.hits:
        for word in query.lower().split():
            assert any(word in fold(hit[f][s:e]) for f, spans in hit["highlights"].items() for s, e in spans)


def test_kept_scans_give_the_same_answers_in_any_order(indexed, monkeypatch):
    """A view keeps the scan of a long word over all its gram candidates: every query answered from
    a fresh searcher, in reverse order and again (from the kept scans), equals the first answers
    (ids and order), also with room for two words only."""
    first = {q: [h["id"] for h in indexed["searcher"].search(q, per_page=100_000).hits] for q in QUERIES}
    searcher = StaffSearcher(indexed["dir"])
    for q in list(reversed(QUERIES)) + QUERIES:
        assert [h["id"] for h in searcher.search(q, per_page=100_000).hits] == first[q], q
    assert searcher._view._scans, "no scan was kept"
    monkeypatch.setattr(gramview, "SCAN_CACHE_WORDS", 2)
    small = StaffSearcher(indexed["dir"])
    for q in QUERIES:
        assert [h["id"] for h in small.search(q, per_page=100_000).hits] == first[q], q
    assert len(small._view._scans) <= 2


def test_kept_scans_end_with_their_view(redis_server, tmp_path):
    """A site's new run makes a new view, without the old view's kept scans: the rows that now hold
    the word are found. Fails if kept scans outlived the view (the old answer came back)."""
    client = redis_server.client()
    prefix = f"t{uuid.uuid4().hex[:12]}"
    word = "시스템운영"
    try:
        rows = staff_rows(600, seed=5)
        sites = sorted({r["site"] for r in rows})
        append(client, prefix, rows + [run_event(f"{s}-r1", s) for s in sites])
        consume(client, prefix, tmp_path, once=True)
        searcher = StaffSearcher(tmp_path)
        before = searcher.search(word, per_page=100_000)
        assert {h["id"] for h in before.hits} == truth(rows, word)
        assert ("word", word) in searcher._view._scans
        site = sites[0]
        changed = [dict(r, run_id=f"{site}-r2", duties=f"{r.get('duties') or ''} {word} 총괄")
                   for r in rows if r["site"] == site]
        append(client, prefix, changed + [run_event(f"{site}-r2", site)])
        consume(client, prefix, tmp_path, once=True)
        assert searcher.refresh()
        now = [r for r in rows if r["site"] != site] + changed
        after = searcher.search(word, per_page=100_000)
        assert {h["id"] for h in after.hits} == truth(now, word)
        assert after.total > before.total
    finally:
        delete_prefix(client, prefix)
        client.close()


def test_the_data_set_exercises_every_path(indexed):
    assert len(QUERIES) >= 30
    search = indexed["searcher"].search
    assert search("드론").total > 100 and search("과").total > 3000  # common word, one syllable
    assert {h["id"] for h in search("드론산업육성").hits} >= {"hand-001"}
    assert "hand-002" in {h["id"] for h in search("일자리", per_page=100_000).hits}


def test_exact_phrase_first_then_whole_word_then_buried(indexed):
    search = indexed["searcher"].search
    hits = search("청년 일자리", per_page=100_000).hits
    top = [h["id"] for h in hits[:3]]
    assert set(top[:2]) == {"hand-002", "hand-003"}  # 청년일자리… and 청년 일자리 hold the phrase
    assert "hand-004" in {h["id"] for h in hits}  # both words, other order: found, ranked lower
    order = [h["id"] for h in search("정산", organization="경상남도", per_page=100_000).hits]
    assert order.index("hand-006") < order.index("hand-005")  # 정산 업무 before 행정산업
    order = [h["id"] for h in search("드론", organization="경상남도", per_page=100_000).hits]
    assert order.index("hand-009") < order.index("hand-008") < order.index("hand-010")  # duties, department, buried


def test_pages_facets_groups_and_filters(indexed):
    searcher = indexed["searcher"]
    full = searcher.search("일자리", per_page=100_000)
    pages = [searcher.search("일자리", page=p, per_page=50) for p in range(1, full.total // 50 + 2)]
    assert [h["id"] for p in pages for h in p.hits] == [h["id"] for h in full.hits]
    assert pages[0].pages == len(pages) and len(pages[0].hits) == 50
    assert sum(full.facets["region"].values()) == sum(full.facets["organization"].values()) == full.total
    assert list(full.facets["organization"])[:17] == [o for o in PROVINCES if o in full.facets["organization"]][:17]
    orgs = [g.organization for g in full.groups]
    kinds = {org: (kind, region) for _, org, region, kind, _ in ORGANIZATIONS}
    expected = sorted(orgs, key=lambda o: org_key({"organization": o, "org_kind": kinds[o][0], "region": kinds[o][1]}))
    assert orgs == expected
    assert sum(g.count for g in full.groups) == full.total
    only = searcher.search("일자리", region="경남", per_page=100_000)
    assert only.total == full.facets["region"]["경남"] and {h["region"] for h in only.hits} == {"경남"}
    assert only.facets == full.facets  # facets ignore the filters, so the other choices stay visible
    city = searcher.search("일자리", organization=["창원시", "김해시"], per_page=100_000)
    assert {h["organization"] for h in city.hits} <= {"창원시", "김해시"}
    assert city.total == full.facets["organization"].get("창원시", 0) + full.facets["organization"].get("김해시", 0)
    assert searcher.search("   ").total == 0


def test_markup_comes_back_raw_and_prints_inertly(indexed):
    found = indexed["searcher"].search("<script>")
    assert [h["duties"] for h in found.hits] == [XSS]
    assert found.hits[0]["highlights"]["duties"] == [(0, 8)]
    assert segments(XSS, [(0, 8)]) == [("<script>", True), ("alert(1)</script>", False)]
    assert mark("드론산업", [(0, 2)]) == "[드론]산업"
    table = format_table(found)
    assert XSS in table and "기관" in table and "담당업무" in table
    evil = Results(query="\x1b[2J", words=[], total=1, page=1, per_page=50, hits=[
        {"organization": "경상남도", "department": "\x1b[31m빨강과\x1b[0m", "position": "주무관", "name": "이\u202e름",
         "phone": "055\x07-211", "duties": "줄\n바꿈\r\t탭 \x9b31m"}])
    table = format_table(evil)
    assert not re.search(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u202e]", table)
    assert "빨강과" in table and "줄 바꿈 탭" in table


# --- posts --------------------------------------------------------------------------------------

def posts(n: int, start: int, seed: int, run_id: str) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for i in range(start, start + n):
        site, org, region = rng.choice([("gyeongnam-press", "경상남도", "경남"), ("busan-press", "부산광역시", "부산")])
        date = None if i % 17 == 0 else f"2026-{1 + i % 12:02d}-{1 + i % 28:02d}T{i % 24:02d}:00:00+09:00"
        out.append({"type": "post", "id": f"{site}-{i}", "site": site, "organization": org, "region": region,
                    "org_kind": "province", "board_kind": rng.choice(["press", "notice"]),
                    "url": f"https://{site}.example.kr/{i}", "title": _duties(rng), "date": date,
                    "department": rng.choice(["드론산업과", "일자리정책과", "회계과"]), "author": "",
                    "body": " ".join(_duties(rng) for _ in range(8)), "attachments": [], "post_id": str(i),
                    "run_id": run_id})
    return out


@pytest.fixture(scope="module")
def posted(indexed):
    client, prefix = indexed["client"], indexed["prefix"]
    first = posts(300, 0, 1, f"{prefix}-press-1")
    append(client, prefix, first)
    consume(client, prefix, indexed["dir"], once=True)
    time.sleep(1.1)
    between = time.time()
    time.sleep(0.1)
    second = posts(60, 300, 2, f"{prefix}-press-2")
    append(client, prefix, second + first[:20])  # re-delivered posts keep their first_seen
    consume(client, prefix, indexed["dir"], once=True)
    return {"items": first + second, "second": {p["id"] for p in second}, "between": between,
            "searcher": PostSearcher(indexed["dir"])}


def post_truth(items, query, exclude=()):
    def has(p, w):
        return any(w.lower() in fold(p.get(f)) for f in ("title", "body"))  # unscoped terms: title and body
    return {p["id"] for p in items if all(has(p, w) for w in query.split()) and not any(has(p, w) for w in exclude)}


@pytest.mark.parametrize("query", ["드론", "일자리 청년", "정산", "과", "수소에너지", "보조금 정산", "드론산업과 예산",
                                   "시스템운영", "없는단어"])
def test_post_search_equals_brute_force_newest_first(posted, query):
    found = posted["searcher"].search(query, per_page=10_000)
    assert {h["id"] for h in found.hits} == post_truth(posted["items"], query) and found.total == len(found.hits)
    moments = [datetime.fromisoformat(h["date"] or h["first_seen"]) for h in found.hits]
    assert moments == sorted(moments, reverse=True)


def test_post_filters_exclusion_and_first_seen(posted):
    searcher = posted["searcher"]
    new = searcher.search("업무", since_first_seen=posted["between"], per_page=10_000)
    assert {h["id"] for h in new.hits} == post_truth(posted["items"], "업무") & posted["second"]
    notice = searcher.search("드론", board_kind="notice", region="부산", per_page=10_000)
    assert notice.hits and all(h["board_kind"] == "notice" and h["region"] == "부산" for h in notice.hits)
    assert searcher.search("드론", site="busan-press", per_page=10_000).total == \
        len([p for p in posted["items"] if p["site"] == "busan-press" and p["id"] in post_truth(posted["items"], "드론")])
    without = searcher.search("드론 -정산", per_page=10_000)
    assert {h["id"] for h in without.hits} == post_truth(posted["items"], "드론", exclude=["정산"])
    everything = searcher.search("드론")
    assert sum(everything.facets["region"].values()) == sum(everything.facets["board_kind"].values()) \
        == everything.total == len(post_truth(posted["items"], "드론"))
    assert searcher.search("드론", page=2, per_page=10).hits == everything.hits[10:20]
    hit = everything.hits[0]
    assert all("드론" in fold(hit[f][s:e]) for f, spans in hit["highlights"].items() for s, e in spans)


def test_a_hostile_or_damaged_view_keeps_the_current_one(indexed, tmp_path, caplog):
    """The live map and the view file come from disk: a view name that leaves staff/views/, a view whose
    header names a snapshot outside its folder, or a truncated view is refused with one error, and
    the searcher keeps serving the view it has."""
    import json
    import shutil

    from index.staff_view import MAGIC

    index_dir = tmp_path / "index"
    shutil.copytree(indexed["dir"], index_dir)
    searcher = StaffSearcher(index_dir)
    total = searcher.search("드론").total
    assert total > 100
    live_path = index_dir / "staff" / "live.json"
    live = json.loads(live_path.read_text(encoding="utf-8"))
    view_path = index_dir / "staff" / "views" / live["view"]
    data = view_path.read_bytes()
    end = data.index(b"\n", len(MAGIC))
    head = json.loads(data[len(MAGIC):end])
    head["ranges"][0]["snapshot"] = "../../../../etc/passwd"
    hostile = "view-" + "0" * 20 + ".bin"
    (view_path.parent / hostile).write_bytes(MAGIC + json.dumps(head).encode() + data[end:])
    truncated = "view-" + "1" * 20 + ".bin"
    (view_path.parent / truncated).write_bytes(data[:len(MAGIC) + 40])
    for name in ("../../../../tmp/x.bin", hostile, truncated):
        live["view"] = name
        live_path.write_text(json.dumps(live), encoding="utf-8")
        with caplog.at_level("ERROR", logger="index.search"):
            caplog.clear()
            searcher.refresh()
        assert searcher.search("드론").total == total, name
        assert any("staff view" in r.getMessage() for r in caplog.records), name


def test_view_word_starts_equal_the_snapshot_rule_on_random_text():
    """The view computes word starts with numpy for all rows at once; they equal, as byte offsets, the
    per-character rule of index.snapshot (field start, after SEP or a non-alphanumeric character,
    each mark) on random text of Hangul, Latin, digits, punctuation, SEP, emoji and jamo."""
    from index.snapshot import _word_starts as rule
    from index.staff_view import _word_starts

    rng = random.Random(8)
    alphabet = "가나다라마바사행정과팀ab1Z-·.,()/ \n🚀ㄱㅏ_\u00b7\u3000"
    for _ in range(300):
        texts = ["".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 30))) for _ in range(rng.randrange(1, 6))]
        marks = ["".join(chr(rng.randrange(0, len(t) + 1)) for _ in range(rng.randrange(0, 4))) for t in texts]
        expected, base = [], 0
        for text, row_marks in zip(texts, marks):
            chars = sorted({p for p in rule(text, row_marks) if p < len(text)})
            expected += [base + len(text[:p].encode("utf-8", "surrogatepass")) for p in chars]
            base += len(text.encode("utf-8", "surrogatepass"))
        got, size = _word_starts(texts, marks)
        assert size == base
        assert [int(x) for x in got] == sorted(set(expected)), (texts, marks)

"""The new record keys of issue 15 reach the index: bureau searched and stored, lines, extra fields,
attachment links and pinned stored; rows without them still load."""
from __future__ import annotations

from conf.wire import append, run_event
from index.post_search import PostSearcher
from index.search import StaffSearcher
from index.writer import consume


def staff(i: int, **more) -> dict:
    return {"type": "staff", "id": f"s{i}", "site": "suwon", "run_id": "suwon-r1", "organization": "경기도 수원시",
            "region": "경기", "org_kind": "city", "url": "http://www.suwon.go.kr/org", "department": "기획담당관",
            "position": "주무관", "name": f"김{i}", "phone": "031-228-0000", "duties": "도정기획", **more}


def test_bureau_is_searched_and_new_keys_are_stored(redis_client, prefix, tmp_path):
    rows = [staff(1, bureau="기획조정실", lines={"duties": ["도정기획", "업무평가"], "bogus": ["x"]}), staff(2)]
    post = {"type": "post", "id": "p1", "site": "changwon-gosi", "run_id": "changwon-gosi-r1", "organization": "경상남도 창원시",
            "region": "경남", "org_kind": "city", "board_kind": "announcement", "url": "https://www.changwon.go.kr/v?id=1",
            "title": "도시계획 고시", "body": "본문", "attachments": ["고시문.hwp"], "post_id": "1", "pinned": True,
            "attachment_links": [{"name": "고시문.hwp", "url": "https://www.changwon.go.kr/f/1"},
                                 {"name": "별지", "url": "javascript:down(2)"}],
            "extra": {"공고번호": "제2026-1호", "bad name!": "x"}}
    append(redis_client, prefix, rows + [run_event("suwon-r1", "suwon"), post,
                                         run_event("changwon-gosi-r1", "changwon-gosi", kind="board")])
    stats = consume(redis_client, prefix, tmp_path, once=True)
    assert stats.staff == 2 and stats.swapped == 1
    hits = StaffSearcher(tmp_path).search("기획조정실").hits
    assert [h["name"] for h in hits] == ["김1"] and hits[0]["bureau"] == "기획조정실"
    assert hits[0]["lines"] == {"duties": ["도정기획", "업무평가"]} and "bureau" in hits[0]["highlights"]
    assert StaffSearcher(tmp_path).search("도정기획").total == 2  # a row without a bureau still loads and matches
    [row] = PostSearcher(tmp_path).search("도시계획").hits
    assert row["extra"] == {"공고번호": "제2026-1호"} and row["pinned"] is True
    assert row["attachment_links"] == [{"name": "고시문.hwp", "url": "https://www.changwon.go.kr/f/1"}, {"name": "별지", "url": ""}]

"""The real-site definitions (conf/sites/real): they validate, and extract every post of the saved real pages.

The pages in tests/pages/real are copies of /work/shared/reference/html (or minimal pages wrapping its
snippets); each <site>.expected.json was typed by hand from the page, not produced by the extractor.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from conf.loader import load_sites
from crawlers.dates import parse_date
from crawlers.encoding import decode_page
from crawlers.extract import WINDOW, parse_detail, parse_list, post_record, start_requests

ROOT = Path(__file__).resolve().parent.parent
REAL_DIR = ROOT / "conf" / "sites" / "real"
PAGES = ROOT / "tests" / "pages" / "real"
EXPECTED = sorted(PAGES.glob("*.expected.json"))

PROVINCES = {
    "seoul": ("서울특별시", "서울"), "busan": ("부산광역시", "부산"), "daegu": ("대구광역시", "대구"),
    "incheon": ("인천광역시", "인천"), "gwangju": ("광주광역시", "광주"), "daejeon": ("대전광역시", "대전"),
    "ulsan": ("울산광역시", "울산"), "sejong": ("세종특별자치시", "세종"), "gyeonggi": ("경기도", "경기"),
    "gangwon": ("강원특별자치도", "강원"), "chungbuk": ("충청북도", "충북"), "chungnam": ("충청남도", "충남"),
    "jeonbuk": ("전북특별자치도", "전북"), "jeonnam": ("전라남도", "전남"), "gyeongbuk": ("경상북도", "경북"),
    "gyeongnam": ("경상남도", "경남"), "jeju": ("제주특별자치도", "제주"),
}
PRESS = {f"{p}-press" for p in PROVINCES if p != "seoul"} | {"korea-kr-press"}


@pytest.fixture(scope="module")
def sites():
    return load_sites(REAL_DIR, {})


def read_page(name: str, site) -> str:
    text, _ = decode_page((PAGES / name).read_bytes(), None, site["encoding"])
    return text


def load_expected(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def day(iso: str | None) -> str | None:
    return parse_date(iso).date().isoformat() if iso else None


def list_posts(site, expected: dict):
    """parse_list over the saved page, requested as the site's first start request."""
    request = start_requests(site)[0]
    result = parse_list(site, request, read_page(expected["page"], site))
    posts = [post_record(site.spec, detail["url"], values, {}, site.id) for detail, values in result.details]
    return result, posts


# --- (1) every definition validates --------------------------------------------------------

def test_every_real_site_validates_and_says_what_it_is_based_on(sites):
    assert set(sites) >= set(PROVINCES) | PRESS
    for site_id, site in sites.items():
        text = Path(site.file).read_text(encoding="utf-8")
        assert text.startswith("#"), f"{site_id}: the file must start with a comment on what the selectors are based on"
        assert site["interval"] and site["interval"] >= 1.0, site_id
        assert site["base_url"].startswith("https://"), site_id


def test_province_directories_and_press_boards(sites):
    for site_id, (organization, region) in PROVINCES.items():
        site = sites[site_id]
        assert (site["kind"], site["organization"], site["region"], site["org_kind"]) == \
            ("directory", organization, region, "province"), site_id
        press = sites.get(f"{site_id}-press")
        if press is not None:
            assert (press["kind"], press["board_kind"], press["organization"], press["region"]) == \
                ("board", "press", organization, region), press.id
    korea = sites["korea-kr-press"]
    assert (korea["region"], korea["org_kind"], korea["base_url"]) == ("중앙", "ministry", "https://www.korea.kr")


def test_every_saved_page_has_expected_values(sites):
    pages = {p.name.split(".")[0] for p in PAGES.glob("*.list.html")}
    assert pages == {p.name.split(".")[0] for p in EXPECTED}
    assert pages <= set(sites)


def test_a_verified_site_has_a_saved_page_and_expected_records(sites):
    """The rule runs this way: `verified: true` needs a saved page of the site and its expected output
    (tests/pages/real/ID.list.html and ID.expected.json, typed from the page); a file without them stays
    `verified: false`, and docs/SITES.md lists it as unverified."""
    saved = {p.name.split(".")[0] for p in EXPECTED}
    for site_id, site in sites.items():
        if site["verified"]:
            assert site_id in saved, f"{site_id} is verified: true but has no saved page and expected output"
    listed = (ROOT / "docs" / "SITES.md").read_text(encoding="utf-8")
    unverified = sorted(s for s, site in sites.items() if not site["verified"])
    for site_id in unverified:
        assert f"`{site_id}`" in listed, f"{site_id} (verified: false) is not listed in docs/SITES.md"


# --- (2) every post of every saved list page ----------------------------------------------

@pytest.mark.parametrize("path", EXPECTED, ids=lambda p: p.name.split(".")[0])
def test_list_page_extracts_every_post(sites, path):
    expected = load_expected(path)
    site = sites[expected["site"]]
    result, posts = list_posts(site, expected)
    assert result.problems == []
    assert result.records == []  # every post on these pages has a detail link
    assert result.row_count == len(expected["posts"])
    got = [(p["title"], day(p["date"]), p["url"]) for p in posts]
    want = [(p["title"], p["date"], p["link"]) for p in expected["posts"]]
    assert got == want
    for post, exp in zip(posts, expected["posts"]):
        if "department" in exp:
            assert post["department"] == exp["department"]
        assert post["type"] == "post" and post["site"] == site.id and post["post_id"]
    if "next_pages" in expected:
        assert [r["url"] for r in result.lists] == expected["next_pages"]
    if "page_requests" in expected:
        # the first page plans a window of the pages it announces; each carries the last page number
        spec = expected["page_requests"]
        planned = spec["pages"][:WINDOW]
        assert [r["method"] for r in result.lists] == [spec["method"]] * len(planned)
        assert [r["meta"]["formdata"][spec["param"]] for r in result.lists] == planned
        assert {r["meta"]["last"] for r in result.lists} == {int(spec["pages"][-1])}


def test_post_ids_are_stable_ids_not_urls(sites):
    # the list pages put list state (Start, pageIndex, curPage…) in detail links; post_id is the board's own id
    expected = load_expected(PAGES / "gyeongbuk-press.expected.json")
    _, posts = list_posts(sites["gyeongbuk-press"], expected)
    assert [p["post_id"] for p in posts][:2] == ["506274201", "506273901"]
    expected = load_expected(PAGES / "korea-kr-press.expected.json")
    _, posts = list_posts(sites["korea-kr-press"], expected)
    assert posts[0]["post_id"] == "156738805"


# --- (3) the 경상북도 detail page ------------------------------------------------------------

def test_gyeongbuk_detail_page(sites):
    site = sites["gyeongbuk-press"]
    expected = load_expected(PAGES / "gyeongbuk-press.expected.json")
    want = expected["detail"]
    result, _ = list_posts(site, expected)
    detail_request, list_values = result.details[want["of_post"]]
    values = parse_detail(site, read_page(want["page"], site))
    assert values["body"]
    record = post_record(site.spec, detail_request["url"], list_values, values, site.id)
    assert record["url"] == expected["posts"][want["of_post"]]["link"]
    assert record["title"] == want["title"]
    assert record["date"] == want["date"]
    assert record["department"] == want["department"]
    assert record["author"] == want["author"]
    assert record["attachments"] == want["attachments"]
    for sentence in want["body_contains"]:
        assert sentence in record["body"]
    for text in want["body_excludes"]:
        assert text not in record["body"]

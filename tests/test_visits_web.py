"""The /visit/ pages over real HTTP (threaded wsgiref) with the real Redis: issue, refuse, headers, 404s."""
from __future__ import annotations

import datetime as dt
import io
import json
import re

import pytest

from tests.servers import served
from tests.test_visits_support import (CHANGWON, Officials, form_token, make_service, official, post_visit, request)
from visits.keys import KeyRing
from visits.ledger import Checkpoint
from visits.tokens import VisitState
from visits.trips import today
from visits.web import VisitApp, make_visit_app

SEOUL_CITY_HALL = (37.566_295, 126.977_945)


@pytest.fixture
def site(tmp_path, redis_client, prefix):
    """The app with two officials (one with an organization), on a free port; yields (root, service, link path)."""
    service = make_service(tmp_path / "visits", redis_client, prefix, min_seconds_between_places=60, max_per_hour=50)
    app = VisitApp(service, lambda: Officials(official(), official("lee-seoyeon", "이서연 사무관", "")))
    token = VisitState(redis_client, prefix).link_token("kim-minsu")
    with served(app) as root:
        yield root, service, f"/visit/{token}"


def open_page(root: str, path: str) -> str:
    reply = request(root, "GET", path)
    assert reply.status == 200, reply.text
    return reply.text


def issue(root: str, path: str, lat: float, lon: float, **kwargs):
    return post_visit(root, path, form_token(open_page(root, path)), lat, lon, **kwargs)


def test_the_page_has_one_big_button_and_no_inline_script(site):
    """Catches inline script, a weakened CSP, missing security headers or a cached token page."""
    root, _, path = site
    reply = request(root, "GET", path)
    assert reply.status == 200
    page = reply.text
    assert "현재 위치로 출장 증빙" in page and "김민수 주무관" in page and "경상남도" in page
    assert re.findall(r"<script[^>]*>", page) == ['<script src="/visit/static/visit.js" defer>']
    assert "<script src=\"/visit/static/visit.js\" defer></script>" in page
    assert "조작할 수 있" in page  # the honest sentence
    csp = reply.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "default-src 'none'" in csp
    assert reply.headers["x-frame-options"] == "DENY" and reply.headers["x-content-type-options"] == "nosniff"
    assert reply.headers["cache-control"] == "no-store" and "geolocation=(self)" in reply.headers["permissions-policy"]
    js = request(root, "GET", "/visit/static/visit.js")
    assert js.status == 200 and js.headers["content-type"].startswith("text/javascript") and b"getCurrentPosition" in js.body


def test_a_proof_is_issued_shown_and_its_png_reads_back(site):
    """Catches a PNG that is not the proof (or not readable), and a proof that is not in the ledger."""
    import zxingcpp
    from PIL import Image

    root, service, path = site
    reply = issue(root, path, *CHANGWON, accuracy=14.2)
    assert reply.status == 303, reply.text
    location = reply.headers["location"]
    assert location == f"{path}/proof/0"
    page = open_page(root, location)
    assert "증빙을 만들었습니다" in page and "북위 35.227900°, 동경 128.681700°" in page and "± 15 m" in page
    png = request(root, "GET", location + ".png")
    assert png.status == 200 and png.headers["content-type"] == "image/png"
    text = zxingcpp.read_barcodes(Image.open(io.BytesIO(png.body)))[0].text
    assert text in page and service.verify(text).claim.ledger_index == 0
    assert service.ledger.head()[0] == 1


def test_unknown_and_malformed_tokens_get_the_same_404(site):
    """Catches a page that tells a guessed token from a real one (different status, body or length)."""
    root, _, path = site
    answers = [request(root, "GET", p) for p in ("/visit/" + "A" * 32, "/visit/short", "/visit/" + "A" * 32 + "/proof/0",
                                                 path + "/proof/99", "/visit/static/../web.py", "/visit/")]
    assert {a.status for a in answers} == {404}
    assert len({a.body for a in answers}) == 1 and "페이지를 찾을 수 없습니다" in answers[0].text
    assert request(root, "GET", "/elsewhere").status == 404


def test_a_cross_site_post_is_refused(site):
    """Catches a missing Origin check: another site's form posting into an official's link."""
    root, service, path = site
    token = form_token(open_page(root, path))
    for origin in ("https://evil.example", "null", None):
        reply = post_visit(root, path, token, *CHANGWON, origin=origin)
        assert reply.status == 403 and "직접 누른 요청" in reply.text
    assert service.ledger.head()[0] == 0


def test_the_form_token_is_needed_and_works_once(site):
    """Catches replay: a reloaded or scripted POST without a fresh page token is refused."""
    root, service, path = site
    assert post_visit(root, path, "x" * 32, *CHANGWON).status == 400
    token = form_token(open_page(root, path))
    assert post_visit(root, path, token, *CHANGWON).status == 303
    again = post_visit(root, path, token, *CHANGWON)
    assert again.status == 400 and "이미 쓴 요청" in again.text
    assert service.ledger.head()[0] == 1


def test_a_form_token_of_another_official_is_refused(site):
    """Catches form tokens that are not bound to the official whose page handed them out."""
    root, service, path = site
    other = VisitState(service.client, service.prefix).link_token("lee-seoyeon")
    token = form_token(open_page(root, f"/visit/{other}"))
    assert post_visit(root, path, token, *CHANGWON).status == 400


@pytest.mark.parametrize("lat, lon, accuracy, words", [
    (*CHANGWON, 900.0, "정확도"),
    (35.6812, 139.7671, 10.0, "대한민국 밖"),  # Tokyo
    (39.0392, 125.7625, 10.0, "대한민국 밖"),  # Pyongyang
    (128.6817, 35.2279, 10.0, "위치 값"),  # swapped
    (0.0, 0.0, 10.0, "대한민국 밖"),
])
def test_clearly_wrong_positions_are_refused(site, lat, lon, accuracy, words):
    """Catches a server that signs poor accuracy, places abroad or swapped coordinates (nothing in the ledger)."""
    root, service, path = site
    reply = issue(root, path, lat, lon, accuracy=accuracy)
    assert reply.status == 422 and words in reply.text
    assert service.ledger.head()[0] == 0


def test_two_places_within_seconds_are_refused_but_the_same_place_is_not(site):
    """Catches a rate limit that is missing, or that blocks a double tap at the same spot."""
    root, service, path = site
    assert issue(root, path, *CHANGWON).status == 303
    assert issue(root, path, CHANGWON[0] + 0.0005, CHANGWON[1]).status == 303  # 55 m away: same place
    far = issue(root, path, *SEOUL_CITY_HALL)
    assert far.status == 429 and "다른 곳" in far.text
    assert service.ledger.head()[0] == 2


def test_an_oversized_or_non_form_body_is_refused(site):
    """Catches an unbounded body read and JSON bodies (which a cross-site fetch could send) being accepted."""
    root, _, path = site
    token = form_token(open_page(root, path))
    big = post_visit(root, path, token, *CHANGWON, extra={"pad": "x" * 10_000})
    assert big.status == 413
    reply = request(root, "POST", path, b"{}", {"Content-Type": "application/json", "Origin": root})
    assert reply.status == 415


def test_missing_position_fields_are_refused(site):
    """Catches NaN or empty coordinates reaching the signer."""
    root, _, path = site
    token = form_token(open_page(root, path))
    reply = request(root, "POST", path, f"form_token={token}&lat=nan&lon=&accuracy=1".encode(),
                    {"Content-Type": "application/x-www-form-urlencoded", "Origin": root})
    assert reply.status == 422 and "위치를 보내지 않았습니다" in reply.text


def test_a_trip_is_signed_with_its_destination_and_distance(site):
    """Catches a trip that is shown but not signed, or a wrong radius verdict."""
    root, service, path = site
    trip = service.trips.add("kim-minsu", "창원시청 드론 실증 현장 점검", 35.2271, 128.6810, 300, today(),
                             today() + dt.timedelta(days=1))
    page = open_page(root, path)
    assert "창원시청 드론 실증 현장 점검" in page and f'value="{trip.id}" checked' in page
    reply = post_visit(root, path, form_token(page), *CHANGWON, trip=str(trip.id))
    proof = open_page(root, reply.headers["location"])
    assert "허용 반경 300 m 이내" in proof and "창원시청 드론 실증 현장 점검" in proof
    claim = service.state.recent("kim-minsu", 1)[0][1]
    assert service.verify(claim).claim.trip_id == trip.id


def test_another_officials_trip_cannot_be_used(site):
    """Catches a trip id from the form being trusted without checking whose trip it is."""
    root, service, path = site
    trip = service.trips.add("lee-seoyeon", "서울 출장", *SEOUL_CITY_HALL, 300, today(), today())
    reply = issue(root, path, *CHANGWON, trip=str(trip.id))
    assert reply.status == 422 and "출장" in reply.text


def test_keys_checkpoint_and_verifier_are_published(site):
    """Catches private material in keys.json and a checkpoint that does not match the ledger head."""
    root, service, path = site
    issue(root, path, *CHANGWON)
    keys = request(root, "GET", "/visit/keys.json")
    ring = KeyRing.from_json(json.loads(keys.body))
    assert list(ring.keys) == list(service.keyring().keys)
    assert b"private" not in keys.body and b"BEGIN" not in keys.body
    checkpoint = Checkpoint.from_json(json.loads(request(root, "GET", "/visit/checkpoint").body))
    assert checkpoint.size == 1 and checkpoint.head == service.ledger.head()[1]
    checkpoint.verify(ring)
    verifier = request(root, "GET", "/visit/verifier.html")
    assert verifier.status == 200 and "sha256-" in verifier.headers["content-security-policy"]
    assert "connect-src" not in verifier.headers["content-security-policy"]  # default-src 'none' covers it


def test_hostile_values_in_redis_are_not_shown(site):
    """Catches a proof page that trusts Redis: a planted 'recent proof' must not render (nor crash the page)."""
    root, service, path = site
    key = f"{service.prefix}:visit:recent:kim-minsu"
    service.client.lpush(key, "not json", json.dumps({"index": 7, "proof": "<script>alert(1)</script>"}),
                         json.dumps({"index": "7", "proof": 5}))
    assert request(root, "GET", f"{path}/proof/7").status == 404
    page = open_page(root, path)
    assert "<script>alert" not in page


def test_post_to_a_proof_or_other_methods_are_refused(site):
    """Catches routes that accept methods they should not, and HEAD answers with a body."""
    root, _, path = site
    assert request(root, "POST", f"{path}/proof/0", b"", {"Origin": root}).status == 405
    assert request(root, "PUT", path, b"").status == 405
    head = request(root, "HEAD", path)
    assert head.status == 200 and head.body == b""


def test_make_visit_app_from_a_cluster_serves_the_subscriptions_officials(visit_cluster, redis_client):
    """The integration contract: make_visit_app(cluster) finds Redis, the subscriptions and the data dir."""
    from conf.loader import load_cluster

    cluster = load_cluster(visit_cluster.conf)
    app = make_visit_app(cluster)
    token = VisitState(redis_client, visit_cluster.prefix).link_token("lee-seoyeon")
    with served(app) as root:
        page = open_page(root, f"/visit/{token}")
        assert "이서연 사무관" in page
        reply = post_visit(root, f"/visit/{token}", form_token(page), *SEOUL_CITY_HALL,
                           origin="https://visit.example.go.kr")  # the configured base_url behind a proxy
        assert reply.status == 303, reply.text
    assert (visit_cluster.data_dir / "ledger.jsonl").exists()

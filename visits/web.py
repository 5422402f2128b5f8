"""The /visit/ pages as a WSGI app: the phone page, proofs and their QR PNG, keys, checkpoint, verifier.

Routes: GET /visit/{token} (the one-button page), POST /visit/{token} (issue; 303 to the proof),
GET /visit/{token}/proof/{index} and .png, GET /visit/keys.json, /visit/checkpoint, /visit/verifier.html,
/visit/static/{visit.js,visit.css}. Anything else, and any unknown token, gets the same Korean 404.
"""
from __future__ import annotations

import json
import logging
import math
import re
import threading
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import redis

from conf.yamlsource import ConfigError
from conf.defaults import KEY_PREFIX
from visits import pages, qr
from visits.describe import claim_rows
from visits.errors import Rejected
from visits.httpio import HTML_HEADERS, REASONS, Request, Response, data, html, redirect
from visits.korean import coordinates, korean_time, metres
from visits.service import VisitService, organization_of, visits_dir
from visits.tokens import TOKEN
from visits.trips import today
from visits.verifier import verifier_page

logger = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
STATIC_FILES = {"visit.js": "text/javascript; charset=utf-8", "visit.css": "text/css; charset=utf-8"}
PAGE = re.compile(r"/visit/(?P<token>[A-Za-z0-9_-]{20,64})(?:/proof/(?P<index>\d{1,12})(?P<png>\.png)?)?")


class VisitApp:
    """The WSGI callable; officials come from `officials()` (an object with .get(id))."""

    def __init__(self, service: VisitService, officials: Callable[[], object], base_url: str | None = None):
        self.service = service
        self.settings = service.settings
        self._officials_factory = officials
        self._officials = None
        self._lock = threading.Lock()
        self.origins = tuple(o for o in [(base_url or "").rstrip("/")] if o)

    def __call__(self, environ, start_response):
        request = Request(environ, self.settings["max_body_bytes"])
        try:
            status, headers, body = self.route(request)
        except (redis.RedisError, OSError, ConfigError) as exc:
            logger.error("%s %s: service unavailable: %s", request.method, request.path, exc)
            status, headers, body = html(503, pages.message_page("잠시 쓸 수 없습니다", "잠시 뒤 다시 시도해 주세요."),
                                         [("Retry-After", "30")])
        except Exception:  # noqa: BLE001 - one failing request never takes the worker down
            logger.exception("%s %s failed", request.method, request.path)
            status, headers, body = html(500, pages.message_page("오류가 났습니다", "잠시 뒤 다시 시도해 주세요."))
        headers = [(k, v) for k, v in headers if k != "Content-Length"] + [("Content-Length", str(len(body)))]
        start_response(f"{status} {REASONS.get(status, '')}".rstrip(), headers)
        return [b"" if request.method == "HEAD" else body]

    def route(self, request: Request) -> Response:
        path = request.path
        if not path.startswith("/visit/"):
            return self.not_found()
        if request.method == "POST":
            match = PAGE.fullmatch(path)
            if match is None or match["index"] is not None:
                return html(405, pages.message_page("허용되지 않는 요청", "이 주소에는 보낼 수 없습니다."), [("Allow", "GET, HEAD")])
            return self.issue(request, match["token"])
        if request.method not in ("GET", "HEAD"):
            return html(405, pages.message_page("허용되지 않는 요청", "이 주소에는 보낼 수 없습니다."), [("Allow", "GET, HEAD, POST")])
        if path.startswith("/visit/static/"):
            return self.static(path[len("/visit/static/"):])
        if path == "/visit/keys.json":
            body = json.dumps(self.service.keyring().to_json(), indent=1).encode()
            return data(body, "application/json; charset=utf-8", extra=[("Access-Control-Allow-Origin", "*")])
        if path == "/visit/checkpoint":
            body = json.dumps(self.service.checkpoint().to_json(), indent=1).encode()
            return data(body, "application/json; charset=utf-8", extra=[("Access-Control-Allow-Origin", "*")])
        if path == "/visit/verifier.html":
            page, csp = verifier_page(self.service.keyring(), self.settings["qr_prefix"], self.settings["clock_skew_seconds"])
            return 200, [(k, csp if k == "Content-Security-Policy" else v) for k, v in HTML_HEADERS], page.encode()
        match = PAGE.fullmatch(path)
        if match is None:
            return self.not_found()
        official = self.official(match["token"])
        if official is None:
            return self.not_found()
        if match["index"] is None:
            return self.page(request, match["token"], official)
        return self.proof(request, match["token"], official, int(match["index"]), bool(match["png"]))

    # --- helpers --------------------------------------------------------------

    def not_found(self) -> Response:
        return html(404, pages.not_found_page())

    def officials(self):
        with self._lock:
            if self._officials is None:
                self._officials = self._officials_factory()
            return self._officials

    def official(self, token: str):
        if not TOKEN.fullmatch(token):
            return None
        official_id = self.service.state.official_for(token)
        return self.officials().get(official_id) if official_id else None

    def static(self, name: str) -> Response:
        if name not in STATIC_FILES:
            return self.not_found()
        return data((STATIC / name).read_bytes(), STATIC_FILES[name], cache="public, max-age=300")

    # --- the phone page -------------------------------------------------------

    def page(self, request: Request, token: str, official, error: str | None = None, status: int = 200) -> Response:
        trips = [{"id": t.id, "name": t.name, "radius": metres(t.radius_m), "dates": pages.trip_dates(t.start, t.end)}
                 for t in self.service.trips.for_official(official.id, today())]
        recent = []
        for index, text in self.service.state.recent(official.id, 5):
            try:
                claim = self.service.verify(text).claim
            except Rejected:
                continue
            recent.append(pages.recent_item(token, index, claim.issued_at, coordinates(claim.lat, claim.lon)))
        body = pages.render("page.html", name=official.name, organization=organization_of(official), error=error,
                            action=f"/visit/{token}", trips=trips, recent=recent,
                            form_token=self.service.state.form_token(official.id, self.settings["form_ttl_seconds"]),
                            **pages.honest_values(self.settings))
        return html(status, body, https=request.scheme == "https")

    def issue(self, request: Request, token: str) -> Response:
        official = self.official(token)
        if official is None:
            return self.not_found()
        if not request.same_origin(self.origins):
            logger.warning("refused a cross-site POST for %s (Origin %r)", official.id, request.header("Origin"))
            return html(403, pages.message_page("허용되지 않는 요청", "요있다 페이지에서 직접 누른 요청만 받습니다."))
        length = request.body_length()
        if length is None or length > self.settings["max_body_bytes"]:
            return html(413, pages.message_page("요청이 너무 큽니다", "페이지를 새로 열어 다시 시도하세요."))
        if not request.environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
            return html(415, pages.message_page("허용되지 않는 요청", "요있다 페이지에서 직접 누른 요청만 받습니다."))
        form = request.form()
        if not self.service.state.use_form_token(form.get("form_token", ""), official.id):
            return self.page(request, token, official, "페이지가 오래되었거나 이미 쓴 요청입니다. 버튼을 다시 누르세요.", 400)
        try:
            lat, lon, accuracy = (_number(form.get(name, "")) for name in ("lat", "lon", "accuracy"))
            trip = form.get("trip", "")
            trip_id = int(trip) if trip.isdigit() and len(trip) < 12 else None
            issued = self.service.issue(official, lat, lon, accuracy, trip_id=trip_id)
        except Rejected as exc:
            status = 429 if exc.code in ("too_fast", "too_many") else 422
            return self.page(request, token, official, exc.reason, status)
        return redirect(f"/visit/{token}/proof/{issued.index}")

    # --- a proof --------------------------------------------------------------

    def proof(self, request: Request, token: str, official, index: int, png: bool) -> Response:
        verified = self.service.recent_proof(official.id, index)
        if verified is None:
            return self.not_found()
        claim = verified.claim
        text = verified.text
        stamp = korean_time(claim.issued_at, seconds=False)
        filename = f"요있다-{claim.ledger_index}.png"
        if png:
            disposition = f"inline; filename=\"yoitda-{claim.ledger_index}.png\"; filename*=UTF-8''{quote(filename)}"
            return data(qr.png(text, self.settings["qr_scale"]), "image/png", cache="no-store",
                        extra=[("Content-Disposition", disposition)])
        trip = self.service.trips.get(claim.trip_id) if claim.trip_id is not None else None
        rows = claim_rows(claim, verified.key, trip.name if trip and trip.official == official.id else None)
        body = pages.render("proof.html", name=claim.name, organization=claim.organization, when=stamp, rows=rows,
                            png=f"/visit/{token}/proof/{index}.png", filename=filename, text=text,
                            size=qr.pixels(text, self.settings["qr_scale"]), back=f"/visit/{token}",
                            **pages.honest_values(self.settings))
        return html(200, body, https=request.scheme == "https")


def _number(value: str) -> float:
    try:
        number = float(value) if len(value) < 40 else math.nan
    except ValueError:
        number = math.nan
    if not math.isfinite(number):
        raise Rejected("휴대전화가 위치를 보내지 않았습니다. 다시 누르세요.", "bad_position")
    return number


def make_visit_app(cluster=None, *, data_dir=None, client=None, prefix=None, subscriptions_path=None,
                   settings=None) -> VisitApp:
    """The /visit/ WSGI app of a cluster (its data dir, Redis, subscriptions and `visits:` settings),
    or of explicit parts; explicit arguments win. Redis is connected on first use, never started."""
    from notifier.subscription import SubscriptionSet

    base_url = None
    if cluster is not None:
        from conf.connection import redis_client

        prefix = prefix or cluster.key_prefix
        subscriptions_path = subscriptions_path or cluster.subscriptions_path
        settings = settings if settings is not None else (cluster.settings.get("visits") or None)
        base_url = (cluster.settings.get("web") or {}).get("base_url")
        client = client or _LazyRedis(lambda: redis_client(cluster, start=False))
    if subscriptions_path is None:
        raise ValueError("make_visit_app needs a cluster or a subscriptions_path")
    service = VisitService(visits_dir(cluster, data_dir), settings, client, prefix or KEY_PREFIX)
    return VisitApp(service, lambda: SubscriptionSet(subscriptions_path), base_url=base_url)


class _LazyRedis:
    """A Redis client made on first use (the web service never starts Redis)."""

    def __init__(self, factory: Callable[[], redis.Redis]):
        self._factory = factory
        self._client: redis.Redis | None = None
        self._lock = threading.Lock()

    def __getattr__(self, name: str):
        with self._lock:
            if self._client is None:
                self._client = self._factory()
        return getattr(self._client, name)

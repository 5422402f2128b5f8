"""Shared parts of the 요있다 tests (no tests here): a cluster folder, a served app, HTTP helpers."""
from __future__ import annotations

import http.client
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlencode

import pytest

from visits.service import VisitService

ROOT = Path(__file__).resolve().parent.parent
CHANGWON = (35.227_900, 128.681_700)  # 창원시청 forecourt
SUBSCRIPTIONS = """officials:
  - id: kim-minsu
    name: 김민수 주무관
    topics:
      - {name: 드론 산업, query: 드론}
  - id: lee-seoyeon
    name: 이서연 사무관
    topics:
      - {name: 청년, query: 청년}
"""


def official(official_id: str = "kim-minsu", name: str = "김민수 주무관", organization: str = "경상남도") -> SimpleNamespace:
    """An official as the lead's subscriptions will give it (id, name, email and the coming `organization`)."""
    return SimpleNamespace(id=official_id, name=name, email=None, organization=organization)


class Officials:
    """A stand-in registry with `.get(id)`, for officials that carry an organization."""

    def __init__(self, *people: SimpleNamespace):
        self.people = {p.id: p for p in people}

    def get(self, official_id: str):
        return self.people.get(official_id)


@dataclass
class VisitCluster:
    conf: Path  # cluster.yaml
    data_dir: Path  # {data_dir}/visits
    subscriptions: Path
    prefix: str
    redis_url: str


@pytest.fixture
def visit_cluster(tmp_path: Path, redis_server, redis_client, prefix: str) -> VisitCluster:
    """A cluster.yaml of this test alone: its data dir, its key prefix, the session's redis-server."""
    subscriptions = tmp_path / "subscriptions.yaml"
    subscriptions.write_text(SUBSCRIPTIONS, encoding="utf-8")
    conf = tmp_path / "cluster.yaml"
    conf.write_text(f"redis_url: {redis_server.url}\ndata_dir: {tmp_path / 'var'}\nkey_prefix: {prefix}\n"
                    f"subscriptions: {subscriptions}\nsites_dirs: [{tmp_path}]\n"
                    "web: {host: 127.0.0.1, port: 8080, base_url: 'https://visit.example.go.kr'}\n", encoding="utf-8")
    return VisitCluster(conf, tmp_path / "var" / "visits", subscriptions, prefix, redis_server.url)


def make_service(directory: Path, client, prefix: str, **settings) -> VisitService:
    return VisitService(directory, settings or None, client, prefix)


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")


def request(root: str, method: str, path: str, body: bytes | None = None, headers: dict | None = None) -> Reply:
    """One HTTP request with http.client (redirects are not followed: the test sees them)."""
    host, port = root.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
    finally:
        conn.close()


def form_token(page: str) -> str:
    import re

    return re.search(r'name="form_token" value="([^"]+)"', page).group(1)


def post_visit(root: str, path: str, token: str, lat: float, lon: float, accuracy: float = 12.0,
               origin: str | None = "same", trip: str | None = None, extra: dict | None = None) -> Reply:
    fields = {"form_token": token, "lat": repr(lat), "lon": repr(lon), "accuracy": repr(accuracy)}
    if trip is not None:
        fields["trip"] = trip
    fields.update(extra or {})
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if origin == "same":
        headers["Origin"] = root
    elif origin is not None:
        headers["Origin"] = origin
    return request(root, "POST", path, urlencode(fields).encode(), headers)

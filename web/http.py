"""HTTP plumbing of the web service: the request as the routes read it, responses, security headers."""
from __future__ import annotations

import json
from urllib.parse import parse_qs

MAX_QUERY = 200          # characters of a query kept by the pages (the API refuses longer ones)
MAX_BODY = 64 * 1024     # bytes of a form body read
CSP = ("default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; base-uri 'none'; "
       "frame-ancestors 'none'")
COMMON_HEADERS = [("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "no-referrer")]
HTML_HEADERS = [("Content-Type", "text/html; charset=utf-8"), ("Content-Security-Policy", CSP),
                ("X-Frame-Options", "DENY"), ("Cache-Control", "no-cache")] + COMMON_HEADERS
TEXT_HEADERS = [("Content-Type", "text/plain; charset=utf-8"), ("Cache-Control", "no-store")] + COMMON_HEADERS
JSON_HEADERS = [("Content-Type", "application/json; charset=utf-8"), ("Cache-Control", "no-cache")] + COMMON_HEADERS
REASONS = {200: "OK", 304: "Not Modified", 400: "Bad Request", 403: "Forbidden", 404: "Not Found",
           405: "Method Not Allowed", 413: "Payload Too Large", 414: "URI Too Long", 500: "Internal Server Error",
           503: "Service Unavailable"}
API_ERRORS = {400: "요청이 올바르지 않습니다.", 404: "없는 API 주소입니다.", 405: "이 주소는 조회(GET)만 받습니다.",
              414: f"검색어가 너무 깁니다. {MAX_QUERY}자 이내로 입력해 주세요.", 500: "잠시 문제가 생겼습니다. 잠시 뒤 다시 시도해 주세요.",
              503: "잠시 서비스를 할 수 없습니다. 잠시 뒤 다시 시도해 주세요."}


class Request:
    """The parts of a WSGI environ the routes read. The Host header is never trusted for links."""

    def __init__(self, environ: dict):
        self.environ = environ
        self.method = environ.get("REQUEST_METHOD", "GET").upper()
        raw = environ.get("PATH_INFO", "") or "/"
        self.path = raw.encode("latin-1").decode("utf-8", "replace")  # PEP 3333: bytes as latin-1
        self.query_string = environ.get("QUERY_STRING", "")
        try:
            self.args = parse_qs(self.query_string, keep_blank_values=True, max_num_fields=50)
        except ValueError:  # more fields than any page of ours sends
            self.args = {}
        self.headers = {key[5:].replace("_", "-").title(): value for key, value in environ.items()
                        if key.startswith("HTTP_")}
        self._form: dict | None = None

    def arg(self, name: str, limit: int = MAX_QUERY) -> str:
        return " ".join((self.args.get(name) or [""])[0].split())[:limit]

    def raw_arg(self, name: str) -> str:
        return (self.args.get(name) or [""])[0]

    def args_of(self, name: str) -> list[str] | None:
        values = [" ".join(v.split())[:MAX_QUERY] for v in self.args.get(name, []) if v.strip()]
        return values or None

    def number(self, name: str, default: int, high: int) -> int:
        try:
            return min(high, max(1, int(self.arg(name, 8) or default)))
        except ValueError:
            return default

    @property
    def form(self) -> dict[str, list[str]]:
        """The url-encoded body of a POST (at most MAX_BODY bytes)."""
        if self._form is None:
            try:
                length = min(int(self.environ.get("CONTENT_LENGTH") or 0), MAX_BODY)
            except ValueError:
                length = 0
            body = self.environ["wsgi.input"].read(length) if length > 0 else b""
            try:
                self._form = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=100)
            except (UnicodeDecodeError, ValueError):
                self._form = {}
        return self._form


def json_body(data, status: int = 200):
    """UTF-8 JSON; crawled text stays text (a string value is never markup when served as JSON)."""
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return status, list(JSON_HEADERS), body


def api_error(status: int, message: str | None = None):
    """An API error: JSON with a Korean message, never an HTML page."""
    return json_body({"error": {"status": status, "message": message or API_ERRORS.get(status, "오류")}}, status)


def text(status: int, message: str, extra: list | None = None):
    return status, list(TEXT_HEADERS) + (extra or []), message.encode("utf-8")

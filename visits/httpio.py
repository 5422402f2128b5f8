"""The small HTTP layer of the 요있다 pages: request parsing, security headers, responses."""
from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
       "base-uri 'none'; frame-ancestors 'none'")
# Referrer-Policy same-origin (the main app sends no-referrer): with no-referrer a browser sends
# `Origin: null` on a form POST, and the cross-site check needs the real origin. No referrer leaves the site.
COMMON_HEADERS = [("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "same-origin")]
HTML_HEADERS = [("Content-Type", "text/html; charset=utf-8"), ("Content-Security-Policy", CSP),
                ("X-Frame-Options", "DENY"), ("Permissions-Policy", "geolocation=(self), camera=(), microphone=()"),
                ("Cache-Control", "no-store")] + COMMON_HEADERS
REASONS = {200: "OK", 303: "See Other", 400: "Bad Request", 403: "Forbidden", 404: "Not Found",
           405: "Method Not Allowed", 413: "Payload Too Large", 415: "Unsupported Media Type",
           422: "Unprocessable Entity", 429: "Too Many Requests", 500: "Internal Server Error",
           503: "Service Unavailable"}

Response = tuple[int, list[tuple[str, str]], bytes]


class Request:
    """The parts of a WSGI environ the pages read; the body is read lazily and capped."""

    def __init__(self, environ: dict, max_body: int):
        self.environ = environ
        self.method = environ.get("REQUEST_METHOD", "GET").upper()
        raw = environ.get("PATH_INFO", "") or "/"
        self.path = raw.encode("latin-1", "replace").decode("utf-8", "replace")  # PEP 3333: bytes as latin-1
        self.host = environ.get("HTTP_HOST") or f"{environ.get('SERVER_NAME', 'localhost')}:{environ.get('SERVER_PORT', '80')}"
        self.scheme = environ.get("wsgi.url_scheme", "http")
        self.root = f"{self.scheme}://{self.host}"
        self.max_body = max_body

    def header(self, name: str) -> str:
        return self.environ.get("HTTP_" + name.upper().replace("-", "_"), "")

    def body_length(self) -> int | None:
        """CONTENT_LENGTH as a number (None when missing or malformed)."""
        try:
            length = int(self.environ.get("CONTENT_LENGTH") or "")
        except ValueError:
            return None
        return length if length >= 0 else None

    def form(self) -> dict[str, str]:
        """The url-encoded form (first value of each field); call only after checking body_length."""
        length = min(self.body_length() or 0, self.max_body)
        body = self.environ["wsgi.input"].read(length) if length else b""
        try:
            fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=20, strict_parsing=False)
        except (UnicodeDecodeError, ValueError):
            return {}
        return {k: v[0] for k, v in fields.items()}

    def same_origin(self, extra_origins: tuple[str, ...] = ()) -> bool:
        """Whether a POST comes from a page of this site: Origin (or else Referer) names the request's own host."""
        origin = self.header("Origin")
        if origin and origin != "null":
            return urlsplit(origin).netloc.lower() == self.host.lower() or origin.rstrip("/") in extra_origins
        referer = self.header("Referer")
        if referer:
            parts = urlsplit(referer)
            return parts.netloc.lower() == self.host.lower() or f"{parts.scheme}://{parts.netloc}" in extra_origins
        return False


def html(status: int, body: str, extra: list[tuple[str, str]] | None = None, https: bool = False) -> Response:
    headers = list(HTML_HEADERS) + (extra or [])
    if https:
        headers.append(("Strict-Transport-Security", "max-age=31536000"))
    return status, headers, body.encode("utf-8")


def data(body: bytes, content_type: str, cache: str = "no-cache", extra: list[tuple[str, str]] | None = None) -> Response:
    return 200, [("Content-Type", content_type), ("Cache-Control", cache)] + COMMON_HEADERS + (extra or []), body


def redirect(location: str) -> Response:
    return 303, [("Location", location), ("Cache-Control", "no-store"), ("Content-Type", "text/plain; charset=utf-8")] \
        + COMMON_HEADERS, "이동합니다.\n".encode()

"""What every farm site shares: requests and responses, the page shell, robots.txt, home and admin pages."""
from __future__ import annotations

from dataclasses import dataclass, field
from html import escape
from typing import Iterable
from urllib.parse import parse_qs, urlsplit

from farm import faults as fault_pages
from farm.catalog import SiteDef
from farm.faults import FOOTER_MARK, FaultSwitches


def esc(text) -> str:
    return escape(str(text), quote=True)


@dataclass
class Request:
    method: str
    target: str                 # path and query as received
    path: str
    query: dict[str, str]
    form: dict[str, str]

    @classmethod
    def parse(cls, method: str, target: str, body: bytes = b"", encoding: str = "utf-8") -> "Request":
        parts = urlsplit(target)
        query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True, encoding=encoding,
                                              errors="replace").items()}
        form = {}
        if method == "POST" and body:
            form = {k: v[0] for k, v in parse_qs(body.decode("latin-1"), keep_blank_values=True,
                                                  encoding=encoding, errors="replace").items()}
        return cls(method, target, parts.path or "/", query, form)

    def param(self, name: str, default: str = "") -> str:
        """A form field (POST) or query parameter."""
        return self.form.get(name) or self.query.get(name) or default

    def number(self, name: str, default: int = 1) -> int:
        value = self.param(name)
        return int(value) if value.isdigit() else default


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    chunks: Iterable[bytes] | None = None   # streamed body of `length` bytes instead of `body`
    length: int | None = None


@dataclass
class Page:
    html: str
    list_page: bool = False


def page_count(total: int, size: int) -> int:
    return max(1, -(-total // size))


class FarmSite:
    """A site of the farm; subclasses route their own paths (`route`) and report ground truth (`manifest`)."""

    def __init__(self, seed: int, site: SiteDef):
        self.seed = seed
        self.site = site
        self.base_url = ""  # set by the farm once its port is known

    # -- to implement
    def start_paths(self) -> list[str]:
        raise NotImplementedError

    def route(self, req: Request, traps: list[tuple[str, str]]) -> Page | Response | None:
        raise NotImplementedError

    def manifest(self) -> list[dict]:
        raise NotImplementedError

    # -- shared pages
    def respond(self, req: Request, switches: FaultSwitches) -> Response:
        if req.path == "/robots.txt":
            return Response(body=self.robots().encode(), content_type="text/plain; charset=utf-8")
        special = self._special(req, switches)
        if special is not None:
            return special
        result = self.route(req, fault_pages.trap_links(switches))
        if result is None:
            return self.not_found()
        if isinstance(result, Response):
            return result
        html = result.html
        if result.list_page and switches.malformed and \
                fault_pages.fraction(self.seed, self.site.id, "malformed", req.target, sorted(req.form.items())) < switches.malformed:
            html = fault_pages.malform(html)
        if switches.broken_layout:
            html = fault_pages.break_layout(html)
        elif switches.renamed_classes:
            html = fault_pages.break_layout(html, tuple(switches.renamed_classes))
        return self.html(html)

    def _special(self, req: Request, switches: FaultSwitches) -> Response | None:
        if req.path == "/":
            links = "".join(f'<li><a href="{esc(p)}">{esc(self.title())}</a></li>' for p in self.start_paths())
            return self.html(self.shell(self.site.organization, f'<ul class="quick_menu">{links}</ul>'))
        if req.path.startswith("/admin/") and self.site.robots != "allow":
            return self.html(self.admin_page())
        if req.path == "/calendar" and switches.calendar_trap:
            return Response(body=fault_pages.calendar_page(req.number("month")).encode())
        if req.path == "/loop" and switches.redirect_loop:
            return Response(status=302, headers={"Location": "/loop"}, body=b"")
        if req.path == "/huge" and switches.huge_page:
            return Response(chunks=fault_pages.huge_chunks(switches.huge_bytes), length=switches.huge_bytes)
        return None

    def robots(self) -> str:
        lines = ["User-agent: *"]
        if self.site.robots == "allow":
            lines.append("Allow: /")
        else:
            lines.append("Disallow: /admin/")
            if self.site.robots == "delay":
                lines.append("Crawl-delay: 2")
        return "\n".join(lines) + "\n"

    def admin_page(self) -> str:
        """Behind robots.txt's Disallow: rows that look like staff but are in no manifest."""
        rows = "".join(f'<tr><td class="team">시스템관리</td><td class="position">관리자</td><td class="name">관리자{i}</td>'
                       f'<td class="duties">조직정보 입력 테스트</td><td class="phone">000-000-000{i}</td>'
                       f'<td class="email">admin{i}@example.invalid</td></tr>' for i in range(3))
        return self.shell("조직관리", '<h3 class="dept_name">조직관리(관리자 전용)</h3>'
                                  f'<table class="dept_staff"><tbody>{rows}</tbody></table>')

    def not_found(self) -> Response:
        return Response(status=404, body=self.encode(self.shell("페이지를 찾을 수 없습니다",
                                                                "<p>요청하신 페이지를 찾을 수 없습니다.</p>")),
                        content_type=self.content_type())

    # -- helpers for subclasses
    def title(self) -> str:
        return self.site.organization

    def content_type(self) -> str:
        return "text/html; charset=EUC-KR" if self.site.encoding == "euc-kr" else "text/html; charset=utf-8"

    def encode(self, html: str) -> bytes:
        return html.encode("cp949" if self.site.encoding == "euc-kr" else "utf-8", "xmlcharrefreplace")

    def html(self, html: str) -> Response:
        return Response(body=self.encode(html), content_type=self.content_type())

    def shell(self, title: str, content: str, head: str = "") -> str:
        """A page as the province's CMS frames it: header, menu, content, footer."""
        org = esc(self.site.organization)
        meta = ('<meta http-equiv="Content-Type" content="text/html; charset=euc-kr">' if self.site.encoding == "euc-kr"
                else '<meta charset="utf-8">')
        return (f'<!DOCTYPE html>\n<html lang="ko">\n<head>\n{meta}\n'
                f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
                f'<title>{esc(title)} | {org}</title>\n{head}</head>\n<body>\n'
                f'<div id="skip"><a href="#contents">본문 바로가기</a></div>\n'
                f'<div id="header"><h1 class="logo"><a href="/">{org}</a></h1>\n'
                f'<ul class="gnb"><li><a href="/">홈</a></li><li><a href="/">알림소식</a></li>'
                f'<li><a href="/">정보공개</a></li><li><a href="/">참여소통</a></li></ul></div>\n'
                f'<div id="contents" class="contents">\n{content}\n</div>\n'
                f'{FOOTER_MARK}\n<div id="footer"><address>{org} | 대표전화 {esc(self.site.phone_prefix)}-0114</address>'
                f'<p class="copy">Copyright &copy; {org}. All rights reserved.</p></div>\n</body>\n</html>\n')

    def base_record(self) -> dict:
        return {"site": self.site.id, "organization": self.site.organization}

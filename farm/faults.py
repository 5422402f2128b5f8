"""Fault switches of a farm site and the deterministic decisions and pages they produce."""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, fields, replace

RATE_SWITCHES = ("failure_rate", "slow_paths", "reset_rate", "malformed", "throttle_rate")


@dataclass(frozen=True)
class FaultSwitches:
    """All off by default. Rates are fractions of paths, chosen by a hash of the path (deterministic)."""

    latency: float = 0.0          # seconds added to every response
    failure_rate: float = 0.0     # fraction of paths answering 500 on their first `fail_attempts` attempts
    fail_attempts: int = 1
    slow_paths: float = 0.0       # fraction of paths that take `slow_seconds` (every attempt)
    slow_seconds: float = 5.0
    reset_rate: float = 0.0       # fraction of paths whose first attempt is reset without a response
    malformed: float = 0.0        # fraction of list pages served truncated with unclosed tags (True = 0.5)
    huge_page: bool = False       # link to /huge, a page of `huge_bytes`
    huge_bytes: int = 32 * 2**20
    redirect_loop: bool = False   # link to /loop, which redirects to itself forever
    calendar_trap: bool = False   # link to /calendar?month=1; month N always links month N+1
    broken_layout: bool = False   # every class name changes, so the site's YAML selectors match nothing
    renamed_classes: tuple = ()   # only these class names change (a partial redesign: one table, one block)
    throttle_rate: float = 0.0    # fraction of paths answering 429 with Retry-After on their first attempt
    retry_after: int = 2          # seconds the 429 asks for
    hostile_links: tuple = ()     # hrefs shown among the trap links (file:, the cluster's own services, …)

    def updated(self, **switches) -> "FaultSwitches":
        known = {f.name for f in fields(self)}
        unknown = set(switches) - known
        if unknown:
            raise TypeError(f"unknown fault switch(es): {', '.join(sorted(unknown))}; known: {', '.join(sorted(known))}")
        values = {}
        for name, value in switches.items():
            if name == "malformed" and value is True:
                value = 0.5
            elif name in RATE_SWITCHES:
                value = float(value)
                if not 0.0 <= value <= 1.0:
                    raise ValueError(f"{name} must be between 0 and 1, got {value}")
            values[name] = value
        return replace(self, **values)

    def active(self) -> dict:
        """The switches that differ from the defaults."""
        default = FaultSwitches()
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) != getattr(default, f.name)}


def fraction(*parts) -> float:
    """A stable number in [0, 1) for the given parts (site, salt, request key)."""
    digest = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def trap_links(switches: FaultSwitches) -> list[tuple[str, str]]:
    """(href, text) of the trap links a site shows while the switches are on."""
    links = []
    if switches.calendar_trap:
        links.append(("/calendar?month=1", "행사달력"))
    if switches.redirect_loop:
        links.append(("/loop", "바로가기"))
    if switches.huge_page:
        links.append(("/huge", "전체자료 보기"))
    links += [(href, "관련 누리집") for href in switches.hostile_links]
    return links


def calendar_page(month: int) -> str:
    """An endless calendar: month N links month N+1, in the blocks loose YAML selectors follow."""
    nxt = f"/calendar?month={month + 1}"
    year, mon = 2026 + (month - 1) // 12, (month - 1) % 12 + 1
    return (f'<!DOCTYPE html><html lang="ko"><head><meta charset="utf-8"><title>행사달력 {year}년 {mon}월</title></head>'
            f'<body><h3 class="cal_title">{year}년 {mon}월 행사일정</h3>'
            f'<table class="calendar"><tr><th>일</th><th>월</th><th>화</th><th>수</th><th>목</th><th>금</th><th>토</th></tr>'
            f'<tr><td colspan="7">등록된 일정이 없습니다.</td></tr></table>'
            f'<div class="org_tree"><ul><li><a href="{nxt}">다음달</a></li></ul></div>'
            f'<div class="paging"><a href="{nxt}" class="next">다음달</a></div></body></html>')


def huge_chunks(size: int, chunk: int = 1 << 16):
    """The body of the huge page, produced piece by piece (never held whole)."""
    head = '<!DOCTYPE html><html lang="ko"><head><meta charset="utf-8"><title>전체자료</title></head><body><div class="dump">'.encode()
    tail = b"</div></body></html>"
    filler = ("<p>자료 준비 중입니다. " + "가" * 200 + "</p>\n").encode()
    body = size - len(head) - len(tail)
    yield head
    block = filler * (chunk // len(filler) + 1)
    while body > 0:
        piece = block[:min(body, len(block))]
        body -= len(piece)
        yield piece
    yield tail


_CLOSERS = re.compile(r"</(td|tr|li|p|tbody|thead)>")
FOOTER_MARK = "<!-- footer -->"


def malform(html: str) -> str:
    """Unclosed cells, rows and items, and a page cut off inside the footer: the rows are all still there."""
    cut = html.find(FOOTER_MARK)
    if cut >= 0:
        html = html[:cut] + '<div id="footer"><div class="foot_inner"><p class="copy">Copyright &copy; '
    return _CLOSERS.sub("", html)


_CLASS = re.compile(r'class="([^"]*)"')


def break_layout(html: str, only: tuple = ()) -> str:
    """The site's redesign: every class name (or every one of `only`) is different."""
    rename = (lambda c: "n-" + c if c in only else c) if only else (lambda c: "n-" + c)
    return _CLASS.sub(lambda m: 'class="' + " ".join(rename(c) for c in m.group(1).split()) + '"', html)

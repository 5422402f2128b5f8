"""Staff results as a plain text table for a terminal: crawled text printed inertly."""
from __future__ import annotations

import re
import unicodedata

from conf.specs import BOARD_KIND_LABELS
from index.results import Results

COLUMNS = (("기관", 14), ("부서", 24), ("직위", 8), ("이름", 8), ("전화", 14), ("담당업무", 60))
# C0/C1 controls (ESC starts terminal sequences), DEL, bidi overrides and zero-width marks.
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]")


def inert(value) -> str:
    """Text that cannot move the cursor, recolour or reorder a terminal: controls become spaces."""
    return " ".join(_UNSAFE.sub(" ", "" if value is None else str(value)).split())


def width(text: str) -> int:
    """Terminal columns: wide (Hangul, CJK) characters take two, combining marks none."""
    total = 0
    for ch in text:
        if unicodedata.combining(ch):
            continue
        total += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return total


def fit(text: str, columns: int) -> str:
    """Cut to `columns` (with … when cut) and pad with spaces to exactly that width."""
    if width(text) > columns:
        out, used = [], 0
        for ch in text:
            w = width(ch)
            if used + w > columns - 1:
                break
            out.append(ch)
            used += w
        text = "".join(out) + "…"
    return text + " " * (columns - width(text))


def format_table(results: Results) -> str:
    """One line per hit: 기관, 부서, 직위, 이름, 전화, 담당업무 (in full); a summary line at the end."""
    header = "  ".join(fit(name, w) for name, w in COLUMNS).rstrip()
    lines = [header, "-" * width(header)]
    for hit in results.hits:
        department = " ".join(v for v in (inert(hit.get("department")), inert(hit.get("team"))) if v)
        cells = [inert(hit.get("organization")), department, inert(hit.get("position")), inert(hit.get("name")),
                 inert(hit.get("phone")), inert(hit.get("duties"))]
        parts = [fit(cell, w) for cell, (_, w) in zip(cells[:-1], COLUMNS[:-1], strict=True)]
        parts.append(cells[-1])
        lines.append("  ".join(parts).rstrip())
    first = (results.page - 1) * results.per_page + 1
    last = first + len(results.hits) - 1
    shown = f"{first}-{last}" if results.hits else "0"
    lines.append(f"{results.total}건 중 {shown} ({results.took_ms:.1f} ms) 검색어: {inert(results.query)}")
    return "\n".join(lines) + "\n"


def format_posts(results: Results) -> str:
    """One block per post: date, organization, board kind, title; the link below it."""
    lines = []
    for hit in results.hits:
        date = inert((hit.get("date") or hit.get("first_seen") or "")[:10])
        lines.append(f"{date}  {fit(inert(hit.get('organization')), 14)}  {fit(BOARD_KIND_LABELS.get(hit.get('board_kind') or '', '게시물'), 8)}  "
                     f"{inert(hit.get('title'))}".rstrip())
        if hit.get("url"):
            lines.append(f"{'':12}{inert(hit['url'])}")
    first = (results.page - 1) * results.per_page + 1
    shown = f"{first}-{first + len(results.hits) - 1}" if results.hits else "0"
    lines.append(f"{results.total}건 중 {shown} ({results.took_ms:.1f} ms) 검색어: {inert(results.query)}")
    return "\n".join(lines) + "\n"

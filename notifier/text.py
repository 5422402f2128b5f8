"""Small helpers shared by feeds and e-mails: clean text, times, Korean labels, snippets."""
from __future__ import annotations

import datetime as dt
import html
import re

from conf.specs import BOARD_KIND_LABELS
from conf.timezone import SEOUL
from index.text import clean
from notifier.query import highlight_pattern

UTC = dt.timezone.utc
EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)


# Characters XML 1.0 forbids (C0 controls but tab/newline/CR, surrogates, U+FFFE/F) and C1 controls.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def clean_text(value) -> str:
    """Text safe for XML and e-mail: NFC, forbidden and control characters removed, spaces collapsed."""
    if value is None:
        return ""
    return clean(_NOT_XML.sub("", str(value)))


def parse_time(value, default_tz=SEOUL) -> dt.datetime | None:
    """A tz-aware datetime from an ISO text (date only: midnight; naive: `default_tz`), or None."""
    if not value:
        return None
    if isinstance(value, dt.datetime):
        stamp = value
    else:
        try:
            stamp = dt.datetime.fromisoformat(str(value).strip())
        except ValueError:
            return None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=default_tz)


def from_epoch(seconds: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(float(seconds), UTC)


def board_label(kind: str | None) -> str:
    return BOARD_KIND_LABELS.get(kind or "", "게시물")


def korean_date(stamp: dt.datetime | None) -> str:
    """2024년 5월 1일 (in Seoul time), or empty."""
    if stamp is None:
        return ""
    local = stamp.astimezone(SEOUL)
    return f"{local.year}년 {local.month}월 {local.day}일"


def snippet(text: str | None, terms, width: int = 80) -> list[tuple[str, bool]]:
    """Segments (text, is_match) of a window of `text` around the first matched term.

    `terms` are normalized terms (spaces removed): they are found again in the original
    text with any spaces between their letters. The text is cleaned first; callers escape.
    """
    text = clean_text(text)
    if not text:
        return []
    pattern = highlight_pattern(terms)
    first = pattern.search(text) if pattern else None
    if first is None:
        cut = text[: width * 2]
        return [(cut + ("…" if len(text) > len(cut) else ""), False)]
    start = max(0, first.start() - width)
    end = min(len(text), first.end() + width)
    window = text[start:end]
    segments: list[tuple[str, bool]] = [("…", False)] if start > 0 else []
    position = 0
    for found in pattern.finditer(window):
        if found.start() > position:
            segments.append((window[position:found.start()], False))
        segments.append((found.group(0), True))
        position = found.end()
    if position < len(window):
        segments.append((window[position:], False))
    if end < len(text):
        segments.append(("…", False))
    return segments


def snippet_html(text: str | None, terms, width: int = 80) -> str:
    """The snippet as HTML: crawled text escaped, matched words in <b>."""
    return "".join(f"<b>{html.escape(s)}</b>" if hit else html.escape(s) for s, hit in snippet(text, terms, width))


def snippet_plain(text: str | None, terms, width: int = 80) -> str:
    """The snippet as plain text, matched words in [brackets]."""
    return "".join(f"[{s}]" if hit else s for s, hit in snippet(text, terms, width))


def safe_url(value, fallback: str = "") -> str:
    """The URL when it is http(s), else `fallback` (no javascript: or data: links from crawled data)."""
    url = clean_text(value)
    return url if re.match(r"(?i)https?://", url) else fallback


def flag_text(reason: str | None) -> str:
    """A Korean explanation of an (English, technical) flag reason."""
    if not reason:
        return ""
    numbers = re.search(r"has (\d+) rows.* the (\d+) live rows", reason)
    if numbers:
        return (f"최근 수집 결과({numbers.group(1)}명)가 기존 자료({numbers.group(2)}명)보다 크게 줄어 "
                "이전 자료를 그대로 보여 줍니다.")
    for needle, text in (("layout changed", "사이트 화면 구성이 바뀐 것 같습니다(목록에서 자료를 찾지 못함)."),
                         ("0 rows", "최근 수집에서 직원 자료가 0건이었습니다."),
                         ("every page failed", "사이트가 모든 요청에 오류로 답했습니다."),
                         ("could not be fetched", "일부 페이지를 끝내 받지 못했습니다."),
                         ("crawl bound", "수집 한도(페이지 수·깊이)에 걸려 자료가 모자랄 수 있습니다."),
                         ("cancelled", "수집이 취소되었습니다.")):
        if needle in reason:
            return text + " 이전 자료를 그대로 보여 줍니다."
    return "최근 수집에 실패했습니다. 이전 자료를 그대로 보여 줍니다."

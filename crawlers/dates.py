"""Dates as Korean sites write them, into timezone-aware Asia/Seoul datetimes."""
from __future__ import annotations

import re
from datetime import datetime

from dateutil import parser as date_parser

from conf.timezone import SEOUL

_TIME = r"(?:(?:\s*|T)(?:\(\w\))?\s*(\d{1,2}):(\d{2})(?::(\d{2}))?)?"
_PATTERNS = [
    re.compile(r"(\d{4})\s*년\s*(\d{1,2})\s*월\s*(\d{1,2})\s*일" + _TIME),
    re.compile(r"(?<!\d)(\d{4})\s*[.\-/]\s*(\d{1,2})\s*[.\-/]\s*(\d{1,2})\.?" + _TIME),
    re.compile(r"(?<!\d)(\d{2})\s*[.\-/]\s*(\d{1,2})\s*[.\-/]\s*(\d{1,2})(?!\d)\.?" + _TIME),
]


def parse_date(text: str | None) -> datetime | None:
    """First date in `text` (2026.11.24, 2026-11-24 14:30, 26.11.24, 2026년 11월 24일…), or None."""
    if not text:
        return None
    for pattern in _PATTERNS:
        match = pattern.search(text)
        if not match:
            continue
        year, month, day, hour, minute, second = (int(g) if g else 0 for g in match.groups())
        if year < 100:
            year += 2000
        try:
            return datetime(year, month, day, hour, minute, second, tzinfo=SEOUL)
        except ValueError:
            continue
    if not re.search(r"(?<!\d)(19|20)\d{2}(?!\d)", text):
        return None  # fuzzy parsing of text without a year invents dates
    try:
        parsed = date_parser.parse(text, fuzzy=True)
    except (ValueError, OverflowError):
        return None
    return parsed.replace(tzinfo=SEOUL) if parsed.tzinfo is None else parsed.astimezone(SEOUL)

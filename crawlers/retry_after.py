"""Retry-After (RFC 9110 §10.2.3): seconds, or an HTTP date."""
from __future__ import annotations

import time
from email.utils import parsedate_to_datetime


def retry_after_seconds(value: bytes | str | None, cap: float, now: float | None = None) -> float | None:
    """The wait a Retry-After header asks for, capped at `cap` seconds; None when absent or unreadable."""
    if value is None:
        return None
    text = (value.decode("latin-1") if isinstance(value, bytes) else str(value)).strip()
    if not text:
        return None
    if text.isdigit():
        return min(float(cap), float(text[:9]))
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if moment is None or moment.tzinfo is None:
        return None
    return min(float(cap), max(0.0, moment.timestamp() - (time.time() if now is None else now)))

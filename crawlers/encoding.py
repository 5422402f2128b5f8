"""Decode page bytes: the configured encoding, else header, meta tag, UTF-8, then CP949."""
from __future__ import annotations

import codecs
import re

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_\-]+)""", re.I)
_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9_\-]+)", re.I)
# EUC-KR pages routinely contain CP949-only syllables; CP949 is its superset.
_ALIASES = {"euc-kr": "cp949", "euc_kr": "cp949", "ks_c_5601-1987": "cp949", "ksc5601": "cp949", "x-windows-949": "cp949", "ms949": "cp949"}


def normalize_encoding(name: str | None) -> str | None:
    if not name:
        return None
    name = _ALIASES.get(name.strip().lower(), name.strip().lower())
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def declared_encoding(body: bytes, content_type: str | None) -> str | None:
    if content_type:
        match = _HEADER_CHARSET.search(content_type)
        if match and normalize_encoding(match.group(1)):
            return normalize_encoding(match.group(1))
    match = _META_CHARSET.search(body[:4096])
    return normalize_encoding(match.group(1).decode("ascii", "ignore")) if match else None


def decode_page(body: bytes, content_type: str | None = None, configured: str = "auto") -> tuple[str, str]:
    """Return (text, encoding used). Never raises: the last resort replaces bad bytes."""
    candidates = []
    if configured and configured != "auto":
        candidates.append(normalize_encoding(configured))
    else:
        declared = declared_encoding(body, content_type)
        if declared:
            candidates.append(declared)
        candidates += ["utf-8", "cp949"]
    for encoding in candidates:
        if not encoding:
            continue
        try:
            return body.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    encoding = candidates[0] or "utf-8"
    return body.decode(encoding, errors="replace"), encoding

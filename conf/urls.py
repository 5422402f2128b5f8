"""URL helpers shared by the configuration checks and the crawler's link policy."""
from __future__ import annotations

from urllib.parse import urlsplit


def netloc(url: str) -> str:
    """host[:port] of a URL, lower-cased, with the scheme's default port left out."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:  # not a number (an unresolved ${VARIABLE}): keep it as written
        return parts.netloc.lower()
    default = {"http": 80, "https": 443}.get(parts.scheme.lower())
    return host if port in (None, default) else f"{host}:{port}"

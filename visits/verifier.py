"""The self-contained verifier page: one HTML file, public keys and the vendored Ed25519 library inside.

It works from file:// with the network off; its own Content-Security-Policy (a meta tag, and the same
header when served at /visit/verifier.html) allows only its inline scripts and style, by hash, and no
connection of any kind.
"""
from __future__ import annotations

import base64
import hashlib
import json
import time
from pathlib import Path

from markupsafe import Markup

from visits import pages
from visits.keys import KeyRing
from visits.korean import korean_time

STATIC = Path(__file__).resolve().parent / "static"
LIBRARY = STATIC / "vendor" / "noble-curves-ed25519-2.3.0.js"
LIBRARY_VERSION = "2.3.0"
SCRIPT = STATIC / "verifier.js"
STYLE = """body{font-family:"Noto Sans CJK KR","Noto Sans KR","Apple SD Gothic Neo","Malgun Gothic",sans-serif;margin:0;
background:#f4f6f8;color:#16202a;line-height:1.5}main{max-width:44rem;margin:0 auto;padding:1rem}
h1{color:#0b4f8a}textarea{width:100%;font-family:monospace;font-size:.85rem}
button{font-size:1.2rem;padding:.7rem 2rem;border:0;border-radius:.6rem;background:#0b63b6;color:#fff}
.ok{background:#e7f5ea;color:#1d5e2c;padding:.8rem;border-radius:.5rem;font-weight:bold}
.bad{background:#fdecea;color:#8a1c12;padding:.8rem;border-radius:.5rem;font-weight:bold}
dl.summary{display:grid;grid-template-columns:max-content 1fr;gap:.35rem .8rem;background:#fff;padding:.8rem;border-radius:.6rem}
dl.summary dt{color:#4b5b6b}dl.summary dd{margin:0;overflow-wrap:anywhere}.about{font-size:.92rem;color:#33424f}
.small{font-size:.8rem}"""


def _hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode() + "'"


def _inline(text: str) -> str:
    if "</script" in text.lower() or "<!--" in text:
        raise ValueError("inline script contains a sequence that would end the script element")
    return text


def verifier_page(keyring: KeyRing, prefix: str, skew_seconds: int = 300, now: float | None = None) -> tuple[str, str]:
    """(HTML, Content-Security-Policy) of the standalone verifier for these public keys."""
    library = _inline(LIBRARY.read_text(encoding="utf-8"))
    script = _inline(SCRIPT.read_text(encoding="utf-8"))
    config = json.dumps({"prefix": prefix, "skew": skew_seconds, **keyring.to_json()}, separators=(",", ":"))
    config = config.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    csp = (f"default-src 'none'; script-src {_hash(library)} {_hash(script)}; style-src {_hash(STYLE)}; "
           "img-src data: blob:; base-uri 'none'; form-action 'none'")
    keys = [{"kid": k.kid, "status": k.status, "created_text": korean_time(k.created, seconds=False),
             "retired_text": korean_time(k.retired, seconds=False) if k.retired else "",
             "revoked_text": korean_time(k.revoked, seconds=False) if k.revoked else ""}
            for k in sorted(keyring.keys.values(), key=lambda k: k.created)]
    html = pages.render("verifier.html", csp=csp, style=Markup(STYLE), library=Markup(library), script=Markup(script),
                        config=Markup(config), prefix=prefix, keys=keys, library_version=LIBRARY_VERSION,
                        generated=korean_time(time.time() if now is None else now, seconds=False))
    return html, csp

"""The QR code of a proof (segno): alphanumeric mode, error correction M at least, PNG for saving."""
from __future__ import annotations

import io

import segno

BORDER = 4  # quiet zone in modules, as the standard asks


def make(text: str, boost: bool = True) -> segno.QRCode:
    """The smallest QR for `text` at level M (raised to Q or H when that fits the same version and `boost`)."""
    return segno.make_qr(text, error="m", boost_error=boost)


def png(text: str, scale: int = 6) -> bytes:
    out = io.BytesIO()
    make(text).save(out, kind="png", scale=scale, border=BORDER)
    return out.getvalue()


def pixels(text: str, scale: int = 6) -> int:
    return make(text).symbol_size(scale=scale, border=BORDER)[0]

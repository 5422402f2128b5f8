"""Base45 (RFC 9285): bytes as text in the QR alphanumeric alphabet."""
from __future__ import annotations

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_VALUE = {c: i for i, c in enumerate(ALPHABET)}


def encode(data: bytes) -> str:
    out = []
    for i in range(0, len(data) - 1, 2):
        n = data[i] * 256 + data[i + 1]
        c, n = n % 45, n // 45
        d, e = n % 45, n // 45
        out += (ALPHABET[c], ALPHABET[d], ALPHABET[e])
    if len(data) % 2:
        c, d = data[-1] % 45, data[-1] // 45
        out += (ALPHABET[c], ALPHABET[d])
    return "".join(out)


def decode(text: str) -> bytes:
    """The bytes of a Base45 text; ValueError for characters outside the alphabet or impossible triples."""
    if len(text) % 3 == 1:
        raise ValueError("base45: length leaves a single character")
    try:
        values = [_VALUE[c] for c in text]
    except KeyError as exc:
        raise ValueError(f"base45: character {exc.args[0]!r} is not in the alphabet") from None
    out = bytearray()
    for i in range(0, len(values), 3):
        chunk = values[i:i + 3]
        if len(chunk) == 3:
            n = chunk[0] + chunk[1] * 45 + chunk[2] * 45 * 45
            if n > 0xFFFF:
                raise ValueError("base45: triple above 65535")
            out += n.to_bytes(2, "big")
        else:
            n = chunk[0] + chunk[1] * 45
            if n > 0xFF:
                raise ValueError("base45: pair above 255")
            out.append(n)
    return bytes(out)

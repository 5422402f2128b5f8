"""Proof text <-> claim: CBOR claim, COSE_Sign1 (Ed25519), zlib, Base45, prefix — the DCC's layout."""
from __future__ import annotations

import hashlib
import time
import zlib
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from visits import base45
from visits.claim import Claim, parse_claim
from visits.cose import FormatError, Sign1, parse_sign1, sign1
from visits.errors import Rejected
from visits.keys import KeyRing, PublicKey

MAX_TEXT = 4000  # characters of a proof text read
MAX_COSE = 2048  # bytes after decompression (a zlib bomb stops here)


@dataclass(frozen=True)
class Verified:
    claim: Claim
    key: PublicKey
    cose: bytes
    text: str

    @property
    def proof_hash(self) -> str:
        return proof_hash(self.cose)


def proof_hash(cose: bytes) -> str:
    """SHA-256 of the signed COSE_Sign1 bytes: what the ledger records."""
    return hashlib.sha256(cose).hexdigest()


def encode(claim: Claim, kid: bytes, private: Ed25519PrivateKey, prefix: str) -> tuple[str, bytes]:
    """(QR text, COSE bytes) of a claim signed by `private`."""
    cose = sign1(claim.to_cbor(), kid, private.sign)
    return pack(cose, prefix), cose


def pack(cose: bytes, prefix: str) -> str:
    return prefix + base45.encode(zlib.compress(cose, 9))


def unpack(text: str, prefix: str) -> bytes:
    """The COSE bytes of a proof text; Rejected with a Korean reason when it is not one."""
    text = text.strip()
    if len(text) > MAX_TEXT:
        raise Rejected("증빙 내용이 너무 깁니다. 요있다 증빙이 아닙니다.", "too_long")
    if not text.startswith(prefix):
        raise Rejected(f"요있다 증빙이 아닙니다 ('{prefix}'로 시작하지 않습니다).", "prefix")
    try:
        compressed = base45.decode(text[len(prefix):])
    except ValueError:
        raise Rejected("QR 내용이 손상되었습니다 (Base45 해독 실패).", "base45") from None
    try:
        inflater = zlib.decompressobj()
        cose = inflater.decompress(compressed, MAX_COSE)
        if inflater.unconsumed_tail or not inflater.eof or inflater.unused_data:
            raise zlib.error("trailing, truncated or oversized data")
    except zlib.error:
        raise Rejected("QR 내용이 손상되었습니다 (압축을 풀 수 없음: 내용이 바뀌었거나 잘렸습니다).", "zlib") from None
    return cose


def read(text: str, prefix: str) -> tuple[Sign1, Claim, bytes]:
    """Parse without verifying: (COSE parts, claim, COSE bytes)."""
    cose = unpack(text, prefix)
    try:
        parts = parse_sign1(cose)
        claim = parse_claim(parts.payload)
    except FormatError as exc:
        raise Rejected(f"증빙 형식이 올바르지 않습니다 ({exc}).", "format") from None
    return parts, claim, cose


def verify(text: str, keyring: KeyRing, prefix: str, now: float | None = None,
           skew_seconds: int = 300) -> Verified:
    """The verified claim, or Rejected naming in Korean why the proof does not hold."""
    parts, claim, cose = read(text, prefix)
    key = keyring.check(parts.kid, claim.issued_at)
    if not key.verify(parts.signature, parts.to_be_signed()):
        raise Rejected(f"서명이 맞지 않습니다: 발급 뒤에 내용이 바뀌었거나, 키 {key.kid}가 아닌 다른 키로 "
                       "서명되었습니다. 이 증빙은 믿을 수 없습니다.", "bad_signature")
    now = time.time() if now is None else now
    if claim.issued_at > now + skew_seconds:
        raise Rejected("발급 시각이 미래입니다. 이 증빙은 믿을 수 없습니다 (검증하는 컴퓨터의 시계도 확인하세요).",
                       "future")
    return Verified(claim, key, cose, text.strip())

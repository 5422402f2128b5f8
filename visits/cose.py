"""COSE_Sign1 (RFC 9052) with EdDSA, and a strict reading of CBOR from untrusted bytes."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import cbor2

COSE_SIGN1_TAG = 18
ALG, KID = 1, 4  # header labels
EDDSA = -8  # algorithm id
MAX_DEPTH = 4


class FormatError(ValueError):
    """The bytes are not a COSE_Sign1 of the shape we issue."""


@dataclass(frozen=True)
class Sign1:
    protected: bytes  # the serialized protected header, exactly as signed
    kid: bytes
    payload: bytes
    signature: bytes

    def to_be_signed(self) -> bytes:
        return sig_structure(self.protected, self.payload)


def sig_structure(protected: bytes, payload: bytes) -> bytes:
    """Sig_structure = ["Signature1", body_protected, external_aad = h'', payload] (RFC 9052, 4.4)."""
    return cbor2.dumps(["Signature1", protected, b"", payload])


def sign1(payload: bytes, kid: bytes, sign: Callable[[bytes], bytes]) -> bytes:
    """A tagged COSE_Sign1 of `payload`, protected header {alg: EdDSA, kid}, signed by `sign`."""
    protected = cbor2.dumps({ALG: EDDSA, KID: kid}, canonical=True)
    signature = sign(sig_structure(protected, payload))
    return cbor2.dumps(cbor2.CBORTag(COSE_SIGN1_TAG, [protected, {}, payload, signature]))


def loads_strict(data: bytes) -> Any:
    """CBOR of plain types only (int, str, bytes, list, map, bool, null, tag 18 on the outside)."""
    try:
        value = cbor2.loads(data, max_depth=MAX_DEPTH + 1, allow_indefinite=False, allow_duplicate_keys=False,
                            immutable=True)
    except Exception as exc:  # cbor2 raises several kinds on malformed input
        raise FormatError(f"not CBOR: {exc}") from None
    _check_plain(value, 0)
    return value


def _check_plain(value: Any, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise FormatError("CBOR nested too deeply")
    if isinstance(value, cbor2.CBORTag):
        if depth or value.tag != COSE_SIGN1_TAG:
            raise FormatError(f"unexpected CBOR tag {value.tag}")
        _check_plain(value.value, depth + 1)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            _check_plain(key, depth + 1)
            _check_plain(item, depth + 1)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _check_plain(item, depth + 1)
    elif value is not None and not isinstance(value, (bool, int, str, bytes)):
        raise FormatError(f"unexpected CBOR value of type {type(value).__name__}")


def parse_sign1(data: bytes) -> Sign1:
    """The parts of a COSE_Sign1 (tagged or not) signed with EdDSA and carrying a kid."""
    value = loads_strict(data)
    if isinstance(value, cbor2.CBORTag):
        value = value.value
    if not (isinstance(value, tuple) and len(value) == 4):
        raise FormatError("not a COSE_Sign1 array of four items")
    protected, unprotected, payload, signature = value
    if not isinstance(protected, bytes) or not isinstance(unprotected, Mapping) or not isinstance(payload, bytes) \
            or not isinstance(signature, bytes):
        raise FormatError("COSE_Sign1 items have the wrong types")
    header = loads_strict(protected) if protected else {}
    if not isinstance(header, Mapping):
        raise FormatError("protected header is not a map")
    if header.get(ALG) != EDDSA:
        raise FormatError(f"algorithm {header.get(ALG)!r} is not EdDSA (-8)")
    if ALG in unprotected or KID in unprotected:
        raise FormatError("alg and kid must be in the protected header")
    kid = header.get(KID)
    if not isinstance(kid, bytes) or not 1 <= len(kid) <= 16:
        raise FormatError("missing or malformed key id")
    if len(signature) != 64:
        raise FormatError("an Ed25519 signature has 64 bytes")
    return Sign1(protected, kid, payload, signature)

"""The signed claim: a CWT-shaped CBOR map with small integer keys, and its strict reading."""
from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field

import cbor2

from visits.cose import FormatError, loads_strict
from visits.geo import distance_m, from_micro, to_micro

# Registered CWT claims (RFC 8392) where one fits, and application claims in the negative range, whose
# one-byte keys keep the QR small; their meaning is fixed by the QR prefix (YO1:).
SUB, IAT, CTI = 2, 6, 7
NAME, ORG, LAT, LON, ACCURACY, LEDGER_INDEX, TRIP, DESTINATION, RADIUS = -1, -2, -3, -4, -5, -6, -7, -8, -9
NONCE_BYTES = 8
MAX_TEXT = 200
MAX_INT = 2 ** 53 - 1  # the largest integer JavaScript holds exactly (the offline verifier)


@dataclass(frozen=True)
class Claim:
    official_id: str
    name: str
    organization: str
    issued_at: int  # Unix seconds, the server's clock
    lat: float
    lon: float
    accuracy_m: int
    ledger_index: int
    nonce: bytes = field(default_factory=lambda: secrets.token_bytes(NONCE_BYTES))
    trip_id: int | None = None
    destination: tuple[float, float] | None = None
    radius_m: int | None = None

    @property
    def distance_m(self) -> float | None:
        """Metres from the trip's destination, if the claim names one."""
        return None if self.destination is None else distance_m((self.lat, self.lon), self.destination)

    @property
    def within_radius(self) -> bool | None:
        distance = self.distance_m
        return None if distance is None or self.radius_m is None else distance <= self.radius_m

    def to_map(self) -> dict:
        out = {SUB: self.official_id, IAT: self.issued_at, CTI: self.nonce,
               NAME: self.name, ORG: self.organization, LAT: to_micro(self.lat), LON: to_micro(self.lon),
               ACCURACY: self.accuracy_m, LEDGER_INDEX: self.ledger_index}
        if self.trip_id is not None:
            out[TRIP] = self.trip_id
            if self.destination is not None:
                out[DESTINATION] = [to_micro(self.destination[0]), to_micro(self.destination[1])]
            if self.radius_m is not None:
                out[RADIUS] = self.radius_m
        return out

    def to_cbor(self) -> bytes:
        """Deterministic CBOR (RFC 8949 core deterministic encoding: sorted keys, shortest forms)."""
        return cbor2.dumps(self.to_map(), canonical=True)


def _text(claims: Mapping, key: int, required: bool = True) -> str:
    value = claims.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or len(value) > MAX_TEXT or any(ord(c) < 32 for c in value):
        raise FormatError(f"claim {key}: expected a short text")
    return value


def _int(claims: Mapping, key: int, low: int, high: int) -> int:
    value = claims.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise FormatError(f"claim {key}: expected a whole number in {low}..{high}")
    return value


def _point(value) -> tuple[float, float]:
    if not (isinstance(value, tuple) and len(value) == 2 and all(isinstance(v, int) and not isinstance(v, bool)
                                                                   for v in value)):
        raise FormatError("destination: expected [lat, lon] in microdegrees")
    lat, lon = value
    if not (-90_000_000 <= lat <= 90_000_000 and -180_000_000 <= lon <= 180_000_000):
        raise FormatError("destination out of range")
    return from_micro(lat), from_micro(lon)


def parse_claim(payload: bytes) -> Claim:
    """The claim of a payload; FormatError for anything we would not have issued."""
    claims = loads_strict(payload)
    if not isinstance(claims, Mapping):
        raise FormatError("payload is not a CBOR map")
    known = {SUB, IAT, CTI, NAME, ORG, LAT, LON, ACCURACY, LEDGER_INDEX, TRIP, DESTINATION, RADIUS}
    unknown = [k for k in claims if k not in known]
    if unknown:
        raise FormatError(f"unknown claim keys {unknown}")
    nonce = claims.get(CTI)
    if not isinstance(nonce, bytes) or not 8 <= len(nonce) <= 32:
        raise FormatError("claim 7 (cti): expected a nonce of 8 to 32 bytes")
    trip_id = _int(claims, TRIP, 1, MAX_INT) if TRIP in claims else None
    if trip_id is None and (DESTINATION in claims or RADIUS in claims):
        raise FormatError("destination or radius without a trip")
    return Claim(
        official_id=_text(claims, SUB), name=_text(claims, NAME), organization=_text(claims, ORG, required=False),
        issued_at=_int(claims, IAT, 0, MAX_INT),
        lat=from_micro(_int(claims, LAT, -90_000_000, 90_000_000)),
        lon=from_micro(_int(claims, LON, -180_000_000, 180_000_000)),
        accuracy_m=_int(claims, ACCURACY, 0, 100_000), ledger_index=_int(claims, LEDGER_INDEX, 0, MAX_INT),
        nonce=nonce, trip_id=trip_id,
        destination=_point(claims[DESTINATION]) if DESTINATION in claims else None,
        radius_m=_int(claims, RADIUS, 1, 1_000_000) if RADIUS in claims else None,
    )

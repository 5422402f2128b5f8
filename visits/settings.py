"""Every setting of 요있다 with its default and help, in one place (the `visits:` section of cluster.yaml)."""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

# A coarse polygon (lat, lon) around South Korea's land and near waters: Baengnyeong in the north-west,
# the DMZ, Ulleungdo and Dokdo in the east, the Korea Strait west of Tsushima, Marado and Gageodo in the
# south. It rejects what is clearly wrong (swapped coordinates, 0/0, Japan, China, the North), not the
# last kilometre of a border.
KOREA_AREA: tuple[tuple[float, float], ...] = (
    (38.10, 124.45), (37.72, 125.80), (37.84, 126.15), (37.82, 126.60), (37.98, 126.70), (38.30, 127.20), (38.33, 128.00),
    (38.63, 128.35), (38.65, 129.10), (37.80, 130.60), (37.55, 132.10), (37.00, 132.10), (36.00, 130.10),
    (35.40, 129.75), (34.95, 129.15), (34.50, 128.75), (33.90, 128.30), (33.00, 127.20), (32.95, 126.00),
    (33.80, 125.00), (34.60, 124.45),
)

# (name, default, help): the one declaration of each setting.
SETTINGS: tuple[tuple[str, Any, str], ...] = (
    ("max_accuracy_m", 150.0, "a position reported with a worse accuracy (metres) is refused"),
    ("area", KOREA_AREA, "polygon of (lat, lon) vertices a position must fall in (default: South Korea, coarse)"),
    ("min_seconds_between_places", 120, "a second proof within this many seconds for a different place is refused"),
    ("same_place_m", 300.0, "two positions closer than this (metres) count as the same place"),
    ("max_per_hour", 20, "proofs one official may request per hour"),
    ("default_radius_m", 500.0, "radius of a trip registered without one (metres)"),
    ("qr_prefix", "YO1:", "prefix of the QR text (context identifier and version, like the DCC's HC1:)"),
    ("form_ttl_seconds", 900, "how long a page's one-time form token stays valid"),
    ("recent_proofs", 20, "proofs per official kept in Redis to show again on the phone"),
    ("recent_days", 30, "days those recent proofs are kept in Redis"),
    ("max_body_bytes", 4096, "largest POST body read"),
    ("clock_skew_seconds", 300, "a proof dated further in the future than this is refused by the verifier"),
    ("qr_scale", 6, "pixels per QR module in the PNG"),
)
DEFAULTS: dict[str, Any] = {name: default for name, default, _ in SETTINGS}
HELP: dict[str, str] = {name: text for name, _, text in SETTINGS}


def resolve(overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The defaults with `overrides` applied and checked; unknown names and bad values raise ValueError."""
    settings = dict(DEFAULTS)
    for name, value in (overrides or {}).items():
        if name not in DEFAULTS:
            raise ValueError(f"unknown visits setting {name!r} (known: {', '.join(DEFAULTS)})")
        settings[name] = value
    for name in ("max_accuracy_m", "same_place_m", "default_radius_m"):
        settings[name] = _positive(name, settings[name], float)
    for name in ("min_seconds_between_places", "max_per_hour", "form_ttl_seconds", "recent_proofs", "recent_days",
                 "max_body_bytes", "clock_skew_seconds", "qr_scale"):
        settings[name] = _positive(name, settings[name], int)
    prefix = settings["qr_prefix"]
    if not isinstance(prefix, str) or not prefix or any(c not in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ:" for c in prefix):
        raise ValueError("qr_prefix must be upper-case letters, digits and ':' (QR alphanumeric mode)")
    settings["area"] = _polygon(settings["area"])
    return settings


def _positive(name: str, value: Any, kind: type) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"visits setting {name} must be a positive number, got {value!r}")
    if kind is int and value != int(value):
        raise ValueError(f"visits setting {name} must be a whole number, got {value!r}")
    return kind(value)


def _polygon(value: Any) -> tuple[tuple[float, float], ...]:
    try:
        points = tuple((float(lat), float(lon)) for lat, lon in value)
    except (TypeError, ValueError):
        raise ValueError("visits setting area must be a list of [lat, lon] pairs") from None
    if len(points) < 3 or not all(-90 <= lat <= 90 and -180 <= lon <= 180 for lat, lon in points):
        raise ValueError("visits setting area needs at least 3 [lat, lon] vertices within -90..90, -180..180")
    return points

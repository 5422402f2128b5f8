"""Distances on the Earth and the area test."""
from __future__ import annotations

import math
from collections.abc import Sequence

EARTH_RADIUS_M = 6_371_008.8  # mean radius (IUGG)


def distance_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance in metres between two (lat, lon) points (haversine)."""
    lat1, lon1, lat2, lon2 = map(math.radians, (a[0], a[1], b[0], b[1]))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def inside(point: tuple[float, float], polygon: Sequence[tuple[float, float]]) -> bool:
    """Whether (lat, lon) lies inside the polygon (even-odd rule; fine for areas far from the antimeridian)."""
    lat, lon = point
    result = False
    j = len(polygon) - 1
    for i, (lat_i, lon_i) in enumerate(polygon):
        lat_j, lon_j = polygon[j]
        if (lat_i > lat) != (lat_j > lat):
            crossing = lon_i + (lat - lat_i) * (lon_j - lon_i) / (lat_j - lat_i)
            if lon < crossing:
                result = not result
        j = i
    return result


def to_micro(degrees: float) -> int:
    """Degrees as integer microdegrees (0.11 m of latitude): what the claim carries."""
    return round(degrees * 1_000_000)


def from_micro(micro: int) -> float:
    return micro / 1_000_000

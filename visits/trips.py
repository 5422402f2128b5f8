"""Trips registered beforehand: official, name, destination, radius, dates (trips.json under the data dir)."""
from __future__ import annotations

import datetime as dt
import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from conf.files import locked, write_private
from visits.korean import SEOUL

TRIPS_FORMAT = "yoitda-trips/1"
MAX_NAME = 100


@dataclass(frozen=True)
class Trip:
    id: int
    official: str
    name: str
    lat: float
    lon: float
    radius_m: int
    start: str  # ISO date, Seoul
    end: str
    created: int

    def active_on(self, day: dt.date) -> bool:
        return self.start <= day.isoformat() <= self.end

    @property
    def destination(self) -> tuple[float, float]:
        return self.lat, self.lon


def today() -> dt.date:
    return dt.datetime.now(SEOUL).date()


class TripStore:
    """The trips file; every change rewrites it atomically under a lock."""

    def __init__(self, directory: Path):
        self.path = Path(directory) / "trips.json"
        self._lock_path = Path(directory) / ".trips.lock"

    def _read(self) -> dict:
        if not self.path.exists():
            return {"format": TRIPS_FORMAT, "next_id": 1, "trips": []}
        data = json.loads(self.path.read_text(encoding="utf-8"))
        if data.get("format") != TRIPS_FORMAT:
            raise ValueError(f"{self.path}: not a {TRIPS_FORMAT} file")
        return data

    def all(self) -> list[Trip]:
        return [Trip(**item) for item in self._read()["trips"]]

    def get(self, trip_id: int) -> Trip | None:
        return next((t for t in self.all() if t.id == trip_id), None)

    def for_official(self, official: str, day: dt.date | None = None) -> list[Trip]:
        """The official's trips, only those active on `day` when given."""
        return [t for t in self.all() if t.official == official and (day is None or t.active_on(day))]

    def add(self, official: str, name: str, lat: float, lon: float, radius_m: float, start: dt.date,
            end: dt.date) -> Trip:
        """Register a trip; ValueError (English) for impossible values."""
        name = " ".join(str(name).split())
        if not name or len(name) > MAX_NAME:
            raise ValueError(f"trip name must be 1 to {MAX_NAME} characters")
        if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180):
            raise ValueError("destination must be a latitude in -90..90 and a longitude in -180..180")
        if not (math.isfinite(radius_m) and 1 <= radius_m <= 100_000):
            raise ValueError("radius must be 1 to 100,000 metres")
        if end < start:
            raise ValueError("the trip ends before it starts")
        with locked(self._lock_path):
            data = self._read()
            trip = Trip(int(data["next_id"]), official, name, round(lat, 6), round(lon, 6), round(radius_m),
                        start.isoformat(), end.isoformat(), int(time.time()))
            data["trips"].append(asdict(trip))
            data["next_id"] = trip.id + 1
            write_private(self.path, json.dumps(data, ensure_ascii=False, indent=1).encode())
        return trip

    def remove(self, trip_id: int) -> bool:
        with locked(self._lock_path):
            data = self._read()
            kept = [t for t in data["trips"] if t["id"] != trip_id]
            if len(kept) == len(data["trips"]):
                return False
            data["trips"] = kept
            write_private(self.path, json.dumps(data, ensure_ascii=False, indent=1).encode())
        return True

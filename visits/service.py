"""The parts of 요있다 put together: issue a proof, verify one, checkpoint the ledger."""
from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

from conf.defaults import KEY_PREFIX
from visits import codec
from visits.claim import Claim
from visits.errors import Rejected
from conf.files import private_dir
from visits.guard import check_position, check_rate
from visits.keys import KeyRing, KeyStore
from visits.ledger import Checkpoint, Ledger
from visits.settings import resolve
from visits.tokens import VisitState
from visits.trips import Trip, TripStore, today

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Issued:
    index: int
    text: str
    claim: Claim
    trip: Trip | None


def visits_dir(cluster=None, data_dir: str | Path | None = None) -> Path:
    """`data_dir` itself when given, else `{cluster.data_path}/visits`."""
    if data_dir is not None:
        return Path(data_dir)
    if cluster is None:
        raise ValueError("a cluster or a data_dir is needed")
    return cluster.data_path / "visits"


def organization_of(official: Any) -> str:
    return getattr(official, "organization", None) or ""


class VisitService:
    """Keys, ledger and trips under one private folder, plus the Redis state under `{prefix}:visit:`."""

    def __init__(self, directory: Path, settings: dict | None = None, client: redis.Redis | None = None,
                 prefix: str = KEY_PREFIX):
        self.directory = private_dir(Path(directory))
        self.settings = resolve(settings)
        self.client = client
        self.prefix = prefix
        self.keys = KeyStore(self.directory)
        self.ledger = Ledger(self.directory)
        self.trips = TripStore(self.directory)

    @property
    def state(self) -> VisitState:
        if self.client is None:
            raise OSError("no Redis configured for 요있다")
        return VisitState(self.client, self.prefix)

    def keyring(self) -> KeyRing:
        return self.keys.keyring()

    def issue(self, official: Any, lat: float, lon: float, accuracy: float, trip_id: int | None = None,
              now: float | None = None) -> Issued:
        """Check, sign, append to the ledger and remember a proof; Rejected (Korean) when refused."""
        kid, private = self.keys.signer()  # before the clock is read: a key made now is never younger than the claim
        now = time.time() if now is None else now
        check_position(lat, lon, accuracy, self.settings)
        trip = None
        if trip_id is not None:
            trip = self.trips.get(trip_id)
            if trip is None or trip.official != official.id or not trip.active_on(today()):
                raise Rejected("선택한 출장이 없거나 오늘 일정이 아닙니다.", "no_trip")
        check_rate(self.client, self.prefix, official.id, lat, lon, now, self.settings)
        made: dict[str, Any] = {}

        def make(index: int) -> tuple[str, str, str, int]:
            claim = Claim(official.id, official.name, organization_of(official), int(now), lat, lon,
                          max(0, math.ceil(accuracy)), index,
                          trip_id=trip.id if trip else None, destination=trip.destination if trip else None,
                          radius_m=trip.radius_m if trip else None)
            text, cose = codec.encode(claim, kid, private, self.settings["qr_prefix"])
            made.update(claim=claim, text=text)
            return official.id, text, codec.proof_hash(cose), claim.issued_at

        entry = self.ledger.append(make)
        self.state.remember(official.id, entry["index"], made["text"], self.settings["recent_proofs"],
                            self.settings["recent_days"])
        logger.info("proof %d issued to %s", entry["index"], official.id)
        return Issued(entry["index"], made["text"], made["claim"], trip)

    def verify(self, text: str, now: float | None = None) -> codec.Verified:
        return codec.verify(text, self.keyring(), self.settings["qr_prefix"], now=now,
                            skew_seconds=self.settings["clock_skew_seconds"])

    def recent_proof(self, official_id: str, index: int) -> codec.Verified | None:
        """A recent proof of this official, re-verified (what Redis holds is not trusted)."""
        for found, text in self.state.recent(official_id, self.settings["recent_proofs"]):
            if found != index:
                continue
            try:
                verified = self.verify(text)
            except Rejected as exc:
                logger.warning("recent proof %d of %s does not verify: %s", index, official_id, exc.code)
                return None
            ok = verified.claim.official_id == official_id and verified.claim.ledger_index == index
            return verified if ok else None
        return None

    def checkpoint(self, force: bool = False) -> Checkpoint:
        return self.ledger.checkpoint(self.keys.signer, force=force)


def checkpoint_mail(cluster=None, data_dir: str | Path | None = None) -> str:
    """The Korean lines for the operators' daily mail: a fresh signed checkpoint of the ledger."""
    from visits.describe import checkpoint_text

    settings = cluster.settings.get("visits") if cluster is not None else None
    return checkpoint_text(VisitService(visits_dir(cluster, data_dir), settings or None).checkpoint())

"""The live runs map beside the index: which run of each site searchers see, flags, run outcomes."""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from conf.files import write_atomic
from index.store import IndexPaths

logger = logging.getLogger(__name__)

OUTCOMES_KEPT = 2000  # run outcomes remembered, to ignore re-delivered events and late items


def utc_iso(ts: float | None = None) -> str:
    moment = datetime.now(timezone.utc) if ts is None else datetime.fromtimestamp(float(ts), timezone.utc)
    return moment.isoformat(timespec="seconds")


@dataclass
class LiveState:
    """Contents of staff/live.json. Only the writer changes it; each save is one atomic replace.

    sites[site]: run_id, rows, snapshot (file stem under snapshots/), previous (the stem before,
    kept one generation for searchers mid-refresh), organization, region, org_kind, healthy_at,
    flag ({reason, run_id, at} or None), last_run ({run_id, kind, status, rows, ended_at}).
    outcomes[run_id]: "live" | "dropped" | "board". retired: runs whose Whoosh rows must go.
    view: the staff view file (index.staff_view) of the live snapshots, under staff/views/.
    """

    path: Path
    generation: int = 0
    sites: dict[str, dict] = field(default_factory=dict)
    outcomes: dict[str, str] = field(default_factory=dict)
    retired: list[str] = field(default_factory=list)
    view: str | None = None
    view_stale: bool = False  # a swap since the view was written (not saved: the writer's start checks the view)

    @classmethod
    def load(cls, paths: IndexPaths) -> "LiveState":
        try:
            data = json.loads(paths.live.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls(paths.live)
        return cls(paths.live, data.get("generation", 0), data.get("sites", {}), data.get("outcomes", {}),
                   data.get("retired", []), data.get("view"))

    def save(self) -> None:
        self.generation += 1
        while len(self.outcomes) > OUTCOMES_KEPT:
            self.outcomes.pop(next(iter(self.outcomes)))
        data = {"generation": self.generation, "saved_at": utc_iso(), "sites": self.sites,
                "outcomes": self.outcomes, "retired": self.retired, "view": self.view}
        write_atomic(self.path, json.dumps(data, ensure_ascii=False, indent=1).encode("utf-8"))

    def site(self, site: str) -> dict:
        return self.sites.setdefault(site, {"run_id": None, "rows": 0, "snapshot": None, "previous": None,
                                            "healthy_at": None, "flag": None, "last_run": None})

    def live_runs(self) -> set[str]:
        return {s["run_id"] for s in self.sites.values() if s.get("run_id")}


def read_live(paths: IndexPaths) -> dict:
    """The live map as searchers read it ({} before the first swap)."""
    try:
        return json.loads(paths.live.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}


def site_status(index_dir: str | Path) -> dict[str, dict]:
    """Per site: live run id, rows, last healthy crawl time, flagged reason, last run seen, and for
    boards the baseline (first finished run: its posts are the backlog, not news)."""
    data = read_live(IndexPaths(Path(index_dir)))
    out = {}
    for site, entry in sorted(data.get("sites", {}).items()):
        flag = entry.get("flag") or {}
        out[site] = {
            "live_run": entry.get("run_id"), "rows": entry.get("rows", 0), "organization": entry.get("organization"),
            "region": entry.get("region"), "healthy_at": entry.get("healthy_at"),
            "flagged": flag.get("reason"), "flagged_at": flag.get("at"), "last_run": entry.get("last_run"),
            "baseline": entry.get("baseline"),
        }
    return out

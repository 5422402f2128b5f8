"""Search results and the display order of organizations."""
from __future__ import annotations

from dataclasses import dataclass, field

from conf.specs import REGIONS

# Korean administrative order of the 17 provinces (서울특별시 ... 제주특별자치도), then the centre.
REGION_ORDER = {region: i for i, region in enumerate(REGIONS)}
KIND_ORDER = {"province": 0, "city": 1, "ministry": 2, "agency": 2}


def organization_key(organization: str, region: str, org_kind: str) -> tuple:
    """Provinces in administrative order, then cities and counties (by region), then ministries and agencies."""
    return (KIND_ORDER.get(org_kind or "", 3), REGION_ORDER.get(region or "", len(REGION_ORDER)), organization or "")


@dataclass
class Group:
    """The hits of one organization on this page, and how many it has in all."""

    organization: str
    region: str
    org_kind: str
    count: int
    hits: list[dict] = field(default_factory=list)


@dataclass
class Results:
    query: str
    words: list[str]
    total: int
    page: int
    per_page: int
    hits: list[dict] = field(default_factory=list)
    groups: list[Group] = field(default_factory=list)
    facets: dict[str, dict[str, int]] = field(default_factory=dict)
    took_ms: float = 0.0
    error: str | None = None  # why the query could not be read (shown instead of results)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page)) if self.per_page else 1


def segments(text: str, spans) -> list[tuple[str, bool]]:
    """`text` cut at the spans: (piece, highlighted) pairs, for a renderer to escape piece by piece."""
    out, pos = [], 0
    for start, end in spans:
        if start > pos:
            out.append((text[pos:start], False))
        out.append((text[start:end], True))
        pos = end
    if pos < len(text):
        out.append((text[pos:], False))
    return out


def mark(text: str, spans, before: str = "[", after: str = "]") -> str:
    """`text` with every span wrapped in plain markers (terminal, logs)."""
    return "".join(f"{before}{piece}{after}" if hit else piece for piece, hit in segments(text, spans))

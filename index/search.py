"""Korean staff search over the live snapshots: every query word a substring, ranked, grouped, faceted.

A row matches when every space-separated query word is a substring of one of its fields
(department, team, position, name, phone, duties, e-mail) with spaces removed, case folded.
Rank: rows holding the whole query as a phrase or compound first; then rows where more words stand
at a word start (not buried inside another noun); then rows matched outside the department fields
(duties, name, ...) before department-only matches; then organization order and crawl order.
"""
from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from pyroaring import BitMap

from index.gramview import GramView
from index.post_search import PostSearcher
from index.results import Group, Results, organization_key
from index.staff_view import VIEW_NAME, Range, StaffView, StaleView
from index.state import read_live
from index.store import IndexPaths
from index.text import STAFF_SEARCH_FIELDS, clean, find_spans, fold, query_words

logger = logging.getLogger(__name__)

__all__ = ["StaffSearcher", "PostSearcher", "Results"]


def _as_set(value) -> set[str] | None:
    if value is None or value == "" or value == []:
        return None
    return {value} if isinstance(value, str) else set(value)


class StaffSearcher:
    """Maps the staff view the live map names (index.staff_view); `refresh()` swaps in a new one whole."""

    def __init__(self, index_dir: str | Path):
        self.paths = IndexPaths(Path(index_dir))
        self._view = GramView()
        self._view_name = None
        self._generation = None
        self._stamp = None
        self._lock = threading.Lock()
        self._unreadable: set[str] = set()
        self.refresh()

    @property
    def generation(self):
        return self._generation

    def refresh(self) -> bool:
        """Pick up swaps committed since the last call; True when the live view changed."""
        with self._lock:
            for attempt in range(5):
                try:
                    return self._refresh()
                except FileNotFoundError:  # the view was replaced twice while we read: read again
                    logger.info("staff view moved during refresh, retrying (%d)", attempt + 1)
                    self._stamp = None
            return self._refresh(final=True)

    def _refresh(self, final: bool = False) -> bool:
        try:
            st = self.paths.live.stat()
            stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        except FileNotFoundError:
            stamp = None
        if stamp == self._stamp and self._generation is not None:
            return False
        live = read_live(self.paths)
        name = live.get("view")
        changed = False
        if name != self._view_name:
            if name is None:
                view = GramView()
            elif not VIEW_NAME.fullmatch(str(name)):
                logger.error("live map names an invalid staff view %r; the current view stays", name)
                view = None
            else:
                try:
                    view = GramView(StaffView(self.paths.views / name, self.paths.site_snapshots))
                except FileNotFoundError:
                    if not final and not (self.paths.views / name).exists():
                        raise  # replaced since we read the live map: refresh() reads it again
                    self._report_unreadable(name, "it or a snapshot it maps is missing")
                    view, stamp = None, None  # read the live map again at the next refresh
                except (StaleView, OSError, ValueError) as exc:  # damaged: the writer writes it anew at its next start
                    self._report_unreadable(name, exc)
                    view, stamp = None, None
            if view is not None:
                self._view, self._view_name, changed = view, name, True  # one reference swap
        self._generation = live.get("generation", 0)
        self._stamp = stamp
        return changed

    def _report_unreadable(self, name: str, why) -> None:
        if name not in self._unreadable:  # once, not at every refresh
            self._unreadable.add(name)
            logger.error("staff view %s cannot be read (%s); the current view stays (repair: nugo index --rebuild)",
                         name, why)

    def __len__(self) -> int:
        return self._view.rows

    def sites(self) -> list[str]:
        return [r.site for r in self._view.ranges]

    def search(self, query: str, *, region=None, organization=None, page: int = 1, per_page: int = 50) -> Results:
        started = time.perf_counter()
        view = self._view
        page, per_page = max(1, int(page)), max(1, int(per_page))
        words = query_words(query)
        phrase = fold(query) if len(clean(query).split()) > 1 else None
        results = Results(query=query, words=words, total=0, page=page, per_page=per_page)
        tiers = view.evaluate(words, phrase) if words else {}
        if tiers:
            regions, organizations = _as_set(region), _as_set(organization)
            matched = BitMap.union(*tiers.values())
            region_facet: dict[str, int] = {}
            org_facet: dict[str, int] = {}
            selected: list[tuple[Range, int]] = []
            for rng in view.ranges:  # organization order
                count = matched.range_cardinality(rng.base, rng.end)
                if not count:
                    continue
                region_facet[rng.region] = region_facet.get(rng.region, 0) + count
                org_facet[rng.organization] = org_facet.get(rng.organization, 0) + count
                if regions is not None and rng.region not in regions:
                    continue
                if organizations is not None and rng.organization not in organizations:
                    continue
                selected.append((rng, count))
            results.total = sum(c for _, c in selected)
            results.facets = {
                "region": dict(sorted(region_facet.items(), key=lambda kv: organization_key("", kv[0], "province"))),
                "organization": org_facet,
            }
            results.hits = _page(view.view, tiers, selected, words, (page - 1) * per_page, per_page)
            results.groups = _groups(selected, results.hits)
        results.took_ms = round((time.perf_counter() - started) * 1000, 3)
        return results


def _page(view: StaffView, tiers, selected: list[tuple[Range, int]], words: list[str], skip: int, need: int) -> list[dict]:
    """Rows [skip, skip + need) in rank order: tier, then organization order, then crawl order."""
    hits: list[dict] = []
    for tier in sorted(tiers):
        bm = tiers[tier]
        for rng, _ in selected:
            n = bm.range_cardinality(rng.base, rng.end)
            if skip >= n:
                skip -= n
                continue
            first = bm.rank(rng.base - 1) if rng.base else 0
            for i in bm[first + skip:first + min(n, skip + need - len(hits))]:
                hits.append(_hit(view.row(rng, i), words))
            skip = 0
            if len(hits) >= need:
                return hits
    return hits


def _hit(row: dict, words: list[str]) -> dict:
    highlights = {}
    for name in STAFF_SEARCH_FIELDS:
        spans = find_spans(row.get(name) or "", words)
        if spans:
            highlights[name] = spans
    row["highlights"] = highlights
    return row


def _groups(selected: list[tuple[Range, int]], hits: list[dict]) -> list[Group]:
    groups: dict[str, Group] = {}
    for rng, count in selected:
        group = groups.get(rng.organization)
        if group is None:
            groups[rng.organization] = Group(rng.organization, rng.region, rng.org_kind, count)
        else:
            group.count += count
    for hit in hits:
        group = groups.get(hit.get("organization"))
        if group is not None:
            group.hits.append(hit)
    return list(groups.values())

"""The staff view file: every live snapshot merged into one id space, written by the writer, mapped by searchers.

When a directory run goes live (or at a rebuild) the writer merges the live sites' snapshots
(index.snapshot) into one file under staff/views/ and names it in live.json. Searchers map it
read-only: the gram bitmaps stay serialized in the map (a query decodes the few it needs), texts are
decoded per candidate, so every gunicorn worker shares one copy through the page cache instead of
building its own in memory, and a worker starts without loading anything.

Layout (index.blockfile: a JSON header line, then 8-byte aligned blocks):
  texts / text_off      folded searchable text per row (UTF-8), offsets (uint64, rows + 1)
  word_starts           every position where a word starts (a field's start, after a space, after
                        punctuation), as byte offsets into `texts`, ascending (uint64)
  outside_from          byte offset in each text where the fields after the department's begin (uint32)
  row_start / row_end   byte range of each row in its site's snapshot rows file (uint64)
  {d,r,s}_keys          sorted gram keys (index.postings.gram_key) of each kind (uint64)
  {d,r,s}_off / _bits   offsets (uint64, keys + 1) into the portable-serialized roaring bitmaps
The header lists the sites as ranges of ids (base, size), in the order they were merged.
A view file is a cache: `nugo index --rebuild` and the writer at start write it anew from the snapshots.
"""
from __future__ import annotations

import hashlib
import json
import logging
import mmap
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pyroaring import BitMap

from conf.files import private_dir, write_atomic
from index import blockfile
from index.postings import gram_key
from index.results import organization_key
from index.snapshot import SitePart
from index.text import SEP

logger = logging.getLogger(__name__)

MAGIC = b"NUGOVIEW2\n"
VIEW_NAME = re.compile(r"view-[0-9a-f]{20}\.bin")
SNAPSHOT_STEM = re.compile(r"[A-Za-z0-9._-]{1,100}")  # snapshot file stems (index.runs.snapshot_stem)
KINDS = ("d", "r", "s")
VIEWS_KEPT = 3  # view files kept on disk: searchers still on an older one keep their map (unlinked files stay mapped)
_U64 = np.uint64


class StaleView(ValueError):
    """Not a view file of this version: the writer writes it anew."""


@dataclass(eq=False)
class Range:
    """The ids of one site's live rows in a view, and where its rows are stored."""

    site: str
    run_id: str
    organization: str
    region: str
    org_kind: str
    snapshot: str
    base: int
    size: int
    rows: mmap.mmap | bytes = b""

    @property
    def end(self) -> int:
        return self.base + self.size

    @property
    def order(self) -> tuple:
        return organization_key(self.organization, self.region, self.org_kind), self.site


def view_name(sites: list[tuple[str, str]]) -> str:
    """The file name of the view of these (site, run id) pairs: the same live set, the same file."""
    digest = hashlib.blake2b(json.dumps(sorted(sites)).encode("utf-8"), digest_size=10).hexdigest()
    return f"view-{digest}.bin"


def live_sites(sites: dict[str, dict]) -> list[tuple[str, dict]]:
    """The live map's sites that have a live snapshot, in organization order."""
    live = [(site, e) for site, e in sites.items() if e.get("run_id") and e.get("snapshot")]
    return sorted(live, key=lambda se: (organization_key(se[1].get("organization") or "", se[1].get("region") or "",
                                                          se[1].get("org_kind") or ""), se[0]))


def write_view(views_dir: Path, snapshots_dir, sites: dict[str, dict]) -> str:
    """Merge the live snapshots of `sites` (the live map's entries) into one view file; its name.
    `snapshots_dir(site)` is the folder of a site's snapshots. A site whose snapshot cannot be read
    is left out with an error in the log (its rows are not searchable until `nugo index --rebuild`)."""
    ranges, parts = [], []
    base = 0
    for site, entry in live_sites(sites):
        stem = str(entry["snapshot"])
        meta = {"site": site, "run_id": str(entry["run_id"]), "organization": entry.get("organization") or "",
                "region": entry.get("region") or "", "org_kind": entry.get("org_kind") or ""}
        try:
            folder = snapshots_dir(site)  # ValueError for a site id that is not a slug
            if not SNAPSHOT_STEM.fullmatch(stem):
                raise ValueError(f"invalid snapshot name {stem!r}")
            part = SitePart(folder / f"{stem}.rows", folder / f"{stem}.idx", meta)
        except (OSError, ValueError) as exc:
            logger.error("snapshot of site %s cannot be read (%s); its rows are left out of the search "
                         "(repair: nugo index --rebuild)", site, exc)
            continue
        ranges.append({**meta, "snapshot": stem, "base": base, "size": part.size})
        parts.append((part, base))
        base += part.size
    name = view_name([(r["site"], r["run_id"]) for r in ranges])
    private_dir(views_dir)
    try:
        write_atomic(views_dir / name, _encode(ranges, parts, base))  # a searcher holding the old file keeps its map
    finally:
        for part, _ in parts:
            part.close()
    _remove_old_views(views_dir, keep=name)
    return name


def view_current(paths, state) -> bool:
    """Does the live map name a readable view file of exactly its live snapshots (or, with none, no view)?"""
    if not state.view and not live_sites(state.sites):
        return True
    if not state.view or not VIEW_NAME.fullmatch(state.view):
        return False
    wanted = view_name([(site, e["run_id"]) for site, e in live_sites(state.sites)])
    if state.view != wanted:
        return False
    try:
        with open(paths.views / state.view, "rb") as fh:
            return fh.read(len(MAGIC)) == MAGIC
    except OSError:
        return False


def update_view(paths, state) -> str:
    """Write the view of the live map's snapshots (index.store.IndexPaths `paths`, index.state.LiveState
    `state`) and name it in the state; the caller saves the state, which is the swap searchers see."""
    state.view = write_view(paths.views, paths.site_snapshots, state.sites)
    return state.view


def _encode(ranges: list[dict], parts: list[tuple[SitePart, int]], rows: int) -> bytes:
    texts, outside_from, row_start, row_end, word_starts = [], [], [], [], []
    byte_base = 0
    for part, base in parts:
        texts.extend(part.texts)
        starts_at, size = _word_starts(part.texts, part.starts)
        word_starts.append(starts_at + _U64(byte_base))
        byte_base += size
        outside_from.extend(len(text[:d].encode("utf-8", "surrogatepass")) + 1 if d >= 0 else 0
                            for text, d in zip(part.texts, part.dept_ends))
        offsets = np.asarray(part.offsets, dtype=_U64)
        row_start.append(offsets[:-1])
        row_end.append(offsets[1:])
        part.texts = part.starts = part.dept_ends = None  # taken; the grams are decoded kind by kind below
    blocks: list[tuple[str, np.ndarray | bytes]] = []
    encoded = [v.encode("utf-8", "surrogatepass") for v in texts]
    blocks += [("texts", b"".join(encoded)), ("text_off", blockfile.offsets(encoded)),
               ("word_starts", np.concatenate(word_starts) if word_starts else np.zeros(0, dtype=_U64))]
    blocks += [("outside_from", np.asarray(outside_from, dtype=np.uint32)),
               ("row_start", np.concatenate(row_start) if row_start else np.zeros(0, dtype=_U64)),
               ("row_end", np.concatenate(row_end) if row_end else np.zeros(0, dtype=_U64))]
    del texts, encoded
    for kind in KINDS:  # one kind at a time: the writer holds one kind's bitmaps, not all three
        merged = defaultdict(list)
        for part, base in parts:
            for gram, bm in part.grams(kind).items():
                merged[gram].append(bm.shift(base) if base else bm)
        keyed = sorted((gram_key(gram), gram) for gram in merged)
        blobs = []
        for _, gram in keyed:
            bms = merged.pop(gram)
            blobs.append((bms[0] if len(bms) == 1 else BitMap.union(*bms)).serialize())
        blocks += [(f"{kind}_keys", np.fromiter((k for k, _ in keyed), dtype=_U64, count=len(keyed))),
                   (f"{kind}_off", blockfile.offsets(blobs)), (f"{kind}_bits", b"".join(blobs))]
    return b"".join(blockfile.encode(MAGIC, {"rows": rows, "ranges": ranges}, blocks))


def _word_starts(texts: list[str], marks: list[str]) -> tuple[np.ndarray, int]:
    """(byte offsets, from the first text's start, of every word start in the texts laid end to end,
    ascending; their UTF-8 size). A word starts at each text's start, after SEP or a character that
    is not alphanumeric, and at each mark (index.text.fold_fields: where a space was removed)."""
    joined = "".join(texts)
    cps = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    widths = 1 + (cps >= 0x80).astype(np.int64) + (cps >= 0x800) + (cps >= 0x10000)
    char_byte = np.zeros(len(cps) + 1, dtype=np.int64)
    np.cumsum(widths, out=char_byte[1:])
    lens = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    base = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum(lens, out=base[1:])
    start = np.zeros(len(cps), dtype=bool)
    if len(cps):
        uniq, inverse = np.unique(cps, return_inverse=True)
        alnum = np.fromiter((chr(c).isalnum() for c in uniq.tolist()), dtype=bool, count=len(uniq))[inverse]
        sep = cps == ord(SEP)
        start[1:] = (sep[:-1] | ~alnum[:-1]) & ~sep[1:]
    start[base[:-1][lens > 0]] = True  # each text's first character, whatever comes before it
    mark_lens = np.fromiter(map(len, marks), dtype=np.int64, count=len(marks))
    if mark_lens.sum():
        at = np.frombuffer("".join(marks).encode("utf-32-le", "surrogatepass"), dtype=np.uint32).astype(np.int64)
        row = np.repeat(np.arange(len(marks)), mark_lens)
        ok = at < lens[row]
        start[base[row[ok]] + at[ok]] = True
    return char_byte[np.flatnonzero(start)].astype(_U64), int(char_byte[-1])


def _remove_old_views(views_dir: Path, keep: str) -> None:
    old = sorted((p for p in views_dir.glob("view-*.bin") if p.name != keep), key=lambda p: p.stat().st_mtime)
    for path in old[:max(0, len(old) - (VIEWS_KEPT - 1))]:
        path.unlink(missing_ok=True)


class StaffView:
    """A view file mapped read-only. Nothing is decoded at open: bitmaps, texts and rows on demand."""

    def __init__(self, path: Path, snapshots_dir):
        self.path = Path(path)
        with open(self.path, "rb") as fh:
            self.mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        found = blockfile.read(self.mm, MAGIC)
        if found is None:
            raise StaleView(f"{path}: not a staff view of this version")
        head, arrays, self._base = found
        self.rows: int = head["rows"]
        for name, array in arrays.items():
            setattr(self, name, array)
        self.ranges: list[Range] = []
        for r in head["ranges"]:
            if not SNAPSHOT_STEM.fullmatch(str(r.get("snapshot"))):
                raise StaleView(f"{path}: invalid snapshot name {r.get('snapshot')!r}")
            rng = Range(r["site"], r["run_id"], r["organization"], r["region"], r["org_kind"], r["snapshot"],
                        r["base"], r["size"])
            rng.rows = _map(Path(snapshots_dir(rng.site)) / f"{rng.snapshot}.rows")
            self.ranges.append(rng)
        self.ranges.sort(key=lambda rng: rng.order)

    @classmethod
    def empty(cls) -> "StaffView":
        view = cls.__new__(cls)
        view.path, view.mm, view.rows, view.ranges, view._base = None, None, 0, [], {}
        for kind in KINDS:
            setattr(view, f"{kind}_keys", np.zeros(0, dtype=_U64))
        return view

    def gram(self, kind: str, gram: str) -> BitMap | None:
        """The rows holding a gram of one kind (d: department fields, r: the rest, s: word starts)."""
        keys = getattr(self, f"{kind}_keys")
        key = gram_key(gram)
        at = int(np.searchsorted(keys, _U64(key)))
        if at >= len(keys) or int(keys[at]) != key:
            return None
        offs, base = getattr(self, f"{kind}_off"), self._base[f"{kind}_bits"]
        return BitMap.deserialize(self.mm[base + int(offs[at]):base + int(offs[at + 1])])

    def text_bounds(self, ids: np.ndarray) -> tuple[list[int], list[int]]:
        base = self._base["texts"]
        return (self.text_off[ids] + _U64(base)).tolist(), (self.text_off[ids + 1] + _U64(base)).tolist()

    def at_word_start(self, positions: np.ndarray) -> np.ndarray:
        """Which absolute byte positions in the map (inside `texts`) are word starts."""
        starts = self.word_starts
        if not len(starts) or not len(positions):
            return np.zeros(len(positions), dtype=bool)
        rel = (positions - self._base["texts"]).astype(_U64)
        at = np.searchsorted(starts, rel)
        at[at >= len(starts)] = 0
        return starts[at] == rel

    def row(self, rng: Range, i: int) -> dict:
        """Row `i` (a view id inside `rng`) as the crawler delivered it."""
        return json.loads(rng.rows[int(self.row_start[i]):int(self.row_end[i])])

    def close(self) -> None:
        for rng in self.ranges:
            if isinstance(rng.rows, mmap.mmap):
                rng.rows.close()


def _map(path: Path) -> mmap.mmap | bytes:
    with open(path, "rb") as fh:
        if not fh.seek(0, 2):
            return b""
        return mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)

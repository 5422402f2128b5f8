"""The post segments the writer keeps: lookups by id, commits, the manifest and its garbage.

    index_dir/posts/
      manifest.json          the live segments and each one's deletions; replaced atomically per commit
      00000012.seg           one segment (index.segment): up to 65,536 posts, immutable once written
      00000012.00000031.del  local ids of the segment's posts replaced or deleted (generation 31)

The single writer appends one segment per commit batch, marks replaced posts in `.del` files and
writes the manifest last (fsync'd): a crash leaves the previous manifest and some unreferenced files,
deleted at the next start. Segments are merged by the policy of index.merge. Searchers map the files
read-only and pick up a new manifest on refresh (index.post_search). The segments are a cache of the
post records (index.records): `replace_all` writes them anew.
"""
from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np

from conf.files import write_atomic, write_durable
from index.merge import merge_candidates, merged
from index.postings import build_postings, searched
from index.segment import CATS, MAX_DOCS, Columns, NewPost, Segment, id_hash, read_deleted, write_segment

logger = logging.getLogger(__name__)

MANIFEST = "manifest.json"
_U64 = np.uint64


def read_manifest(root: Path) -> dict:
    try:
        return json.loads((Path(root) / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {"generation": 0, "next_segment": 1, "next_seq": 0, "segments": []}


@dataclass
class Found:
    """A post already stored (live)."""

    segment: int  # index into PostStore.segments
    local: int
    first_seen_us: int
    chash: int


class PostStore:
    """The writer's side: lookups by id, commits (one new segment + deletions + manifest), merges.
    Only the process holding the index writer lock may create one."""

    def __init__(self, root: str | Path, *, fresh: bool = False):
        """Open the segments of the manifest (raises StaleSegment or OSError when one is of another
        version or missing). `fresh`: open none; the next publish names only new segments
        (`replace_all`), numbered after every name used before."""
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.segments: list[Segment] = []
        self.live: list[np.ndarray] = []
        self.dels: list[str | None] = []
        if fresh:
            try:
                old = read_manifest(self.root)
            except ValueError:
                old = {}
            used = [int(m.group(1)) for f in self.root.iterdir() if (m := re.match(r"(\d{8})\.", f.name))]
            self.manifest = {"generation": int(old.get("generation") or 0),
                             "next_segment": max([int(old.get("next_segment") or 1), *(u + 1 for u in used)]),
                             "next_seq": 0, "segments": []}
            return
        self.manifest = read_manifest(self.root)
        for entry in self.manifest["segments"]:
            seg = Segment(self.root / f"{entry['name']}.seg")
            self.segments.append(seg)
            self.dels.append(entry.get("del"))
            self.live.append(read_deleted(self.root / entry["del"], seg.docs) if entry.get("del")
                             else np.ones(seg.docs, dtype=bool))
        self._collect_garbage()

    def __len__(self) -> int:
        return int(sum(int(live.sum()) for live in self.live))

    # -- lookups
    def lookup(self, ids: list[str]) -> dict[str, Found]:
        """The live stored version of each of `ids` that exists."""
        if not ids or not self.segments:
            return {}
        hashes = np.fromiter((id_hash(i) for i in ids), dtype=_U64, count=len(ids))
        found: dict[str, Found] = {}
        for s, seg in enumerate(self.segments):
            live = self.live[s]
            for j, local in seg.lookup(hashes, ids):
                if live[local]:
                    found[ids[j]] = Found(s, local, int(seg.first_seen_us[local]), int(seg.chash[local]))
        return found

    def take_seq(self, n: int) -> int:
        """The first of `n` new insertion sequence numbers (recorded with the next commit)."""
        first = self.manifest["next_seq"]
        self.manifest["next_seq"] = first + n
        return first

    def skip_seq(self, used: int) -> None:
        """Never hand out `used` again (a record committed before a crash kept its number)."""
        self.manifest["next_seq"] = max(self.manifest["next_seq"], used + 1)

    # -- commits
    @property
    def records_block(self) -> int:
        """The last block of the post records (index.records) these segments reflect."""
        return int(self.manifest.get("records_block") or 0)

    def commit(self, posts: list[NewPost], replaced: list[Found], records_block: int = 0) -> None:
        """Write `posts` (new or changed) and retire the stored versions `replaced`, atomically, with the
        number of the records' block they come from (`records_block`, when not 0)."""
        if records_block:
            self.manifest["records_block"] = max(self.records_block, records_block)
        if not posts and not replaced:
            if records_block:
                self._publish(set(), [], [])
            return
        dirty = set()
        for old in replaced:
            self.live[old.segment][old.local] = False
            dirty.add(old.segment)
        self.manifest["next_seq"] = max([self.manifest["next_seq"], *(p.seq + 1 for p in posts)])
        new = []
        for i in range(0, len(posts), MAX_DOCS):
            new.append(self._write_new(posts[i:i + MAX_DOCS]))
        self._publish(dirty, new, [])

    def replace_all(self, posts: Iterable[NewPost], records_block: int = 0) -> int:
        """Write `posts` (their seq set) as new segments and publish them as the only ones; returns how many.
        Memory stays one segment's worth of posts. `records_block`: the last block of the records they are."""
        self.manifest["records_block"] = records_block
        new, chunk, count = [], [], 0
        for post in posts:
            chunk.append(post)
            self.manifest["next_seq"] = max(self.manifest["next_seq"], post.seq + 1)
            if len(chunk) == MAX_DOCS:
                new.append(self._write_new(chunk))
                count += len(chunk)
                chunk = []
        if chunk:
            new.append(self._write_new(chunk))
            count += len(chunk)
        self.segments, self.live, self.dels = [], [], []
        self._publish(set(), new, [])
        return count

    def _next_name(self) -> str:
        number = self.manifest["next_segment"]
        self.manifest["next_segment"] = number + 1
        return f"{number:08d}"

    def _write_new(self, posts: list[NewPost]) -> Segment:
        cols = Columns()
        texts = []
        for p in posts:
            cols.ids.append(p.id)
            cols.rows.append(p.packed)
            cols.texts.append(p.text.encode("utf-16-le", "surrogatepass"))
            texts.append(searched(p.text))
            cols.date_sort.append(p.date_sort)
            cols.first_seen_us.append(p.first_seen_us)
            cols.seq.append(p.seq)
            cols.chash.append(p.chash)
            for cat in CATS:
                cols.cats[cat].append(str(p.row.get(cat) or ""))
        path = self.root / f"{self._next_name()}.seg"
        write_segment(path, cols, build_postings(texts))
        return Segment(path)

    def _publish(self, dirty: set[int], new: list[Segment], merged: list[int]) -> None:
        """Deletion files of `dirty` segments, then the manifest: `merged` segments leave, `new` join."""
        generation = self.manifest["generation"] + 1
        for s in sorted(dirty):
            if s in merged:
                continue
            seg = self.segments[s]
            dead = np.flatnonzero(~self.live[s]).astype(np.uint16)
            if len(dead) == seg.docs:
                merged = merged + [s]  # nothing live: the segment leaves
                continue
            name = f"{seg.name}.{generation:08d}.del"
            write_durable(self.root / name, dead.tobytes())
            self.dels[s] = name
        keep = [s for s in range(len(self.segments)) if s not in set(merged)]
        self.segments = [self.segments[s] for s in keep] + new
        self.live = [self.live[s] for s in keep] + [np.ones(seg.docs, dtype=bool) for seg in new]
        self.dels = [self.dels[s] for s in keep] + [None] * len(new)
        self.manifest["generation"] = generation
        self.manifest["segments"] = [
            {"name": seg.name, "docs": seg.docs, "deleted": int(seg.docs - live.sum()), "del": d}
            for seg, live, d in zip(self.segments, self.live, self.dels)]
        write_atomic(self.root / MANIFEST, json.dumps(self.manifest, ensure_ascii=False, indent=1).encode())
        self._collect_garbage()

    def _collect_garbage(self) -> None:
        """Delete files no manifest entry names (merged segments, old deletion files, a crash's leftovers)."""
        wanted = {MANIFEST}
        for entry in self.manifest["segments"]:
            wanted.add(f"{entry['name']}.seg")
            if entry.get("del"):
                wanted.add(entry["del"])
        for path in self.root.iterdir():
            if path.name not in wanted and not path.name.startswith("."):
                path.unlink(missing_ok=True)
            elif path.name.startswith(".") and path.name.endswith(".tmp"):
                path.unlink(missing_ok=True)

    # -- merges
    def maybe_merge(self, limit: int = 100) -> int:
        """Merge while a merge is due (at most `limit` merges); returns how many were done."""
        done = 0
        while done < limit:
            chosen = merge_candidates(self.segments, self.live)
            if not chosen:
                break
            self.merge(chosen)
            done += 1
        return done

    def merge(self, chosen: list[int]) -> None:
        """Rewrite the live posts of the `chosen` segments as one segment (insertion order kept)."""
        cols, postings = merged([(self.segments[s], self.live[s]) for s in chosen])
        path = self.root / f"{self._next_name()}.seg"
        write_segment(path, cols, postings)
        self._publish(set(), [Segment(path)], list(chosen))
        logger.info("merged %d post segments into %s (%d posts)", len(chosen), path.name, len(cols))

"""`nugo visit audit`: recompute the chain, re-verify every proof, check every checkpoint.

A deleted, reordered or altered entry is named by its index. Entries are fully determined by their
signed proof (official, time, index), so an edit of an entry's data breaks a signature or a hash; a
consistent rewrite of the chain (deletion or reordering with every hash recomputed) no longer matches
the checkpoints published before it.
"""
from __future__ import annotations

import bisect
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from visits import codec
from visits.errors import Rejected
from visits.keys import KeyRing
from visits.korean import korean_time
from visits.ledger import GENESIS, Checkpoint, Ledger, entry_hash

logger = logging.getLogger(__name__)
FIELDS = {"index", "time", "official", "proof", "proof_sha256", "prev", "hash"}


@dataclass(frozen=True)
class Problem:
    index: int | None  # the entry named (None: the ledger as a whole)
    kind: str  # altered | deleted | reordered | duplicate | malformed | truncated | checkpoint
    message: str  # Korean


@dataclass
class AuditReport:
    entries: int = 0
    checkpoints: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first_bad_index(self) -> int | None:
        indexes = [p.index for p in self.problems if p.index is not None]
        return min(indexes) if indexes else None


def audit(ledger: Ledger, keyring: KeyRing, prefix: str, extra_checkpoints: Iterable[Checkpoint] = ()) -> AuditReport:
    report = AuditReport()
    lines = ledger.entries()
    report.entries = len(lines)
    computed: list[str] = []  # the recomputed hash of the entry at each position
    indexes: list[int | None] = []
    for position, (number, entry, _) in enumerate(lines):
        if entry is None or set(entry) != FIELDS or isinstance(entry.get("index"), bool) \
                or not isinstance(entry.get("index"), int):
            report.problems.append(Problem(None, "malformed", f"장부 {number}번째 줄이 장부 항목의 형식이 아닙니다."))
            computed.append("!")
            indexes.append(None)
            continue
        computed.append(entry_hash(entry))
        indexes.append(entry["index"])
        if computed[-1] != entry.get("hash"):
            report.problems.append(Problem(entry["index"], "altered",
                                           f"{entry['index']}번 항목의 내용이 바뀌었습니다 (항목 해시가 맞지 않음)."))
        _check_proof(report, entry, keyring, prefix)
    misplaced = _check_order(report, indexes)
    for position, (_, entry, _) in enumerate(lines):
        index = indexes[position]
        if index is None or index in misplaced:
            continue
        if position == 0:
            broken = index == 0 and entry["prev"] != GENESIS
        else:
            broken = indexes[position - 1] == index - 1 and entry["prev"] != computed[position - 1]
        if broken and not (position and _stored_hash(lines[position - 1][1]) != computed[position - 1]):
            report.problems.append(Problem(max(0, index - 1), "altered",
                                           f"{index}번 항목이 기억하는 앞 항목의 해시가 실제와 다릅니다: "
                                           f"{max(0, index - 1)}번 항목이 바뀌었습니다."))
    recorded = ledger.checkpoints()
    for number, checkpoint, _ in recorded:
        if checkpoint is None:
            report.problems.append(Problem(None, "checkpoint", f"체크포인트 파일 {number}번째 줄을 읽을 수 없습니다."))
    checkpoints = [c for _, c, _ in recorded if c is not None] + list(extra_checkpoints)
    report.checkpoints = len(checkpoints)
    for checkpoint in sorted(checkpoints, key=lambda c: (c.time, c.size)):
        _check_checkpoint(report, checkpoint, computed, keyring)
    report.problems.sort(key=lambda p: (p.index is None, p.index or 0))
    return report


def _check_order(report: AuditReport, indexes: list[int | None]) -> set[int]:
    """Name deleted, duplicated and misplaced entries; returns the indexes out of place."""
    present = [i for i in indexes if i is not None]
    if not present:
        return set()
    seen: set[int] = set()
    duplicates = {i for i in present if i in seen or seen.add(i)}
    for index in sorted(duplicates):
        report.problems.append(Problem(index, "duplicate", f"{index}번 항목이 장부에 두 번 이상 있습니다."))
    for index in sorted(set(range(max(present) + 1)) - seen):
        report.problems.append(Problem(index, "deleted", f"{index}번 항목이 삭제되었습니다 (앞뒤 항목은 남아 있음)."))
    keep = _longest_increasing(present)
    misplaced = {i for i in present if i not in keep and i not in duplicates}
    for index in sorted(misplaced):
        where = indexes.index(index)
        after = next((i for i in indexes[where + 1:] if i in keep), None)
        before = next((i for i in reversed(indexes[:where]) if i in keep), None)
        place = f"{after}번 항목보다 앞에" if after is not None and after < index else f"{before}번 항목보다 뒤에"
        report.problems.append(Problem(index, "reordered",
                                       f"{index}번 항목이 {place} 있습니다 (장부 {where + 1}번째 줄): 순서가 바뀌었습니다."))
    return misplaced | duplicates


def _longest_increasing(values: list[int]) -> set[int]:
    """The values of one longest strictly increasing subsequence (patience sorting, O(n log n))."""
    tails: list[int] = []
    tail_pos: list[int] = []
    parent = [-1] * len(values)
    for i, value in enumerate(values):
        k = bisect.bisect_left(tails, value)
        if k == len(tails):
            tails.append(value)
            tail_pos.append(i)
        else:
            tails[k] = value
            tail_pos[k] = i
        parent[i] = tail_pos[k - 1] if k else -1
    out, i = set(), tail_pos[-1] if tail_pos else -1
    while i >= 0:
        out.add(values[i])
        i = parent[i]
    return out


def _check_proof(report: AuditReport, entry: dict, keyring: KeyRing, prefix: str) -> None:
    index = entry["index"]
    try:
        verified = codec.verify(str(entry["proof"]), keyring, prefix, now=float("inf"))  # no clock check here
    except Rejected as exc:
        report.problems.append(Problem(index, "altered", f"{index}번 항목의 증빙이 유효하지 않습니다: {exc.reason}"))
        return
    claim = verified.claim
    mismatches = [name for name, ok in (("증빙 해시", verified.proof_hash == entry["proof_sha256"]),
                                        ("번호", claim.ledger_index == index),
                                        ("공무원", claim.official_id == entry["official"]),
                                        ("시각", claim.issued_at == entry["time"])) if not ok]
    if mismatches:
        report.problems.append(Problem(index, "altered", f"{index}번 항목의 {', '.join(mismatches)} 값이 서명된 증빙과 다릅니다."))


def _check_checkpoint(report: AuditReport, checkpoint: Checkpoint, computed: list[str], keyring: KeyRing) -> None:
    when = korean_time(checkpoint.time)
    try:
        checkpoint.verify(keyring)
    except Rejected as exc:
        report.problems.append(Problem(None, "checkpoint", f"{when}의 체크포인트를 믿을 수 없습니다: {exc.reason}"))
        return
    if checkpoint.size > len(computed):
        highest = len(computed) - 1 + sum(1 for p in report.problems if p.kind == "deleted")
        if highest < checkpoint.size - 1:
            gone = f"{highest + 1}번" + (f"부터 {checkpoint.size - 1}번까지의" if checkpoint.size - 1 > highest + 1 else "")
            report.problems.append(Problem(highest + 1, "truncated",
                                           f"{when}의 체크포인트는 항목 {checkpoint.size}개를 기록했는데 장부에는 "
                                           f"{len(computed)}개뿐입니다: 끝의 {gone} 항목이 삭제되었습니다."))
            return
    head = computed[checkpoint.size - 1] if 0 < checkpoint.size <= len(computed) else GENESIS if not checkpoint.size else ""
    if head != checkpoint.head:
        report.problems.append(Problem(None, "checkpoint",
                                       f"{when}의 체크포인트(항목 {checkpoint.size}개)와 장부가 다릅니다: 0번부터 "
                                       f"{checkpoint.size - 1}번 항목 사이가 그 뒤에 바뀌었거나 삭제·재배열되었습니다."))


def _stored_hash(entry: dict | None) -> str | None:
    return entry.get("hash") if isinstance(entry, dict) else None

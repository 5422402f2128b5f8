"""The hash-chained ledger: appends under a lock, audit names deleted/altered/reordered entries, checkpoints."""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import pytest

from tests.test_visits_support import CHANGWON, make_service, official
from visits.audit import audit
from visits.ledger import Checkpoint, Ledger

PREFIX = "YO1:"


@pytest.fixture
def service(tmp_path, redis_client, prefix):
    return make_service(tmp_path / "visits", redis_client, prefix, min_seconds_between_places=1, max_per_hour=1000)


def fill(service, count: int = 6) -> list[str]:
    """Issue `count` proofs a few metres apart (same place: no rate refusal); returns the ledger lines."""
    for i in range(count):
        service.issue(official(), CHANGWON[0] + i * 0.00001, CHANGWON[1], 10 + i)
    return service.ledger.path.read_text(encoding="utf-8").splitlines()


def rewrite(service, lines: list[str]) -> list:
    service.ledger.path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return audit(service.ledger, service.keyring(), PREFIX).problems


def test_an_untouched_ledger_passes(service):
    """Catches false alarms: an audit must pass on a ledger nobody touched."""
    fill(service)
    service.checkpoint()
    fill(service, 2)
    service.checkpoint()
    report = audit(service.ledger, service.keyring(), PREFIX)
    assert report.ok and report.entries == 8 and report.checkpoints == 2


def test_entries_chain_and_files_are_private(service):
    """Catches a broken chain link and files readable by other users of the head PC."""
    lines = fill(service, 3)
    entries = [json.loads(line) for line in lines]
    assert [e["index"] for e in entries] == [0, 1, 2]
    assert entries[0]["prev"] == "0" * 64 and entries[1]["prev"] == entries[0]["hash"]
    assert stat.S_IMODE(os.stat(service.directory).st_mode) == 0o700
    for path in [service.ledger.path, service.keys.public_path, *service.keys.private_dir.iterdir()]:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, path


def test_a_deleted_entry_is_named(service):
    """Catches an audit that only checks each entry's own hash (a deletion leaves every hash intact)."""
    lines = fill(service)
    problems = rewrite(service, lines[:2] + lines[3:])
    assert problems and problems[0].index == 2 and problems[0].kind == "deleted"
    assert "2번 항목이 삭제" in problems[0].message


def test_an_edited_entry_is_named(service):
    """Editing the official of entry 3 (even with its hash recomputed) breaks the signed proof it carries."""
    from visits.ledger import entry_hash

    lines = fill(service)
    entry = json.loads(lines[3])
    entry["official"] = "lee-seoyeon"
    problems = rewrite(service, lines[:3] + [json.dumps(entry)] + lines[4:])
    assert {p.index for p in problems} == {3} and {p.kind for p in problems} == {"altered"}
    entry["hash"] = entry_hash(entry)
    problems = rewrite(service, lines[:3] + [json.dumps(entry)] + lines[4:])
    assert problems and all(p.index == 3 for p in problems) and "공무원" in problems[0].message


def test_an_edited_position_is_named(service):
    """A position changed inside the proof text breaks the proof's signature (or its encoding)."""
    from visits import base45, codec
    import zlib

    lines = fill(service)
    entry = json.loads(lines[4])
    cose = bytearray(codec.unpack(entry["proof"], PREFIX))
    cose[40] ^= 0x01
    entry["proof"] = PREFIX + base45.encode(zlib.compress(bytes(cose)))
    problems = rewrite(service, lines[:4] + [json.dumps(entry, ensure_ascii=False)] + lines[5:])
    assert problems and problems[0].index == 4 and problems[0].kind == "altered"


def test_reordered_entries_are_named(service):
    """Catches an audit that compares entries as a set: two swapped entries must be named."""
    lines = fill(service)
    problems = rewrite(service, lines[:2] + [lines[3], lines[2]] + lines[4:])
    assert [p.kind for p in problems] == ["reordered"] and problems[0].index in (2, 3)
    assert "순서가 바뀌었습니다" in problems[0].message


def test_a_rewritten_tail_is_caught_by_the_checkpoint(service):
    """Catches an audit that trusts the file alone: the last two entries vanish without a gap in the chain."""
    lines = fill(service)
    service.checkpoint()
    problems = rewrite(service, lines[:4])
    assert [p.kind for p in problems] == ["truncated"] and problems[0].index == 4


def test_a_kept_checkpoint_catches_a_rewritten_checkpoint_file(service, tmp_path):
    """An operator who truncates the ledger and its checkpoints file is caught by a checkpoint kept elsewhere."""
    lines = fill(service)
    kept = service.checkpoint()
    service.ledger.checkpoints_path.unlink()
    rewrite(service, lines[:5])
    assert audit(service.ledger, service.keyring(), PREFIX).ok  # alone, the shortened ledger looks fine
    problems = audit(service.ledger, service.keyring(), PREFIX, [kept]).problems
    assert [p.kind for p in problems] == ["truncated"] and problems[0].index == 5


def test_a_forged_checkpoint_is_rejected(service):
    """Catches checkpoints trusted without their signature."""
    fill(service, 2)
    checkpoint = service.checkpoint()
    forged = Checkpoint(checkpoint.size + 5, checkpoint.head, checkpoint.time, checkpoint.kid, checkpoint.signature)
    problems = audit(service.ledger, service.keyring(), PREFIX, [forged]).problems
    assert [p.kind for p in problems] == ["checkpoint"] and "서명이 맞지 않습니다" in problems[0].message


def test_checkpoints_are_recorded_only_when_the_ledger_grew(service):
    """Catches a checkpoint file that grows on every GET of /visit/checkpoint."""
    fill(service, 2)
    first = service.checkpoint()
    assert service.checkpoint() == first
    fill(service, 1)
    second = service.checkpoint()
    assert second.size == 3 and len(service.ledger.checkpoints()) == 2
    second.verify(service.keyring())


def test_a_torn_last_line_is_moved_aside_before_the_next_append(service):
    """A crash mid-append must not corrupt the chain for every later proof."""
    lines = fill(service, 3)
    with open(service.ledger.path, "a", encoding="utf-8") as f:
        f.write('{"index": 3, "time": 12')
    service.issue(official(), *CHANGWON, 10)
    assert audit(service.ledger, service.keyring(), PREFIX).ok
    assert (service.directory / "ledger.torn").read_text().startswith('{"index": 3')
    assert len(service.ledger.path.read_text().splitlines()) == len(lines) + 1


APPENDER = """
import sys
from visits.ledger import Ledger
ledger = Ledger(sys.argv[1])
for i in range(int(sys.argv[2])):
    ledger.append(lambda index: ("kim-minsu", "YO1:x", "0" * 64, index))
"""


def test_concurrent_appenders_in_separate_processes_keep_one_chain(tmp_path):
    """Two gunicorn workers append at once: the lock must serialize them (catches a lost or forked chain)."""
    env = {**os.environ, "PYTHONPATH": str(tmp_path.parent.parent)}
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    procs = [subprocess.Popen([sys.executable, "-c", APPENDER, str(tmp_path / "v"), "150"], cwd=root, env=env)
             for _ in range(3)]
    assert all(p.wait(timeout=120) == 0 for p in procs)
    entries = [json.loads(line) for line in (tmp_path / "v" / "ledger.jsonl").read_text().splitlines()]
    assert [e["index"] for e in entries] == list(range(450))
    assert all(b["prev"] == a["hash"] for a, b in zip(entries, entries[1:]))


def test_head_of_an_empty_ledger(tmp_path):
    """The genesis head (64 zeros) before the first proof."""
    ledger = Ledger(tmp_path / "v")
    assert ledger.head() == (0, "0" * 64) and ledger.last_entry() is None

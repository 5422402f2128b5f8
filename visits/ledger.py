"""The append-only, hash-chained ledger of every issued proof, and its signed checkpoints.

ledger.jsonl: one JSON object a line, {index, time, official, proof, proof_sha256, prev, hash}, where
`prev` is the previous entry's `hash` (64 zeros for the first) and `hash` is SHA-256 over a fixed
label and the entry's canonical JSON without `hash`. checkpoints.jsonl: signed (size, head hash, time)
statements, the model being Certificate Transparency's signed tree heads.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from visits.errors import Rejected
from conf.files import append_private, locked, private_dir
from visits.keys import KeyRing, b64, unb64

logger = logging.getLogger(__name__)

GENESIS = "0" * 64
ENTRY_LABEL = b"yoitda-ledger-entry/1\n"
CHECKPOINT_FORMAT = "yoitda-checkpoint/1"
TAIL_CHUNK = 8192


def canonical(data: dict) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def entry_hash(entry: dict) -> str:
    """The hash an entry must carry: over every field but `hash` itself."""
    return hashlib.sha256(ENTRY_LABEL + canonical({k: v for k, v in entry.items() if k != "hash"})).hexdigest()


@dataclass(frozen=True)
class Checkpoint:
    size: int
    head: str
    time: int
    kid: str
    signature: str
    format: str = CHECKPOINT_FORMAT

    def message(self) -> bytes:
        return f"{CHECKPOINT_FORMAT}\n{self.size}\n{self.head}\n{self.time}\n".encode()

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "Checkpoint":
        if not isinstance(data, dict) or data.get("format") != CHECKPOINT_FORMAT:
            raise ValueError("not a checkpoint")
        head = str(data["head"])
        if len(head) != 64 or any(c not in "0123456789abcdef" for c in head):
            raise ValueError("checkpoint head is not a SHA-256 hex digest")
        return cls(int(data["size"]), head, int(data["time"]), str(data["kid"]), str(data["signature"]))

    def verify(self, keyring: KeyRing) -> None:
        """Raise Rejected (Korean) when the signature does not hold under a key valid at its time."""
        key = keyring.check(bytes.fromhex(self.kid), self.time)
        try:
            signature = unb64(self.signature)
        except ValueError:
            signature = b""
        if len(signature) != 64 or not key.verify(signature, self.message()):
            raise Rejected(f"체크포인트(크기 {self.size})의 서명이 맞지 않습니다.", "bad_checkpoint")


class Ledger:
    """The ledger files under `directory`; appends are serialized by a lock file across processes."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self.path = self.directory / "ledger.jsonl"
        self.checkpoints_path = self.directory / "checkpoints.jsonl"
        self._lock_path = self.directory / ".ledger.lock"

    def append(self, make: Callable[[int], tuple[str, str, str, int]]) -> dict:
        """Append the entry of `make(index) -> (official, proof text, proof sha256, time)`; returns the entry."""
        with locked(self._lock_path):
            self._repair_torn_tail()
            last = self.last_entry()
            index = 0 if last is None else int(last["index"]) + 1
            official, proof, digest, issued_at = make(index)
            entry = {"index": index, "time": issued_at, "official": official, "proof": proof,
                     "proof_sha256": digest, "prev": GENESIS if last is None else last["hash"]}
            entry["hash"] = entry_hash(entry)
            append_private(self.path, canonical(entry) + b"\n")
        return entry

    def last_entry(self) -> dict | None:
        """The last complete line, read from the end of the file (the ledger may be large)."""
        try:
            with open(self.path, "rb") as f:
                f.seek(0, os.SEEK_END)
                end = f.tell()
                data = b""
                while end > 0 and data.count(b"\n") < 2:
                    start = max(0, end - TAIL_CHUNK)
                    f.seek(start)
                    data = f.read(end - start) + data
                    end = start
        except FileNotFoundError:
            return None
        lines = [line for line in data.split(b"\n") if line.strip()]
        return json.loads(lines[-1]) if lines else None

    def head(self) -> tuple[int, str]:
        last = self.last_entry()
        return (0, GENESIS) if last is None else (int(last["index"]) + 1, str(last["hash"]))

    def entries(self) -> list[tuple[int, dict | None, str]]:
        """(line number, parsed entry or None, raw line) of every line: for the audit."""
        if not self.path.exists():
            return []
        out = []
        with open(self.path, "rb") as f:
            for number, raw in enumerate(f, 1):
                text = raw.decode("utf-8", "replace").rstrip("\n")
                try:
                    entry = json.loads(text)
                except ValueError:
                    entry = None
                out.append((number, entry if isinstance(entry, dict) else None, text))
        return out

    def _repair_torn_tail(self) -> None:
        """A crash mid-append leaves a line without its newline: move it aside (it was never handed out)."""
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return
        if size == 0:
            return
        with open(self.path, "rb+") as f:
            f.seek(size - 1)
            if f.read(1) == b"\n":
                return
            start = max(0, size - 65536)
            f.seek(start)
            cut = start + f.read().rfind(b"\n") + 1  # 0 when the torn line is the only one
            f.seek(cut)
            torn = f.read()
            append_private(self.directory / "ledger.torn", torn + b"\n")
            f.truncate(cut)
            os.fsync(f.fileno())
        logger.error("ledger %s ended in a torn line (%d bytes): moved to ledger.torn", self.path, len(torn))

    # --- checkpoints ----------------------------------------------------------

    def checkpoints(self) -> list[tuple[int, Checkpoint | None, str]]:
        if not self.checkpoints_path.exists():
            return []
        out = []
        for number, text in enumerate(self.checkpoints_path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            try:
                out.append((number, Checkpoint.from_json(json.loads(text)), text))
            except (ValueError, KeyError, TypeError):
                out.append((number, None, text))
        return out

    def latest_checkpoint(self) -> Checkpoint | None:
        for _, checkpoint, _ in reversed(self.checkpoints()):
            if checkpoint is not None:
                return checkpoint
        return None

    def checkpoint(self, signer: Callable[[], tuple[bytes, Ed25519PrivateKey]], force: bool = False,
                   now: int | None = None) -> Checkpoint:
        """The current signed head, recorded in checkpoints.jsonl when the ledger grew since the last one."""
        private_dir(self.directory)
        with locked(self._lock_path):
            size, head = self.head()
            latest = self.latest_checkpoint()
            if latest is not None and latest.size == size and latest.head == head and not force:
                return latest
            kid, private = signer()
            stamp = int(time.time()) if now is None else now
            unsigned = Checkpoint(size, head, stamp, kid.hex(), "")
            checkpoint = Checkpoint(size, head, stamp, kid.hex(), b64(private.sign(unsigned.message())))
            append_private(self.checkpoints_path, canonical(checkpoint.to_json()) + b"\n")
        logger.info("ledger checkpoint: size %d, head %s", size, head[:16])
        return checkpoint

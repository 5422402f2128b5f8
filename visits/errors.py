"""The one exception an official or auditor sees: its message is Korean and names the reason."""
from __future__ import annotations


class Rejected(Exception):
    """A proof, a request or a ledger that does not hold; `reason` is the Korean sentence shown."""

    def __init__(self, reason: str, code: str = "rejected"):
        super().__init__(reason)
        self.reason = reason
        self.code = code  # a stable English word for tests and logs

"""Which slots the scheduler sends at a moment (workers.beat.due_slots), on real schedules."""
from __future__ import annotations

import datetime as dt

from conf.schedules import parse_schedule
from conf.timezone import SEOUL
from workers.beat import due_slots

NOW = dt.datetime(2026, 12, 3, 0, 15, 57, tzinfo=SEOUL)


def test_the_latest_slot_once():
    every5 = parse_schedule("every 5s")
    assert due_slots(every5, None, NOW, 15) == ["20261203T001555"]
    assert due_slots(every5, "20261203T001555", NOW, 15) == []  # sent already: never twice
    assert due_slots(every5, "20261203T001550", NOW, 15) == ["20261203T001555"]


def test_slots_missed_at_a_handover_are_sent_oldest_first():
    """The stop-23 CI failure: scheduler B's lock expired while A stood by, A's first tick came more
    than a period after B's last slot, and the slot in between was never sent. Fails with the old
    rule (only the latest slot)."""
    every5 = parse_schedule("every 5s")
    assert due_slots(every5, "20261203T001545", NOW, 15) == ["20261203T001550", "20261203T001555"]
    assert due_slots(every5, "20261203T001530", NOW, 15) == ["20261203T001545", "20261203T001550",
                                                              "20261203T001555"]  # the window: 15 s
    assert len(due_slots(every5, "20261203T000000", NOW, 3600, limit=5)) == 5


def test_no_backlog_after_a_long_outage():
    nightly = parse_schedule("0 2 * * *")
    later = dt.datetime(2026, 12, 5, 9, 0, tzinfo=SEOUL)  # off for two days
    assert due_slots(nightly, "20261203T020000", later, 15) == ["20261205T020000"]
    assert due_slots(nightly, "not a slot", later, 15) == ["20261205T020000"]

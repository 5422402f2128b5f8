"""Schedules of crawls and digests: cron expressions (croniter) or fixed intervals, in Asia/Seoul.

Two forms are accepted wherever a schedule is configured:

- a 5-field cron expression, read by croniter in Seoul time: ``0 1 * * *`` (01:00 every night),
  ``*/30 * * * *`` (every half hour), ``0 8 * * 1-5`` (08:00 on weekdays);
- ``every N s|m|h|d``: fire times are the multiples of N counted from midnight in Seoul
  (``every 30m`` fires at :00 and :30; ``every 10s`` is meant for tests and demos).

A schedule answers two questions: its latest fire time at or before a moment (the *slot* a scheduler
is acting on: two schedulers looking at the same moment name the same slot), and the next one.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from croniter import croniter

from conf.timezone import SEOUL

_EVERY = re.compile(r"every\s+(\d{1,6})\s*(s|m|h|d)", re.I)
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DAY = 86400


@dataclass(frozen=True)
class Every:
    text: str
    seconds: int

    def _local(self, moment: dt.datetime) -> float:
        offset = moment.astimezone(SEOUL).utcoffset() or dt.timedelta(0)
        return moment.timestamp() + offset.total_seconds()

    def prev(self, moment: dt.datetime) -> dt.datetime:
        local = self._local(moment)
        fired = local - (local % self.seconds)
        return moment + dt.timedelta(seconds=fired - local)

    def next(self, moment: dt.datetime) -> dt.datetime:
        return self.prev(moment) + dt.timedelta(seconds=self.seconds)


@dataclass(frozen=True)
class Cron:
    text: str

    def prev(self, moment: dt.datetime) -> dt.datetime:
        local = moment.astimezone(SEOUL)
        probe = croniter(self.text, local + dt.timedelta(seconds=1))  # a fire time exactly now counts
        return probe.get_prev(dt.datetime).astimezone(SEOUL)

    def next(self, moment: dt.datetime) -> dt.datetime:
        return croniter(self.text, moment.astimezone(SEOUL)).get_next(dt.datetime).astimezone(SEOUL)


Schedule = Every | Cron


def parse_schedule(text: str) -> Schedule:
    """A schedule of `text`; ValueError with a readable reason when it is not one."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("empty schedule")
    text = " ".join(text.split())
    every = _EVERY.fullmatch(text)
    if every:
        seconds = int(every.group(1)) * _UNIT[every.group(2).lower()]
        if seconds <= 0:
            raise ValueError(f"{text!r}: the interval must be at least 1 second")
        if seconds < _DAY and _DAY % seconds:
            raise ValueError(f"{text!r}: an interval under a day must divide a day (e.g. every 10m, every 6h)")
        if seconds > _DAY and seconds % _DAY:
            raise ValueError(f"{text!r}: an interval over a day must be whole days")
        return Every(text, seconds)
    if len(text.split()) != 5:
        raise ValueError(f"{text!r} is neither a 5-field cron expression (minute hour day month weekday) "
                         "nor 'every N s|m|h|d'")
    try:
        croniter(text, dt.datetime(2024, 1, 1, tzinfo=SEOUL)).get_next(dt.datetime)
    except (ValueError, KeyError, TypeError, OverflowError) as exc:
        raise ValueError(f"{text!r} is not a valid cron expression: {exc}") from None
    return Cron(text)


def check_schedule(text: str) -> str | None:
    """None when `text` is a schedule, else the reason (for conf.schema.Str(check=...))."""
    try:
        parse_schedule(text)
    except ValueError as exc:
        return str(exc)
    return None


def slot_name(moment: dt.datetime) -> str:
    """The name of a slot in keys and run ids: its Seoul time, 20240501T010000."""
    return moment.astimezone(SEOUL).strftime("%Y%m%dT%H%M%S")


def slot_moment(name: str) -> dt.datetime:
    """The moment a slot name stands for (ValueError when it is not one)."""
    return dt.datetime.strptime(name, "%Y%m%dT%H%M%S").replace(tzinfo=SEOUL)

"""Korean wording of times, distances and places for officials and auditors."""
from __future__ import annotations

import datetime as dt

from conf.timezone import SEOUL

WEEKDAYS = "월화수목금토일"


def korean_time(ts: float, seconds: bool = True) -> str:
    """2024년 5월 1일 (수) 오전 9시 30분 12초 — Seoul time."""
    t = dt.datetime.fromtimestamp(ts, SEOUL)
    half = "오전" if t.hour < 12 else "오후"
    hour = t.hour % 12 or 12
    text = f"{t.year}년 {t.month}월 {t.day}일 ({WEEKDAYS[t.weekday()]}) {half} {hour}시 {t.minute}분"
    return text + (f" {t.second}초" if seconds else "")


def korean_date(day: dt.date) -> str:
    return f"{day.year}년 {day.month}월 {day.day}일 ({WEEKDAYS[day.weekday()]})"


def metres(value: float) -> str:
    """84 m, 1,250 m, 12.3 km."""
    if value < 10_000:
        return f"{round(value):,} m"
    return f"{value / 1000:,.1f} km"


def coordinates(lat: float, lon: float) -> str:
    """북위 35.227900°, 동경 128.681700° (signs spelled out)."""
    ns = "북위" if lat >= 0 else "남위"
    ew = "동경" if lon >= 0 else "서경"
    return f"{ns} {abs(lat):.6f}°, {ew} {abs(lon):.6f}°"

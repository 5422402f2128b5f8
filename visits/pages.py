"""The 요있다 pages rendered from Jinja2 templates (autoescape on: every value is text, never markup)."""
from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from visits.korean import korean_date, korean_time, metres

TEMPLATES = Path(__file__).resolve().parent / "templates"
_env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(default=True, default_for_string=True),
                   trim_blocks=True, lstrip_blocks=True)


def render(template: str, **values) -> str:
    return _env.get_template(template).render(**values)


def honest_values(settings: dict) -> dict:
    return {"max_accuracy": metres(settings["max_accuracy_m"]), "min_seconds": settings["min_seconds_between_places"]}


def trip_dates(start: str, end: str) -> str:
    import datetime as dt

    a, b = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
    return korean_date(a) if a == b else f"{korean_date(a)} ~ {korean_date(b)}"


def message_page(title: str, message: str) -> str:
    return render("message.html", title=title, message=message)


NOT_FOUND = ("페이지를 찾을 수 없습니다", "주소를 다시 확인하거나 담당자에게 새 요있다 주소를 받으세요.")


def not_found_page() -> str:
    """The one answer to every unknown /visit/ address: it does not say whether a token exists."""
    return message_page(*NOT_FOUND)


def recent_item(token: str, index: int, issued_at: int, place: str) -> dict:
    return {"href": f"/visit/{token}/proof/{index}", "when": korean_time(issued_at, seconds=False), "place": place}

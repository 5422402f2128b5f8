"""Records: the staff rows and posts that leave a worker on the item stream (conf.wire)."""
from __future__ import annotations

import hashlib
from typing import Any

from crawlers.dates import parse_date
from crawlers.text import clean

DIRECTORY_TEXT_FIELDS = ("department", "team", "position", "name", "phone", "duties", "email")
LINE_JOIN = " / "  # how the items of a multi-line field read as one text (the items stay in `lines`)


def stable_id(*parts: str) -> str:
    return hashlib.sha1("\x1f".join(parts).encode("utf-8")).hexdigest()[:20]


def _site_fields(spec: dict, site_id: str | None) -> dict:
    return {"site": site_id or spec.get("id", ""), "organization": spec["organization"], "region": spec["region"],
            "org_kind": spec["org_kind"]}


def _as_list(value) -> list:
    return value if isinstance(value, list) else ([value] if value else [])


def as_text(value: Any) -> str:
    """A field value as one text: items of a multi-line field joined, link pairs by their names."""
    if isinstance(value, list):
        return LINE_JOIN.join(t for t in (as_text(v) for v in value) if t)
    if isinstance(value, dict):
        return clean(value.get("name") or value.get("url"))
    return clean(value)


def _lines(values: dict, names) -> dict[str, list[str]]:
    return {name: [t for t in (as_text(v) for v in values[name]) if t]
            for name in names if isinstance(values.get(name), list) and len(values[name]) > 1}


def staff_record(spec: dict, url: str, values: dict, site_id: str | None = None) -> dict:
    record = {"type": "staff", **_site_fields(spec, site_id), "url": url}
    for name in DIRECTORY_TEXT_FIELDS:
        record[name] = as_text(values.get(name))
    record["bureau"] = as_text(values.get("bureau"))
    lines = _lines(values, DIRECTORY_TEXT_FIELDS)
    if lines:
        record["lines"] = lines
    # the id of a row without a bureau is what it was before bureaus existed
    parts = [record[n] for n in DIRECTORY_TEXT_FIELDS] + ([record["bureau"]] if record["bureau"] else [])
    record["id"] = stable_id(record["site"], *parts)
    return record


def _links(value) -> list[dict]:
    out = []
    for item in _as_list(value):
        if isinstance(item, dict):
            name, link = clean(item.get("name")), clean(item.get("url"))
            if name or link:
                out.append({"name": name or link.rsplit("/", 1)[-1], "url": link})
    return out


def post_record(spec: dict, url: str, list_values: dict, detail_values: dict, site_id: str | None = None) -> dict:
    values = {**{k: v for k, v in list_values.items() if v}, **{k: v for k, v in detail_values.items() if v}}
    extra = {**(list_values.get("extra") or {}), **{k: v for k, v in (detail_values.get("extra") or {}).items() if v}}
    date = parse_date(values.get("date") if isinstance(values.get("date"), str) else None)
    attachments = values.get("attachments") or []
    links = _links(attachments)
    record = {
        "type": "post", **_site_fields(spec, site_id), "board_kind": spec.get("board_kind"), "url": url,
        "title": as_text(values.get("title")), "date": date.isoformat() if date else None,
        "department": as_text(values.get("department")), "author": as_text(values.get("author")),
        "body": as_text(values.get("body")),
        "attachments": [t for t in (as_text(a) for a in _as_list(attachments)) if t],
        "post_id": as_text(values.get("post_id")) or url,
    }
    if links:
        record["attachment_links"] = links
    texts = {name: as_text(value) for name, value in extra.items() if as_text(value)}
    if texts:
        record["extra"] = texts
    if list_values.get("pinned"):
        record["pinned"] = True
    record["id"] = stable_id(record["site"], record["post_id"])
    return record

"""What the writer stores of a crawled item: the cleaned staff row and post row, and a post's search text.

Crawled items may be hostile: every text is cleaned (index.text.clean), links are kept only when
they are http(s), multi-line fields and extra fields are bounded.
"""
from __future__ import annotations

import re
from datetime import datetime, timezone

from conf import specs
from conf.timezone import SEOUL
from index.segment import NewPost
from index.text import POST_SEARCH_FIELDS, SEP, clean, fold

STAFF_TEXT = ("organization", "region", "org_kind", "url", "bureau", "department", "team", "position", "name",
              "phone", "duties", "email")
EXTRA_NAME = re.compile(specs.EXTRA_NAME)
POST_TEXT = ("organization", "region", "org_kind", "board_kind", "url", "title", "department", "author", "body")




def _seq(entry_id: str) -> list[int]:
    ms, _, n = entry_id.partition("-")
    return [int(ms), int(n or 0)]


def http_url(value) -> str:
    """A stored link: an http(s) URL, or empty (a file:, javascript: or data: link from a page never reaches a reader)."""
    url = clean(value)
    return url if re.match(r"(?i)https?://[^\s/]", url) else ""


def _lines(value) -> dict[str, list[str]]:
    """`lines` of a staff row: the items of its multi-line fields (field name -> texts)."""
    if not isinstance(value, dict):
        return {}
    out = {}
    for name, items in value.items():
        if name in STAFF_TEXT and isinstance(items, list):
            kept = [clean(i) for i in items[:200] if isinstance(i, str) and clean(i)]
            if kept:
                out[name] = kept
    return out


def _extra(value) -> dict[str, str]:
    """`extra` of a post: more fields by their (Korean) names, text values."""
    if not isinstance(value, dict):
        return {}
    return {name: clean(text)[:2000] for name, text in list(value.items())[:30]
            if isinstance(name, str) and EXTRA_NAME.fullmatch(name) and clean(text)}


def _attachment_links(value) -> list[dict]:
    """Attachments as {name, url} pairs; a URL that is not http(s) is kept empty (never a javascript: link)."""
    out = []
    for item in value if isinstance(value, list) else []:
        if isinstance(item, dict) and (clean(item.get("name")) or http_url(item.get("url"))):
            out.append({"name": clean(item.get("name")), "url": http_url(item.get("url"))})
    return out[:100]


def staff_doc(item: dict, run_id: str, entry_id: str) -> dict:
    row = {name: clean(item.get(name)) for name in STAFF_TEXT}
    row["url"] = http_url(item.get("url"))
    lines = _lines(item.get("lines"))
    if lines:
        row["lines"] = lines
    row.update(type="staff", id=str(item["id"]), site=str(item.get("site") or ""), run_id=run_id)
    return {"key": f"{run_id}:{row['id']}", "run_id": run_id, "seq": _seq(entry_id), "row": row}


def _parse_date(value) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=SEOUL)


def post_doc(item: dict, run_id: str, first_seen_us: int) -> NewPost:
    """The stored row (first_seen included) and searchable text of a post item."""
    first_seen = datetime.fromtimestamp(first_seen_us / 1_000_000, timezone.utc)
    row = {name: clean(item.get(name)) for name in POST_TEXT}
    row["url"] = http_url(item.get("url"))
    date = _parse_date(item.get("date"))
    row.update(type="post", id=str(item["id"]), site=str(item.get("site") or ""), run_id=run_id,
               post_id=clean(item.get("post_id")), date=date.isoformat() if date else None,
               attachments=[clean(a) for a in item.get("attachments") or [] if clean(a)],
               first_seen=first_seen.isoformat(timespec="microseconds"))
    for name, value in (("attachment_links", _attachment_links(item.get("attachment_links"))),
                        ("extra", _extra(item.get("extra"))), ("pinned", item.get("pinned") is True)):
        if value:
            row[name] = value
    return stored_post(row, first_seen_us)


def stored_post(row: dict, first_seen_us: int, seq: int = 0) -> NewPost:
    """A post to write into a segment from its stored row: the searchable text and the sort date are
    derived from the row alone (the writer and `nugo index --rebuild` derive them alike)."""
    extra = row.get("extra") if isinstance(row.get("extra"), dict) else {}
    text = SEP.join([*(fold(row.get(f) or "") for f in POST_SEARCH_FIELDS),
                     " ".join(fold(str(v)) for v in extra.values())])
    date = _parse_date(row.get("date"))
    first_seen = datetime.fromtimestamp(first_seen_us / 1_000_000, timezone.utc)
    return NewPost(id=row["id"], row=row, text=text, date_sort=int((date or first_seen).timestamp()),
                   first_seen_us=first_seen_us, seq=seq)

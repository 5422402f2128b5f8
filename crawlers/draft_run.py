"""`nugo draft-site URL`, part 3: fetch the list page (and one detail or department page), assemble the draft."""
from __future__ import annotations

import ipaddress
import logging
import re
import socket
from urllib.parse import urlsplit

from crawlers.draft import best_rows, css_of, extra_name, label_field
from crawlers.draft_site import Draft, detail_link, index_links, page_fields, pagination, parse, site_meta
from crawlers.fields import _norm_label
from crawlers.request import make_request
from crawlers.text import element_text

logger = logging.getLogger(__name__)

FILE_LINK = re.compile(r"(?i)(download|filedown|file_down|atchfile|fileSn|fileId|\.hwpx?$|\.pdf$|\.xlsx?$|\.zip$)")
BODY_HINT = re.compile(r"(?i)(cont|content|view|body|article|txt|text)")


def _private(host: str) -> bool:
    try:
        return any(ipaddress.ip_address(info[4][0]).is_private or ipaddress.ip_address(info[4][0]).is_loopback
                   for info in socket.getaddrinfo(host, None))
    except (OSError, ValueError):
        return False


def _get(fetch, url: str):
    status, body, ctype = fetch(make_request(url, role="list", depth=0))
    if status != 200:
        raise OSError(f"{url}: HTTP {status}")
    return parse(body, ctype)


def detail_fields(root) -> tuple[dict, dict, list[str]]:
    """Body, attachments (name + URL) and extra label fields of one detail page."""
    fields, extra, notes = {}, {}, []
    files = [a for a in root.iter("a") if FILE_LINK.search(a.get("href") or "")]
    others = {a for a in root.iter("a") if not FILE_LINK.search(a.get("href") or "")}
    for label in root.iter("th", "dt"):
        text = _norm_label(element_text(label))
        name = extra_name(text)
        if name and name not in extra and label_field(text, "board") is None:
            extra[name] = {"label": text}
        value = label.getnext()
        if text in ("첨부파일", "첨부", "파일") and value is not None and not (set(value.iter("a")) & others):
            fields["attachments"] = {"label": text, "many": True, "link": True}
    if "attachments" not in fields:
        if files:
            classes = {(a.get("class") or "").split()[0] if a.get("class") else "" for a in files}
            container = files[0].getparent()
            while container is not None and css_of(container) == container.tag:
                container = container.getparent()
            anchor = f"a.{classes.pop()}" if len(classes) == 1 and "" not in classes else "a[href]"
            fields["attachments"] = {"css": f"{css_of(container)} {anchor}" if container is not None else anchor,
                                     "many": True, "link": True}
    best, size = None, 0
    for el in root.iter("div", "td", "article", "section"):
        hint = BODY_HINT.search(" ".join([el.get("class") or "", el.get("id") or ""]))
        if not hint or css_of(el) == el.tag or el.find(".//table") is not None or el.find(".//dl") is not None \
                or any(el.find(f".//{h}") is not None for h in ("h1", "h2", "h3", "h4")) or el.find(".//ul") is not None:
            continue
        length = len(element_text(el)) - sum(len(element_text(a)) for a in el.iter("a"))
        if length > size:
            best, size = el, length
    if best is not None:
        fields["body"] = css_of(best)
    else:
        notes.append("상세 페이지 본문을 찾지 못함: detail.fields.body 직접 작성 필요")
    return fields, extra, notes


def _pinned(rows) -> str | None:
    for row in rows.rows:
        if "notice" in (row.get("class") or "").split():
            return f"{row.tag}.notice"
        for el in row.iter():
            if isinstance(el.tag, str) and "notice" in (el.get("class") or "") and element_text(el).strip() == "공지":
                return css_of(el)
    return None


def draft_site(url: str, fetch) -> Draft:
    """A draft site definition for the list page at `url` (fetch: a polite fetcher of request dicts)."""
    draft = Draft(url)
    root, text, encoding = _get(fetch, url)
    draft.encoding = encoding
    kind, rows = best_rows(root)
    follow = None
    if rows is None or rows.score < 6 or kind == "board" and "date" not in rows.fields \
            or kind == "directory" and not {"name", "duties"} & set(rows.fields):
        follow, links = index_links(root, url)
        if links:
            allowed = getattr(fetch, "allowed", lambda u: True)
            target = next((link for link in links if allowed(link)), links[0])
            draft.notes.append(f"이 페이지에는 행이 없고 부서 페이지 링크 {len(links)}개가 있음: 링크를 따라감 ({target})")
            root, text, _ = _get(fetch, target)
            kind, rows = best_rows(root)
    if rows is None:
        raise ValueError("반복되는 행(표, 목록, 카드)을 찾지 못했습니다")
    listing: dict = {"rows": rows.selector}
    if rows.expand_rowspan:
        listing["expand_rowspan"] = True
    if rows.group:
        listing["group_rows"] = rows.group
    fields = page_fields(root, rows)
    if fields:
        listing["page_fields"] = fields
    listing["fields"] = {k: (v["css"] if set(v) == {"css"} else v) for k, v in rows.fields.items()}
    page_spec, start, notes = pagination(root, url)
    draft.notes += notes
    detail = None
    if kind == "board":
        pinned = _pinned(rows)
        if pinned:
            listing["pinned"] = pinned
        if rows.extra:
            listing["extra"] = rows.extra
        link, post_id, notes = detail_link(root, rows, url)
        draft.notes += notes
        if post_id and "post_id" not in listing["fields"]:
            listing["fields"]["post_id"] = post_id
        if link:
            listing["detail_link"] = link
            first = rows.rows[-1]
            from parsel import Selector

            from crawlers.fields import absolute_link, extract_field
            target = absolute_link(url, extract_field(Selector(root=first), link if isinstance(link, dict) else {"css": link}))
            targets = [absolute_link(url, extract_field(Selector(root=row), link if isinstance(link, dict) else {"css": link}))
                       for row in reversed(rows.rows[-3:])] if target else []
            for target in [t for t in targets if t]:  # a detail page with attachments tells where they are
                detail_root, _, _ = _get(fetch, target)
                dfields, dextra, notes = detail_fields(detail_root)
                if "attachments" in dfields:
                    break
            if target:
                draft.notes += notes
                detail = {"fields": dfields, **({"extra": {k: v for k, v in dextra.items() if k not in rows.extra}}
                                                if any(k not in rows.extra for k in dextra) else {})}
    if follow:
        listing["follow"] = {"css": follow, "many": True}
    if page_spec and "follow" in page_spec:
        listing["follow"] = page_spec.pop("follow")
    if page_spec:
        listing["pagination"] = page_spec
    parts = urlsplit(url)
    meta = site_meta(root, url, kind, text)
    spec = {**meta, "base_url": f"{parts.scheme}://{parts.netloc}", "verified": False}
    if _private(parts.hostname or ""):
        spec["allow_private_addresses"] = True
        draft.notes.append("사설 주소(농장, 내부망)의 사이트: allow_private_addresses: true")
    if encoding not in ("utf-8", "ascii"):
        spec["encoding"] = "cp949" if encoding in ("cp949", "euc_kr", "euc-kr") else "auto"
        draft.notes.append(f"인코딩: {encoding}")
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    spec["start"] = [{"url": urlsplit(start["url"]).path + (f"?{urlsplit(start['url']).query}" if urlsplit(start["url"]).query else ""),
                      "method": "POST", "formdata": start["formdata"]}] if start else [{"url": path}]
    spec["list"] = listing
    if detail:
        spec["detail"] = detail
    draft.notes.append(f"찾은 필드: {', '.join(listing['fields'])}" + (f"; 쪽 필드: {', '.join(fields)}" if fields else ""))
    draft.spec = spec
    return draft


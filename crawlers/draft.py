"""`nugo draft-site URL`, part 1: find the repeating rows of a list page and name their fields.

No examples are needed (unlike scrapely, autoscraper or Portia's annotations): Korean government pages
label their fields with a small vocabulary known in advance (성명, 직위, 담당업무, 제목, 등록일 …), in column
headers, <dt>/<th> labels or class names. Candidates are tables (rows of <td>) and repeated siblings (cards);
the one whose fields are best named wins.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from crawlers.fields import _header_row, _norm_label, _owning_table, element_lines
from crawlers.text import element_text

# label vocabulary: field -> labels (normalized: no spaces); the first field whose label matches wins
DIRECTORY_LABELS = {
    "bureau": ("실·국", "실국", "실/국", "국", "본부"),
    "department": ("부서", "부서명", "소속", "소속부서", "과", "과명", "기관"),
    "team": ("팀", "팀명", "계", "담당"),
    "position": ("직위", "직급", "직책", "직위(직급)"),
    "name": ("성명", "이름", "직원명", "담당자"),
    "phone": ("전화", "전화번호", "연락처", "내선", "사무실전화", "내선번호"),
    "duties": ("담당업무", "업무내용", "업무", "주요업무", "담당사무"),
    "email": ("이메일", "메일", "e-mail", "email"),
}
BOARD_LABELS = {
    "title": ("제목", "글제목"),
    "date": ("작성일", "등록일", "게시일", "날짜", "일자", "작성일자", "등록일자"),
    "department": ("담당부서", "부서", "작성부서", "부서명"),
    "author": ("작성자", "글쓴이"),
}
EXTRA_LABELS = ("조회수", "조회", "고시공고번호", "공고번호", "고시번호", "담당자", "게재기간", "공고기간")
IGNORED = ("번호", "첨부", "파일", "첨부파일", "no", "순번")
CLASS_HINTS = (  # class-name fragments -> field (the last path segment is looked at first)
    ("position", "position"), ("grade", "position"), ("jikwi", "position"), ("team", "team"), ("dept", "department"),
    ("buseo", "department"), ("task", "duties"), ("duty", "duties"), ("work", "duties"), ("job", "duties"),
    ("tel", "phone"), ("phone", "phone"), ("mail", "email"), ("name", "name"), ("subject", "title"), ("title", "title"),
    ("date", "date"), ("day", "date"),
)
PHONE = re.compile(r"^\(?0\d{1,3}\)?[-. ]?\d{3,4}[-. ]\d{4}$")
DATE = re.compile(r"^(\d{2,4}[.\-/]\s?\d{1,2}[.\-/]\s?\d{1,2}\.?|\d{4}년\s*\d{1,2}월\s*\d{1,2}일)(\s+\d{1,2}:\d{2})?$")
NAME = re.compile(r"^[가-힣][가-힣*○]{1,3}$")
DEPT = re.compile(r"(과|담당관|실|국|본부|사업소|센터|원|청|처|부|위원회)$")


PREFERRED_CLASSES = ("last", "end", "next", "notice")


def css_of(el) -> str:
    """tag.class (the telling class, else the first) or tag#id or tag."""
    classes = [c for c in (el.get("class") or "").split() if re.fullmatch(r"[A-Za-z_][\w-]*", c)]
    if classes:
        return f"{el.tag}.{next((c for c in classes if c in PREFERRED_CLASSES), classes[0])}"
    if el.get("id") and re.fullmatch(r"[A-Za-z_][\w-]*", el.get("id")):
        return f"{el.tag}#{el.get('id')}"
    return el.tag


def _segment(el) -> str:
    seg = css_of(el)
    parent = el.getparent()
    if seg == el.tag and parent is not None:
        same = [c for c in parent if c.tag == el.tag]
        if len(same) > 1:
            return f"{el.tag}:nth-child({list(c for c in parent if isinstance(c.tag, str)).index(el) + 1})"
    return seg


def rel_path(row, el) -> str:
    parts = []
    while el is not None and el is not row:
        parts.append(_segment(el))
        el = el.getparent()
    return " ".join(reversed(parts))


def label_field(text: str, kind: str) -> str | None:
    label = _norm_label(text).lower()
    if not label:
        return None
    vocab = DIRECTORY_LABELS if kind == "directory" else BOARD_LABELS
    for name, labels in vocab.items():
        if label in [x.lower() for x in labels]:
            return name
    return None


def extra_name(text: str) -> str | None:
    label = _norm_label(text)
    if label in EXTRA_LABELS:
        return {"조회": "조회수", "고시공고번호": "공고번호", "고시번호": "공고번호"}.get(label, label)
    return None


@dataclass
class Rows:
    """A candidate repeating structure and its named fields."""

    kind: str                  # table | cards
    selector: str              # list.rows
    rows: list                 # lxml elements (records)
    fields: dict = field(default_factory=dict)   # field -> spec
    extra: dict = field(default_factory=dict)    # extra name -> spec
    group: dict | None = None  # group_rows
    expand_rowspan: bool = False
    score: float = 0.0
    notes: list = field(default_factory=list)


def _duties_spec(spec: dict, cells: list) -> dict:
    """Multi-line duties (<br>, <li>) become `split: lines` with the bullets seen."""
    multi = [c for c in cells if c is not None and len(element_lines(c)) > 1 or (c is not None and c.find(".//li") is not None)]
    if not multi:
        return spec
    bullets = set()
    for cell in multi[:20]:
        for line in element_lines(cell):
            match = re.match(r"^([○●◦•·∙ㆍ\-–*※▶▷■□◆◇]+)\s*", line)
            if match:
                bullets.update(match.group(1))
    return {**spec, "split": "lines", **({"strip_prefix": "".join(sorted(bullets))} if bullets else {})}


def table_rows(table, kind: str) -> Rows | None:
    header = _header_row(table)
    body = [tr for tr in table.iter("tr") if _owning_table(tr) is table and tr.find("td") is not None
            and (header is None or tr is not header[0].getparent())]
    if len(body) < 2:
        return None
    separators = [tr for tr in table.iter("tr") if _owning_table(tr) is table and tr.find("td") is None
                  and len([c for c in tr if c.tag in ("th", "td")]) == 1 and tr.find("th[@colspan]") is not None]
    fields, extra, named = {}, {}, 0
    for cell in header or []:
        text = element_text(cell)
        name = label_field(text, kind)
        if name and name not in fields:
            fields[name] = {"label": _norm_label(text)}
            named += 1
        elif kind == "board" and extra_name(text) and not name:
            extra[extra_name(text)] = {"label": _norm_label(text)}
    if "duties" in fields:
        index = [c for c in header].index(next(c for c in header if _norm_label(element_text(c)) == fields["duties"]["label"]))
        cells = [([c for c in tr if c.tag in ("td", "th")] + [None] * 20)[index] for tr in body]
        fields["duties"] = _duties_spec(fields["duties"], cells)
    rowspan = any(int(c.get("rowspan", "1") or 1) > 1 for tr in body for c in tr if c.tag == "td" and (c.get("rowspan") or "1").isdigit())
    sel = css_of(table)
    if sel == "table" and header:
        sel = f"xpath://table[.//th[normalize-space()='{_norm_label(element_text(header[0]))}']]"
        rows_sel = sel + ("//tr[td or th[@colspan]]" if separators else "//tr[td]")
    elif table.find("tbody") is not None:
        rows_sel = f"{sel} tbody tr"
    else:
        rows_sel = f"xpath://table[@class='{table.get('class')}']//tr[td]" if "." in sel else f"{sel} tr"
    out = Rows("table", rows_sel, body, fields, extra, expand_rowspan=rowspan)
    if separators:
        cls = css_of(separators[0])
        out.group = {"match": cls if "." in cls else "th[colspan]", "field": "team" if kind == "directory" else "department"}
        named += 1
    out.score = named * len(body) + 0.1 * len(body)
    return out


def card_rows(parent, children: list, kind: str) -> Rows | None:
    sample = children[:40]
    fields, named = {}, 0
    labels = [dt for row in sample for dt in row.iter("dt", "th")]
    if labels:  # <dl><dt>성명</dt><dd>… cards
        for dt in labels:
            name = label_field(element_text(dt), kind)
            if name and name not in fields:
                fields[name] = {"label": _norm_label(element_text(dt))}
        if "duties" in fields:
            cells = [next((dt.getnext() for dt in row.iter("dt", "th") if _norm_label(element_text(dt)) == fields["duties"]["label"]), None)
                     for row in sample]
            fields["duties"] = _duties_spec(fields["duties"], cells)
        named = len(fields)
    else:
        fields = _class_fields(sample, kind)
        named = len(fields)
    if not fields:
        return None
    first = children[0]
    selector = f"{css_of(parent)} > {css_of(first)}"
    if parent.tag in ("ul", "ol", "div", "tbody") and css_of(parent) == parent.tag:
        grand = parent.getparent()
        if grand is not None and css_of(grand) != grand.tag:
            selector = f"{css_of(grand)} > {parent.tag} > {css_of(first)}"
    out = Rows("cards", selector, children, fields)
    out.score = named * len(children)
    return out


def _own_text(el) -> str:
    return " ".join(((el.text or "") + " ".join((c.tail or "") for c in el)).split())


def _class_fields(rows: list, kind: str) -> dict:
    """Fields of cards without labels: by the class names on the path to each text, then by the text itself."""
    paths: dict[str, list[str]] = {}
    for row in rows:
        for el in row.iter():
            if not isinstance(el.tag, str) or el.tag in ("script", "style", "img", "br") or el is row:
                continue
            text = _own_text(el)
            if text:
                paths.setdefault(rel_path(row, el), []).append(text)
    fields: dict = {}
    ordered = sorted(paths.items(), key=lambda kv: -len(kv[1]))
    for path, values in ordered:
        if len(values) < max(2, len(rows) // 2):
            continue
        segments = path.split()
        name = None
        for seg in reversed(segments):
            classes = seg.split(".", 1)[1].lower() if "." in seg else ""
            name = next((f for hint, f in CLASS_HINTS if classes and hint in classes), None)
            if name:
                break
        share = lambda pattern: sum(bool(pattern.search(v)) for v in values) / len(values)  # noqa: E731
        if share(PHONE) > 0.8:
            name = "phone"
        elif share(DATE) > 0.8:
            name = "date"
        elif name is None and kind == "directory" and share(NAME) > 0.8:
            name = "name"
        elif name is None and share(DEPT) > (0.8 if kind == "directory" else 0.6):
            name = "department"
        if kind == "board" and name in ("team", "position", "phone", "email", "duties"):
            name = None if name != "duties" else None
        if kind == "directory" and name in ("title", "date"):
            name = None
        if name and name not in fields:
            fields[name] = {"css": path}
    if kind == "board" and "title" not in fields:
        anchors = [max(row.iter("a"), key=lambda a: len(element_text(a)), default=None) for row in rows]
        if all(a is not None for a in anchors):
            inner = [el for el in anchors[0].iter() if el is not anchors[0] and _own_text(el)]
            strong = [el for el in inner if el.tag in ("strong", "b", "h3", "h4", "h5") or
                      re.search(r"tit|subject", el.get("class") or "")]
            best = (strong or [None])[0]
            fields["title"] = {"css": rel_path(rows[0], best if best is not None else anchors[0])}
    return fields


def candidates(root, kind: str) -> list[Rows]:
    out = []
    for table in root.iter("table"):
        found = table_rows(table, kind)
        if found:
            out.append(found)
    for parent in root.iter():
        if not isinstance(parent.tag, str) or parent.tag in ("table", "tbody", "thead", "tr", "select"):
            continue
        groups: dict[str, list] = {}
        for child in parent:
            if isinstance(child.tag, str) and child.tag in ("li", "div", "dl", "article"):
                groups.setdefault(css_of(child), []).append(child)
        for children in groups.values():
            if len(children) >= 3 and sum(len(element_text(c)) for c in children) / len(children) > 8:
                found = card_rows(parent, children, kind)
                if found:
                    out.append(found)
    return sorted(out, key=lambda r: -r.score)


def best_rows(root) -> tuple[str, Rows | None]:
    """(kind, best candidate): a directory when staff fields name a structure better than post fields do."""
    staff = candidates(root, "directory")
    posts = candidates(root, "board")
    s = staff[0] if staff else None
    p = posts[0] if posts else None
    staff_ok = s is not None and ("name" in s.fields or "duties" in s.fields) and len(s.fields) >= 3
    board_ok = p is not None and "title" in p.fields and "date" in p.fields  # a board list always dates its posts
    if staff_ok and (not board_ok or s.score >= p.score):
        return "directory", s
    if board_ok:
        return "board", p
    return ("directory", s) if s else ("board", p)

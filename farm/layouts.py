"""Directory layouts of issue 15: fields found by their labels, multi-line duties, team separator rows, bureaus.

- `dl_cards`: one `<dl><dt>성명</dt><dd>…` card per person (labels, no classes on values), duties as
  `○ …<br>○ …`, the bureau (실·국) in each card, a `다음` link that is `javascript:void(0)` on the last page.
- `group_table`: an organization index, one page per department with a breadcrumb (홈 > 조직안내 > 실·국 >
  부서), a table whose columns are known by their headers only, team separator rows
  (`<tr class="sub_tit"><th colspan="4">기획팀</th></tr>`) and duties as a `<ul>` of `- …` items.
"""
from __future__ import annotations

from farm.content import Staff
from farm.directory import DirectorySite, block
from farm.site import Page, Request, esc, page_count
from farm.vocab import DEPARTMENTS

BUREAU = {d[0]: d[1] for d in DEPARTMENTS}
ESCAPE_ROW = 2  # group_table: this row's duties carry a terminal escape sequence in the page (not in the truth)


def duty_items(duties: str) -> list[str]:
    return [item.strip() for item in duties.split(", ") if item.strip()]


class LabelledDirectory(DirectorySite):
    """A directory whose truth has bureaus and multi-line duties."""

    shows = ("bureau", "department", "team", "position", "name", "phone", "duties")

    def manifest(self) -> list[dict]:
        records = []
        for person in self.staff():
            record = self.base_record()
            values = {"bureau": BUREAU[person.department], **person._asdict()}
            for name in self.shows:
                if values.get(name):
                    record[name] = values[name]
            items = duty_items(person.duties)
            record["duties"] = " / ".join(items)
            if len(items) > 1:
                record["lines"] = {"duties": items}
            records.append(record)
        return records


class CardListSite(LabelledDirectory):
    """(e) cards of <dl> label/value pairs, GET pages with a next link (javascript:void(0) on the last page)."""

    def start_paths(self):
        return [f"{self.site.prefix}/staff/staffList.do?pageNo=1"]

    def card(self, p: Staff) -> str:
        pairs = [("실·국", esc(BUREAU[p.department])), ("부서", esc(p.department))]
        if p.team:
            pairs.append(("팀", esc(p.team)))
        pairs += [("직위", esc(p.position)), ("성명", esc(p.name)),
                  ("전화번호", f'<a href="tel:{esc(p.phone.replace("-", ""))}">{esc(p.phone)}</a>'),
                  ("담당업무", "<br>".join(f"○ {esc(item)}" for item in duty_items(p.duties)))]
        return '<li><dl class="info">' + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in pairs) + "</dl></li>"

    def route(self, req: Request, traps):
        if req.path != f"{self.site.prefix}/staff/staffList.do":
            return None
        page, size = req.number("pageNo"), self.site.page_size
        last = page_count(self.plan.size, size)
        cards = "\n".join(self.card(p) for p in self.page_rows(page, size)) or '<li class="empty">자료가 없습니다.</li>'
        nav = ['<a href="?pageNo=1" class="first">처음</a>']
        nav += [f"<strong>{n}</strong>" if n == page else f'<a href="?pageNo={n}">{n}</a>' for n in block(page, last)]
        nav.append(f'<a href="?pageNo={page + 1}" class="next">다음</a>' if page < last
                   else '<a href="javascript:void(0);" class="next">다음</a>')
        nav.append(f'<a href="?pageNo={last}" class="last">끝</a>')
        content = (f'<div class="sub_title"><h3>직원안내</h3></div>\n<p class="count">전체 {self.plan.size}명</p>\n'
                   f'<div class="staff_wrap"><ul class="staff_list">\n{cards}\n</ul></div>\n'
                   f'<div class="paging">{"".join(nav)}</div>')
        return Page(self.shell("직원안내", content), list_page=True)


class DeptTableSite(LabelledDirectory):
    """(f) an index of departments; each department page: breadcrumb, heading, team separator rows."""

    def start_paths(self):
        return [f"{self.site.prefix}/org/orgList.do"]

    def code(self, number: int) -> str:
        return f"D{self.site.index:03d}{number:03d}"

    def index_block(self, traps) -> str:
        links = "".join(f'<li><a href="orgView.do?deptId={self.code(n)}">{esc(dept)}</a></li>'
                        for n, (dept, _, _) in enumerate(self.plan.departments()))
        links += "".join(f'<li><a href="{esc(h)}">{esc(t)}</a></li>' for h, t in traps)
        return f'<div class="org_list"><h3>조직안내</h3><ul>{links}</ul></div>'

    def route(self, req: Request, traps):
        base = f"{self.site.prefix}/org/"
        if req.path == base + "orgList.do":
            return Page(self.shell("조직안내", self.index_block(traps)), list_page=True)
        if req.path != base + "orgView.do":
            return None
        codes = {self.code(n): group for n, group in enumerate(self.plan.departments())}
        if req.param("deptId") not in codes:
            return None
        dept, first, end = codes[req.param("deptId")]
        body, team = [], ""
        for row, p in zip(range(first, end), self.rows(first, end)):
            if p.team and p.team != team:
                body.append(f'<tr class="sub_tit"><th colspan="4" scope="colgroup">{esc(p.team)}</th></tr>')
            team = p.team
            items = duty_items(p.duties)
            if row == ESCAPE_ROW:
                items[0] = f"\x1b[1m{items[0]}\x1b[0m"
            duties = "".join(f"<li>- {esc(item)}</li>" for item in items)
            body.append(f'<tr><td>{esc(p.position)}</td><td>{esc(p.name)}</td><td>{esc(p.phone)}</td>'
                        f'<td class="left"><ul class="task">{duties}</ul></td></tr>')
        content = (f'<div class="location"><ul><li>홈</li><li>조직안내</li><li>{esc(BUREAU[dept])}</li>'
                   f'<li class="on">{esc(dept)}</li></ul></div>\n{self.index_block(traps)}\n'
                   f'<h4 class="dept_tit">{esc(dept)}</h4>\n<table class="tbl_type01"><caption>{esc(dept)} 직원현황</caption>'
                   '<thead><tr><th scope="col">직위</th><th scope="col">성명</th><th scope="col">전화번호</th>'
                   '<th scope="col">담당업무</th></tr></thead>\n<tbody>\n' + "\n".join(body) + "\n</tbody></table>")
        return Page(self.shell(dept, content), list_page=True)


FAMILIES = {"dl_cards": CardListSite, "group_table": DeptTableSite}

"""Staff directory sites, one class per layout family (see /work/shared/reference/README.md)."""
from __future__ import annotations

from functools import lru_cache

from farm.catalog import SiteDef
from farm.content import Staff, StaffPlan, generate_staff, staff_plan, staff_row
from farm.site import FarmSite, Page, Request, esc, page_count


@lru_cache(maxsize=8)
def staff_of(seed: int, site: SiteDef) -> tuple[Staff, ...]:
    """Every row of a site, for the manifest and searches; pages make only their own rows."""
    return tuple(generate_staff(seed, site))


@lru_cache(maxsize=2048)
def plan_of(seed: int, site: SiteDef) -> StaffPlan:
    return staff_plan(seed, site)


def block(current: int, last: int, size: int = 10) -> range:
    first = (current - 1) // size * size + 1
    return range(first, min(last, first + size - 1) + 1)


class DirectorySite(FarmSite):
    shows = ("department", "position", "name", "phone", "duties")

    def staff(self) -> tuple[Staff, ...]:
        return staff_of(self.seed, self.site)

    @property
    def plan(self) -> StaffPlan:
        return plan_of(self.seed, self.site)

    def rows(self, start: int, stop: int) -> list[Staff]:
        """Rows start..stop-1 of the directory, made on request from the seed."""
        plan = self.plan
        return [staff_row(self.seed, self.site, plan, row) for row in range(max(0, start), min(stop, plan.size))]

    def page_rows(self, page: int, size: int) -> list[Staff]:
        return self.rows((page - 1) * size, page * size) if page >= 1 else []

    def manifest(self) -> list[dict]:
        records = []
        for person in self.staff():
            record = self.base_record()
            for name in ("department", "team", "position", "name", "phone", "duties", "email"):
                value = getattr(person, name)
                if name in self.shows and value:
                    record[name] = value
            records.append(record)
        return records

    def title(self) -> str:
        return "직원검색"


class StaffTableSite(DirectorySite):
    """(a) `/{site}/staff/list.do?mId=…`: table 부서/직위/성명/담당업무/전화번호, search form, POST or GET paging."""

    @property
    def list_path(self) -> str:
        return f"{self.site.prefix}/staff/list.do"

    @property
    def mid(self) -> str:
        return f"04{self.site.index % 99 + 1:02d}000000"

    def start_paths(self):
        return [f"{self.list_path}?mId={self.mid}"]

    def route(self, req: Request, traps):
        if req.path != self.list_path:
            return None
        page = req.number("pageIndex") if (req.method == "POST" or self.site.method == "GET") else 1
        field, word = req.param("searchCnd", "all"), req.param("searchKrwd").strip()
        size = self.site.page_size
        if word:
            keys = {"name": ("name",), "dept": ("department",), "duties": ("duties",), "tel": ("phone",)}.get(
                field, ("name", "department", "duties", "phone"))
            found = [p for p in self.staff() if any(word in getattr(p, k) for k in keys)]
            total, rows = len(found), found[(page - 1) * size: page * size]
        else:
            total, rows = self.plan.size, self.page_rows(page, size)
        last = page_count(total, size)
        body = "\n".join(
            f'<tr><td class="dept">{esc(p.department)}</td><td class="position">{esc(p.position)}</td>'
            f'<td class="name">{esc(p.name)}</td><td class="duties">{esc(p.duties)}</td>'
            f'<td class="phone">{esc(p.phone)}</td></tr>' for p in rows)
        if not body:
            body = '<tr><td colspan="5" class="no_data">검색된 결과가 없습니다.</td></tr>'
        action = f"{self.list_path}?mId={self.mid}"
        options = "".join(f'<option value="{v}"{" selected" if v == field else ""}>{t}</option>'
                          for v, t in (("all", "전체"), ("name", "이름"), ("dept", "부서"), ("duties", "업무내용"), ("tel", "전화번호")))
        content = (
            f'<h3 class="tit">직원검색</h3>\n<div class="staff_search">'
            f'<form id="searchForm" name="searchForm" method="post" action="{esc(action)}">'
            f'<input type="hidden" name="pageIndex" value="{page}"><fieldset><legend>직원검색</legend>'
            f'<select name="searchCnd" title="검색구분">{options}</select>'
            f'<input type="text" name="searchKrwd" value="{esc(word)}" title="검색어 입력">'
            f'<button type="submit" class="btn_search">검색</button></fieldset></form></div>\n'
            f'<p class="total">총 <strong>{total}</strong>명 [{page}/{last} 페이지]</p>\n'
            f'<table class="staff"><caption>직원검색 결과 - 부서, 직위, 성명, 담당업무, 전화번호</caption>'
            f'<colgroup><col style="width:18%"><col style="width:10%"><col style="width:10%"><col><col style="width:14%"></colgroup>\n'
            f'<thead><tr><th scope="col">부서</th><th scope="col">직위</th><th scope="col">성명</th>'
            f'<th scope="col">담당업무</th><th scope="col">전화번호</th></tr></thead>\n<tbody>\n{body}\n</tbody></table>\n'
            f'<div class="paging">{self.paging(page, last)}</div>\n'
            '<script>function fn_link_page(pageNo){document.searchForm.pageIndex.value=pageNo;'
            'document.searchForm.submit();}</script>')
        return Page(self.shell("직원검색", content), list_page=True)

    def paging(self, page: int, last: int) -> str:
        def link(n, text, cls=""):
            attr = f' class="{cls}"' if cls else ""
            if self.site.method == "POST":
                return f'<a href="#"{attr} onclick="fn_link_page({n});return false;">{text}</a>'
            return f'<a href="?mId={self.mid}&amp;pageIndex={n}"{attr}>{text}</a>'

        pages = block(page, last)
        parts = [link(1, "처음", "first"), link(max(1, pages.start - 1), "이전", "prev")]
        parts += [f'<strong class="on">{n}</strong>' if n == page else link(n, str(n)) for n in pages]
        parts += [link(min(last, pages.stop), "다음", "next"), link(last, "마지막", "last")]
        return "".join(parts)


class OrgTreeSite(DirectorySite):
    """(b) organization tree: an index of departments, one staff table per department page."""

    shows = ("department", "team", "position", "name", "phone", "duties", "email")

    def departments(self) -> list[tuple[str, int, int]]:
        return self.plan.departments()

    def code(self, number: int) -> str:
        return f"{3000000 + self.site.index * 1000 + number * 10}"

    def start_paths(self):
        return [f"{self.site.prefix}/organization/index.do"]

    def tree(self, traps) -> str:
        from farm.vocab import DEPARTMENTS

        bureau_of = {d[0]: d[1] for d in DEPARTMENTS}
        bureaus: dict[str, list[str]] = {}
        for number, (dept, _, _) in enumerate(self.departments()):
            bureaus.setdefault(bureau_of[dept], []).append(
                f'<li><a href="dept.do?deptCode={self.code(number)}">{esc(dept)}</a></li>')
        items = "".join(f'<li class="depth1"><strong class="bureau">{esc(b)}</strong><ul class="depth2">{"".join(links)}</ul></li>'
                        for b, links in bureaus.items())
        if self.site.robots != "allow":
            items += '<li class="depth1"><a href="/admin/orgManage.do">조직관리</a></li>'
        items += "".join(f'<li class="depth1"><a href="{esc(h)}">{esc(t)}</a></li>' for h, t in traps)
        return f'<div class="org_tree"><h2 class="blind">조직도</h2><ul class="depth1">{items}</ul></div>'

    def route(self, req: Request, traps):
        base = f"{self.site.prefix}/organization/"
        if req.path == base + "index.do":
            content = (f'{self.tree(traps)}\n<div class="org_intro"><h3 class="tit">조직 및 직원안내</h3>'
                       f'<p>부서를 선택하시면 부서별 직원과 담당업무를 보실 수 있습니다.</p></div>')
            return Page(self.shell("조직도", content), list_page=True)
        if req.path != base + "dept.do":
            return None
        codes = {self.code(n): group for n, group in enumerate(self.departments())}
        if req.param("deptCode") not in codes:
            return None
        dept, first, end = codes[req.param("deptCode")]
        people = self.rows(first, end)
        rows = "\n".join(
            f'<tr><td class="team">{esc(p.team)}</td><td class="position">{esc(p.position)}</td>'
            f'<td class="name">{esc(p.name)}</td><td class="duties">{esc(p.duties)}</td><td class="phone">{esc(p.phone)}</td>'
            f'<td class="email"><a href="mailto:{esc(p.email)}">{esc(p.email)}</a></td></tr>' for p in people)
        content = (f'{self.tree(traps)}\n<div class="dept_view"><h3 class="dept_name">{esc(dept)}</h3>'
                   f'<p class="dept_tel">대표전화 {esc(people[0].phone)}</p>\n'
                   f'<table class="dept_staff"><caption>{esc(dept)} 직원 - 팀, 직위, 성명, 담당업무, 전화번호, 이메일</caption>\n'
                   f'<thead><tr><th scope="col">팀</th><th scope="col">직위</th><th scope="col">성명</th><th scope="col">담당업무</th>'
                   f'<th scope="col">전화번호</th><th scope="col">이메일</th></tr></thead>\n<tbody>\n{rows}\n</tbody></table></div>')
        return Page(self.shell(dept, content), list_page=True)


class RowspanSite(DirectorySite):
    """(c) an old EUC-KR page: one table, the department cell spans the department's rows on the page."""

    def start_paths(self):
        return [f"{self.site.prefix}/jikwon/list.asp?page=1"]

    def route(self, req: Request, traps):
        if req.path != f"{self.site.prefix}/jikwon/list.asp":
            return None
        page, size = req.number("page"), self.site.page_size
        last = page_count(self.plan.size, size)
        chunk = self.page_rows(page, size)
        rows = []
        for i, p in enumerate(chunk):
            cells = f'<td>{esc(p.position)}</td><td>{esc(p.name)}</td><td>{esc(p.phone)}</td><td align="left">{esc(p.duties)}</td>'
            if i == 0 or chunk[i - 1].department != p.department:
                span = 1
                while i + span < len(chunk) and chunk[i + span].department == p.department:
                    span += 1
                cells = f'<td rowspan="{span}" class="buseo">{esc(p.department)}</td>' + cells
            rows.append(f"<tr>{cells}</tr>")
        nav = ['<a href="list.asp?page=1" class="first">[처음]</a>']
        nav += [f"<b>[{n}]</b>" if n == page else f'<a href="list.asp?page={n}">[{n}]</a>' for n in block(page, last)]
        nav.append(f'<a href="list.asp?page={last}" class="end">[끝]</a>')
        content = ('<table width="100%" border="0" cellpadding="0" cellspacing="0"><tr><td class="title">'
                   '<img src="/images/sub/tit_jikwon.gif" alt="직원안내"> 직원안내</td></tr></table>\n'
                   '<table width="100%" border="1" cellspacing="0" cellpadding="3" class="tbl_jikwon" summary="부서별 직원 안내">\n'
                   '<tr bgcolor="#EFEFEF"><th width="16%">부서</th><th width="9%">직위</th><th width="9%">성명</th>'
                   '<th width="14%">전화번호</th><th>담당업무</th></tr>\n' + "\n".join(rows) + "\n</table>\n"
                   f'<div class="page_nav" align="center">{" ".join(nav)}</div>')
        return Page(self.shell("직원안내", content), list_page=True)


class MaskedCardsSite(DirectorySite):
    """(d) cards (ul/li) with masked names (홍*동), GET paging with a 'next' button."""

    shows = ("department", "team", "position", "name", "phone", "duties")

    def start_paths(self):
        return [f"{self.site.prefix}/contents/staff.do?page=1"]

    def route(self, req: Request, traps):
        if req.path != f"{self.site.prefix}/contents/staff.do":
            return None
        page, size = req.number("page"), self.site.page_size
        last = page_count(self.plan.size, size)
        cards = "\n".join(
            f'<li class="card"><div class="card_head"><span class="dept">{esc(p.department)}</span> '
            f'<span class="team">{esc(p.team)}</span></div>'
            f'<p class="name"><strong>{esc(p.name)}</strong> <em class="position">{esc(p.position)}</em></p>'
            f'<p class="task">{esc(p.duties)}</p>'
            f'<p class="tel"><a href="tel:{esc(p.phone.replace("-", ""))}">{esc(p.phone)}</a></p></li>'
            for p in self.page_rows(page, size))
        if not cards:
            cards = '<li class="no_data">검색된 직원이 없습니다.</li>'
        nav = ['<a href="?page=1" class="btn_first">처음</a>', f'<a href="?page={max(1, page - 1)}" class="btn_prev">이전</a>',
               '<span class="num">']
        nav += [f"<strong>{n}</strong>" if n == page else f'<a href="?page={n}">{n}</a>' for n in block(page, last, 5)]
        nav.append("</span>")
        if page < last:
            nav.append(f'<a href="?page={page + 1}" class="btn_next">다음</a>')
        nav.append(f'<a href="?page={last}" class="btn_last">마지막</a>')
        content = (f'<h3 class="tit">직원찾기</h3>\n<p class="info_txt">개인정보 보호를 위해 성명의 일부를 가려 표시합니다.</p>\n'
                   f'<ul class="staff_card">\n{cards}\n</ul>\n<div class="pagination">{"".join(nav)}</div>')
        return Page(self.shell("직원찾기", content), list_page=True)


FAMILIES = {"staff_table": StaffTableSite, "org_tree": OrgTreeSite,
            "euckr_rowspan": RowspanSite, "masked_cards": MaskedCardsSite}

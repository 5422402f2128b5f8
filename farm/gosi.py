"""The 고시공고 board of issue 15: a POST list (fn_egov_link_page(N) and its form) also linked by GET,
columns known by their headers (고시공고번호, 조회수), pinned 공지 rows, fn_view('menu','id') links and a
th/td detail table with 담당자 and attachments as download links."""
from __future__ import annotations

from farm.board import BoardSite
from farm.board_pages import paragraphs, trap_anchors
from farm.content import Post
from farm.directory import block
from farm.site import Page, Request, esc


class GosiBoard(BoardSite):
    pins = True

    @property
    def list_path(self) -> str:
        return f"{self.site.prefix}/gosi/gosiList.do"

    def start_paths(self):
        return [f"{self.list_path}?menuNo={self.site.menu_id}"]

    def detail_path(self, post):
        return f"{self.site.prefix}/gosi/gosiView.do?menuNo={self.site.menu_id}&nttId={post.post_id}"

    def file_path(self, post: Post, number: int) -> str:
        return f"{self.site.prefix}/gosi/download.do?nttId={post.post_id}&fileSn={number}"

    def number(self, post: Post) -> str:
        return f"제{post.date.year}-{post.post_id % 1000}호"

    def extra(self, post: Post) -> dict:
        return {"공고번호": self.number(post), "조회수": str(self.hits(post)), "담당자": self.author(post)}

    def route(self, req: Request, traps):
        if req.param("menuNo") != self.site.menu_id and not req.path.endswith("download.do"):
            return None
        if req.path == self.list_path:
            return self.list_page(req.number("pageIndex"), traps)
        if req.path == f"{self.site.prefix}/gosi/gosiView.do":
            post = self.find(req.param("nttId"))
            return self.detail_page(post) if post else None
        if req.path == f"{self.site.prefix}/gosi/download.do":
            return self.file_response(self.find(req.param("nttId")), req.param("fileSn"))
        return None

    def row(self, number, post: Post) -> str:
        num = '<span class="ico_notice">공지</span>' if number is None else str(number)
        return (f'<tr><td>{num}</td><td>{esc(self.number(post))}</td><td class="tl"><a href="#none" '
                f'onclick="fn_view(\'{self.site.menu_id}\',\'{post.post_id}\'); return false;">{esc(post.title)}</a></td>'
                f'<td>{esc(post.department)}</td><td>{esc(self.date(post))}</td><td>{self.hits(post)}</td></tr>')

    def list_page(self, page: int, traps) -> Page:
        rows, pinned, last, total = self.page(page)
        body = [self.row(None, p) for p in pinned] + [self.row(n, p) for n, p in rows]
        if not rows:
            body.append('<tr><td colspan="6">등록된 게시물이 없습니다.</td></tr>')
        link = lambda n, text, cls="": (f'<a href="#none"{f" class={chr(34)}{cls}{chr(34)}" if cls else ""} '
                                        f'onclick="fn_egov_link_page({n}); return false;">{text}</a>')
        nav = [link(1, "처음", "first")] + [f"<strong>{n}</strong>" if n == page else link(n, str(n))
                                            for n in block(page, last)] + [link(last, "끝", "last")]
        menu = self.site.menu_id
        content = (
            f'<ul class="tab_menu"><li class="on"><a href="gosiList.do?menuNo={menu}">전체</a></li></ul>\n'
            f'<p class="bbs_total">총 게시물 <strong>{total}</strong>건, 페이지 {page}/{last}</p>\n'
            f'<table class="bbs_default"><caption>{self.title()} 목록</caption><thead><tr><th scope="col">번호</th>'
            '<th scope="col">고시공고번호</th><th scope="col">제목</th><th scope="col">담당부서</th><th scope="col">등록일</th>'
            '<th scope="col">조회수</th></tr></thead>\n<tbody>\n' + "\n".join(body) + '\n</tbody></table>\n'
            f'<div class="paging">{"".join(nav)}{trap_anchors(traps)}</div>\n'
            f'<form name="listForm" id="listForm" method="post" action="gosiList.do?menuNo={menu}">'
            f'<input type="hidden" name="pageIndex" value="{page}"><input type="hidden" name="searchCnd" value="">'
            '<input type="hidden" name="searchWrd" value=""></form>\n'
            '<script>function fn_egov_link_page(pageNo){document.listForm.pageIndex.value=pageNo;'
            'document.listForm.submit();}\n'
            'function fn_view(menu,id){location.href="gosiView.do?menuNo="+menu+"&nttId="+id;}</script>')
        return Page(self.shell(self.title(), content), list_page=True)

    def detail_page(self, post: Post) -> Page:
        files = "<br>".join(f'<a href="{esc(self.file_path(post, k))}">{esc(name)}</a>' for k, name in enumerate(post.attachments))
        content = (
            f'<table class="bbs_view"><caption>{self.title()} 상세</caption>'
            f'<tr><th scope="row">제목</th><td colspan="3">{esc(post.title)}</td></tr>'
            f'<tr><th scope="row">고시공고번호</th><td>{esc(self.number(post))}</td><th scope="row">담당부서</th>'
            f'<td>{esc(post.department)}</td></tr>'
            f'<tr><th scope="row">담당자</th><td>{esc(self.author(post))}</td><th scope="row">등록일</th>'
            f'<td>{esc(self.date(post))}</td></tr>'
            f'<tr><th scope="row">첨부파일</th><td colspan="3">{files}</td></tr></table>\n'
            f'<div class="bbs_cont">\n{paragraphs(post)}\n</div>')
        return Page(self.shell(post.title, content))


FAMILIES = {"gosi": GosiBoard}

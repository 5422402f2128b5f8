"""Board layout families: eGovFrame GET and POST boards, the korea.kr list, the gyeongbuk report list."""
from __future__ import annotations

from farm.board import BoardSite
from farm.content import Post
from farm.directory import block
from farm.site import Page, Request, esc


def paragraphs(post: Post) -> str:
    return "\n".join(f"<p>{esc(p)}</p>" for p in post.paragraphs)


def trap_anchors(traps) -> str:
    return "".join(f'<a href="{esc(h)}" class="related">{esc(t)}</a>' for h, t in traps)


class EgovBoard(BoardSite):
    """eGovFrame `selectBoardList.do?bbsId=…&pageIndex=N`, pinned 공지 rows; links by href or fn_view('nttId')."""

    pins = True

    def start_paths(self):
        return [self.list_url(1)]

    def list_url(self, page: int) -> str:
        return f"{self.site.prefix}/selectBoardList.do?bbsId={self.site.bbs_id}&pageIndex={page}"

    def detail_path(self, post):
        return f"{self.site.prefix}/selectBoardArticle.do?bbsId={self.site.bbs_id}&nttId={post.post_id}"

    def anchor(self, post: Post) -> str:
        if self.site.link == "onclick":
            return f'<a href="#none" onclick="fn_view(\'{post.post_id}\'); return false;">{esc(post.title)}</a>'
        return f'<a href="selectBoardArticle.do?bbsId={self.site.bbs_id}&amp;nttId={post.post_id}">{esc(post.title)}</a>'

    def row(self, number, post: Post) -> str:
        num = '<span class="ico_notice">공지</span>' if number is None else str(number)
        clip = '<img src="/images/egovframework/cmmn/icon_file.gif" alt="첨부파일 있음">' if post.attachments else ""
        cls = ' class="notice"' if number is None else ""
        return (f'<tr{cls}><td class="num">{num}</td>'
                f'<td class="subject">{self.anchor(post)}</td><td class="dept">{esc(post.department)}</td>'
                f'<td class="date">{esc(self.date(post))}</td><td class="file">{clip}</td><td class="hit">{self.hits(post)}</td></tr>')

    def route(self, req: Request, traps):
        prefix = self.site.prefix
        if req.param("bbsId") != self.site.bbs_id and not req.path.endswith("FileDown.do"):
            return None
        if req.path == f"{prefix}/selectBoardList.do":
            return self.list_page(req.number("pageIndex"), traps)
        if req.path == f"{prefix}/selectBoardArticle.do":
            post = self.find(req.param("nttId"))
            return self.detail_page(post) if post else None
        if req.path == f"{prefix}/cmm/fms/FileDown.do":
            return self.file_response(self.find(req.param("atchFileId").removeprefix("FILE_").lstrip("0")), req.param("fileSn"))
        return None

    def list_page(self, page: int, traps) -> Page:
        rows, pinned, last, total = self.page(page)
        body = [self.row(None, p) for p in pinned] + [self.row(n, p) for n, p in rows]
        if not rows:
            body.append('<tr><td colspan="6" class="no_data">등록된 게시물이 없습니다.</td></tr>')
        link = lambda n, text, cls="": (f'<a href="selectBoardList.do?bbsId={self.site.bbs_id}&amp;pageIndex={n}"'
                                        f'{f" class={chr(34)}{cls}{chr(34)}" if cls else ""}>{text}</a>')
        nav = [link(1, "처음", "first")] + ([link(page - 1, "이전", "prev")] if page > 1 else [])
        nav += [f"<strong>{n}</strong>" if n == page else link(n, str(n)) for n in block(page, last)]
        nav += ([link(page + 1, "다음", "next")] if page < last else []) + [link(last, "마지막", "last")]
        content = (
            f'<h3 class="tit">{self.title()}</h3>\n<div class="board_search"><form name="searchForm" method="get" action="selectBoardList.do">'
            f'<input type="hidden" name="bbsId" value="{self.site.bbs_id}"><input type="hidden" name="pageIndex" value="1">'
            f'<select name="searchCnd" title="검색조건"><option value="0">제목</option><option value="1">내용</option></select>'
            f'<input type="text" name="searchWrd" title="검색어"><button type="submit">검색</button></form></div>\n'
            f'<p class="total">전체 <strong>{total}</strong>건, 현재 페이지 <strong>{page}</strong>/{last}</p>\n'
            f'<table class="board_list"><caption>{self.title()} 목록 - 번호, 제목, 담당부서, 등록일, 첨부, 조회수</caption>\n'
            f'<thead><tr><th scope="col">번호</th><th scope="col">제목</th><th scope="col">담당부서</th><th scope="col">등록일</th>'
            f'<th scope="col">첨부</th><th scope="col">조회수</th></tr></thead>\n<tbody>\n' + "\n".join(body) + "\n</tbody></table>\n"
            f'<div class="paging">{"".join(nav)}{trap_anchors(traps)}</div>\n'
            f'<script>function fn_view(nttId){{location.href="selectBoardArticle.do?bbsId={self.site.bbs_id}&nttId="+nttId;}}</script>')
        return Page(self.shell(self.title(), content), list_page=True)

    def file_path(self, post: Post, number: int) -> str:
        return f"{self.site.prefix}/cmm/fms/FileDown.do?atchFileId=FILE_{post.post_id:012d}&fileSn={number}"

    def detail_page(self, post: Post) -> Page:
        files = "".join(
            f'<li><a class="down" href="{esc(self.file_path(post, k))}">'
            f'{esc(name)}</a> <span class="size">[{(post.post_id * (k + 3)) % 900 + 20}KB]</span> '
            f'<a class="preview" href="#none">미리보기</a></li>' for k, name in enumerate(post.attachments))
        content = (
            f'<h3 class="tit">{self.title()}</h3>\n<div class="board_view"><h4 class="view_title">{esc(post.title)}</h4>\n'
            f'<dl class="view_info"><dt>담당부서</dt><dd class="dept">{esc(post.department)}</dd><dt>연락처</dt>'
            f'<dd class="tel">{esc(post.phone)}</dd><dt>등록일</dt><dd class="date">{esc(self.date(post))}</dd>'
            f'<dt>조회수</dt><dd class="hit">{self.hits(post)}</dd></dl>\n'
            f'<div class="view_content">\n{paragraphs(post)}\n</div>\n'
            f'<div class="file_area"><strong class="file_tit">첨부파일</strong><ul class="file_list">{files}</ul></div>\n'
            f'<div class="btn_area"><a href="selectBoardList.do?bbsId={self.site.bbs_id}&amp;pageIndex=1" class="btn_list">목록</a></div></div>')
        return Page(self.shell(post.title, content))


class EgovPostBoard(BoardSite):
    """Daejeon-style eGovFrame board: pages only by POST (hidden pageIndex, fn_link_page(N)); fn_view links."""

    pins = True

    @property
    def list_path(self) -> str:
        return f"{self.site.prefix}/board/boardList.do"

    def start_paths(self):
        return [f"{self.list_path}?boardId={self.site.bbs_id}&menuSeq={self.site.menu_id}"]

    def detail_path(self, post):
        return f"{self.site.prefix}/board/boardView.do?boardId={self.site.bbs_id}&dataSid={post.post_id}"

    def route(self, req: Request, traps):
        if req.param("boardId") != self.site.bbs_id:
            return None
        if req.path == self.list_path:
            return self.list_page(req.number("pageIndex") if req.method == "POST" else 1, traps)
        if req.path == f"{self.site.prefix}/board/boardView.do":
            post = self.find(req.param("dataSid"))
            return self.detail_page(post) if post else None
        if req.path == f"{self.site.prefix}/board/fileDown.do":
            return self.file_response(self.find(req.param("dataSid")), req.param("fileSn"))
        return None

    def row(self, number, post: Post) -> str:
        num = '<img src="/images/common/icon_notice.gif" alt="공지"> 공지' if number is None else str(number)
        cls = ' class="notice"' if number is None else ""
        return (f'<tr{cls}><td class="lnone">{num}</td>'
                f'<td class="al_left"><a href="#this" onclick="fn_view(\'{post.post_id}\'); return false;">{esc(post.title)}</a></td>'
                f'<td class="dept">{esc(post.department)}</td><td class="date">{esc(self.date(post))}</td><td>{self.hits(post)}</td></tr>')

    def list_page(self, page: int, traps) -> Page:
        rows, pinned, last, total = self.page(page)
        body = [self.row(None, p) for p in pinned] + [self.row(n, p) for n, p in rows]
        if not rows:
            body.append('<tr><td colspan="5">등록된 게시물이 없습니다.</td></tr>')
        link = lambda n, inner, cls="": (f'<a{f" class={chr(34)}{cls}{chr(34)}" if cls else ""} href="#this" '
                                         f'onclick="fn_link_page({n}); return false;">{inner}</a>')
        pages = block(page, last)
        nav = [link(1, '<img src="/images/common/page_01.gif" alt="처음 페이지로">', "direction first"),
               link(max(1, pages.start - 1), '<img src="/images/common/page_02.gif" alt="이전 페이지로">', "direction prev")]
        nav += [f"<strong>{n}</strong>" if n == page else link(n, str(n)) for n in pages]
        nav += [link(min(last, pages.stop), '<img src="/images/common/page_03.gif" alt="다음 페이지로">', "direction next"),
                link(last, '<img src="/images/common/page_04.gif" alt="끝 페이지로">', "direction end")]
        action = esc(self.start_paths()[0])
        content = (
            f'<div id="new_bbs"><p class="total_counter">총 <strong>{total}</strong>건&nbsp;|&nbsp;<strong>{page}/{last}</strong> 페이지</p>\n'
            f'<div class="board_search"><form id="searchForm" name="searchForm" method="post" action="{action}">'
            f'<input type="hidden" name="pageIndex" value="{page}"><input type="hidden" name="menuSeq" value="{self.site.menu_id}">'
            f'<fieldset><legend>게시판 검색</legend><select name="searchCondition" title="검색대상"><option value="all">전체</option>'
            f'<option value="title">제목</option><option value="deptNm">담당부서</option></select>'
            f'<input type="text" name="searchKeyword" class="search_input" title="검색어를 입력하세요" value="">'
            f'<input type="submit" value="검색"></fieldset></form></div>\n'
            f'<table class="board_table_list"><caption>{self.title()} (목록화면) - 번호, 제목, 담당부서, 등록일, 조회수</caption>\n'
            f'<thead><tr><th scope="col" class="lnone">번호</th><th scope="col">제목</th><th scope="col">담당부서</th>'
            f'<th scope="col">등록일</th><th scope="col">조회수</th></tr></thead>\n<tbody>\n' + "\n".join(body) + "\n</tbody></table>\n"
            f'<div class="paging"><div class="boardbtn"><div class="pagination">{"".join(nav)}</div></div>{trap_anchors(traps)}</div>\n'
            f'<div style="display: none;"><form id="pageForm" name="pageForm" method="post" action="{action}">'
            f'<input type="hidden" name="pageIndex" value=""><input type="hidden" name="searchCondition" value="">'
            f'<input type="hidden" name="searchKeyword" value=""></form></div></div>\n'
            '<script>function fn_link_page(n){var f=document.pageForm;f.pageIndex.value=n;f.submit();}\n'
            f'function fn_view(id){{location.href="boardView.do?boardId={self.site.bbs_id}&dataSid="+id;}}</script>')
        return Page(self.shell(self.title(), content), list_page=True)

    def file_path(self, post: Post, number: int) -> str:
        return f"{self.site.prefix}/board/fileDown.do?boardId={self.site.bbs_id}&dataSid={post.post_id}&fileSn={number}"

    def detail_page(self, post: Post) -> Page:
        files = "".join(f'<li><a class="file" href="{esc(self.file_path(post, k))}">{esc(name)}</a></li>'
                        for k, name in enumerate(post.attachments))
        content = (
            f'<div class="bbs_view"><h4 class="subject">{esc(post.title)}</h4>\n<ul class="info">'
            f'<li><span class="tit">담당부서</span> <span class="dept">{esc(post.department)}</span></li>'
            f'<li><span class="tit">등록일</span> <span class="date">{esc(self.date(post))}</span></li>'
            f'<li><span class="tit">조회수</span> {self.hits(post)}</li></ul>\n'
            f'<div class="attach"><span class="tit">첨부파일</span><ul>{files}</ul></div>\n'
            f'<div class="bbs_content">\n{paragraphs(post)}\n</div></div>')
        return Page(self.shell(post.title, content))


class BriefingBoard(BoardSite):
    """korea.kr (정책브리핑) press-release list: ul/li with title, date and ministry; pageLink(N) = GET pageIndex."""

    def start_paths(self):
        return [f"{self.site.prefix}/briefing/pressReleaseList.do?pageIndex=1"]

    def detail_path(self, post):
        return f"{self.site.prefix}/briefing/pressReleaseView.do?newsId={post.post_id}"

    def route(self, req: Request, traps):
        prefix = self.site.prefix
        if req.path == f"{prefix}/briefing/pressReleaseList.do":
            return self.list_page(req.number("pageIndex"), traps)
        if req.path == f"{prefix}/briefing/pressReleaseView.do":
            post = self.find(req.param("newsId"))
            return self.detail_page(post) if post else None
        if req.path == f"{prefix}/common/download.do":
            return self.file_response(self.find(req.param("fileId")), req.param("fileSn"))
        return None

    def list_page(self, page: int, traps) -> Page:
        rows, _, last, total = self.page(page)
        items = "\n".join(
            f'<li><a href="{self.detail_path(p)}"><span class="text"><strong>{esc(p.title)}</strong>'
            f'<span class="lead is-truncated">{esc(self.summary(p))}</span><span class="source">'
            f'<span>{esc(self.date(p))}</span><span>{esc(p.department)}</span></span></span></a></li>' for _, p in rows)
        link = lambda n, inner, cls="": (f'<a{f" class={chr(34)}{cls}{chr(34)}" if cls else ""} href="#pageLink" '
                                         f'onclick="pageLink({n}); return false;">{inner}</a>')
        nav = [link(1, '<span class="sr-only">첫 페이지로 이동</span>', "first"),
               link(max(1, page - 1), '<span class="sr-only">이전페이지로 이동</span>', "prev")]
        nav += [f'<span class="num on"><a href="#pageLink" onclick="return false;" class="on">{n}</a></span>' if n == page
                else f'<span class="num">{link(n, str(n))}</span>' for n in block(page, last)]
        nav += [link(min(last, page + 1), '<span class="sr-only">다음페이지로 이동</span>', "next"),
                link(last, '<span class="sr-only">마지막 페이지로 이동</span>', "last")]
        content = (
            f'<div class="result_count">전체 <strong>{total}</strong>건</div>\n<div class="list_type"><ul>\n{items}\n</ul></div>\n'
            f'<div class="paging">{"".join(nav)}{trap_anchors(traps)}</div>\n'
            f'<form name="pageForm" method="get" action="pressReleaseList.do"><input type="hidden" name="pageIndex" value="{page}"></form>\n'
            '<script>function pageLink(n){document.pageForm.pageIndex.value=n;document.pageForm.submit();}</script>')
        return Page(self.shell("보도자료 | 브리핑룸", content), list_page=True)

    def file_path(self, post: Post, number: int) -> str:
        return f"{self.site.prefix}/common/download.do?fileId={post.post_id}&tblKey=GMN&fileSn={number}"

    def detail_page(self, post: Post) -> Page:
        files = "".join(f'<li><a class="file" href="{esc(self.file_path(post, k))}">{esc(name)}</a> '
                        f'<a class="view" href="#">바로보기</a></li>' for k, name in enumerate(post.attachments))
        content = (
            f'<div class="article_head"><h1>{esc(post.title)}</h1><div class="info"><span class="date">{esc(self.date(post))}</span>'
            f'<span class="ministry">{esc(post.department)}</span></div></div>\n'
            f'<div class="article_body"><div class="view_cont">\n{paragraphs(post)}\n</div></div>\n'
            f'<div class="filedown"><dl><dt>첨부파일</dt><dd><ul>{files}</ul></dd></dl></div>')
        return Page(self.shell(post.title, content))


class ReportBoard(BoardSite):
    """경상북도 보도자료 style: ul.report_list cards, `Start=` offset page links in blocks of five."""

    def url(self, cmd: int, **params) -> str:
        extra = "".join(f"&{k}={v}" for k, v in params.items())
        return f"{self.site.prefix}/Main/page.do?mnu_uid={self.site.menu_id}&BD_CODE={self.site.bbs_id}&cmd={cmd}{extra}"

    def start_paths(self):
        return [self.url(1, Start=0)]

    def detail_path(self, post):
        return self.url(2, B_NUM=post.post_id)

    def route(self, req: Request, traps):
        prefix = self.site.prefix
        if req.path == f"{prefix}/Common/board_egov/download.jsp":
            step = req.param("B_STEP")
            return self.file_response(self.find(str(int(step) + 1)) if step.isdigit() else None, req.param("B_ORDER"))
        if req.path != f"{prefix}/Main/page.do" or req.param("BD_CODE") != self.site.bbs_id:
            return None
        if req.param("cmd") == "2":
            post = self.find(req.param("B_NUM"))
            return self.detail_page(post) if post else None
        start = req.number("Start", 0)
        return self.list_page(start // self.site.page_size + 1, traps)

    def list_page(self, page: int, traps) -> Page:
        rows, _, last, total = self.page(page)
        href = lambda post: "." + self.detail_path(post)[len(self.site.prefix) + len("/Main"):].replace("&", "&amp;")
        items = "\n".join(
            f'<li><a href="{href(p)}" title="{esc(p.title)}"><div class="report_img no_img"><img src="/Main/Images/new/ko/board/bodo_img.gif" '
            f'alt="{esc(self.site.organization)}"></div></a><div class="report_cont"><div class="subject"><p>'
            f'<a href="{href(p)}" title="{esc(p.title)}">{esc(p.title)}</a></p></div>'
            f'<div class="classify"><span>{esc(p.department)}</span> ｜ <span>{esc(p.phone)}</span> ｜ <span>{esc(self.date(p))}</span></div>'
            f'<div class="cont">{esc(self.summary(p))}</div></div></li>' for _, p in rows)
        size = self.site.page_size
        link = lambda n, text, cls="": (f'<a href="page.do?mnu_uid={self.site.menu_id}&amp;BD_CODE={self.site.bbs_id}&amp;cmd=1'
                                        f'&amp;Start={(n - 1) * size}" title="{n}페이지로 이동합니다."'
                                        f'{f" class={chr(34)}{cls}{chr(34)}" if cls else ""}>{text}</a>')
        pages = block(page, last, 5)
        nav = ([link(1, "<span>처음</span>", "page_prevend"), link(pages.start - 1, "<span>이전</span>", "page_prev")]
               if pages.start > 1 else [])
        nav += [f'<strong title="현재 페이지">{n}</strong>' if n == page else link(n, str(n), "c_over") for n in pages]
        if pages.stop <= last:
            nav += [link(pages.stop, "<span>다음</span>", "page_next"), link(last, "<span>마지막</span>", "page_nextend")]
        content = (
            f'<div class="bodlist_wrap"><p class="total">총 {total}건</p>\n<div class="report"><ul class="report_list">\n{items}\n</ul></div>\n'
            f'<div class="paging">{"&nbsp;".join(nav)}{"".join(f"&nbsp;{a}" for a in [trap_anchors(traps)] if a)}</div></div>')
        return Page(self.shell(f"{self.title()}>{self.site.organization}", content), list_page=True)

    def file_path(self, post: Post, number: int) -> str:
        return f"{self.site.prefix}/Common/board_egov/download.jsp?B_STEP={post.post_id - 1}&B_ORDER={number}"

    def detail_page(self, post: Post) -> Page:
        files = "".join(f'<a href="{esc(self.file_path(post, k))}" '
                        f'class="link_no" title="선택한 파일을 다운로드 합니다.">{esc(name)}</a>&nbsp;<a href="#" target="_blank">'
                        f'<strong>[미리보기]</strong></a><br>' for k, name in enumerate(post.attachments))
        body = "\n<br>\n<br>".join(esc(p) for p in post.paragraphs)
        content = (
            f'<div class="report_view"><div class="reportview_cont"><div class="subject">{esc(post.title)}</div>\n'
            f'<div class="classify_list"><dl><dt><span>부서명</span></dt><dd class="dept">{esc(post.department)}</dd>'
            f'<dt><span>전화번호</span></dt><dd>{esc(post.phone)}</dd></dl></div>\n'
            f'<div class="classify_list"><dl><dt><span>작성자</span></dt><dd>{esc(self.author(post))}</dd>'
            f'<dt><span>작성일</span></dt><dd class="date">{post.date:%Y-%m-%d %H:%M}:00</dd><dt><span>조회수</span></dt>'
            f'<dd>{self.hits(post)}</dd></dl></div>\n'
            f'<div class="classify_list files"><dl><dt><span>첨부파일</span></dt><dd>{files}</dd></dl></div></div>\n'
            f'<div class="cont_view">\n{body}\n<br>\n</div></div>')
        return Page(self.shell(post.title, content))


FAMILIES = {"egov": EgovBoard, "egov_post": EgovPostBoard, "briefing": BriefingBoard, "report": ReportBoard}

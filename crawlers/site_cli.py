"""The commands for a person writing a site file: `nugo try-site` and `nugo draft-site`."""
from __future__ import annotations

import logging
import sys
from pathlib import Path

logger = logging.getLogger(__name__)


def cmd_try_site(args) -> int:
    from conf.loader import default_variables, load_cluster, load_site
    from crawlers.trysite import try_site

    site = load_site(args.file, default_variables())
    interval = load_cluster(args.conf).default_interval if args.interval is None else args.interval
    problems = try_site(site, sys.stdout, url=args.url, pages=args.pages, details=args.details, interval=interval)
    return 1 if problems else 0


def cmd_draft_site(args) -> int:
    from conf.loader import load_cluster
    from crawlers.draft_run import draft_site
    from crawlers.draft_site import write
    from crawlers.politefetch import PoliteFetcher

    url = args.url
    interval = load_cluster(args.conf).default_interval if args.interval is None else args.interval
    fetcher = PoliteFetcher({"base_url": url, "allow_private_addresses": True}, interval=interval)
    try:
        draft = draft_site(url, fetcher)
    except (OSError, ValueError) as exc:
        print(f"초안을 만들지 못했습니다 / could not draft: {exc}", file=sys.stderr)
        return 1
    out = Path(args.output or f"{args.site_id or 'draft-site'}.yaml")
    problems = write(draft, out)
    if problems:
        print("초안이 설정 검사를 통과하지 못했습니다 / the draft does not validate:", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    for note in draft.notes:
        print(f"- {note}")
    print(f"초안을 썼습니다: {out} (verified: false, 요청 {len(fetcher.log)}건). "
          f"확인: python3 -m workers.cli try-site {out} --pages 2")
    return 0


def add_commands(sub) -> None:
    """Register try-site and draft-site on the `nugo` subparsers."""
    p = sub.add_parser("try-site", help="사이트 파일로 1~N쪽을 실제로 읽어 추출 결과를 표로 보기 (robots.txt·간격 준수)")
    p.add_argument("file", help="사이트 YAML 파일")
    p.add_argument("--url", help="시작 주소 대신 읽을 목록 주소")
    p.add_argument("--pages", type=int, default=1, help="읽을 목록 쪽 수 (기본 1)")
    p.add_argument("--details", type=int, default=1, help="읽을 상세 페이지 수 (게시판, 기본 1)")
    p.add_argument("--interval", type=float, default=None, help="요청 간격(초, 기본: 사이트 또는 cluster.yaml)")
    p.set_defaults(func=cmd_try_site)

    p = sub.add_parser("draft-site", help="목록 한 쪽을 읽고 사이트 YAML 초안 만들기 (verified: false)")
    p.add_argument("url", help="직원 명부 또는 게시판 목록 주소")
    p.add_argument("-o", "--output", help="쓸 파일 (기본: SITE_ID.yaml)")
    p.add_argument("--site-id", help="사이트 id (파일 이름, 소문자·숫자·-)")
    p.add_argument("--interval", type=float, default=None, help="요청 간격(초)")
    p.set_defaults(func=cmd_draft_site)

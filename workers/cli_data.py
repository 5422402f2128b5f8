"""`nugo` commands over the index and the alerts: index (and --rebuild), search, feeds, digest."""
from __future__ import annotations

import sys


def cmd_index(args) -> int:
    from conf.loader import load_cluster
    from workers.indexer import run_indexer

    cluster = load_cluster(args.conf)
    if args.rebuild:
        from index.rebuild import rebuild
        from index.store import IndexerBusy

        try:
            done = rebuild(cluster.index_dir, lock_wait=120, progress=lambda line: print(line, flush=True))
        except IndexerBusy as exc:
            print(f"색인기가 쓰는 중이라 다시 만들 수 없습니다 (2분 기다림) / {exc}", file=sys.stderr)
            return 1
        print(f"다시 만듦: 직원 스냅샷 {done.snapshots}개 ({done.staff_rows:,}명) · 게시글 {done.posts:,}건")
        return 0
    if not args.once:
        print("색인기 실행 중 (Ctrl+C로 멈춤)", flush=True)
    try:
        stats = run_indexer(cluster, once=args.once)
    except KeyboardInterrupt:
        return 0
    print(f"색인 완료: 직원 {stats.staff:,}건 · 게시글 {stats.posts:,}건 · 크롤 종료 {stats.runs}건 "
          f"(교체 {stats.swapped}, 보류 {stats.dropped}) · {stats.seconds:.1f}초")
    return 0


def cmd_search(args) -> int:
    from conf.loader import load_cluster
    from index.cli_search import format_table
    from index.search import StaffSearcher

    cluster = load_cluster(args.conf)
    path = cluster.index_dir
    if not path.exists():
        print("아직 색인이 없습니다. 먼저 `nugo crawl`과 `nugo index --once`를 실행하세요.", file=sys.stderr)
        return 1
    if args.posts:
        from index.cli_search import format_posts
        from index.post_search import PostSearcher

        results = PostSearcher(path).search(" ".join(args.query), region=args.region, page=args.page,
                                            per_page=args.per_page)
        if results.error:
            print(results.error, file=sys.stderr)
            return 2
        print(format_posts(results))
        return 0 if results.total else 1
    results = StaffSearcher(path).search(" ".join(args.query), region=args.region, organization=args.organization,
                                         page=args.page, per_page=args.per_page)
    print(format_table(results))
    return 0 if results.total else 1


def cmd_feeds(args) -> int:
    from conf.connection import redis_client
    from conf.loader import load_cluster
    from notifier.feed import write_static_feeds
    from notifier.subscription import load_subscriptions

    cluster = load_cluster(args.conf)
    officials = load_subscriptions(cluster.subscriptions_path)
    written = write_static_feeds(args.dir, redis_client(cluster), cluster.key_prefix, officials,
                                 base_url=cluster.public_url)
    print(f"피드 파일 {len(written)}개를 새로 썼습니다 ({args.dir}, 구독자 {len(officials)}명).")
    return 0


def cmd_digest(args) -> int:
    from conf.connection import redis_client
    from conf.loader import load_cluster
    from notifier.digest import send_digests
    from notifier.mail import Mailer
    from notifier.store import AlertStore
    from notifier.subscription import load_subscriptions

    cluster = load_cluster(args.conf)
    officials = load_subscriptions(cluster.subscriptions_path)
    with Mailer(cluster) as mailer:
        report = send_digests(AlertStore(redis_client(cluster), cluster.key_prefix), officials, mailer, args.period)
    print(f"요약 메일 {sum(1 for n in report.sent.values() if n)}통 발송 (게시글 {sum(report.sent.values())}건).")
    for official, reason in report.failed.items():
        print(f"  실패 {official}: {reason} (다음 요약 때 다시 보냅니다)", file=sys.stderr)
    return 1 if report.failed else 0


def add_commands(sub) -> None:
    p = sub.add_parser("index", help="색인기: 수집 항목을 색인하고 새 게시글을 구독과 맞춰 봄 (클러스터에 하나만)")
    p.add_argument("--once", action="store_true", help="쌓인 항목만 색인하고 종료")
    p.add_argument("--rebuild", action="store_true",
                   help="검색용 파일(직원 스냅샷, 게시글 세그먼트)을 Whoosh 원본에서 다시 만듦 (색인기가 쉬는 틈에)")
    p.set_defaults(func=cmd_index)

    p = sub.add_parser("search", help="직원 검색 (예: nugo search 드론, nugo search 청년 일자리) · --posts 게시글 검색")
    p.add_argument("query", nargs="+", help="검색어 (여러 낱말은 모두 포함)")
    p.add_argument("--region", help="지역 (서울, 경남 …)")
    p.add_argument("--organization", help="기관 (경상남도 …)")
    p.add_argument("--page", type=int, default=1)
    p.add_argument("--per-page", type=int, default=50)
    p.add_argument("--posts", action="store_true",
                   help='게시글 검색 (검색어 규칙: 낱말 AND, "붙은 말", OR, -빼기, 제목:/본문:/부서:)')
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("feeds", help="모든 구독자의 개인 피드를 정적 파일로 쓰기 (다른 웹 서버용)")
    p.add_argument("dir", help="피드 파일을 쓸 폴더")
    p.set_defaults(func=cmd_feeds)

    p = sub.add_parser("digest", help="새 알림 요약 메일 발송 (이메일이 있는 구독자, 같은 글은 다시 보내지 않음)")
    p.add_argument("--period", default="오늘", help="메일 제목에 쓸 기간 이름 (기본: 오늘)")
    p.set_defaults(func=cmd_digest)

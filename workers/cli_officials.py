"""`nugo officials`, `nugo official add|show|rotate-token` and `nugo export`: the administrators' commands."""
from __future__ import annotations

import csv
import io
import json
import sys


def _context(args):
    from conf.connection import redis_client
    from conf.loader import load_cluster
    from notifier.subscription import load_subscriptions

    cluster = load_cluster(args.conf)
    path = cluster.subscriptions_path
    officials = load_subscriptions(path) if path.exists() else []
    return cluster, redis_client(cluster), officials


def _urls(cluster, client, official_id: str) -> tuple[str, str]:
    from notifier.tokens import ensure_tokens

    feed = ensure_tokens(client, cluster.key_prefix, [official_id])[official_id]
    page = ensure_tokens(client, cluster.key_prefix, [official_id], kind="me")[official_id]
    return f"{cluster.public_url}/feeds/{feed}.rss", f"{cluster.public_url}/me/{page}"


def cmd_officials(args) -> int:
    cluster, client, officials = _context(args)
    if not officials:
        print("구독자가 없습니다. `nugo official add ID --name 이름 --topic 주제=검색어`로 추가하세요.")
        return 0
    for official in officials:
        feed, page = _urls(cluster, client, official.id)
        print(f"{official.id:<16} {official.name:<12} 주제 {len(official.topics)}개  {official.email or '(메일 없음)'}")
        print(f"{'':<16} 피드 {feed}\n{'':<16} 개인 페이지 {page}")
    return 0


def cmd_official_show(args) -> int:
    from notifier.store import AlertStore

    cluster, client, officials = _context(args)
    official = next((o for o in officials if o.id == args.id), None)
    if official is None:
        print(f"구독자 {args.id!r}을(를) 찾을 수 없습니다 (있는 구독자: {', '.join(o.id for o in officials) or '없음'})",
              file=sys.stderr)
        return 1
    feed, page = _urls(cluster, client, official.id)
    store = AlertStore(client, cluster.key_prefix)
    print(f"{official.name} ({official.id}) — {official.organization or '기관 미지정'} · {official.email or '메일 없음'}")
    print(f"  파일       {official.file}")
    print(f"  피드       {feed}  (Atom: {feed[:-4]}.atom)")
    print(f"  개인 페이지 {page}  (관리 주소: 피드 주소와 달리 주제를 고칠 수 있으니 본인에게만)")
    print(f"  알림       {store.count(official.id):,}건" + (f", 마지막 {store.last_modified(official.id):%Y-%m-%d %H:%M} UTC"
                                                       if store.last_modified(official.id) else ""))
    for topic in official.topics:
        filters = " · ".join(f"{k} {', '.join(sorted(v))}" for k, v in
                             (("사이트", topic.sites), ("지역", topic.regions), ("게시판", topic.board_kinds)) if v)
        print(f"  주제 {topic.name}: {topic.query.source}" + (f"  [{filters}]" if filters else ""))
    return 0


def cmd_official_add(args) -> int:
    from notifier.edit import EditError, add_official

    cluster, client, officials = _context(args)
    topics = []
    for item in args.topic:
        name, sep, query = item.partition("=")
        if not sep or not name.strip() or not query.strip():
            print(f"--topic {item!r}: '주제이름=검색어' 꼴로 적어 주세요 (예: --topic '드론=드론 -채용')", file=sys.stderr)
            return 2
        topics.append((name.strip(), query.strip()))
    try:
        path = add_official(cluster.subscriptions_path, args.id, args.name, topics, email=args.email,
                            organization=args.organization)
    except EditError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    feed, page = _urls(cluster, client, args.id)
    print(f"구독자 {args.id}를 추가했습니다 ({path}).\n  피드 {feed}\n  개인 페이지 {page}")
    return 0


def cmd_official_rotate(args) -> int:
    from notifier.tokens import rotate_token

    cluster, client, officials = _context(args)
    if not any(o.id == args.id for o in officials):
        print(f"구독자 {args.id!r}을(를) 찾을 수 없습니다", file=sys.stderr)
        return 1
    kind = "me" if args.page else "feed"
    rotate_token(client, cluster.key_prefix, args.id, kind=kind)
    feed, page = _urls(cluster, client, args.id)
    what = "개인 페이지" if args.page else "피드"
    print(f"{args.id}의 {what} 주소를 바꿨습니다. 예전 주소는 이제 열리지 않습니다.\n  피드 {feed}\n  개인 페이지 {page}")
    return 0


STAFF_COLUMNS = (("organization", "기관"), ("region", "지역"), ("bureau", "실국"), ("department", "부서"), ("team", "팀"),
                 ("position", "직위"), ("name", "이름"), ("phone", "전화"), ("email", "이메일"), ("duties", "담당업무"),
                 ("url", "출처"), ("site", "사이트"))
POST_COLUMNS = (("organization", "기관"), ("region", "지역"), ("board_kind", "게시판"), ("title", "제목"), ("date", "작성일"),
                ("department", "부서"), ("author", "작성자"), ("body", "본문"), ("url", "주소"), ("first_seen", "처음 수집"),
                ("site", "사이트"), ("id", "id"))


def cmd_export(args) -> int:
    from conf.loader import load_cluster
    from index.export import post_rows, staff_rows

    cluster = load_cluster(args.conf)
    rows = staff_rows(cluster.index_dir) if args.what == "staff" else post_rows(cluster.index_dir)
    columns = STAFF_COLUMNS if args.what == "staff" else POST_COLUMNS
    out = open(args.output, "w", encoding="utf-8-sig" if args.format == "csv" else "utf-8", newline="") \
        if args.output else io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", newline="")
    count = 0
    try:
        if args.format == "csv":  # UTF-8 with a BOM: Excel opens it with the Korean intact
            if not args.output:
                out.write("\ufeff")
            writer = csv.writer(out)
            writer.writerow([label for _, label in columns])
            for row in rows:
                writer.writerow([_cell(row.get(key)) for key, _ in columns])
                count += 1
        else:
            for row in rows:
                out.write(json.dumps({k: v for k, v in row.items() if k != "highlights"}, ensure_ascii=False) + "\n")
                count += 1
    finally:
        out.flush()
        if args.output:
            out.close()
    print(f"{'직원' if args.what == 'staff' else '게시글'} {count:,}건을 내보냈습니다" + (f": {args.output}" if args.output else ""),
          file=sys.stderr)
    return 0


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text  # no formulas from crawled text in Excel


def add_commands(sub) -> None:
    p = sub.add_parser("officials", help="구독자 목록 (피드 주소와 개인 페이지 주소)")
    p.set_defaults(func=cmd_officials)
    official = sub.add_parser("official", help="구독자 하나: 추가·보기·주소 바꾸기")
    osub = official.add_subparsers(dest="official_command", metavar="명령")
    osub.required = True
    p = osub.add_parser("add", help="구독자 추가 (구독 폴더에 파일 하나, 또는 구독 파일에 한 항목)")
    p.add_argument("id", help="구독자 id (영문 소문자·숫자·-)")
    p.add_argument("--name", required=True, help="이름 (예: 김민수 주무관)")
    p.add_argument("--email", help="요약 메일 주소")
    p.add_argument("--organization", help="기관 (예: 경상남도 미래전략과)")
    p.add_argument("--topic", action="append", default=[], metavar="이름=검색어", help="주제 (여러 번 쓸 수 있음)")
    p.set_defaults(func=cmd_official_add)
    p = osub.add_parser("show", help="구독자 정보: 주제, 피드, 개인 페이지, 알림 수")
    p.add_argument("id")
    p.set_defaults(func=cmd_official_show)
    p = osub.add_parser("rotate-token", help="피드 주소(기본) 또는 개인 페이지 주소 바꾸기: 예전 주소는 바로 막힘")
    p.add_argument("id")
    p.add_argument("--page", action="store_true", help="피드 대신 개인 페이지(관리) 주소를 바꿈")
    p.set_defaults(func=cmd_official_rotate)
    p = sub.add_parser("export", help="저장된 직원·게시글 전부 내보내기 (감사용, 엑셀용 CSV)")
    p.add_argument("what", choices=("posts", "staff"))
    p.add_argument("--format", choices=("jsonl", "csv"), default="jsonl", help="jsonl (기본) 또는 csv (엑셀)")
    p.add_argument("--output", "-o", help="파일 (기본: 표준 출력)")
    p.set_defaults(func=cmd_export)


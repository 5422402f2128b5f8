"""`nugo`: one entry point with a subcommand for every job."""
from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading

from conf.connection import InsecureRedis
from conf.yamlsource import ConfigError

DESCRIPTION = """누고 (직원 업무 검색) · 어딨노 (키워드 브리핑) — 명령 모음.
Staff directory search and keyword briefing for Korean public officials."""


def cmd_check_config(args) -> int:
    from conf.loader import check_config, default_variables

    variables = default_variables()
    variables.setdefault("FARM_PORT", "0")  # farm sites validate without a running farm
    problems, count = check_config(args.conf, variables)
    subscribers = _check_subscriptions(args.conf, problems)
    if problems:
        print(f"설정 오류 {len(problems)}건:", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    print(f"설정 정상: 사이트 {count}개, 구독자 {subscribers}명 확인")
    return 0


def _check_subscriptions(conf: str | None, problems: list[str]) -> int:
    """Validate the subscription file(s) too; returns how many officials they list."""
    from conf.loader import load_cluster
    from notifier.subscription import load_subscriptions

    try:
        path = load_cluster(conf).subscriptions_path
        return len(load_subscriptions(path)) if path.exists() else 0
    except ConfigError as exc:
        problems += exc.problems
        return 0


def cmd_redis(args) -> int:
    from conf.connection import mask_url
    from conf.embedded_redis import EmbeddedRedis
    from conf.loader import load_cluster

    cluster = load_cluster(args.conf)
    if cluster.redis_url:
        print(f"클러스터 Redis 사용 중: {mask_url(cluster.redis_url)} (내장 Redis는 쓰지 않습니다)")
        return 0
    server = EmbeddedRedis(cluster.data_path / "redis")
    if args.action == "start":
        server.ensure()
        print(f"내장 Redis 실행 중: 127.0.0.1:{server.port} (pid {server.pid}, 데이터 {server.data_dir})")
    elif args.action == "stop":
        if server.attach():
            server.stop()
            print("내장 Redis를 멈췄습니다.")
        else:
            print("실행 중인 내장 Redis가 없습니다.")
    else:
        if server.attach():
            print(f"실행 중: 127.0.0.1:{server.port} (pid {server.pid})")
        else:
            print("멈춰 있음")
            return 1
    return 0


def _wait_for_signal() -> None:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()


def cmd_farm(args) -> int:
    from farm import Farm

    with Farm(seed=args.seed, scale=args.scale, port=args.port) as farm:
        print(json.dumps({"port": farm.port, "sites": farm.sites}, ensure_ascii=False), flush=True)
        _wait_for_signal()
    return 0


def cmd_demo(args) -> int:
    from workers.demo import run_demo

    return run_demo(args.conf, seed=args.seed, farm_port=args.port, web_port=args.web_port, workers=args.workers,
                    cycle=args.cycle)


def cmd_up(args) -> int:
    from workers.up import run_up

    return run_up(args.conf, crawl_workers=args.workers, web_port=args.web_port,
                  farm_port=args.farm_port if args.farm else None)


def cmd_scheduler(args) -> int:
    from conf.loader import load_cluster
    from workers.services import run_scheduler

    run_scheduler(load_cluster(args.conf), loglevel="INFO" if args.verbose else "WARNING")
    return 0


def cmd_celery_worker(args) -> int:
    from conf.loader import load_cluster
    from workers.services import run_celery_worker

    queues = [q.strip() for q in args.queues.split(",") if q.strip()]
    run_celery_worker(load_cluster(args.conf), queues, concurrency=args.concurrency, max_memory_mb=args.max_memory_mb,
                      max_tasks=args.max_tasks, loglevel="INFO" if args.verbose else "WARNING")
    return 0


def cmd_status(args) -> int:
    from conf.connection import redis_client
    from conf.loader import load_cluster
    from ops.status import cluster_status
    from ops.status_text import status_table

    cluster = load_cluster(args.conf)
    try:
        client = redis_client(cluster, start=False)
    except Exception as exc:  # noqa: BLE001 - status shows what it can without Redis
        print(f"Redis에 연결할 수 없습니다: {exc}", file=sys.stderr)
        client = None
    status = cluster_status(cluster, client)
    if args.json:
        print(json.dumps(status, ensure_ascii=False, indent=1, default=str))
    else:
        print(status_table(status))
    return 0 if status["health"]["ok"] else 1


def _load_sites(cluster, names: list[str], kind: str | None):
    from conf.loader import default_variables, load_sites

    sites = load_sites(cluster.sites_paths, default_variables())
    if names:
        unknown = [n for n in names if n not in sites]
        if unknown:
            raise SystemExit(f"알 수 없는 사이트: {', '.join(unknown)} (가능: {', '.join(sorted(sites))})")
        chosen = [sites[n] for n in names]
    else:
        chosen = [s for s in sites.values() if s["enabled"]]
    return [s for s in chosen if kind in (None, s["kind"])]


def cmd_worker(args) -> int:
    from conf.connection import redis_url
    from conf.loader import load_cluster
    from crawlers.worker import Supervisor

    cluster = load_cluster(args.conf)
    url = redis_url(cluster)

    def on_death(pid: int) -> None:  # the dead worker's send slots and leases back now, not by expiry
        from conf.connection import connect
        from crawlers.queue import worker_name
        from crawlers.reclaim import reclaim
        client = connect(url)
        try:
            reclaim(client, cluster.key_prefix, worker_name(pid=pid))
        finally:
            client.close()

    supervisor = Supervisor(args.n, url, conf=args.conf, concurrency=args.concurrency,
                            exit_when_idle=args.exit_when_idle, log_file=args.log_file, on_death=on_death).start()
    where = f", 기록: {args.log_file}" if args.log_file else ""
    print(f"크롤 작업자 {args.n}개 시작 (pid {', '.join(map(str, supervisor.pids()))}{where}). "
          "Ctrl+C 또는 SIGTERM으로 멈추면 하던 작업은 바로 큐로 돌아갑니다.", flush=True)
    return supervisor.run()


def cmd_crawl(args) -> int:
    from conf.connection import connect, redis_url
    from conf.loader import load_cluster
    from crawlers.frontier import Frontier
    from crawlers.progress import live_printer, summary_table, wait_for_runs
    from crawlers.seed import seed_sites
    from crawlers.worker import start_workers

    cluster = load_cluster(args.conf)
    sites = _load_sites(cluster, args.sites, args.kind)
    if not sites:
        print("크롤할 사이트가 없습니다.", file=sys.stderr)
        return 1
    url = redis_url(cluster)
    client = connect(url)
    runs = seed_sites(client, cluster, sites)
    print(f"크롤 시작: 사이트 {len(runs)}개", flush=True)
    log_file = None
    if args.workers:
        log_file = str(cluster.data_path / "crawl-workers.log")
        cluster.data_path.mkdir(parents=True, exist_ok=True)
        print(f"작업자 {args.workers}개의 기록: {log_file}", flush=True)
    procs = start_workers(args.workers, url, conf=args.conf, exit_when_idle=True, log_file=log_file) if args.workers else []
    if not args.watch:
        return 0
    frontier = Frontier(client, cluster.key_prefix, cluster.lease_seconds)
    try:
        final = wait_for_runs(frontier, list(runs.values()), timeout=args.timeout, on_tick=live_printer())
    finally:
        for proc in procs:
            proc.terminate()
    print("\n" + summary_table(final))
    return 0 if all(r.get("status") == "finished" for r in final.values()) else 1


def cmd_cancel(args) -> int:
    from conf.connection import redis_client
    from conf.loader import load_cluster
    from crawlers.frontier import Frontier

    cluster = load_cluster(args.conf)
    frontier = Frontier(redis_client(cluster), cluster.key_prefix, cluster.lease_seconds)
    active = {(frontier.run(run_id) or {}).get("site"): run_id for run_id in frontier.active_runs()}
    done = 0
    for name in args.targets:
        run_id = active.get(name) or (name if name in active.values() else None)
        if run_id is None:
            known = frontier.run(name) if _looks_like_run(name) else None
            state = f"이미 끝났습니다 ({known.get('status')})" if known else "진행 중인 수집이 없습니다"
            print(f"{name}: {state}", file=sys.stderr)
            continue
        dropped = frontier.cancel_run(run_id, f"cancelled by an operator (nugo cancel {name})", status="cancelled")
        print(f"{run_id}: 취소했습니다 (대기 중이던 요청 {dropped}건 삭제). 이 수집은 색인에서 반영되지 않습니다.")
        done += 1
    return 0 if done == len(args.targets) else 1


def _looks_like_run(name: str) -> bool:
    from conf.keys import RUN_ID

    return bool(RUN_ID.fullmatch(name))


def cmd_serve(args) -> int:
    from conf.loader import load_cluster
    from web.serve import serve

    cluster = load_cluster(args.conf)
    serve(cluster, args.host, args.port, args.workers)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nugo", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conf", help="cluster.yaml 경로 (기본: conf/cluster.yaml 또는 NUGO_CONF)")
    parser.add_argument("-v", "--verbose", action="store_true", help="자세한 로그")
    sub = parser.add_subparsers(dest="command", metavar="명령")
    sub.required = True

    p = sub.add_parser("check-config", help="모든 설정 파일 검사 (파일·줄·항목 단위로 오류 표시)")
    p.set_defaults(func=cmd_check_config)

    p = sub.add_parser("redis", help="내장 Redis 시작/중지/상태")
    p.add_argument("action", choices=("start", "stop", "status"))
    p.set_defaults(func=cmd_redis)

    p = sub.add_parser("worker", help="이 PC에서 크롤 작업자 N개 실행 (공유 Redis 큐에서 요청을 가져옴)")
    p.add_argument("-n", type=int, default=2, help="작업자 프로세스 수 (기본 2)")
    p.add_argument("--concurrency", type=int, default=16, help="작업자당 동시 요청 수 (사이트별 간격은 클러스터 전체에서 지켜짐)")
    p.add_argument("--exit-when-idle", action="store_true", help="큐가 비면 종료")
    p.add_argument("--log-file", help="작업자 기록을 이 파일에 덧붙임 (기본: 이 터미널)")
    p.set_defaults(func=cmd_worker)

    p = sub.add_parser("crawl", help="사이트 크롤 시작 (사이트 지정, 또는 전체) 및 진행 상황 표시")
    p.add_argument("sites", nargs="*", help="사이트 id (생략하면 전체)")
    p.add_argument("--kind", choices=("directory", "board"), help="직원 명부만 또는 게시판만")
    p.add_argument("--workers", type=int, default=0, help="이 PC에서 작업자도 함께 실행 (끝나면 종료)")
    p.add_argument("--no-watch", dest="watch", action="store_false", help="시작만 하고 기다리지 않음")
    p.add_argument("--timeout", type=float, default=None, help="기다릴 최대 시간(초)")
    p.set_defaults(func=cmd_crawl)

    p = sub.add_parser("cancel", help="진행 중인 수집 취소 (사이트 id 또는 실행 id). 취소된 수집은 반영되지 않습니다")
    p.add_argument("targets", nargs="+", metavar="RUN|SITE", help="실행 id (예: seoul-20261201T010000-ab12cd) 또는 사이트 id")
    p.set_defaults(func=cmd_cancel)
    __import__("workers.cli_data", fromlist=["add_commands"]).add_commands(sub)  # index, search, feeds, digest

    p = sub.add_parser("serve", help="검색 페이지·JSON API·개인 피드·상태 페이지 서비스 (gunicorn, gevent 작업자)")
    p.add_argument("--host", help="주소 (기본: cluster.yaml의 web.host)")
    p.add_argument("--port", type=int, help="포트 (기본: cluster.yaml의 web.port)")
    p.add_argument("--workers", type=int, default=2, help="프로세스 수 (기본 2)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("up", help="이 PC에서 전부 실행: 내장 Redis, 크롤 작업자, 색인기, Celery 작업자, 스케줄러, 웹 (Ctrl+C로 모두 멈춤)")
    p.add_argument("--workers", type=int, default=2, help="크롤 작업자 수 (기본 2)")
    p.add_argument("--web-port", type=int, default=None, help="웹 포트 (기본: cluster.yaml의 web.port)")
    p.add_argument("--farm", action="store_true", help="사이트 농장도 함께 실행 (conf/sites/farm을 크롤할 때)")
    p.add_argument("--farm-port", type=int, default=0, help="사이트 농장 포트 (기본: 빈 포트)")
    p.set_defaults(func=cmd_up)

    p = sub.add_parser("scheduler", help="스케줄러 (Celery beat): 직원 명부 야간·게시판 주기 수집, 색인, 요약 메일. 여럿 띄워도 하나만 보냄")
    p.set_defaults(func=cmd_scheduler)

    p = sub.add_parser("celery-worker", help="Celery 작업자: 큐별 작업 실행 (index 큐는 헤드 PC에 하나, 동시성 1)")
    p.add_argument("--queues", default="crawl,notify,housekeeping",
                   help="처리할 큐 (쉼표로 구분): crawl, index, notify, housekeeping (기본: index 빼고 전부)")
    p.add_argument("--concurrency", type=int, default=2, help="동시에 실행할 작업 수 (index 큐는 1)")
    p.add_argument("--max-memory-mb", type=int, default=512, help="자식 프로세스가 이 메모리를 넘으면 새로 띄움 (기본 512)")
    p.add_argument("--max-tasks", type=int, default=500, help="자식 프로세스가 이만큼 작업하면 새로 띄움 (기본 500)")
    p.set_defaults(func=cmd_celery_worker)

    p = sub.add_parser("status", help="클러스터 상태: 사이트별 최근 수집·다음 일정, PC별 프로세스·메모리, 큐와 색인 지연")
    p.add_argument("--json", action="store_true", help="JSON으로 출력")
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("farm", help="사이트 농장(실제 사이트를 흉내 내는 로컬 서버)만 실행")
    p.add_argument("--seed", type=int, default=1, help="내용 생성 시드 (기본 1)")
    p.add_argument("--scale", choices=("demo", "large"), default="demo", help="demo: 17개 시도+게시판, large: 벤치마크용")
    p.add_argument("--port", type=int, default=0, help="포트 (기본: 빈 포트)")
    p.set_defaults(func=cmd_farm)

    from visits.cli import add_commands as add_visit_commands
    from workers.cli_officials import add_commands as add_official_commands

    add_visit_commands(sub)
    add_official_commands(sub)

    p = sub.add_parser("demo", help="데모: nugo up + 사이트 농장 + 예시 보도자료. 명령을 더 치지 않아도 크롤·색인·알림이 돌아갑니다")
    p.add_argument("--seed", type=int, default=1, help="사이트 농장 내용 시드")
    p.add_argument("--port", type=int, default=0, help="사이트 농장 포트 (기본: 빈 포트)")
    p.add_argument("--web-port", type=int, default=None, help="검색 페이지 포트 (기본: cluster.yaml의 web.port)")
    p.add_argument("--workers", type=int, default=2, help="크롤 작업자 수")
    p.add_argument("--cycle", type=float, default=60.0, help="게시판 재수집·예시 보도자료 게시 주기(초, 기본 60; 하루를 나누어떨어지게)")
    p.set_defaults(func=cmd_demo)
    __import__("crawlers.site_cli", fromlist=["add_commands"]).add_commands(sub)  # try-site, draft-site (issue 15)
    return parser


def main(argv: list[str] | None = None) -> int:
    os.umask(0o077)  # data files (index, Redis, keys) are the service user's alone
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except ConfigError as exc:
        print(f"설정 오류 {len(exc.problems)}건:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 2
    except InsecureRedis as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # output piped into `head` and the like
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())

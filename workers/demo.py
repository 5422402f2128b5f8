"""`nugo demo`: the whole product on one machine, against the site farm."""
from __future__ import annotations

import sys

from conf.connection import connect, redis_url
from conf.loader import load_cluster, load_sites
from crawlers.frontier import Frontier
from crawlers.progress import live_printer, summary_table, wait_for_runs
from crawlers.seed import seed_sites
from crawlers.worker import start_workers
from index.search import StaffSearcher
from notifier.subscription import load_subscriptions, subscriptions_path
from workers.indexer import index_dir, run_indexer


def run_demo(conf: str | None, *, seed: int = 1, farm_port: int = 0, web_port: int | None = None,
             workers: int = 2, serve_web: bool = True) -> int:
    """Start Redis and the farm, crawl every farm site, index, then serve the search page and feeds."""
    from tests.farm import Farm

    cluster = load_cluster(conf)
    url = redis_url(cluster)
    client = connect(url)
    with Farm(seed=seed, port=farm_port) as farm:
        print("누고 · 어딨노 데모")
        print(f"  Redis (내장)   : {url.split('@')[-1]}  데이터 {cluster.data_path}")
        print(f"  사이트 농장    : 포트 {farm.port}, 사이트 {len(farm.sites)}개 (17개 시도 직원 명부 + 게시판)")
        sites = load_sites(cluster.sites_paths, {"FARM_PORT": str(farm.port)})
        print(f"  크롤 시작      : 사이트 {len(sites)}개, 작업자 {workers}개 (사이트별 {cluster.default_interval:g}초 간격)",
              flush=True)
        runs = seed_sites(client, cluster, list(sites.values()))
        procs = start_workers(workers, url, conf=conf, exit_when_idle=True)
        try:
            final = wait_for_runs(Frontier(client, cluster.key_prefix), list(runs.values()), on_tick=live_printer())
        finally:
            for proc in procs:
                proc.terminate()
        print("\n" + summary_table(final))
        stats = run_indexer(cluster, once=True, client=client)
        print(f"\n색인: 직원 {stats.staff:,}명 · 게시글 {stats.posts:,}건")
        results = StaffSearcher(index_dir(cluster)).search("드론", per_page=5)
        print(f"예: '드론' 담당자 {results.total}명 (기관 {len(results.groups)}곳)")
        web = cluster.web
        port = web_port if web_port is not None else web["port"]
        base = web.get("base_url") or f"http://{web['host']}:{port}"
        _print_feeds(cluster, client, base)
        print(f"\n검색 페이지: {base}/?q=드론   상태: {base}/status")
        print("Ctrl+C로 멈춥니다.", flush=True)
        if serve_web:
            from workers.serve import serve

            serve(cluster, web["host"], port)
    return 0


def _print_feeds(cluster, client, base: str) -> None:
    from notifier.subscription import ensure_tokens

    path = subscriptions_path(cluster)
    if not path.exists():
        return
    officials = load_subscriptions(path)
    tokens = ensure_tokens(client, cluster.key_prefix, [o.id for o in officials])
    print("\n어딨노 개인 피드 (새 게시글이 올라오면 다음 크롤 주기에 나타납니다):")
    for official in officials:
        print(f"  {official.name:<12} {base}/feeds/{tokens[official.id]}.rss")
    if officials:
        first = f"{base}/feeds/{tokens[officials[0].id]}.rss"
        print(f"  피드 리더로 읽기: echo {first} > urls && newsboat -u urls", file=sys.stdout)

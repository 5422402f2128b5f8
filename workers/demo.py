"""`nugo demo`: the whole product on one machine, against the site farm."""
from __future__ import annotations

import itertools
import sys
import threading

from conf.connection import connect, redis_url
from conf.loader import load_cluster, load_sites
from crawlers.frontier import Frontier
from crawlers.progress import live_printer, summary_table, wait_for_runs
from crawlers.seed import seed_sites
from crawlers.worker import start_workers
from index.search import StaffSearcher
from notifier.subscription import load_subscriptions, subscriptions_path
from workers.indexer import index_dir, run_indexer


# Sample news the demo publishes on farm boards, so the example officials' feeds fill up while it runs.
SAMPLE_NEWS = [
    ("gyeongnam-press", "경남도, 드론 실증 특구 확대 지정", "경상남도는 드론산업육성을 위해 실증 특구를 넓힌다고 밝혔다."),
    ("busan-announce", "청년 일자리 박람회 참가 기업 모집", "부산광역시는 청년 일자리 박람회에 참가할 기업을 모집한다."),
    ("korea-kr-press", "탄소중립 이행 점검 회의 개최", "정부는 온실가스 감축 목표 이행을 점검했다."),
    ("seoul-press", "수소 충전소 확충 계획 발표", "서울시는 수소 충전소를 두 배로 늘린다고 밝혔다."),
    ("jeju-press", "저출생 대응 출산 지원 확대", "제주도는 저출생 대책으로 출산 지원금을 늘린다."),
]


def run_demo(conf: str | None, *, seed: int = 1, farm_port: int = 0, web_port: int | None = None,
             workers: int = 2, serve_web: bool = True, cycle: float = 60.0) -> int:
    """Start Redis and the farm, crawl every farm site, index, then serve the search page and feeds."""
    from farm import Farm

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
        if not serve_web:
            return 0
        boards = [s for s in sites.values() if s["kind"] == "board"]
        print(f"게시판은 {cycle:g}초마다 다시 수집하고, 사이트 농장에 예시 보도자료를 {cycle:g}초마다 올립니다.")
        print("Ctrl+C로 멈춥니다.", flush=True)
        stop = threading.Event()
        procs = start_workers(workers, url, conf=conf)
        news = itertools.cycle(SAMPLE_NEWS)

        def board_cycle():
            while not stop.wait(cycle):
                site_id, title, body = next(news)
                if site_id in sites:
                    farm.publish(site_id, title=title, body=body)
                seed_sites(client, cluster, boards)

        threads = [threading.Thread(target=run_indexer, args=(cluster,), kwargs={"stop": stop, "client": client}, daemon=True),
                   threading.Thread(target=board_cycle, daemon=True)]
        for thread in threads:
            thread.start()
        try:
            from web.serve import serve

            serve(cluster, web["host"], port)
        finally:
            stop.set()
            for proc in procs:
                proc.terminate()
            for proc in procs:
                proc.wait()
            for thread in threads:
                thread.join(10)
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

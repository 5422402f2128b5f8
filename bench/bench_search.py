"""Benchmark of the staff index: index rate, index size and query latency over synthetic Korean rows.

    python bench/bench_search.py                 # 300,000 rows
    python bench/bench_search.py --rows 100000 --repeat 5

Rows go the production way: XADD to a private redis-server exactly as the crawler does, consume()
into Whoosh, one run_end per site (snapshot build), then StaffSearcher queries in-process
(page 1 of 50 rows with exact total, stored fields, highlights, facets). Prints a markdown table.
"""
from __future__ import annotations

import argparse
import gc
import json
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from conf.embedded_redis import EmbeddedRedis  # noqa: E402
from index.search import StaffSearcher  # noqa: E402
from tests.synthetic import staff_rows  # noqa: E402
from index.writer import consume  # noqa: E402

QUERIES = [
    "드론", "일자리", "청년 일자리", "정산", "경관", "민원운영", "한부모", "드론산업", "에너지 수소", "예산 편성",
    "보조금 정산", "행정국", "미래전략국 정책", "사회적경제", "도시 재생", "교통물류국", "주무관", "팀장 예산", "과장",
    "국회·도의회", "시스템운영", "종합계획 수립", "청년일자리지원사업", "감염병", "식품 안전", "재난안전실",
    "상수도 관리", "평생학습", "청렴", "다문화 가족", "귀농", "소상공인 지원", "전통시장", "스마트 도시", "수소",
    "원자력", "항만 물류", "산림", "마을 공동체", "아동 보육", "노인 복지", "장애인", "관광 홍보", "체육",
    "문화 예술", "콘텐츠 산업", "데이터", "디지털 혁신", "인구", "균형발전", "과", "팀", "수", "청년 일자리 지원",
    "055-211", "02-21", "051-2", "031-2", "이*수", "드론 없는말",
]


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    k = (len(values) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def size_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


def rss_mb() -> float:
    """Resident memory now (Linux), else the peak so far."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * resource.getpagesize() / 2**20
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def push(client, stream: str, items: list[dict]) -> None:
    pipe = client.pipeline(transaction=False)
    for n, item in enumerate(items, 1):
        fields = {"json": json.dumps(item, ensure_ascii=False), "type": item["type"], "run_id": item["run_id"]}
        pipe.xadd(stream, fields)
        if n % 5000 == 0:
            pipe.execute()
    pipe.execute()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=300_000)
    parser.add_argument("--repeat", type=int, default=5, help="runs of the query list (the first warms up)")
    parser.add_argument("--batch", type=int, default=2000, help="consume() batch size")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", help="index directory to keep (default: a temporary one)")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="nugo-bench-"))
    index_dir = Path(args.keep) if args.keep else work / "index"
    server = EmbeddedRedis(work / "redis").start()
    try:
        client = server.client()
        rows = staff_rows(args.rows, seed=args.seed)
        names = [rows[i]["name"] for i in range(0, len(rows), max(1, len(rows) // 10))][:10]
        queries = QUERIES + names
        sites = sorted({r["site"] for r in rows})
        stream = "bench:items"
        t0 = time.perf_counter()
        push(client, stream, rows)
        pushed = time.perf_counter() - t0
        del rows
        gc.collect()

        t0 = time.perf_counter()
        consume(client, "bench", index_dir, once=True, batch=args.batch)
        whoosh_s = time.perf_counter() - t0
        ended = [{"type": "run_end", "run_id": f"{s}-r1", "site": s, "status": "finished", "kind": "directory",
                  "ended_at": time.time()} for s in sites]
        push(client, stream, ended)
        t0 = time.perf_counter()
        consume(client, "bench", index_dir, once=True, batch=args.batch)
        snapshot_s = time.perf_counter() - t0

        gc.collect()
        rss0 = rss_mb()
        t0 = time.perf_counter()
        searcher = StaffSearcher(index_dir)
        load_s = time.perf_counter() - t0
        gc.collect()
        gc.freeze()  # as a long-running server would: the loaded index is never garbage
        rss1 = rss_mb()

        latencies: list[float] = []
        slowest: dict[str, float] = {}
        totals: dict[str, int] = {}
        for rep in range(args.repeat):
            for q in queries:
                t0 = time.perf_counter()
                res = searcher.search(q, per_page=50)
                ms = (time.perf_counter() - t0) * 1000
                totals[q] = res.total
                if rep:
                    latencies.append(ms)
                    slowest[q] = max(slowest.get(q, 0), ms)
        if not latencies:
            latencies = [0.0]
        worst = sorted(slowest.items(), key=lambda kv: -kv[1])[:5]
        n = args.rows
        runs = max(1, args.repeat - 1)
        print(f"## Staff search benchmark: {n:,} rows, {len(sites)} sites, {len(queries)} queries x {runs}\n")
        print("| measure | value |")
        print("|---|---|")
        print(f"| push to stream (XADD) | {pushed:.1f} s ({n / pushed:,.0f} rows/s) |")
        print(f"| consume into Whoosh (batch {args.batch}) | {whoosh_s:.1f} s ({n / whoosh_s:,.0f} rows/s) |")
        print(f"| run_end: judge + snapshot build ({len(sites)} sites) | {snapshot_s:.1f} s |")
        print(f"| index rate, stream to searchable | {n / (whoosh_s + snapshot_s):,.0f} rows/s |")
        print(f"| Whoosh staff index on disk | {size_mb(index_dir / 'whoosh'):.1f} MB |")
        print(f"| live snapshots on disk (rows + bitmaps) | {size_mb(index_dir / 'staff'):.1f} MB |")
        print(f"| StaffSearcher load (all sites) | {load_s:.2f} s, resident memory +{rss1 - rss0:.0f} MB |")
        print(f"| query p50 / p95 / p99 | {percentile(latencies, 50):.2f} / {percentile(latencies, 95):.2f} / "
              f"{percentile(latencies, 99):.2f} ms |")
        print(f"| query mean / max | {statistics.mean(latencies):.2f} / {max(latencies):.2f} ms |")
        print(f"| slowest queries | {', '.join(f'`{q}` {ms:.1f} ms ({totals[q]:,} rows)' for q, ms in worst)} |")
        client.close()
    finally:
        server.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark of search through the JSON API: indexing rate, index size and query latency over HTTP.

    python bench/bench_api.py                  # 300,000 staff rows and 1,000,000 posts
    python bench/bench_api.py --small          # 30,000 staff rows and 100,000 posts
    python bench/bench_api.py --staff 100000 --posts 300000 --repeat 6 --keep /tmp/bench-index

Synthetic items (tests.synthetic: staff directories, press-release-like posts with title ~25-30
and body 300-800 characters) are XADDed to a private redis-server as the crawler does, and indexed
by the real writer (index.writer.consume, staff run_end -> snapshots). Then the real web service
starts (`python -m web.serve`, gunicorn, 2 gevent workers) and one HTTP client sends a
fixed query list to `/api/search` (staff) and `/api/posts` (posts), one page of 50 rows with the
exact total. Pass 1 runs on a fresh worker (nothing cached: every long word of a post query is
checked as a substring of every candidate); passes 2..N are the steady state (a keep-alive
connection stays with one worker, whose checked-word cache is then warm). Prints markdown tables.
"""
from __future__ import annotations

import argparse
import gc
import http.client
import json
import multiprocessing
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlencode, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import psutil  # noqa: E402
from bench_search import QUERIES as STAFF_QUERIES  # noqa: E402
from bench_search import percentile, size_mb  # noqa: E402

from conf.embedded_redis import EmbeddedRedis  # noqa: E402
from tests.synthetic import post_items, staff_rows  # noqa: E402
from index.writer import consume  # noqa: E402

STREAM_PREFIX = "bench"
CHUNK = 50_000  # posts generated, pushed and indexed at a time (bounded memory)

# (query, filters) for /api/posts: common and rare words, compounds, two-word AND, one syllable,
# departments, places, phones, numbers, no hit, filters, a deep page.
POST_QUERIES: list[tuple[str, dict]] = [(q, {}) for q in (
    "지원", "사업", "일자리", "청년", "드론", "관광", "복지", "안전", "교육", "예산", "추진", "협약", "수소", "귀농",
    "과", "수", "김", "법",
    "지역경제", "업무협약", "사회적경제", "한국전력공사", "청년일자리", "기본계획", "행정복지센터", "우수기관",
    "전문인력", "도시재생", "균형발전", "평생학습", "감염병", "전통시장", "관계기관 회의",
    "청년 일자리", "드론 육성", "관광 홍보", "노인 복지", "지역경제 활성화", "소상공인 지원", "사회적경제 기업",
    "기후 탄소", "재난 안전 점검", "문화 예술", "수소 에너지 보급",
    "관광진흥과", "복지정책과", "교통운영과", "테크노파크", "컨벤션센터", "창원시", "경상남도",
    "055-2", "02-21", "061-2", "2025년", "억 원", "만족도 9",
    "없는단어", "드론 없는말",
)] + [
    ("일자리", {"region": "경남"}), ("지역경제", {"board_kind": "press"}), ("청년", {"site": "seoul-press"}),
    ("업무협약", {"region": ["서울", "부산"]}), ("지원", {"page": 5}),
]


def push(client, stream: str, items: list[dict]) -> None:
    pipe = client.pipeline(transaction=False)
    for n, item in enumerate(items, 1):
        pipe.xadd(stream, {"json": json.dumps(item, ensure_ascii=False), "type": item["type"], "run_id": item["run_id"]})
        if n % 5000 == 0:
            pipe.execute()
    pipe.execute()


def _posts(args: tuple[int, int, int]) -> list[dict]:
    n, seed, start = args
    return post_items(n, seed=seed, start=start)


def index_all(client, index_dir: Path, n_staff: int, n_posts: int, batch: int, seed: int) -> dict:
    """Push and index staff rows, their run ends, then posts chunk by chunk; times of each phase."""
    stream = f"{STREAM_PREFIX}:items"
    out = {"push_s": 0.0, "staff_s": 0.0, "snapshot_s": 0.0, "posts_s": 0.0, "gen_s": 0.0}
    t0 = time.perf_counter()
    rows = staff_rows(n_staff, seed=seed)
    out["gen_s"] += time.perf_counter() - t0
    out["names"] = [rows[i]["name"] for i in range(0, len(rows), max(1, len(rows) // 10))][:10]
    sites = sorted({r["site"] for r in rows})
    out["sites"] = len(sites)
    t0 = time.perf_counter()
    push(client, stream, rows)
    out["push_s"] += time.perf_counter() - t0
    del rows
    gc.collect()
    t0 = time.perf_counter()
    consume(client, STREAM_PREFIX, index_dir, once=True, batch=batch)
    out["staff_s"] = time.perf_counter() - t0
    push(client, stream, [{"type": "run_end", "run_id": f"{s}-r1", "site": s, "status": "finished",
                           "kind": "directory", "ended_at": time.time()} for s in sites])
    t0 = time.perf_counter()
    consume(client, STREAM_PREFIX, index_dir, once=True, batch=batch)
    out["snapshot_s"] = time.perf_counter() - t0
    client.xtrim(stream, maxlen=0)
    starts = list(range(0, n_posts, CHUNK))
    with multiprocessing.Pool(2) as pool:
        for number, start in enumerate(starts):
            size = min(CHUNK, n_posts - start)
            t0 = time.perf_counter()
            half = (size + 1) // 2
            parts = pool.map(_posts, [(half, seed, start), (size - half, seed, start + half)])
            out["gen_s"] += time.perf_counter() - t0
            t0 = time.perf_counter()
            for part in parts:
                push(client, stream, part)
            out["push_s"] += time.perf_counter() - t0
            del parts
            gc.collect()
            t0 = time.perf_counter()
            consume(client, STREAM_PREFIX, index_dir, once=True, batch=batch)
            out["posts_s"] += time.perf_counter() - t0
            client.xtrim(stream, maxlen=0)
            done = start + size
            print(f"  posts indexed: {done:,} ({done / out['posts_s']:,.0f}/s so far)", file=sys.stderr, flush=True)
    return out


class Client:
    """One keep-alive HTTP/1.1 connection (stdlib), reconnecting when the server closed it."""

    def __init__(self, url: str):
        parts = urlsplit(url)
        self.host, self.port = parts.hostname, parts.port
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)

    def get(self, path: str, params: dict | None = None) -> tuple[int, bytes]:
        target = path + (f"?{urlencode(params, doseq=True)}" if params else "")
        for attempt in range(2):
            try:
                self.conn.request("GET", target)
                resp = self.conn.getresponse()
                return resp.status, resp.read()
            except (http.client.HTTPException, ConnectionError):
                self.conn.close()
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def json(self, path: str, params: dict) -> dict:
        status, body = self.get(path, params)
        if status != 200:
            raise RuntimeError(f"GET {path} {params}: HTTP {status}")
        return json.loads(body)

    def close(self) -> None:
        self.conn.close()


def start_server(work: Path, data_dir: Path, workers: int) -> tuple[subprocess.Popen, str]:
    conf = work / "cluster.yaml"
    conf.write_text(f"data_dir: {data_dir}\nkey_prefix: {STREAM_PREFIX}\nweb:\n  host: 127.0.0.1\n  port: 0\n",
                    encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUGO_")}
    env["PYTHONPATH"] = str(ROOT)
    proc = subprocess.Popen([sys.executable, "-m", "web.serve", "--conf", str(conf), "--port", "0",
                             "--workers", str(workers)],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = None
    deadline = time.monotonic() + 120
    lines = []
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        match = re.search(r"(http://\S+/)", line)
        if match:
            url = match.group(1)
            break
    if url is None:
        proc.kill()
        raise RuntimeError("the web service did not start:\n" + "".join(lines))
    threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()  # keep draining logs
    while time.monotonic() < deadline:
        try:
            if Client(url).get("/healthz")[0] == 200:
                break
        except OSError:
            time.sleep(0.2)
    return proc, url


def stop_server(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def run_queries(url: str, path: str, queries: list[tuple[str, dict]], repeat: int) -> dict:
    """One keep-alive client: pass 1 (cold) and passes 2..repeat (warm). Latency is client-side."""
    client = Client(url)
    cold, warm, took = [], [], []
    slowest: dict[str, float] = {}
    first: dict[str, float] = {}
    totals: dict[str, int] = {}
    for rep in range(repeat):
        for q, extra in queries:
            t0 = time.perf_counter()
            data = client.json(path, {"q": q, "per_page": 50, **extra})
            ms = (time.perf_counter() - t0) * 1000
            label = q + (f" {extra}" if extra else "")
            totals[label] = data["total"]
            (cold if rep == 0 else warm).append(ms)
            if not rep:
                first[label] = ms
            else:
                took.append(data["took_ms"])
                slowest[label] = max(slowest.get(label, 0.0), ms)
    client.close()
    return {"cold": cold, "warm": warm or cold, "took": took or [0.0], "slowest": slowest, "totals": totals,
            "first": first}


def throughput(url: str, staff: list[tuple[str, dict]], posts: list[tuple[str, dict]], clients: int = 4) -> float:
    """Requests per second with `clients` concurrent keep-alive clients, each sending both lists once."""
    jobs = [("/api/search", q, e) for q, e in staff] + [("/api/posts", q, e) for q, e in posts]
    errors = []

    def work():
        client = Client(url)
        try:
            for path, q, extra in jobs:
                client.json(path, {"q": q, "per_page": 50, **extra})
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            client.close()

    threads = [threading.Thread(target=work) for _ in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return clients * len(jobs) / (time.perf_counter() - t0)


def worker_memory_mb(proc: subprocess.Popen) -> list[tuple[float, float, float]]:
    """(resident, private, anonymous) MB of each gunicorn worker. Resident counts the mapped index
    pages; private (USS) also counts mapped file pages that only this worker has touched so far
    (shared through the page cache as soon as another process maps them); anonymous is the memory
    the worker alone owns (heap: loaded staff view, caches), which nothing can share."""
    def anonymous(pid: int) -> float:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as fh:
                return next(int(line.split()[1]) for line in fh if line.startswith("Anonymous:")) / 1024
        except (OSError, StopIteration):
            return float("nan")
    try:
        return [(c.memory_info().rss / 2**20, c.memory_full_info().uss / 2**20, anonymous(c.pid))
                for c in psutil.Process(proc.pid).children()]
    except psutil.Error:
        return []


def fmt(values: list[float]) -> str:
    return (f"{percentile(values, 50):.1f} / {percentile(values, 95):.1f} / {percentile(values, 99):.1f} "
            f"(max {max(values):.0f})")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--staff", type=int, default=300_000)
    parser.add_argument("--posts", type=int, default=1_000_000)
    parser.add_argument("--small", action="store_true", help="30,000 staff rows and 100,000 posts")
    parser.add_argument("--repeat", type=int, default=6, help="passes over each query list (pass 1 is cold)")
    parser.add_argument("--batch", type=int, default=2000, help="consume() batch size")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", help="data directory to keep (the index goes to KEEP/index)")
    parser.add_argument("--reuse", action="store_true",
                        help="with --keep: measure the index already in KEEP (same --staff/--posts/--seed) "
                             "instead of building it again")
    args = parser.parse_args(argv)
    if args.reuse and not args.keep:
        parser.error("--reuse needs --keep")
    if args.small:
        args.staff, args.posts = 30_000, 100_000

    work = Path(tempfile.mkdtemp(prefix="nugo-bench-api-"))
    data_dir = Path(args.keep).resolve() if args.keep else work / "data"
    index_dir = data_dir / "index"
    started = time.perf_counter()
    if args.reuse:
        if not (index_dir / "posts" / "manifest.json").exists():
            parser.error(f"--reuse: no index in {index_dir}")
        timing = reused_timing(args.staff, args.seed)
    else:
        server = EmbeddedRedis(work / "redis").start()
        try:
            client = server.client()
            timing = index_all(client, index_dir, args.staff, args.posts, args.batch, args.seed)
            client.close()
        finally:
            server.stop()
    index_s = time.perf_counter() - started
    sizes = {"Whoosh (store of record: staff rows and post records)": size_mb(index_dir / "whoosh"), "staff snapshots": size_mb(index_dir / "staff"),
             "post segments": size_mb(index_dir / "posts")}
    segments = json.loads((index_dir / "posts" / "manifest.json").read_text())["segments"]

    staff_queries = [(q, {}) for q in STAFF_QUERIES + timing["names"]]
    proc, url = start_server(work, data_dir, args.workers)
    try:
        staff = run_queries(url, "/api/search", staff_queries, args.repeat)
        posts = run_queries(url, "/api/posts", POST_QUERIES, args.repeat)
        rps = throughput(url, staff_queries, POST_QUERIES)
        memory = worker_memory_mb(proc)
    finally:
        stop_server(proc)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    n_staff, n_posts = args.staff, args.posts
    print(f"### {n_staff:,} staff rows ({timing['sites']} sites), {n_posts:,} posts\n")
    print(f"Command: `python bench/bench_api.py {' '.join(argv if argv is not None else sys.argv[1:])}`".rstrip()
          + f" ({os.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GB)\n")
    print("| indexing (real writer, items XADDed to a private redis-server) | value |")
    print("|---|---|")
    if args.reuse:
        print("| (index reused from --keep: indexing not measured in this run) | |")
    else:
        print_indexing(args, timing, n_staff, n_posts, index_s)
    print(f"| post segments after merges | {len(segments)} ({', '.join(str(s['docs']) for s in segments[:24])}"
          f"{' ...' if len(segments) > 24 else ''}) |")
    for name, mb in sizes.items():
        print(f"| {name} on disk | {mb:,.0f} MB |")
    print_latency(args, staff, posts, rps, memory)
    return 0


def reused_timing(n_staff: int, seed: int) -> dict:
    """The query inputs index_all would return, for an index already built with the same arguments."""
    rows = staff_rows(n_staff, seed=seed)
    return {"names": [rows[i]["name"] for i in range(0, len(rows), max(1, len(rows) // 10))][:10],
            "sites": len({r["site"] for r in rows})}


def print_indexing(args, timing: dict, n_staff: int, n_posts: int, index_s: float) -> None:
    print(f"| staff rows into Whoosh (batch {args.batch}) | {timing['staff_s']:.1f} s, "
          f"{n_staff / timing['staff_s']:,.0f} rows/s |")
    print(f"| staff run_end: judge + snapshot build | {timing['snapshot_s']:.1f} s |")
    print(f"| posts into post records (Whoosh) and segments (batch {args.batch}, merges included) | {timing['posts_s']:.1f} s, "
          f"**{n_posts / timing['posts_s']:,.0f} posts/s** |")
    print(f"| generate / XADD (not indexing) | {timing['gen_s']:.0f} s / {timing['push_s']:.0f} s |")
    print(f"| whole run (generate, push, index) | {index_s / 60:.1f} min |")


def print_latency(args, staff: dict, posts: dict, rps: float, memory: list) -> None:
    print()
    print(f"| HTTP, one page of 50 with exact total ({args.workers} gevent workers) "
          "| p50 / p95 / p99 ms |")
    print("|---|---|")
    for name, path, res in (("staff", "/api/search", staff), ("posts", "/api/posts", posts)):
        n_q = len(res["totals"])
        print(f"| `{path}` {name}, {n_q} queries, pass 1 (cold worker) | {fmt(res['cold'])} |")
        print(f"| `{path}` {name}, {n_q} queries x {args.repeat - 1} warm passes | **{fmt(res['warm'])}** |")
        print(f"| `{path}` {name}, server-side took_ms (warm) | {fmt(res['took'])} |")
    print(f"| throughput, 4 concurrent clients, both lists | {rps:,.0f} requests/s |")
    print(f"| gunicorn workers: resident / private (USS) / anonymous memory | "
          f"{', '.join(f'{r:,.0f} / {u:,.0f} / {a:,.0f} MB' for r, u, a in memory)} |")
    print()
    for name, res in (("staff", staff), ("posts", posts)):
        worst = sorted(res["slowest"].items(), key=lambda kv: -kv[1])[:6]
        print(f"Slowest {name} queries (warm, max ms, total): "
              + ", ".join(f"`{q}` {ms:.0f} ({res['totals'][q]:,})" for q, ms in worst))
        print()
        worst = sorted(res["first"].items(), key=lambda kv: -kv[1])[:8]
        print(f"Slowest {name} queries in pass 1 (cold, ms, total): "
              + ", ".join(f"`{q}` {ms:.0f} ({res['totals'][q]:,})" for q, ms in worst))
        print()
    common = sorted(posts["totals"].items(), key=lambda kv: -kv[1])[:5]
    print("Largest post totals: " + ", ".join(f"`{q}` {t:,}" for q, t in common))
    print(f"\nMean warm latency: staff {statistics.mean(staff['warm']):.1f} ms, posts {statistics.mean(posts['warm']):.1f} ms")


if __name__ == "__main__":
    sys.exit(main())

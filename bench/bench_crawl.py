"""Crawl benchmark: wall time against the politeness bound, parse rate, worker memory.

    python3 bench/bench_crawl.py --directories 300 --boards 200 --workers 3 --latency 0.2

Starts the large site farm in its own process (real HTTP), a private redis-server, and N real
worker processes with the real default politeness (1 request/s per host), crawls every farm site
once, and prints a markdown table for docs/BENCHMARKS.md.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from conf.embedded_redis import EmbeddedRedis  # noqa: E402
from conf.loader import load_cluster, load_sites  # noqa: E402
from crawlers.extract import parse_detail, parse_list, start_requests  # noqa: E402
from crawlers.frontier import Frontier  # noqa: E402
from crawlers.progress import progress_line, wait_for_runs  # noqa: E402
from crawlers.seed import seed_sites  # noqa: E402
from crawlers.worker import start_workers  # noqa: E402


def start_farm(tmp: Path, args) -> tuple[subprocess.Popen, dict]:
    faults = json.dumps({"latency": args.latency}) if args.latency else None
    cmd = [sys.executable, "-m", "farm", "--scale", "large", "--directories", str(args.directories),
           "--boards", str(args.boards), "--write-sites", str(tmp / "sites"), "--log-out", str(tmp / "requests.jsonl")]
    if faults:
        cmd += ["--faults", faults]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    info = json.loads(proc.stdout.readline())
    return proc, info


class PeakRss:
    """Samples the resident memory of worker processes until stopped."""

    def __init__(self, pids: list[int]):
        self.pids, self.peak = pids, {pid: 0 for pid in pids}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.wait(0.5):
            for pid in self.pids:
                try:
                    self.peak[pid] = max(self.peak[pid], psutil.Process(pid).memory_info().rss)
                except psutil.Error:
                    pass

    def stop(self) -> dict[int, int]:
        self._stop.set()
        self._thread.join()
        return self.peak


def parse_rate(sites: dict, sample: int) -> dict:
    """Pages per second through the site-definition extractor vs raw lxml parsing of the same bytes."""
    import lxml.html

    from crawlers.encoding import decode_page

    pages = []
    for site in list(sites.values())[:sample]:
        request = start_requests(site)[0]
        data = request["body"].encode() if request["method"] == "POST" else None
        req = urllib.request.Request(request["url"], data=data, headers=request["headers"], method=request["method"])
        with urllib.request.urlopen(req, timeout=30) as response:
            body, ctype = response.read(), response.headers.get("Content-Type")
        pages.append((site, request, body, ctype))
        result = parse_list(site, request, decode_page(body, ctype, site["encoding"])[0])
        if result.details:
            detail_url = result.details[0][0]["url"]
            with urllib.request.urlopen(detail_url, timeout=30) as response:
                pages.append((site, {"url": detail_url, "meta": {"role": "detail"}}, response.read(), response.headers.get("Content-Type")))
    size = sum(len(p[2]) for p in pages)
    t0 = time.perf_counter()
    for _ in range(3):
        for site, request, body, ctype in pages:
            text = decode_page(body, ctype, site["encoding"])[0]
            if request["meta"].get("role") == "detail":
                parse_detail(site, text)
            else:
                parse_list(site, request, text)
    ours = 3 * len(pages) / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    for _ in range(3):
        for site, request, body, ctype in pages:
            lxml.html.fromstring(body)
    raw = 3 * len(pages) / (time.perf_counter() - t0)
    return {"pages": len(pages), "mean_kb": size / len(pages) / 1024, "ours": ours, "raw": raw}


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its children so far (0 when it is gone)."""
    try:
        proc = psutil.Process(pid)
        times = proc.cpu_times()
        return times.user + times.system + sum(c.cpu_times().user + c.cpu_times().system
                                               for c in proc.children(recursive=True))
    except psutil.Error:
        return 0.0


def host_timeline(log_path: Path, interval: float, latency: float, since: float) -> dict:
    """Gaps between consecutive arrivals at the busiest host (from the farm's kernel timestamps) after
    `since` (the crawl's start; the parse-rate sample fetched pages before): how far they stay from the
    interval, and the idle time beyond interval + latency + 50 ms."""
    arrivals: dict[str, list[float]] = {}
    with open(log_path, encoding="utf-8") as fh:
        for line in fh:
            host, arrived, _, _ = json.loads(line)
            if arrived >= since:
                arrivals.setdefault(host, []).append(arrived)
    host, times = max(arrivals.items(), key=lambda kv: len(kv[1]))
    times.sort()
    gaps = [b - a for a, b in zip(times, times[1:])]
    slack = interval + latency + 0.05
    idle = [g - slack for g in gaps if g > slack]
    ordered = sorted(gaps)
    return {"host": host, "requests": len(times), "span": times[-1] - times[0], "min": ordered[0],
            "median": statistics.median(ordered), "p95": ordered[int(0.95 * (len(ordered) - 1))], "max": ordered[-1],
            "idle_gaps": len(idle), "idle_s": sum(idle), "first": times[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--directories", type=int, default=300)
    parser.add_argument("--boards", type=int, default=200)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--interval", type=float, default=1.0, help="politeness interval per host (real default 1.0)")
    parser.add_argument("--latency", type=float, default=0.2, help="farm's added latency per response (s)")
    parser.add_argument("--parse-sample", type=int, default=150, help="sites sampled for the parse-rate part")
    parser.add_argument("--timeout", type=float, default=3600)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-crawl-"))
    farm, info = start_farm(tmp, args)
    redis_server = EmbeddedRedis(tmp / "redis").start()
    procs = []
    try:
        conf = tmp / "cluster.yaml"
        conf.write_text(f"data_dir: {tmp}\ndefault_interval: {args.interval}\nsites_dirs: [{tmp / 'sites'}]\n", encoding="utf-8")
        cluster = load_cluster(conf)
        sites = load_sites(cluster.sites_paths, {"FARM_PORT": str(info["port"])})
        rate = parse_rate(sites, args.parse_sample)
        client = redis_server.client()
        farm_cpu0, redis_cpu0 = cpu_seconds(farm.pid), cpu_seconds(redis_server.pid)
        t0 = time.monotonic()
        runs = seed_sites(client, cluster, list(sites.values()))
        procs = start_workers(args.workers, redis_server.url, conf=str(conf), log_dir=str(tmp))
        rss = PeakRss([p.pid for p in procs])
        frontier = Frontier(client, cluster.key_prefix)
        last = [0.0]

        def tick(state):
            if time.monotonic() - last[0] > 30:
                print(f"[{time.monotonic() - t0:6.0f}s] {progress_line(state)}", file=sys.stderr, flush=True)
                last[0] = time.monotonic()

        final = wait_for_runs(frontier, list(runs.values()), timeout=args.timeout, poll=1.0, on_tick=tick)
        wall = time.monotonic() - t0
        peaks = rss.stop()
        cpu = {"workers": sum(cpu_seconds(p.pid) for p in procs), "farm": cpu_seconds(farm.pid) - farm_cpu0,
               "redis": cpu_seconds(redis_server.pid) - redis_cpu0}
        from collections import Counter
        import re as _re

        reasons = Counter(_re.sub(r"\d+", "N", e["reason"])[:90] for run_id in runs.values()
                          for e in frontier.run_errors(run_id))
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait()
        farm.terminate()
        farm.wait()
        redis_server.stop()
    timeline = host_timeline(tmp / "requests.jsonl", args.interval, args.latency, since=t0)

    pages = [int(r.get("pages", 0)) for r in final.values()]
    items = sum(int(r.get("items", 0)) for r in final.values())
    unfinished = sum(1 for r in final.values() if r.get("status") != "finished")
    bound = max(pages) * args.interval
    print(f"\n### Crawl: {args.directories} directories + {args.boards} boards, {args.workers} workers, "
          f"interval {args.interval} s, farm latency {args.latency} s\n")
    print("| measure | value |\n|---|---|")
    print(f"| sites / unfinished | {len(final)} / {unfinished} |")
    print(f"| pages fetched / items (staff rows + posts) | {sum(pages):,} / {items:,} |")
    print(f"| busiest host's pages × interval (lower bound) | {bound:,.0f} s |")
    print(f"| wall time | {wall:,.0f} s ({wall / bound:.2f}× the bound) |")
    print(f"| cluster throughput | {sum(pages) / wall:,.1f} pages/s |")
    print(f"| peak RSS per worker | {', '.join(f'{v / 2**20:.0f} MB' for v in peaks.values())} |")
    print(f"| parse rate, our extractor (decode + select + records) | {rate['ours']:,.0f} pages/s/process "
          f"over {rate['pages']} pages of {rate['mean_kb']:.0f} KB |")
    print(f"| parse rate, raw lxml.html.fromstring on the same bytes | {rate['raw']:,.0f} pages/s/process |")
    print(f"| median pages per site | {statistics.median(pages):.0f} |")
    total = sum(pages)
    print(f"| CPU per page: crawler processes / farm / redis-server | {cpu['workers'] / total * 1000:.1f} / "
          f"{cpu['farm'] / total * 1000:.1f} / {cpu['redis'] / total * 1000:.1f} ms "
          f"(of {2 * wall / total * 1000:.1f} ms of the 2 cores' time per page) |")
    print(f"| busiest host `{timeline['host']}`: requests, first to last arrival (first after the start) | "
          f"{timeline['requests']} in {timeline['span']:.0f} s ({timeline['first'] - t0:.1f} s) |")
    print(f"| its gaps between arrivals: min / median / p95 / max | {timeline['min']:.3f} / {timeline['median']:.3f} / "
          f"{timeline['p95']:.3f} / {timeline['max']:.3f} s |")
    print(f"| its idle time beyond interval + latency + 50 ms | {timeline['idle_s']:.1f} s in {timeline['idle_gaps']} gaps |")
    for reason, count in reasons.most_common(5):
        print(f"| errors: {reason} | {count} |")


if __name__ == "__main__":
    main()

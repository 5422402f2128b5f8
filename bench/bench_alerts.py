"""Alert latency under the scheduler: from a post's publication on the farm to its appearance in the feed.

    python3 bench/bench_alerts.py --cycle 60 --posts 10

Nothing is started by hand: the cluster runs as `nugo up` runs it — the scheduler (boards every `--cycle`
seconds, the index writer every 5 s), Celery workers, two crawl workers with the real politeness default
(1 request/s per host) and the web service. Posts are published on farm boards at random moments; each
post's latency is the time until the official's RSS feed, fetched over HTTP from the web service, lists it.
The target (issue 12): p95 <= one board cycle + 15 s.
"""
from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from conf.embedded_redis import EmbeddedRedis, free_port  # noqa: E402
from farm import Farm  # noqa: E402
from notifier.tokens import ensure_tokens  # noqa: E402

SUBSCRIPTIONS = """\
officials:
  - id: bench
    name: 벤치 담당
    topics:
      - {name: 드론, query: 드론우주항공}
"""
BOARDS = ["gyeongnam-press", "seoul-press", "busan-announce", "korea-kr-press", "ulsan-press", "jeju-press"]


def nugo(conf: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "workers.cli", "--conf", str(conf), *args]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cycle", type=int, default=60, help="seconds between board crawls (the board schedule)")
    parser.add_argument("--posts", type=int, default=10, help="posts to publish")
    parser.add_argument("--interval", type=float, default=1.0, help="politeness interval per host (real default 1 s)")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-alerts-"))
    sites = tmp / "sites"
    sites.mkdir()
    for board in BOARDS:
        shutil.copy(ROOT / "conf" / "sites" / "farm" / f"{board}.yaml", sites / f"{board}.yaml")
    (tmp / "subs.yaml").write_text(SUBSCRIPTIONS, encoding="utf-8")
    redis_server = EmbeddedRedis(tmp / "redis").start()
    port = free_port()
    conf = tmp / "cluster.yaml"
    conf.write_text(f"data_dir: {tmp}\ndefault_interval: {args.interval}\nsubscriptions: {tmp / 'subs.yaml'}\n"
                    f"sites_dirs: [{sites}]\nboard_schedule: \"every {args.cycle}s\"\n"
                    f"web: {{host: 127.0.0.1, port: {port}}}\n", encoding="utf-8")
    procs = []
    with Farm(seed=1) as farm:
        env = {**os.environ, "NUGO_REDIS_URL": redis_server.url, "NUGO_FARM_PORT": str(farm.port),
               "PYTHONPATH": str(ROOT)}
        for args_ in (("worker", "-n", "2"), ("celery-worker", "--queues", "index", "--concurrency", "1"),
                      ("celery-worker", "--queues", "crawl,notify,housekeeping"), ("scheduler",),
                      ("serve", "--workers", "1")):
            log = open(tmp / f"{args_[0]}-{len(procs)}.log", "ab")
            procs.append(subprocess.Popen(nugo(conf, *args_), env=env, stdout=log, stderr=subprocess.STDOUT,
                                          start_new_session=True))
        client = redis_server.client()
        token = ensure_tokens(client, "nugo", ["bench"])["bench"]
        feed = f"http://127.0.0.1:{port}/feeds/{token}.rss"
        rng = random.Random(7)
        latencies = []
        try:
            deadline = time.monotonic() + 20 * args.cycle
            while len([b for b in BOARDS if client.llen(f"nugo:site:{b}:runs") >= 2]) < len(BOARDS):
                assert time.monotonic() < deadline, f"the boards' first runs never finished; logs in {tmp}"
                time.sleep(1)  # the first cycle of each board is its baseline (its backlog is not news)
            for n in range(args.posts):
                time.sleep(rng.uniform(0, args.cycle))
                site = rng.choice(BOARDS)
                title = f"드론우주항공 정책 안내 {n}"
                farm.publish(site, title=title, body="드론우주항공 산업 육성 계획을 밝혔다.")
                published = time.monotonic()
                while True:
                    try:
                        body = urllib.request.urlopen(feed, timeout=10).read().decode()
                    except OSError:
                        body = ""
                    if title in body:
                        break
                    if time.monotonic() - published > args.cycle * 5:
                        raise SystemExit(f"post {n} never reached the feed; logs in {tmp}")
                    time.sleep(0.5)
                latencies.append(time.monotonic() - published)
                print(f"post {n} on {site}: {latencies[-1]:.1f} s", file=sys.stderr, flush=True)
        finally:
            for proc in procs:
                os.killpg(proc.pid, signal.SIGTERM)
            for proc in procs:
                proc.wait(60)
            redis_server.stop()
    ordered = sorted(latencies)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    print(f"\n### Alert latency under the scheduler: board cycle {args.cycle} s, interval {args.interval:g} s, "
          f"{len(latencies)} posts\n")
    print("| measure | seconds |\n|---|---|")
    print(f"| median | {statistics.median(latencies):.1f} |")
    print(f"| p95 | {p95:.1f} |")
    print(f"| max | {max(latencies):.1f} |")
    print(f"| target: cycle + 15 s | {args.cycle + 15} |")


if __name__ == "__main__":
    main()

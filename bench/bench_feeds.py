"""Feed-serving latency through the real web service (gunicorn, HTTP), full answers and 304s.

    python3 bench/bench_feeds.py --officials 1000 --alerts 50 --requests 1000 --clients 4

Records `--alerts` alerts for each of `--officials` officials in a private redis-server, starts
`python -m web.serve`, then fetches random officials' RSS feeds (200) and re-fetches them with
their ETag (304), from `--clients` concurrent clients (threads, each its own sequence of officials),
after a warm-up of 50 pairs per client.
"""
from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from conf.embedded_redis import EmbeddedRedis  # noqa: E402
from notifier.match import Matcher  # noqa: E402
from notifier.store import AlertStore, register  # noqa: E402
from notifier.subscription import load_subscriptions  # noqa: E402
from notifier.tokens import ensure_tokens  # noqa: E402

WORDS = ["드론", "탄소중립", "청년일자리", "한부모", "수소", "스마트팜", "관광", "도로", "감염병", "귀농"]


def make_data(tmp: Path, client, officials: int, alerts: int) -> dict[str, str]:
    lines = ["officials:"]
    for i in range(officials):
        lines += [f"  - id: o{i}", f"    name: 공무원{i}", "    topics:", f"      - {{name: t, query: 주제{i}}}"]
    (tmp / "subs.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    subs = load_subscriptions(tmp / "subs.yaml")
    register(client, "nugo", subs, now=0)
    store, matcher = AlertStore(client, "nugo"), Matcher(subs)
    posts = []
    for i in range(officials):
        for j in range(alerts):
            posts.append({"type": "post", "id": f"p{i}-{j}", "site": "seoul-press", "organization": "서울특별시",
                          "region": "서울", "org_kind": "province", "board_kind": "press",
                          "url": f"https://example.go.kr/view?id={i}-{j}", "title": f"주제{i} {random.choice(WORDS)} 안내 {j}",
                          "date": "2026-11-20T10:00:00+09:00", "department": "정책과", "author": "",
                          "body": f"주제{i}에 관한 보도자료 본문입니다. " * 8, "attachments": [], "post_id": f"{i}-{j}",
                          "first_seen": "2026-11-21T00:00:00+00:00"})
        if len(posts) >= 5000:
            store.record(matcher.match(posts), posts, now=1_800_000_000)
            posts = []
    if posts:
        store.record(matcher.match(posts), posts, now=1_800_000_000)
    return ensure_tokens(client, "nugo", [s.id for s in subs])


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--officials", type=int, default=1000)
    parser.add_argument("--alerts", type=int, default=50)
    parser.add_argument("--requests", type=int, default=1000, help="pairs (200 then 304) in all, after the warm-up")
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-feeds-"))
    server = EmbeddedRedis(tmp / "redis").start()
    proc = None
    try:
        tokens = list(make_data(tmp, server.client(), args.officials, args.alerts).values())
        (tmp / "cluster.yaml").write_text(f"data_dir: {tmp}\nsubscriptions: subs.yaml\n", encoding="utf-8")
        env = {**os.environ, "NUGO_REDIS_URL": server.url}
        proc = subprocess.Popen([sys.executable, "-m", "web.serve", "--conf", str(tmp / "cluster.yaml"),
                                 "--host", "127.0.0.1", "--port", "0"], cwd=ROOT, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        url = None
        while url is None:
            line = proc.stdout.readline()
            if not line:
                raise SystemExit("the web service did not start")
            found = re.search(r"(http://127\.0\.0\.1:\d+/)", line)
            url = found and found.group(1)
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{url}feeds/{tokens[0]}.rss", timeout=5).read()  # /healthz wants a whole cluster
                break
            except (urllib.error.URLError, OSError):  # not up yet (refused, reset, timed out)
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        full, cached, sizes = [], [], []
        lock = threading.Lock()

        def client(number: int, pairs: int) -> None:
            rng = random.Random(number)
            for n in range(pairs + 50):
                token = rng.choice(tokens)
                t0 = time.perf_counter()
                with urllib.request.urlopen(f"{url}feeds/{token}.rss", timeout=30) as answer:
                    body, tag = answer.read(), answer.headers["ETag"]
                t1 = time.perf_counter()
                try:
                    urllib.request.urlopen(urllib.request.Request(f"{url}feeds/{token}.rss",
                                                                  headers={"If-None-Match": tag}), timeout=30)
                    raise SystemExit("expected 304")
                except urllib.error.HTTPError as exc:
                    assert exc.code == 304
                t2 = time.perf_counter()
                if n >= 50:  # warm-up done
                    with lock:
                        full.append((t1 - t0) * 1000)
                        cached.append((t2 - t1) * 1000)
                        sizes.append(len(body))

        threads = [threading.Thread(target=client, args=(k, args.requests // args.clients)) for k in range(args.clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        if proc:
            proc.terminate()
            proc.wait()
        server.stop()
    print(f"\n### Feed serving: {args.officials:,} officials × {args.alerts} alerts, {len(full):,} requests each kind, "
          f"{args.clients} concurrent clients\n")
    print("| answer | p50 (ms) | p95 (ms) | p99 (ms) |\n|---|---:|---:|---:|")
    for name, values in ((f"200, RSS of {statistics.mean(sizes) / 1024:.0f} KB", full), ("304 (If-None-Match)", cached)):
        print(f"| {name} | {percentile(values, 0.5):.1f} | {percentile(values, 0.95):.1f} | {percentile(values, 0.99):.1f} |")


if __name__ == "__main__":
    main()

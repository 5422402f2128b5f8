"""Recovery benchmark: every worker killed with SIGKILL mid-crawl, against the same crawl without a kill.

    python3 bench/bench_recovery.py --directories 6 --boards 3 --workers 3 --at 0.4 --repeat 3

Starts the large site farm (real HTTP) with `--directories` + `--boards` sites, a private redis-server
and `nugo worker -n WORKERS` (the supervisor the PCs run, with its worker processes) with the real
politeness (1 request/s per host) and lease (conf/defaults.py). First a crawl without a kill: its pages
give the total and its time from the moment `--at` of the pages were fetched to the end. Then,
`--repeat` times, the same crawl where at that moment every worker process gets SIGKILL; the supervisor
returns their send slots and leases (crawlers.reclaim) and starts new ones. Reported: the time from the
kill to the end against the no-kill run's from the same point, and the items delivered more than once
on the stream (at-least-once; the index keeps one of each by id). `--no-reclaim` kills the supervisor
too and starts a new one, so the dead workers' share comes back by expiry only. Prints a markdown table.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_crawl import start_farm  # noqa: E402
from conf.defaults import LEASE_SECONDS  # noqa: E402
from conf.embedded_redis import EmbeddedRedis  # noqa: E402
from conf.keys import Keys  # noqa: E402
from conf.loader import load_cluster, load_sites  # noqa: E402
from crawlers.frontier import Frontier  # noqa: E402
from crawlers.seed import seed_sites  # noqa: E402
import psutil  # noqa: E402


def crawl(tmp: Path, name: str, sites_dir: Path, port: int, args, kill_at: int | None) -> dict:
    """One crawl in a fresh redis-server; with `kill_at`, every worker is killed when that many pages are done."""
    work = tmp / name
    work.mkdir()
    server = EmbeddedRedis(work / "redis").start()
    procs = []
    try:
        conf = work / "cluster.yaml"
        conf.write_text(f"data_dir: {work}\nsites_dirs: [{sites_dir}]\n", encoding="utf-8")
        cluster = load_cluster(conf)
        sites = load_sites(cluster.sites_paths, {"FARM_PORT": str(port)})
        client = server.client()
        frontier = Frontier(client, cluster.key_prefix)
        t0 = time.monotonic()
        runs = list(seed_sites(client, cluster, list(sites.values())).values())
        supervisor = start_supervisor(server.url, conf, work, args.workers)
        procs = [supervisor]
        marks, killed_pages, samples = {}, None, []
        while True:
            state = {r: frontier.run(r) or {} for r in runs}
            pages = sum(int(s.get("pages", 0)) for s in state.values())
            samples.append((time.monotonic(), pages))
            if kill_at is not None and "kill" not in marks and pages >= kill_at:
                children = psutil.Process(supervisor.pid).children()
                if args.no_reclaim:  # the supervisor dies with them: nobody saw them die
                    os.kill(supervisor.pid, signal.SIGKILL)
                for child in children:
                    os.kill(child.pid, signal.SIGKILL)
                marks["kill"], killed_pages = time.monotonic(), pages
                if args.no_reclaim:
                    supervisor.wait()
                    psutil.wait_procs(children, timeout=10)
                    supervisor = start_supervisor(server.url, conf, work, args.workers)
                    procs.append(supervisor)
            if all(s.get("status") not in (None, "running") for s in state.values()):
                break
            if time.monotonic() - t0 > args.timeout:
                raise SystemExit(f"{name}: not finished after {args.timeout:.0f} s")
            time.sleep(0.1)
        end = time.monotonic()
        print(f"{name}: {pages:,} pages in {end - t0:.0f} s", file=sys.stderr, flush=True)
        entries = client.xrange(Keys(cluster.key_prefix).items)
        keys = Counter()
        for _, fields in entries:
            item = json.loads(fields[b"json"])
            if item.get("type") in ("staff", "post"):
                keys[(fields.get(b"run_id"), item.get("id"))] += 1
        return {"wall": end - t0, "pages": pages, "unfinished": sum(1 for s in state.values() if s.get("status") != "finished"),
                "items": sum(keys.values()), "unique": len(keys), "duplicates": sum(keys.values()) - len(keys),
                "end": end, "samples": samples, "from_mark": end - marks["kill"] if "kill" in marks else None,
                "killed_at_pages": killed_pages}
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in procs:
            proc.wait()
        server.stop()


def start_supervisor(url: str, conf: Path, work: Path, workers: int) -> subprocess.Popen:
    """`nugo worker -n workers`, its log in `work`."""
    env = {**os.environ, "NUGO_REDIS_URL": url}
    with open(work / "supervisor.log", "ab") as log:
        return subprocess.Popen([sys.executable, "-m", "workers.cli", "--conf", str(conf), "worker", "-n", str(workers),
                                 "--log-file", str(work / "workers.log")], cwd=ROOT, env=env, stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--directories", type=int, default=6)
    parser.add_argument("--boards", type=int, default=3)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--at", type=float, default=0.4, help="kill when this share of the pages is fetched")
    parser.add_argument("--repeat", type=int, default=3, help="crawls with a kill")
    parser.add_argument("--latency", type=float, default=0.05, help="farm's added latency per response (s)")
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--no-reclaim", action="store_true", help="kill the supervisor too: recovery by expiry only")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-recovery-"))
    farm, info = start_farm(tmp, args)
    try:
        base = crawl(tmp, "no-kill", tmp / "sites", info["port"], args, None)
        at_pages = int(base["pages"] * args.at)
        base["from_mark"] = base["end"] - next(t for t, pages in base["samples"] if pages >= at_pages)
        killed = [crawl(tmp, f"kill-{n}", tmp / "sites", info["port"], args, at_pages) for n in range(args.repeat)]
    finally:
        farm.terminate()
        farm.wait()
    how = "the supervisor killed too (expiry only)" if args.no_reclaim else "reclaimed and restarted by the supervisor"
    print(f"\n### Recovery: {args.directories} directories + {args.boards} boards, {args.workers} workers, "
          f"all killed (SIGKILL) at {args.at:.0%} of the pages, {how}; lease {LEASE_SECONDS} s\n")
    print("| run | wall (s) | from the kill (or the same point) to the end (s) | pages | items delivered / unique "
          "(duplicates) | unfinished |\n|---|---:|---:|---:|---:|---:|")
    for name, r in [("no kill", base)] + [(f"kill {n + 1}", r) for n, r in enumerate(killed)]:
        print(f"| {name} | {r['wall']:.1f} | {r['from_mark']:.1f} | {r['pages']:,} | {r['items']:,} / "
              f"{r['unique']:,} ({r['duplicates']:,}) | {r['unfinished']} |")
    worst = max(r["from_mark"] for r in killed) - base["from_mark"]
    print(f"\nWorst kill-to-end minus the no-kill run's time from the same point: {worst:+.1f} s; items lost: "
          f"{max(base['unique'] - r['unique'] for r in killed)} (unique items of the no-kill run not delivered)")


if __name__ == "__main__":
    main()

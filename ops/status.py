"""The state of the cluster an operator reads: `nugo status`, the /status page, /healthz and operator alerts.

Per site: its last run (start, end, result: healthy / refused and why / failed, pages, rows or posts,
errors, retries), a run in progress, its next scheduled run and its last success. Per machine: the
crawl workers, Celery workers, index writer, scheduler and web processes alive (heartbeats) and their
memory. The queue depth, the leases in flight and the item stream's length and lag; Redis memory.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import time

import redis

from conf.heartbeat import alive
from conf.keys import Keys
from conf.loader import Cluster, site_files
from conf.schedules import parse_schedule
from conf.timezone import SEOUL
from conf.yamlsource import ConfigError, read_yaml
from crawlers.frontier import Frontier
from index.state import site_status
from index.stream import lag

logger = logging.getLogger(__name__)

LAG_LIMIT = 200_000        # stream entries waiting before /healthz says the writer cannot keep up
RESULTS_KO = {"live": "정상", "board": "정상", "dropped": "반영 보류", "flagged": "경고", "failed": "실패",
              "cancelled": "취소", "running": "진행 중"}


def configured_sites(cluster: Cluster) -> dict[str, dict]:
    """Site id -> the few fields status needs (kind, organization, schedule, enabled), read leniently."""
    out = {}
    for path in site_files([p for p in cluster.sites_paths if p.is_dir()]):
        try:
            data = read_yaml(path).data or {}
        except ConfigError:
            data = {}
        if not isinstance(data, dict):
            data = {}
        kind = data.get("kind") if data.get("kind") in ("directory", "board") else None
        default = cluster.directory_schedule if kind == "directory" else cluster.board_schedule
        out[path.stem] = {"kind": kind, "organization": str(data.get("organization") or ""),
                          "name": str(data.get("name") or path.stem), "enabled": data.get("enabled") is not False,
                          "schedule": str(data.get("schedule") or default)}
    return out


def _next_run(text: str, now: dt.datetime) -> str | None:
    try:
        return parse_schedule(text).next(now).isoformat()
    except ValueError:
        return None


def _period(text: str, now: dt.datetime) -> float | None:
    try:
        schedule = parse_schedule(text)
    except ValueError:
        return None
    after = schedule.next(now)
    return (schedule.next(after) - after).total_seconds()


def site_rows(cluster: Cluster | None, client: redis.Redis | None, index_dir=None) -> dict[str, dict]:
    """Per configured site (and any site the index knows), what an operator needs to know. Without a cluster,
    the sites the index at `index_dir` knows."""
    now = dt.datetime.now(SEOUL)
    index = site_status(index_dir or cluster.index_dir)
    frontier = Frontier(client, cluster.key_prefix, cluster.lease_seconds) if client is not None and cluster else None
    rows = {}
    for site, conf in {**{s: {} for s in index}, **(configured_sites(cluster) if cluster else {})}.items():
        judged = index.get(site) or {}
        last = judged.get("last_run") or {}
        row = {"site": site, "kind": conf.get("kind") or last.get("kind"), "organization": conf.get("organization")
               or judged.get("organization") or "", "enabled": conf.get("enabled", not cluster), "configured": bool(conf),
               "schedule": conf.get("schedule"), "next_run": _next_run(conf["schedule"], now) if conf else None,
               "period_seconds": _period(conf["schedule"], now) if conf else None,
               "last_success": judged.get("healthy_at"), "flagged": judged.get("flagged"), "rows": judged.get("rows", 0),
               "last_run": None, "running": None}
        if last:
            stats = last.get("stats") or {}
            outcome = last.get("status") if last.get("status") in ("failed", "cancelled") else last.get("outcome")
            row["last_run"] = {"run_id": last.get("run_id"), "started_at": last.get("started_at"),
                               "ended_at": last.get("ended_at"), "status": last.get("status"), "result": outcome,
                               "result_ko": RESULTS_KO.get(outcome, outcome or "—"), "reason": last.get("reason"),
                               "slot": last.get("slot"), "rows": last.get("rows"), "posts": stats.get("items"),
                               **{k: stats.get(k) for k in ("pages", "errors", "retries", "failed", "gave_up")}}
        if frontier is not None:
            try:
                for run in frontier.latest_runs(site, 1):
                    if run.get("status") == "running":
                        row["running"] = {k: run.get(k) for k in ("run_id", "started_at", "pages", "items", "errors",
                                                                 "retries", "pending", "slot")}
            except redis.RedisError:
                pass
        rows[site] = row
    return rows


def cluster_status(cluster: Cluster, client: redis.Redis | None) -> dict:
    """Everything `nugo status --json` prints; the parts that need Redis say so when it is down."""
    keys = Keys(cluster.key_prefix)
    out: dict = {"generated_at": time.time(), "redis": {"ok": False}, "processes": [], "queue": {}, "stream": {},
                 "conditions": [], "config_problems": {}}
    if client is not None:
        try:
            client.ping()
            memory = client.info("memory")
            out["redis"] = {"ok": True, "used_memory": memory.get("used_memory"), "maxmemory": memory.get("maxmemory"),
                            "maxmemory_policy": memory.get("maxmemory_policy")}
            frontier = Frontier(client, cluster.key_prefix, cluster.lease_seconds)
            out["queue"] = {"queued": frontier.queued(), "in_flight": frontier.in_flight(),
                            "poisoned": frontier.poisoned_count(), "active_runs": len(frontier.active_runs())}
            out["stream"] = lag(client, keys.items)
            out["processes"] = alive(client, cluster.key_prefix)
            out["conditions"] = [json.loads(v) | {"id": k.decode() if isinstance(k, bytes) else k}
                                 for k, v in client.hgetall(keys.ops("conditions")).items()]
            out["config_problems"] = {(k.decode() if isinstance(k, bytes) else k): json.loads(v)
                                      for k, v in client.hgetall(keys.config_problems).items()}
        except redis.RedisError as exc:
            out["redis"] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
            client = None
    out["sites"] = site_rows(cluster, client)
    out["health"] = health(out)
    return out


def index_status(index_dir) -> dict:
    """The status an index alone can tell (a web service without Redis or configuration)."""
    return {"generated_at": time.time(), "redis": {"ok": None}, "processes": [], "queue": {}, "stream": {},
            "conditions": [], "config_problems": {}, "sites": site_rows(None, None, index_dir),
            "health": {"ok": True, "checks": []}}


def quick_health(cluster: Cluster, client: redis.Redis) -> dict:
    """The /healthz checks alone, fast (short timeouts, no site files read)."""
    status = {"redis": {"ok": False}, "processes": [], "stream": {}}
    try:
        client.ping()
        status["redis"]["ok"] = True
        status["processes"] = alive(client, cluster.key_prefix, "indexer")
        status["stream"] = lag(client, Keys(cluster.key_prefix).items)
    except redis.RedisError as exc:
        status["redis"]["error"] = f"{type(exc).__name__}: {exc}"
    return health(status)


def health(status: dict) -> dict:
    """The checks /healthz answers with: Redis reachable, the index writer alive, the stream's lag bounded."""
    checks = [{"name": "redis", "ok": bool(status["redis"].get("ok")), "detail": status["redis"].get("error", "")}]
    writer = [p for p in status["processes"] if p.get("role") == "indexer"]
    checks.append({"name": "index-writer", "ok": bool(writer),
                   "detail": "heartbeat fresh" if writer else "no index writer heartbeat in the last 2 minutes"})
    unread = int((status["stream"] or {}).get("unread") or 0) + int((status["stream"] or {}).get("pending") or 0)
    checks.append({"name": "stream-lag", "ok": unread < LAG_LIMIT, "detail": f"{unread} entries waiting"})
    if not status["redis"].get("ok"):
        checks[1]["ok"], checks[2]["ok"] = False, False
    return {"ok": all(c["ok"] for c in checks), "checks": checks}

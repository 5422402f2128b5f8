"""Housekeeping (a scheduled task, every minute): expired leases back to the queue, the stream trimmed, and
the checks whose results become operator alerts (notifier.operator).

Conditions an operator hears about, each once when it starts and once when it clears:

    refused:SITE        a site's last run was refused or failed (fewer rows, layout changed, pages unreachable…)
    stale:SITE          a board had no healthy crawl for `board_missed_cycles` of its cycles
    stalled             the item stream holds entries and no index writer is alive
    gone:ROLE:HOST      a PC's crawl workers / Celery workers / index writer / scheduler stopped sending heartbeats
    disk:HOST           the index's disk has less free space than `min_free_disk_mb` (the writer waits)
    memory              Redis uses over 90 % of its maxmemory (producers retry on OOM until there is room)
    config:SOURCE       a running service found problems in a configuration file
"""
from __future__ import annotations

import json
import logging
import time

import redis

from conf.keys import Keys
from conf.loader import Cluster
from crawlers.frontier import Frontier
from index.stream import trim
from notifier.operator import mail_now, reconcile
from notifier.text import flag_text, parse_time
from ops.status import cluster_status

logger = logging.getLogger(__name__)

GONE_AFTER = 90        # seconds without a heartbeat before a PC's processes of a role count as gone
FORGET_AFTER = 7 * 86400  # a PC silent this long is forgotten (its alert clears)
ROLES_KO = {"crawl": "크롤 작업자", "celery": "Celery 작업자", "indexer": "색인기", "scheduler": "스케줄러", "web": "웹 서비스"}


def conditions(cluster: Cluster, status: dict, seen: dict[str, float], now: float) -> dict[str, str]:
    """The conditions holding now, as {id: Korean text}; `seen` ("role:host" -> last heartbeat) is updated."""
    out: dict[str, str] = {}
    for site, row in status["sites"].items():
        if not row.get("configured") or not row.get("enabled"):
            continue
        name = f"{row.get('organization') or site} ({site})"
        if row.get("flagged"):
            out[f"refused:{site}"] = f"{name}: 최근 수집을 반영하지 않았습니다. {flag_text(row['flagged'])}"
        period = row.get("period_seconds")
        last = row.get("last_success")
        if row.get("kind") == "board" and period and last:
            stamp = parse_time(last)
            if stamp and now - stamp.timestamp() > cluster.board_missed_cycles * period:
                out[f"stale:{site}"] = (f"{name}: 게시판이 {cluster.board_missed_cycles}회 넘게 정상 수집되지 않았습니다 "
                                        "(관련 공무원의 피드가 멈춥니다).")
    for process in status["processes"]:
        seen[f"{process['role']}:{process['host']}"] = float(process.get("at") or now)
        if process.get("role") == "indexer" and process.get("disk_free_mb") is not None \
                and float(process["disk_free_mb"]) < cluster.min_free_disk_mb:
            out[f"disk:{process['host']}"] = (f"{process['host']}: 색인 디스크 여유가 {process['disk_free_mb']} MB로 "
                                              f"{cluster.min_free_disk_mb} MB보다 적어 색인을 멈췄습니다.")
    for name, at in list(seen.items()):
        role, host = name.split(":", 1)
        if now - at > FORGET_AFTER:
            del seen[name]
        elif now - at > GONE_AFTER:
            out[f"gone:{name}"] = f"{host}: {ROLES_KO.get(role, role)}가 {int((now - at) // 60)}분째 응답하지 않습니다."
    stream = status.get("stream") or {}
    if status["redis"].get("ok") and (int(stream.get("unread") or 0) + int(stream.get("pending") or 0)) \
            and not any(p.get("role") == "indexer" for p in status["processes"]):
        out["stalled"] = f"수집 항목 {stream.get('unread', 0)}건이 쌓이는데 색인기가 없습니다 (검색과 알림이 멈춥니다)."
    memory = status["redis"]
    if memory.get("maxmemory") and memory.get("used_memory", 0) > 0.9 * memory["maxmemory"]:
        out["memory"] = f"Redis 메모리가 한도의 {memory['used_memory'] / memory['maxmemory']:.0%}입니다."
    for source, problem in (status.get("config_problems") or {}).items():
        out[f"config:{source}"] = f"설정 파일 문제 ({source}): {(problem.get('problems') or ['?'])[0]}"
    return out


def run_housekeeping(cluster: Cluster, client: redis.Redis, now: float | None = None) -> dict:
    """One pass: reap, trim, check, and record the alerts; returns what it did."""
    now = time.time() if now is None else now
    keys = Keys(cluster.key_prefix)
    reaped = Frontier(client, cluster.key_prefix, cluster.lease_seconds).reap()
    trimmed = trim(client, keys.items)
    status = cluster_status(cluster, client)
    raw = client.hget(keys.ops("state"), "seen")
    seen = json.loads(raw) if raw else {}
    current = conditions(cluster, status, seen, now)
    try:
        client.hset(keys.ops("state"), "seen", json.dumps(seen))
        events = reconcile(client, cluster.key_prefix, current, now)
    except redis.exceptions.OutOfMemoryError:
        # Redis is full (noeviction): the alert cannot be recorded there, so it goes straight to the operators
        logger.error("Redis 메모리 가득 참: 쓰기가 모두 거부됩니다 / Redis is out of memory: every write is refused")
        mail_now(cluster, "Redis 메모리가 가득 차 모든 쓰기가 거부됩니다. 수집·색인·알림이 멈춰 있습니다 "
                          "(작업은 잃지 않고 메모리가 생기면 다시 합니다). Redis maxmemory를 늘리거나 항목 스트림을 확인하세요.")
        return {"reaped": reaped, "trimmed": trimmed, "conditions": len(current), "events": 0, "mail": False,
                "redis": "out of memory"}
    return {"reaped": reaped, "trimmed": trimmed, "conditions": len(current), "events": len(events),
            "mail": bool(events and cluster.operators)}

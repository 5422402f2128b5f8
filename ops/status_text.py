"""`nugo status` as a Korean table for a terminal (crawled and configured text printed inertly)."""
from __future__ import annotations

import datetime as dt

from conf.timezone import SEOUL
from index.cli_search import fit, inert
from notifier.text import parse_time

ROLES_KO = {"crawl": "크롤", "celery": "Celery", "indexer": "색인기", "scheduler": "스케줄러", "web": "웹"}
KIND_KO = {"directory": "명부", "board": "게시판"}


def when(value) -> str:
    if value in (None, ""):
        return "—"
    if isinstance(value, (int, float)):
        stamp = dt.datetime.fromtimestamp(float(value), dt.timezone.utc)
    else:
        stamp = parse_time(value, dt.timezone.utc)
    return f"{stamp.astimezone(SEOUL):%m-%d %H:%M}" if stamp else "—"


def _n(value) -> str:
    return "—" if value in (None, "") else f"{int(float(value)):,}"


def status_table(status: dict) -> str:
    health = status["health"]
    failing = [c["name"] for c in health["checks"] if not c["ok"]]
    now = dt.datetime.fromtimestamp(status["generated_at"], SEOUL)
    lines = [f"클러스터 상태 ({now:%Y-%m-%d %H:%M}): " + ("정상" if health["ok"] else "문제 있음 — " + ", ".join(failing))]
    redis = status["redis"]
    if redis.get("ok"):
        queue, stream = status["queue"], status["stream"]
        lines.append(f"Redis 정상 · 메모리 {redis.get('used_memory', 0) / 2**20:.1f} MB · 큐 대기 {queue.get('queued', 0):,} · "
                     f"처리 중 {queue.get('in_flight', 0):,} · 진행 중인 수집 {queue.get('active_runs', 0)} · "
                     f"항목 스트림 {stream.get('length', 0):,}건 (색인 대기 {stream.get('unread', 0):,}, 처리 중 "
                     f"{stream.get('pending', 0):,})")
    else:
        lines.append(f"Redis 연결 안 됨: {inert(redis.get('error'))}")
    lines += ["", "프로세스 (PC별):"]
    hosts: dict[str, dict[str, list]] = {}
    for p in status["processes"]:
        hosts.setdefault(p.get("host", "?"), {}).setdefault(p.get("role", "?"), []).append(p)
    if not hosts:
        lines.append("  살아 있는 프로세스가 없습니다 (nugo up, 또는 각 PC의 서비스를 확인하세요)")
    for host, roles in sorted(hosts.items()):
        parts = [f"{ROLES_KO.get(r, r)} {len(ps)}개 {sum(float(p.get('memory_mb') or 0) for p in ps):.0f} MB"
                 for r, ps in sorted(roles.items())]
        lines.append(f"  {fit(inert(host), 20)}  " + " · ".join(parts))
    lines += ["", "사이트:", "  " + "  ".join(fit(h, w) for h, w in HEAD).rstrip()]
    for site, row in sorted(status["sites"].items(), key=lambda kv: (kv[1].get("kind") or "", kv[0])):
        last = row.get("last_run") or {}
        running = row.get("running")
        result = "진행 중" if running else (last.get("result_ko") or "—")
        if row.get("flagged") and not running:
            result = "⚠ " + result
        count = last.get("posts") if row.get("kind") == "board" else last.get("rows")
        cells = [inert(site), KIND_KO.get(row.get("kind"), "?"), when((running or last).get("started_at")), result,
                 _n((running or last).get("pages")), _n(count), _n((running or last).get("errors")),
                 _n((running or last).get("retries")), when(row.get("next_run")), when(row.get("last_success"))]
        lines.append("  " + "  ".join(fit(c, w) for c, (_, w) in zip(cells, HEAD)).rstrip())
        if row.get("flagged") and not running:
            lines.append(f"      사유: {inert(row['flagged'])}")
    if status.get("conditions"):
        lines += ["", "운영 알림 (진행 중):"] + [f"  {when(c.get('since'))}  {inert(c.get('text'))}" for c in status["conditions"]]
    for source, problem in (status.get("config_problems") or {}).items():
        lines += ["", f"설정 문제 ({source}):"] + [f"  {inert(p)}" for p in problem.get("problems", [])[:10]]
    return "\n".join(lines) + "\n"


HEAD = (("사이트", 22), ("종류", 6), ("최근 시작", 11), ("결과", 12), ("페이지", 7), ("행/글", 7), ("오류", 5),
        ("재시도", 6), ("다음 일정", 11), ("마지막 정상", 11))

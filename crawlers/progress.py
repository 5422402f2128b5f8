"""Watch crawl runs until they end, with counters per site."""
from __future__ import annotations

import sys
import time
from typing import Callable

from crawlers.frontier import Frontier

STATUS_KO = {"running": "진행 중", "finished": "완료", "failed": "실패", "cancelled": "취소"}


def wait_for_runs(frontier: Frontier, run_ids: list[str], *, timeout: float | None = None, poll: float = 0.5,
                  on_tick: Callable[[dict[str, dict]], None] | None = None) -> dict[str, dict]:
    """Poll until every run has ended (or the timeout passes); returns the runs as last read."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        runs = {run_id: frontier.run(run_id) or {} for run_id in run_ids}
        if on_tick:
            on_tick(runs)
        if all(run.get("status") not in (None, "running") for run in runs.values()):
            return runs
        if deadline is not None and time.monotonic() > deadline:
            return runs
        time.sleep(poll)


def progress_line(runs: dict[str, dict]) -> str:
    done = sum(1 for r in runs.values() if r.get("status") != "running")
    pages = sum(int(r.get("pages", 0)) for r in runs.values())
    items = sum(int(r.get("items", 0)) for r in runs.values())
    errors = sum(int(r.get("errors", 0)) for r in runs.values())
    return f"사이트 {done}/{len(runs)} 완료 · 페이지 {pages:,} · 항목 {items:,} · 오류 {errors:,}"


def summary_table(runs: dict[str, dict]) -> str:
    lines = [f"{'사이트':<22}{'상태':<8}{'페이지':>8}{'항목':>8}{'오류':>6}  시간"]
    for run in sorted(runs.values(), key=lambda r: r.get("site", "")):
        elapsed = float(run.get("ended_at") or time.time()) - float(run.get("started_at") or time.time())
        lines.append(f"{run.get('site', '?'):<22}{STATUS_KO.get(run.get('status'), run.get('status', '?')):<8}"
                     f"{int(run.get('pages', 0)):>8}{int(run.get('items', 0)):>8}{int(run.get('errors', 0)):>6}  {elapsed:.1f}s")
    return "\n".join(lines)


def live_printer(stream=sys.stderr) -> Callable[[dict[str, dict]], None]:
    """A one-line live counter on a terminal, a line every few seconds otherwise."""
    last = [0.0]

    def tick(runs):
        now = time.monotonic()
        if stream.isatty():
            stream.write("\r" + progress_line(runs) + "   ")
            stream.flush()
        elif now - last[0] > 5:
            stream.write(progress_line(runs) + "\n")
            last[0] = now
    return tick

"""The single index writer and directory snapshots, on a real Redis stream fed like the crawler feeds it."""
from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from whoosh.query import Every

from index.search import PostSearcher, StaffSearcher
from index.state import site_status
from index.store import STAFF, IndexerBusy, Store
from tests.synthetic import staff_rows
from conf.wire import append, run_event
from index.stream import GROUP
from index.writer import consume

ROOT = Path(__file__).resolve().parent.parent
SITE = ("gyeongnam", "경상남도", "경남", "province", "055")


def end_run(client, prefix: str, site: str, run_id: str, *, status: str = "finished", kind: str = "directory",
            **run) -> None:
    append(client, prefix, [run_event(run_id, site, status=status, kind=kind, **run)])


def site_rows(n: int, run_id: str, seed: int = 1) -> list[dict]:
    rows = staff_rows(n, seed=seed, sites=[SITE])
    for i, row in enumerate(rows):
        row["id"] = f"row-{i:05d}"  # the same person keeps the same id in every run
        row["run_id"] = run_id
    return rows


def post(i: int, run_id: str = "gyeongnam-press-r1", **extra) -> dict:
    item = {"type": "post", "id": f"p{i:04d}", "site": "gyeongnam-press", "organization": "경상남도", "region": "경남",
            "org_kind": "province", "board_kind": "press", "url": f"https://example.kr/press/{i}",
            "title": f"드론 산업 보도자료 {i}", "date": f"2026-03-{1 + i % 28:02d}T09:00:00+09:00", "department": "드론산업과",
            "author": "홍보담당", "body": f"청년일자리 본문 {i}", "attachments": [], "post_id": str(i), "run_id": run_id}
    item.update(extra)
    return item


def staff_count(store: Store, run_id: str | None = None) -> int:
    with store.open(STAFF).searcher() as s:
        if run_id is None:
            return len(s.search(Every(), limit=None))
        return len(list(s.documents(run_id=run_id)))


# --- writer -------------------------------------------------------------------------------------

def test_items_become_searchable_after_commit(redis_client, prefix, tmp_path):
    append(redis_client, prefix, site_rows(120, "gyeongnam-r1") + [post(i) for i in range(30)])
    end_run(redis_client, prefix, "gyeongnam", "gyeongnam-r1")
    stats = consume(redis_client, prefix, tmp_path, once=True, batch=50)
    assert (stats.staff, stats.posts, stats.runs, stats.swapped) == (120, 30, 1, 1)
    assert stats.acked == stats.read == 151
    assert redis_client.xpending(f"{prefix}:items", GROUP)["pending"] == 0
    staff = StaffSearcher(tmp_path)
    assert len(staff) == 120
    assert staff.search("055").total == 120
    posts = PostSearcher(tmp_path)
    found = posts.search("드론 일자리")
    assert found.total == 30
    assert [h["date"] for h in found.hits] == sorted((h["date"] for h in found.hits), reverse=True)
    assert all(h["first_seen"] for h in found.hits)


def test_redelivery_never_duplicates_and_keeps_first_seen(redis_client, prefix, tmp_path):
    rows, posts = site_rows(80, "gyeongnam-r1"), [post(i) for i in range(20)]
    append(redis_client, prefix, rows + posts)
    consume(redis_client, prefix, tmp_path, once=True)
    before = {h["id"]: h["first_seen"] for h in PostSearcher(tmp_path).search("드론", per_page=100).hits}
    time.sleep(1.1)  # first_seen has one-second resolution in the stored row
    append(redis_client, prefix, rows + posts + [post(99)])  # the crawler delivers everything again
    end_run(redis_client, prefix, "gyeongnam", "gyeongnam-r1")
    consume(redis_client, prefix, tmp_path, once=True)
    store = Store(tmp_path)
    assert staff_count(store, "gyeongnam-r1") == 80
    assert len(StaffSearcher(tmp_path)) == 80
    after = {h["id"]: h["first_seen"] for h in PostSearcher(tmp_path).search("드론", per_page=100).hits}
    assert len(after) == 21
    assert all(after[i] == before[i] for i in before)
    assert after["p0099"] > max(before.values())


def test_the_same_item_twice_in_one_batch_is_one_document(redis_client, prefix, tmp_path):
    rows, posts = site_rows(30, "gyeongnam-r1"), [post(i) for i in range(10)]
    append(redis_client, prefix, rows + posts + rows + posts)
    end_run(redis_client, prefix, "gyeongnam", "gyeongnam-r1")
    consume(redis_client, prefix, tmp_path, once=True)
    assert staff_count(Store(tmp_path)) == 30 and len(StaffSearcher(tmp_path)) == 30
    assert PostSearcher(tmp_path).search("드론").total == 10


def test_crash_between_read_and_commit_loses_and_duplicates_nothing(redis_server, redis_client, prefix, tmp_path):
    append(redis_client, prefix, site_rows(300, "gyeongnam-r1") + [post(i) for i in range(40)])
    end_run(redis_client, prefix, "gyeongnam", "gyeongnam-r1")
    code = ("import sys, redis; from index.writer import consume; from tests.doubles import crash_at_commit; "
            "consume(redis.Redis.from_url(sys.argv[1]), sys.argv[2], sys.argv[3], once=True, batch=100, "
            "before_commit=crash_at_commit(3))")
    proc = subprocess.run([sys.executable, "-c", code, redis_server.url, prefix, str(tmp_path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1, proc.stderr
    pending = redis_client.xpending(f"{prefix}:items", GROUP)
    assert pending["pending"] == 100  # read by the dead writer, never acknowledged
    assert staff_count(Store(tmp_path)) == 200  # two batches were committed before the crash
    stats = consume(redis_client, prefix, tmp_path, once=True, consumer="writer-2")
    assert stats.recovered == 100
    assert redis_client.xpending(f"{prefix}:items", GROUP)["pending"] == 0
    assert staff_count(Store(tmp_path), "gyeongnam-r1") == 300
    assert len(StaffSearcher(tmp_path)) == 300
    assert PostSearcher(tmp_path).search("드론").total == 40


def test_second_writer_fails_clearly_or_waits(redis_client, prefix, tmp_path):
    holder = Store(tmp_path)
    holder.acquire_writer()
    try:
        with pytest.raises(IndexerBusy, match="only one writer"):
            consume(redis_client, prefix, tmp_path, once=True)
        started = time.monotonic()
        with pytest.raises(IndexerBusy):
            consume(redis_client, prefix, tmp_path, once=True, lock_wait=0.3)
        assert time.monotonic() - started >= 0.3
        threading.Timer(0.3, holder.release_writer).start()
        append(redis_client, prefix, [post(1)])
        stats = consume(redis_client, prefix, tmp_path, once=True, lock_wait=10)  # waits, then writes
        assert stats.posts == 1
    finally:
        holder.release_writer()


def test_stop_event_ends_a_blocking_consume(redis_client, prefix, tmp_path):
    stop = threading.Event()
    out = {}
    worker = threading.Thread(target=lambda: out.update(stats=consume(redis_client, prefix, tmp_path, stop=stop,
                                                                      block_ms=100)))
    worker.start()
    append(redis_client, prefix, [post(i) for i in range(5)])
    deadline = time.monotonic() + 10
    while not _all_acked(redis_client, prefix):
        assert time.monotonic() < deadline, "the consumer did not index the items in time"
        time.sleep(0.05)
    stop.set()
    worker.join(10)
    assert not worker.is_alive() and out["stats"].posts == 5


def _all_acked(client, prefix: str) -> bool:
    stream = f"{prefix}:items"
    groups = client.xinfo_groups(stream)
    last = client.xinfo_stream(stream)["last-generated-id"]
    return bool(groups) and groups[0]["last-delivered-id"] == last and groups[0]["pending"] == 0


def test_bad_entries_are_skipped_and_acknowledged(redis_client, prefix, tmp_path):
    redis_client.xadd(f"{prefix}:items", {"type": "staff", "run_id": "x", "json": "{not json"})
    redis_client.xadd(f"{prefix}:items", {"type": "mystery", "run_id": "x", "json": "{}"})
    stats = consume(redis_client, prefix, tmp_path, once=True)
    assert stats.bad == 2 and stats.acked == 2


# --- directory snapshots ------------------------------------------------------------------------

def _live(tmp_path):
    return site_status(tmp_path)["gyeongnam"]


def test_healthy_run_replaces_the_live_rows_atomically(redis_client, prefix, tmp_path):
    append(redis_client, prefix, site_rows(200, "gyeongnam-r1", seed=1))
    end_run(redis_client, prefix, "gyeongnam", "gyeongnam-r1")
    consume(redis_client, prefix, tmp_path, once=True)
    searcher = StaffSearcher(tmp_path)
    assert {h["run_id"] for h in searcher.search("055", per_page=1000).hits} == {"gyeongnam-r1"}

    append(redis_client, prefix, site_rows(150, "gyeongnam-r2", seed=2))  # 75 % of the live rows: healthy
    consume(redis_client, prefix, tmp_path, once=True)
    searcher.refresh()
    during = searcher.search("055", per_page=1000)  # the run is in progress: only the old rows
    assert during.total == 200 and {h["run_id"] for h in during.hits} == {"gyeongnam-r1"}

    end_run(redis_client, prefix, "gyeongnam", "gyeongnam-r2")
    consume(redis_client, prefix, tmp_path, once=True)
    assert searcher.search("055").total == 200  # an open searcher keeps its view until refresh()
    assert searcher.refresh() is True
    after = searcher.search("055", per_page=1000)
    assert after.total == 150 and {h["run_id"] for h in after.hits} == {"gyeongnam-r2"}
    status = _live(tmp_path)
    assert (status["live_run"], status["rows"], status["flagged"]) == ("gyeongnam-r2", 150, None)
    assert status["healthy_at"]
    store = Store(tmp_path)
    assert staff_count(store, "gyeongnam-r1") == 0 and staff_count(store) == 150
    assert searcher.refresh() is False


SWAP_SIZES = {"gyeongnam-r1": 120, "gyeongnam-r2": 100, "gyeongnam-r3": 140, "gyeongnam-r4": 90, "gyeongnam-r5": 130}
WATCH = """
import json, sys, time
from index.search import StaffSearcher
searcher, end = StaffSearcher(sys.argv[1]), time.monotonic() + float(sys.argv[2])
while time.monotonic() < end:
    searcher.refresh()
    found = searcher.search("055", per_page=1000)
    print(json.dumps([found.total, sorted({h["run_id"] for h in found.hits})]), flush=True)
    time.sleep(0.002)
"""


def watch_swaps(redis_client, prefix, tmp_path, searcher) -> tuple[list, list]:
    """Swap a site's directory four times while other threads search it (one refreshes, two search) and two
    other processes refresh and search on their own; returns what the threads and the processes saw."""
    seen, done = [], threading.Event()

    def refresher():
        while not done.is_set():
            searcher.refresh()
            time.sleep(0.001)

    def looker():
        while not done.is_set():
            found = searcher.search("055", per_page=1000)
            seen.append((found.total, {h["run_id"] for h in found.hits}))
            time.sleep(0.001)  # yield the GIL: a busy loop can starve the writer for minutes

    threads = [threading.Thread(target=refresher)] + [threading.Thread(target=looker) for _ in range(2)]
    procs = [subprocess.Popen([sys.executable, "-c", WATCH, str(tmp_path), "6"], cwd=ROOT, stdout=subprocess.PIPE,
                              text=True) for _ in range(2)]
    for thread in threads:
        thread.start()
    try:
        for n, run_id in enumerate(list(SWAP_SIZES)[1:], 2):
            append(redis_client, prefix, site_rows(SWAP_SIZES[run_id], run_id, seed=n))
            end_run(redis_client, prefix, "gyeongnam", run_id)
            consume(redis_client, prefix, tmp_path, once=True)
            time.sleep(0.3)  # let every searcher see this run before the next swap
    finally:
        done.set()
        for thread in threads:
            thread.join(30)
    outside = [json.loads(line) for proc in procs for line in proc.communicate(timeout=60)[0].splitlines()]
    return seen, [(total, set(runs)) for total, runs in outside]


def test_searches_during_swaps_never_see_a_mix(redis_client, prefix, tmp_path):
    """A search from another thread or process sees a site's old rows or its new rows, never a mix or none.
    `tests.doubles.non_atomic_staff_searcher` publishes the swap in two steps; against it the same check
    fails (the last part of this test), so the check can fail."""
    append(redis_client, prefix, site_rows(SWAP_SIZES["gyeongnam-r1"], "gyeongnam-r1", seed=1))
    end_run(redis_client, prefix, "gyeongnam", "gyeongnam-r1")
    consume(redis_client, prefix, tmp_path, once=True)
    searcher = StaffSearcher(tmp_path)
    seen, outside = watch_swaps(redis_client, prefix, tmp_path, searcher)
    assert len(seen) > 50 and len(outside) > 50
    for total, runs in seen + outside:
        assert len(runs) == 1 and total == SWAP_SIZES[next(iter(runs))]
    assert len({frozenset(r) for _, r in seen}) >= 3  # the threads really saw several swaps
    searcher.refresh()  # five swaps: ids were compacted on the way, results stay exact
    assert searcher.search("055", per_page=1000).total == 130 and len(searcher) == 130


def test_the_swap_check_catches_a_non_atomic_swap(redis_client, prefix, tmp_path):
    from tests.doubles import non_atomic_staff_searcher

    append(redis_client, prefix, site_rows(SWAP_SIZES["gyeongnam-r1"], "gyeongnam-r1", seed=1))
    end_run(redis_client, prefix, "gyeongnam", "gyeongnam-r1")
    consume(redis_client, prefix, tmp_path, once=True)
    seen, _ = watch_swaps(redis_client, prefix, tmp_path, non_atomic_staff_searcher(tmp_path))
    assert any(len(runs) != 1 or total != SWAP_SIZES.get(next(iter(runs), ""), -1) for total, runs in seen)


@pytest.mark.parametrize("rows, status, reason", [
    (40, "finished", "fewer than 50%"),
    (0, "finished", "0 rows"),
    (180, "failed", "failed"),
    (180, "cancelled", "cancelled"),
])
def test_unhealthy_run_keeps_the_old_rows_and_flags_the_site(redis_client, prefix, tmp_path, rows, status, reason):
    append(redis_client, prefix, site_rows(200, "gyeongnam-r1", seed=1))
    end_run(redis_client, prefix, "gyeongnam", "gyeongnam-r1")
    append(redis_client, prefix, site_rows(rows, "gyeongnam-r2", seed=2))
    end_run(redis_client, prefix, "gyeongnam", "gyeongnam-r2", status=status, reason="site unreachable")
    stats = consume(redis_client, prefix, tmp_path, once=True)
    assert (stats.swapped, stats.dropped) == (1, 1)
    found = StaffSearcher(tmp_path).search("055", per_page=1000)
    assert found.total == 200 and {h["run_id"] for h in found.hits} == {"gyeongnam-r1"}
    status_ = _live(tmp_path)
    assert status_["live_run"] == "gyeongnam-r1" and status_["rows"] == 200
    assert reason in status_["flagged"] and "gyeongnam-r2" in status_["flagged"]
    flag = json.loads(redis_client.hget(f"{prefix}:flags", "gyeongnam"))
    assert flag["run_id"] == "gyeongnam-r2" and reason in flag["reason"]
    if status != "finished":
        assert "site unreachable" in flag["reason"]
    assert staff_count(Store(tmp_path), "gyeongnam-r2") == 0  # the dropped run's rows are gone

    # the next healthy run clears the flag
    append(redis_client, prefix, site_rows(190, "gyeongnam-r3", seed=3))
    end_run(redis_client, prefix, "gyeongnam", "gyeongnam-r3")
    consume(redis_client, prefix, tmp_path, once=True)
    assert _live(tmp_path)["flagged"] is None and redis_client.hget(f"{prefix}:flags", "gyeongnam") is None


def test_first_run_with_zero_rows_is_flagged_and_nothing_is_live(redis_client, prefix, tmp_path):
    end_run(redis_client, prefix, "gyeongnam", "gyeongnam-r1")
    consume(redis_client, prefix, tmp_path, once=True)
    status = _live(tmp_path)
    assert status["live_run"] is None and "0 rows" in status["flagged"]
    assert StaffSearcher(tmp_path).search("055").total == 0


def test_late_items_and_repeated_run_events_change_nothing(redis_client, prefix, tmp_path):
    rows = site_rows(100, "gyeongnam-r1")
    append(redis_client, prefix, rows)
    end_run(redis_client, prefix, "gyeongnam", "gyeongnam-r1")
    consume(redis_client, prefix, tmp_path, once=True)
    late = site_rows(130, "gyeongnam-r1", seed=9)[100:]
    append(redis_client, prefix, late)  # a worker whose lease expired pushes after the end
    end_run(redis_client, prefix, "gyeongnam", "gyeongnam-r1")  # and the event arrives twice
    stats = consume(redis_client, prefix, tmp_path, once=True)
    assert stats.late == 30 and stats.swapped == 0
    assert StaffSearcher(tmp_path).search("055").total == 100
    assert _live(tmp_path)["rows"] == 100


def test_board_runs_flag_failures_without_touching_posts(redis_client, prefix, tmp_path):
    append(redis_client, prefix, [post(i) for i in range(3)])
    end_run(redis_client, prefix, "gyeongnam-press", "gyeongnam-press-r1", status="failed", kind="board")
    consume(redis_client, prefix, tmp_path, once=True)
    assert "failed" in site_status(tmp_path)["gyeongnam-press"]["flagged"]
    assert PostSearcher(tmp_path).search("드론").total == 3
    end_run(redis_client, prefix, "gyeongnam-press", "gyeongnam-press-r2", kind="board")
    consume(redis_client, prefix, tmp_path, once=True)
    assert site_status(tmp_path)["gyeongnam-press"]["flagged"] is None


def test_sites_swap_independently(redis_client, prefix, tmp_path):
    other = ("changwon", "창원시", "경남", "city", "055")
    append(redis_client, prefix, site_rows(50, "gyeongnam-r1") + staff_rows(30, run="r1", sites=[other]))
    end_run(redis_client, prefix, "gyeongnam", "gyeongnam-r1")
    end_run(redis_client, prefix, "changwon", "changwon-r1")
    consume(redis_client, prefix, tmp_path, once=True)
    searcher = StaffSearcher(tmp_path)
    found = searcher.search("055", per_page=1000)
    assert found.total == 80
    assert [g.organization for g in found.groups] == ["경상남도", "창원시"]  # province before city
    append(redis_client, prefix, site_rows(60, "gyeongnam-r2", seed=5))
    end_run(redis_client, prefix, "gyeongnam", "gyeongnam-r2")
    consume(redis_client, prefix, tmp_path, once=True)
    searcher.refresh()
    assert searcher.search("055", per_page=1000).total == 90
    assert searcher.search("055", organization="창원시").total == 30

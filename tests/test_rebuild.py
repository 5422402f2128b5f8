"""Whoosh is the store of record; the staff snapshots and post segments are caches derived from it.

Delete every cache file, rebuild (`nugo index --rebuild`, or the writer by itself at start), and every
search of the suite gives the same answer: hits in the same order, totals, facets, highlights.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import time

import pytest

from conf.wire import append, run_event
from index.post_search import PostSearcher
from index.rebuild import rebuild
from index.search import StaffSearcher
from index.store import Store
from index.writer import consume
from tests.synthetic import post_items, staff_rows
from tests.test_briefing import AGREEMENT_QUERIES
from tests.test_search import HANDMADE, QUERIES

POST_QUERIES = ["드론", "일자리 청년", "정산", "과", "수소에너지", "보조금 정산", "드론산업과 예산", "시스템운영", "없는단어",
                *AGREEMENT_QUERIES]
STAFF_FILTERS = [{}, {"region": "경남"}, {"organization": "경상남도"}, {"page": 2, "per_page": 10}]
POST_FILTERS = [{}, {"region": "부산"}, {"board_kind": "notice"}, {"sort": "first_seen"}, {"page": 3, "per_page": 7}]


def answers(index_dir) -> dict:
    staff, posts = StaffSearcher(index_dir), PostSearcher(index_dir)
    out = {}
    for query in QUERIES:
        for filters in STAFF_FILTERS:
            found = staff.search(query, **{"per_page": 100_000, **filters})
            out[("staff", query, repr(filters))] = (found.total, [(h["id"], h["highlights"]) for h in found.hits],
                                                    found.facets)
    for query in POST_QUERIES:
        for filters in POST_FILTERS:
            found = posts.search(query, **{"per_page": 100_000, **filters})
            out[("posts", query, repr(filters))] = (found.total, found.error,
                                                    [(h["id"], h["first_seen"], h["highlights"]) for h in found.hits],
                                                    found.facets)
    return out


@pytest.fixture
def index_dir(redis_client, prefix, tmp_path):
    """Staff of two runs (the second live for some sites) and posts over three batches, one re-delivered."""
    rows = staff_rows(3000, seed=5) + HANDMADE
    sites = sorted({r["site"] for r in rows})
    append(redis_client, prefix, rows + [run_event(f"{site}-r1", site) for site in sites])
    again = [r for r in staff_rows(3000, seed=5, run="r2") if r["site"] in sites[:5]]
    append(redis_client, prefix, again + [run_event(f"{site}-r2", site) for site in sites[:5]])
    items = post_items(900, seed=13)
    for chunk in (items[:400], items[400:700] + items[:50], items[700:]):
        append(redis_client, prefix, chunk)
        consume(redis_client, prefix, tmp_path, once=True, batch=150)
        time.sleep(0.01)
    changed = [dict(items[5], title="제목이 바뀐 드론 글"), dict(items[6], body="본문이 바뀐 글")]
    append(redis_client, prefix, changed)
    consume(redis_client, prefix, tmp_path, once=True)
    return tmp_path


def caches(index_dir):
    paths = Store(index_dir, create=False).paths
    return paths.snapshots, paths.views, paths.posts


def delete_caches(index_dir) -> None:
    for folder in caches(index_dir):
        shutil.rmtree(folder, ignore_errors=True)  # no staff views in an index of posts only


def test_every_search_is_the_same_after_the_caches_are_deleted_and_rebuilt(index_dir):
    before = answers(index_dir)
    assert sum(1 for a in before.values() if a[0]) > 100, "the searches must find something to compare"
    delete_caches(index_dir)
    assert all(not v[0] for k, v in answers(index_dir).items()), "with the caches gone nothing is found"
    lines = []
    done = rebuild(index_dir, progress=lines.append)
    assert done.posts == 900 and done.snapshots >= 5 and lines
    assert answers(index_dir) == before


def test_the_writer_rebuilds_missing_caches_at_start(index_dir, redis_client, prefix):
    before = answers(index_dir)
    delete_caches(index_dir)
    consume(redis_client, prefix, index_dir, once=True)
    assert answers(index_dir) == before


def test_the_rebuild_command_refuses_while_the_writer_runs(index_dir, tmp_path_factory):
    store = Store(index_dir)
    store.acquire_writer()
    try:
        with pytest.raises(Exception, match="another indexer"):
            rebuild(index_dir)
    finally:
        store.release_writer()


def test_nugo_index_rebuild_prints_progress(redis_client, prefix, tmp_path_factory):
    data = tmp_path_factory.mktemp("data")
    append(redis_client, prefix, post_items(30, seed=2))
    consume(redis_client, prefix, data / "index", once=True)
    (data / "sites").mkdir()
    conf = data / "cluster.yaml"
    conf.write_text(f"data_dir: {data}\nsites_dirs: [{data / 'sites'}]\n", encoding="utf-8")
    delete_caches(data / "index")
    done = subprocess.run([sys.executable, "-m", "workers.cli", "--conf", str(conf), "index", "--rebuild"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "게시글 30건" in done.stdout and "posts 30 of" not in done.stdout, done.stdout
    assert PostSearcher(data / "index").search("다").total == 30


def _post_first_seen(index_dir, query: str) -> dict[str, str]:
    return {h["id"]: h["first_seen"] for h in PostSearcher(index_dir).search(query, per_page=1000).hits}


def test_a_block_the_segments_lack_is_applied_before_the_next_commit(redis_client, prefix, tmp_path):
    """The state a crash leaves between the two commits of a batch: the records' block is durable, the
    segments never got it, and the batch's entries come again. The writer applies the block first, so
    new posts keep the first_seen of their record and a changed one its first_seen and new text.
    Guard: without apply_unreflected the re-delivered new posts are taken for new ones again (first_seen
    = now): the last assert fails."""
    from index.documents import post_doc
    from index.post_store import PostStore
    from index.records import PostRecords
    items = post_items(40, seed=21)
    append(redis_client, prefix, items[:30])
    consume(redis_client, prefix, tmp_path, once=True)
    store = Store(tmp_path)
    held = PostStore(store.paths.posts).lookup([items[0]["id"]])[items[0]["id"]]
    long_ago = 1_600_000_000_000_000  # the new posts were first seen in 2020, by the crashed batch
    docs = [post_doc(dict(items[0], title="제목이 고쳐진 글"), "r1", held.first_seen_us)]
    docs += [post_doc(item, "r1", long_ago) for item in items[30:]]
    for k, doc in enumerate(docs):
        doc.seq = 10_000 + k
    records = PostRecords(store)
    assert records.write(docs) == records.last_block > 0
    del records, store
    append(redis_client, prefix, [dict(items[0], title="제목이 고쳐진 글"), *items[30:]])  # delivered again
    consume(redis_client, prefix, tmp_path, once=True)
    searcher = PostSearcher(tmp_path)
    changed = searcher.search("고쳐진", per_page=100).hits
    assert [h["id"] for h in changed] == [items[0]["id"]]
    assert changed[0]["first_seen"] == docs[0].row["first_seen"]
    seen = {}
    for item in items[30:]:
        hits = searcher.search(item["title"], per_page=1000).hits
        seen[item["id"]] = next(h["first_seen"] for h in hits if h["id"] == item["id"])
    assert all(v.startswith("2020-09-13") for v in seen.values()), seen


def test_records_of_the_first_format_are_converted_once(redis_client, prefix, tmp_path):
    """An index written by the first format (a Whoosh document per post) is converted into blocks at the
    writer's start, its posts keep their first_seen, and the old index's files are gone."""
    from whoosh.fields import ID, STORED, Schema
    from index.documents import post_doc
    store = Store(tmp_path)
    old_schema = Schema(id=ID(unique=True, stored=True), run_id=STORED, first_seen_us=STORED, seq=STORED,
                        chash=STORED, row=STORED)
    old = store.storage.create_index(old_schema, indexname="post_records")
    writer = old.writer()
    for k, item in enumerate(post_items(25, seed=4)):
        doc = post_doc(item, "r1", 1_600_000_000_000_000 + k)
        writer.add_document(id=doc.id, run_id="r1", first_seen_us=doc.first_seen_us, seq=k, chash=doc.chash, row=doc.row)
    writer.commit()
    old.close()
    del store
    consume(redis_client, prefix, tmp_path, once=True)
    seen = _post_first_seen(tmp_path, "다")
    assert len(seen) == 25 and all(v.startswith("2020-09-13") for v in seen.values())
    assert not [f for f in (tmp_path / "whoosh").iterdir() if "post_records" in f.name]


def test_a_swap_whose_view_was_not_written_is_completed_at_the_next_start(redis_client, prefix, tmp_path):
    """The writer marks the staff view stale at a swap and writes it after the batch: a crash in
    between leaves the live map naming the new run but the old view. The next start writes the view
    of the live snapshots, so the new rows are searched (fails if the start trusted the named view)."""
    from conf.wire import decode_entry, item_fields
    from index.runs import handle_run_event
    from index.state import LiveState

    rows = staff_rows(300, seed=4)
    site = rows[0]["site"]
    mine = [r for r in rows if r["site"] == site]
    append(redis_client, prefix, mine + [run_event(f"{site}-r1", site)])
    consume(redis_client, prefix, tmp_path, once=True)
    assert {h["run_id"] for h in StaffSearcher(tmp_path).search("0", per_page=10_000).hits} == {f"{site}-r1"}
    second = [dict(r, run_id=f"{site}-r2") for r in mine]
    append(redis_client, prefix, second)
    consume(redis_client, prefix, tmp_path, once=True)  # the rows are committed; the run end comes now
    store = Store(tmp_path)
    state = LiveState.load(store.paths)
    store.acquire_writer()
    try:
        _, event = decode_entry(item_fields(run_event(f"{site}-r2", site)))
        assert handle_run_event(store, state, event) == "live"  # ...and the writer dies here
    finally:
        store.release_writer()
    searcher = StaffSearcher(tmp_path)
    assert {h["run_id"] for h in searcher.search("0", per_page=10_000).hits} == {f"{site}-r1"}  # the old view
    consume(redis_client, prefix, tmp_path, once=True)  # the next start
    assert searcher.refresh()
    found = searcher.search("0", per_page=10_000)
    assert found.total == len(mine) and {h["run_id"] for h in found.hits} == {f"{site}-r2"}


def test_a_live_map_entry_that_is_not_a_site_or_snapshot_is_left_out_of_the_view(tmp_path, caplog):
    """The view is built from the live map on disk: a site id or snapshot name that would leave the
    snapshots folder is left out with one error, and the rest of the view is written."""
    from index.staff_view import StaffView, write_view
    from index.store import IndexPaths

    paths = IndexPaths(tmp_path)
    sites = {"../../etc": {"run_id": "x-r1", "snapshot": "x-r1"},
             "busan": {"run_id": "busan-r1", "snapshot": "../../../tmp/x"}}
    with caplog.at_level("ERROR", logger="index.staff_view"):
        name = write_view(paths.views, paths.site_snapshots, sites)
    assert len([r for r in caplog.records if "cannot be read" in r.getMessage()]) == 2
    assert StaffView(paths.views / name, paths.site_snapshots).ranges == []

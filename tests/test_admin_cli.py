"""The administrators' commands (issue 14): officials, official add|show|rotate-token, export, digest failures."""
from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys

import pytest

from conf.wire import append, run_event
from index.writer import consume
from tests.smtp import smtp_server


def nugo(conf, *args, env=None):
    return subprocess.run([sys.executable, "-m", "workers.cli", "--conf", str(conf), *args], capture_output=True,
                          text=True, timeout=60, env={**os.environ, **(env or {})})


@pytest.fixture
def setup(private_redis, tmp_path):
    folder = tmp_path / "officials"
    folder.mkdir()
    (folder / "kim.yaml").write_text("name: 김민수\nemail: kim@example.go.kr\ntopics: [{name: 드론, query: 드론}]\n",
                                     encoding="utf-8")
    conf = tmp_path / "cluster.yaml"
    (tmp_path / "sites").mkdir()
    conf.write_text(f"data_dir: {tmp_path / 'data'}\nsubscriptions: {folder}\nsites_dirs: [{tmp_path / 'sites'}]\n"
                    f"redis_url: redis://127.0.0.1:{private_redis.port}/0\n", encoding="utf-8")
    return conf, folder, {"NUGO_REDIS_PASSWORD": private_redis.password}


def test_officials_can_be_added_listed_shown_and_rotated(setup, private_redis):
    conf, folder, env = setup
    added = nugo(conf, "official", "add", "lee", "--name", "이서연 사무관", "--email", "lee@example.go.kr",
                 "--topic", "수소=수소 충전소", "--topic", "탄소=탄소중립 OR 온실가스", env=env)
    assert added.returncode == 0, added.stderr
    assert (folder / "lee.yaml").exists() and "개인 페이지" in added.stdout
    assert nugo(conf, "check-config", env=env).returncode == 0
    bad = nugo(conf, "official", "add", "park", "--name", "박", "--topic", '깨짐="수소', env=env)
    assert bad.returncode == 1 and "저장하지 않았습니다" in bad.stderr and not (folder / "park.yaml").exists()
    again = nugo(conf, "official", "add", "lee", "--name", "중복", "--topic", "a=b", env=env)
    assert again.returncode == 1 and "이미 있습니다" in again.stderr
    listed = nugo(conf, "officials", env=env)
    assert listed.returncode == 0 and "kim" in listed.stdout and "이서연 사무관" in listed.stdout
    assert listed.stdout.count("/feeds/") == 2 and listed.stdout.count("/me/") == 2
    shown = nugo(conf, "official", "show", "lee", env=env)
    assert "주제 탄소: 탄소중립 OR 온실가스" in shown.stdout and "/me/" in shown.stdout
    feed_before = [line for line in shown.stdout.splitlines() if "피드" in line][0]
    rotated = nugo(conf, "official", "rotate-token", "lee", env=env)
    assert rotated.returncode == 0 and feed_before.split()[1] not in rotated.stdout
    missing = nugo(conf, "official", "show", "nobody", env=env)
    assert missing.returncode == 1 and "찾을 수 없습니다" in missing.stderr and "Traceback" not in missing.stderr


def test_export_writes_every_stored_record_as_jsonl_and_excel_ready_csv(setup, private_redis, tmp_path):
    conf, _, env = setup
    from tests.test_web import POSTS, STAFF

    client = private_redis.client()
    append(client, "nugo", STAFF + POSTS + [run_event(r, s) for r, s in sorted({(x["run_id"], x["site"]) for x in STAFF})]
           + [run_event(r, s, kind="board") for r, s in sorted({(x["run_id"], x["site"]) for x in POSTS})])
    consume(client, "nugo", tmp_path / "data" / "index", once=True)
    staff = nugo(conf, "export", "staff", "--format", "csv", "-o", str(tmp_path / "staff.csv"), env=env)
    assert staff.returncode == 0, staff.stderr
    raw = (tmp_path / "staff.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 with a BOM: Excel keeps the Korean
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert len(rows) == len(STAFF) and {"기관", "부서", "이름", "전화", "담당업무"} <= set(rows[0])
    assert not any(cell.startswith(("=", "+", "@")) for row in rows for cell in row.values())  # no formulas
    posts = nugo(conf, "export", "posts", env=env)
    records = [json.loads(line) for line in posts.stdout.splitlines()]
    assert len(records) == len(POSTS) and all(r["first_seen"] for r in records)


def test_digest_exits_non_zero_with_one_line_per_failed_official(setup, private_redis):
    conf, folder, env = setup
    from notifier.match import Matcher
    from notifier.store import AlertStore, register
    from notifier.subscription import load_subscriptions

    (folder / "lee.yaml").write_text("name: 이서연\nemail: lee@example.go.kr\ntopics: [{name: 드론, query: 드론}]\n",
                                     encoding="utf-8")
    subs = load_subscriptions(folder)
    client = private_redis.client()
    register(client, "nugo", subs, now=0)
    posts = [{"type": "post", "id": "p1", "site": "gyeongnam-press", "title": "드론 시연회", "body": "", "url": "https://x.kr/1",
              "first_seen": "2024-05-01T00:00:00+00:00"}]
    AlertStore(client, "nugo").record(Matcher(subs).match(posts), posts)
    base = conf.read_text()
    with smtp_server(refuse=True) as (_, port):
        conf.write_text(base + f"smtp: {{host: 127.0.0.1, port: {port}}}\n", encoding="utf-8")
        refused = nugo(conf, "digest", env=env)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    lines = [line for line in refused.stderr.splitlines() if "실패" in line]
    assert len(lines) == 2 and all("받는 주소 거부" in line for line in lines)
    with smtp_server() as (inbox, port):
        conf.write_text(base + f"smtp: {{host: 127.0.0.1, port: {port}}}\n", encoding="utf-8")
        sent = nugo(conf, "digest", env=env)
        again = nugo(conf, "digest", env=env)
    assert sent.returncode == 0 and "요약 메일 2통" in sent.stdout and "요약 메일 0통" in again.stdout
    assert sorted(r[0] for r in inbox.recipients) == ["kim@example.go.kr", "lee@example.go.kr"]  # each once


def test_digests_are_scheduled_per_official(setup):
    """Each official with an e-mail gets a scheduler entry at their digest time (default: weekdays 08:00)."""
    from conf.loader import load_cluster
    from workers.beat import plan

    conf, folder, _ = setup
    (folder / "lee.yaml").write_text("name: 이서연\nemail: lee@example.go.kr\ndigest: 0 17 * * 5\n"
                                     "topics: [{name: 드론, query: 드론}]\n", encoding="utf-8")
    (folder / "park.yaml").write_text("name: 박\ntopics: [{name: 드론, query: 드론}]\n", encoding="utf-8")  # feeds only
    entries = plan(load_cluster(conf)).entries
    digests = {name: e.schedule.text for name, e in entries.items() if name.startswith("digest:")}
    assert digests == {"digest:kim": "0 8 * * 1-5", "digest:lee": "0 17 * * 5"}
    assert entries["digest:kim"].task == "nugo.send_digest" and entries["digest:kim"].args == ("kim",)

"""`nugo up` in a fresh clone: everything comes up, a board cycle runs on schedule, and a post published on the
farm reaches an official's feed with no command typed; Ctrl+C stops every process."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil
import pytest
import redis

from conf.embedded_redis import free_port
from farm import Farm
from notifier.tokens import ensure_tokens

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def _feed(url: str) -> str:
    try:
        return urllib.request.urlopen(url, timeout=5).read().decode()
    except (urllib.error.URLError, OSError):
        return ""


def test_nugo_up_in_a_fresh_clone_delivers_a_new_post_to_a_feed_with_no_command_typed(tmp_path):
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True, timeout=120)
    sites = tmp_path / "sites"
    sites.mkdir()
    for site in ("gyeongnam-press", "ulsan", "jeju-press"):
        shutil.copy(clone / "conf" / "sites" / "farm" / f"{site}.yaml", sites / f"{site}.yaml")
    conf = clone / "conf" / "cluster.yaml"  # an operator's edits: the farm's sites, short schedules for a test
    conf.write_text(conf.read_text(encoding="utf-8").replace("  - sites/farm\n", f"  - {sites}\n")
                    .replace('board_schedule: "*/30 * * * *"', 'board_schedule: "every 10s"')
                    .replace("default_interval: 1.0", "default_interval: 0.05")
                    + 'index_schedule: "every 2s"\nscheduler_tick_seconds: 0.5\n', encoding="utf-8")
    port = free_port()
    with Farm(seed=1) as farm:
        env = {k: v for k, v in os.environ.items() if not k.startswith("NUGO_") and k != "PYTHONPATH"}
        env["NUGO_FARM_PORT"] = str(farm.port)
        up = subprocess.Popen([sys.executable, "-m", "workers.cli", "up", "--web-port", str(port)], cwd=clone, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        state = clone / "var" / "redis" / "redis.json"
        try:
            deadline = time.monotonic() + 60
            while not state.exists():
                assert time.monotonic() < deadline and up.poll() is None, "nugo up did not start its Redis"
                time.sleep(0.2)
            info = json.loads(state.read_text())
            client = redis.Redis(port=info["port"], password=info["password"])
            token = ensure_tokens(client, "nugo", ["kim-minsu"])["kim-minsu"]
            feed = f"http://127.0.0.1:{port}/feeds/{token}.rss"
            deadline = time.monotonic() + 180
            while not client.hget("nugo:active", "gyeongnam-press") and not client.llen("nugo:site:gyeongnam-press:runs"):
                assert time.monotonic() < deadline and up.poll() is None, "no board run was scheduled"
                time.sleep(0.5)
            live = clone / "var" / "index" / "staff" / "live.json"
            while '"baseline"' not in (live.read_text() if live.exists() else ""):  # the board's first crawl: its backlog
                assert time.monotonic() < deadline and up.poll() is None, "the board never finished a first crawl"
                time.sleep(0.5)
            published = farm.publish("gyeongnam-press", title="경남도, 드론 실증 특구 확대 지정",
                                     body="경상남도는 드론산업육성을 위해 실증 특구를 넓힌다고 밝혔다.")
            started = time.monotonic()
            while "드론 실증 특구" not in _feed(feed):
                assert time.monotonic() - started < 90 and up.poll() is None, "the post never reached the feed"
                time.sleep(0.5)
            latency = time.monotonic() - started
            children = psutil.Process(up.pid).children(recursive=True)
        finally:
            up.send_signal(signal.SIGINT)
            try:
                out = up.communicate(timeout=60)[0]
            except subprocess.TimeoutExpired:
                up.kill()
                out = up.communicate()[0]
            subprocess.run([sys.executable, "-m", "workers.cli", "redis", "stop"], cwd=clone, env=env, timeout=60)
    print(f"\nthe published post reached the feed {latency:.1f} s after publication (boards every 10 s)")
    assert published["title"] == "경남도, 드론 실증 특구 확대 지정"
    assert up.returncode == 0 and "모두 멈췄습니다" in out and "Traceback" not in out
    gone, alive = psutil.wait_procs(children, timeout=20)
    assert not alive, f"left running: {[p.cmdline() for p in alive]}"


"""The embedded redis-server: starts, is reused while it lives, stops with nothing left running."""
import os

import pytest
import redis

from conf.embedded_redis import EmbeddedRedis, _alive


def test_start_reuse_stop(tmp_path):
    server = EmbeddedRedis(tmp_path).start()
    try:
        assert server.ping()
        server.client().set("k", "v")
        again = EmbeddedRedis(tmp_path)
        assert again.attach() and again.pid == server.pid and again.port == server.port
        assert again.client().get("k") == b"v"
        assert (tmp_path / "appendonlydir").is_dir()
        assert oct((tmp_path / "redis.json").stat().st_mode & 0o777) == "0o600"
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(port=server.port).ping()
    finally:
        pid = server.pid
        server.stop()
    assert not _alive(pid)
    assert not (tmp_path / "redis.json").exists()
    assert not EmbeddedRedis(tmp_path).attach()


def test_kill_and_restart_keeps_data(tmp_path):
    server = EmbeddedRedis(tmp_path).start()
    try:
        client = server.client()
        client.rpush("q", "a", "b")
        client.execute_command("BGREWRITEAOF")  # make the data durable before a simulated crash
        server_pid = server.pid
        import time

        deadline = time.monotonic() + 10
        while client.info("persistence")["aof_rewrite_in_progress"] and time.monotonic() < deadline:
            time.sleep(0.05)
        server.kill()
        assert not _alive(server_pid) and not server.ping()
        server.restart()
        assert server.client().lrange("q", 0, -1) == [b"a", b"b"]
    finally:
        server.stop()


def test_ensure_starts_when_none(tmp_path):
    server = EmbeddedRedis(tmp_path).ensure()
    try:
        assert server.ping() and os.path.exists(tmp_path / "redis.json")
    finally:
        server.stop()

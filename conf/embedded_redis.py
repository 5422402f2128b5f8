"""A private redis-server that the project starts, reuses while it lives, and stops."""
from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from conf.files import private_dir

logger = logging.getLogger(__name__)

STATE_FILE = "redis.json"


class RedisServerError(RuntimeError):
    pass


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def redis_server_binary() -> str:
    path = shutil.which("redis-server") or ("/usr/bin/redis-server" if os.path.exists("/usr/bin/redis-server") else None)
    if not path:
        raise RedisServerError("redis-server not found: run the README's setup command (it installs Debian's redis-server)")
    return path


class EmbeddedRedis:
    """One redis-server process with its data (AOF on) under `data_dir`.

    `start()` launches it detached so it outlives the command that started it; `attach()`
    finds a running one from its state file; `stop()` shuts it down with a final save.
    """

    def __init__(self, data_dir: str | Path, port: int | None = None, password: str | None = None):
        self.data_dir = Path(data_dir).resolve()
        self.port = port
        self.password = password
        self.pid: int | None = None

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    @property
    def state_path(self) -> Path:
        return self.data_dir / STATE_FILE

    def client(self, **kwargs):
        import redis

        return redis.Redis(host="127.0.0.1", port=self.port, password=self.password, **kwargs)

    def ping(self) -> bool:
        if not self.port:
            return False
        try:
            return bool(self.client(socket_timeout=1, socket_connect_timeout=1).ping())
        except Exception:
            return False

    def attach(self) -> bool:
        """Adopt a running server recorded in the state file; False when none lives."""
        try:
            state = json.loads(self.state_path.read_text())
        except (FileNotFoundError, ValueError):
            return False
        self.port, self.password, self.pid = state["port"], state.get("password"), state.get("pid")
        if _alive(self.pid) and self.ping():
            return True
        self.pid = None
        return False

    def ensure(self) -> "EmbeddedRedis":
        """Reuse the running server, or start one."""
        if not self.attach():
            self.start()
        return self

    def start(self, timeout: float = 15.0) -> "EmbeddedRedis":
        private_dir(self.data_dir)  # its AOF holds the feed tokens: owner only
        for path in self.data_dir.rglob("*"):
            os.chmod(path, 0o700 if path.is_dir() else 0o600)
        self.port = self.port or free_port()
        if self.password is None:
            self.password = secrets.token_urlsafe(24)
        args = [
            redis_server_binary(), "--port", str(self.port), "--bind", "127.0.0.1",
            "--dir", str(self.data_dir), "--appendonly", "yes", "--appendfsync", "everysec",
            "--save", "", "--maxmemory-policy", "noeviction", "--daemonize", "no",
            "--logfile", str(self.data_dir / "redis.log"), "--requirepass", self.password,
        ]
        proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True,
                                preexec_fn=lambda: os.umask(0o077))  # AOF, RDB and log: 0600
        self.pid = proc.pid
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                log = (self.data_dir / "redis.log")
                tail = log.read_text(errors="replace")[-500:] if log.exists() else ""
                raise RedisServerError(f"redis-server exited at start (code {proc.returncode}): {tail}")
            if self.ping():
                self._write_state()
                logger.info("embedded redis-server on 127.0.0.1:%s (pid %s, data %s)", self.port, self.pid, self.data_dir)
                return self
            time.sleep(0.05)
        self.kill()
        raise RedisServerError(f"redis-server did not answer on port {self.port} within {timeout} s")

    def _write_state(self) -> None:
        tmp = self.state_path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump({"port": self.port, "password": self.password, "pid": self.pid}, fh)
        os.replace(tmp, self.state_path)

    def stop(self, timeout: float = 15.0) -> None:
        """Shut down cleanly (AOF flushed); the state file is removed."""
        if self.pid and _alive(self.pid):
            from redis.backoff import NoBackoff
            from redis.retry import Retry

            try:  # no retries: the connection is expected to drop
                self.client(socket_timeout=5, retry=Retry(NoBackoff(), 0)).shutdown(nosave=False)
            except Exception:
                pass
            if not _wait_dead(self.pid, timeout):
                os.kill(self.pid, signal.SIGTERM)
                if not _wait_dead(self.pid, timeout):
                    os.kill(self.pid, signal.SIGKILL)
                    _wait_dead(self.pid, timeout)
        self.pid = None
        self.state_path.unlink(missing_ok=True)

    def kill(self) -> None:
        """Kill -9, as a crash would (tests)."""
        if self.pid and _alive(self.pid):
            os.kill(self.pid, signal.SIGKILL)
            _wait_dead(self.pid, 10)

    def restart(self) -> "EmbeddedRedis":
        """Start again on the same port, data and password (after kill or stop)."""
        return self.start()


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        # Reap our own child if it exited; ignore if it is not our child.
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split()[2] != "Z"
    except OSError:
        return True


def _wait_dead(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return False

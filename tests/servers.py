"""Real servers for tests: the web service under gunicorn, started on a free port and stopped at the end."""
from __future__ import annotations

import contextlib
import os
import queue
import re
import signal
import socketserver
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

ROOT = Path(__file__).resolve().parent.parent
READY = re.compile(r"(?:준비 완료: |Listening at: )(https?://127\.0\.0\.1:\d+/?)")


def _lines(stream, out: queue.Queue) -> None:
    for line in iter(stream.readline, ""):
        out.put(line)


def wait_ready(proc: subprocess.Popen, lines: queue.Queue, timeout: float = 30) -> str:
    """The URL the server printed when ready, once it answers /healthz."""
    deadline, url, seen = time.monotonic() + timeout, None, []
    while url is None:
        assert time.monotonic() < deadline and proc.poll() is None, "".join(seen)
        try:
            seen.append(lines.get(timeout=0.2))
        except queue.Empty:
            continue
        found = READY.search(seen[-1])
        url = found and found.group(1).rstrip("/") + "/"
    while True:  # the workers boot after the ready line: poll until one answers
        try:
            with urllib.request.urlopen(url + "healthz", timeout=30):  # a worker's boot on a loaded machine
                return url
        except urllib.error.HTTPError:
            return url  # it answers (perhaps 503 while a dependency is down)
        except (urllib.error.URLError, ConnectionError):
            assert time.monotonic() < deadline, "".join(seen)
            time.sleep(0.05)


@contextlib.contextmanager
def running(args: list[str], env: dict | None = None, timeout: float = 30):
    """Run a server command (stdout+stderr read in the background); yields (process, url, lines)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=_lines, args=(proc.stdout, lines), daemon=True).start()
    try:
        yield proc, wait_ready(proc, lines, timeout), lines
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def web_server(conf: Path, env: dict | None = None, workers: int = 2, port: int | None = 0):
    """`python -m web.serve` on a free port (port=None: the port of cluster.yaml, for pages that check Origin)."""
    return running([sys.executable, "-m", "web.serve", "--conf", str(conf), "--host", "127.0.0.1",
                    *(["--port", str(port)] if port is not None else []), "--workers", str(workers)], env)


class _Server(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args) -> None:
        pass


@contextlib.contextmanager
def served(app):
    """A WSGI app on a free local port (threaded wsgiref, in this process); yields its root URL (no slash)."""
    server = make_server("127.0.0.1", 0, app, server_class=_Server, handler_class=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

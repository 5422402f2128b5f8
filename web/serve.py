"""Serve the web app with gunicorn; SIGTERM stops it gracefully.

    python -m web.serve --conf conf/cluster.yaml --host 127.0.0.1 --port 8080

Workers are gevent workers: a connection waiting for a slow client's headers costs a greenlet, not a
thread, so a slowloris of hundreds of half-open connections leaves searches and /healthz answering
(the deployment also puts a buffering nginx in front). Each worker process builds its own app
(searchers open after the fork). Port 0 picks a free port; the ready line prints the real address.
The request line may be long (1 MB at most) so that the app, not the server, answers an over-long
API query — with JSON.
"""
from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

from gunicorn.app.base import BaseApplication

from conf.loader import Cluster, load_cluster
from conf.yamlsource import ConfigError

GRACEFUL_SECONDS = 10


class WebServer(BaseApplication):
    """gunicorn running an app factory called once in every worker."""

    def __init__(self, factory: Callable, options: dict):
        self.factory = factory
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            if key in self.cfg.settings:  # settings newer than the installed gunicorn are left out
                self.cfg.set(key, value)

    def load(self):
        return self.factory()


def _url(host: str, port: int, scheme: str = "http") -> str:
    return f"{scheme}://[{host}]:{port}/" if ":" in host else f"{scheme}://{host}:{port}/"


def _when_ready(server) -> None:
    urls = []
    for listener in server.LISTENERS:
        address = listener.sock.getsockname()
        scheme = "https" if server.cfg.is_ssl else "http"
        urls.append(_url(address[0], address[1], scheme) if isinstance(address, tuple) else str(address))
    print(f"누고 웹 서비스 준비 완료: {' '.join(urls)} (작업 프로세스 {server.num_workers}개, "
          "Ctrl+C 또는 SIGTERM으로 종료)", flush=True)


def options(host: str, port: int, workers: int = 2, connections: int = 1000, tls: dict | None = None) -> dict:
    out = {
        "bind": [f"[{host}]:{port}" if ":" in host else f"{host}:{port}"],
        "workers": workers,
        "worker_class": "gevent",
        "worker_connections": connections,
        "limit_request_line": 0,  # up to 1 MB: the app answers an over-long query itself (JSON for /api)
        "timeout": 30,
        "graceful_timeout": GRACEFUL_SECONDS,
        "keepalive": 5,
        "loglevel": "warning",
        "errorlog": "-",
        "accesslog": None,
        "proc_name": "nugo-web",
        "when_ready": _when_ready,
        "control_socket_disable": True,  # no shared $HOME/.gunicorn/gunicorn.ctl between servers
        "worker_tmp_dir": "/dev/shm" if os.path.isdir("/dev/shm") else None,
    }
    if tls and tls.get("cert"):
        out.update(certfile=tls["cert"], keyfile=tls.get("key"))
    return out


def serve(cluster: Cluster, host: str | None = None, port: int | None = None, workers: int = 2) -> None:
    """Run the web service until SIGTERM or Ctrl+C (host and port default to cluster.web)."""
    from web.app import make_app

    web = cluster.web or {}
    host = host or web.get("host") or "127.0.0.1"
    port = web.get("port", 8080) if port is None else port
    tls = {"cert": web.get("tls_cert"), "key": web.get("tls_key")}
    WebServer(lambda: make_app(cluster), options(host, int(port), workers, tls=tls)).run()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m web.serve", description="누고 웹 서비스 실행 (gunicorn)")
    parser.add_argument("--conf", help="cluster.yaml 경로 (기본: conf/cluster.yaml 또는 NUGO_CONF)")
    parser.add_argument("--host", help="주소 (기본: cluster.yaml의 web.host)")
    parser.add_argument("--port", type=int, help="포트 (기본: web.port, 0이면 빈 포트)")
    parser.add_argument("--workers", type=int, default=2, help="작업 프로세스 수 (기본 2)")
    args = parser.parse_args(argv)
    try:
        cluster = load_cluster(args.conf)
    except ConfigError as exc:
        print(f"설정 오류 {len(exc.problems)}건:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 2
    serve(cluster, args.host, args.port, args.workers)
    return 0


if __name__ == "__main__":
    sys.exit(main())

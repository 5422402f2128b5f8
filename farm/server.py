"""One HTTP server listening on many loopback addresses (one per site) with the same port."""
from __future__ import annotations

import logging
import selectors
import socket
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler
from typing import Callable

from farm.site import Response

logger = logging.getLogger(__name__)

SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # Linux value
RESET = object()  # returned by the application: close the connection without any response
App = Callable[[str, str, str, dict, bytes, "float | None"], "Response | object"]


def bind_all(hosts: list[str], port: int = 0, attempts: int = 50) -> tuple[int, list[socket.socket]]:
    """Bind a free port on the first host, then the same port on the others; retry on a clash."""
    for _ in range(attempts):
        sockets: list[socket.socket] = []
        try:
            chosen = port
            for host in hosts:
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                sockets.append(sock)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:  # inherited by accepted sockets, so even a connection's first request is timestamped
                    sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
                except OSError:
                    pass
                sock.bind((host, chosen))
                chosen = sock.getsockname()[1]
            for sock in sockets:
                sock.listen(128)
                sock.setblocking(False)
            return sockets[0].getsockname()[1], sockets
        except OSError:
            for sock in sockets:
                sock.close()
            if port:
                raise
    raise OSError(f"no port free on all of {len(hosts)} addresses after {attempts} attempts")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "Apache"
    sys_version = ""
    timeout = 30  # idle keep-alive connections end after this

    def setup(self):
        super().setup()
        try:  # kernel receive timestamps: the request log records when bytes arrived, not when a thread woke up
            self.connection.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        except OSError:
            pass

    def handle_one_request(self):
        self.arrived = None
        try:
            _, ancillary, _, _ = self.connection.recvmsg(1, socket.CMSG_SPACE(16), socket.MSG_PEEK)
        except (OSError, ValueError):
            ancillary = []
        for level, kind, payload in ancillary:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(payload) >= 16:
                seconds, nanos = struct.unpack("qq", payload[:16])
                self.arrived = seconds + nanos / 1e9 - (time.time() - time.monotonic())
        super().handle_one_request()

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def do_HEAD(self):
        self._dispatch("HEAD")

    def _dispatch(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        host = self.connection.getsockname()[0]
        response = self.server.app(host, method, self.path, self.headers, body, getattr(self, "arrived", None))
        if response is RESET:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            return
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(response.length if response.chunks is not None else len(response.body)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if method == "HEAD":
            return
        if response.chunks is not None:
            for chunk in response.chunks:
                self.wfile.write(chunk)
        else:
            self.wfile.write(response.body)

    def log_message(self, format, *args):  # noqa: A002 - the stdlib's signature
        logger.debug("%s %s", self.address_string(), format % args)


class MultiHostServer:
    """Accepts on every address from one selector thread; each connection is served by its own thread."""

    def __init__(self, hosts: list[str], port: int, app: App):
        self.hosts = hosts
        self.app = app
        self.port, self._sockets = bind_all(hosts, port)
        self._stopping = threading.Event()
        self._wake_r, self._wake_w = socket.socketpair()
        self._lock = threading.Lock()
        self._connections: dict[socket.socket, threading.Thread] = {}
        self._thread = threading.Thread(target=self._accept_loop, name=f"farm-accept-{self.port}", daemon=True)

    @property
    def stopping(self) -> threading.Event:
        return self._stopping

    def start(self) -> "MultiHostServer":
        self._thread.start()
        return self

    def _accept_loop(self) -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(self._wake_r, selectors.EVENT_READ)
            for sock in self._sockets:
                selector.register(sock, selectors.EVENT_READ)
            while not self._stopping.is_set():
                for key, _ in selector.select():
                    if key.fileobj is self._wake_r:
                        return
                    try:
                        conn, address = key.fileobj.accept()
                    except (BlockingIOError, OSError):
                        continue
                    conn.setblocking(True)
                    thread = threading.Thread(target=self._serve, args=(conn, address), daemon=True)
                    with self._lock:
                        self._connections[conn] = thread
                    thread.start()

    def _serve(self, conn: socket.socket, address) -> None:
        try:
            _Handler(conn, address, self)
        except (ConnectionError, TimeoutError, OSError):
            pass
        except Exception:  # a bug in a page must not kill the farm silently
            logger.exception("farm request failed")
        finally:
            with self._lock:
                self._connections.pop(conn, None)
            try:
                conn.close()
            except OSError:
                pass

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        self._wake_w.send(b"x")
        self._thread.join(timeout)
        for sock in self._sockets:
            sock.close()
        with self._lock:
            connections = list(self._connections.items())
        for conn, _ in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for _, thread in connections:
            thread.join(timeout)
        self._wake_r.close()
        self._wake_w.close()

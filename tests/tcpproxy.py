"""A TCP proxy in front of a real server that can cut a connection the moment it carries a chosen command:
the Redis connection dropped while a scheduler takes or renews its lock."""
from __future__ import annotations

import selectors
import socket
import threading


class CuttingProxy:
    def __init__(self, target_port: int, needle: bytes):
        self.target = ("127.0.0.1", target_port)
        self.needle = needle
        self.cutting = threading.Event()
        self.cuts = 0
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        self.server.settimeout(0.2)
        while not self._stop.is_set():
            try:
                client, _ = self.server.accept()
            except OSError:
                continue
            threading.Thread(target=self._pipe, args=(client,), daemon=True).start()

    def _pipe(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self.target)
        except OSError:
            client.close()
            return
        selector = selectors.DefaultSelector()
        selector.register(client, selectors.EVENT_READ, upstream)
        selector.register(upstream, selectors.EVENT_READ, client)
        try:
            while not self._stop.is_set():
                for key, _ in selector.select(0.2):
                    data = key.fileobj.recv(65536)
                    if not data:
                        return
                    if key.fileobj is client and self.cutting.is_set() and self.needle in data:
                        self.cuts += 1
                        return  # the command never reaches Redis: the client sees its connection drop
                    key.data.sendall(data)
        except OSError:
            return
        finally:
            selector.close()
            client.close()
            upstream.close()

    def close(self) -> None:
        self._stop.set()
        self.server.close()
        self._thread.join(2)

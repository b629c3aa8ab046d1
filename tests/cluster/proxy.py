"""A TCP proxy that a test can partition: the process behind it loses its database, not its life.

While partitioned, bytes in both directions are swallowed and new connections are accepted but
never answered, as when a network drops packets: queries hang, nothing fails fast. ``heal``
drops every connection (their streams lost bytes) and forwards new ones again.
"""

from __future__ import annotations

import socket
import threading
from contextlib import suppress

from services import free_port


class PartitionProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self._partitioned = threading.Event()
        self._closed = threading.Event()
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._accept, daemon=True).start()

    def partition(self) -> None:
        self._partitioned.set()

    def heal(self) -> None:
        with self._lock:
            for sock in self._sockets:
                with suppress(OSError):
                    sock.close()
            self._sockets.clear()
        self._partitioned.clear()

    def close(self) -> None:
        self._closed.set()
        self.heal()
        with suppress(OSError):
            self._listener.close()

    def _track(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.add(sock)

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            self._track(client)
            if self._partitioned.is_set():
                continue  # held open, never answered
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            self._track(upstream)
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                if not self._partitioned.is_set():
                    dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                with suppress(OSError):
                    sock.close()

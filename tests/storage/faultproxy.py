"""A real TCP proxy in front of the S3 server that injects faults on chosen connections.

Used with a client that opens a new connection per request (``pool_max_idle_per_host=0``), so a fault
scheduled for the next connection hits exactly the next request. Modes:

- ``"drop_response"``: forward the request to the server, let it act on it, then close the client's
  connection without relaying the answer (a response lost in the network).
- ``"503"``: answer ``503 Service Unavailable`` without contacting the server.
- ``"refuse"``: close the connection at once (a server that is down); see :meth:`FaultProxy.go_down_after`.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections import deque


class FaultProxy:
    def __init__(self, upstream_port: int) -> None:
        self.upstream = ("127.0.0.1", upstream_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._faults: deque[str] = deque()
        self._lock = threading.Lock()
        self.connections = 0
        self.faults_injected = 0
        self.refused = 0
        self._closed = False
        self._down_after: int | None = None
        threading.Thread(target=self._accept_loop, daemon=True).start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def fail_next(self, mode: str, times: int = 1) -> None:
        """Inject ``mode`` on the next ``times`` connections."""
        with self._lock:
            self._faults.extend([mode] * times)

    def go_down_after(self, n: int) -> None:
        """Serve the next ``n`` connections normally, then refuse every one until :meth:`come_up`."""
        with self._lock:
            self._down_after = self.connections + n

    def come_up(self) -> None:
        with self._lock:
            self._down_after = None

    def close(self) -> None:
        self._closed = True
        self._listener.close()

    def _accept_loop(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self.connections += 1
                mode = self._faults.popleft() if self._faults else "pass"
                if self._down_after is not None and self.connections > self._down_after:
                    mode = "refuse"
                    self.refused += 1
                self.faults_injected += mode != "pass"
            threading.Thread(target=self._handle, args=(client, mode), daemon=True).start()

    def _handle(self, client: socket.socket, mode: str) -> None:
        if mode == "refuse":
            client.close()
            return
        if mode == "503":
            try:
                client.recv(65536)
                client.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            finally:
                client.close()
            return
        upstream = socket.create_connection(self.upstream)
        threading.Thread(target=_pipe, args=(client, upstream), daemon=True).start()
        if mode == "drop_response":
            try:
                upstream.recv(65536)  # the server has answered, so it has acted on the request
            finally:
                for s in (client, upstream):
                    with contextlib.suppress(OSError):
                        s.shutdown(socket.SHUT_RDWR)  # wakes the other thread's recv, sends FIN
                    s.close()
            return
        _pipe(upstream, client)


def _pipe(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

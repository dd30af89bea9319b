"""A pass-through TCP proxy on loopback that delays every HTTP request and meters what crosses it.

Both systems of ``benchmarks/objectstore.py`` talk to the same SeaweedFS through it, so the same meter
counts for both: requests (request lines sent by the client), bytes returned (headers included) and
the *sequential round trips* of a cold query, measured from the outside as the longest chain of
requests each sent after the previous one was answered (the most requests of the query that are
pairwise non-overlapping in time: a lower bound on its dependency depth, exact when the requests of
one wave overlap, which the added delay makes sure of). A request is held ``delay_s`` before it is
forwarded, as if the server were that much further away (S3's GET p50 is ~60 ms). :meth:`DelayProxy.drop`
closes every connection open through it, so the next request of any client opens a new one (a cold
query that pays its TCP handshakes, as a first invocation does).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import threading
import time


class DelayProxy:
    def __init__(self, upstream_port: int, delay_s: float = 0.0) -> None:
        self.upstream = ("127.0.0.1", upstream_port)
        self.delay_s = delay_s
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.endpoint = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()  # client and upstream sockets of the live connections
        self.reset()
        threading.Thread(target=self._accept, daemon=True).start()

    def reset(self) -> None:
        with self._lock:
            self.requests = 0
            self.bytes_in = 0
            self.intervals: list[tuple[float, float]] = []  # (sent by the client, answer started) per request

    def round_trips(self) -> int:
        """The longest chain of pairwise non-overlapping requests since :meth:`reset` (greedy by end time)."""
        with self._lock:
            spans = sorted(self.intervals, key=lambda iv: iv[1])
        chain, last_end = 0, float("-inf")
        for start, end in spans:
            if start >= last_end:
                chain, last_end = chain + 1, end
        return chain

    def close(self) -> None:
        self._listener.close()

    def drop(self) -> int:
        """Close every live connection (both sides); returns how many there were."""
        with self._lock:
            sockets, self._open = list(self._open), set()
        for s in sockets:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
        return len(sockets) // 2

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.upstream)
            for s in (client, upstream):  # a relay must not hold segments back (Nagle against delayed ACKs)
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self._open.update((client, upstream))
            waiting: list[float] = []  # request times on this connection not answered yet
            threading.Thread(target=self._pipe, args=(client, upstream, True, waiting), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, False, waiting), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket, from_client: bool, waiting: list[float]) -> None:
        try:
            if from_client:
                self._requests(src, dst, waiting)
            else:
                self._answers(src, dst, waiting)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
            with self._lock:
                self._open.discard(src)
                self._open.discard(dst)

    def _requests(self, src: socket.socket, dst: socket.socket, waiting: list[float]) -> None:
        """Client to server: count request lines (reads carry no body) and hold each for the delay."""
        buf = bytearray(1 << 16)
        view = memoryview(buf)
        while got := src.recv_into(buf):
            now = time.perf_counter()
            n = buf.count(b" HTTP/1.1\r\n", 0, got)
            if n:
                with self._lock:
                    self.requests += n
                    waiting.extend([now] * n)
                if self.delay_s:
                    time.sleep(self.delay_s)
            dst.sendall(view[:got])

    def _answers(self, src: socket.socket, dst: socket.socket, waiting: list[float]) -> None:
        """Server to client: moved kernel to kernel (splice through a pipe: the relay copies nothing
        through Python, so it adds the delay and not its own throughput limit); the first bytes of each
        chunk are peeked at to see an answer start."""
        r, w = os.pipe()
        try:
            with contextlib.suppress(OSError):
                fcntl.fcntl(w, 1031, 1 << 20)  # F_SETPIPE_SZ: up to 1 MiB a splice
            while head := src.recv(8, socket.MSG_PEEK):
                now = time.perf_counter()
                got = os.splice(src.fileno(), w, 1 << 20)
                if not got:
                    return
                with self._lock:
                    self.bytes_in += got
                    if waiting and len(head) >= 7 and head.startswith(b"HTTP/1."):  # the start of an answer
                        self.intervals.append((waiting.pop(0), now))
                left = got
                while left:
                    left -= os.splice(r, dst.fileno(), left)
        finally:
            os.close(r)
            os.close(w)


def _serve(upstream_port: int, conn) -> None:  # noqa: ANN001 - a multiprocessing Connection
    proxy = DelayProxy(upstream_port)
    conn.send(proxy.endpoint)
    while True:
        try:
            cmd, arg = conn.recv()
        except EOFError:
            return
        if cmd == "delay":
            proxy.delay_s = float(arg)
        elif cmd == "reset":
            proxy.reset()
        elif cmd == "stats":
            conn.send({"requests": proxy.requests, "bytes_in": proxy.bytes_in, "round_trips": proxy.round_trips()})
        elif cmd == "drop":
            conn.send(proxy.drop())
        elif cmd == "close":
            proxy.close()
            return


class ProxyProcess:
    """A :class:`DelayProxy` in a process of its own: its threads never take the measured process's GIL."""

    def __init__(self, upstream_port: int) -> None:
        import multiprocessing as mp

        ctx = mp.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(upstream_port, child), daemon=True)
        self._proc.start()
        self.endpoint = self._conn.recv()

    def set_delay(self, delay_s: float) -> None:
        self._conn.send(("delay", delay_s))

    def reset(self) -> None:
        self._conn.send(("reset", None))

    def drop(self) -> int:
        """Close every connection open through the proxy (see :meth:`DelayProxy.drop`)."""
        self._conn.send(("drop", None))
        return self._conn.recv()

    def stats(self) -> dict:
        """Requests, bytes returned and round trips (see :meth:`DelayProxy.round_trips`) since :meth:`reset`."""
        self._conn.send(("stats", None))
        return self._conn.recv()

    def close(self) -> None:
        self._conn.send(("close", None))
        self._proc.join(timeout=10)
        if self._proc.is_alive():
            self._proc.kill()

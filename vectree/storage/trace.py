"""Round trips as a dependency depth: how many requests a caller waited for one after the other.

A request that starts after the caller saw the answers of ``d`` sequential requests ends at depth
``d + 1``; requests sent together (a parallel batch, or one sent in the background while the caller
goes on) all start at the caller's depth, so a batch of 20 GETs costs one round trip, and a request
run in the background costs nothing extra as long as its answer is only needed later. The depth of
a flow (a thread, plus the tasks it hands to the io pool through :meth:`RequestDepth.map` and
:meth:`RequestDepth.submit`) only grows; :meth:`RequestDepth.reset` starts every flow again at 0.
:attr:`RequestDepth.deepest` is the largest depth any flow reached since: the round trips of the
work done since, however its requests overlapped, counted without any clock.

>>> d = RequestDepth(); d.request(lambda: "a"); _ = d.map(lambda x: d.request(lambda: x), [1, 2, 3])
'a'
>>> d.deepest, d.requests
(2, 4)
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from typing import Generic, TypeVar

from vectree.pools import io_pool

T = TypeVar("T")
R = TypeVar("R")


class Pending(Generic[T]):
    """A request sent in the background: :meth:`result` waits for it and carries its depth over to the caller."""

    def __init__(self, depth: RequestDepth, future: Future) -> None:
        self._depth, self._future = depth, future

    def done(self) -> bool:
        return self._future.done()

    def result(self) -> T:
        value, (epoch, end) = self._future.result()
        self._depth._join(epoch, end)
        return value


class RequestDepth:
    """The dependency depth of every flow of requests to one store (thread-safe)."""

    def __init__(self) -> None:
        self._local = threading.local()
        self._lock = threading.Lock()
        self._epoch = 0
        self.deepest = 0
        self.requests = 0

    def reset(self) -> None:
        """Every flow starts again at depth 0; zero the counters."""
        with self._lock:
            self._epoch += 1
            self.deepest = 0
            self.requests = 0

    def current(self) -> int:
        """The depth of the calling thread's flow."""
        epoch, depth = getattr(self._local, "state", (-1, 0))
        return depth if epoch == self._epoch else 0

    def _set(self, depth: int) -> None:
        self._local.state = (self._epoch, depth)

    def _join(self, epoch: int, depth: int) -> None:
        if epoch == self._epoch and depth > self.current():
            self._set(depth)

    def request(self, fn: Callable[[], T]) -> T:
        """Run one request (an attempt: a retry is another) and count it at the caller's depth + 1."""
        start = self.current()
        with self._lock:
            self.requests += 1
        try:
            return fn()
        finally:
            end = start + 1
            self._set(max(end, self.current()))
            with self._lock:
                self.deepest = max(self.deepest, end)

    def step(self) -> None:
        """One more sequential request inside a running one (a further page of a listing)."""
        self._set(self.current() + 1)
        with self._lock:
            self.requests += 1
            self.deepest = max(self.deepest, self.current())

    def _carried(self, fn: Callable[[], R], start: tuple[int, int]) -> tuple[R, tuple[int, int]]:
        self._local.state = start
        value = fn()
        return value, (start[0], self.current() if start[0] == self._epoch else 0)

    def map(self, fn: Callable[[T], R], items: Iterable[T], workers: int = 8) -> list[R]:
        """``fn`` over ``items`` in parallel on the io pool: each starts at the caller's depth; the
        caller continues at the deepest of them."""
        start = (self._epoch, self.current())
        out = list(io_pool(workers).map(lambda item: self._carried(lambda: fn(item), start), items))
        for _, (epoch, end) in out:
            self._join(epoch, end)
        return [value for value, _ in out]

    def submit(self, fn: Callable[[], R], workers: int = 8) -> Pending[R]:
        """Send ``fn`` (requests) in the background, starting at the caller's depth."""
        start = (self._epoch, self.current())
        return Pending(self, io_pool(workers).submit(self._carried, fn, start))

"""Where each bucket keeps what a search reads, by fingerprint, from the indexes a cache has seen.

An index records one span a bucket (:mod:`vectree.format.spans`, :mod:`vectree.format.codespans`); the
cache reads a probed bucket as its span when it knows it. Looking a bucket up goes to the indexes
registered, newest first, and makes its span then: registering an index costs nothing a bucket, where
copying every span into a table cost ~2 us a bucket (80 ms at the 41,000 buckets of a 10M collection)
for each version read. Indexes are held weakly: the spans of an index no snapshot holds any longer
are found only if a query asked for them while it lived (those stay, as the fingerprints they name
never change).

>>> from types import SimpleNamespace
>>> import numpy as np
>>> from vectree.format.spans import ColumnSpan, pack_spans
>>> from vectree.format.codespans import StoredSpans
>>> span = ColumnSpan(8, 40, 0, 8, 4, bytes(32))
>>> class Index(SimpleNamespace): ...  # (an index's three fields a span map reads)
>>> index = Index(bucket_of={"f" * 64: 0}, bucket_spans=StoredSpans(*pack_spans([span])),
...               bucket_rows=np.array([3]))
>>> columns = SpanMap(StoredSpans.COLUMN); columns.add(index, dim=2)
>>> "f" * 64 in columns, columns["f" * 64] == (span, 3, 2), bool(SpanMap(StoredSpans.CODE))
(True, True, False)
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

import numpy as np

from vectree.format.codespans import CodeSpan, StoredSpans
from vectree.format.spans import ColumnSpan


class SpanMap:
    """Bucket fingerprint -> ``(span, rows, dim)`` for the buckets whose span is of one ``kind``."""

    def __init__(self, kind: int) -> None:
        self.kind = kind
        self._made: dict[str, tuple[Any, int, int]] = {}
        self._sources: list[tuple[Any, int, np.ndarray]] = []  # (weak reference to an index, dim, kinds), newest last
        self._lock = threading.RLock()  # (re-entered when a collection of garbage inside add lets an index go)

    def add(self, index: Any, dim: int) -> None:
        """Find spans in ``index`` too (an index without spans of this kind is not kept)."""
        kinds = span_kinds(getattr(index, "bucket_spans", None))
        if kinds is None or not (kinds == self.kind).any():
            return
        with self._lock:
            live = [s for s in self._sources if s[0]() is not None and s[0]() is not index]
            self._sources = [*live, (weakref.ref(index, self._forget), dim, kinds)]

    def _forget(self, ref: weakref.ref) -> None:
        """An index was let go: drop its entry (and its per-bucket kinds) with it."""
        with self._lock:
            self._sources = [s for s in self._sources if s[0] is not ref]

    def get(self, fp: str) -> tuple[Any, int, int] | None:
        made = self._made.get(fp)
        if made is not None:
            return made
        for ref, dim, kinds in reversed(self._sources):  # (a list replaced whole by add: iterating it is safe)
            index = ref()
            b = None if index is None else index.bucket_of.get(fp)
            if b is None:
                continue
            if kinds[b] != self.kind:
                return None  # a fingerprint names one file: its kind is the same in every index
            made = (index.bucket_spans[b], int(index.bucket_rows[b]), dim)
            self._made[fp] = made
            return made
        return None

    def __contains__(self, fp: object) -> bool:
        return isinstance(fp, str) and self.get(fp) is not None

    def __getitem__(self, fp: str) -> tuple[Any, int, int]:
        made = self.get(fp)
        if made is None:
            raise KeyError(fp)
        return made

    def __bool__(self) -> bool:
        return bool(self._made) or any(s[0]() is not None for s in self._sources)


def span_kinds(spans: Any) -> np.ndarray | None:
    """Per bucket, the kind of its span (:class:`StoredSpans`' NONE, COLUMN or CODE); None without spans."""
    if spans is None:
        return None
    if isinstance(spans, StoredSpans):
        return spans.kinds
    kind = {CodeSpan: StoredSpans.CODE, ColumnSpan: StoredSpans.COLUMN}
    return np.array([kind.get(type(s), StoredSpans.NONE) for s in spans], np.int8)

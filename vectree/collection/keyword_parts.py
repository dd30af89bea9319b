"""The parts of a keyword index: standalone tantivy indexes, searched together as one.

A part is one zip: ``header.json``, the ids of its rows (``ids.npy`` or ``ids.json``) and the files
of a tantivy index over their text (``index/``). Every document holds its row in the part and the
part's random 62-bit number (``part``), so hits name their id without any offsets to keep in step.

The main part is built over every live row (:func:`vectree.collection.keywords.build_keyword_index`);
each later add or upsert writes one small part over its own rows. To search, the segments of all parts
are listed in one tantivy ``meta.json``: tantivy then scores every query with BM25 statistics summed
over all segments (documents, document frequencies, average length), exactly the scores of one index
built over all rows. A row replaced by an upsert is in two parts: only the newest part's document counts.

>>> w = PartWriter(["text"]); w.add(np.array([7, 8]), ['{"text": "red apples"}', '{"text": "pears"}'])
>>> idx = CombinedIndex([w.finish({"built_on_version": 1})])
>>> idx.search("apple", 5)[0].tolist()
[7]
"""

from __future__ import annotations

import io
import json
import os
import re
import secrets
import tempfile
import time
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from vectree.errors import CorruptionError, InvalidInputError
from vectree.format.id_keys import id_keys

FORMAT = 2  # format 1: one part without the ``part`` field (read alone, never combined)
DELTA_HEAP_BYTES = 15_000_000  # tantivy's smallest writer heap: a part of one write's rows
_NON_WORD = re.compile(r"[^\w]+", re.UNICODE)


def tantivy_module() -> Any:
    try:
        import tantivy
    except ImportError as exc:
        raise InvalidInputError(f"keyword search needs tantivy: pip install 'vectree[text]' ({exc})") from exc
    return tantivy


def library_version() -> str:
    from importlib import metadata

    return metadata.version("tantivy")


def _schema(tantivy: Any) -> Any:
    sb = tantivy.SchemaBuilder()
    sb.add_text_field("body", stored=False, tokenizer_name="en_stem")
    sb.add_integer_field("row", stored=True, indexed=False, fast=True)
    sb.add_integer_field("part", stored=True, indexed=False, fast=True)
    return sb.build()


def text_of(meta: str | None, fields: Sequence[str]) -> str:
    """The indexed text of one row: its metadata ``fields`` joined (missing ones skipped)."""
    if meta is None:
        return ""
    body = json.loads(meta)
    return " ".join(str(body[f]) for f in fields if isinstance(body, dict) and body.get(f) is not None)


class PartWriter:
    """Builds one part: :meth:`add` rows (ids and metadata JSON), then :meth:`finish` for its bytes."""

    def __init__(self, fields: Sequence[str], heap_bytes: int = DELTA_HEAP_BYTES, in_memory: bool = False) -> None:
        self._tantivy = tantivy_module()
        self.fields = list(fields)
        self.part = secrets.randbits(62)
        # tantivy syncs every file it commits (measured here: 100-700 ms for a part of one row on a busy
        # disk, 35 ms in RAM); the part is made durable by the store, so a small one is made in RAM
        self._tmp = tempfile.TemporaryDirectory(prefix="vectree-kw-", dir=_ram_dir() if in_memory else None)
        self._writer = self._tantivy.Index(_schema(self._tantivy), path=self._tmp.name).writer(
            heap_size=max(heap_bytes, DELTA_HEAP_BYTES), num_threads=1
        )
        self._ids: list[np.ndarray] = []
        self.rows = 0
        self.nonempty = 0

    def add(self, ids: np.ndarray, metadata: Sequence[str | None] | None) -> None:
        metas = metadata if metadata is not None else [None] * len(ids)
        for meta in metas:
            text = text_of(meta, self.fields)
            self.nonempty += bool(text)
            self._writer.add_document(self._tantivy.Document(body=text, row=self.rows, part=self.part))
            self.rows += 1
        self._ids.append(np.asarray(ids))

    def finish(self, header: dict[str, Any]) -> bytes:
        """The part as one zip (one tantivy commit: a part of few rows is one small segment)."""
        self._writer.commit()
        self._writer.wait_merging_threads()
        ids = np.concatenate(self._ids) if self._ids else np.empty(0, np.int64)
        head = {
            "format": FORMAT,
            "library": "tantivy",
            "library_version": library_version(),
            "fields": self.fields,
            "part": self.part,
            "rows": int(len(ids)),
            "created": time.time(),
            **header,
        }
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
            z.writestr("header.json", json.dumps(head))
            z.writestr("ids.json" if ids.dtype == object else "ids.npy", _ids_bytes(ids))
            for f in sorted(Path(self._tmp.name).iterdir()):
                if f.is_file() and not f.name.startswith(".tantivy"):  # lock files are per process
                    z.write(f, f"index/{f.name}")
        self._tmp.cleanup()
        return buf.getvalue()


def _ram_dir() -> str | None:
    """A RAM-backed scratch directory (Linux ``/dev/shm``), if there is a writable one."""
    shm = "/dev/shm"
    return shm if os.path.isdir(shm) and os.access(shm, os.W_OK) else None


def _ids_bytes(ids: np.ndarray) -> bytes:
    if ids.dtype == object:
        return json.dumps([str(i) for i in ids]).encode()
    out = io.BytesIO()
    np.save(out, ids.astype(np.int64), allow_pickle=False)
    return out.getvalue()


def read_header(data: bytes) -> dict[str, Any]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return json.loads(z.read("header.json"))


class CombinedIndex:
    """Every part of a keyword index, opened as one tantivy index (one list of segments)."""

    def __init__(self, parts: list[bytes]) -> None:
        tantivy = tantivy_module()
        self._tmp = tempfile.TemporaryDirectory(prefix="vectree-kw-")
        self.headers: list[dict[str, Any]] = []
        self._ids: dict[int | None, np.ndarray] = {}
        metas = []
        for data in parts:
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                header = json.loads(z.read("header.json"))
                names = z.namelist()
                if "ids.npy" in names:
                    ids = np.load(io.BytesIO(z.read("ids.npy")), allow_pickle=False)
                else:
                    ids = np.array(json.loads(z.read("ids.json")), dtype=object)
                for name in names:
                    base = name[len("index/") :]
                    if name.startswith("index/") and base not in ("meta.json", ".managed.json"):
                        Path(self._tmp.name, base).write_bytes(z.read(name))
                metas.append(json.loads(z.read("index/meta.json")))
            self.headers.append(header)
            self._ids[header.get("part")] = ids
        if len(parts) > 1 and any(h.get("format", 1) < FORMAT for h in self.headers):
            raise CorruptionError("a keyword index of format 1 cannot be combined with other parts")
        meta = dict(metas[0])
        meta["segments"] = [s for m in metas for s in m["segments"]]
        meta["opstamp"] = max(int(m.get("opstamp", 0)) for m in metas)
        Path(self._tmp.name, "meta.json").write_text(json.dumps(meta))
        self._index = tantivy.Index.open(self._tmp.name)
        self._searcher = self._index.searcher()
        self.docs = int(sum(h["rows"] for h in self.headers))
        self._newest = self._newest_parts()

    def _newest_parts(self) -> tuple[np.ndarray, np.ndarray] | None:
        """For keys held by more than one part (upserts): the sorted keys and the newest part of each."""
        order = sorted(range(len(self.headers)), key=lambda i: (self.headers[i].get("created", 0), i))
        keys = [id_keys(self._ids[self.headers[i].get("part")]) for i in order]
        rank = [np.full(len(k), r, np.int64) for r, k in enumerate(keys)]
        if len(keys) < 2:
            return None
        allk, allr = np.concatenate(keys), np.concatenate(rank)
        uniq, counts = np.unique(allk, return_counts=True)
        dup = uniq[counts > 1]
        if not len(dup):
            return None
        sel = np.isin(allk, dup)
        k, r = allk[sel], allr[sel]
        srt = np.lexsort((r, k))
        k, r = k[srt], r[srt]
        last = np.r_[np.flatnonzero(np.diff(k)), len(k) - 1]
        parts = np.array([self.headers[i].get("part") or 0 for i in order], np.int64)
        return k[last], parts[r[last]]

    def search(self, text: str, depth: int) -> tuple[np.ndarray, np.ndarray, int]:
        """Ids and BM25 scores of the ``depth`` best documents for ``text`` (best first), without the
        documents an upsert replaced in a newer part (so possibly fewer), and how many documents hit."""
        words = _NON_WORD.sub(" ", text).strip()
        if not words or depth <= 0:
            return np.empty(0, np.int64), np.empty(0, np.float32), 0
        query = self._index.parse_query(words, ["body"])
        hits = self._searcher.search(query, depth).hits
        parts, rows = [], []
        for _, addr in hits:
            doc = self._searcher.doc(addr)
            parts.append(doc["part"][0] if "part" in doc.to_dict() else None)
            rows.append(doc["row"][0])
        scores = np.array([score for score, _ in hits], dtype=np.float32)
        str_ids = any(v.dtype == object for v in self._ids.values())
        ids = np.array([self._ids[p][r] for p, r in zip(parts, rows)], dtype=object if str_ids else np.int64)
        if self._newest is not None and len(ids):
            keys, newest = self._newest
            k = id_keys(ids)
            pos = np.minimum(np.searchsorted(keys, k), len(keys) - 1)
            stale = (keys[pos] == k) & (newest[pos] != np.array([p or 0 for p in parts], np.int64))
            ids, scores = ids[~stale], scores[~stale]
        return ids, scores, len(hits)

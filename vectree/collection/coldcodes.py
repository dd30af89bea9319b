"""A quantized search over buckets that are not resident: codes first, then only the short list's rows.

A bucket with codes records a code span (its ids, squared norms and codes, at the start of its file) and
digests of its vector chunks (:mod:`vectree.format.codespans`). When the probed buckets are not held
decoded and the read cache is small against the collection (on disk or on S3;
``SearchTuning.cold_codes="auto"``: the collection is more than :data:`RESIDENT_SHARE` times the cache,
or the probed buckets would not fit half of it), a quantized search reads in two parallel waves:

1. the code spans of the probed buckets (one ranged read each, checked against the digest in the
   index; kept in the read cache under ``<fingerprint>#codes``, so a later query reads only chunks);
2. after a scan of their codes (``_scan.codes_candidates``: the rows the codes cannot rule out, at most
   ``rerank`` of them), only the vector chunks holding those rows, each checked against its digest;

then re-ranks the short list exactly (``_scan.topk`` over the rows read). Distances are the full scan's;
for int8 codes without a cap the answer is the quantized scan's over the same buckets (the codes' bound
is exact), so every bucket probed returns ``exact=True``'s answer.

The trade: bytes read per cold query fall to the codes plus a few chunks, and a cold query on S3 takes
one more sequential round trip (index, codes, rows: 3, against 2 for a plain collection, whose buckets
are read as one span each). Buckets already decoded in the cache keep the one-wave path.

Memory: the kernel reads only buffers its ScanBlocks hold (codes-only blocks in the first phase, the
rows read in the second), for the whole call.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from vectree._native import _scan
from vectree.collection.kernel import METRIC_CODES, TopK
from vectree.collection.plan import SearchTuning
from vectree.collection.snapshot import Snapshot
from vectree.errors import CorruptionError
from vectree.format.bucket import Rows
from vectree.format.codespans import CodeSpan, check_chunk, check_code_span, chunk_range, rows_from_code_span
from vectree.format.id_keys import id_keys
from vectree.format.object_keys import BUCKETS, rows_key
from vectree.pools import io_pool

_ROW = 0xFFFFFFFF
CODES_SUFFIX = "#codes"
CHUNKS_SUFFIX = "#chunks"
GAP_BYTES = 4096  # chunks of one bucket this close are read in one range
RESIDENT_SHARE = 4  # auto: the two-phase read when the collection is over this many times the read cache


@dataclass(eq=False)
class CodeBlock:
    """A bucket as its code span holds it: ids (for results and dead masks), squared norms and codes."""

    fingerprint: str
    rows: Rows  # ids only (no vectors: ``rows.vectors`` is empty)
    keys: np.ndarray
    scan: _scan.ScanBlock  # codes only: what ``codes_candidates`` reads
    sqnorms: np.ndarray
    chunk_digests: np.ndarray
    span: CodeSpan
    n: int
    dim: int
    nbytes: int


def use_two_phase(snap: Snapshot, buckets: list[int], tuning: SearchTuning, skip: Callable) -> bool:
    """Whether a quantized search of ``buckets`` takes the two-phase read (see the module)."""
    mode = tuning.cold_codes
    cache = snap.cache
    if mode == "never" or not tuning.vectors_only or cache.disk is not None or not cache.code_spans:
        return False
    if skip != snap.dead_mask or snap.index is None:
        return False
    if not (snap.store.ranged_reads or hasattr(snap.store, "read_into")):
        return False
    fps = snap.index.bucket_fingerprints
    probed = [fps[b] for b in buckets]
    if not probed or any(fp not in cache.code_spans for fp in probed):
        return False
    if cache.cached(probed, True) is not None:  # every probed bucket decoded already: today's path
        return False
    if mode == "always":
        return True
    width = 2 if snap.manifest.settings["index"].get("vector_dtype") == "float16" else 4
    row = int(snap.manifest.settings["dim"]) * width
    capacity = cache.lru.capacity_bytes
    if int(snap.index.bucket_rows.sum()) * row > RESIDENT_SHARE * capacity:  # most probed buckets would miss
        return True
    return 2 * int(snap.index.bucket_rows[buckets].sum()) * row > capacity  # they would be streamed anyway


def code_blocks(snap: Snapshot, fps: list[str]) -> list[CodeBlock]:
    """The :class:`CodeBlock` of each bucket, from the cache or read in one parallel wave (checked)."""
    cache = snap.cache
    keys = [fp + CODES_SUFFIX for fp in fps]
    found = cache.lru.get_many(keys)
    missing = [fp for fp, hit in zip(fps, found) if hit is None]
    if missing:
        got = dict(zip(missing, _read_code_spans(snap, missing)))
        found = [hit if hit is not None else got[fp] for fp, hit in zip(fps, found)]
    return found  # type: ignore[return-value]


def _read_code_spans(snap: Snapshot, fps: list[str]) -> list[CodeBlock]:
    cache = snap.cache
    store = snap.store
    spans = [cache.code_spans[fp] for fp in fps]
    if hasattr(store, "read_into"):  # a local file: each span read into memory of its own

        def one(i: int) -> np.ndarray:
            span = spans[i][0]
            key = rows_key(BUCKETS, fps[i])
            ident = store.identity(key)  # (a local file: hashed once while it stays the same file, as whole reads)
            buf = np.empty(span.end, np.uint8)
            got = store.read_into(key, 0, buf, random_access=True)  # type: ignore[attr-defined]
            if got != span.end:
                raise CorruptionError(
                    f"bucket {fps[i]} is corrupted: its file ends before the end of the code span its index "
                    "records. Restore the object from a backup or rebuild the collection; `vectree verify` "
                    "lists every damaged object."
                )
            if not cache.was_checked(fps[i] + CODES_SUFFIX, ident):
                check_code_span(buf, span, f"bucket {fps[i]}")
                cache.mark_checked(fps[i] + CODES_SUFFIX, ident)
            return buf

        datas = list(io_pool().map(one, range(len(fps)))) if len(fps) > 1 else [one(0)]
    else:
        items = [(rows_key(BUCKETS, fp), 0, s.end) for fp, (s, _, _) in zip(fps, spans)]

        def check(i: int, data: object) -> object:
            check_code_span(data, spans[i][0], f"bucket {fps[i]}")  # type: ignore[arg-type]
            return data

        datas = store.get_ranges(items, then=check)
    l2 = snap.manifest.settings["metric"] == "l2"
    out = []
    for fp, (span, n, dim), data in zip(fps, spans, datas):
        coded = rows_from_code_span(data, span, n, dim, what=f"bucket {fp}", checked=True)
        params = (
            {"code_lo": coded.code_lo, "code_scale": coded.code_scale}
            if coded.code_scale is not None
            else {"rabitq_center": coded.code_lo}
        )
        scan = _scan.ScanBlock(None, coded.sqnorms if l2 else None, coded.codes, dim=dim, **params)
        rows = Rows(ids=coded.ids, vectors=np.empty((0, dim), np.float32))
        block = CodeBlock(
            fp, rows, id_keys(coded.ids), scan, coded.sqnorms, coded.chunk_digests, span, n, dim, span.end
        )
        cache.lru.stats.bytes_fetched += span.end
        cache.lru.put(fp + CODES_SUFFIX, block, span.end + block.keys.nbytes)
        out.append(block)
    return out


def _read_chunks(snap: Snapshot, blocks: list[CodeBlock], wanted: list[tuple[int, int]]) -> dict:
    """Vector chunks ``(block index, chunk)`` in one parallel wave, each checked: -> (rows, dim) arrays as stored.
    Chunks of one bucket less than :data:`GAP_BYTES` apart are read as one range (what lies between is
    neither checked nor used: one read instead of several, for at most a page more)."""
    want = set(wanted)
    runs: list[tuple[int, int, int]] = []  # (block, first chunk, last chunk)
    for b, c in sorted(want):
        span = blocks[b].span
        gap = GAP_BYTES // max(1, span.chunk_rows * blocks[b].dim * span.vector_width)
        if runs and runs[-1][0] == b and c - runs[-1][2] - 1 <= gap:
            runs[-1] = (b, runs[-1][1], c)
        else:
            runs.append((b, c, c))
    store = snap.store

    def ranges(run: tuple[int, int, int]) -> tuple[str, int, int]:
        blk = blocks[run[0]]
        return (
            rows_key(BUCKETS, blk.fingerprint),
            chunk_range(blk.span, blk.n, blk.dim, run[1])[0],
            chunk_range(blk.span, blk.n, blk.dim, run[2])[1],
        )

    items = [ranges(r) for r in runs]

    idents = {}
    if hasattr(store, "read_parts"):  # a local file: each chunk hashed once while it stays the same file
        for b in {r[0] for r in runs}:
            fp = blocks[b].fingerprint
            idents[b] = snap.cache.checked_parts(fp + CHUNKS_SUFFIX, store.identity(rows_key(BUCKETS, fp)))

    def split(i: int, data: object) -> list[np.ndarray]:
        b, first, last = runs[i]
        blk = blocks[b]
        done = idents.get(b)
        buf = np.frombuffer(data, np.uint8)  # type: ignore[arg-type]
        if len(buf) != items[i][2] - items[i][1]:
            raise CorruptionError(
                f"bucket {blk.fingerprint} is corrupted: its file ends before the vector chunks its code span "
                "records. Restore the object from a backup or rebuild the collection."
            )
        dtype = np.float16 if blk.span.vector_width == 2 else np.float32
        parts, at = [], 0
        for c in range(first, last + 1):
            a, e = chunk_range(blk.span, blk.n, blk.dim, c)
            piece = buf[at : at + e - a]
            at += e - a
            if (b, c) not in want:
                parts.append(None)
                continue
            if done is None or c not in done:
                check_chunk(piece, blk.chunk_digests[c], f"bucket {blk.fingerprint}", c)
                if done is not None:
                    done.add(c)
            parts.append(piece.view(dtype).reshape(-1, blk.dim))
        return parts

    if hasattr(store, "read_parts"):  # a local file: each bucket's runs through one descriptor
        by_key: dict[str, list[int]] = {}
        for i, (key, _, _) in enumerate(items):
            by_key.setdefault(key, []).append(i)

        def one(key: str) -> list[tuple[int, list[np.ndarray]]]:
            mine = by_key[key]
            got = store.read_parts(key, [items[i][1:] for i in mine])  # type: ignore[attr-defined]
            return [(i, split(i, data)) for i, data in zip(mine, got)]

        keys = list(by_key)
        done = list(io_pool().map(one, keys)) if len(keys) > 1 else [one(keys[0])]
        parts: list = [None] * len(items)
        for pairs in done:
            for i, p in pairs:
                parts[i] = p
    else:
        parts = store.get_ranges(items, then=split)
    out: dict[tuple[int, int], np.ndarray] = {}
    for (b, first, _), chunks in zip(runs, parts):
        for j, arr in enumerate(chunks):
            if arr is not None:
                out[(b, first + j)] = arr
    snap.cache.lru.stats.bytes_fetched += sum(e - a for _, a, e in items)
    return out


def scan_two_phase(
    snap: Snapshot,
    queries: np.ndarray,
    buckets: list[int],
    top: TopK,
    slots: dict,
    stats: dict,
    tuning: SearchTuning,
    skip: Callable,
    order: np.ndarray | None = None,
) -> None:
    """Each query's top k over its probed buckets (row i of ``order``, or every one of ``buckets``) by the
    two-phase read, into ``top``, which must be empty; ``buckets`` are those the queries probe."""
    fps = snap.index.bucket_fingerprints
    blocks = code_blocks(snap, [fps[b] for b in buckets])
    metric = snap.manifest.settings["metric"]
    code = METRIC_CODES[metric]
    dead = [skip(b) for b in blocks] if snap.tombstones else [None] * len(blocks)
    slot_arr = np.array(buckets, np.int64)
    if order is None or len(queries) == 1:  # (one query: buckets are its probed ones, in probe order)
        plans = np.broadcast_to(np.arange(len(blocks), dtype=np.int64), (len(queries), len(blocks)))
    else:
        lookup = np.full(snap.index.n_buckets, -1, np.int64)
        lookup[buckets] = np.arange(len(buckets))
        plans = lookup[order]
    q = np.ascontiguousarray(queries, np.float32)
    k = top[0].shape[1]
    picks, scanned = [], 0
    scans = [b.scan for b in blocks]
    for i in range(len(q)):  # phase 1: the codes
        d, r, f = np.empty((1, k), np.float32), np.empty((1, k), np.int64), np.zeros(1, np.int64)
        plan = np.ascontiguousarray(plans[i : i + 1])
        n_scanned, refs = _scan.codes_candidates(
            q[i : i + 1], code, scans, dead, slot_arr, plan, d, r, f, tuning.rerank
        )
        scanned += n_scanned
        picks.append(np.frombuffer(refs, np.int64))
    every = np.concatenate(picks) if picks else np.empty(0, np.int64)
    which, rows = every >> 32, every & _ROW
    chunk_of = rows // np.array([b.span.chunk_rows for b in blocks], np.int64)[which] if len(every) else rows
    wanted = sorted(set(zip(which.tolist(), chunk_of.tolist())))
    chunks = _read_chunks(snap, blocks, wanted) if wanted else {}  # phase 2: the short list's rows
    for i, got in enumerate(picks):  # exact distances of each query's short list
        _rerank(q[i : i + 1], code, metric, blocks, buckets, got, chunks, top, i)
    for bucket, block in zip(buckets, blocks):
        slots[bucket] = block
    stats["buckets_scanned"] += len(buckets)
    stats["rows_scanned"] += scanned
    stats["rows_reranked"] = stats.get("rows_reranked", 0) + int(len(every))
    stats["chunks_read"] = stats.get("chunks_read", 0) + len(wanted)
    stats["two_phase"] = True


def _rerank(
    q: np.ndarray, code: int, metric: str, blocks: list[CodeBlock], buckets: list[int], picked: np.ndarray,
    chunks: dict, top: TopK, i: int,
) -> None:  # fmt: skip
    """Query ``i``'s top k of its short list ``picked`` (block << 32 | row), exactly: one ScanBlock a bucket
    with its picked rows in row order (so ties fall as the full scan's), references mapped back to rows."""
    which, rows = picked >> 32, picked & _ROW
    scan, slots, back = [], [], []
    for b in np.unique(which).tolist():
        mine = np.sort(rows[which == b])
        blk = blocks[b]
        per = blk.span.chunk_rows
        vecs = np.stack([chunks[(b, int(r) // per)][int(r) % per] for r in mine.tolist()])
        scan.append(_scan.ScanBlock(vecs, blk.sqnorms[mine] if metric == "l2" else None))
        slots.append(buckets[b])
        back.append(mine)
    d, ref, filled = top[0][i : i + 1], top[1][i : i + 1], top[2][i : i + 1]
    filled[0] = 0
    if not scan:
        return
    plan = np.arange(len(scan), dtype=np.int64)[None, :]
    _scan.topk(q, code, scan, [None] * len(scan), np.array(slots, np.int64), plan, d, ref, filled)
    lookup = {s: j for j, s in enumerate(slots)}
    for j in range(int(filled[0])):
        r = int(ref[0, j])
        slot = r >> 32
        ref[0, j] = (slot << 32) | int(back[lookup[slot]][r & _ROW])


def search_two_phase(
    snap: Snapshot,
    queries: np.ndarray,
    order: np.ndarray | None,
    buckets: list[int],
    top: TopK,
    slots: dict,
    stats: dict,
    tuning: SearchTuning,
    skip: Callable,
) -> None:
    """:func:`scan_two_phase` in groups of queries whose probed buckets' codes fit half the cache (a batch
    never holds the codes of every bucket at once); ``order`` (nq, probes) are the queries' buckets."""
    spans = snap.cache.code_spans
    fps = snap.index.bucket_fingerprints
    per_bucket = max(1, sum(spans[fps[b]][0].end for b in buckets) // max(1, len(buckets)))
    nq = len(queries)
    size = nq if order is None else max(1, int(snap.cache.lru.capacity_bytes // 2 // (per_bucket * order.shape[1])))
    if size < nq:
        stats["query_groups"] = -(-nq // size)
    for a in range(0, nq, size):
        part = order[a : a + size] if order is not None else None
        mine = buckets if size >= nq else [b for b in np.unique(part).tolist() if fps[b]]
        sub = tuple(t[a : a + size] for t in top)
        scan_two_phase(snap, queries[a : a + size], mine, sub, slots, stats, tuning, skip, part)

"""Compaction: fold the tail into the buckets it belongs in and drop deleted rows, rewriting only the
buckets that change, and split a bucket grown past its bound in place (as SPFresh does), never a rebuild."""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from typing import Any

import numpy as np

from vectree.collection.routing import tail_buckets
from vectree.collection.rows import iter_live_rows, read_rows, write_segments
from vectree.collection.snapshot import Snapshot
from vectree.format.bucket import Rows, encode_rows
from vectree.format.codespans import bucket_span
from vectree.format.id_keys import id_keys
from vectree.format.object_keys import BUCKETS, SEGMENTS, bucket_key, idmap_key, index_key
from vectree.index.bucketstats import bucket_stats
from vectree.index.build import IndexConfig
from vectree.index.centers import center_norms, nearest_center, refine_centers
from vectree.index.idmap import KeyShard, shard_of
from vectree.index.index import Index
from vectree.index.tree import fit_tree

log = logging.getLogger(__name__)
Progress = Callable[[str, int, int], None]
_SPLIT_FACTOR = 1.0  # a bucket is split once it holds more than bucket_size * this
_CENTER_SPLIT_FACTOR = 2.0  # a bucket of an index routed by centers is split once it passes bucket_size * this
_NEIGHBOURS = 8  # buckets whose boundary rows are reconsidered when a center-routed bucket splits (SPFresh)


def compact(
    snap: Snapshot, progress: Progress | None, workdir: str | None = None, keep_tail_rows: int = 0
) -> dict[str, Any]:
    """Rewrite only the buckets that gain tail rows or lose tombstoned ones; split those grown too big.

    ``keep_tail_rows`` > 0 folds only the buckets the most tail rows go to, until at most that many rows
    stay in the tail (rewritten as one new segment write): a bucket that would gain a row or two is left
    alone until it gains more, so each compaction rewrites fewer buckets for the rows it folds. Buckets
    that lose tombstoned rows are always rewritten.

    An index whose rows live in their nearest full-width center lets its buckets grow to twice
    ``bucket_size``; past that a bucket is split as SPFresh does, with no rebuild: its rows get new
    centers (tree + Lloyd steps, as the build fits them), then the rows of the split bucket and of its
    nearest neighbouring buckets go to the nearest of those centers. Only neighbours that lose or gain
    rows are rewritten, so each row stays in (almost always) its nearest center's bucket.
    """
    m = snap.manifest
    index = snap.index
    assert index is not None
    cfg = IndexConfig(**m.settings["index"])
    label_type = m.settings.get("label_type")
    tree = copy.deepcopy(index.tree)
    fps = list(index.bucket_fingerprints)
    counts = index.bucket_rows.copy()
    # statistics of the buckets kept as they are; an index from before statistics gets them for the rewritten ones
    bstats = list(index.bucket_stats) if index.bucket_stats is not None else [None] * len(fps)
    spans = list(index.bucket_spans) if index.bucket_spans is not None else [None] * len(fps)  # (None: read whole)
    centers = None if index.centers is None else index.centers.copy()
    by_centers = index.routes_by_centers  # else each center is the mean of its bucket, kept up to date below

    incoming: dict[int, list[Rows]] = {}
    for seg in m.segments:  # each tail row to the bucket its writer routed it to (or assign's, the same rule)
        rows, live = read_rows(snap, SEGMENTS, seg.fingerprint)
        buckets = tail_buckets(snap, seg, rows.vectors)
        if live is not None:
            rows, buckets = rows.take(live), buckets[live]
        for bucket in np.unique(buckets):
            incoming.setdefault(int(bucket), []).append(rows.take(buckets == bucket))
    bucket_of = {fp: i for i, fp in enumerate(fps) if fp}
    dead = {bucket_of[fp] for fp in snap.tombstones if fp in bucket_of}
    kept_tail = _keep_in_tail(incoming, dead, keep_tail_rows)
    touched = sorted(set(incoming) | dead)
    replaced: dict[int, np.ndarray] = {}  # bucket -> keys now in it (for the id map)
    dim = int(m.settings["dim"])
    changed = set(touched)
    for done, bucket in enumerate(touched):
        parts = list(iter_live_rows(snap, [(BUCKETS, fps[bucket])])) if fps[bucket] else []
        rows = Rows.concat(parts + incoming.get(bucket, []), dim)
        groups = [(bucket, rows)]
        if by_centers and len(rows) > cfg.bucket_size * _CENTER_SPLIT_FACTOR:
            groups, tree, centers = _split_by_centers(snap, bucket, rows, index, tree, centers, fps, cfg, dim)
            counts = np.concatenate([counts, np.zeros(len(fps) - len(counts), np.int64)])
            changed |= {g for g, _ in groups}
        if not by_centers and len(rows) > cfg.bucket_size * _SPLIT_FACTOR:
            sub = fit_tree(
                index.projection.project(rows.vectors),
                cfg.bucket_size,
                rule=cfg.tree_rule,
                max_depth=max(1, cfg.max_depth),
                seed=cfg.seed + bucket,
            )
            if sub.n_buckets > 1:
                sub_buckets = sub.route(index.projection.project(rows.vectors))
                first_new = len(fps)
                tree.replace_bucket(bucket, sub, first_new)
                fps += [""] * (sub.n_buckets - 1)
                counts = np.concatenate([counts, np.zeros(sub.n_buckets - 1, np.int64)])
                if centers is not None:
                    centers = np.concatenate([centers, np.zeros((sub.n_buckets - 1, dim), np.float32)])
                groups = [
                    (bucket if j == 0 else first_new + j - 1, rows.take(sub_buckets == j)) for j in range(sub.n_buckets)
                ]
        bstats += [None] * (len(fps) - len(bstats))  # buckets a split added
        spans += [None] * (len(fps) - len(spans))
        for target, part in groups:
            if len(part):
                data, fp = encode_rows(part, dtype=cfg.vector_dtype, label_type=label_type, codes=cfg.codes)
                snap.store.put(bucket_key(fp), data)
                spans[target] = bucket_span(data)
            else:
                fp, spans[target] = "", None
            fps[target], counts[target] = fp, len(part)
            bstats[target] = bucket_stats(part) if len(part) else None
            if centers is not None and not by_centers and len(part):
                centers[target] = part.vectors.mean(0)
            replaced[target] = id_keys(part.ids)
        if progress:
            progress("compact", done + 1, len(touched))

    shard_fps = _update_idmap(snap, changed, replaced)
    new_index = Index(
        projection=index.projection,
        tree=tree,
        bucket_fingerprints=fps,
        bucket_rows=counts,
        settings=index.settings,
        centers=centers,
        bucket_stats=bstats,
        bucket_spans=spans,
    )
    data, index_fp = new_index.to_bytes()
    snap.store.put(index_key(index_fp), data)
    # the rows left in the tail, routed under the new index (its readers need not route them again)
    segments = (
        write_segments(snap.store, Rows.concat(kept_tail, dim), label_type, index=(new_index, index_fp))
        if kept_tail
        else []
    )
    return {
        "index": index_fp,
        "idmap": tuple(shard_fps),
        "indexed_rows": int(counts.sum()),
        "segments": tuple(segments),
        "tombstones": None,
        "tombstone_count": 0,
    }


def _keep_in_tail(incoming: dict[int, list[Rows]], dead: set[int], keep_rows: int) -> list[Rows]:
    """Take out of ``incoming`` the rows of the buckets that gain the fewest (at most ``keep_rows`` rows in all,
    never a bucket in ``dead``, which is rewritten anyway); returns them. Ties: the higher bucket stays.

    >>> from vectree.format.bucket import Rows
    >>> r = lambda k: Rows(np.arange(k), np.zeros((k, 2), np.float32))
    >>> inc = {0: [r(5)], 1: [r(1)], 2: [r(2)], 3: [r(1)]}
    >>> [len(x) for x in _keep_in_tail(inc, {3}, 3)], sorted(inc)
    ([1, 2], [0, 3])
    """
    if keep_rows <= 0:
        return []
    gains = sorted(((sum(len(r) for r in parts), -b) for b, parts in incoming.items() if b not in dead))
    kept: list[Rows] = []
    total = 0
    for gain, neg in gains:
        if total + gain > keep_rows:
            break
        total += gain
        kept += incoming.pop(-neg)
    return kept


def _split_by_centers(
    snap: Snapshot,
    bucket: int,
    rows: Rows,
    index: Index,
    tree: Any,
    centers: np.ndarray,
    fps: list[str],
    cfg: IndexConfig,
    dim: int,
) -> tuple[list[tuple[int, Rows]], Any, np.ndarray]:
    """Split an oversized center-routed bucket in place and reassign only the boundary rows (SPFresh).

    The bucket's rows get ``ceil(rows / bucket_size)``-ish new buckets (a subtree fitted on them, then
    Lloyd steps at full width); bucket ``bucket`` keeps the first, the others are appended. Then the rows
    of the split bucket and of its ``_NEIGHBOURS`` nearest buckets each go to the nearest of the new and
    neighbouring centers. Returns the (bucket, rows) groups to write (new buckets and neighbours whose rows
    changed), the grown tree and the grown centers; ``fps`` grows in place.
    """
    points = index.projection.project(rows.vectors)
    sub = fit_tree(points, cfg.bucket_size, rule=cfg.tree_rule, max_depth=max(1, cfg.max_depth), seed=cfg.seed + bucket)
    if sub.n_buckets < 2:
        return [(bucket, rows)], tree, centers
    new_centers, _ = refine_centers(rows.vectors, sub.route(points), sub.n_buckets, max(1, cfg.refine_iterations))
    first_new = len(fps)
    tree.replace_bucket(bucket, sub, first_new)
    fps += [""] * (sub.n_buckets - 1)
    old_center = centers[bucket].copy()
    centers = np.concatenate([centers, new_centers[1:]])
    centers[bucket] = new_centers[0]
    new_buckets = [bucket] + list(range(first_new, len(fps)))
    # the nearest non-empty old buckets to where the split bucket's center was
    d = center_norms(centers[:first_new]) - 2.0 * centers[:first_new] @ old_center
    d[bucket] = np.inf
    d[[i for i in range(first_new) if not fps[i]]] = np.inf
    neighbours = [int(i) for i in np.argsort(d)[:_NEIGHBOURS] if np.isfinite(d[i])]
    nb_rows = [Rows.concat(list(iter_live_rows(snap, [(BUCKETS, fps[nb])])), dim) for nb in neighbours]
    candidates = np.array(new_buckets + neighbours)
    cand_centers = centers[candidates]
    norms = center_norms(cand_centers)
    # every row of the split bucket and of the neighbours goes to its nearest candidate; a bucket is
    # rewritten whole (its kept rows with what it receives) whenever its rows change
    pieces: dict[int, list[Rows]] = {int(c): [] for c in candidates}
    changed = set(new_buckets)
    own = candidates[nearest_center(rows.vectors, cand_centers, norms)]
    for c in np.unique(own).tolist():
        pieces[c].append(rows.take(own == c))
        changed.add(c)
    moved = 0
    for nb, nr in zip(neighbours, nb_rows):
        if not len(nr):
            continue
        go = candidates[nearest_center(nr.vectors, cand_centers, norms)]
        for c in np.unique(go).tolist():
            pieces[c].append(nr.take(go == c))
        leave = go != nb
        if leave.any():
            changed.add(nb)
            changed.update(np.unique(go[leave]).tolist())
            moved += int(leave.sum())
    groups = {c: pieces[c] for c in candidates.tolist() if c in changed}
    log.info(
        "split bucket %d (%d rows) into %d; %d boundary rows of %d neighbouring buckets moved",
        bucket,
        len(rows),
        len(new_buckets),
        moved,
        len(neighbours),
    )
    return (
        [(c, Rows.concat(parts, dim) if parts else rows.take(np.zeros(0, np.int64))) for c, parts in groups.items()],
        tree,
        centers,
    )


def _update_idmap(snap: Snapshot, touched: set[int], replaced: dict[int, np.ndarray]) -> list[str]:
    bits = snap.manifest.idmap_bits
    new_keys = np.concatenate([k for k in replaced.values()]) if replaced else np.empty(0, np.int64)
    new_buckets = (
        np.concatenate([np.full(len(k), bucket, np.int32) for bucket, k in replaced.items()])
        if replaced
        else np.empty(0, np.int32)
    )
    shard_ids = shard_of(new_keys, bits)
    out = []
    for s in range(1 << bits):
        old = snap.shard(s) if snap.manifest.idmap else KeyShard(np.empty(0, np.int64), np.empty(0, np.int32))
        keep = ~np.isin(old.buckets, list(touched))
        sel = shard_ids == s
        keys = np.concatenate([old.keys[keep], new_keys[sel]])
        buckets = np.concatenate([old.buckets[keep], new_buckets[sel]])
        order = np.argsort(keys, kind="stable")
        data, fp = KeyShard(keys[order], buckets[order].astype(np.int32)).to_bytes()
        snap.store.put(idmap_key(fp), data)
        out.append(fp)
    return out

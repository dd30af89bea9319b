"""Text search over a collection: by vector (its stored embedder), by keyword (BM25), or both fused.

Hybrid search runs both, each to ``depth`` results, and fuses the two rankings:

- ``fusion="rrf"`` (reciprocal rank fusion, Cormack et al. 2009): a row scores
  ``2 * weight / (rrf_k + vector_rank) + 2 * (1 - weight) / (rrf_k + keyword_rank)`` (ranks from 1;
  a list a row is absent from adds nothing). ``weight=0.5`` is plain RRF; it needs no score calibration.
- ``fusion="linear"``: the weighted variant on scores: each list's scores are min-max normalised per
  query to [0, 1] (absent: 0), then ``weight * vector + (1 - weight) * keyword``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from vectree.collection import Collection
from vectree.collection.keywords import keyword_search
from vectree.collection.plan import DEFAULT_PROBES
from vectree.embed.attach import check_embedder, load_embedder
from vectree.embed.base import Embedder
from vectree.errors import InvalidInputError

MODES = ("vector", "keyword", "hybrid")
FUSIONS = ("rrf", "linear")


@dataclass
class TextSearchResult:
    """ids: (n, k), best first (-1, or None for str ids, where fewer than k rows were found); scores: (n, k),
    higher is better (vector: similarity ``1 - distance``; keyword: BM25; hybrid: the fused score)."""

    ids: np.ndarray
    scores: np.ndarray
    mode: str

    def __len__(self) -> int:
        return len(self.ids)


def search_text(
    col: Collection,
    texts: Sequence[str] | str,
    k: int = 10,
    mode: str = "hybrid",
    *,
    embedder: Embedder | None = None,
    vectors: Any = None,
    probes: int = DEFAULT_PROBES,
    fusion: str = "rrf",
    weight: float = 0.5,
    rrf_k: int = 60,
    depth: int | None = None,
    where: dict[str, Any] | None = None,
) -> TextSearchResult:
    """The k best rows for each text. ``mode``: "vector", "keyword" (needs :func:`build_keyword_index`) or "hybrid".

    Vector mode embeds the texts with ``embedder`` (default: the one stored with the collection, see
    :mod:`vectree.embed.attach`), or takes the query ``vectors`` already embedded. ``depth`` (default
    ``max(k, 50)``) is how deep each list goes before fusion. ``where`` (a filter, as in
    :meth:`Collection.search <vectree.collection.Collection.search>`) restricts every mode to matching rows
    (pre-filtered in the vector scan; the keyword ranking read deep enough to hold k matches).

    >>> import vectree
    >>> from vectree.collection.keywords import build_keyword_index
    >>> col = vectree.create_collection("memory://doc-hybrid", dim=2, metric="cosine")
    >>> _ = col.add([[1.0, 0.0], [0.0, 1.0]], ids=[1, 2], metadata=[{"text": "red apples"}, {"text": "green pears"}])
    >>> _ = build_keyword_index(col, "text")
    >>> search_text(col, "pears", k=2, mode="hybrid", vectors=[[0.1, 1.0]]).ids.tolist()
    [[2, 1]]
    """
    if mode not in MODES:
        raise InvalidInputError(f"mode must be one of {MODES}, got {mode!r}")
    if fusion not in FUSIONS:
        raise InvalidInputError(f"fusion must be one of {FUSIONS}, got {fusion!r}")
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not 0.0 <= weight <= 1.0:
        raise InvalidInputError(f"weight must be a number in [0, 1], got {weight!r}")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k <= 0:
        raise InvalidInputError(f"k must be a positive integer, got {k!r}")
    texts = [texts] if isinstance(texts, str) else list(texts)
    depth = max(int(k), 50) if depth is None else int(depth)
    if depth < k:
        raise InvalidInputError(f"depth must be at least k={k}, got {depth}")
    if mode == "keyword":
        ids, scores = keyword_search(col, texts, k, where=where)
        return TextSearchResult(ids, scores, mode)
    v_ids, v_scores = _vector(col, texts, k if mode == "vector" else depth, embedder, vectors, probes, where)
    if mode == "vector":
        return TextSearchResult(v_ids, v_scores, mode)
    k_ids, k_scores = keyword_search(col, texts, depth, where=where)
    return _fuse(v_ids, v_scores, k_ids, k_scores, k, fusion, weight, rrf_k)


def _vector(
    col: Collection,
    texts: list[str],
    depth: int,
    embedder: Embedder | None,
    vectors: Any,
    probes: int,
    where: dict[str, Any] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    if vectors is None:
        if embedder is None:
            embedder = load_embedder(col)
        else:
            check_embedder(col, embedder)
        vectors = embedder.encode(texts)
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim != 2 or len(vectors) != len(texts):
        raise InvalidInputError(f"vectors must be ({len(texts)}, {col.dim}), one per text, got shape {vectors.shape}")
    res = col.search(vectors, k=depth, probes=probes, where=where)
    scores = np.where(np.isfinite(res.distances), 1.0 - res.distances, 0.0).astype(np.float32)
    return res.ids, scores


def _fuse(
    v_ids: np.ndarray,
    v_scores: np.ndarray,
    k_ids: np.ndarray,
    k_scores: np.ndarray,
    k: int,
    fusion: str,
    weight: float,
    rrf_k: int,
) -> TextSearchResult:
    str_ids = v_ids.dtype == object or k_ids.dtype == object
    missing = None if str_ids else -1
    out_ids = np.full((len(v_ids), k), missing, dtype=object if str_ids else np.int64)
    out_scores = np.zeros((len(v_ids), k), np.float32)
    for q in range(len(v_ids)):
        fused: dict[Any, float] = {}
        for ids, scores, w in ((v_ids[q], v_scores[q], weight), (k_ids[q], k_scores[q], 1.0 - weight)):
            valid = np.array([i is not None and i != -1 for i in ids], dtype=bool)
            ids, scores = ids[valid], scores[valid]
            if fusion == "rrf":
                contrib = 2.0 * w / (rrf_k + np.arange(1, len(ids) + 1))
            else:
                lo, hi = (float(scores.min()), float(scores.max())) if len(scores) else (0.0, 0.0)
                contrib = w * ((scores - lo) / (hi - lo) if hi > lo else np.ones(len(scores)))
            for i, c in zip(ids.tolist(), contrib.tolist()):
                fused[i] = fused.get(i, 0.0) + c
        best = sorted(fused.items(), key=lambda item: (-item[1], str(item[0])))[:k]
        for r, (i, s) in enumerate(best):
            out_ids[q, r], out_scores[q, r] = i, s
    return TextSearchResult(out_ids, out_scores, "hybrid")

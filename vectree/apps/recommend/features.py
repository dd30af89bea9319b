"""Item and user side features for MovieLens: title embeddings, genres, year.

Title encoders: ``"minilm"`` (all-MiniLM-L6-v2, 384-d) and ``"static"`` (64-d static token embeddings),
both the ``vectree.embed`` encoders, cached on disk next to the data; ``"hash"`` (a hashed bag of words:
no model, instant).
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import numpy as np

from vectree.apps.recommend.data import MovieLens
from vectree.errors import InvalidInputError

log = logging.getLogger(__name__)


def default_cache_dir() -> Path:
    """``$VECTREE_CACHE`` or ``~/.cache/vectree``: where computed title embeddings are cached (never in the repo)."""
    return Path(os.environ.get("VECTREE_CACHE", Path.home() / ".cache" / "vectree"))


def hashed_title_embeddings(titles: list[str], dim: int = 64) -> np.ndarray:
    """Signed hashed bag of lower-cased words (and word bigrams), L2-normalised, float32 (n, dim)."""
    out = np.zeros((len(titles), dim), dtype=np.float32)
    for r, title in enumerate(titles):
        words = "".join(c if c.isalnum() else " " for c in title.lower()).split()
        for tok in words + [a + "_" + b for a, b in zip(words, words[1:])]:
            h = int.from_bytes(hashlib.blake2b(tok.encode(), digest_size=8).digest(), "little")
            out[r, h % dim] += 1.0 if (h >> 32) & 1 else -1.0
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.maximum(norms, 1e-9)


def _cached_encode(kind: str, titles: list[str], cache_dir: str | Path | None) -> np.ndarray:
    key = hashlib.sha256("\n".join(titles).encode()).hexdigest()[:16]
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    path = cache / f"titles-{kind}-{key}.npy"
    if path.is_file():
        return np.load(path)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from vectree.embed import SentenceEncoder, StaticEmbedder

    encoder = SentenceEncoder() if kind == "minilm" else StaticEmbedder()
    vecs = np.asarray(encoder.encode(titles), dtype=np.float32)
    cache.mkdir(parents=True, exist_ok=True)
    np.save(path, vecs)
    return vecs


def minilm_title_embeddings(titles: list[str], cache_dir: str | Path | None = None) -> np.ndarray:
    """all-MiniLM-L6-v2 sentence embeddings of the titles (``vectree.embed.SentenceEncoder``: unit norm,
    384-d), cached on disk by content hash."""
    return _cached_encode("minilm", titles, cache_dir)


def static_title_embeddings(titles: list[str], cache_dir: str | Path | None = None) -> np.ndarray:
    """64-d static token embeddings of the titles (``vectree.embed.StaticEmbedder``), cached on disk."""
    return _cached_encode("static", titles, cache_dir)


def title_embeddings(ml: MovieLens, encoder: str = "hash", dim: int = 64) -> np.ndarray:
    """Title embeddings with the named encoder: ``"minilm"``, ``"static"`` or ``"hash"`` (``dim`` is used
    by ``"hash"`` only)."""
    if encoder == "hash":
        return hashed_title_embeddings(ml.titles, dim)
    if encoder == "minilm":
        return minilm_title_embeddings(ml.titles)
    if encoder == "static":
        return static_title_embeddings(ml.titles)
    raise InvalidInputError(f"title encoder must be 'minilm', 'static' or 'hash', got {encoder!r}")


def year_features(years: np.ndarray) -> np.ndarray:
    """Scaled year plus a one-hot of the decade (1920s and before .. 1990s), float32 (n, 9)."""
    y = np.asarray(years, dtype=np.float32)
    known = y > 0
    fill = np.median(y[known]) if known.any() else 1990.0
    y = np.where(known, y, fill)
    decade = np.clip(((y - 1920) // 10).astype(np.int64), 0, 7)
    onehot = np.eye(8, dtype=np.float32)[decade]
    return np.column_stack([(y - 1990.0) / 15.0, onehot]).astype(np.float32)


def item_side_features(ml: MovieLens, titles: np.ndarray) -> np.ndarray:
    """Item tower input: genres multi-hot, year features and the title embedding, float32."""
    return np.column_stack([ml.genres, year_features(ml.years), titles]).astype(np.float32)


def content_vectors(ml: MovieLens, titles: np.ndarray, genre_weight: float = 0.5) -> np.ndarray:
    """Item content embeddings for content-based profiles: unit title embedding concatenated with the
    unit genre vector times ``genre_weight``, re-normalised to unit length (float32)."""
    g = ml.genres / np.maximum(np.linalg.norm(ml.genres, axis=1, keepdims=True), 1e-9)
    t = titles / np.maximum(np.linalg.norm(titles, axis=1, keepdims=True), 1e-9)
    v = np.column_stack([t, genre_weight * g])
    return (v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-9)).astype(np.float32)


class Catalog:
    """Side information the funnel needs, per item and per user (all numpy, dense indices)."""

    def __init__(
        self,
        *,
        titles: list[str],
        genres: np.ndarray,
        genre_names: list[str],
        years: np.ndarray,
        item_features: np.ndarray,
        content: np.ndarray,
        user_features: np.ndarray,
        user_age: np.ndarray,
        item_ids: np.ndarray | None = None,
        user_ids: np.ndarray | None = None,
    ) -> None:
        self.titles = titles
        self.genres = np.asarray(genres, dtype=np.float32)
        self.genre_names = genre_names
        self.years = np.asarray(years)
        self.item_features = np.asarray(item_features, dtype=np.float32)
        self.content = np.asarray(content, dtype=np.float32)
        self.user_features = np.asarray(user_features, dtype=np.float32)
        self.user_age = np.asarray(user_age, dtype=np.float32)
        self.item_ids = np.arange(len(titles)) if item_ids is None else np.asarray(item_ids)
        self.user_ids = np.arange(len(user_features)) if user_ids is None else np.asarray(user_ids)

    @property
    def n_items(self) -> int:
        return len(self.titles)

    @classmethod
    def from_movielens(cls, ml: MovieLens, title_encoder: str = "hash", title_dim: int = 64) -> Catalog:
        """Build from MovieLens: title embeddings with ``title_encoder`` ("minilm", "static" or "hash")."""
        titles = title_embeddings(ml, title_encoder, title_dim)
        return cls(
            titles=ml.titles,
            genres=ml.genres,
            genre_names=ml.genre_names,
            years=ml.years,
            item_features=item_side_features(ml, titles),
            content=content_vectors(ml, titles),
            user_features=ml.user_features(),
            user_age=ml.user_age,
            item_ids=ml.item_ids,
            user_ids=ml.user_ids,
        )

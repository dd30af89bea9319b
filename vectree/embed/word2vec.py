"""Word2vec document embeddings trained on your own corpus (the seed's "nbow").

A document is the mean, or the IDF-weighted mean, of the vectors of its words (gensim CBOW or
skip-gram), L2-normalised. Tokens come from :func:`vectree.embed.tokenize.tokenize`. The
training parameters, the vocabulary, the word vectors and the IDF weights are all saved by
``to_bytes`` so that a reloaded embedder encodes exactly as the one that built a collection.
"""

from __future__ import annotations

import io
import json
import logging
import math
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from vectree.embed.base import as_texts, normalize_rows, pack, params_hash, register
from vectree.embed.tokenize import tokenize
from vectree.errors import InvalidInputError

log = logging.getLogger(__name__)
WEIGHTINGS = ("mean", "tfidf")


class _TokenCorpus:
    """Re-iterable token lists over a re-iterable text sequence (gensim makes several passes)."""

    def __init__(self, texts: Sequence[str]) -> None:
        self.texts = texts

    def __iter__(self) -> Iterator[list[str]]:
        for t in self.texts:
            yield tokenize(t)


@register("word2vec")
class Word2VecEmbedder:
    """Mean (or IDF-weighted mean) of gensim word2vec vectors trained on the user's texts.

    Parameters
    ----------
    vector_size, window, min_count, epochs, negative, sample: gensim's word2vec parameters.
    sg: 0 for CBOW, 1 for skip-gram.
    weighting: ``"tfidf"`` (each token weighted by its smoothed IDF, so a word repeated counts
        repeatedly: TF x IDF) or ``"mean"`` (plain mean of the word vectors).
    seed, workers: gensim's; results are bit-reproducible only with ``workers=1``.

    Documents with no known word get the normalised mean of all word vectors (never a zero row).

    >>> emb = Word2VecEmbedder(vector_size=8, min_count=1, epochs=2).fit(["a cat sat", "a dog ran"] * 20)
    >>> emb.encode(["the cat ran"]).shape
    (1, 8)
    """

    kind = "word2vec"

    def __init__(
        self,
        *,
        vector_size: int = 200,
        window: int = 5,
        min_count: int = 3,
        sg: int = 0,
        epochs: int = 5,
        negative: int = 5,
        sample: float = 1e-3,
        weighting: str = "tfidf",
        seed: int = 1,
        workers: int = 2,
    ) -> None:
        self.vector_size = vector_size
        self.window = window
        self.min_count = min_count
        self.sg = sg
        self.epochs = epochs
        self.negative = negative
        self.sample = sample
        self.weighting = weighting
        self.seed = seed
        self.workers = workers

    # ------------------------------------------------------------------ protocol
    @property
    def name(self) -> str:
        return f"word2vec-{'sg' if self.sg else 'cbow'}-{self.vector_size}d-{self.weighting}"

    @property
    def dim(self) -> int:
        return int(self.vector_size)

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The training and encoding parameters (what ``__init__`` takes; ``deep`` is accepted for
        scikit-learn, which asks nested objects for theirs)."""
        return {
            k: getattr(self, k)
            for k in (
                "vector_size",
                "window",
                "min_count",
                "sg",
                "epochs",
                "negative",
                "sample",
                "weighting",
                "seed",
                "workers",
            )
        }

    def _check_params(self) -> None:
        if self.weighting not in WEIGHTINGS:
            raise InvalidInputError(f"weighting must be one of {WEIGHTINGS}, got {self.weighting!r}")
        if self.sg not in (0, 1):
            raise InvalidInputError(f"sg must be 0 (CBOW) or 1 (skip-gram), got {self.sg!r}")
        for k in ("vector_size", "window", "min_count", "epochs", "workers"):
            v = getattr(self, k)
            if not isinstance(v, int) or v < 1:
                raise InvalidInputError(f"{k} must be a positive integer, got {v!r}")

    def fit(self, texts: Iterable[str]) -> Word2VecEmbedder:
        """Train word vectors and document frequencies on ``texts`` (a list, or any re-iterable sequence).

        A one-shot iterator is tokenised into memory first; pass a re-iterable object for corpora
        larger than RAM (it is read ``epochs + 2`` times).
        """
        from gensim.models import Word2Vec

        self._check_params()
        if isinstance(texts, str):
            raise InvalidInputError("fit takes a collection of texts, got a single string")
        corpus: Iterable[list[str]]
        if iter(texts) is texts:  # one-shot iterator
            corpus = [tokenize(t) for t in as_texts(texts)]
        else:
            corpus = _TokenCorpus(texts)  # type: ignore[arg-type]
        df: Counter[str] = Counter()
        n_docs = 0
        for toks in corpus:
            df.update(set(toks))
            n_docs += 1
        if n_docs == 0:
            raise InvalidInputError("fit needs at least one text")
        model = Word2Vec(
            vector_size=self.vector_size,
            window=self.window,
            min_count=self.min_count,
            sg=self.sg,
            negative=self.negative,
            sample=self.sample,
            seed=self.seed,
            workers=self.workers,
        )
        model.build_vocab(corpus)
        if not len(model.wv):
            raise InvalidInputError(
                f"no word occurs at least min_count={self.min_count} times in the {n_docs} texts; lower min_count"
            )
        model.train(corpus, total_examples=model.corpus_count, epochs=self.epochs)
        self.vocab_ = list(model.wv.index_to_key)
        self.vectors_ = np.asarray(model.wv.vectors, dtype=np.float32)
        self.idf_ = np.array([math.log((1 + n_docs) / (1 + df[w])) + 1.0 for w in self.vocab_], dtype=np.float32)
        self.n_docs_ = n_docs
        self._prepare()
        log.info("word2vec: %d words, %d documents, %d-d", len(self.vocab_), n_docs, self.dim)
        return self

    def _prepare(self) -> None:
        self._index = {w: i for i, w in enumerate(self.vocab_)}
        self._fallback = normalize_rows(self.vectors_.mean(axis=0, keepdims=True))[0]
        self._fp: tuple[dict, str] | None = None  # (the parameters it was computed for, the hash)

    def _check_fitted(self) -> None:
        if not hasattr(self, "vectors_"):
            raise InvalidInputError("this Word2VecEmbedder is not fitted: call fit(texts) first (or load a saved one)")

    def encode(self, texts: Sequence[str], *, show_progress: bool = False, batch_size: int = 10_000) -> np.ndarray:
        """(n, dim) float32, L2-normalised document vectors."""
        from scipy import sparse

        self._check_fitted()
        texts = as_texts(texts)
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(texts), batch_size):
            part = texts[start : start + batch_size]
            rows, cols = [], []
            for r, t in enumerate(part):
                idx = [self._index[w] for w in tokenize(t) if w in self._index]
                rows += [r] * len(idx)
                cols += idx
            cols_a = np.asarray(cols, dtype=np.int64)
            vals = self.idf_[cols_a] if self.weighting == "tfidf" else np.ones(len(cols_a), np.float32)
            w = sparse.csr_matrix(
                (vals, (np.asarray(rows, dtype=np.int64), cols_a)), shape=(len(part), len(self.vocab_))
            )
            x = normalize_rows(np.asarray(w @ self.vectors_, dtype=np.float32))
            empty = np.asarray(w.getnnz(axis=1)) == 0
            x[empty] = self._fallback
            out[start : start + len(part)] = x
        return out

    def config_hash(self) -> str:
        """Checksum of the parameters, vocabulary, vectors and IDF weights."""
        self._check_fitted()
        params = {**self.get_params(), "vocab_size": len(self.vocab_)}
        if self._fp is None or self._fp[0] != params:  # computed once per parameter set (a changed weighting counts)
            weights = [self.vectors_.tobytes(), self.idf_.tobytes(), "\n".join(self.vocab_).encode()]
            self._fp = (params, params_hash(self.kind, params, weights))
        return self._fp[1]

    # ------------------------------------------------------------------ saving
    def to_bytes(self) -> bytes:
        """A zip holding the parameters, the vocabulary, the vectors and the IDF weights."""
        self._check_fitted()
        buf = io.BytesIO()
        np.savez(buf, vectors=self.vectors_, idf=self.idf_)
        params = {**self.get_params(), "n_docs": self.n_docs_}
        files = {"vocab.json": json.dumps(self.vocab_).encode(), "weights.npz": buf.getvalue()}
        return pack(self.kind, params, self.config_hash(), files)

    @classmethod
    def _from_parts(cls, params: dict[str, Any], files: dict[str, bytes]) -> Word2VecEmbedder:
        n_docs = params.pop("n_docs", 0)
        emb = cls(**params)
        arrays = np.load(io.BytesIO(files["weights.npz"]))
        emb.vectors_ = arrays["vectors"].astype(np.float32)
        emb.idf_ = arrays["idf"].astype(np.float32)
        emb.vocab_ = json.loads(files["vocab.json"])
        emb.n_docs_ = n_docs
        emb._prepare()
        return emb

    def __repr__(self) -> str:
        return f"Word2VecEmbedder({', '.join(f'{k}={v!r}' for k, v in self.get_params().items())})"

"""TF-IDF document vectors made dense: uni- and bigram TF-IDF (sublinear term frequency) projected on its
top singular directions (latent semantic analysis), L2-normalised. Trained on the corpus it will embed,
like word2vec; saved with the collection as ``embedder.json`` plus its vocabulary, IDF and projection
(JSON and a pickle-free ``.npz``).

>>> emb = TfidfEmbedder(dim=2, min_df=1).fit(["cats purr", "cats meow", "dogs bark", "dogs growl"])
>>> v = emb.encode(["cats", "dogs"])
>>> v.shape, bool(abs(float(v[0] @ v[1])) < 0.5)
((2, 2), True)
"""

from __future__ import annotations

import io
import json
from typing import Any

import numpy as np

from vectree.embed.base import as_texts, normalize_rows, pack, params_hash, register
from vectree.embed.tokenize import tokenize
from vectree.errors import InvalidInputError


@register("tfidf-lsa")
class TfidfEmbedder:
    """Uni+bigram TF-IDF reduced to ``dim`` dimensions by truncated SVD (scikit-learn).

    Parameters: ``dim``; ``ngrams`` (1 or 2); ``min_df`` (drop rarer terms); ``max_features``; ``seed``.
    """

    kind = "tfidf-lsa"

    def __init__(
        self, *, dim: int = 256, ngrams: int = 2, min_df: int = 2, max_features: int = 200_000, seed: int = 0
    ) -> None:
        self.dim_, self.ngrams, self.min_df, self.max_features, self.seed = (
            int(dim),
            int(ngrams),
            int(min_df),
            int(max_features),
            seed,
        )

    @property
    def dim(self) -> int:
        return self.dim_

    @property
    def name(self) -> str:
        return f"tfidf-lsa-{self.dim_}d"

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor parameters."""
        return {
            "dim": self.dim_,
            "ngrams": self.ngrams,
            "min_df": self.min_df,
            "max_features": self.max_features,
            "seed": self.seed,
        }

    def _vectorizer(self, vocabulary: dict[str, int] | None = None) -> Any:
        from sklearn.feature_extraction.text import TfidfVectorizer

        return TfidfVectorizer(
            tokenizer=tokenize,
            token_pattern=None,
            lowercase=False,
            ngram_range=(1, self.ngrams),
            min_df=self.min_df if vocabulary is None else 1,
            sublinear_tf=True,
            max_features=self.max_features if vocabulary is None else None,
            vocabulary=vocabulary,
        )

    def fit(self, texts: Any) -> TfidfEmbedder:
        """Learn the vocabulary, IDF and projection from ``texts``. Returns self."""
        from sklearn.decomposition import TruncatedSVD

        texts = as_texts(texts)
        vec = self._vectorizer()
        try:
            x = vec.fit_transform(texts)
        except ValueError as exc:
            raise InvalidInputError(f"TF-IDF found no terms to keep ({exc}); lower min_df or give more text") from exc
        if x.shape[1] <= self.dim_:
            raise InvalidInputError(f"the corpus has {x.shape[1]} terms, not more than dim={self.dim_}; lower dim")
        svd = TruncatedSVD(self.dim_, random_state=self.seed, algorithm="randomized", n_iter=4).fit(x)
        self.vectorizer_ = vec
        self.components_ = svd.components_.astype(np.float32)
        return self

    def encode(self, texts: Any, *, show_progress: bool = False) -> np.ndarray:
        """(n, dim) float32, L2-normalised; texts with no known term get a fixed unit vector."""
        if not hasattr(self, "components_"):
            raise InvalidInputError("TfidfEmbedder is not fitted; call fit(texts) first")
        x = self.vectorizer_.transform(as_texts(texts))
        out = normalize_rows(np.asarray(x @ self.components_.T, dtype=np.float32))
        out[~out.any(axis=1)] = 1.0 / np.sqrt(self.dim_)
        return out

    def _files(self) -> dict[str, bytes]:
        vocab = sorted(self.vectorizer_.vocabulary_, key=self.vectorizer_.vocabulary_.get)
        buf = io.BytesIO()
        np.savez(buf, idf=self.vectorizer_.idf_.astype(np.float64), components=self.components_)
        return {"vocabulary.json": json.dumps(vocab).encode(), "weights.npz": buf.getvalue()}

    def config_hash(self) -> str:
        """Parameters, vocabulary and weights hashed."""
        if not hasattr(self, "components_"):
            raise InvalidInputError("TfidfEmbedder is not fitted; call fit(texts) first")
        return params_hash(self.kind, self.get_params(), list(self._files().values()))

    def to_bytes(self) -> bytes:
        return pack(self.kind, self.get_params(), self.config_hash(), self._files())

    @classmethod
    def _from_parts(cls, params: dict[str, Any], files: dict[str, bytes]) -> TfidfEmbedder:
        emb = cls(**params)
        vocab = json.loads(files["vocabulary.json"])
        vec = emb._vectorizer({t: i for i, t in enumerate(vocab)})
        with np.load(io.BytesIO(files["weights.npz"]), allow_pickle=False) as z:
            vec.fit(vocab[:1])  # sets up the fixed vocabulary; the IDF is then replaced by the stored one
            vec.idf_ = z["idf"]
            emb.components_ = z["components"]
        emb.vectorizer_ = vec
        return emb

    def __repr__(self) -> str:
        return f"TfidfEmbedder(dim={self.dim_}, ngrams={self.ngrams}, min_df={self.min_df})"

"""A linear head on the texts themselves: softmax regression on their sparse uni+bigram TF-IDF.

The collection holds dense vectors (MiniLM 384-d, TF-IDF-LSA 256-d); a linear model on those loses what the
projection dropped (on 20 Newsgroups, LSA-256 costs ~6 points against sparse TF-IDF + logistic regression).
So, when the classifier is given texts, this head reads their sparse TF-IDF (the vocabulary, IDF and weights
learned from the training texts) and its probabilities join the neighbour vote's in the mixture
(:mod:`vectree.apps.classify.mixture`). It is kept as plain arrays and saved pickle-free: the vocabulary, IDF,
weights (rounded to float16, halving the attachment) and intercepts in one ``.npz``.

>>> texts = ["cats purr softly", "a cat purrs", "dogs bark loudly", "a dog barks"] * 5
>>> head = TextHead(C=10.0).fit(texts, np.array([0, 0, 1, 1] * 5), n_classes=2)
>>> head.predict_proba(["the cats purr", "dogs bark"]).argmax(1).tolist()
[0, 1]
"""

from __future__ import annotations

import io
import logging
from typing import Any

import numpy as np

from vectree.embed.tokenize import tokenize
from vectree.errors import InvalidInputError

log = logging.getLogger(__name__)

MAX_FEATURES = 200_000
"""Terms kept (the most frequent uni- and bigrams), as the TF-IDF + logistic regression peer of the benchmark."""


def _vectorizer(vocabulary: dict[str, int] | None = None, min_df: int = 3) -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(
        tokenizer=tokenize,
        token_pattern=None,
        lowercase=False,
        ngram_range=(1, 2),
        min_df=min_df if vocabulary is None else 1,
        sublinear_tf=True,
        max_features=MAX_FEATURES if vocabulary is None else None,
        vocabulary=vocabulary,
        dtype=np.float32,
    )


class TextHead:
    """Multinomial logistic regression (scikit-learn, lbfgs) on uni+bigram TF-IDF (sublinear tf) of texts.

    ``C``: inverse L2 regularisation; ``max_iter``: lbfgs iterations. Terms seen in fewer than 3 training texts
    are dropped (in fewer than 1 when there are under 50 texts).
    """

    def __init__(self, *, C: float = 10.0, max_iter: int = 100) -> None:  # noqa: N803  (sklearn's name)
        self.C, self.max_iter = C, max_iter

    def features(self, texts: list[str]) -> Any:
        """The (n, terms) sparse TF-IDF rows of ``texts`` (float32 CSR)."""
        return self.vectorizer_.transform(texts)

    def fit(
        self,
        texts: list[str],
        y: np.ndarray,
        n_classes: int,
        warm: TextHead | None = None,
        rows: np.ndarray | None = None,
    ) -> TextHead:
        """Fit on ``texts`` (or, with ``rows``, on ``texts[rows]``) and class indices ``y`` of those rows.

        ``warm``: a head fitted on a subset of the same texts (the held-out fit): its vocabulary is reused and
        the fit starts from its solution. Raises InvalidInputError when the texts have no term at all."""
        from sklearn.linear_model import LogisticRegression

        if warm is not None:
            self.vectorizer_, x = warm.vectorizer_, warm.matrix_
        else:
            self.vectorizer_ = _vectorizer(min_df=3 if len(texts) >= 50 else 1)
            try:
                x = self.vectorizer_.fit_transform(texts)
            except ValueError as exc:
                raise InvalidInputError(f"the texts have no terms for the text head ({exc})") from exc
        self.matrix_ = x  # the TF-IDF of every text, for the refit on all rows
        if rows is not None:
            x = x[rows]
        present = np.unique(y)
        self.coef_ = np.zeros((n_classes, x.shape[1]), dtype=np.float32)
        self.intercept_ = np.full(n_classes, -30.0, dtype=np.float32)  # classes absent from the rows: ~0 probability
        self.model_ = None
        if present.size == 1:
            self.intercept_[present[0]] = 0.0
            return self
        model = getattr(warm, "model_", None)
        if model is not None and np.array_equal(warm.present_, present):
            model.set_params(warm_start=True, C=self.C, max_iter=self.max_iter)
        else:
            model = LogisticRegression(C=self.C, max_iter=self.max_iter)
        model.fit(x, y)
        self.model_, self.present_ = model, present
        coef, intercept = model.coef_, model.intercept_
        if present.size == 2:  # sklearn keeps one row for two classes
            coef, intercept = np.vstack([-coef / 2, coef / 2]), np.array([-intercept[0] / 2, intercept[0] / 2])
        self.coef_[present] = coef.astype(np.float16)  # what is stored: predictions before and after saving agree
        self.intercept_[present] = intercept
        return self

    def release(self) -> TextHead:
        """Drop what only a refit needs (the training TF-IDF matrix and the sklearn model). Returns self."""
        self.matrix_, self.model_ = None, None
        return self

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        """(n, n_classes) softmax probabilities (float64) of ``texts``."""
        z = np.asarray(self.features(texts) @ self.coef_.T, np.float64) + self.intercept_
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def to_npz(self) -> bytes:
        """The vocabulary, IDF, float16 weights and intercepts as a pickle-free ``.npz``."""
        vocab = sorted(self.vectorizer_.vocabulary_, key=self.vectorizer_.vocabulary_.get)
        buf = io.BytesIO()
        np.savez(
            buf,
            vocabulary=np.array(vocab, dtype=str),
            idf=self.vectorizer_.idf_.astype(np.float64),
            coef=self.coef_.astype(np.float16),
            intercept=self.intercept_,
        )
        return buf.getvalue()

    @classmethod
    def from_npz(cls, data: bytes) -> TextHead:
        """The head :meth:`to_npz` saved (it predicts as the saved one did)."""
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            vocab = z["vocabulary"].tolist()
            head = cls()
            head.vectorizer_ = _vectorizer({t: i for i, t in enumerate(vocab)})
            head.vectorizer_.fit(vocab[:1])  # sets up the fixed vocabulary; the IDF is then replaced by the stored one
            head.vectorizer_.idf_ = z["idf"]
            head.coef_, head.intercept_ = z["coef"].astype(np.float32), z["intercept"]
        head.matrix_, head.model_ = None, None
        return head

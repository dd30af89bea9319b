"""A linear head on the texts themselves: a linear SVM on their sparse uni+bigram TF-IDF, its margins made
probabilities by a temperature.

The collection holds dense vectors (MiniLM 384-d, TF-IDF-LSA 256-d); a linear model on those loses what the
projection dropped (on 20 Newsgroups, LSA-256 costs ~6 points against sparse TF-IDF + logistic regression).
So, when the classifier is given texts, this head reads their sparse TF-IDF (the vocabulary, IDF and weights
learned from the training texts) and its probabilities join the neighbour vote's in the mixture
(:mod:`vectree.apps.classify.mixture`). It is kept as plain arrays and saved pickle-free: the vocabulary, IDF,
weights (rounded to float16, halving the attachment), intercepts and temperature in one ``.npz``.

The model is scikit-learn's ``LinearSVC`` (one-vs-rest, squared hinge, liblinear), not softmax regression: on
the same features it is more accurate and several times faster to fit (20 Newsgroups: 86.5% in 8 s at C=0.5,
against 85.4% in 143 s for lbfgs logistic regression at C=10; arXiv: 82.3% against 82.0%; movie reviews 76.1%
against 76.0%). Its margins are not probabilities: ``predict_proba`` is ``softmax(margins / temperature)``, the
temperature fitted on out-of-fold margins of the training rows
(:func:`vectree.apps.classify.calibrate.fit_temperature`).

>>> texts = ["cats purr softly", "a cat purrs", "dogs bark loudly", "a dog barks"] * 5
>>> head = TextHead(C=0.5).fit(texts, np.array([0, 0, 1, 1] * 5), n_classes=2)
>>> head.predict_proba(["the cats purr", "dogs bark"]).argmax(1).tolist()
[0, 1]
"""

from __future__ import annotations

import io
import logging
from typing import Any

import numpy as np

from vectree.apps.classify.calibrate import softmax
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


DEFAULT_TEMPERATURE = 0.2
"""The margins' temperature when none was fitted (a fixed ``blend``): near what 20 Newsgroups and movie reviews fit
(0.12 and 0.31)."""


class TextHead:
    """A linear SVM (scikit-learn ``LinearSVC``, one-vs-rest) on uni+bigram TF-IDF (sublinear tf) of texts.

    ``C``: the SVM's inverse L2 regularisation; ``temperature``: the margins' softmax temperature. Terms seen in
    fewer than 3 training texts are dropped (in fewer than 1 when there are under 50 texts).
    """

    def __init__(self, *, C: float = 0.5, temperature: float = DEFAULT_TEMPERATURE) -> None:  # noqa: N803
        self.C, self.temperature = C, temperature

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

        ``warm``: a head fitted on (a subset of) the same texts: its vocabulary and TF-IDF matrix are reused.
        Raises InvalidInputError when the texts have no term at all."""
        from sklearn.svm import LinearSVC

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
        if present.size == 1:
            self.intercept_[present[0]] = 0.0
            return self
        model = LinearSVC(C=self.C).fit(x, y)
        coef, intercept = model.coef_, model.intercept_
        if present.size == 2:  # sklearn keeps one row for two classes
            coef, intercept = np.vstack([-coef / 2, coef / 2]), np.array([-intercept[0] / 2, intercept[0] / 2])
        self.coef_[present] = coef.astype(np.float16)  # what is stored: predictions before and after saving agree
        self.intercept_[present] = intercept
        return self

    def release(self) -> TextHead:
        """Drop what only a refit needs (the training TF-IDF matrix). Returns self."""
        self.matrix_ = None
        return self

    def margins(self, features: Any) -> np.ndarray:
        """(n, n_classes) SVM margins (float64) of TF-IDF rows (``features(texts)``, or rows of ``matrix_``)."""
        return np.asarray(features @ self.coef_.T, np.float64) + self.intercept_

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        """(n, n_classes) probabilities (float64) of ``texts``: ``softmax(margins / temperature)``."""
        return softmax(self.margins(self.features(texts)), self.temperature)

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
            temperature=np.float64(self.temperature),
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
            head.temperature = float(z["temperature"]) if "temperature" in z.files else 1.0  # saved before: softmax
        head.matrix_ = None
        return head

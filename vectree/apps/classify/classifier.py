"""Document classification by nearest labelled neighbours in a collection (the seed's Document Classifier).

Texts are embedded, stored in a collection with their labels, and a new text gets the (weighted)
vote of its ``n_neighbors`` nearest stored texts, found by visiting the ``probes`` nearest buckets.
The embedder and the classifier's settings are stored with the collection, so a fitted classifier
is reopened from its URL alone and always embeds queries with the model that built it::

    clf = DocumentClassifier(SentenceEncoder(), collection="runs/arxiv").fit(texts, labels)
    clf = DocumentClassifier.open("runs/arxiv")          # later, elsewhere
    clf.predict(["A new transformer for image segmentation"])

It is a scikit-learn estimator (``BaseEstimator`` + ``ClassifierMixin``): ``get_params``/``set_params``,
``clone``, pipelines and grid search work, and ``fit`` leaves the constructor arguments as given (an
unfitted word2vec embedder is copied, then trained: the fitted one is ``embedder_``). With
``embedder=None`` the inputs are vectors, a 2-d numeric array, and sklearn's estimator checks pass, under
l2 and under cosine (an all-zero row is at cosine distance 1 from every row: :mod:`.neighbours`).
"""

from __future__ import annotations

import copy
import itertools
import json
import logging
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import validate_data

import vectree
from vectree.apps.classify.calibrate import sharpened
from vectree.apps.classify.inputs import (  # noqa: F401 - BadVectorsTypeError: importable from here, as before
    BadVectorsTypeError,
    NotFittedClassifierError,
    Timings,
    as_invalid_input,
    batched,
    is_vectors,
    stored_rows,
)
from vectree.apps.classify.mixture import HEAD_ATTACHMENT, fit_heads, mix, rebalanced, save_heads  # noqa: F401
from vectree.apps.classify.neighbours import prior, search_vote
from vectree.apps.classify.saved import CONFIG_ATTACHMENT, config_of, read_config, restore, settings_of
from vectree.apps.classify.vote import WEIGHTS, plain
from vectree.collection.plan import DEFAULT_PROBES
from vectree.collection.validate import check_probes
from vectree.embed import Embedder, Word2VecEmbedder, attach_embedder, check_embedder, load_embedder
from vectree.embed.base import as_texts
from vectree.errors import InvalidInputError, NotFoundError

log = logging.getLogger(__name__)


class DocumentClassifier(ClassifierMixin, BaseEstimator):
    """k-nearest-neighbour text classifier over a vectree collection (a scikit-learn estimator).

    Parameters
    ----------
    embedder: any :class:`~vectree.embed.Embedder`; a :class:`~vectree.embed.Word2VecEmbedder` that is not
        fitted yet is copied and the copy trained on the training texts. None: ``X`` is already vectors.
    collection: URL of the collection to create (path, ``file://``, ``memory://``, ``s3://``); a fresh
        ``memory://`` collection when None.
    n_neighbors: neighbours that vote.
    probes: buckets visited per query (default :data:`vectree.collection.plan.DEFAULT_PROBES`).
    exact: scan every bucket instead (``probes`` is then ignored).
    weights: ``"uniform"`` (one vote each), ``"distance"`` (vote 1 / (distance + 1e-6)), or a function
        mapping the (n, k) distance array to (n, k) weights.
    batch_size: texts embedded and written per batch in :meth:`fit` (memory use is bounded by it).
    bucket_size, metric: passed to :func:`vectree.create_collection`.
    show_progress: progress bars while embedding.
    head: ``"logistic"`` (the default) adds linear heads whose probabilities are mixed with the vote's
        (:mod:`vectree.apps.classify.mixture`): softmax regression on the same vectors and, when the classifier
        is given texts, on their sparse TF-IDF (``text_head``); None: the vote alone.
    text_head: ``"tfidf"`` (the default): with ``head`` and texts, the second head reads the texts' uni+bigram
        TF-IDF (:mod:`vectree.apps.classify.text_head`); None: the head on vectors only. Fitted on vectors without
        texts, there is no text head.
    blend: the heads' total weight in the mixture (split evenly between them), or ``"auto"``: the vote's and each
        head's weight chosen on out-of-fold predictions of the training rows (3 folds of at most 5,000 rows; the
        vote alone when it is best there: the kNN stays the classifier and explains itself by its neighbours), and
        the mixture's probabilities calibrated by a temperature fitted on the same rows.
    head_C: the head on vectors' inverse L2 regularisation.
    text_C: the text head's (a linear SVM's) inverse L2 regularisation.

    Attributes (after fit): ``classes_``, ``collection_`` (the :class:`vectree.Collection`), ``embedder_``
    (the embedder used), ``n_features_in_`` (the vector dimension), ``mixture_`` (the weights of ``"vote"``,
    ``"vectors"`` and ``"text"``), ``mixture_scores_`` (the out-of-fold accuracy of each weight tuple tried),
    ``temperature_`` (of the mixture's probabilities; 1.0 unless ``blend="auto"``), ``calibration_`` (the
    out-of-fold log loss before and after it, and the text head's temperature),
    ``timings_`` (``embed_s``, ``search_s``, ``n`` of the last predict call).

    >>> import numpy as np
    >>> X = np.array([[0.0, 1.0], [0.1, 1.0], [1.0, 0.0], [1.0, 0.1]])
    >>> clf = DocumentClassifier(n_neighbors=1).fit(X, ["up", "up", "right", "right"])
    >>> clf.predict(np.array([[0.2, 0.9]])).tolist(), clf.get_params()["n_neighbors"]
    (['up'], 1)
    """

    def __init__(
        self,
        embedder: Embedder | None = None,
        *,
        collection: str | None = None,
        n_neighbors: int = 20,
        probes: int = DEFAULT_PROBES,
        exact: bool = False,
        weights: str | Callable[[np.ndarray], np.ndarray] = "distance",
        batch_size: int = 2048,
        bucket_size: int | None = None,
        metric: str = "cosine",
        show_progress: bool = False,
        storage_options: dict[str, Any] | None = None,
        head: str | None = "logistic",
        blend: float | str = "auto",
        head_C: float = 10.0,  # noqa: N803
        text_head: str | None = "tfidf",
        text_C: float = 0.5,  # noqa: N803
    ) -> None:
        self.embedder = embedder
        self.collection = collection
        self.n_neighbors = n_neighbors
        self.probes = probes
        self.exact = exact
        self.weights = weights
        self.batch_size = batch_size
        self.bucket_size = bucket_size
        self.metric = metric
        self.show_progress = show_progress
        self.storage_options = storage_options
        self.head = head
        self.blend = blend
        self.head_C = head_C
        self.text_head = text_head
        self.text_C = text_C

    # ------------------------------------------------------------------ fitting
    def _check_params(self) -> None:
        if not isinstance(self.n_neighbors, (int, np.integer)) or self.n_neighbors < 1:
            raise InvalidInputError(f"n_neighbors must be a positive integer, got {self.n_neighbors!r}")
        if not (callable(self.weights) or self.weights in WEIGHTS):
            raise InvalidInputError(f"weights must be one of {WEIGHTS} or a function, got {self.weights!r}")
        check_probes(self.probes)
        if not isinstance(self.exact, (bool, np.bool_)):
            raise InvalidInputError(f"exact must be True or False, got {self.exact!r}")
        if self.head not in (None, "logistic"):
            raise InvalidInputError(f"head must be None or 'logistic', got {self.head!r}")
        for name in ("head_C", "text_C"):
            value = getattr(self, name)
            if not isinstance(value, (int, float, np.number)) or not value > 0:
                raise InvalidInputError(f"{name} must be a positive number, got {value!r}")
        if self.text_head not in (None, "tfidf"):
            raise InvalidInputError(f"text_head must be None or 'tfidf', got {self.text_head!r}")
        if self.blend != "auto" and not (isinstance(self.blend, (int, float)) and 0 <= self.blend <= 1):
            raise InvalidInputError(f"blend must be 'auto' or a weight in [0, 1], got {self.blend!r}")
        if self.batch_size < 1:
            raise InvalidInputError(f"batch_size must be positive, got {self.batch_size!r}")

    def _create(self, dim: int) -> vectree.Collection:
        url = self.collection or f"memory://vectree-classifier-{uuid.uuid4().hex[:12]}"
        return vectree.create_collection(
            url, dim=dim, metric=self.metric, bucket_size=self.bucket_size, storage_options=self.storage_options
        )

    def fit(self, X: Any, y: Any) -> DocumentClassifier:
        """Embed the texts ``X`` batch by batch into a new collection with their labels ``y``, build its
        index, return self. ``X`` may be a 2-d array of vectors instead (see ``fit_embeddings``).

        ``X`` and ``y`` may be lazy iterables of the same length (a corpus larger than memory streams
        through in ``batch_size`` pieces, though the linear head, the default, holds the vectors for its fit:
        ``head=None`` keeps memory bounded); a word2vec embedder that still needs fitting needs ``X`` to be
        re-iterable (e.g. a list).
        """
        if self.embedder is None or is_vectors(X):
            return self.fit_embeddings(X, y)
        self._check_params()
        texts, labels = X, y
        embedder = self.embedder
        if isinstance(embedder, Word2VecEmbedder) and not hasattr(embedder, "vectors_"):
            if iter(texts) is texts:  # type: ignore[comparison-overlap]
                raise InvalidInputError(
                    "an unfitted Word2VecEmbedder needs re-iterable texts (a list), or fit it first"
                )
            embedder = copy.deepcopy(embedder).fit(texts)
        self.embedder_ = embedder
        texts_kept: list[str] | None = [] if self._reads_texts() else None

        def batches() -> Iterator[tuple[np.ndarray, Any, list[Any], Any]]:
            pairs = itertools.zip_longest(texts, labels, fillvalue=_MISSING)
            for chunk in batched(pairs, self.batch_size):
                if any(t is _MISSING or y is _MISSING for t, y in chunk):
                    raise InvalidInputError("texts and labels have different lengths; give one label per text")
                t, y_ = zip(*chunk)
                if texts_kept is not None:
                    texts_kept.extend(as_texts(t))
                yield embedder.encode(as_texts(t), show_progress=self.show_progress), None, list(y_), None

        return self._fit_batches(batches(), embedder.dim, texts_kept)

    def _reads_texts(self) -> bool:
        return self.head is not None and self.text_head is not None

    def fit_embeddings(self, vectors: Any, labels: Any, texts: Any = None) -> DocumentClassifier:
        """Fit on vectors already computed by ``self.embedder`` (e.g. a cached .npy), in ``batch_size`` pieces.
        ``texts``: the texts the vectors were embedded from, for the text head (as :meth:`fit` on the texts)."""
        self._check_params()
        if labels is None:
            raise InvalidInputError(f"{type(self).__name__} requires y to be passed, but the target y is None")
        from sklearn.utils.multiclass import check_classification_targets

        with as_invalid_input():
            vectors, labels = validate_data(self, vectors, labels, dtype=np.float32, y_numeric=False)
            check_classification_targets(labels)
        labels = [plain(v) for v in labels.tolist()]
        if labels and all(isinstance(v, float) and v.is_integer() for v in labels):
            labels = [int(v) for v in labels]  # integral float labels are classes
        self.embedder_ = self.embedder
        dim = self.embedder.dim if self.embedder is not None else int(vectors.shape[1])
        if vectors.shape[1] != dim:
            raise InvalidInputError(f"vectors have {vectors.shape[1]} columns but the embedder makes {dim}-d vectors")
        if texts is not None:
            texts = as_texts(texts)
            if len(texts) != len(labels):
                raise InvalidInputError(f"got {len(texts)} texts for {len(labels)} vectors; give one text per vector")
        rows = (
            (vectors[s : s + self.batch_size], None, labels[s : s + self.batch_size], None)
            for s in range(0, len(labels), self.batch_size)
        )
        return self._fit_batches(rows, dim, texts if self._reads_texts() else None)

    def _fit_batches(self, batches: Iterable[tuple], dim: int, texts: list[str] | None = None) -> DocumentClassifier:
        col = self._create(dim)
        kept: list[tuple[np.ndarray, list[Any]]] | None = [] if self.head is not None else None  # for the heads
        counts: dict[Any, int] = {}
        t0 = time.perf_counter()
        col.add_batches(stored_rows(batches, self.metric, counts, kept))
        col.build()
        log.info("fitted %d rows into %s in %.1fs", len(col), col.url, time.perf_counter() - t0)
        if self.embedder_ is not None:
            attach_embedder(col, self.embedder_)
        self.classes_ = np.array(sorted(counts), dtype=object if any(isinstance(c, str) for c in counts) else np.int64)
        self.class_prior_ = prior(np.array([counts[plain(c)] for c in self.classes_]))
        self.collection_ = col
        self.n_features_in_ = int(dim)
        self.timings_ = Timings()
        self.head_, self.text_head_ = None, None
        self.mixture_ = {"vote": 1.0, "vectors": 0.0, "text": 0.0}
        self.temperature_ = 1.0
        if self.head is not None:
            self._fit_heads(np.concatenate([k[0] for k in kept]), [y for k in kept for y in k[1]], texts)
            save_heads(col, self.head_, self.text_head_)
        col.put_attachment(CONFIG_ATTACHMENT, json.dumps(config_of(self)).encode())
        return self

    def _fit_heads(self, x: np.ndarray, labels: list[Any], texts: list[str] | None) -> None:
        """Fit the linear heads and choose the mixture and its temperature (``blend="auto"``) out of fold."""
        index = {c: i for i, c in enumerate(plain(c) for c in self.classes_)}
        y = np.array([index[v] for v in labels], dtype=np.int64)
        fitted = fit_heads(
            x, texts, y, len(self.classes_), self.head_C, self.blend, self._vote_without_self, self.text_C
        )
        self.head_, self.text_head_, self.mixture_ = fitted.vectors, fitted.text, fitted.weights
        self.temperature_ = fitted.temperature
        if fitted.scores is not None:
            self.mixture_scores_, self.calibration_ = fitted.scores, fitted.held_out

    @property
    def blend_(self) -> float:
        """The heads' total weight in the mixture (1 - the vote's); setting it keeps the heads' proportions."""
        return round(1.0 - self.mixture_["vote"], 6)

    @blend_.setter
    def blend_(self, value: float) -> None:
        self.mixture_ = rebalanced(self.mixture_, value, self.text_head_ is not None)

    def _vote_without_self(self, x: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """The vote for rows already in the collection, each row's own entry left out."""
        return self._search_vote(x, exclude_ids=ids)

    def _search_vote(
        self, x: np.ndarray, where: dict | None = None, exclude_ids: np.ndarray | None = None
    ) -> np.ndarray:
        return search_vote(
            self.collection_,
            x,
            classes=self.classes_,
            class_prior=getattr(self, "class_prior_", prior(np.zeros(len(self.classes_)))),
            n_neighbors=int(self.n_neighbors),
            probes=self.probes,
            exact=bool(self.exact),
            weights=self.weights,
            where=where,
            exclude_ids=exclude_ids,
        )

    @classmethod
    def open(
        cls, url: str, embedder: Embedder | None = None, *, storage_options: dict[str, Any] | None = None, **params: Any
    ) -> DocumentClassifier:
        """Reopen a fitted classifier from its collection URL, with the stored embedder.

        Passing ``embedder`` checks it against the stored one (EmbedderMismatchError if it differs).
        Keyword ``params`` (n_neighbors, probes, exact, weights...) override the stored settings.
        """
        col = vectree.open_collection(url, storage_options=storage_options)
        config = read_config(col, url)
        if embedder is None:
            try:
                embedder = load_embedder(col)
            except NotFoundError:
                embedder = None  # fitted on vectors: it takes vectors
        else:
            check_embedder(col, embedder)
        clf = cls(embedder, collection=url, storage_options=storage_options, **settings_of(config, params))
        clf._check_params()
        return restore(clf, col, config, embedder)

    # ------------------------------------------------------------------ predicting
    def _check_fitted(self) -> None:
        if not hasattr(self, "collection_"):
            raise NotFittedClassifierError(
                "this DocumentClassifier is not fitted: call fit(texts, labels) or DocumentClassifier.open(url)"
            )

    def predict_proba(self, X: Any, where: dict | None = None) -> np.ndarray:
        """(n, n_classes) class probabilities (weighted neighbour votes), columns in ``classes_`` order.
        ``X``: texts, or a 2-d array of vectors.

        ``where``: vote only among stored documents that match this filter (see ``Collection.search``); the
        linear head, which knows no filter, then stays out."""
        self._check_fitted()
        if self.embedder_ is None or is_vectors(X):
            return self.predict_proba_embeddings(X, where=where)
        texts = list(as_texts(X))
        t0 = time.perf_counter()
        vectors = self.embedder_.encode(texts, show_progress=self.show_progress)
        embed_s = time.perf_counter() - t0
        proba = self.predict_proba_embeddings(vectors, where=where, texts=texts)
        self.timings_["embed_s"] = embed_s
        return proba

    def predict_proba_embeddings(self, vectors: Any, where: dict | None = None, texts: Any = None) -> np.ndarray:
        """Like :meth:`predict_proba`, for query vectors already embedded by ``self.embedder``; ``texts``: the texts
        they were embedded from (needed when the classifier has a text head)."""
        self._check_fitted()
        with as_invalid_input():
            vectors = validate_data(self, vectors, dtype=np.float32, reset=False)
        weights = dict(getattr(self, "mixture_", None) or {"vote": 1.0})
        temperature = float(getattr(self, "temperature_", 1.0))
        if where is not None:  # the heads know no filter (and the temperature was fitted for the mixture)
            weights, temperature = {"vote": 1.0}, 1.0
        if weights.get("text", 0) > 0:
            if texts is None:
                raise InvalidInputError(
                    "this classifier has a text head: give the texts (predict_proba(texts), or "
                    "predict_proba_embeddings(vectors, texts=texts))"
                )
            texts = as_texts(texts)
            if len(texts) != len(vectors):
                raise InvalidInputError(f"got {len(texts)} texts for {len(vectors)} vectors")
        t0 = time.perf_counter()

        def vote() -> np.ndarray:
            out = np.zeros((len(vectors), len(self.classes_)), dtype=np.float64)
            for s in range(0, len(vectors), self.batch_size):
                out[s : s + self.batch_size] = self._search_vote(vectors[s : s + self.batch_size], where=where)
            return out

        parts = {"vote": vote, "vectors": lambda: self.head_.predict_proba(vectors)}
        if getattr(self, "text_head_", None) is not None:
            parts["text"] = lambda: self.text_head_.predict_proba(texts)
        out = sharpened(mix(weights, parts), temperature)
        self.timings_.embed_s, self.timings_.search_s, self.timings_.n = 0.0, time.perf_counter() - t0, len(vectors)
        return out

    def predict(self, X: Any, where: dict | None = None) -> np.ndarray:
        """The most voted class of each text (ties go to the class listed first in ``classes_``); ``where`` as in
        predict_proba."""
        proba = self.predict_proba(X, where=where)
        return self.classes_[np.argmax(proba, axis=1)]

    def predict_embeddings(self, vectors: Any, where: dict | None = None, texts: Any = None) -> np.ndarray:
        """Like :meth:`predict`, for query vectors already embedded by ``self.embedder`` (``texts``: as in
        :meth:`predict_proba_embeddings`)."""
        proba = self.predict_proba_embeddings(vectors, where=where, texts=texts)
        return self.classes_[np.argmax(proba, axis=1)]

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """Accuracy of :meth:`predict` against the labels ``y``."""
        y = np.asarray([plain(v) for v in y], dtype=object)
        pred = self.predict(X)
        if len(pred) != len(y):
            raise InvalidInputError(f"got {len(pred)} texts and {len(y)} labels")
        return float(np.average(pred.astype(object) == y, weights=sample_weight))

    def __sklearn_tags__(self):  # noqa: ANN204
        tags = super().__sklearn_tags__()
        if self.embedder is not None:
            tags.input_tags.string = True
        return tags

    def __getstate__(self) -> dict:
        """Pickling keeps the collection's URL and reopens it on load (the collection itself is storage)."""
        state = dict(self.__dict__)
        col = state.pop("collection_", None)
        if col is not None:
            state["_collection_url"] = col.url
        return state

    def __setstate__(self, state: dict) -> None:
        url = state.pop("_collection_url", None)
        self.__dict__.update(state)
        if url is not None:
            self.collection_ = vectree.open_collection(url, storage_options=self.storage_options)


_MISSING = object()

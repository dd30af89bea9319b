"""Embedders: ``encode(texts) -> float32 (n, dim)``, saved with the collection they fill; image embedders
(``vectree.embed.images``: a convolutional autoencoder, a supervised CNN) take image arrays instead."""

from vectree.embed.attach import attach_embedder, check_embedder, load_embedder
from vectree.embed.base import Embedder, EmbedderMismatchError, from_bytes, load, save
from vectree.embed.concat import ConcatEmbedder
from vectree.embed.hybrid import TextSearchResult, search_text
from vectree.embed.sentence import SentenceEncoder
from vectree.embed.static import StaticEmbedder
from vectree.embed.tfidf import TfidfEmbedder
from vectree.embed.tokenize import tokenize
from vectree.embed.word2vec import Word2VecEmbedder

__all__ = [
    "Embedder",
    "EmbedderMismatchError",
    "Word2VecEmbedder",
    "SentenceEncoder",
    "StaticEmbedder",
    "TfidfEmbedder",
    "ConcatEmbedder",
    "tokenize",
    "from_bytes",
    "save",
    "load",
    "attach_embedder",
    "check_embedder",
    "load_embedder",
    "search_text",
    "TextSearchResult",
]

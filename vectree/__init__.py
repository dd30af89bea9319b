"""vectree: an embedding engine. Vector collections indexed by a shallow tree of fingerprinted buckets."""

from vectree.collection import Collection, SearchResult, VerifyReport, create_collection, open_collection
from vectree.errors import ConflictError, CorruptionError, InvalidInputError, NotFoundError, StorageError, VectreeError
from vectree.index.build import IndexConfig

__version__ = "0.1.0"

__all__ = [
    "Collection", "SearchResult", "VerifyReport", "create_collection", "open_collection", "IndexConfig",
    "VectreeError", "InvalidInputError", "NotFoundError", "CorruptionError", "ConflictError", "StorageError",
]

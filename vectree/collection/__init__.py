"""Collections: versioned, indexed vector sets (create, open, add, search, compact...)."""

from vectree.collection.collection import Collection
from vectree.collection.maintenance import VerifyReport
from vectree.collection.open import create_collection, open_collection
from vectree.collection.results import SearchResult

__all__ = ["Collection", "create_collection", "open_collection", "SearchResult", "VerifyReport"]

"""Object stores behind one small interface: local directory, memory, S3."""

from vectree.storage.base import ObjectStore
from vectree.storage.cache import ByteLRU
from vectree.storage.local import LocalStore
from vectree.storage.memory import MemoryStore
from vectree.storage.url import open_store

__all__ = ["ObjectStore", "LocalStore", "MemoryStore", "ByteLRU", "open_store"]

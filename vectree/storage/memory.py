"""An in-process object store: for throwaway collections and notebooks (``memory://name``)."""

from __future__ import annotations

import threading

from vectree.errors import NotFoundError
from vectree.storage.base import ObjectStore

_SHARED: dict[str, dict[str, bytes]] = {}
_LOCK = threading.Lock()


class MemoryStore(ObjectStore):
    """Objects in a dict; stores with the same ``name`` share contents within one process."""

    def __init__(self, name: str = "default") -> None:
        self.url = f"memory://{name}"
        with _LOCK:
            self._objects = _SHARED.setdefault(name, {})

    def get(self, key: str) -> bytes:
        try:
            return self._objects[key]
        except KeyError:
            raise NotFoundError(f"object {key!r} not found in {self.url}") from None

    def get_range(self, key: str, start: int, end: int) -> bytes:
        return self.get(key)[start:end]

    def put(self, key: str, data: bytes) -> None:
        self._objects[key] = bytes(data)

    def put_if_absent(self, key: str, data: bytes) -> bool:
        with _LOCK:
            if key in self._objects:
                return False
            self._objects[key] = bytes(data)
            return True

    def exists(self, key: str) -> bool:
        return key in self._objects

    def list(self, prefix: str = "") -> list[str]:
        return sorted(k for k in list(self._objects) if k.startswith(prefix))

    def delete(self, key: str) -> None:
        self._objects.pop(key, None)

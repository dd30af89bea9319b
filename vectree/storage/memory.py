"""An in-process object store: for throwaway collections and notebooks (``memory://name``).

Stores opened with the same name share their objects while any of them is open: the objects are
freed when the last handle goes (closed, or collected), as a LanceDB ``memory://`` table is.

>>> a = MemoryStore("doc-lifetime"); a.put("x", b"1"); MemoryStore("doc-lifetime").get("x")
b'1'
>>> a.close(); MemoryStore("doc-lifetime").exists("x")
False
"""

from __future__ import annotations

import threading
import time
import weakref

from vectree.errors import NotFoundError
from vectree.storage.base import ObjectInfo, ObjectStore, check_key

_SHARED: dict[str, dict[str, bytes]] = {}
_WRITTEN: dict[str, dict[str, float]] = {}  # name -> key -> time of the last write
_HANDLES: dict[str, int] = {}
_LOCK = threading.Lock()


def _release(name: str) -> None:
    with _LOCK:
        _HANDLES[name] -= 1
        if _HANDLES[name] == 0:
            del _HANDLES[name], _SHARED[name], _WRITTEN[name]


class MemoryStore(ObjectStore):
    """Objects in a dict; stores with the same ``name`` share contents within one process."""

    def __init__(self, name: str = "default") -> None:
        self.url = f"memory://{name}"
        with _LOCK:
            self._objects = _SHARED.setdefault(name, {})
            self._written = _WRITTEN.setdefault(name, {})
            _HANDLES[name] = _HANDLES.get(name, 0) + 1
        self._release = weakref.finalize(self, _release, name)

    def close(self) -> None:
        """Let go of the shared objects (freed when no other handle of this name is open)."""
        self._release()

    def get(self, key: str) -> bytes:
        try:
            return self._objects[key]
        except KeyError:
            raise NotFoundError(f"object {key!r} not found in {self.url}") from None

    def get_range(self, key: str, start: int, end: int) -> bytes:
        return self.get(key)[start:end]

    def put(self, key: str, data: bytes) -> None:
        self._objects[check_key(key)] = bytes(data)
        self._written[key] = time.time()

    def put_if_absent(self, key: str, data: bytes) -> bool:
        check_key(key)
        with _LOCK:
            if key in self._objects:
                return False
            self._objects[key] = bytes(data)
            self._written[key] = time.time()
            return True

    def exists(self, key: str) -> bool:
        return key in self._objects

    def list(self, prefix: str = "") -> list[str]:
        return sorted(k for k in list(self._objects) if k.startswith(prefix))

    def list_info(self, prefix: str = "") -> list[ObjectInfo]:
        return [ObjectInfo(k, len(self._objects.get(k, b"")), self._written.get(k)) for k in self.list(prefix)]

    def delete(self, key: str) -> None:
        self._objects.pop(key, None)
        self._written.pop(key, None)

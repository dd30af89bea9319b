"""Turn a collection URL (plain path, ``file://``, ``memory://``, ``s3://``) into an object store."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlparse

from vectree.errors import InvalidInputError
from vectree.storage.base import ObjectStore


def open_store(url: str, **options: Any) -> ObjectStore:
    """Return the object store behind ``url``.

    >>> open_store("memory://doc").url
    'memory://doc'
    """
    url = str(url)
    parsed = urlparse(url)
    scheme = parsed.scheme.lower()
    if scheme in ("", "file") or (len(scheme) == 1 and url[1:3] == ":\\"):
        from vectree.storage.local import LocalStore

        # A file:// URL is percent-encoded (``Path.as_uri`` writes a space as %20, a + as %2B).
        path = unquote(parsed.path) if scheme == "file" else url
        if options:
            raise InvalidInputError(f"local collections take no storage options, got {sorted(options)}")
        return LocalStore(path)
    if scheme == "memory":
        from vectree.storage.memory import MemoryStore

        return MemoryStore(parsed.netloc + parsed.path)
    if scheme == "s3":
        try:
            from vectree.storage.s3 import S3Store
        except ImportError as exc:  # pragma: no cover - depends on the installed extras
            raise InvalidInputError(f"s3:// needs the S3 backend: {exc}") from exc
        return S3Store.from_url(url, **options)
    raise InvalidInputError(
        f"unsupported collection URL scheme {scheme!r} in {url!r}: use a path, file://, memory:// or s3://"
    )

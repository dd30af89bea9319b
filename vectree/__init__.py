"""vectree: an embedding engine. Vector collections indexed by a shallow tree of fingerprinted buckets."""

from vectree.collection import Collection, SearchResult, VerifyReport, create_collection, open_collection
from vectree.errors import ConflictError, CorruptionError, InvalidInputError, NotFoundError, StorageError, VectreeError
from vectree.index.build import IndexConfig

__version__ = "0.1.0"


def connect(url: str, api_key: str | None = None, **options):  # noqa: ANN003, ANN201
    """A client of a vectree service (``vectree serve``): the same methods as this library, over HTTP.

    See :func:`vectree.service.client.connect` (needs the ``service`` extra).

    >>> connect("http://127.0.0.1:9", api_key="vt_x").url
    'http://127.0.0.1:9'
    """
    from vectree.service.client import connect as _connect

    return _connect(url, api_key, **options)


__all__ = [
    "Collection",
    "SearchResult",
    "VerifyReport",
    "create_collection",
    "open_collection",
    "IndexConfig",
    "connect",
    "VectreeError",
    "InvalidInputError",
    "NotFoundError",
    "CorruptionError",
    "ConflictError",
    "StorageError",
]

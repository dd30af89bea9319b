"""Keep the embedder with the collection it filled, so queries are always embedded by the same model.

The embedder's ``to_bytes()`` is stored as the collection attachment ``embedder``; its
config hash is checked whenever a caller brings its own embedder to an existing collection.
"""

from __future__ import annotations

from vectree.collection import Collection
from vectree.embed.base import Embedder, EmbedderMismatchError, from_bytes, header_config_hash, read_header
from vectree.errors import InvalidInputError, NotFoundError

ATTACHMENT = "embedder"


def attach_embedder(col: Collection, embedder: Embedder) -> int:
    """Store ``embedder`` with ``col`` (refuses one whose dim differs from the collection's); returns the version."""
    if embedder.dim != col.dim:
        raise InvalidInputError(
            f"the embedder {embedder.name!r} makes {embedder.dim}-d vectors but {col.url} holds {col.dim}-d ones"
        )
    return col.put_attachment(ATTACHMENT, embedder.to_bytes())


def stored_embedder_header(col: Collection) -> dict | None:
    """The stored embedder's kind, parameters and config hash, or None if the collection has none."""
    try:
        return read_header(col.get_attachment(ATTACHMENT))
    except NotFoundError:
        return None


def load_embedder(col: Collection) -> Embedder:
    """The embedder stored with ``col``; NotFoundError if it was filled without one."""
    try:
        data = col.get_attachment(ATTACHMENT)
    except NotFoundError as exc:
        raise NotFoundError(f"the collection at {col.url} has no stored embedder: pass embedder= explicitly") from exc
    return from_bytes(data)


def check_embedder(col: Collection, embedder: Embedder) -> None:
    """Raise EmbedderMismatchError unless ``embedder`` is the one stored with ``col`` (same config hash)."""
    header = stored_embedder_header(col)
    if header is None:
        return
    got, saved = embedder.config_hash(), header_config_hash(header)
    if got != saved:
        raise EmbedderMismatchError(
            f"the collection at {col.url} was built with the {header['kind']} embedder {header['params']} "
            f"(config hash {saved}), but the query embedder {embedder.name!r} has config hash {got}; "
            "queries must be embedded by the same model: omit embedder= to use the stored one"
        )

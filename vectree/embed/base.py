"""The embedder protocol, its serialised form, and the registry that turns bytes back into an embedder.

Every embedder maps texts to L2-normalised float32 rows::

    vectors = embedder.encode(["a document", "another"])   # (2, embedder.dim) float32

and can be saved with a collection: ``to_bytes()`` is a small zip archive holding ``embedder.json``
(kind, parameters, config hash) and, for embedders trained here, their weights. Embedders that
come from an installed package (MiniLM, the static model) are saved by reference: model name,
package version and a checksum of the weight files, so loading them on a machine with different
weights fails instead of silently embedding queries with another model.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from vectree.errors import CorruptionError, InvalidInputError

FORMAT_VERSION = 1
_REGISTRY: dict[str, Callable[[dict[str, Any], dict[str, bytes]], Embedder]] = {}


class EmbedderMismatchError(InvalidInputError):
    """A query embedder differs from the one that built the collection (another model, parameters or weights)."""


@runtime_checkable
class Embedder(Protocol):
    """What the classifier and the CLI need from an embedder."""

    name: str

    @property
    def dim(self) -> int: ...

    def encode(self, texts: Sequence[str], *, show_progress: bool = False) -> np.ndarray: ...

    def config_hash(self) -> str:
        """A hash of the kind, parameters and weights: equal hashes embed texts the same way."""
        ...

    def to_bytes(self) -> bytes: ...


def register(kind: str) -> Callable:
    """Class decorator: make ``from_bytes`` able to rebuild embedders of this ``kind``."""

    def deco(cls: type) -> type:
        _REGISTRY[kind] = cls._from_parts
        cls.kind = kind
        return cls

    return deco


def params_hash(kind: str, params: dict[str, Any], weights: Iterable[bytes | str] = ()) -> str:
    """sha256 (hex, 32 chars) of the kind, the parameters as canonical JSON and the weight checksums/bytes."""
    h = hashlib.sha256()
    h.update(kind.encode())
    h.update(json.dumps(params, sort_keys=True, separators=(",", ":")).encode())
    for w in weights:
        h.update(w.encode() if isinstance(w, str) else hashlib.sha256(w).digest())
    return h.hexdigest()[:32]


def file_checksum(paths: Iterable[Any]) -> str:
    """sha256 over the contents of these files (in the given order): identifies a model's weights."""
    h = hashlib.sha256()
    for p in paths:
        with open(p, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()[:32]


def pack(kind: str, params: dict[str, Any], config_hash: str, files: dict[str, bytes] | None = None) -> bytes:
    """The archive ``to_bytes`` returns: ``embedder.json`` plus named weight files."""
    buf = io.BytesIO()
    header = {"format": FORMAT_VERSION, "kind": kind, "params": params, "config_hash": config_hash}
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("embedder.json", json.dumps(header, sort_keys=True, indent=1))
        for name, data in (files or {}).items():
            z.writestr(name, data)
    return buf.getvalue()


def header_config_hash(header: dict[str, Any]) -> str:
    """The config hash an ``embedder.json`` records (``"fingerprint"`` in archives written before the rename).

    >>> header_config_hash({"config_hash": "ab"}), header_config_hash({"fingerprint": "cd"})
    ('ab', 'cd')
    """
    return str(header["config_hash"] if "config_hash" in header else header["fingerprint"])


def read_header(data: bytes) -> dict[str, Any]:
    """The ``embedder.json`` of a serialised embedder (kind, params, config hash) without loading weights."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            return json.loads(z.read("embedder.json"))
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError) as exc:
        raise CorruptionError(f"not a serialised vectree embedder ({len(data)} bytes): {exc}") from exc


def from_bytes(data: bytes) -> Embedder:
    """Rebuild an embedder from ``to_bytes()`` output; checks that the result has the recorded config hash."""
    header = read_header(data)
    kind = header.get("kind")
    if kind not in _REGISTRY:
        _import_builtin_kinds()
    if kind not in _REGISTRY:
        raise InvalidInputError(f"unknown embedder kind {kind!r}; known kinds: {sorted(_REGISTRY)}")
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        files = {n: z.read(n) for n in z.namelist() if n != "embedder.json"}
    emb = _REGISTRY[kind](header["params"], files)
    got, saved = emb.config_hash(), header_config_hash(header)
    if got != saved:
        raise EmbedderMismatchError(
            f"the {kind} embedder was saved with config hash {saved} but loads as {got}: "
            "the installed model weights or package version differ from the ones that built the collection; "
            f"install the recorded version ({header['params'].get('package_version', 'see params')}) or rebuild the "
            "collection"
        )
    return emb


def save(embedder: Embedder, path: str) -> None:
    """Write ``embedder.to_bytes()`` to a file."""
    with open(path, "wb") as f:
        f.write(embedder.to_bytes())


def load(path: str) -> Embedder:
    """Read an embedder written by :func:`save`."""
    with open(path, "rb") as f:
        return from_bytes(f.read())


def normalize_rows(x: np.ndarray) -> np.ndarray:
    """L2-normalise rows in float32 (all-zero rows stay zero)."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


def as_texts(texts: Any) -> list[str]:
    """A list of str from a str, a sequence or an iterable; refuses non-strings with their position."""
    if isinstance(texts, str):
        texts = [texts]
    out = list(texts)
    for i, t in enumerate(out):
        if not isinstance(t, str):
            raise InvalidInputError(f"texts must be strings; item {i} is {type(t).__name__}: {t!r:.60}")
    return out


def _import_builtin_kinds() -> None:
    import vectree.embed.concat  # noqa: F401
    import vectree.embed.images  # noqa: F401
    import vectree.embed.sentence  # noqa: F401
    import vectree.embed.static  # noqa: F401
    import vectree.embed.tfidf  # noqa: F401
    import vectree.embed.word2vec  # noqa: F401

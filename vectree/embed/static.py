"""A fast static encoder: 64-d Model2Vec-style token embeddings from the PyPI package ``tokenlearn-static-model``.

Mean of int8 token vectors (10k-token vocabulary), normalised: thousands of texts per second on
one core, no torch. Much weaker than MiniLM; meant for tests, quick runs and large corpora.
Saved by reference (package version and a checksum of its model files).
"""

from __future__ import annotations

from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from vectree.embed.base import as_texts, file_checksum, normalize_rows, pack, params_hash, register
from vectree.errors import InvalidInputError

_DIST = "tokenlearn-static-model"
_FILES = ("config.json", "model.safetensors", "tokenizer.json")


@register("static")
class StaticEmbedder:
    """64-d static token-embedding encoder (``tokenlearn-static-model``); empty texts get a fixed unit vector."""

    kind = "static"
    name = "tokenlearn-static-64d"

    def __init__(self, *, max_tokens: int = 512, batch_size: int = 4096) -> None:
        self.max_tokens = max_tokens
        self.batch_size = batch_size
        try:
            import static_model
            from static_model._static_model import encode_batch
        except ImportError as exc:
            raise InvalidInputError(
                f"the static encoder needs the package {_DIST}: pip install 'vectree[embed]'"
            ) from exc
        self._encode_batch = encode_batch
        self._dir = Path(static_model.__file__).resolve().parent / "model"
        self._version = metadata.version(_DIST)
        self._weights: str | None = None

    @property
    def dim(self) -> int:
        return 64

    def encode(self, texts: Any, *, show_progress: bool = False) -> np.ndarray:
        """(n, 64) float32, L2-normalised."""
        texts = as_texts(texts)
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for s in range(0, len(texts), self.batch_size):
            part = texts[s : s + self.batch_size]
            out[s : s + len(part)] = np.asarray(self._encode_batch(str(self._dir), part, self.max_tokens), np.float32)
        out = normalize_rows(out)
        empty = ~out.any(axis=1)
        out[empty] = 1.0 / np.sqrt(self.dim)  # no token known: a fixed direction rather than a zero row
        return out

    def _params(self) -> dict[str, Any]:
        return {"package": _DIST, "package_version": self._version, "max_tokens": self.max_tokens}

    def config_hash(self) -> str:
        """Checksum of the package version, max_tokens and the model files."""
        if self._weights is None:
            self._weights = file_checksum(self._dir / f for f in _FILES)
        return params_hash(self.kind, self._params(), [self._weights])

    def to_bytes(self) -> bytes:
        """A reference: the model files stay in the installed package."""
        return pack(self.kind, self._params(), self.config_hash())

    @classmethod
    def _from_parts(cls, params: dict[str, Any], files: dict[str, bytes]) -> StaticEmbedder:
        return cls(max_tokens=int(params.get("max_tokens", 512)))

    def __repr__(self) -> str:
        return f"StaticEmbedder(max_tokens={self.max_tokens})"

"""Several embedders side by side: each part's unit vector, scaled by the square root of its weight, concatenated.

The cosine similarity of two concatenated vectors is then the weighted mean of the parts' cosine
similarities, so, e.g., MiniLM (context) plus corpus-trained word2vec (domain vocabulary) vote
together on who the nearest neighbours are.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np

from vectree.embed.base import Embedder, as_texts, from_bytes, normalize_rows, pack, params_hash, register
from vectree.errors import InvalidInputError


@register("concat")
class ConcatEmbedder:
    """Concatenation of ``parts`` (fitted embedders) with relative ``weights`` (default: equal)."""

    kind = "concat"

    def __init__(self, parts: Sequence[Embedder], weights: Sequence[float] | None = None) -> None:
        self.parts = list(parts)
        self.weights = [1.0] * len(self.parts) if weights is None else [float(w) for w in weights]
        if len(self.parts) < 1 or len(self.weights) != len(self.parts) or min(self.weights) <= 0:
            raise InvalidInputError(
                f"give one or more parts and one positive weight per part, got {len(self.parts)} "
                f"parts and weights {self.weights}"
            )

    @property
    def name(self) -> str:
        return "+".join(p.name for p in self.parts)

    @property
    def dim(self) -> int:
        return sum(p.dim for p in self.parts)

    def combine(self, part_vectors: Sequence[np.ndarray]) -> np.ndarray:
        """Join vectors already computed by each part (in order), e.g. cached MiniLM rows."""
        total = sum(self.weights)
        scaled = [normalize_rows(v) * np.float32(np.sqrt(w / total)) for v, w in zip(part_vectors, self.weights)]
        return normalize_rows(np.hstack(scaled))

    def encode(self, texts: Any, *, show_progress: bool = False) -> np.ndarray:
        """(n, sum of the parts' dims) float32, unit rows."""
        texts = as_texts(texts)
        return self.combine([p.encode(texts, show_progress=show_progress) for p in self.parts])

    def config_hash(self) -> str:
        """Hash of the parts' config hashes and the weights."""
        return params_hash(self.kind, {"weights": self.weights}, [p.config_hash() for p in self.parts])

    def to_bytes(self) -> bytes:
        """The parts' own serialised forms, side by side."""
        files = {f"part-{i}.bin": p.to_bytes() for i, p in enumerate(self.parts)}
        return pack(
            self.kind, {"weights": self.weights, "parts": [p.name for p in self.parts]}, self.config_hash(), files
        )

    @classmethod
    def _from_parts(cls, params: dict[str, Any], files: dict[str, bytes]) -> ConcatEmbedder:
        parts = [from_bytes(files[f"part-{i}.bin"]) for i in range(len(params["parts"]))]
        return cls(parts, params["weights"])

    def __repr__(self) -> str:
        return f"ConcatEmbedder([{', '.join(map(repr, self.parts))}], weights={json.dumps(self.weights)})"

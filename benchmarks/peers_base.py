"""What every system of the peers benchmark shares: the adapter interface and the streamed .npy reads.

Vectors are streamed from the .npy file with plain reads (never memory-mapped), so the base does not
count in a system's RSS unless the system keeps a copy.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

K = 10


# rows a system is handed at a time while it builds (every system the same): 10,000 since session 8
# (was 50,000: 157 MB of fashion-mnist a chunk, read and copied, set vectree's peak RSS, which writes its
# input to disk as it goes; the in-memory indexes hold their whole input anyway)
CHUNK = 10_000


# ------------------------------------------------------------------ data
def npy_info(path: str) -> tuple[tuple[int, ...], np.dtype, int]:
    with open(path, "rb") as f:
        version = np.lib.format.read_magic(f)
        read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, dtype = read(f)
        return shape, dtype, f.tell()


def iter_chunks(path: str, normalise: bool, rows: int = CHUNK) -> Iterator[tuple[int, np.ndarray]]:
    """(start, float32 chunk) over the base vectors, read without memory mapping."""
    (n, dim), dtype, offset = npy_info(path)
    with open(path, "rb") as f:
        f.seek(offset)
        for start in range(0, n, rows):
            c = (
                np.fromfile(f, dtype=dtype, count=min(rows, n - start) * dim)
                .reshape(-1, dim)
                .astype(np.float32, copy=False)
            )
            yield start, (normalised(c) if normalise else c)


def sample_rows(path: str, m: int, normalise: bool, seed: int = 0) -> np.ndarray:
    (n, _), _, _ = npy_info(path)
    keep = np.sort(np.random.default_rng(seed).choice(n, min(m, n), replace=False))
    parts = [c[keep[(keep >= s) & (keep < s + len(c))] - s] for s, c in iter_chunks(path, normalise)]
    return np.concatenate(parts)


def normalised(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.maximum(norms, 1e-12)).astype(np.float32)


def dir_mb(path: str | Path) -> float:
    total = 0
    for root, _, files in os.walk(path):
        total += sum(os.path.getsize(os.path.join(root, f)) for f in files)
    return total / 2**20


# ------------------------------------------------------------------ systems
class System:
    """Adapter: build/load an index, run a batch or a single query at one setting."""

    normalise = False  # cosine via normalised vectors + inner product

    def __init__(self, a: dict) -> None:
        self.a, self.metric, self.dim, self.n = a, a["metric"], a["dim"], a["n"]
        self.threads = a["threads"]
        self.dir = Path(a["index_dir"])

    def prep(self, q: np.ndarray) -> np.ndarray:
        return normalised(q) if self.normalise and self.metric == "cosine" else q

    def build(self) -> dict:
        raise NotImplementedError

    def load(self, disk: bool = False) -> None:
        raise NotImplementedError

    def batch(self, q: np.ndarray, s: Any) -> np.ndarray:
        raise NotImplementedError

    def single(self, q: np.ndarray, s: Any) -> np.ndarray:
        return self.batch(q[None], s)[0]

    def info(self) -> dict:
        return {}

    def warm(self, q: np.ndarray) -> None:
        pass

    def valid(self, s: Any) -> bool:
        return True

    def bytes_per_query(self, q: np.ndarray, s: Any) -> float | None:
        """Bytes of vectors (or codes) one query reads at setting ``s``, from the index's own counts;
        None where the library does not say (routing to buckets or lists is left out everywhere)."""
        return None

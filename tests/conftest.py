"""Shared fixtures: paths to the real data in ../shared/data (tests that need absent data skip)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytest_plugins = ["tests.s3server"]  # the SeaweedFS fixtures: s3_server, s3_fault_server

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("VECTREE_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared real-data directory; skips the test when it is not there."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA} (set VECTREE_SHARED_DATA)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def arxiv_sample() -> dict:
    """The repo's own real sample: 4,000 arXiv papers as all-MiniLM-L6-v2 vectors (384-d, cosine)."""
    import numpy as np

    data = np.load(REPO / "demo" / "arxiv-minilm-4k.npz")
    return {
        "vectors": data["vectors"].astype(np.float32),
        "ids": [str(i) for i in data["ids"]],
        "titles": [str(t) for t in data["titles"]],
        "categories": [str(c) for c in data["categories"]],
    }


def _read_idx(path: Path, offset: int):  # noqa: ANN202
    import gzip

    import numpy as np

    with gzip.open(path) as f:
        return np.frombuffer(f.read(), dtype=np.uint8, offset=offset)


@pytest.fixture(scope="session")
def fashion_mnist(shared_data: Path) -> dict:
    """A real l2 set: the first 8,000 Fashion-MNIST training images and 200 test images as float32 (784-d)."""
    import numpy as np

    folder = shared_data / "fashion-mnist"
    train = _read_idx(folder / "train-images-idx3-ubyte.gz", 16).reshape(-1, 784)
    test = _read_idx(folder / "t10k-images-idx3-ubyte.gz", 16).reshape(-1, 784)
    labels = _read_idx(folder / "train-labels-idx1-ubyte.gz", 8)
    return {
        "train": train[:8000].astype(np.float32),
        "labels": labels[:8000].astype(np.int64),
        "queries": test[:200].astype(np.float32),
    }


def recall_at_k(found, truth) -> float:  # noqa: ANN001
    """Mean overlap of two (n, k) id arrays."""
    return float(sum(len(set(a) & set(b)) for a, b in zip(found.tolist(), truth.tolist())) / truth.size)


@pytest.fixture(scope="session")
def movielens():
    """MovieLens 100k, fetched once (from the recbole==1.2.1 wheel); skips the test when it cannot be fetched."""
    from vectree.apps.recommend_data import load_movielens_100k
    from vectree.errors import StorageError

    try:
        return load_movielens_100k()
    except StorageError as exc:
        pytest.skip(f"MovieLens 100k could not be fetched from the recbole==1.2.1 wheel: {exc}")


@pytest.fixture(scope="module")
def one_torch_thread():
    """One torch / OpenMP thread: on the shared 2-core machine spinning thread pools cost more than they give."""
    import torch
    from threadpoolctl import threadpool_limits

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    with threadpool_limits(1):
        yield
    torch.set_num_threads(before)

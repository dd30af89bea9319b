"""Shared fixtures: the real data the repo ships (demo/, tests/data/) and the larger sets in ../shared/data.

Core tests (storage, format, index, collection, native, cli) use only what the repo ships or
generates, and a skipped core test fails the run: they must never pass by not running.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytest_plugins = [
    "tests.s3server",
    "tests.serviceserver",
]  # SeaweedFS (s3_server, s3_fault_server); vectree serve (service_server)

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


@pytest.fixture(scope="session")
def fashion_mnist() -> dict:
    """A real l2 set shipped with the tests: 8,000 Fashion-MNIST training images, their labels and 200
    test images, as float32 (784-d; ``tests/data/README.md``)."""
    import numpy as np

    data = np.load(REPO / "tests" / "data" / "fashion-mnist-8k.npz")
    return {
        "train": data["train"].astype(np.float32),
        "labels": data["labels"].astype(np.int64),
        "queries": data["queries"].astype(np.float32),
    }


def recall_at_k(found, truth) -> float:  # noqa: ANN001
    """Mean overlap of two (n, k) id arrays."""
    return float(sum(len(set(a) & set(b)) for a, b in zip(found.tolist(), truth.tolist())) / truth.size)


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


CORE = ("storage", "format", "index", "collection", "native", "cli")


def pytest_terminal_summary(terminalreporter, exitstatus, config):  # noqa: ANN001, ANN201
    """Fail the run when a core test was skipped (a fresh clone must run every one of them)."""
    skipped = [r for r in terminalreporter.stats.get("skipped", []) if _is_core(r.nodeid)]
    if skipped:
        terminalreporter.write_line(
            f"FAILED: {len(skipped)} core test(s) skipped: " + ", ".join(r.nodeid for r in skipped[:10]), red=True
        )
        config._vectree_core_skips = len(skipped)


def pytest_sessionfinish(session, exitstatus):  # noqa: ANN001, ANN201
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None and any(_is_core(r.nodeid) for r in reporter.stats.get("skipped", [])):
        session.exitstatus = 1


def _is_core(nodeid: str) -> bool:
    parts = nodeid.split("::")[0].split("/")
    return len(parts) > 2 and parts[0] == "tests" and parts[1] in CORE


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that run a benchmark script's ``--quick`` are marked ``benchmark`` (``-m 'not benchmark'``
    leaves them out of a fast loop; the suite, and CI, run them)."""
    for item in items:
        path = item.nodeid.split("::")[0]
        if path.startswith("tests/benchmarks/") or ("benchmark" in path and path.endswith("_quick.py")):
            item.add_marker(pytest.mark.benchmark)

"""The build's memory follows its budgets, not the row count: inputs and partition files are read, not mapped,
and doubling the rows leaves the build's working set (numpy + Arrow allocations) about where it was."""

import json
import os
import subprocess
import sys

import numpy as np

import vectree
from vectree.cli.readers import read_batches
from vectree.index import IndexConfig

_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _mapped(fragment: str) -> bool:
    with open("/proc/self/maps") as f:
        return any(fragment in line for line in f)


def _clustered(n: int, dim: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    means = rng.normal(0, 4, (64, dim)).astype(np.float32)
    return (means[rng.integers(0, 64, n)] + rng.normal(0, 1, (n, dim))).astype(np.float32)


def test_npy_input_is_read_in_batches_never_mapped(tmp_path):
    x = _clustered(50_000, 16)
    path = tmp_path / "vectors.npy"
    np.save(path, x)
    seen = []
    for batch in read_batches(path, batch_size=8_000):
        assert not _mapped(str(path))  # explicit reads: no file-backed pages of a mapping in the resident set
        seen.append(batch["vectors"])
    assert [len(b) for b in seen] == [8_000] * 6 + [2_000]
    np.testing.assert_array_equal(np.concatenate(seen), x)


def test_partition_files_are_read_not_mapped(tmp_path):
    col = vectree.create_collection(tmp_path / "c", dim=16, bucket_size=100)
    col.add(_clustered(50_000, 16))
    mapped_while_writing = []

    def progress(stage: str, done: int, total: int) -> None:
        if stage == "write":
            mapped_while_writing.append(_mapped("part-"))

    col.build(config=IndexConfig(bucket_size=100, sample_size=5_000, partition_bytes=1 << 20), progress=progress)
    assert len(mapped_while_writing) > 5 and not any(mapped_while_writing)
    assert col.stats()["indexed_rows"] == 50_000 and col.verify().ok


_MEASURE = """
import json, sys, tracemalloc
import pyarrow as pa
import vectree
from vectree.index import IndexConfig
col = vectree.open_collection(sys.argv[1], cache_bytes=1 << 20)  # the query cache is not the build's
before = pa.default_memory_pool().max_memory()
tracemalloc.start()
col.build(config=IndexConfig(bucket_size=100, sample_size=4_000, partition_bytes=1 << 20))
numpy_peak = tracemalloc.get_traced_memory()[1]
print(json.dumps({"numpy_peak": numpy_peak, "arrow_peak": pa.default_memory_pool().max_memory(), "before": before}))
"""


def _build_peak(path, n: int) -> dict:
    col = vectree.create_collection(path, dim=32, bucket_size=100)
    x = _clustered(n, 32)
    for s in range(0, n, 10_000):
        col.add(x[s : s + 10_000])
    env = {**os.environ, "PYTHONPATH": _ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}
    out = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(path)], capture_output=True, text=True, env=env, check=True
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def test_doubling_the_rows_leaves_the_build_working_set_flat(tmp_path):
    # 25k and 50k rows of 32-d (3.2 and 6.4 MB of vectors), with a 1 MB partition budget and a 4k-row sample:
    # the memory model (vectree/index/build.py) is sample + one partition + one group + per-bucket state
    small, large = _build_peak(tmp_path / "a", 25_000), _build_peak(tmp_path / "b", 50_000)
    raw_large = 50_000 * 32 * 4
    # a bound of the memory model, as traced (allocated, not necessarily touched): up to 32 MB of the cache's
    # first slab, the 16 MB distance block of nearest_center, 4x the partition budget, 12 MB for the rest
    for m in (small, large):
        assert m["numpy_peak"] + m["arrow_peak"] < (32 << 20) + (16 << 20) + 4 * (1 << 20) + (12 << 20), m
    growth = (large["numpy_peak"] + large["arrow_peak"]) - (small["numpy_peak"] + small["arrow_peak"])
    assert growth < 0.1 * raw_large, (small, large)  # 25k more rows: at most 10% of their bytes more memory

"""Writing buckets holds a partition once: its record batches are read one at a time into arrays of the
partition's size, and buckets are gathered from those a group at a time. (Reading it as one Arrow table and
taking each group from it held it twice: a take joins every chunk of the table again, once per group.)"""

import json
import os
import subprocess
import sys

import numpy as np
import pyarrow as pa

from vectree.format.arrays import numeric_array
from vectree.format.bucket import Rows, rows_to_table
from vectree.index.build import _partition_buckets

_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
N, DIM, BATCH, GROUP = 60_000, 64, 2_000, 4_000


def _write_partition(path: str, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A partition file as routing writes one: a stream of record batches, one per routed chunk, each
    holding rows of many buckets in input order. Returns the rows' vectors and buckets."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(N, DIM)).astype(np.float32)
    buckets = rng.integers(0, 300, N).astype(np.int32)
    writer = None
    for s in range(0, N, BATCH):
        rows = Rows(ids=np.arange(s, s + BATCH), vectors=x[s : s + BATCH])
        table = rows_to_table(rows, extra={"bucket": numeric_array(buckets[s : s + BATCH], pa.int32())})
        writer = writer or pa.ipc.new_stream(path, table.schema)
        writer.write_table(table)
    writer.close()
    return x, buckets


def test_buckets_come_out_whole_in_bucket_order(tmp_path):
    x, buckets = _write_partition(str(tmp_path / "part.arrows"))
    seen, groups = [], 0
    for bucket, rows in _partition_buckets(str(tmp_path / "part.arrows"), GROUP, N):
        if rows is None:
            groups += 1
            continue
        assert (buckets[rows.ids] == bucket).all() and len(rows) == (buckets == bucket).sum()
        np.testing.assert_array_equal(rows.vectors, x[rows.ids])
        np.testing.assert_array_equal(rows.ids, np.sort(rows.ids))  # input order within a bucket (stable)
        seen.append(bucket)
    assert seen == sorted(set(buckets.tolist())) and groups >= N // GROUP - 1


_MEASURE = """
import json, sys, tracemalloc
import pyarrow as pa
from vectree.index.build import _partition_buckets
tracemalloc.start()
for _ in _partition_buckets(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])):
    pass
peaks = {"numpy_peak": tracemalloc.get_traced_memory()[1], "arrow_peak": pa.default_memory_pool().max_memory()}
print(json.dumps(peaks))
"""


def test_a_partition_is_held_once_plus_a_group(tmp_path):
    path = str(tmp_path / "part.arrows")
    _write_partition(path)
    size = os.path.getsize(path)  # 15.9 MB: the vectors, ids and bucket numbers
    env = {**os.environ, "PYTHONPATH": _ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}
    out = subprocess.run(
        [sys.executable, "-c", _MEASURE, path, str(GROUP), str(N)], capture_output=True, text=True, env=env, check=True
    ).stdout
    m = json.loads(out.strip().splitlines()[-1])
    group_bytes = GROUP * (DIM * 4 + 8)
    # the partition's arrays once (~1x the file), one batch while reading, the bucket order, one gathered group;
    # reading the table whole and taking groups from it peaked at over 2x the file
    assert m["numpy_peak"] + m["arrow_peak"] < 1.3 * size + 3 * group_bytes, (m, size)

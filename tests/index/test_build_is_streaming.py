"""The build spills rows to partition files and samples a bounded number of rows, with the same result."""

import numpy as np

import vectree
from tests.conftest import recall_at_k
from vectree.index import IndexConfig


def test_small_partitions_and_sample_give_complete_buckets(tmp_path, fashion_mnist):
    x = fashion_mnist["train"]
    col = vectree.create_collection(tmp_path / "c", dim=784, bucket_size=200)
    col.add(x[:4000])
    col.add(x[4000:])
    stages = []
    cfg = IndexConfig(bucket_size=200, sample_size=1500, partition_bytes=1 << 20)
    col.build(config=cfg, progress=lambda stage, done, total: stages.append(stage))
    assert {"sample", "route", "write"} <= set(stages)
    assert stages.count("write") > 5  # rows were cut into buckets partition by partition
    s = col.stats()
    assert s["rows"] == s["indexed_rows"] == len(x)
    assert s["bucket_rows_max"] <= 2 * 200  # fitted on a 19% sample: buckets stay near the target
    q = fashion_mnist["queries"]
    exact = col.search(q, k=10, exact=True)
    assert recall_at_k(col.search(q, k=10, probes=8).ids, exact.ids) > 0.9
    assert col.verify().ok


def test_float16_buckets_keep_recall(tmp_path, fashion_mnist):
    x = fashion_mnist["train"]
    col = vectree.create_collection(tmp_path / "h", dim=784, bucket_size=500, vector_dtype="float16")
    col.add(x)
    col.build()
    q = fashion_mnist["queries"].astype(np.float64)
    x64 = x.astype(np.float64)
    full = np.sort((q * q).sum(1)[:, None] - 2 * q @ x64.T + (x64 * x64).sum(1)[None, :], axis=1)[:, :10]
    res = col.search(fashion_mnist["queries"], k=10, exact=True)
    np.testing.assert_allclose(res.distances, full, rtol=1e-2)

"""The Ray build equals the local build: same buckets, same fingerprints, same answers.

Runs on a local Ray cluster of two worker nodes (one CPU each, the head node schedules nothing)
against SeaweedFS: the source is read by the workers from S3, the buckets are written by them to S3.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import vectree
from vectree.errors import InvalidInputError

ray = pytest.importorskip("ray", reason="the distributed extra (pip install -e '.[distributed]') is not installed")
import vectree.distributed as vd  # noqa: E402

DIM = 32


def _clustered(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=3.0, size=(200, DIM))
    sizes = 1.0 / np.arange(1, 201)
    label = rng.choice(200, size=n, p=sizes / sizes.sum())
    return (centers[label] + rng.normal(size=(n, DIM)) * rng.uniform(0.3, 1.5, (200, DIM))[label]).astype(np.float32)


@pytest.fixture(scope="module")
def ray_cluster():
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False})
    for _ in range(2):
        cluster.add_node(num_cpus=1)
    ray.init(address=cluster.address, log_to_driver=False)
    cluster.wait_for_nodes()
    yield cluster
    ray.shutdown()
    cluster.shutdown()


def _s3_source_options(server) -> dict:
    host = server.endpoint.split("://", 1)[1]
    return {
        "endpoint_override": host,
        "scheme": "http",
        "access_key": server.access_key,
        "secret_key": server.secret_key,
        "region": server.region,
    }


def _same_build(local: vectree.Collection, dist: vectree.Collection) -> None:
    a, b = local.index, dist.index
    assert b.n_buckets > 50
    assert a.bucket_fingerprints == b.bucket_fingerprints
    assert local.manifest.index == dist.manifest.index  # projection, tree, centers, settings: one fingerprint
    assert local.manifest.idmap == dist.manifest.idmap
    assert local.manifest.settings == dist.manifest.settings and len(local) == len(dist)
    assert local.manifest.next_auto_id == dist.manifest.next_auto_id


def test_ray_build_from_s3_equals_the_local_build(ray_cluster, s3_server):
    from pyarrow import fs

    x = _clustered(50_000)
    opts = s3_server.storage_options()
    src_url = s3_server.new_url("src") + "/x.npy"
    s3 = fs.S3FileSystem(**_s3_source_options(s3_server))
    with s3.open_output_stream(src_url[len("s3://") :]) as f:
        buf = pa.BufferOutputStream()
        np.save(buf, x)
        f.write(buf.getvalue())

    local = vectree.create_collection(s3_server.new_url("local"), dim=DIM, storage_options=opts)
    local.add_batches(x[s : s + 10_000] for s in range(0, len(x), 10_000))
    local.build()
    assert len(ray.nodes()) == 3 and ray.cluster_resources()["CPU"] == 2
    dist = vd.build(
        s3_server.new_url("dist"),
        src_url,
        storage_options=opts,
        source_options=_s3_source_options(s3_server),
        shard_rows=7_000,
    )
    _same_build(local, dist)
    q = _clustered(200, seed=1)
    reopened = vectree.open_collection(dist.url, storage_options=opts)
    for probes in (1, 8):
        np.testing.assert_array_equal(
            local.search(q, k=10, probes=probes).ids, reopened.search(q, k=10, probes=probes).ids
        )
    assert reopened.verify().ok
    np.testing.assert_array_equal(reopened.get([0, 49_999]).vectors, x[[0, 49_999]])


def test_parquet_row_groups_with_str_ids_and_cosine_equal_the_local_build(ray_cluster, tmp_path):
    x = _clustered(6_000, seed=2)
    ids = np.array([f"doc-{i}" for i in range(len(x))], dtype=object)
    table = pa.table(
        {"id": pa.array(ids.tolist()), "vector": pa.FixedSizeListArray.from_arrays(pa.array(x.ravel()), DIM)}
    )
    pq.write_table(table, tmp_path / "x.parquet", row_group_size=1_500)
    local = vectree.create_collection(
        tmp_path / "local", dim=DIM, metric="cosine", bucket_size=60, vector_dtype="float16"
    )
    local.add(x, ids=ids)
    local.build()
    dist = vd.build(
        str(tmp_path / "dist"), str(tmp_path / "x.parquet"), metric="cosine", bucket_size=60, vector_dtype="float16"
    )
    _same_build(local, dist)
    assert dist.manifest.settings["id_type"] == "str"
    q = _clustered(50, seed=3)
    assert local.search(q, k=5, probes=4).ids.tolist() == dist.search(q, k=5, probes=4).ids.tolist()


def test_a_collection_that_holds_rows_is_refused_and_kept(ray_cluster, tmp_path):
    x = _clustered(1_000, seed=4)
    np.save(tmp_path / "x.npy", x)
    col = vectree.create_collection(tmp_path / "c", dim=DIM)
    col.add(x[:10])
    version = col.version
    with pytest.raises(InvalidInputError, match="already holds 10 rows"):
        vd.build(str(tmp_path / "c"), str(tmp_path / "x.npy"))
    assert col.refresh().version == version and len(col) == 10


def test_duplicate_ids_in_the_source_are_refused_and_nothing_is_committed(ray_cluster, tmp_path):
    x = _clustered(1_000, seed=5)
    pq.write_table(
        pa.table(
            {
                "id": pa.array(np.arange(1000) % 500),
                "vector": pa.FixedSizeListArray.from_arrays(pa.array(x.ravel()), DIM),
            }
        ),
        tmp_path / "x.parquet",
        row_group_size=500,
    )  # each row group alone is fine; together they repeat ids
    with pytest.raises(InvalidInputError, match="id twice"):
        vd.build(str(tmp_path / "c"), str(tmp_path / "x.parquet"), bucket_size=50)
    assert len(vectree.open_collection(tmp_path / "c")) == 0


def test_embedding_through_ray_data_matches_the_embedder(ray_cluster, tmp_path):
    from vectree.embed import StaticEmbedder

    texts = [
        f"paper {i} about {'graphs' if i % 2 else 'proteins'} and {'learning' if i % 3 else 'physics'}"
        for i in range(120)
    ]
    pq.write_table(pa.table({"id": pa.array(np.arange(120)), "text": pa.array(texts)}), tmp_path / "texts.parquet")
    emb = StaticEmbedder()
    vd.embed(
        str(tmp_path / "texts.parquet"), str(tmp_path / "vectors"), emb, batch_size=60, concurrency=2, num_cpus=0.5
    )
    files = sorted(str(p) for p in (tmp_path / "vectors").glob("*.parquet"))
    got = pa.concat_tables([pq.read_table(f) for f in files])
    order = np.argsort(got["id"].to_numpy())
    vectors = np.stack(got["vector"].to_numpy(zero_copy_only=False))[order]
    np.testing.assert_allclose(vectors, emb.encode(texts), rtol=1e-5, atol=1e-6)
    col = vd.build(str(tmp_path / "c"), files, bucket_size=40)
    assert len(col) == 120 and sorted(col.search(emb.encode(texts[:3]), k=1, probes=2).ids[:, 0].tolist()) == [0, 1, 2]


def test_cli_build_on_ray_fills_a_new_collection(ray_cluster, tmp_path):
    from typer.testing import CliRunner

    from vectree.cli.main import app

    x = _clustered(3_000, seed=6)
    np.save(tmp_path / "x.npy", x)
    runner = CliRunner()
    missing = runner.invoke(app, ["build", str(tmp_path / "c"), "--ray", "auto"])
    assert missing.exit_code != 0 and "--source" in missing.output
    out = runner.invoke(
        app,
        ["build", str(tmp_path / "c"), "--ray", "auto", "--source", str(tmp_path / "x.npy"), "--bucket-size", "100"],
    )
    assert out.exit_code == 0, out.output
    assert "3000 rows" in out.output
    col = vectree.open_collection(tmp_path / "c")
    assert col.search(x[:20], k=1, probes=1).ids[:, 0].tolist() == list(range(20))

"""hnswlib, annoy and lancedb behind the peers benchmark's adapter."""

from __future__ import annotations

import math
import time
import warnings
from typing import Any

import numpy as np

from benchmarks.peers_base import K, System, dir_mb, iter_chunks
from benchmarks.peers_faiss import pq_sub_vectors


class Hnswlib(System):
    normalise = True

    def build(self) -> dict:
        import hnswlib

        index = hnswlib.Index(space="ip" if self.metric == "cosine" else "l2", dim=self.dim)
        t0 = time.perf_counter()
        index.init_index(
            max_elements=self.n, ef_construction=self.a["ef_construction"], M=self.a["hnsw_m"], random_seed=0
        )
        index.set_num_threads(self.threads)
        for start, c in iter_chunks(self.a["base_path"], self.metric == "cosine"):
            index.add_items(c, np.arange(start, start + len(c)), num_threads=self.threads)
        t1 = time.perf_counter()
        self.index = index
        index.save_index(str(self.dir / "index.bin"))
        return {"build_s": t1 - t0, "index_mb": dir_mb(self.dir)}

    def load(self, disk: bool = False) -> None:
        import hnswlib

        self.index = hnswlib.Index(space="ip" if self.metric == "cosine" else "l2", dim=self.dim)
        self.index.load_index(str(self.dir / "index.bin"), max_elements=self.n)
        self.index.set_num_threads(self.threads)

    def batch(self, q: np.ndarray, s: int) -> np.ndarray:
        self.index.set_ef(max(int(s), K))
        return self.index.knn_query(q, k=K, num_threads=self.threads)[0]


class Annoy(System):
    normalise = True  # angular on normalised vectors; annoy has no multi-threaded query

    def _new(self):
        import annoy

        return annoy.AnnoyIndex(self.dim, "angular" if self.metric == "cosine" else "euclidean")

    def build(self) -> dict:
        index = self._new()
        t0 = time.perf_counter()
        for start, c in iter_chunks(self.a["base_path"], self.metric == "cosine"):
            for i, row in enumerate(c):
                index.add_item(start + i, row)
        index.build(self.a["n_trees"], n_jobs=self.threads)
        t1 = time.perf_counter()
        index.save(str(self.dir / "index.ann"))
        self.index = index
        return {"build_s": t1 - t0, "index_mb": dir_mb(self.dir), "n_trees": self.a["n_trees"]}

    def load(self, disk: bool = False) -> None:
        self.index = self._new()
        self.index.load(str(self.dir / "index.ann"), prefault=not disk)  # mmap either way

    def batch(self, q: np.ndarray, s: int) -> np.ndarray:
        return np.array([self.single(v, s) for v in q])

    def single(self, q: np.ndarray, s: int) -> np.ndarray:
        ids = self.index.get_nns_by_vector(q, K, search_k=int(s))
        return np.array(ids + [-1] * (K - len(ids)))


class Lance(System):
    def __init__(self, a: dict) -> None:
        super().__init__(a)
        self.kind = "IVF_PQ" if a["system"].endswith("pq") else "IVF_FLAT"

    def build(self) -> dict:
        import lancedb
        import pyarrow as pa

        schema = pa.schema([("id", pa.int64()), ("vector", pa.list_(pa.float32(), self.dim))])

        def batches():
            for start, c in iter_chunks(self.a["base_path"], False):
                yield pa.RecordBatch.from_arrays(
                    [
                        pa.array(np.arange(start, start + len(c))),
                        pa.FixedSizeListArray.from_arrays(pa.array(c.ravel()), self.dim),
                    ],
                    schema=schema,
                )

        t0 = time.perf_counter()
        db = lancedb.connect(str(self.dir))
        tbl = db.create_table("v", data=pa.RecordBatchReader.from_batches(schema, batches()))
        t1 = time.perf_counter()
        kw = {"num_partitions": max(1, int(math.sqrt(self.n)))}
        if self.kind == "IVF_PQ":
            kw["num_sub_vectors"] = pq_sub_vectors(self.dim, 32 if self.a["quick"] else 8)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tbl.create_index(metric=self.metric, vector_column_name="vector", index_type=self.kind, **kw)
        t2 = time.perf_counter()
        self.tbl = tbl
        return {"build_s": t2 - t0, "ingest_s": t1 - t0, "index_build_s": t2 - t1, "index_mb": dir_mb(self.dir), **kw}

    def load(self, disk: bool = False) -> None:
        import lancedb

        self.tbl = lancedb.connect(str(self.dir)).open_table("v")

    def _query(self, q: Any, s: Any):
        nprobes, refine = s if isinstance(s, (list, tuple)) else (s, None)
        b = self.tbl.search(q).distance_type(self.metric).limit(K).nprobes(int(nprobes)).select(["id", "_distance"])
        return b.refine_factor(int(refine)) if refine else b

    def batch(self, q: np.ndarray, s: Any) -> np.ndarray:
        t = self._query(list(q), s).to_arrow()
        out = np.full((len(q), K), -1, dtype=np.int64)
        qi, ids = t["query_index"].to_numpy(), t["id"].to_numpy()
        for i in range(len(q)):
            found = ids[qi == i][:K]
            out[i, : len(found)] = found
        return out

    def single(self, q: np.ndarray, s: Any) -> np.ndarray:
        found = self._query(q, s).to_arrow()["id"].to_numpy()[:K]
        return np.concatenate([found, np.full(K - len(found), -1)])

"""vectree behind the peers benchmark's adapter (kmeans and seed trees, int8 or RaBitQ codes)."""

from __future__ import annotations

import time

import numpy as np

from benchmarks.peers_base import K, System, dir_mb, iter_chunks, sample_rows


class Vectree(System):
    def __init__(self, a: dict) -> None:
        super().__init__(a)
        rule = a["system"].split("[")[1].rstrip("]").split("+")
        self.rule, self.codes = rule[0], (rule[1] if len(rule) > 1 else None)

    def build(self) -> dict:
        import vectree

        # float16 buckets when the data loses nothing by it (arXiv MiniLM is published as float16,
        # fashion-mnist is 0..255 pixels), as a user who knows their data would choose; GloVe stays float32.
        # (Checked before the clock starts: a user knows this, vectree's build does not look.)
        sample = sample_rows(self.a["base_path"], 5000, False)
        self.vector_dtype = (
            "float16" if np.array_equal(sample.astype(np.float16).astype(np.float32), sample) else "float32"
        )
        t0 = time.perf_counter()
        col = vectree.create_collection(
            str(self.dir / "c"),
            dim=self.dim,
            metric=self.metric,
            bucket_size=self.a["bucket_size"],
            tree_rule=self.rule,
            vector_dtype=self.vector_dtype,
            codes=self.codes,
            **({"cache_bytes": int(self.a["memory_cache_bytes"])} if self.a.get("memory_cache_bytes") else {}),
        )
        col.add_batches(c for _, c in iter_chunks(self.a["base_path"], False))
        t1 = time.perf_counter()
        ingest_mb = dir_mb(self.dir)
        col.build()
        t2 = time.perf_counter()
        self.col = col
        return {
            "build_s": t2 - t0,
            "ingest_s": t1 - t0,
            "index_build_s": t2 - t1,
            "index_mb": dir_mb(self.dir) - ingest_mb,
            "disk_mb": dir_mb(self.dir),
        }

    def load(self, disk: bool = False) -> None:
        import vectree

        kw = (
            {"cache_bytes": int(self.a["cache_bytes"])}
            if disk
            else ({"cache_bytes": int(self.a["memory_cache_bytes"])} if self.a.get("memory_cache_bytes") else {})
        )
        self.col = vectree.open_collection(str(self.dir / "c"), **kw)

    def warm(self, q: np.ndarray) -> None:
        self.col.search(q[:20], k=K, probes=self.col.stats()["buckets"])  # in-memory regime: every bucket cached

    def valid(self, s: int) -> bool:
        if not hasattr(self, "_buckets"):
            self._buckets = self.col.stats()["buckets"]
        return s <= self._buckets

    def batch(self, q: np.ndarray, s: int) -> np.ndarray:
        return self.col.search(q, k=K, probes=s).ids

    def single(self, q: np.ndarray, s: int) -> np.ndarray:
        return self.col.search(q, k=K, probes=s).ids[0]

    def info(self) -> dict:
        st = self.col.stats()
        return {
            "buckets": st["buckets"],
            "cache": st.get("cache"),
            "vector_dtype": self.col.index_config.vector_dtype,
            "codes": self.col.index_config.codes,
        }

    def bytes_per_query(self, q: np.ndarray, s: int) -> float:
        from vectree.format.codes import padded_dim

        width = 2 if self.col.index_config.vector_dtype == "float16" else 4
        # a row's code: one byte a dimension (int8), or its bits and four float32 factors (RaBitQ)
        code = padded_dim(self.dim) // 8 + 16 if self.col.index_config.codes == "rabitq" else self.dim
        total = 0.0
        for v in q[:20]:
            st = self.col.search(v, k=K, probes=s).stats
            scanned = st["rows_scanned"] * (code if st["method"] == "quantized" else self.dim * width)
            total += scanned + st.get("rows_reranked", 0) * self.dim * width
        return total / min(20, len(q))

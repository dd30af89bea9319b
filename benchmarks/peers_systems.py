"""The systems the peers benchmark compares, each behind one adapter (build or load, batch, single).

Vectors are streamed from the .npy file with plain reads (never memory-mapped), so the base does not
count in a system's RSS unless the system keeps a copy.
"""

from __future__ import annotations

import math
import os
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

K = 10
CHUNK = 50_000


# ------------------------------------------------------------------ data
def npy_info(path: str) -> tuple[tuple[int, ...], np.dtype, int]:
    with open(path, "rb") as f:
        version = np.lib.format.read_magic(f)
        read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, dtype = read(f)
        return shape, dtype, f.tell()


def iter_chunks(path: str, normalise: bool, rows: int = CHUNK) -> Iterator[tuple[int, np.ndarray]]:
    """(start, float32 chunk) over the base vectors, read without memory mapping."""
    (n, dim), dtype, offset = npy_info(path)
    with open(path, "rb") as f:
        f.seek(offset)
        for start in range(0, n, rows):
            c = np.fromfile(f, dtype=dtype, count=min(rows, n - start) * dim).reshape(-1, dim).astype(np.float32)
            yield start, (normalised(c) if normalise else c)


def sample_rows(path: str, m: int, normalise: bool, seed: int = 0) -> np.ndarray:
    (n, _), _, _ = npy_info(path)
    keep = np.sort(np.random.default_rng(seed).choice(n, min(m, n), replace=False))
    parts = [c[keep[(keep >= s) & (keep < s + len(c))] - s] for s, c in iter_chunks(path, normalise)]
    return np.concatenate(parts)


def normalised(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.maximum(norms, 1e-12)).astype(np.float32)


def dir_mb(path: str | Path) -> float:
    total = 0
    for root, _, files in os.walk(path):
        total += sum(os.path.getsize(os.path.join(root, f)) for f in files)
    return total / 2**20


# ------------------------------------------------------------------ systems
class System:
    """Adapter: build/load an index, run a batch or a single query at one setting."""

    normalise = False  # cosine via normalised vectors + inner product

    def __init__(self, a: dict) -> None:
        self.a, self.metric, self.dim, self.n = a, a["metric"], a["dim"], a["n"]
        self.threads = a["threads"]
        self.dir = Path(a["index_dir"])

    def prep(self, q: np.ndarray) -> np.ndarray:
        return normalised(q) if self.normalise and self.metric == "cosine" else q

    def build(self) -> dict:
        raise NotImplementedError

    def load(self, disk: bool = False) -> None:
        raise NotImplementedError

    def batch(self, q: np.ndarray, s: Any) -> np.ndarray:
        raise NotImplementedError

    def single(self, q: np.ndarray, s: Any) -> np.ndarray:
        return self.batch(q[None], s)[0]

    def info(self) -> dict:
        return {}

    def warm(self, q: np.ndarray) -> None:
        pass

    def valid(self, s: Any) -> bool:
        return True

    def bytes_per_query(self, q: np.ndarray, s: Any) -> float | None:
        """Bytes of vectors (or codes) one query reads at setting ``s``, from the index's own counts;
        None where the library does not say (routing to buckets or lists is left out everywhere)."""
        return None


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
        width = 2 if self.col.index_config.vector_dtype == "float16" else 4
        total = 0.0
        for v in q[:20]:
            st = self.col.search(v, k=K, probes=s).stats
            scanned = st["rows_scanned"] * self.dim * (1 if st["method"] == "quantized" else width)
            total += scanned + st.get("rows_reranked", 0) * self.dim * width
        return total / min(20, len(q))


class Faiss(System):
    normalise = True
    kind = "ivf"

    def _metric(self) -> int:
        import faiss

        return faiss.METRIC_INNER_PRODUCT if self.metric == "cosine" else faiss.METRIC_L2

    def build(self) -> dict:
        import faiss

        faiss.omp_set_num_threads(self.threads)
        norm = self.metric == "cosine"
        t0 = time.perf_counter()
        if self.kind == "ivf":
            self.nlist = int(4 * math.sqrt(self.n))
            quant = faiss.IndexFlatIP(self.dim) if norm else faiss.IndexFlatL2(self.dim)
            index = faiss.IndexIVFFlat(quant, self.dim, self.nlist, self._metric())
            train = sample_rows(self.a["base_path"], 50 * self.nlist, norm)  # faiss guidance: 30..256 per list
            t0 = time.perf_counter()
            index.train(train)
            del train
        elif self.kind == "hnsw":
            index = faiss.IndexHNSWFlat(self.dim, self.a["hnsw_m"], self._metric())
            index.hnsw.efConstruction = self.a["ef_construction"]
        else:
            index = faiss.IndexFlat(self.dim, self._metric())
        t1 = time.perf_counter()
        for _, c in iter_chunks(self.a["base_path"], norm):
            index.add(c)
        t2 = time.perf_counter()
        self.index = index
        faiss.write_index(index, str(self.dir / "index.faiss"))
        return {"build_s": t2 - t0, "train_s": t1 - t0, "add_s": t2 - t1, "index_mb": dir_mb(self.dir)}

    def load(self, disk: bool = False) -> None:
        import faiss

        faiss.omp_set_num_threads(self.threads)
        self.index = faiss.read_index(str(self.dir / "index.faiss"))

    def batch(self, q: np.ndarray, s: Any) -> np.ndarray:
        if self.kind == "ivf":
            self.index.nprobe = int(s)
        elif self.kind == "hnsw":
            self.index.hnsw.efSearch = int(s)
        return self.index.search(q, K)[1]

    def bytes_per_query(self, q: np.ndarray, s: Any) -> float | None:
        import faiss

        if self.kind == "hnsw":
            faiss.cvar.hnsw_stats.reset()
            self.batch(q[:20], s)
            return faiss.cvar.hnsw_stats.ndis * self.dim * 4 / min(20, len(q))
        if self.kind == "flat":
            return float(self.n * self.dim * 4)
        return _ivf_bytes(self.index, q[:20], s, self.dim)


def _ivf_bytes(index: Any, q: np.ndarray, s: Any, dim: int) -> float:
    """Codes of the probed lists (per vector: ``code_size``), plus the rows an exact refine reads."""
    import faiss

    nprobe, k_factor = s if isinstance(s, (list, tuple)) else (s, None)
    ivf = faiss.extract_index_ivf(index)
    _, lists = ivf.quantizer.search(np.ascontiguousarray(q, np.float32), int(nprobe))
    rows = sum(ivf.invlists.list_size(int(x)) for x in lists.ravel() if x >= 0)
    refine = len(q) * K * k_factor * dim * 4 if k_factor else 0
    return (rows * ivf.code_size + refine) / len(q)


class FaissCoded(Faiss):
    """faiss IVF with compact codes and an exact refine (IndexRefineFlat over the raw vectors):
    IVF-RaBitQ-FastScan (1 bit a dimension) or IVF-PQ-FastScan (4-bit codes, 2 dimensions each)."""

    def build(self) -> dict:
        import faiss

        faiss.omp_set_num_threads(self.threads)
        norm = self.metric == "cosine"
        self.nlist = int(4 * math.sqrt(self.n))
        if self.a["system"].endswith("rabitq-fs"):
            codes = "RaBitQfs"
        else:
            m = self.dim // 2 if self.dim % 2 == 0 else self.dim
            codes = f"PQ{m}x4fs"
        index = faiss.index_factory(self.dim, f"IVF{self.nlist},{codes},RFlat", self._metric())
        train = sample_rows(self.a["base_path"], 50 * self.nlist, norm)
        t0 = time.perf_counter()
        index.train(train)
        del train
        t1 = time.perf_counter()
        for _, c in iter_chunks(self.a["base_path"], norm):
            index.add(c)
        t2 = time.perf_counter()
        self.index = index
        faiss.write_index(index, str(self.dir / "index.faiss"))
        return {
            "build_s": t2 - t0,
            "train_s": t1 - t0,
            "add_s": t2 - t1,
            "index_mb": dir_mb(self.dir),
            "factory": codes,
        }

    def batch(self, q: np.ndarray, s: Any) -> np.ndarray:
        import faiss

        nprobe, k_factor = s
        faiss.extract_index_ivf(self.index).nprobe = int(nprobe)
        self.index.k_factor = float(k_factor)
        return self.index.search(q, K)[1]

    def bytes_per_query(self, q: np.ndarray, s: Any) -> float | None:
        return _ivf_bytes(self.index, q[:20], s, self.dim)


class FaissOnDisk(Faiss):
    """faiss IVF-Flat with its inverted lists in one file on disk (OnDiskInvertedLists via merge_ondisk),
    built the way faiss's own on-disk demo does: train once, add blocks of rows to copies of the empty
    trained index, write each block, merge the blocks into one memory-mapped ``.ivfdata`` file."""

    def build(self) -> dict:
        import faiss
        from faiss.contrib.ondisk import merge_ondisk

        faiss.omp_set_num_threads(self.threads)
        self.nlist = int(4 * math.sqrt(self.n))
        index = faiss.IndexIVFFlat(faiss.IndexFlatL2(self.dim), self.dim, self.nlist, self._metric())
        norm = self.metric == "cosine"
        train = sample_rows(self.a["base_path"], 50 * self.nlist, norm)
        t0 = time.perf_counter()
        index.train(train)
        del train
        faiss.write_index(index, str(self.dir / "trained.index"))
        t1 = time.perf_counter()
        blocks, block, rows = [], None, 0
        for start, c in iter_chunks(self.a["base_path"], norm):
            if block is None:
                block = faiss.read_index(str(self.dir / "trained.index"))
            block.add_with_ids(c, np.arange(start, start + len(c), dtype=np.int64))
            rows += len(c)
            if rows >= 500_000:
                blocks.append(str(self.dir / f"block{len(blocks)}.index"))
                faiss.write_index(block, blocks[-1])
                block, rows = None, 0
        if block is not None:
            blocks.append(str(self.dir / f"block{len(blocks)}.index"))
            faiss.write_index(block, blocks[-1])
        del block
        index = faiss.read_index(str(self.dir / "trained.index"))
        merge_ondisk(index, blocks, str(self.dir / "lists.ivfdata"))
        faiss.write_index(index, str(self.dir / "index.faiss"))
        for b in blocks + [str(self.dir / "trained.index")]:
            os.remove(b)
        t2 = time.perf_counter()
        self.index = index
        return {"build_s": t2 - t0, "train_s": t1 - t0, "add_s": t2 - t1, "index_mb": dir_mb(self.dir)}

    def load(self, disk: bool = False) -> None:
        import faiss

        faiss.omp_set_num_threads(self.threads)
        self.index = faiss.read_index(str(self.dir / "index.faiss"))  # the lists stay in lists.ivfdata (mmap)


class FaissHNSW(Faiss):
    kind = "hnsw"


class FaissFlat(Faiss):
    kind = "flat"


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


def pq_sub_vectors(dim: int, dims_per_sub: int = 8) -> int:
    """``dims_per_sub`` dims per sub-vector when dim allows, else the most sub-vectors with at least half that each."""
    if dim % dims_per_sub == 0:
        return dim // dims_per_sub
    return max(m for m in range(1, max(1, dim // max(1, dims_per_sub // 2)) + 1) if dim % m == 0)


SYSTEMS = {
    "vectree[kmeans]": Vectree,
    "vectree[kmeans+int8]": Vectree,
    "vectree[seed]": Vectree,
    "faiss-ivf-rabitq-fs": FaissCoded,
    "faiss-ivfpq-fs": FaissCoded,
    "faiss-ivf-flat": Faiss,
    "faiss-ivf-ondisk": FaissOnDisk,
    "faiss-hnsw": FaissHNSW,
    "faiss-flat": FaissFlat,
    "hnswlib": Hnswlib,
    "annoy": Annoy,
    "lancedb-ivf-pq": Lance,
    "lancedb-ivf-flat": Lance,
}


# ------------------------------------------------------------------ measurements
def setting_name(system: str, s: Any) -> str:
    if system.startswith("vectree"):
        return f"probes={s}"
    if system in ("faiss-ivf-flat", "faiss-ivf-ondisk"):
        return f"nprobe={s}"
    if system in ("faiss-ivf-rabitq-fs", "faiss-ivfpq-fs"):
        return f"nprobe={s[0]},k_factor={s[1]}"
    if system in ("faiss-hnsw", "hnswlib"):
        return f"ef={s}"
    if system == "annoy":
        return f"search_k={s}"
    if system.startswith("lancedb"):
        return f"nprobes={s[0]},refine={s[1]}" if isinstance(s, (list, tuple)) else f"nprobes={s}"
    return str(s)

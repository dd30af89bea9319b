"""One system on one dataset in its own process (so peak RSS is its own): build or load, sweep, or open from disk.

Reads JSON args on stdin, prints progress to stderr and one JSON line on stdout. Modes:
- ``sweep``: build the index from the base vectors (``build: true``; timed, written to ``index_dir``) or load
  it from there, then for each setting time batch queries and one-at-a-time queries.
- ``disk``: open an index written by a sweep fresh from disk (page cache dropped for its files where the OS
  allows), with a small cache for vectree; time the first query, then steady-state single and batch queries.
Vectors are streamed from the .npy file with plain reads (never memory-mapped), so the base does not
count in a system's RSS unless the system keeps a copy.
"""

from __future__ import annotations

import json
import math
import os
import sys
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


def rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def peak_rss_mb() -> float:
    """This process's peak resident memory: VmHWM, which (unlike ru_maxrss) does not inherit the parent's peak across exec."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def drop_page_cache(path: str | Path) -> int:
    """Ask the kernel to evict a directory's files from the page cache (best effort, no root needed)."""
    dropped = 0
    for root, _, files in os.walk(path):
        for name in files:
            fd = os.open(os.path.join(root, name), os.O_RDONLY)
            try:
                os.fsync(fd)
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
                dropped += 1
            except OSError:
                pass
            finally:
                os.close(fd)
    return dropped


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


class Vectree(System):
    def __init__(self, a: dict) -> None:
        super().__init__(a)
        self.rule = a["system"].split("[")[1].rstrip("]")

    def build(self) -> dict:
        import vectree

        col = vectree.create_collection(str(self.dir / "c"), dim=self.dim, metric=self.metric,
                                        bucket_size=self.a["bucket_size"], tree_rule=self.rule)
        t0 = time.perf_counter()
        col.add_batches(c for _, c in iter_chunks(self.a["base_path"], False))
        t1 = time.perf_counter()
        ingest_mb = dir_mb(self.dir)
        col.build()
        t2 = time.perf_counter()
        self.col = col
        return {"build_s": t2 - t0, "ingest_s": t1 - t0, "index_build_s": t2 - t1,
                "index_mb": dir_mb(self.dir) - ingest_mb, "disk_mb": dir_mb(self.dir)}

    def load(self, disk: bool = False) -> None:
        import vectree

        kw = {"cache_bytes": int(self.a["cache_bytes"])} if disk else {}
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
        return {"buckets": st["buckets"], "cache": st.get("cache")}


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
        index.init_index(max_elements=self.n, ef_construction=self.a["ef_construction"], M=self.a["hnsw_m"], random_seed=0)
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
                    [pa.array(np.arange(start, start + len(c))), pa.FixedSizeListArray.from_arrays(pa.array(c.ravel()), self.dim)],
                    schema=schema)

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
        nprobes, refine = (s if isinstance(s, (list, tuple)) else (s, None))
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


SYSTEMS = {"vectree[kmeans]": Vectree, "vectree[seed]": Vectree, "faiss-ivf-flat": Faiss, "faiss-hnsw": FaissHNSW,
           "faiss-flat": FaissFlat, "hnswlib": Hnswlib, "annoy": Annoy, "lancedb-ivf-pq": Lance, "lancedb-ivf-flat": Lance}


# ------------------------------------------------------------------ measurements
def recall(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(a[:K].tolist()) & set(b[:K].tolist())) / K for a, b in zip(found, truth)]))


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def timed_batches(sys_: System, q: np.ndarray, s: Any, chunk: int, budget_s: float) -> tuple[np.ndarray, float]:
    """Batch queries in chunks until all are answered or the time budget is spent (at least one chunk)."""
    out, spent = [], 0.0
    for start in range(0, len(q), chunk):
        t = time.perf_counter()
        out.append(sys_.batch(q[start : start + chunk], s))
        spent += time.perf_counter() - t
        if spent > budget_s:
            break
    return np.concatenate(out), spent


def distinct_singles(sys_: System, q: np.ndarray, s: Any, n: int, budget_s: float) -> tuple[list[float], np.ndarray]:
    """One query at a time over distinct queries (on disk, where a repeated query would find its buckets cached)."""
    lat, ids = [], []
    for v in q[:n]:
        t = time.perf_counter()
        ids.append(sys_.single(v, s))
        lat.append(time.perf_counter() - t)
        if sum(lat) > budget_s and len(lat) >= 50:
            break
    return lat, np.array(ids)


def timed_singles(sys_: System, q: np.ndarray, s: Any, n: int, rounds: int, budget_s: float) -> tuple[list[float], list[float]]:
    """One query at a time: ``rounds`` rounds over the same ``n // rounds`` queries (fewer once the
    budget is spent, at least one). Returns every latency and each round's q/s.

    The best round is what a quiet machine does: this shared machine's speed moved up to 2x within a
    minute (measured), which is larger than the differences being measured; every system is timed so.
    """
    lat: list[float] = []
    per_round: list[float] = []
    for _ in range(max(1, rounds)):
        mine = []
        for v in q[: max(1, n // max(1, rounds))]:
            t = time.perf_counter()
            sys_.single(v, s)
            mine.append(time.perf_counter() - t)
        lat += mine
        per_round.append(len(mine) / sum(mine))
        if sum(lat) > budget_s:
            break
    return lat, per_round


def sweep(a: dict) -> dict:
    sys_ = SYSTEMS[a["system"]](a)
    q_all, truth = np.load(a["queries_path"]), np.load(a["truth_path"])
    q_all = sys_.prep(q_all)
    baseline = rss_mb()
    if a["build"]:
        log(f"   [{a['system']}] building ({a['threads']} thread(s)) ...")
        build = sys_.build()
        log(f"   [{a['system']}] built in {build['build_s']:.1f} s, index {build['index_mb']:.1f} MB")
    else:
        t = time.perf_counter()
        sys_.load()
        build = {"load_s": time.perf_counter() - t}
    after_build = rss_mb()
    sys_.warm(q_all)
    sys_.batch(q_all[:50], a["settings"][0])  # warm up (first call costs)
    rows = []
    for s in a["settings"]:
        if not sys_.valid(s):
            continue
        ids, spent = timed_batches(sys_, q_all, s, a["batch_chunk"], a["batch_budget_s"])
        r = recall(ids, truth[: len(ids)])
        lat, per_round = timed_singles(sys_, q_all, s, a["n_single"], a["single_rounds"], a["single_budget_s"]) if a["n_single"] else ([], [])
        m = {"recall_at_10": r, "qps_batch": len(ids) / spent, "n_batch_queries": len(ids), "n_single_queries": len(lat)}
        if lat:
            m.update({"qps_single": max(per_round), "qps_single_rounds": per_round, "ms_single_p50": 1000 * float(np.median(lat)),
                      "ms_single_p99": 1000 * float(np.percentile(lat, 99))})
        m["peak_rss_mb"] = peak_rss_mb()
        rows.append({"setting": s, "metrics": m})
        log(f"   [{a['system']}] {a['threads']}t {setting_name(a['system'], s):<22} recall@10={r:.4f} "
            f"batch {m['qps_batch']:9.0f} q/s  single {m.get('qps_single', 0):8.0f} q/s  peak {m['peak_rss_mb']:.0f} MB")
        if r >= a["stop_recall"] or m["qps_batch"] < a.get("min_qps", 100):  # higher settings: slower still
            break
    return {"rows": rows, "build": build, "info": sys_.info(), "rss_baseline_mb": baseline,
            "rss_after_build_mb": after_build, "peak_rss_mb": peak_rss_mb()}


def disk(a: dict) -> dict:
    """Fresh process, index files evicted from the page cache, small vectree cache: first and steady queries."""
    sys_ = SYSTEMS[a["system"]](a)
    q_all, truth = np.load(a["queries_path"]), np.load(a["truth_path"])
    q_all = sys_.prep(q_all)
    if isinstance(sys_, Vectree):
        import vectree  # noqa: F401
    elif isinstance(sys_, Lance):
        import lancedb  # noqa: F401
    elif isinstance(sys_, Annoy):
        import annoy  # noqa: F401
    dropped = drop_page_cache(sys_.dir)
    baseline = rss_mb()
    s = a["setting"]
    t = time.perf_counter()
    sys_.load(disk=True)
    open_s = time.perf_counter() - t
    t = time.perf_counter()
    first = sys_.single(q_all[0], s)
    first_ms = 1000 * (time.perf_counter() - t)
    rss_first = rss_mb()  # after the first query: lazy imports and index headers are in
    lat, ids = distinct_singles(sys_, q_all[1:], s, a["n_single"], a["single_budget_s"])
    peak_single = peak_rss_mb()
    rss_single = rss_mb()
    bids, spent = timed_batches(sys_, q_all, s, a["batch_chunk"], a["batch_budget_s"])
    m = {"open_s": open_s, "first_query_ms": first_ms, "ms_single_mean": 1000 * float(np.mean(lat)),
         "ms_single_p50": 1000 * float(np.median(lat)), "ms_single_p99": 1000 * float(np.percentile(lat, 99)),
         "qps_single": len(lat) / sum(lat), "recall_at_10_single": recall(np.vstack([first, *ids]), truth[: len(ids) + 1]),
         "qps_batch": len(bids) / spent, "recall_at_10": recall(bids, truth[: len(bids)]),
         "rss_baseline_mb": baseline, "rss_after_first_query_mb": rss_first, "peak_rss_single_mb": peak_single, "rss_after_single_mb": rss_single,
         "peak_rss_mb": peak_rss_mb(), "n_single_queries": len(lat) + 1, "n_batch_queries": len(bids),
         "files_evicted": dropped}
    log(f"   [{a['system']}] on disk {setting_name(a['system'], s)}: open {open_s * 1000:.0f} ms, first query {first_ms:.1f} ms, "
        f"steady {m['ms_single_mean']:.2f} ms/q, batch {m['qps_batch']:.0f} q/s, peak RSS {m['peak_rss_mb']:.0f} MB "
        f"(baseline {baseline:.0f} MB)")
    return {"metrics": m, "info": sys_.info()}


def setting_name(system: str, s: Any) -> str:
    if system.startswith("vectree"):
        return f"probes={s}"
    if system == "faiss-ivf-flat":
        return f"nprobe={s}"
    if system in ("faiss-hnsw", "hnswlib"):
        return f"ef={s}"
    if system == "annoy":
        return f"search_k={s}"
    if system.startswith("lancedb"):
        return f"nprobes={s[0]},refine={s[1]}" if isinstance(s, (list, tuple)) else f"nprobes={s}"
    return str(s)


if __name__ == "__main__":
    args = json.loads(sys.stdin.read())
    os.environ["LANCE_CPU_THREADS"] = str(args["threads"])  # lance's compute pool (read at first use)
    os.environ.setdefault("RUST_LOG", "error")
    result = disk(args) if args["mode"] == "disk" else sweep(args)
    print(json.dumps(result))

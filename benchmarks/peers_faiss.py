"""faiss behind the peers benchmark's adapter: IVF-Flat (in memory and on disk), coded IVF (RaBitQ, PQ
fast scan, with exact refine), HNSW, flat.
"""

from __future__ import annotations

import math
import os
import time
from typing import Any

import numpy as np

from benchmarks.peers_base import K, System, dir_mb, iter_chunks, sample_rows


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


def pq_sub_vectors(dim: int, dims_per_sub: int = 8) -> int:
    """``dims_per_sub`` dims per sub-vector when dim allows, else the most sub-vectors with at least half that each."""
    if dim % dims_per_sub == 0:
        return dim // dims_per_sub
    return max(m for m in range(1, max(1, dim // max(1, dims_per_sub // 2)) + 1) if dim % m == 0)

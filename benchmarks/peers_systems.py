"""The systems the peers benchmark compares, each behind one adapter (build or load, batch, single):
the registry by name, and how each names its search setting. The adapters are in ``peers_base`` (the
interface, streamed reads), ``peers_vectree``, ``peers_faiss`` and ``peers_libs`` (hnswlib, annoy, lancedb).
"""

from __future__ import annotations

from typing import Any

from benchmarks.peers_base import K, System, iter_chunks  # noqa: F401 - importable from here, as before
from benchmarks.peers_faiss import Faiss, FaissCoded, FaissFlat, FaissHNSW, FaissOnDisk
from benchmarks.peers_libs import Annoy, Hnswlib, Lance
from benchmarks.peers_vectree import Vectree

SYSTEMS = {
    "vectree[kmeans]": Vectree,
    "vectree[kmeans+int8]": Vectree,
    "vectree[kmeans+rabitq]": Vectree,
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

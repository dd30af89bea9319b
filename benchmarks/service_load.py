"""The load the service benchmark sends: clients sending one request at a time for a duration (90% search,
10% add), the request makers of each system, recall of the answers.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

CHROMA_API = "/api/v2/tenants/default_tenant/databases/default_database/collections"


# ------------------------------------------------------------------------------------------- load
async def run_load(
    base_url: str, headers: dict[str, str], search, add, clients: int, duration_s: float, seed: int
) -> dict[str, Any]:  # noqa: ANN001
    """``clients`` coroutines, each sending one request at a time until the deadline."""
    import httpx

    lat: dict[str, list[float]] = {"search": [], "add": []}
    errors: list[str] = []
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=60, limits=limits) as http:
        deadline = time.monotonic() + duration_s

        async def client(i: int) -> None:
            rng = np.random.default_rng(seed * 1000 + i)
            n = 0
            while time.monotonic() < deadline:
                n += 1
                kind = "add" if rng.random() < 0.1 else "search"
                method, path, body = add(rng, f"{seed}-{i}-{n}") if kind == "add" else search(rng)
                t0 = time.perf_counter()
                try:
                    r = await http.request(method, path, content=body, headers={"content-type": "application/json"})
                    ok = r.status_code < 300
                    if not ok:
                        errors.append(f"{r.status_code} {r.text[:120]}")
                except httpx.HTTPError as exc:
                    ok = False
                    errors.append(repr(exc)[:120])
                if ok:
                    lat[kind].append(time.perf_counter() - t0)

        start = time.monotonic()
        await asyncio.gather(*(client(i) for i in range(clients)))
        elapsed = time.monotonic() - start
    s, a = np.array(lat["search"]) * 1000, np.array(lat["add"]) * 1000
    pct = lambda x, q: round(float(np.percentile(x, q)), 2) if len(x) else None  # noqa: E731
    return {
        "throughput_ops_s": round((len(s) + len(a)) / elapsed, 1),
        "searches": len(s),
        "adds": len(a),
        "search_p50_ms": pct(s, 50),
        "search_p99_ms": pct(s, 99),
        "add_p50_ms": pct(a, 50),
        "add_p99_ms": pct(a, 99),
        "errors": len(errors),
        "error_examples": errors[:3],
        "duration_s": round(elapsed, 1),
    }


def encoders(queries: np.ndarray, pool: np.ndarray, system: str, probes: int):  # noqa: ANN201
    """Request makers: bodies are JSON, pre-encoded where possible so the generator costs little."""
    qjson = [json.dumps(q.round(6).tolist()) for q in queries]
    pjson = [json.dumps(v.round(6).tolist()) for v in pool]

    def batch(rng: np.random.Generator) -> tuple[list[int], str]:
        start = int(rng.integers(0, len(pool) - 100))
        return list(range(start, start + 100)), "[" + ",".join(pjson[start : start + 100]) + "]"

    if system == "vectree":

        def search(rng):  # noqa: ANN001, ANN202
            return (
                "POST",
                "/collections/{name}/search",
                f'{{"vectors":[{qjson[int(rng.integers(len(qjson)))]}],"k":10,"probes":{probes}}}'.encode(),
            )

        def add(rng, tag):  # noqa: ANN001, ANN202
            idx, vec = batch(rng)
            ids = json.dumps([f"n{tag}-{j}" for j in range(100)])
            return "POST", "/collections/{name}/add", f'{{"vectors":{vec},"ids":{ids}}}'.encode()
    else:

        def search(rng):  # noqa: ANN001, ANN202
            return (
                "POST",
                CHROMA_API + "/{name}/query",
                f'{{"query_embeddings":[{qjson[int(rng.integers(len(qjson)))]}],"n_results":10,"include":["distances"]}}'.encode(),
            )

        def add(rng, tag):  # noqa: ANN001, ANN202
            idx, vec = batch(rng)
            ids = json.dumps([f"n{tag}-{j}" for j in range(100)])
            return "POST", CHROMA_API + "/{name}/add", f'{{"ids":{ids},"embeddings":{vec}}}'.encode()

    return search, add


def bind(maker, name: str):  # noqa: ANN001, ANN201
    def call(*args):  # noqa: ANN002, ANN202
        method, path, body = maker(*args)
        return method, path.format(name=name), body

    return call


def recall(found: list[list[Any]], truth: np.ndarray) -> float:
    return float(np.mean([len(set(map(str, f)) & set(map(str, t))) / len(t) for f, t in zip(found, truth.tolist())]))

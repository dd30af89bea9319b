"""vectree at scale: build, memory, size and queries at n = 1M, 3M, 10M (and GloVe 400k, arXiv 72k),
side by side with faiss IVF-Flat (in memory), faiss IVF with on-disk inverted lists and lancedb IVF-PQ.

    python benchmarks/scale.py --n 1m                 # one size (results merged into the file by dataset)
    python benchmarks/scale.py --n 1m --n 3m --ingest # sizes in order; ingest-while-serving on the largest
    python benchmarks/scale.py --dataset glove,arxiv  # the real sets
    python benchmarks/scale.py --quick                # 20k synthetic rows, about a minute

Synthetic sets come from ``benchmarks/datasets.py``'s clustered generator (a 96-d Gaussian mixture of
4096 anisotropic clusters with Zipf weights, written to a memory-mapped .npy in chunks; 1,000 held-out
queries; exact top-100 by chunked faiss Flat search). Every system runs in its own process per dataset
(``benchmarks/peers_worker.py``: peak RSS is its own) with 1 thread; each builds from the .npy read in
50k-row chunks, then sweeps its knob until recall@10 0.96. Then each on-disk system is opened fresh in a
new process with its files evicted from the page cache (posix_fadvise DONTNEED, which needs no root: the
shrink of the kernel's ``Cached`` figure is recorded as evidence) at the settings first reaching 0.90 and
0.95; vectree gets a decoded-bucket cache of 5% of the raw vector bytes. Writes
benchmarks/results/scale-peers.{json,md,png} (and scale-ingest.{json,md} with --ingest).
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import arguments, machine  # noqa: E402
from benchmarks.peers import run_worker, settings_for  # noqa: E402
from benchmarks.peers_systems import setting_name  # noqa: E402
from benchmarks.scale_report import (  # noqa: E402
    PLOTTED,
    SYSTEMS,
    TARGETS,
    first_reaching,
    growth,
    plot,
    summary,
    write_markdown,
)

DISK_SYSTEMS = ["vectree[kmeans]", "faiss-ivf-ondisk", "lancedb-ivf-pq"]


CACHE_FRACTION = 0.05


NAME = "scale-peers"


def parse_n(text: str) -> int:
    """'1m' -> 1_000_000, '50k' -> 50_000, '2500' -> 2500.

    >>> parse_n("3m"), parse_n("50k"), parse_n("1200")
    (3000000, 50000, 1200)
    """
    t = text.strip().lower()
    mult = {"k": 1_000, "m": 1_000_000}.get(t[-1], 1)
    return int(float(t[:-1] if mult > 1 else t) * mult)


def load_dataset(spec: str, quick: bool, log=print):
    from benchmarks import datasets

    if spec in ("glove", "arxiv"):
        ds = datasets.load(spec, quick)
        return ds, ds.queries[:1000], ds.truth[:1000, :10]
    ds = datasets.synth(parse_n(spec), log=log)
    return ds, ds.queries, ds.truth[:, :10]


def run_dataset(
    spec: str, quick: bool, keep_vectree: Path | None, log=print, systems: list[str] | None = None
) -> tuple[list[dict], dict]:
    t_start = time.time()
    ds, queries, truth = load_dataset(spec, quick, log)
    n, dim = np.load(ds.base_path, mmap_mode="r").shape
    raw = n * dim * 4
    work = Path(tempfile.mkdtemp(prefix=f"scale-{ds.name}-", dir=os.environ.get("VECTREE_SCALE_WORK")))
    log(
        f"[scale] {ds.name}: {n:,} x {dim} ({ds.metric}), {len(queries)} queries, raw {raw / 2**20:.0f} MB, work {work}"
    )
    np.save(work / "queries.npy", queries.astype(np.float32))
    np.save(work / "truth.npy", truth)
    common = {
        "base_path": str(ds.base_path),
        "queries_path": str(work / "queries.npy"),
        "truth_path": str(work / "truth.npy"),
        "metric": ds.metric,
        "n": int(n),
        "dim": int(dim),
        "quick": quick,
        "bucket_size": None,
        "hnsw_m": 16,
        "ef_construction": 100,
        "n_trees": 10,
        "batch_chunk": 250,
        "batch_budget_s": 1.0 if quick else 3.0,
        "single_budget_s": 0.3 if quick else 3.0,
        "n_single": 50 if quick else 300,
        "single_rounds": 1,
        "stop_recall": 0.96,
        "min_qps": 5,
        "cache_bytes": max(1 << 20, int(CACHE_FRACTION * raw)),
        "memory_cache_bytes": int(1.5 * raw) + (64 << 20),
    }
    rows, errors = [], {}
    ivf_settings = None
    try:
        for system in systems or SYSTEMS:
            index_dir = work / system.replace("[", "-").replace("]", "")
            index_dir.mkdir()
            settings = settings_for(system if system != "faiss-ivf-ondisk" else "faiss-ivf-flat")
            if system == "faiss-ivf-ondisk" and ivf_settings:
                settings = ivf_settings  # the same trained quantizer as faiss-ivf-flat: its settings for 0.90 / 0.95
            log(f"[scale] {ds.name} {system}: build + sweep")
            try:
                out = run_worker(
                    {
                        **common,
                        "mode": "sweep",
                        "system": system,
                        "index_dir": str(index_dir),
                        "build": True,
                        "settings": settings,
                    },
                    1,
                )
            except RuntimeError as e:
                errors[system] = str(e)
                log(f"[scale] {e}")
                continue
            for r in out["rows"]:
                m = {
                    **r["metrics"],
                    **{k: v for k, v in out["build"].items() if isinstance(v, (int, float))},
                    "raw_vector_mb": raw / 2**20,
                }
                rows.append(
                    {
                        "system": system,
                        "setting": setting_name(system, r["setting"]),
                        "knob": r["setting"],
                        "dataset": ds.name,
                        "n": int(n),
                        "threads": 1,
                        "regime": "memory",
                        "metrics": m,
                        "info": out.get("info", {}),
                    }
                )
            if system == "faiss-ivf-flat":
                mine = [r for r in rows if r["system"] == system]
                ivf_settings = sorted({(first_reaching(mine, t) or mine[-1])["knob"] for t in TARGETS})
        for system in [s for s in DISK_SYSTEMS if s in (systems or SYSTEMS)]:
            mine = [r for r in rows if r["system"] == system and r["regime"] == "memory"]
            for target in TARGETS:
                chosen = first_reaching(mine, target)
                if chosen is None:
                    continue
                if any(r["system"] == system and r["regime"] == "disk" and r["knob"] == chosen["knob"] for r in rows):
                    continue
                log(f"[scale] {ds.name} {system} from disk at {chosen['setting']} (page cache dropped)")
                try:
                    out = run_worker(
                        {
                            **common,
                            "mode": "disk",
                            "system": system,
                            "setting": chosen["knob"],
                            "index_dir": str(work / system.replace("[", "-").replace("]", "")),
                        },
                        1,
                    )
                except RuntimeError as e:
                    errors[f"{system}/disk"] = str(e)
                    continue
                m = {
                    **out["metrics"],
                    "raw_vector_mb": raw / 2**20,
                    "cache_mb": common["cache_bytes"] / 2**20 if system.startswith("vectree") else None,
                }
                rows.append(
                    {
                        "system": system,
                        "setting": chosen["setting"],
                        "knob": chosen["knob"],
                        "dataset": ds.name,
                        "n": int(n),
                        "threads": 1,
                        "regime": "disk",
                        "metrics": m,
                        "info": out.get("info", {}),
                    }
                )
        if keep_vectree is not None and (work / "vectree-kmeans" / "c").exists():
            if keep_vectree.exists():
                shutil.rmtree(keep_vectree)
            shutil.move(str(work / "vectree-kmeans" / "c"), str(keep_vectree))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    meta = {
        "name": ds.name,
        "rows": int(n),
        "dim": int(dim),
        "metric": ds.metric,
        "queries": len(queries),
        "raw_vector_mb": raw / 2**20,
        "wall_s": time.time() - t_start,
        "errors": errors,
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        "made_by": "benchmarks/datasets.py synth() (Gaussian mixture, see its Mixture docstring)"
        if ds.name.startswith("synth")
        else "benchmarks/datasets.py load()",
    }
    return rows, meta


def main() -> None:
    parser = arguments(__doc__, quick="20k synthetic rows (pass --out to keep the results elsewhere)")
    parser.add_argument("--n", action="append", default=[], help="synthetic size: 1m, 3m, 10m (repeatable)")
    parser.add_argument("--dataset", action="append", default=[], help="glove, arxiv (comma list)")
    parser.add_argument("--ingest", action="store_true", help="ingest-while-serving on the largest synthetic size")
    parser.add_argument(
        "--systems", help=f"comma list of a subset of {','.join(SYSTEMS)}: only their rows are replaced"
    )
    args = parser.parse_args()
    only = set(args.systems.split(",")) if args.systems else None
    if only:
        if only - set(SYSTEMS):
            parser.error(f"unknown systems {sorted(only - set(SYSTEMS))}")
        SYSTEMS_RUN = [s for s in SYSTEMS if s in only]
    else:
        SYSTEMS_RUN = list(SYSTEMS)
    specs = [n for item in args.n for n in item.split(",") if n] + [
        d for item in args.dataset for d in item.split(",") if d
    ]
    if args.quick and not specs:
        specs = ["20k"]
    if not specs:
        parser.error("give --n and/or --dataset (or --quick)")
    command = "python benchmarks/scale.py " + " ".join(sys.argv[1:])
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"{NAME}.json"
    body = (
        json.loads(path.read_text())
        if path.exists()
        else {"benchmark": NAME, "rows": [], "datasets": [], "commands": []}
    )
    synth_specs = [s for s in specs if s not in ("glove", "arxiv")]
    largest = max(synth_specs, key=parse_n) if (args.ingest and synth_specs) else None
    keep = Path(os.environ.get("VECTREE_SCALE_WORK", tempfile.gettempdir())) / "scale-ingest-collection"
    for spec in specs:
        rows, meta = run_dataset(spec, args.quick, keep if spec == largest else None, systems=SYSTEMS_RUN)
        ran = {r["system"] for r in rows} | set(SYSTEMS_RUN)
        body["rows"] = [
            r for r in body["rows"] if r["dataset"] != meta["name"] or (only and r["system"] not in ran)
        ] + rows
        old = next((d for d in body["datasets"] if d["name"] == meta["name"]), None)
        if only and old:
            meta = {
                **old,
                "errors": {
                    **{k: v for k, v in old.get("errors", {}).items() if k.split("/")[0] not in ran},
                    **meta["errors"],
                },
                "reruns": old.get("reruns", [])
                + [
                    {
                        "systems": sorted(ran),
                        "wall_s": meta["wall_s"],
                        "load_average_at_end": meta["load_average_at_end"],
                    }
                ],
            }
        body["datasets"] = [d for d in body["datasets"] if d["name"] != meta["name"]] + [meta]
        body["commands"] = sorted(set(body["commands"]) | {command})
        body.update(
            {
                "machine": machine(1),
                "date": datetime.date.today().isoformat(),
                "data_note": "synth-N: benchmarks/datasets.py's clustered generator, a 96-d Gaussian mixture of 4096 "
                "anisotropic clusters (Zipf 1/rank^1.1 weights, means around 64 super-centers, per-cluster "
                "rotation and power-law axis scales), rows generated in seeded 100k chunks into a memory-mapped "
                ".npy (synth-1m is the first 1M rows of synth-3m); 1,000 held-out queries from the same mixture; "
                "truth: exact top-100 by chunked faiss IndexFlatL2. glove / arxiv: benchmarks/datasets.py load().",
            }
        )
        body["summary"] = summary(body["rows"])
        body["growth_exponents"] = {key: growth(body["summary"], key) for key, _ in PLOTTED}
        path.write_text(json.dumps(body, indent=1, default=float))
        write_markdown(body, path.with_suffix(".md"))
        plot(body, path.with_suffix(".png"))
        print(f"[scale] wrote {path}", flush=True)
    if largest is not None:
        from benchmarks.scale_ingest import run_ingest

        run_ingest(keep, parse_n(largest), body, args.out, command, args.quick)


if __name__ == "__main__":
    main()

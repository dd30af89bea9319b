"""Build time on Ray with 1 and 2 workers against the local build, at 1M clustered rows.

    python benchmarks/scale_ray.py --n 1m
    python benchmarks/scale_ray.py --quick    # 20k rows

Each build reads the same .npy (benchmarks/datasets.py's clustered generator) into a fresh local
collection folder: "local" is ``create_collection`` + ``add_batches`` + ``build`` in one process;
"ray-N" is ``vectree.distributed.build`` on a fresh local Ray instance with N worker CPUs (Ray start-up
time reported separately). The Ray builds must produce the local build's index fingerprint (checked).
Writes benchmarks/results/scale-ray.{json,md}.
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import arguments, machine  # noqa: E402


class LoadMeter:
    """Samples the 1-minute load average every few seconds while a phase runs (2 cores shared with other jobs)."""

    def __init__(self, every_s: float = 5.0) -> None:
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._every = every_s
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append(os.getloadavg()[0])
            self._stop.wait(self._every)

    def stop(self) -> dict:
        self._stop.set()
        s = self.samples or [os.getloadavg()[0]]
        return {"min": round(min(s), 2), "mean": round(sum(s) / len(s), 2), "max": round(max(s), 2)}


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--n", default="1m")
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--skip-local", action="store_true", help="only the Ray builds (the local one is slow)")
    args = parser.parse_args()
    # under load the raylet may take minutes to register (the default wait timed out at load ~30)
    os.environ.setdefault("RAY_raylet_start_wait_time_s", "600")
    import numpy as np
    import ray

    import vectree
    import vectree.distributed as vd
    from benchmarks import datasets
    from benchmarks.peers_systems import iter_chunks
    from benchmarks.scale import parse_n

    n = 20_000 if args.quick else parse_n(args.n)
    ds = datasets.synth(n)
    work = Path(tempfile.mkdtemp(prefix="scale-ray-"))
    rows = []
    try:
        for w in [int(x) for x in args.workers.split(",")]:
            meter = LoadMeter()
            print(f"[scale-ray] starting ray with {w} worker(s)...", flush=True)
            t = time.perf_counter()
            ray.init(address="local", num_cpus=w, include_dashboard=False, log_to_driver=False)
            start_s = time.perf_counter() - t
            t = time.perf_counter()
            col = vd.build(str(work / f"ray{w}"), str(ds.base_path), shard_rows=100_000)
            build_s = time.perf_counter() - t
            ray.shutdown()
            load = meter.stop()
            print(
                f"[scale-ray] ray, {w} worker(s): start {start_s:.1f} s, build {build_s:.1f} s (load {load})",
                flush=True,
            )
            rows.append(
                {
                    "system": "vectree.distributed",
                    "setting": f"{w} worker(s)",
                    "dataset": ds.name,
                    "metrics": {"build_s": build_s, "ray_start_s": start_s, "load_average": load},
                    "_index": (col.manifest.index, col.manifest.idmap),
                }
            )
        if not args.skip_local:
            meter = LoadMeter()
            t = time.perf_counter()
            local = vectree.create_collection(str(work / "local"), dim=datasets.SYNTH_DIM)
            local.add_batches((c, np.arange(s, s + len(c))) for s, c in iter_chunks(str(ds.base_path), False))
            local.build()
            local_s = time.perf_counter() - t
            load = meter.stop()
            print(f"[scale-ray] local build of {n:,} rows: {local_s:.1f} s (load {load})", flush=True)
            rows.insert(
                0,
                {
                    "system": "vectree local",
                    "setting": "1 process",
                    "dataset": ds.name,
                    "metrics": {"build_s": local_s, "load_average": load},
                },
            )
            for r in rows[1:]:
                r["metrics"]["speedup_vs_local"] = local_s / r["metrics"]["build_s"]
                r["metrics"]["index_equals_local"] = r.pop("_index") == (local.manifest.index, local.manifest.idmap)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for r in rows:
        r.pop("_index", None)
    one = next((r for r in rows if r["setting"] == "1 worker(s)"), None)
    for r in rows:
        if one and r["system"] == "vectree.distributed":
            r["metrics"]["speedup_vs_1_worker"] = one["metrics"]["build_s"] / r["metrics"]["build_s"]
    command = "python benchmarks/scale_ray.py " + " ".join(sys.argv[1:])
    body = {
        "benchmark": "scale-ray",
        "command": command.strip(),
        "machine": machine("1 per worker"),
        "date": datetime.date.today().isoformat(),
        "rows": rows,
        "n": n,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "scale-ray.json").write_text(json.dumps(body, indent=1))
    lines = [
        f"# scale-ray: building {n:,} clustered 96-d rows locally and on Ray",
        "",
        f"Command: `{body['command']}` ({body['date']}); machine: {body['machine']['cpus']} cpus shared with other "
        "jobs, "
        f"load average at start {body['machine']['load_average_at_start']}. Ray: a fresh local instance per run.",
        "",
        "| system | setting | build s | x local | x 1 worker | Ray start s | index equals local | load min/mean/max |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        m = r["metrics"]
        lines.append(
            f"| {r['system']} | {r['setting']} | {m['build_s']:.1f} | {m.get('speedup_vs_local', 1.0):.2f} | "
            f"{m.get('speedup_vs_1_worker', float('nan')):.2f} | {m.get('ray_start_s', float('nan')):.1f} | "
            f"{m.get('index_equals_local', '')} | "
            + "/".join(str(m.get("load_average", {}).get(x, "")) for x in ("min", "mean", "max"))
            + " |"
        )
    (args.out / "scale-ray.md").write_text("\n".join(lines) + "\n")
    print(f"[scale-ray] wrote {args.out / 'scale-ray.json'}", flush=True)


if __name__ == "__main__":
    main()

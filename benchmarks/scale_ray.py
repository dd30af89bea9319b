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
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import arguments, machine  # noqa: E402


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--n", default="1m")
    parser.add_argument("--workers", default="1,2")
    args = parser.parse_args()
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
        t = time.perf_counter()
        local = vectree.create_collection(str(work / "local"), dim=datasets.SYNTH_DIM)
        local.add_batches((c, np.arange(s, s + len(c))) for s, c in iter_chunks(str(ds.base_path), False))
        local.build()
        local_s = time.perf_counter() - t
        print(f"[scale-ray] local build of {n:,} rows: {local_s:.1f} s", flush=True)
        rows.append(
            {"system": "vectree local", "setting": "1 process", "dataset": ds.name, "metrics": {"build_s": local_s}}
        )
        for w in [int(x) for x in args.workers.split(",")]:
            t = time.perf_counter()
            ray.init(address="local", num_cpus=w, include_dashboard=False, log_to_driver=False)
            start_s = time.perf_counter() - t
            t = time.perf_counter()
            col = vd.build(str(work / f"ray{w}"), str(ds.base_path), shard_rows=100_000)
            build_s = time.perf_counter() - t
            ray.shutdown()
            same = col.manifest.index == local.manifest.index and col.manifest.idmap == local.manifest.idmap
            print(
                f"[scale-ray] ray, {w} worker(s): start {start_s:.1f} s, build {build_s:.1f} s, equals local: {same}",
                flush=True,
            )
            rows.append(
                {
                    "system": "vectree.distributed",
                    "setting": f"{w} worker(s)",
                    "dataset": ds.name,
                    "metrics": {
                        "build_s": build_s,
                        "ray_start_s": start_s,
                        "speedup_vs_local": local_s / build_s,
                        "index_equals_local": same,
                    },
                }
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)
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
        "| system | setting | build s | x local | x 1 worker | Ray start s | index equals local |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        m = r["metrics"]
        lines.append(
            f"| {r['system']} | {r['setting']} | {m['build_s']:.1f} | {m.get('speedup_vs_local', 1.0):.2f} | "
            f"{m.get('speedup_vs_1_worker', float('nan')):.2f} | {m.get('ray_start_s', float('nan')):.1f} | "
            f"{m.get('index_equals_local', '')} |"
        )
    (args.out / "scale-ray.md").write_text("\n".join(lines) + "\n")
    print(f"[scale-ray] wrote {args.out / 'scale-ray.json'}", flush=True)


if __name__ == "__main__":
    main()

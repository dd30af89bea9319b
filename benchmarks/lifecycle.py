"""How storage grows over many single-row adds, with and without periodic compaction + cleanup.

    python benchmarks/lifecycle.py            # 5,000 single-row adds of arXiv MiniLM vectors (384-d, cosine)
    python benchmarks/lifecycle.py --quick    # 240 adds of the repo's own 4k sample, under a minute

Three policies on a local-disk collection, one after another in this process:
- ``none``: only adds (every version and every file is kept, as before cleanup existed);
- ``compact``: ``compact()`` every ``--every`` adds, no cleanup (old buckets and segments stay for old versions);
- ``compact+cleanup``: ``compact()`` then ``cleanup(older_than=0, keep_versions=1, grace=0)`` every ``--every``
  adds (a single writer, so no grace period is needed).
Every ``--sample`` adds it records the objects and bytes stored (manifests included) and the time per add.
At the end every policy's newest version is verified and searched for the last added row (it must be found).
Writes benchmarks/results/lifecycle[-quick].{json,md,png}.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import vectree  # noqa: E402
from benchmarks.common import arguments, named, write_results  # noqa: E402
from vectree.figures import pyplot, save_figure  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
POLICIES = ["none", "compact", "compact+cleanup"]


def load_vectors(quick: bool, n: int) -> np.ndarray:
    if quick:
        return np.load(REPO / "demo" / "arxiv-minilm-4k.npz")["vectors"][:n].astype(np.float32)
    from benchmarks.datasets import SHARED

    path = SHARED / "arxiv-abstracts-minilm.npy"
    return np.load(path, mmap_mode="r")[:n].astype(np.float32)


def footprint(store) -> tuple[int, int]:
    infos = store.list_info("")
    return len(infos), sum(i.size for i in infos)


def run_policy(policy: str, x: np.ndarray, every: int, sample: int, root: Path) -> dict:
    col = vectree.create_collection(root / policy.replace("+", "-"), dim=x.shape[1], metric="cosine")
    curve, t_adds, t_maint = [], 0.0, 0.0
    for i in range(len(x)):
        t = time.perf_counter()
        col.add(x[i : i + 1], ids=[i])
        t_adds += time.perf_counter() - t
        if policy != "none" and (i + 1) % every == 0:
            t = time.perf_counter()
            col.compact()
            if policy == "compact+cleanup":
                col.cleanup(older_than=0, keep_versions=1, grace=0)
            t_maint += time.perf_counter() - t
        if (i + 1) % sample == 0 or i + 1 == len(x):
            objects, nbytes = footprint(col.store)
            curve.append(
                {"adds": i + 1, "objects": objects, "bytes": nbytes, "versions": len(col.store.list("manifests/"))}
            )
            print(
                f"{policy:>16}: {i + 1:5d} adds, {objects:6d} objects, {nbytes / 2**20:7.2f} MiB, "
                f"{1000 * t_adds / (i + 1):6.2f} ms/add",
                file=sys.stderr,
                flush=True,
            )
    latest = vectree.open_collection(col.url)
    found = latest.search(x[-1], k=1, probes=8).ids[0, 0] == len(x) - 1
    ok = latest.verify().ok
    end = curve[-1]
    return {
        "system": "vectree",
        "setting": policy,
        "dataset": "arxiv-minilm",
        "metrics": {
            "adds": len(x),
            "objects": end["objects"],
            "bytes": end["bytes"],
            "mib": round(end["bytes"] / 2**20, 3),
            "versions_stored": end["versions"],
            "version": latest.version,
            "rows": len(latest),
            "ms_per_add": round(1000 * t_adds / len(x), 3),
            "maintenance_s": round(t_maint, 2),
            "last_row_found": bool(found),
            "verify_ok": bool(ok),
        },
        "curve": curve,
    }


def write_markdown(path: Path, command: str, rows: list[dict], raw_mib: float) -> None:
    base = rows[0]["metrics"]
    lines = [
        f"# Storage growth over {base['adds']:,} single-row adds",
        "",
        f"`{command}`",
        "",
        f"Raw vectors: {raw_mib:.2f} MiB (float32). Local disk; sizes are the stored objects' bytes.",
        "",
        "| policy | objects | MiB | versions stored | objects vs none | bytes vs none | ms/add | maintenance s | "
        "verify |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        m = r["metrics"]
        lines.append(
            f"| {r['setting']} | {m['objects']:,} | {m['mib']:.2f} | {m['versions_stored']:,} | "
            f"{m['objects'] / base['objects']:.3f} | {m['bytes'] / base['bytes']:.3f} | {m['ms_per_add']:.2f} | "
            f"{m['maintenance_s']:.1f} | {'ok' if m['verify_ok'] and m['last_row_found'] else 'FAILED'} |"
        )
    lines += ["", f"![objects and bytes against adds]({path.stem}.png)", ""]
    path.write_text("\n".join(lines))


def plot(path: Path, rows: list[dict]) -> None:
    plt = pyplot()

    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    for r in rows:
        adds = [c["adds"] for c in r["curve"]]
        a.plot(adds, [c["objects"] for c in r["curve"]], label=r["setting"])
        b.plot(adds, [c["bytes"] / 2**20 for c in r["curve"]], label=r["setting"])
    a.set(xlabel="single-row adds", ylabel="objects stored", yscale="log")
    b.set(xlabel="single-row adds", ylabel="MiB stored")
    a.legend()
    save_figure(fig, path, dpi=100)


def main() -> None:
    p = arguments(__doc__.split("\n")[0])
    p.add_argument("--adds", type=int, default=None)
    p.add_argument("--every", type=int, default=None, help="compact (+cleanup) every this many adds")
    args = p.parse_args()
    n = args.adds or (240 if args.quick else 5000)
    every = args.every or (80 if args.quick else 500)
    sample = max(1, n // 20)
    x = load_vectors(args.quick, n)
    root = Path(tempfile.mkdtemp(prefix="vectree-lifecycle-"))
    try:
        rows = [run_policy(policy, x, every, sample, root) for policy in POLICIES]
    finally:
        shutil.rmtree(root, ignore_errors=True)
    name, command = named("lifecycle", args.quick)
    if args.adds or args.every:
        command += (f" --adds {args.adds}" if args.adds else "") + (f" --every {args.every}" if args.every else "")
    base = rows[0]["metrics"]
    summary = {
        r["setting"]: {
            "objects_vs_none": round(r["metrics"]["objects"] / base["objects"], 4),
            "bytes_vs_none": round(r["metrics"]["bytes"] / base["bytes"], 4),
        }
        for r in rows
    }
    write_results(
        name, command, 1, rows, {"summary": summary, "every": every, "raw_vector_bytes": int(x.nbytes)}, args.out
    )
    write_markdown(args.out / f"{name}.md", command, rows, x.nbytes / 2**20)
    plot(args.out / f"{name}.png", rows)
    print(f"wrote {args.out / name}.{{json,md,png}}", file=sys.stderr)


if __name__ == "__main__":
    main()

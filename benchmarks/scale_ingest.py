"""Ingest while serving: add 10% more rows in batches of 10k into a built collection while one thread queries.

    python benchmarks/scale_ingest.py --n 1m            # builds the 1M collection first (or --collection DIR)
    python benchmarks/scale_ingest.py --n 1m --writer thread   # the writer as a thread of the serving process
    python benchmarks/scale_ingest.py --quick           # 20k rows + 10k added, under a minute

The writer (by default its own process, as a deployment would run it: the serving process only reads)
adds batches of 10,000 rows (the generator's rows n, n+1, ...: the same mixture). The unindexed tail may
hold up to ``tail_bound(n)`` rows (1% of the collection, at least 20,000): past
``SearchTuning.routed_tail_rows`` a query scans only the tail rows of its probed buckets
(:mod:`vectree.collection.routed_tail`), so a larger tail costs queries little and lets each bucket
gather more rows before it is rewritten. Whenever the next batch would take the tail past the bound, the
writer compacts with ``keep_tail_rows=bound // 2``: the buckets gaining the most tail rows are folded
(split past twice bucket_size in place, SPFresh-style, never rebuilding the index) until at most that
many rows stay, so a bucket that would gain a row or two is not rewritten for it. The tail never holds
more than the bound. After each compaction the writer runs ``cleanup`` (versions and files older than
CLEANUP_AFTER_S, the newest 3 versions kept): every compaction leaves the old versions' buckets behind.
The reader thread (its own Collection object) queries one at a time at the probes setting that
reached recall 0.95 quietly, while a second thread of the serving process moves that object to each new
version every REFRESH_S (``refresh()``, which prepares the version before moving to it: a query never
waits for a new version's index, tail or tail grouping; the moves' times are reported). Recall of each
query is scored against the exact top 10 of the rows its version held (:class:`Truth`).
Writes benchmarks/results/scale-ingest.{json,md}.
"""

from __future__ import annotations

import datetime
import json
import multiprocessing
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import RESULTS, arguments, machine  # noqa: E402
from benchmarks.scale_ingest_report import markdown, slow_queries  # noqa: E402

WRITERS = {"process": "its own process (the serving process only reads)", "thread": "a thread of the serving process"}


def routed_tail_rows() -> int:
    from vectree.collection.plan import TUNING

    return TUNING.routed_tail_rows


def tail_bound(n: int) -> int:
    """The most unindexed tail rows the writer lets a collection of ``n`` rows hold (1%, at least 20,000).

    >>> tail_bound(1_000_000), tail_bound(10_000_000)
    (20000, 100000)
    """
    return max(20_000, n // 100)


BATCH = 10_000
CLEANUP_AFTER_S = 60.0  # versions and unreferenced files older than this are deleted after each compaction
REFRESH_S = 0.1  # the reader looks for a new version this often, from a thread of its own


class Truth:
    """Exact top k of each query over the base plus every prefix of the added rows that a reader can see.

    Rows are added (and committed) BATCH at a time, so a reader only ever sees n + a multiple of BATCH rows
    (the last batch may be short). Each query's top k within each block of BATCH added rows is computed
    once, in a batched product; a prefix's top k is then the top k of the base's exact top 100 and the
    blocks' top k below it: one small sort per scored query instead of a scan of every added row.

    >>> rng = np.random.default_rng(0)
    >>> base = rng.normal(size=(50, 4)).astype(np.float32); added = rng.normal(size=(25, 4)).astype(np.float32)
    >>> q = rng.normal(size=(3, 4)).astype(np.float32)
    >>> d = ((base[None] - q[:, None]) ** 2).sum(2); ids = np.argsort(d, 1)
    >>> t = Truth(ids, np.take_along_axis(d, ids, 1), q, added, n=50, k=5, block=10)
    >>> allv = np.concatenate([base, added[:20]]); full = ((allv - q[1]) ** 2).sum(1)
    >>> bool((np.sort(t.at(1, 70)) == np.sort(np.argsort(full)[:5])).all())
    True
    """

    def __init__(
        self,
        base_ids: np.ndarray,
        base_d: np.ndarray,
        queries: np.ndarray,
        added: np.ndarray,
        n: int,
        k: int = 10,
        block: int = BATCH,
    ) -> None:
        self.base_ids, self.base_d, self.n, self.k, self.block = base_ids, base_d, n, k, block
        self.queries, self.added = queries, added
        nb = -(-len(added) // block)
        self.ids = np.zeros((len(queries), nb, k), np.int64)
        self.d = np.full((len(queries), nb, k), np.inf, np.float32)
        qn = (queries.astype(np.float64) ** 2).sum(1)[:, None]
        for b in range(nb):
            rows = added[b * block : (b + 1) * block].astype(np.float64)
            # float64 so the product form ranks rows as the direct squared difference would
            d = qn - 2 * queries.astype(np.float64) @ rows.T + (rows**2).sum(1)[None]
            kk = min(k, len(rows))
            top = np.argpartition(d, kk - 1, axis=1)[:, :kk]
            self.ids[:, b, :kk] = n + b * block + top
            self.d[:, b, :kk] = np.take_along_axis(d, top, 1)

    def at(self, qi: int, visible: int) -> np.ndarray:
        """The exact top k ids of query ``qi`` when the reader saw ``visible`` rows."""
        m = visible - self.n
        full, part = divmod(m, self.block)
        ids = [self.base_ids[qi], self.ids[qi, :full].ravel()]
        d = [self.base_d[qi].astype(np.float64), self.d[qi, :full].ravel().astype(np.float64)]
        if part:  # a short last block: scan its visible rows directly
            rows = self.added[full * self.block : m]
            ids.append(self.n + full * self.block + np.arange(len(rows)))
            d.append(((rows.astype(np.float64) - self.queries[qi]) ** 2).sum(1))
        ids, d = np.concatenate(ids), np.concatenate(d)
        return ids[np.argsort(d, kind="stable")[: self.k]]


def _recall(found: np.ndarray, truth: np.ndarray) -> float:
    return len(set(found.tolist()) & set(truth.tolist())) / len(truth)


def build_collection(n: int, where: Path, log=print) -> Path:
    import vectree
    from benchmarks import datasets
    from benchmarks.peers_systems import iter_chunks

    ds = datasets.synth(n, log=log)
    col = vectree.create_collection(str(where), dim=datasets.SYNTH_DIM, metric="l2")
    t = time.time()
    col.add_batches((c, np.arange(s, s + len(c))) for s, c in iter_chunks(str(ds.base_path), False))
    col.build()
    log(f"[ingest] built the {n:,}-row collection in {time.time() - t:.0f} s")
    return where


def _ingest(col_dir: Path | str, n: int, add: int, log=print) -> tuple[list[dict], int]:
    """Add rows n..n+add in batches of BATCH; compact (keeping half the bound) whenever the tail would pass
    ``tail_bound(n)``."""
    import vectree
    from benchmarks import datasets

    added = datasets.synth_rows(n, n + add)
    writer = vectree.open_collection(str(col_dir), cache_bytes=64 << 20)
    compactions, tail_max = [], 0
    bound = tail_bound(n)
    for s in range(0, add, BATCH):
        batch = added[s : s + BATCH]
        writer.add(batch, ids=np.arange(n + s, n + s + len(batch)))
        tail = writer.stats()["tail_rows"]
        tail_max = max(tail_max, tail)
        last = s + BATCH >= add
        if tail + BATCH > bound or last:  # the next batch would pass the bound: compact first
            old = set(writer.index.bucket_fingerprints) - {""}
            tc = time.perf_counter()
            writer.compact(keep_tail_rows=0 if last else bound // 2)
            seconds_compact = time.perf_counter() - tc
            # old versions' files go once no reader can still be on them (the reader refreshes every REFRESH_S
            # seconds): without this a 10M ingest kept every rewritten bucket and filled the disk
            cleaned = writer.cleanup(older_than=CLEANUP_AFTER_S, keep_versions=3, grace=CLEANUP_AFTER_S)
            new = set(writer.index.bucket_fingerprints) - {""}
            c = {
                "after_rows": len(writer),
                "tail_rows_before": tail,
                "tail_rows_after": writer.stats()["tail_rows"],
                "seconds": seconds_compact,
                "cleanup_s": time.perf_counter() - tc - seconds_compact,
                "versions_deleted": len(cleaned.versions_deleted),
                "buckets_before": len(old),
                "buckets_after": len(new),
                "buckets_rewritten_or_new": len(new - old),
                "buckets_kept": len(new & old),
                "operation": writer.manifest.operation,
            }
            compactions.append(c)
            log(
                f"[ingest] {len(writer):,} rows: compaction {c['seconds']:.1f} s, tail {tail:,} -> "
                f"{c['tail_rows_after']:,}, {c['buckets_rewritten_or_new']} of {c['buckets_after']} buckets "
                f"written, {c['buckets_kept']} kept",
                flush=True,
            )
    return compactions, tail_max


def _ingest_to(results, col_dir: str, n: int, add: int, nice: int = 0) -> None:
    if nice:
        os.nice(nice)  # a background ingest, below the serving process's priority
    results.put(_ingest(col_dir, n, add, print))


def run_ingest(
    col_dir: Path,
    n: int,
    scale_body: dict | None,
    out: Path,
    command: str,
    quick: bool,
    probes: int | None = None,
    log=print,
    writer_mode: str = "process",
    writer_nice: int = 0,
    add: int | None = None,
) -> Path:
    import vectree
    from benchmarks import datasets

    load_start = [round(x, 2) for x in os.getloadavg()]
    ds = datasets.synth(n, log=log)
    z = np.load(str(ds.base_path).replace("-base.npy", "-truth.npz"))
    base_ids, base_d = z["ids"], z["dists"]
    queries = ds.queries
    if probes is None and scale_body:
        line = next(
            (
                s
                for s in scale_body.get("summary", [])
                if s["dataset"] == ds.name and s["system"] == "vectree[kmeans]" and "setting_95" in s
            ),
            None,
        )
        probes = int(line["setting_95"].split("=")[1]) if line else None
    probes = probes or 12
    add = add or max(BATCH, n // 10)
    added = datasets.synth_rows(n, n + add)
    cache = int(1.5 * (n + add) * datasets.SYNTH_DIM * 4) + (64 << 20)
    reader = vectree.open_collection(str(col_dir), cache_bytes=cache)
    reader.search(queries[:50], k=10, probes=reader.stats()["buckets"])  # every bucket cached: the in-memory regime
    records: list[tuple[int, int, float, np.ndarray, int, float]] = []  # (query, rows visible, s, ids, phase, start)
    stop = threading.Event()
    phase = [0]

    refreshes: list[tuple[float, bool, float, str]] = []  # (seconds, moved to a new version, start, operation)
    rows_of = {reader.version: len(reader)}  # rows of each version the reader moved to (what a query saw)
    done = threading.Event()

    def refresher() -> None:  # a server's shape: its own thread moves the reader on, preparing each version
        while not done.is_set():
            before = reader.version
            t = time.perf_counter()
            m = reader.refresh().manifest
            refreshes.append((time.perf_counter() - t, m.version != before, t, m.operation))
            rows_of[m.version] = m.rows
            done.wait(REFRESH_S)

    def serve(limit: int | None = None) -> None:
        i = 0
        rng = np.random.default_rng(1)
        while not stop.is_set() and (limit is None or i < limit):
            qi = int(rng.integers(len(queries)))
            t = time.perf_counter()
            found = reader.search(queries[qi], k=10, probes=probes)
            records.append((qi, rows_of[found.stats["version"]], time.perf_counter() - t, found.ids[0], phase[0], t))
            i += 1

    log(f"[ingest] quiet: {n:,} rows, probes={probes}", flush=True)
    refreshing = threading.Thread(target=refresher)
    refreshing.start()
    serve(200 if quick else 1000)
    phase[0] = 1
    thread = threading.Thread(target=serve)
    thread.start()
    try:
        if writer_mode == "process":  # the serving process only reads: the writer is its own process (own GIL)
            ctx = multiprocessing.get_context("spawn")
            results = ctx.Queue()
            proc = ctx.Process(target=_ingest_to, args=(results, str(col_dir), n, add, writer_nice))
            t0 = time.time()
            proc.start()
            compactions, tail_max = results.get()
            proc.join()
        else:  # the writer is a second thread of the serving process, as before
            t0 = time.time()
            compactions, tail_max = _ingest(col_dir, n, add, log)
    finally:
        stop.set()
        thread.join()
    ingest_s = time.time() - t0
    phase[0] = 2
    stop.clear()
    serve(200 if quick else 1000)  # quiet again, after ingest
    done.set()
    refreshing.join()
    log(f"[ingest] scoring {len(records)} queries")
    truth = Truth(base_ids, base_d, queries, added, n)
    out_rows = []
    for p, label in ((0, "quiet before"), (1, "while ingesting"), (2, "quiet after")):
        mine = [r for r in records if r[4] == p]
        lat = np.array([r[2] for r in mine]) * 1000
        rec = [_recall(ids, truth.at(qi, vis)) for qi, vis, _, ids, _, _ in mine]
        out_rows.append(
            {
                "system": "vectree[kmeans]",
                "setting": f"probes={probes}",
                "dataset": ds.name,
                "phase": label,
                "metrics": {
                    "queries": len(mine),
                    "recall_at_10": float(np.mean(rec)),
                    "ms_single_p50": float(np.median(lat)),
                    "ms_single_p99": float(np.percentile(lat, 99)),
                    "rows_visible_min": min(r[1] for r in mine),
                    "rows_visible_max": max(r[1] for r in mine),
                },
            }
        )
    quiet, busy = out_rows[0]["metrics"], out_rows[1]["metrics"]
    goals = {
        "p99_within_2x_of_quiet": busy["ms_single_p99"] <= 2 * quiet["ms_single_p99"],
        "p99_ratio": busy["ms_single_p99"] / quiet["ms_single_p99"],
        "recall_loss_within_2x_of_quiet": (1 - busy["recall_at_10"]) <= 2 * max(1e-9, 1 - quiet["recall_at_10"]),
        "recall_ratio": busy["recall_at_10"] / quiet["recall_at_10"],
        "tail_rows_max": tail_max,
        "tail_bound_rows": tail_bound(n),
        "keep_tail_rows": tail_bound(n) // 2,
        "writer": writer_mode,
        "writer_nice": writer_nice,
        "rebuilds": sum(1 for c in compactions if c["operation"] != "compact"),
    }
    moved = np.array([t for t, m, _, _ in refreshes if m]) * 1000
    refresh = {
        "refreshes": len(refreshes),
        "moves": len(moved),
        "ms_move_p50": float(np.median(moved)) if len(moved) else None,
        "ms_move_p99": float(np.percentile(moved, 99)) if len(moved) else None,
        "ms_move_max": float(moved.max()) if len(moved) else None,
    }
    body = {
        "benchmark": "scale-ingest",
        "refresh": refresh,
        "slow_queries": slow_queries(records, refreshes, 2 * quiet["ms_single_p99"] / 1000),
        "command": command,
        "machine": machine(1),
        "date": datetime.date.today().isoformat(),
        "rows": out_rows,
        "compactions": compactions,
        "goals": goals,
        "added_rows": add,
        "batch_rows": BATCH,
        "ingest_s": ingest_s,
        "rows_per_s": add / ingest_s,
        "base_rows": n,
        "load_average_at_start": load_start,
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
    }
    out.mkdir(parents=True, exist_ok=True)
    path = out / "scale-ingest.json"
    path.write_text(json.dumps(body, indent=1, default=float))
    (out / "scale-ingest.md").write_text(markdown(body, WRITERS[writer_mode], REFRESH_S, routed_tail_rows()))
    log(f"[ingest] wrote {path}")
    return path


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--n", default="1m")
    parser.add_argument("--collection", type=Path, help="a collection built over the first n synthetic rows")
    parser.add_argument("--probes", type=int)
    parser.add_argument(
        "--writer", choices=("process", "thread"), default="process", help="the writer's own process, or a thread"
    )
    parser.add_argument("--add", help="rows to add (default n/10), e.g. 100k")
    parser.add_argument(
        "--writer-nice", type=int, default=0, help="run the writer process at this niceness (a background ingest)"
    )
    args = parser.parse_args()
    from benchmarks.scale import parse_n

    n = 20_000 if args.quick else parse_n(args.n)
    command = "python benchmarks/scale_ingest.py " + " ".join(sys.argv[1:])
    scale_json = RESULTS / "scale-peers.json"
    body = json.loads(scale_json.read_text()) if scale_json.exists() else None
    with tempfile.TemporaryDirectory(prefix="scale-ingest-") as tmp:
        col_dir = args.collection or build_collection(n, Path(tmp) / "c")
        add = parse_n(args.add) if args.add else None
        run_ingest(
            col_dir,
            n,
            body,
            args.out,
            command.strip(),
            args.quick,
            args.probes,
            writer_mode=args.writer,
            add=add,
            writer_nice=args.writer_nice,
        )


if __name__ == "__main__":
    main()

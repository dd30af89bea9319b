"""How a search runs: the one place that picks a scan method, and the thresholds it picks by.

Four methods, each exact over the buckets it visits (they differ in speed and memory, never in
the answer: candidates rank by (distance, reference) in all three):

``compiled``
    every probed bucket of the batch is held, and each query's buckets are scanned in one call to
    the C kernel (``vectree/_native/_scan.c``). Wins when few queries share each bucket: one query,
    a small batch. The kernel reads every probed row once per query.
``matrix``
    per bucket, one matrix product for all the queries that visit it, folded into the queries'
    running top k in C; buckets are fetched a group at a time and let go. Wins once a bucket is
    visited by about four queries on average, because the product reads the bucket once for all.
    On more than one thread ``compiled`` is kept up to many more visits a bucket
    (``threaded_shared_visits``), because the matrix path holds the GIL between per-bucket products and
    its slices wait on each other (2 threads on 2 cores: 15-16k q/s against 17k with one, while
    ``compiled`` went 17k -> 24k, fashion-mnist).
    A matrix batch that must run (its buckets do not fit) is split over threads, each slice with a
    one-thread BLAS.
``streamed``
    one query whose probed buckets do not fit the cache: the compiled scan over a few buckets at a
    time, nearest first, keeping only what the running top k needs of those it lets go (through the
    codes, as ``quantized``, when the buckets have them).
``quantized``
    ``compiled`` through the buckets' int8 codes (a collection created with ``codes="int8"``): the
    kernel bounds every probed row's distance from its code (a quarter of a float32 row) and reads
    in full only the rows whose bound reaches below the k-th distance, so the answer stays exact.
    Chosen instead of ``compiled`` when the collection has codes.

``method="auto"`` (the default everywhere) picks by :func:`choose_method`; any method can be forced,
through ``Collection.search(..., method=...)``, which is how the tests compare them.

>>> choose_method(n_queries=1, probes=8, n_buckets=100, probed_bytes=1_000, cache_bytes=1 << 20)
'compiled'
>>> choose_method(n_queries=1000, probes=8, n_buckets=100, probed_bytes=1_000, cache_bytes=1 << 20)
'matrix'
>>> choose_method(n_queries=1, probes=8, n_buckets=100, probed_bytes=1_000, cache_bytes=1 << 20, has_codes=True)
'quantized'
>>> choose_method(n_queries=1000, probes=8, n_buckets=100, probed_bytes=1_000, cache_bytes=1 << 20, threads=2)
'compiled'
>>> choose_method(n_queries=1000, probes=None, n_buckets=100, probed_bytes=1_000, cache_bytes=1 << 20, threads=2)
'matrix'
"""

from __future__ import annotations

from dataclasses import dataclass

METHODS = ("auto", "compiled", "matrix", "streamed", "quantized")
DEFAULT_PROBES = 8  # buckets a query visits unless told otherwise: the one default, everywhere


@dataclass(frozen=True)
class SearchTuning:
    """The planner's thresholds (measured in ``benchmarks/README.md``; change them only with a measurement).

    Attributes:
        small_batch: up to this many queries, always ``compiled`` (when the buckets fit the cache).
        shared_visits: queries per bucket (on average) from which ``matrix`` beats ``compiled``.
        threaded_shared_visits: the same on more than one thread, where ``matrix`` holds the GIL between
            products. 2 threads, fashion-mnist: ``compiled`` / ``matrix`` 24.3k / 15.0k q/s at 44 visits a bucket,
            5.4k / 5.1k at 176, 1.2k / 2.7k at 705 (GloVe int8: 21.3k / 19.7k at 291).
        split_min_queries: a ``matrix`` batch is split over threads when each gets at least this many.
        parallel_min_queries: a ``compiled`` batch is split over threads from this many queries.
        fetch_group: buckets fetched per parallel round trip while scanning many buckets.
        stream_group: buckets a ``streamed`` query holds at once, at least (more when the cache allows).
        query_block: queries per matrix product (bounds the distance matrix's memory).
        vectors_only: buckets may be read as their id and vector columns alone (ranged reads from a remote
            store, :mod:`vectree.format.spans`): a search that returns no labels or metadata sets it.
        routed_tail_rows: from this many unindexed tail rows on, a query that probes fewer than every
            bucket scans only the tail rows of its probed buckets (:mod:`vectree.collection.routed_tail`).
        rerank: a scan through codes reads at most this many rows of a query in full (0: every row its
            codes' error bound cannot rule out, the exact answer over the probed buckets); the search's
            ``rerank`` sets it.
        rabitq_rerank: a search through RaBitQ codes that names no ``rerank`` reads at most this many
            times k rows in full (their error bound, which holds with high probability only, leaves ~20% of
            the rows on arXiv). Measured (``benchmarks/results/rerank-sweep.md``, recall@10 at int8's 0.95
            probes): 4 x k loses 0.01-0.20 against int8's exact bound, 8 x k 0.00-0.08, 16 x k 0.00-0.02.
        cold_codes: a quantized search over buckets not held decoded reads their codes first, then only the
            short list's vector chunks (:mod:`vectree.collection.coldcodes`): ``auto`` when the collection
            cannot stay in the read cache, ``always``, or ``never`` (whole buckets, as before).
    """

    small_batch: int = 4
    shared_visits: int = 4
    threaded_shared_visits: int = 256
    split_min_queries: int = 256
    parallel_min_queries: int = 64
    fetch_group: int = 32
    stream_group: int = 4
    query_block: int = 2048
    vectors_only: bool = False
    routed_tail_rows: int = 16_384
    rerank: int = 0
    rabitq_rerank: int = 16
    cold_codes: str = "auto"


TUNING = SearchTuning()


def choose_method(
    n_queries: int,
    probes: int | None,
    n_buckets: int,
    probed_bytes: int,
    cache_bytes: int,
    tuning: SearchTuning = TUNING,
    has_codes: bool = False,
    threads: int = 1,
) -> str:
    """The scan method for a batch: ``compiled`` (``quantized`` when the buckets have codes),
    ``matrix`` or ``streamed`` (see the module docstring).

    ``probes=None`` means every bucket; ``probed_bytes`` is what the batch's probed buckets hold
    (vectors as stored) and ``cache_bytes`` the read cache's capacity: ``compiled`` holds every probed
    bucket at once, so it is chosen only when they fit half the cache (or, for one query, when they
    are no more than a streamed group). ``threads``: what the scan may use (see the module).
    """
    per_query = n_buckets if probes is None else min(probes, n_buckets)
    fits = 2 * probed_bytes <= cache_bytes
    compiled = "quantized" if has_codes else "compiled"
    if n_queries == 1 and not fits:  # (a group of a streamed query may hold stream_group buckets anyway)
        return "streamed" if per_query > tuning.stream_group else compiled
    shared = tuning.threaded_shared_visits if threads > 1 else tuning.shared_visits
    if fits and (n_queries <= tuning.small_batch or n_queries * per_query < shared * n_buckets):
        return compiled
    return "matrix"

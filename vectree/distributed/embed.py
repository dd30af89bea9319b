"""Embedding at scale: a text column encoded through Ray Data ``map_batches`` with the collection's embedder."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from vectree.embed.base import Embedder, from_bytes

log = logging.getLogger(__name__)


class _Encode:
    """One per Ray Data actor: the embedder is rebuilt once from its bytes, then encodes batch after batch."""

    def __init__(self, data: bytes, text_field: str) -> None:
        self.embedder = from_bytes(data)
        self.text_field = text_field

    def __call__(self, batch: Any) -> Any:
        import pyarrow as pa

        texts = batch.column(self.text_field).to_pylist()
        vectors = np.ascontiguousarray(self.embedder.encode([str(t) for t in texts]), dtype=np.float32)
        # a fixed-size list column (not Ray's tensor extension type): what the build and any Parquet reader expect
        return batch.append_column(
            "vector", pa.FixedSizeListArray.from_arrays(pa.array(vectors.ravel()), vectors.shape[1])
        )


def embed(
    source: str | list[str],
    out: str,
    embedder: Embedder,
    *,
    text_field: str = "text",
    address: str | None = None,
    concurrency: int = 2,
    num_cpus: float = 1.0,
    batch_size: int = 1024,
    filesystem: Any = None,
) -> str:
    """Encode ``text_field`` of the Parquet ``source`` with ``embedder`` on Ray Data; write Parquet with a
    ``vector`` column (and every input column) to the folder ``out``, in input order. Returns ``out``.
    ``concurrency`` encoder actors run, each reserving ``num_cpus`` (leave room for Ray Data's read
    tasks: actors holding every CPU of the cluster would starve them).

    Feed the result to :func:`vectree.distributed.build`; store the embedder with the collection
    (:func:`vectree.embed.attach.attach_embedder`) so queries are embedded by the same model.

    >>> import vectree.distributed as vd  # doctest: +SKIP
    >>> vd.embed("texts.parquet", "vectors/", embedder, address="local:2")  # doctest: +SKIP
    'vectors/'
    """
    import ray

    started = False
    if not ray.is_initialized():
        from vectree.distributed.build import start_ray

        start_ray(address)
        started = True
    try:
        ctx = ray.data.DataContext.get_current()
        ctx.execution_options.preserve_order = True  # rows keep their order: the build's sample is then the local one
        import pyarrow.parquet as pq

        # one arrow block per input row group (the files are opened here; Ray Data's own parquet
        # listing stalled on a 2-CPU cluster whose CPUs the encoder actors held)
        tables = []
        for path in [source] if isinstance(source, str) else source:
            pf = pq.ParquetFile(path, filesystem=filesystem)
            tables += [pf.read_row_group(g) for g in range(pf.num_row_groups)]
        ds = ray.data.from_arrow(tables)
        ds = ds.map_batches(
            _Encode,
            fn_constructor_kwargs={"data": embedder.to_bytes(), "text_field": text_field},
            batch_size=batch_size,
            batch_format="pyarrow",
            compute=ray.data.ActorPoolStrategy(size=concurrency),
            num_cpus=num_cpus,
        )
        ds.write_parquet(out, filesystem=filesystem)
    finally:
        if started:
            ray.shutdown()
    return out

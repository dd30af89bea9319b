"""Builds and embedding on Ray (the optional ``vectree[distributed]`` extra; nothing else imports Ray).

``build(url, source)`` fits the index on the driver and has Ray workers read, route, shuffle and write
the buckets; ``embed(source, out, embedder)`` encodes a text column through Ray Data ``map_batches``.
"""

from vectree.distributed.build import build
from vectree.distributed.embed import embed
from vectree.distributed.sources import Shard, list_shards

__all__ = ["Shard", "build", "embed", "list_shards"]

"""Compiled kernels (``_scan.c``, built by ``pip install``), below every other layer.

``topk``: one query's top k over many blocks (used by :mod:`vectree.collection.kernel`);
``offer_rows``: a block's distance matrix folded into running top-k lists (batches);
``rank_centers``: one query's nearest bucket centers, exactly, reading few in full (used by
:mod:`vectree.index.centers`); ``widen``: float16 into float32, see :func:`as_float32`.
"""

from __future__ import annotations

import numpy as np


def as_float32(vectors: np.ndarray) -> np.ndarray:
    """``vectors`` as float32: float16 widened in C (numpy's cast took 105 us for an 80 x 784 bucket,
    more than a matrix product over it; F16C takes 3.6 us); float32 returned as is."""
    if vectors.dtype == np.float32:
        return vectors
    if vectors.dtype != np.float16:
        return vectors.astype(np.float32)
    from vectree._native import _scan

    wide = np.empty(vectors.shape, np.float32)
    _scan.widen(np.ascontiguousarray(vectors), wide)
    return wide

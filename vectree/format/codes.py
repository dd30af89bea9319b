"""Compact codes of a bucket's rows, stored next to its vectors: what a quantized scan reads first.

``int8``: scalar quantization per bucket and dimension. Each dimension's range over the bucket's
rows, [lo, lo + 255 * scale], is cut into 255 steps; a row's code is its nearest step, so a value
is ``lo + scale * code`` within ``scale / 2``. That bound is what makes the scan exact: ``<q, x>``
is known from the codes within ``sum_d |q_d| scale_d / 2``, and only rows whose bound reaches below
the k-th distance are read in full (``vectree/_native/_scan.c``, ``topk_codes``). Ranges are taken
per bucket (rows of one bucket are near one another), not over the collection: tighter steps, and
no value ever falls outside its range.

>>> codes, lo, scale = int8_codes(np.array([[0.0, 1.0], [2.0, 1.0]], np.float32))
>>> codes.tolist(), lo.tolist(), scale.tolist()
([[0, 0], [255, 0]], [0.0, 1.0], [0.007843137718737125, 0.0])
"""

from __future__ import annotations

import numpy as np

from vectree._native import as_float32

CODES = (None, "int8")


def int8_codes(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(codes uint8 (n, dim), lo float32 (dim,), scale float32 (dim,))`` of the values as stored
    (float16 rows are coded from their float16 values, which are what exact distances read)."""
    v = as_float32(np.ascontiguousarray(vectors))
    if not len(v):
        dim = v.shape[1]
        return np.empty((0, dim), np.uint8), np.zeros(dim, np.float32), np.zeros(dim, np.float32)
    lo = v.min(0)
    scale = ((v.max(0) - lo) / np.float32(255)).astype(np.float32)
    step = np.where(scale > 0, scale, np.float32(1))
    codes = np.clip(np.rint((v - lo) / step), 0, 255).astype(np.uint8)
    return codes, lo.astype(np.float32), scale

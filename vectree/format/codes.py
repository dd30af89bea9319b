"""Compact codes of a bucket's rows, stored next to its vectors: what a quantized scan reads first.

``int8``: scalar quantization per bucket and dimension. Each dimension's range over the bucket's
rows, [lo, lo + 255 * scale], is cut into 255 steps; a row's code is its nearest step, so a value
is ``lo + scale * code`` within ``scale / 2``. That bound is what makes the scan exact: ``<q, x>``
is known from the codes within ``sum_d |q_d| scale_d / 2``, and only rows whose bound reaches below
the k-th distance are read in full (``vectree/_native/_scan.c``, ``topk_codes``). Ranges are taken
per bucket (rows of one bucket are near one another), not over the collection: tighter steps, and
no value ever falls outside its range.

``rabitq``: one bit a dimension (RaBitQ, Gao & Long, SIGMOD 2024; written here from the paper).
Rows are rotated by a fixed random orthogonal map (:func:`rotate`: random signs, a Walsh-Hadamard
transform, random signs, a Walsh-Hadamard transform, over the dimension padded to a power of two
``D``), centered on the bucket's mean ``c`` and normalised: ``o = R(x - c) / |x - c|``. The code is
``sign(o)``; with ``xbar = sign(o) / sqrt(D)`` and ``a = <xbar, o>`` (about 0.8), ``<xbar, v> / a``
is an unbiased estimate of ``<o, v>`` for any ``v``, within ``|v| sqrt(1 - a^2) / a * eps / sqrt(D - 1)``
with high probability (``eps`` ~ 2-4). A search writes ``<q, x> = <q, c> + <c, x - c> + |x - c| <o, R(q - c)>``:
the first is per bucket, the second exact and stored, the third estimated. Each row stores its bits
(``D / 8`` bytes) and four float32 factors: ``|x - c| / a``, ``<c, x - c>``,
``|x - c| sqrt(1 - a^2) / (a sqrt(D - 1))`` and ``a``. The kernel is ``topk_codes`` (``_scan.c``).

>>> codes, lo, scale = int8_codes(np.array([[0.0, 1.0], [2.0, 1.0]], np.float32))
>>> codes.tolist(), lo.tolist(), scale.tolist()
([[0, 0], [255, 0]], [0.0, 1.0], [0.007843137718737125, 0.0])
>>> bits, center = rabitq_codes(np.eye(3, dtype=np.float32))
>>> bits.shape, center.shape  # 64 dimensions after padding: 8 bytes of bits and 16 of factors a row
((3, 24), (64,))
"""

from __future__ import annotations

import numpy as np

from vectree._native import as_float32

CODES = (None, "int8", "rabitq")
RABITQ_FACTORS = 4  # float32 factors a row stores after its bits


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


def padded_dim(dim: int) -> int:
    """The rotated dimension of RaBitQ codes: ``dim`` padded to a power of two, at least 64 (one word of bits).

    >>> padded_dim(50), padded_dim(384), padded_dim(784)
    (64, 512, 1024)
    """
    return max(64, 1 << max(0, int(dim) - 1).bit_length())


def _signs(d: int, seed: int) -> np.ndarray:
    """+-1 per dimension from splitmix64 of ``seed << 32 | i`` (the kernel computes the same)."""
    with np.errstate(over="ignore"):
        z = (np.uint64(seed) << np.uint64(32)) + np.arange(d, dtype=np.uint64) + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return np.where(z & np.uint64(1), -1.0, 1.0)


def _hadamard(x: np.ndarray) -> np.ndarray:
    """The orthonormal Walsh-Hadamard transform of each row (length a power of two), in float64."""
    n, d = x.shape
    y = x.copy()
    h = 1
    while h < d:
        y = y.reshape(n, d // (2 * h), 2, h)
        a, b = y[:, :, 0, :].copy(), y[:, :, 1, :].copy()
        y[:, :, 0, :], y[:, :, 1, :] = a + b, a - b
        y = y.reshape(n, d)
        h *= 2
    return y / np.sqrt(d)


def rotate(x: np.ndarray) -> np.ndarray:
    """RaBitQ's rotation of rows (n, dim) into (n, padded_dim(dim)), float64: orthogonal, so inner
    products and norms are kept.

    >>> x = np.array([[3.0, 4.0], [1.0, -2.0]])
    >>> y = rotate(x)
    >>> y.shape, np.round(y @ y.T, 9).tolist()
    ((2, 64), [[25.0, -5.0], [-5.0, 5.0]])
    """
    x = np.asarray(x, np.float64)
    d = padded_dim(x.shape[1])
    y = np.zeros((len(x), d))
    y[:, : x.shape[1]] = x
    return _hadamard(_hadamard(y * _signs(d, 1)) * _signs(d, 2))


def rabitq_codes(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(codes uint8 (n, D / 8 + 16), rotated center float32 (D,))`` of rows as stored (module docstring):
    each row's sign bits (dimension ``i`` is bit ``i % 64`` of little-endian word ``i // 64``), then its
    four float32 factors. A row at the center gets factors 0 (its estimate is exact: ``<q, c>`` + 0)."""
    v = as_float32(np.ascontiguousarray(vectors)).astype(np.float64)
    n, dim = v.shape
    d = padded_dim(dim)
    width = d // 8 + 4 * RABITQ_FACTORS
    if not n:
        return np.empty((0, width), np.uint8), np.zeros(d, np.float32)
    c = v.mean(0)
    diff = v - c
    g = diff @ c  # <c, x - c>, exact
    rot = rotate(diff)
    r = np.sqrt(np.einsum("ij,ij->i", rot, rot))
    o = rot / np.where(r > 0, r, 1.0)[:, None]
    bits = o > 0
    a = np.abs(o).sum(1) / np.sqrt(d)
    ok = r > 0
    a_safe = np.where(ok, a, 1.0)
    factors = np.zeros((n, RABITQ_FACTORS), np.float32)
    factors[:, 0] = np.where(ok, r / a_safe, 0.0)
    factors[:, 1] = g
    factors[:, 2] = np.where(ok, r * np.sqrt(np.clip(1.0 - a_safe**2, 0.0, None)) / (a_safe * np.sqrt(d - 1)), 0.0)
    factors[:, 3] = np.where(ok, a, 1.0)
    packed = np.packbits(bits, axis=1, bitorder="little")
    out = np.empty((n, width), np.uint8)
    out[:, : d // 8] = packed
    out[:, d // 8 :] = factors.view(np.uint8)
    center = rotate(c[None])[0].astype(np.float32)
    return out, center

"""The fitted projection (the seed's "locality preserving hashing"): PCA on a sample.

Rows of ``components`` are orthonormal, so Euclidean distances in projected space never exceed
the true ones: a distance measured in the projection is a lower bound the search can trust.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Projection:
    """``project(x) = (x - mean) @ components.T``; ``components`` are the splitting planes' normals.

    For the dot metric (maximum inner product) ``augment_norm`` is set to M, a bound on the stored
    norms: stored rows gain a last coordinate ``sqrt(M^2 - |x|^2)`` and queries a 0, which makes the
    Euclidean nearest neighbour of an augmented query its maximum-inner-product row, so the same
    tree and the same lower bounds serve all three metrics.
    """

    mean: np.ndarray  # (dim,) or (dim + 1,) when augmented
    components: np.ndarray  # (n_components, len(mean)), orthonormal rows
    augment_norm: float = 0.0

    @property
    def n_components(self) -> int:
        return int(self.components.shape[0])

    def project(self, x: np.ndarray) -> np.ndarray:
        """Project stored rows ``x`` (n, dim) to (n, n_components) float32."""
        out = np.empty((len(x), len(self.components)), np.float32)
        width = x.shape[1] + (1 if self.augment_norm else 0)
        step = max(1, (1 << 22) // max(1, width))  # ~16 MB of centered rows at a time, not a copy of x
        for s in range(0, len(x), step):
            block = np.asarray(x[s : s + step], dtype=np.float32)  # float16 rows (a sample) become float32 here
            if self.augment_norm:
                extra = np.sqrt(np.maximum(self.augment_norm**2 - np.einsum("ij,ij->i", block, block), 0.0))
                block = np.hstack([block, extra[:, None].astype(np.float32)])
            out[s : s + step] = (block - self.mean) @ self.components.T
        return out

    def project_queries(self, q: np.ndarray) -> np.ndarray:
        """Project queries (n, dim); with ``augment_norm`` they gain a 0 coordinate.

        The inner-product ranking does not change when a query is scaled, so dot queries are first
        scaled to the largest stored norm, where the boxes separate the candidates best.
        """
        if self.augment_norm:
            norms = np.linalg.norm(q, axis=1, keepdims=True)
            q = q * (self.augment_norm / 1.05 / np.where(norms == 0, 1.0, norms))
            q = np.hstack([q, np.zeros((len(q), 1), q.dtype)])
        return ((q - self.mean) @ self.components.T).astype(np.float32, copy=False)


def _top_eigenvectors(cov: np.ndarray, k: int, iterations: int = 10) -> np.ndarray:
    """The ``k`` leading eigenvectors of a symmetric matrix, as columns.

    Small matrices use a full ``eigh``; large ones use subspace iteration on ``k + 10`` vectors,
    which costs O(dim^2 k) instead of O(dim^3) and only needs the leading part of the spectrum.
    """
    dim = cov.shape[0]
    if dim <= 256 or k + 10 >= dim // 2:
        eigvals, eigvecs = np.linalg.eigh(cov)
        return eigvecs[:, np.argsort(eigvals)[::-1][:k]]
    basis, _ = np.linalg.qr(np.random.default_rng(0).normal(size=(dim, k + 10)))
    for _ in range(iterations):
        basis, _ = np.linalg.qr(cov @ basis)
    small = basis.T @ cov @ basis
    eigvals, eigvecs = np.linalg.eigh((small + small.T) / 2)
    return (basis @ eigvecs)[:, np.argsort(eigvals)[::-1][:k]]


def fit_pca(sample: np.ndarray, n_components: int, augment_for_dot: bool = False, max_rows: int = 20_000) -> Projection:
    """Fit a PCA projection on ``sample`` (n, dim) keeping the ``n_components`` highest-variance directions.

    Uses the eigen-decomposition of the dim x dim covariance of at most ``max_rows`` rows (a PCA
    needs far fewer rows than the tree), so the cost is bounded whatever the sample size.

    >>> rng = np.random.default_rng(0); p = fit_pca(rng.normal(size=(200, 5)), 2)
    >>> p.project(rng.normal(size=(3, 5))).shape
    (3, 2)
    """
    pick = np.random.default_rng(0).choice(len(sample), max_rows, replace=False) if len(sample) > max_rows else None
    if not augment_for_dot:  # mean and covariance from blocks of rows: no copy of the sample, centered or not
        n, dim = (len(sample) if pick is None else len(pick)), sample.shape[1]
        k = max(1, min(n_components, dim))
        step = max(1, (1 << 22) // max(1, dim))

        def blocks() -> Iterator[np.ndarray]:
            for s in range(0, n, step):
                part = sample[s : s + step] if pick is None else sample[pick[s : s + step]]
                yield np.asarray(part, dtype=np.float32)

        mean = (sum(b.sum(axis=0, dtype=np.float64) for b in blocks()) / max(n, 1)).astype(np.float32)
        cov = np.zeros((dim, dim), np.float64)
        for b in blocks():
            c = b - mean
            cov += c.T @ c
        cov /= max(n - 1, 1)
        return _signed(mean, _top_eigenvectors(cov, k).T, 0.0, k)
    if pick is not None:
        sample = sample[pick]
    sample = np.asarray(sample, dtype=np.float32)
    augment_norm = 0.0
    if augment_for_dot:  # (always here)
        norms = np.linalg.norm(sample, axis=1)
        augment_norm = float(norms.max()) * 1.05 if len(norms) else 1.0
        sample = np.hstack([sample, np.sqrt(np.maximum(augment_norm**2 - norms**2, 0.0))[:, None]]).astype(np.float32)
    n, dim = sample.shape
    k = max(1, min(n_components, dim))
    mean = sample.mean(axis=0, dtype=np.float64).astype(np.float32)
    centered = sample - mean
    cov = (centered.T @ centered).astype(np.float64) / max(n - 1, 1)
    return _signed(mean, _top_eigenvectors(cov, k).T, augment_norm, k)


def _signed(mean: np.ndarray, components: np.ndarray, augment_norm: float, k: int) -> Projection:
    """The projection, with a deterministic sign per component, so that refits on the same sample give the same tree."""
    signs = np.sign(components[np.arange(k), np.abs(components).argmax(axis=1)])
    components *= np.where(signs == 0, 1.0, signs)[:, None]
    return Projection(mean=mean.astype(np.float32), components=components.astype(np.float32), augment_norm=augment_norm)

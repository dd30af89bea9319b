"""The fitted projection (the seed's "locality preserving hashing"): PCA on a sample.

Rows of ``components`` are orthonormal, so Euclidean distances in projected space never exceed
the true ones: a distance measured in the projection is a lower bound the search can trust.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Projection:
    """``project(x) = (x - mean) @ components.T``; ``components`` are the splitting planes' normals."""

    mean: np.ndarray  # (dim,)
    components: np.ndarray  # (n_components, dim), orthonormal rows

    @property
    def n_components(self) -> int:
        return int(self.components.shape[0])

    def project(self, x: np.ndarray) -> np.ndarray:
        """Project rows of ``x`` (n, dim) to (n, n_components) float32."""
        return ((x - self.mean) @ self.components.T).astype(np.float32, copy=False)


def fit_pca(sample: np.ndarray, n_components: int) -> Projection:
    """Fit a PCA projection on ``sample`` (n, dim) keeping the ``n_components`` highest-variance directions.

    Uses the eigen-decomposition of the dim x dim covariance, so the cost is linear in n.

    >>> rng = np.random.default_rng(0); p = fit_pca(rng.normal(size=(200, 5)), 2)
    >>> p.project(rng.normal(size=(3, 5))).shape
    (3, 2)
    """
    sample = np.asarray(sample, dtype=np.float64)
    n, dim = sample.shape
    k = max(1, min(n_components, dim))
    mean = sample.mean(axis=0)
    centered = sample - mean
    cov = centered.T @ centered / max(n - 1, 1)
    eigvals, eigvecs = np.linalg.eigh(cov)
    order = np.argsort(eigvals)[::-1][:k]
    components = eigvecs[:, order].T
    # a deterministic sign per component, so that refits on the same sample give the same tree
    signs = np.sign(components[np.arange(k), np.abs(components).argmax(axis=1)])
    components *= np.where(signs == 0, 1.0, signs)[:, None]
    return Projection(mean=mean.astype(np.float32), components=components.astype(np.float32))

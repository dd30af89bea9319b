"""Shared fixtures: paths to the real data in ../shared/data (tests that need absent data skip)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytest_plugins = ["tests.s3server"]  # the SeaweedFS fixtures: s3_server, s3_fault_server

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("VECTREE_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared real-data directory; skips the test when it is not there."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA} (set VECTREE_SHARED_DATA)")
    return SHARED_DATA

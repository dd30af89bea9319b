"""Root of the test run: the ``>>>`` examples in vectree's docstrings run as tests (every module under
``vectree/``, as ``--doctest-modules`` would, but not the tests' helper scripts), each in a fresh
temporary directory, with ``np`` and ``vectree`` imported, as LanceDB runs its own."""

from pathlib import Path

import numpy as np
import pytest
from _pytest.doctest import DoctestModule

import vectree

PACKAGE = Path(__file__).resolve().parent / "vectree"


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.suffix == ".py" and file_path.name != "__main__.py" and PACKAGE in file_path.parents:
        return DoctestModule.from_parent(parent, path=file_path)
    return None


@pytest.fixture(autouse=True)
def _doctest_in_a_temp_dir(request: pytest.FixtureRequest, tmp_path, monkeypatch, doctest_namespace) -> None:  # noqa: ANN001
    if isinstance(request.node, pytest.DoctestItem):
        monkeypatch.chdir(tmp_path)
        doctest_namespace.update(np=np, vectree=vectree)

"""Each default has one source: ``DEFAULT_PROBES`` for probes, ``default_bucket_size`` / ``default_n_components``
of the dimension for the index, whichever door (library, apps, service, CLI) a caller comes through."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

import vectree
from vectree.apps import DocumentClassifier
from vectree.apps.recommend.content import ContentProfileRecommender
from vectree.apps.recommend.funnel import RankingFunnel
from vectree.apps.recommend.index import ItemIndex
from vectree.collection.plan import DEFAULT_PROBES
from vectree.index.build import IndexConfig, default_bucket_size, default_n_components

PACKAGE = Path(vectree.__file__).parent
PINNED = ("probes", "bucket_size", "n_components")


def _literal_defaults() -> list[str]:
    """Every ``probes`` / ``bucket_size`` / ``n_components`` parameter, field or CLI option given a number."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            pairs: list[tuple[str, ast.AST]] = []
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                a = node.args
                positional = a.posonlyargs + a.args
                pairs += list(zip([x.arg for x in positional[len(positional) - len(a.defaults) :]], a.defaults))
                pairs += [(x.arg, d) for x, d in zip(a.kwonlyargs, a.kw_defaults) if d is not None]
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
                pairs.append((node.target.id, node.value))
            for name, default in pairs:
                if name not in PINNED:
                    continue
                if isinstance(default, ast.Call) and default.args:  # typer.Option(8, ...)
                    default = default.args[0]
                if isinstance(default, ast.Constant) and isinstance(default.value, int):
                    found.append(f"{path.relative_to(PACKAGE.parent)}:{default.lineno} {name}={default.value}")
    return found


def test_no_module_spells_a_default_as_a_number():
    assert _literal_defaults() == []


def test_the_scan_would_see_a_number_default(tmp_path, monkeypatch):
    """The scan above is not vacuous: a module with ``probes: int = 10`` is reported."""
    pkg = tmp_path / "vectree"
    pkg.mkdir()
    (pkg / "m.py").write_text("def f(x, probes: int = 10, *, bucket_size=100):\n    pass\n")
    monkeypatch.setattr(f"{__name__}.PACKAGE", pkg)
    assert _literal_defaults() == ["vectree/m.py:1 probes=10", "vectree/m.py:1 bucket_size=100"]


def test_probes_default_is_the_planners_everywhere():
    assert DocumentClassifier().probes == DEFAULT_PROBES
    assert RankingFunnel().probes == DEFAULT_PROBES
    assert ContentProfileRecommender().probes == DEFAULT_PROBES
    assert ItemIndex(np.eye(4, dtype=np.float32), build=False).probes == DEFAULT_PROBES


@pytest.mark.parametrize("dim", [8, 50, 384, 784])
def test_index_defaults_derive_from_the_dimension(dim):
    col = vectree.create_collection(f"memory://defaults-{dim}", dim=dim)
    stored = col.index_config
    assert (stored.bucket_size, stored.n_components) == (default_bucket_size(dim), default_n_components(dim))
    assert IndexConfig().for_dim(dim) == stored
    assert IndexConfig().bucket_size is None and IndexConfig().n_components is None  # resolved per dimension


def test_item_index_and_funnel_take_the_collection_default():
    vectors = np.random.default_rng(0).normal(size=(300, 16)).astype(np.float32)
    index = ItemIndex(vectors, bucket_size=RankingFunnel().bucket_size)
    assert index.collection.index_config.bucket_size == default_bucket_size(16)
    assert ItemIndex(vectors).collection.index_config.bucket_size == default_bucket_size(16)


def test_a_build_with_a_bare_index_config_uses_the_dimension_defaults():
    x = np.random.default_rng(1).normal(size=(500, 24)).astype(np.float32)
    col = vectree.create_collection("memory://defaults-bare-build", dim=24, bucket_size=40)
    col.add(x, ids=np.arange(500))
    col.build(IndexConfig())
    assert col.index_config == IndexConfig().for_dim(24)

"""Fixtures of the service tests: a fitted classifier's collection imported into the session server."""

from __future__ import annotations

import uuid

import pytest


@pytest.fixture(scope="session")
def papers(service_server, arxiv_sample, tmp_path_factory):
    """2,000 real arXiv titles in a fitted DocumentClassifier (static 64-d embedder), imported as alice's
    public collection with `vectree import`; returns (name, the local classifier)."""
    from typer.testing import CliRunner

    from vectree.apps import DocumentClassifier
    from vectree.cli.main import app
    from vectree.embed import StaticEmbedder

    src = str(tmp_path_factory.mktemp("clf") / "papers")
    clf = DocumentClassifier(StaticEmbedder(), collection=src, n_neighbors=7, probes=4, bucket_size=60)
    clf.fit(arxiv_sample["titles"][:2000], arxiv_sample["categories"][:2000])
    name = f"papers-{uuid.uuid4().hex[:6]}"
    out = CliRunner().invoke(app, ["import", service_server.root, name, src, "--tenant", "alice"])
    assert out.exit_code == 0, out.output
    return name, clf

"""`vectree recommend fit|evaluate|for-user` end to end on real MovieLens (a few users, one epoch)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from vectree.cli.recommend import app


@pytest.fixture(scope="module")
def fitted(tmp_path_factory, movielens_dir):
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    url = str(tmp_path_factory.mktemp("rec") / "movies")
    res = CliRunner().invoke(
        app,
        [
            "fit",
            "--url",
            url,
            "--epochs",
            "1",
            "--title-encoder",
            "hash",
            "--users",
            "100",
            "--n-candidates",
            "100",
            "--data",
            str(movielens_dir),
        ],
    )
    torch.set_num_threads(before)
    assert res.exit_code == 0, res.output
    assert "epochs" in res.output and "loss" in res.output and "saved recommender" in res.output
    return url


def test_evaluate_prints_metrics_for_the_funnel_and_baselines(fitted, movielens_dir):
    res = CliRunner().invoke(app, ["evaluate", "--url", fitted, "--json", "--data", str(movielens_dir)])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert {"popularity", "item-knn"} <= set(out)
    funnel = next(v for k, v in out.items() if k.startswith("two-tower + re-rank"))
    assert 0 < funnel["recall_at_10"] <= 1 and set(funnel["ms_per_user"]) == {"retrieval", "rerank", "rules"}
    assert funnel["n_users"] == 100


def test_for_user_lists_titles_and_logs_exploration(fitted):
    res = CliRunner().invoke(app, ["for-user", "1", "--url", fitted, "-k", "5"])
    assert res.exit_code == 0, res.output
    assert "retrieval" in res.output and "rerank" in res.output
    res = CliRunner().invoke(app, ["for-user", "1", "--url", fitted, "-k", "10", "--explore-share", "0.2", "--json"])
    lines = [json.loads(ln) for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 10 and sum(ln["source"] == "explore" for ln in lines) == 2
    assert all(0 < ln["propensity"] <= 1 and ln["title"] for ln in lines)


def test_unknown_user_and_missing_recommender_fail_cleanly(fitted, tmp_path):
    res = CliRunner().invoke(app, ["for-user", "99999", "--url", fitted])
    assert res.exit_code == 2 and "not in the recommender" in res.output
    res = CliRunner().invoke(app, ["evaluate", "--url", str(tmp_path / "none")])
    assert res.exit_code == 2 and "error" in res.output
    res = CliRunner().invoke(app, ["fit", "--url", fitted, "--title-encoder", "hash"])
    assert res.exit_code == 2 and "already exists" in res.output

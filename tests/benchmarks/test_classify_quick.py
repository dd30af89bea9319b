"""The classifier benchmarks' ``--quick`` runs (issue 20): the goals table against fastText and TF-IDF + logistic
regression, and zero-shot against the fraction-labelled curve, on slices of the shared real datasets."""

from __future__ import annotations

from pathlib import Path

from tests.benchmarks.runs import is_png, run_quick


def test_classify_goals_quick_compares_the_default_with_its_peers(tmp_path: Path, shared_data: Path) -> None:
    env = {"VECTREE_SHARED_DATA": str(shared_data)}
    body = run_quick(
        "classify_goals", tmp_path, "--datasets", "movies", env=env, timeout=900, name="classify-goals-quick"
    )
    systems = {r["system"] for r in body["rows"]}
    assert {"fastText", "tfidf+logreg", "vectree[tfidf-lsa-64]"} <= systems
    settings = [r["setting"] for r in body["rows"] if r["system"].startswith("vectree")]
    assert len(settings) == 5 and any("DEFAULT" in s for s in settings)  # default, before its temperature, 3 parts
    for r in body["rows"]:
        assert 0.5 < r["metrics"]["accuracy"] <= 1.0, r  # two balanced classes: better than a coin
    assert body["verdicts"] and "movies" in body["verdicts"][0]
    assert is_png(tmp_path / "classify-goals-quick.png")


def test_classify_zeroshot_quick_reports_zero_shot_and_the_labelled_curve(tmp_path: Path, shared_data: Path) -> None:
    env = {"VECTREE_SHARED_DATA": str(shared_data)}
    body = run_quick(
        "classify_zeroshot", tmp_path, "--datasets", "20ng", env=env, timeout=900, name="classify-zeroshot-quick"
    )
    rows = {(r["system"].split(" [")[0], r["metrics"]["labelled_rows"] > 0): r for r in body["rows"]}
    names, described = rows[("zero-shot names", False)], rows[("zero-shot descriptions", False)]
    assert names["metrics"]["accuracy"] > 0.1 and described["metrics"]["accuracy"] > 0.1  # 20 classes: chance 5%
    curve = [r for r in body["rows"] if r["system"].startswith("DocumentClassifier default")]
    assert [r["metrics"]["fraction_labelled"] for r in curve] == [0.01, 0.05, 0.10, 1.0]
    assert curve[-1]["metrics"]["accuracy"] > curve[0]["metrics"]["accuracy"]
    assert is_png(tmp_path / "classify-zeroshot-quick.png")

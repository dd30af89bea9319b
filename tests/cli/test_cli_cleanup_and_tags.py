"""`vectree tag`, `tags`, `untag`, `search --tag`, `search --where` and `cleanup`, run as a user runs them."""

import json

import numpy as np

import vectree
from tests.cli.test_cli_end_to_end import vt


def test_tag_then_cleanup_from_the_command_line(tmp_path, arxiv_sample):
    x, ids = arxiv_sample["vectors"][:300], arxiv_sample["ids"][:300]
    col = vectree.create_collection(tmp_path / "col", dim=384, metric="cosine", bucket_size=50)
    col.add(x[:200], ids=ids[:200], labels=arxiv_sample["categories"][:200])
    col.build()  # version 2
    col.add(x[200:], ids=ids[200:], labels=arxiv_sample["categories"][200:300])  # version 3
    col.delete(ids[:5])  # version 4
    np.save(tmp_path / "q.npy", x[:2])
    assert "tag prod -> version 2" in vt("tag", tmp_path / "col", "prod", 2).stdout
    assert "prod" in vt("tags", tmp_path / "col").stdout
    out = tmp_path / "r.jsonl"
    vt("search", tmp_path / "col", tmp_path / "q.npy", "--k", 1, "--tag", "prod", "--output", out)
    assert [json.loads(line)["ids"][0] for line in out.read_text().splitlines()] == ids[
        :2
    ]  # deleted later, there in v2
    dry = vt("cleanup", tmp_path / "col", "--older-than", "0", "--grace", "0", "--dry-run").stdout
    assert "would delete 3 version(s)" in dry
    assert [v["version"] for v in col.versions()] == [0, 1, 2, 3, 4]
    done = vt("cleanup", tmp_path / "col", "--older-than", "0", "--grace", "0").stdout
    assert "deleted 3 version(s)" in done
    assert [v["version"] for v in col.versions()] == [2, 4]
    vt("verify", tmp_path / "col", "--all-versions")
    bad = vt("cleanup", tmp_path / "col", "--older-than", "soon", check=False)
    assert bad.returncode == 2 and "older_than must be a duration" in bad.stderr
    # --where: only rows whose label matches
    label = arxiv_sample["categories"][100]
    vt(
        "search",
        tmp_path / "col",
        tmp_path / "q.npy",
        "--k",
        5,
        "--where",
        json.dumps({"label": label}),
        "--output",
        out,
    )
    got = [json.loads(line)["labels"] for line in out.read_text().splitlines()]
    assert all(lab == label for row in got for lab in row)
    bad_where = vt("search", tmp_path / "col", tmp_path / "q.npy", "--where", "{label: 1}", check=False)
    assert bad_where.returncode == 2 and "--where is not valid JSON" in bad_where.stderr
    unknown = vt("search", tmp_path / "col", tmp_path / "q.npy", "--where", '{"nope": 1}', check=False)
    assert unknown.returncode == 2 and "unknown filter field" in unknown.stderr
    vt("untag", tmp_path / "col", "prod")
    missing = vt("search", tmp_path / "col", tmp_path / "q.npy", "--tag", "prod", check=False)
    assert missing.returncode == 2 and "no tag 'prod'" in missing.stderr

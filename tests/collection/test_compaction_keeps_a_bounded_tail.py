"""compact(keep_tail_rows=N) folds only the buckets that gain the most tail rows: at most N rows stay in the
tail, fewer buckets are rewritten than a full fold touches, and every row stays findable."""

import numpy as np

import vectree


def _clustered(n: int, dim: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    means = np.random.default_rng(0).normal(0, 4, (48, dim)).astype(np.float32)
    weights = 1.0 / np.arange(1, 49) ** 1.1  # Zipf-sized clusters: some buckets gain many rows, most few
    return (means[rng.choice(48, n, p=weights / weights.sum())] + rng.normal(0, 1, (n, dim))).astype(np.float32)


def _ids(col) -> list[int]:
    return sorted(np.concatenate([b["ids"] for b in col.iter_batches(5000)]).tolist())


def test_partial_compaction_bounds_the_tail_and_keeps_every_row(tmp_path):
    col = vectree.create_collection(tmp_path / "c", dim=16, bucket_size=100)
    col.add(_clustered(20_000, 16, 1), ids=np.arange(20_000))
    col.build()
    new = _clustered(3_000, 16, 2)
    col.add(new, ids=np.arange(20_000, 23_000))
    col.delete([5, 6, 7])
    gaining = len(set(col.index.assign(new).tolist()))  # buckets a full fold rewrites (at least)
    before = set(col.index.bucket_fingerprints) - {""}

    col.compact(keep_tail_rows=1_000)
    s = col.stats()
    rewritten = len((set(col.index.bucket_fingerprints) - {""}) - before)
    assert 0 < s["tail_rows"] <= 1_000
    assert s["rows"] == 23_000 - 3 and s["indexed_rows"] + s["tail_rows"] == s["rows"]
    assert rewritten < gaining, (rewritten, gaining)
    assert col.manifest.operation == "compact"  # folded, not rebuilt
    assert _ids(col) == sorted(set(range(23_000)) - {5, 6, 7})
    kept = col.search(new[:200], k=1, exact=True).ids[:, 0]
    assert (kept == np.arange(20_000, 20_200)).all()  # tail rows and folded rows alike are found
    assert col.verify().ok

    col.compact()  # 0: fold the rest
    assert col.stats()["tail_rows"] == 0 and _ids(col) == sorted(set(range(23_000)) - {5, 6, 7})
    assert col.verify().ok

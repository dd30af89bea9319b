"""A local disk cache keeps fetched buckets for the next process; damaged copies are never trusted."""

import vectree


def test_second_process_reads_buckets_from_the_disk_cache(tmp_path, arxiv_sample):
    col = vectree.create_collection(tmp_path / "c", dim=384, metric="cosine", bucket_size=300)
    col.add(arxiv_sample["vectors"][:1500])
    col.build()
    cache = tmp_path / "cache"
    first = vectree.open_collection(tmp_path / "c", cache_dir=str(cache))
    a = first.search(arxiv_sample["vectors"][:20], k=5, exact=True)
    assert first.stats()["disk_cache"]["misses"] > 0
    second = vectree.open_collection(tmp_path / "c", cache_dir=str(cache))
    b = second.search(arxiv_sample["vectors"][:20], k=5, exact=True)
    s = second.stats()["disk_cache"]
    assert s["misses"] == 0 and s["hits"] >= 5
    assert (a.ids == b.ids).all()
